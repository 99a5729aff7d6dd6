"""Dispatcher limits: a hung target only slows its own webhook, retries end within the
window of wall time, unfinished deliveries per webhook are capped, and an attempt that
blows up unexpectedly is still a logged, retried attempt."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from pilot_desktop.sandbox.dispatcher import DROPPED, DispatchConfig, Dispatcher
from pilot_desktop.sandbox.scenario import make_numbers
from pilot_desktop.sandbox.state import SandboxState
from tests.sandbox.conftest import SandboxFactory, Target, wait_for
from tests.sandbox.test_delivery import PING, body, create


@dataclass
class Hung:
    """A target that accepts connections, reads, and never answers."""

    url: str = ""
    accepted: list[float] = field(default_factory=list)  # monotonic time of each connection
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted.append(time.monotonic())
        self.writers.append(writer)
        await reader.read()  # until the client gives up and closes


@pytest.fixture
async def hung() -> AsyncIterator[Hung]:
    h = Hung()
    server = await asyncio.start_server(h.handle, "127.0.0.1", 0)
    h.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    yield h
    server.close()
    for writer in h.writers:
        writer.close()
    await server.wait_closed()


async def test_a_hung_target_does_not_delay_other_webhooks(
    make_sandbox: SandboxFactory, target: Target, hung: Hung
) -> None:
    sandbox = await make_sandbox(attempt_timeout=3.0)
    a = sandbox.numbers[0].id
    async with httpx.AsyncClient(base_url=sandbox.base_url) as api:
        await create(api, sandbox, a, url=hung.url, events=[PING])
        await create(api, sandbox, a, url=target.url("ok"), events=[PING])
    started = time.monotonic()
    for i in range(60):  # more than the old shared limit (32) of attempts in flight
        sandbox.emit(a, PING, body(PING, a, f"h{i}"))
    await wait_for(lambda: len(target.got("ok")) == 60, 3, "the healthy webhook's deliveries")
    assert time.monotonic() - started < 1.0  # well within one attempt timeout of the hung one
    assert 1 <= len(hung.accepted) <= 4  # the hung webhook's own lane: 4 attempts in flight


async def test_retries_end_within_the_window_of_wall_time(make_sandbox: SandboxFactory, hung: Hung) -> None:
    sandbox = await make_sandbox(retry_window=1.0, retry_base=0.2, attempt_timeout=0.6)
    a = sandbox.numbers[0].id
    async with httpx.AsyncClient(base_url=sandbox.base_url) as api:
        hook = await create(api, sandbox, a, url=hung.url, events=[PING])
    started = time.monotonic()
    sandbox.emit(a, PING, body(PING, a, "stuck"))
    await wait_for(lambda: sandbox.dispatcher.pending == 0, 4, "giving up")
    # Attempt 1 times out at 0.6 s, attempt 2 starts at 0.8 s and times out at 1.4 s; a
    # third would start at 1.8 s, past the 1 s window (the planned 0.2 + 0.4 s would not be).
    assert len(hung.accepted) == 2
    assert all(t - hung.accepted[0] <= 1.0 for t in hung.accepted)
    assert time.monotonic() - started < 1.0 + 0.6 + 0.5
    entries = list(sandbox.state.logs[hook["id"]])
    assert [(e.status, e.attempt) for e in entries] == [("FAILED", 1), ("FAILED", 2)]
    assert all(e.response.startswith("timeout") for e in entries)


async def test_pending_deliveries_are_capped_per_webhook(hung: Hung, target: Target) -> None:
    numbers = make_numbers(1, 1)
    number_id = numbers[0].id
    state = SandboxState(numbers)
    stuck = state.add_webhook(number_id, "hung", hung.url, [PING])
    healthy = state.add_webhook(number_id, "ok", target.url("ok"), ["test.other"])
    config = DispatchConfig(timeout=5.0, retry_window=60.0, per_webhook=2, max_pending=10)
    dispatcher = Dispatcher(state, config)
    await dispatcher.start()
    try:
        for i in range(25):
            assert dispatcher.submit(number_id, PING, body(PING, number_id, f"p{i}")) == 1
        assert dispatcher.pending_for(stuck.id) == 10 == dispatcher.pending
        dropped = [e for e in state.logs[stuck.id] if e.response == DROPPED]
        assert len(dropped) == 15
        assert all(e.status == "FAILED" and e.status_code is None and e.attempt == 0 for e in dropped)
        assert [e.payload["data"]["id"] for e in dropped] == [f"p{i}" for i in range(10, 25)]
        # The cap is per webhook: another one of the same number still gets its deliveries.
        for i in range(10):
            dispatcher.submit(number_id, "test.other", body("test.other", number_id, f"o{i}"))
        await wait_for(lambda: len(target.got("ok")) == 10, what="the other webhook's deliveries")
        assert not [e for e in state.logs[healthy.id] if e.response == DROPPED]
        assert dispatcher.pending_for(stuck.id) == 10
    finally:
        await dispatcher.stop()


async def test_an_unexpected_error_is_a_logged_retried_attempt(
    make_sandbox: SandboxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = await make_sandbox(retry_window=0.5, retry_base=0.1)
    a = sandbox.numbers[0].id
    # The API refuses this URL now; a webhook stored before that must still fail cleanly.
    hook = sandbox.state.add_webhook(a, "bad", "http://a_b..c/", [PING])
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        sandbox.emit(a, PING, body(PING, a, "idna"))
        await wait_for(lambda: sandbox.dispatcher.pending == 0, 3, "giving up")
    entries = list(sandbox.state.logs[hook.id])
    assert len(entries) >= 2 and [e.attempt for e in entries] == list(range(1, len(entries) + 1))
    for entry in entries:
        assert entry.status == "FAILED" and entry.status_code is None
        assert entry.response.startswith("error: UnicodeError") and "idna" in entry.response
    assert not [r for r in caplog.records if r.name == "asyncio"]

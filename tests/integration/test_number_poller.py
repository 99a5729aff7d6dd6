"""Polling the numbers against the sandbox into a real store: state, names and billing
from the list, live state from /status, back-off on 503 UPSTREAM_*, stop on
PROVIDER_NOT_CONFIGURED."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.config import Config
from pilot_desktop.services.number_poller import NumberPoller
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.store import number_queries as nq
from pilot_desktop.store.db import connect, open_store
from pilot_desktop.store.read_models import NumberSummary
from pilot_desktop.store.writer import Writer


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(seed=5, numbers=3, time_scale=0.0)
    await sb.start()
    try:
        yield sb
    finally:
        await sb.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[tuple[NumberPoller, Path, Clock]]:
    db = open_store(tmp_path)
    writer = Writer(db, asyncio.get_running_loop())
    writer.start()
    accounts = Accounts(Config.memory().state, MemorySecrets())
    await accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
    clock = Clock()
    poller = NumberPoller(accounts, writer.submit, interval=60, clock=clock)
    try:
        yield poller, db, clock
    finally:
        await writer.stop()


def summaries(db: Path, now: float) -> dict[str, NumberSummary]:
    with connect(db, readonly=True) as c:
        return {s.number_id: s for s in nq.summaries(c, now)}


async def test_a_round_stores_every_number_with_its_live_state(
    setup: tuple[NumberPoller, Path, Clock], sandbox: Sandbox
) -> None:
    poller, db, clock = setup
    await poller.poll_once()
    found = summaries(db, clock.now)
    assert set(found) == set(sandbox.state.numbers)
    for number_id, s in found.items():
        assert s.state.connection == sandbox.scenario.number_state(number_id)
        assert s.state.name and s.state.phone and s.state.phone.startswith("+")
        assert s.provider in ("PILOT_STATUS", "META")
        assert s.last_poll_at is not None


async def test_upstream_errors_back_off_and_provider_not_configured_stops(
    setup: tuple[NumberPoller, Path, Clock], sandbox: Sandbox
) -> None:
    poller, _, clock = setup
    flaky, broken, *_ = sorted(sandbox.state.numbers)
    # The client retries a GET twice: three answers make one failed poll.
    sandbox.faults.inject("GET", f"/v1/numbers/{flaky}/status", 503, code="UPSTREAM_TIMEOUT", count=3)
    sandbox.faults.inject("GET", f"/v1/numbers/{broken}/status", 503, code="PROVIDER_NOT_CONFIGURED", count=3)
    await poller.poll_once()
    assert "stopped" in (poller.problem(broken) or "")
    assert poller.problem(flaky) is not None
    sandbox.faults.reset_counts()

    clock.now += 30  # within the back-off: neither is asked again
    await poller.poll_once()
    assert sandbox.faults.requests("GET", f"/v1/numbers/{flaky}/status") == 0
    clock.now += 31  # the back-off (one interval) is over: the flaky one is asked again
    await poller.poll_once()
    assert sandbox.faults.requests("GET", f"/v1/numbers/{flaky}/status") == 1
    assert poller.problem(flaky) is None
    assert sandbox.faults.requests("GET", f"/v1/numbers/{broken}/status") == 0
    poller.reset()  # the accounts changed: try the stopped one again
    await poller.poll_once()
    assert sandbox.faults.requests("GET", f"/v1/numbers/{broken}/status") == 1


async def test_a_second_failure_doubles_the_wait(
    setup: tuple[NumberPoller, Path, Clock], sandbox: Sandbox
) -> None:
    poller, _, clock = setup
    flaky = sorted(sandbox.state.numbers)[0]
    path = f"/v1/numbers/{flaky}/status"
    sandbox.faults.inject("GET", path, 503, code="UPSTREAM_ERROR", count=6)
    await poller.poll_once()
    clock.now += 61
    await poller.poll_once()  # fails again: next wait is 120 s
    sandbox.faults.reset_counts()
    clock.now += 90
    await poller.poll_once()
    assert sandbox.faults.requests("GET", path) == 0
    clock.now += 31
    await poller.poll_once()
    assert sandbox.faults.requests("GET", path) == 1


def detail_requests(sandbox: Sandbox, number_id: str) -> int:
    """GET /v1/numbers/{id} alone (the counts go by path prefix: /status shares it)."""
    path = f"/v1/numbers/{number_id}"
    return sandbox.faults.requests("GET", path) - sandbox.faults.requests("GET", f"{path}/status")


async def test_the_detail_brings_meta_health_and_pii_mode_at_start_then_every_ten_minutes(
    setup: tuple[NumberPoller, Path, Clock], sandbox: Sandbox
) -> None:
    poller, db, clock = setup
    await poller.poll_once()
    found = summaries(db, clock.now)
    for number_id, s in found.items():
        assert detail_requests(sandbox, number_id) == 1
        assert s.detail_at is not None and s.pii_mode in ("STORE_INDEFINITE", "STORE_X_DAYS")
        if s.provider == "META":
            assert s.quality_rating in ("GREEN", "YELLOW") and (s.messaging_tier or "").startswith("TIER_")
        else:
            assert (s.quality_rating, s.messaging_tier) == (None, None)
        assert s.sendable is (sandbox.scenario.number_state(number_id) == "OPEN")
    sandbox.faults.reset_counts()
    clock.now += 60  # the status every minute, the detail not yet
    await poller.poll_once()
    first = sorted(found)[0]
    assert sandbox.faults.requests("GET", f"/v1/numbers/{first}/status") == 1
    assert detail_requests(sandbox, first) == 0
    clock.now += 600
    await poller.poll_once()
    assert detail_requests(sandbox, first) == 1


async def test_a_failing_detail_never_stops_the_status_polling(
    setup: tuple[NumberPoller, Path, Clock], sandbox: Sandbox
) -> None:
    poller, db, clock = setup
    number = sorted(sandbox.state.numbers)[0]
    # Asked first, the detail takes the three faulted answers (the client retries twice).
    sandbox.faults.inject("GET", f"/v1/numbers/{number}", 503, code="UPSTREAM_ERROR", count=3)
    await poller.poll_once()
    assert poller.problem(number) is None
    assert sandbox.faults.requests("GET", f"/v1/numbers/{number}/status") == 1  # still asked
    assert summaries(db, clock.now)[number].detail_at is None
    sandbox.faults.reset_counts()
    clock.now += 61  # retried after one interval, not ten minutes
    await poller.poll_once()
    assert detail_requests(sandbox, number) == 1
    assert summaries(db, clock.now)[number].detail_at is not None


async def test_the_detail_is_read_again_in_the_round_that_sees_the_state_change(
    setup: tuple[NumberPoller, Path, Clock], sandbox: Sandbox
) -> None:
    """Meta health and `sendable` describe the state the detail was read in: when the live
    status says another state, the detail is read again in that round (not ten minutes
    later), once; an unchanged state costs no extra request."""
    poller, db, clock = setup
    number = sorted(sandbox.state.numbers)[0]
    await poller.poll_once()  # read while connecting: not sendable
    assert summaries(db, clock.now)[number].sendable is False
    sandbox.faults.reset_counts()
    clock.now += 60
    await poller.poll_once()  # nothing changed: no detail
    assert detail_requests(sandbox, number) == 0
    sandbox.scenario._lines[number].state = "OPEN"  # the sandbox pairs it (paused, no webhook)
    clock.now += 60
    await poller.poll_once()
    assert detail_requests(sandbox, number) == 1
    assert summaries(db, clock.now)[number].sendable is True
    sandbox.faults.reset_counts()
    clock.now += 60
    await poller.poll_once()  # it agrees now: no more extra reads
    assert detail_requests(sandbox, number) == 0

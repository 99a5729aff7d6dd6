"""Catch-up after a gap, end to end: a real sandbox platform delivering to a real core's
receiver on loopback, a real store in tmp_path, the API read back over HTTP.

The receiver is stopped (the app quits) for longer than the sandbox's retry window while
traffic flows, so deliveries are lost for good; the next start records the gap, the catch-up
runs, and afterwards the store's status of every message the sandbox knows equals the
sandbox's own record. Restored steps are events marked "reconstructed" with their source;
nothing is stored twice. Also: a 429 is waited out as it says, a network failure stops the
run with its reason.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilot_desktop.cli.common import camel_keys
from pilot_desktop.core.events import dedupe_key, message_id_of
from pilot_desktop.sandbox.server import TICK_S, Sandbox
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.catch_up import CatchUp, CatchUpSettings
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.reconstruct import HEADER
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.store.db import open_store
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Gap
from pilot_desktop.store.writer import Writer
from tests.integration.serving import cli

RETRY_WINDOW_S = 2.0  # the sandbox gives a delivery up this long after its first attempt
# The catch-up waits for the platform's retries still under way (they land first): just
# over the sandbox's retry window, as the real settle delay is over the platform's.
SETTLE_S = RETRY_WINDOW_S + 0.5
TO = "+5511987654321"
STATUSES = "SELECT msg_id, status FROM messages WHERE outbound = 1 AND msg_id IS NOT NULL"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def core_on(folder: Path, port: int, secrets: MemorySecrets, settle_s: float = SETTLE_S) -> AppCore:
    paths = resolve(folder)
    options = CoreOptions(port=port, watch_s=0.1, catch_up=CatchUpSettings(settle_s=settle_s, pace_s=0.0))
    return AppCore(paths, Config.open(paths), options, secrets=secrets)


async def eventually(check: Callable[[], Any], seconds: float = 20.0, what: str = "it") -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while not (value := check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return value


def query(reads: Reads, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return reads.run(lambda conn: conn.execute(sql, params).fetchall())


async def send(api: httpx.AsyncClient, sandbox: Sandbox, per_number: int) -> None:
    for number in sandbox.numbers:
        headers = {"x-api-key": sandbox.number_keys[number.id]}
        for i in range(per_number):
            body = {"destinationNumber": TO, "text": f"catch-up test {i}"}
            r = await api.post("/v1/messages/send", headers=headers, json=body)
            assert r.status_code == 202, r.text


async def pause(sandbox: Sandbox) -> None:
    """Freeze the scenario and let every delivery under way finish."""
    sandbox.time_scale = 0.0
    await asyncio.sleep(3 * TICK_S)  # the next tick still plays what was due up to the pause
    await eventually(lambda: sandbox.dispatcher.pending == 0, 20, "the sandbox's deliveries to finish")


async def test_after_a_gap_every_message_the_sandbox_knows_has_its_status_restored(tmp_path: Path) -> None:
    sandbox = Sandbox(
        seed=5, numbers=2, rate=3.0, retry_window=RETRY_WINDOW_S, retry_base=0.25, time_scale=0.0
    )
    await sandbox.start()
    secrets, port = MemorySecrets(), free_port()
    first = core_on(tmp_path, port, secrets)
    second: AppCore | None = None
    try:
        await first.start()
        assert first.listening and first.reads is not None
        await first.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
        token = first.config.state.value.token
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10, trust_env=False) as api:
            for number in sandbox.numbers:  # every number's events to this receiver, route = number
                hook = {"url": f"http://127.0.0.1:{port}/hooks/{token}/{number.id}", "events": ["*"]}
                r = await api.post(
                    "/v1/webhooks", headers={"x-api-key": sandbox.number_keys[number.id]}, json=hook
                )
                assert r.status_code == 201, r.text
            sandbox.time_scale = 1.0
            await eventually(
                lambda: all(sandbox.scenario.number_state(n.id) == "OPEN" for n in sandbox.numbers),
                what="the numbers to connect",
            )
            await send(api, sandbox, 2)
            reads = first.reads
            await eventually(
                lambda: (
                    query(reads, "SELECT count(*) FROM messages WHERE outbound = 1 AND steps > 1")[0][0] >= 2
                ),
                what="messages to move on while the receiver runs",
            )

            await first.stop()  # the gap: traffic goes on, deliveries fail and are retried
            stopped = time.monotonic()
            await send(api, sandbox, 3)

            def lost() -> bool:
                # Longer than the retry window, and message deliveries failed meanwhile.
                failed = [
                    a
                    for a in sandbox.delivered_log()
                    if a.status == "FAILED" and a.event.startswith("message.")
                ]
                return time.monotonic() - stopped > RETRY_WINDOW_S + 1.5 and bool(failed)

            await eventually(lost, what="deliveries to be given up")

            second = core_on(tmp_path, port, secrets)
            await second.start()
            assert second.listening and second.reads is not None
            reads = second.reads
            gap = await eventually(
                lambda: next((g for g in reads.gaps(None, 100) if g.caught_up_at is not None), None),
                60,
                "the catch-up after the gap",
            )
            await pause(sandbox)

        # The gap is recorded, with what its catch-up did.
        assert gap.kind == "not_running" and gap.ended_at is not None
        summary = gap.catch_up
        assert summary is not None and summary["stopped"] is None and summary["errors"] == [], summary
        assert summary["webhooks_compared"] == len(sandbox.numbers)
        assert summary["failed_in_logs"] > 0 and summary["messages_restored"] > 0, summary

        # Every message the sandbox knows past QUEUED (QUEUED has no webhook: nothing to store)
        # has the sandbox's status in the store.
        stored = dict(query(reads, STATUSES))
        records = [r for n in sandbox.numbers for r in sandbox.scenario.messages_of(n.id)]
        known = [r for r in records if r.status != "QUEUED"]
        assert len(known) >= 10
        differ = {r.id: (r.status, stored.get(r.id)) for r in known if stored.get(r.id) != r.status}
        assert differ == {}, f"sandbox status vs stored status: {differ}"
        assert all(stored.get(r.id) in (None, "QUEUED") for r in records if r.status == "QUEUED")

        # Every outbound step the sandbox delivered, or tried to, is stored, by delivery or
        # restored: a restored step has its webhook's dedupe key (same event, ids and time).
        # (A failure has no time on the API: its status is compared above.)
        tried = {
            dedupe_key(a.payload)
            for a in sandbox.delivered_log()
            if a.event in ("message.sent", "message.delivered", "message.read")
        }
        assert tried and tried <= reads.stored_keys(tried)

        # Each restored step is an event marked reconstructed, with its source, and a step of
        # its message; exactly the steps the catch-up counted.
        rebuilt = query(
            reads,
            "SELECT e.event, e.headers, e.body, s.status FROM events e "
            "LEFT JOIN message_steps s ON s.event_id = e.id WHERE e.signature = 'reconstructed'",
        )
        assert len(rebuilt) == summary["steps"] > 0
        for event, headers, body, step in rebuilt:
            payload = json.loads(body)
            msg_id = message_id_of(payload["data"])
            source = f"GET /v1/messages/{msg_id}"
            ((name, value),) = json.loads(headers)
            assert name == HEADER and value.startswith(f"{source} at ")
            assert payload["event"] == event and payload["reconstructed"]["source"] == source
            assert step == event.split(".")[1].upper()  # message.delivered -> DELIVERED
        marked = query(reads, "SELECT count(*) FROM events WHERE headers LIKE ?", f"%{HEADER}%")[0][0]
        assert marked == len(rebuilt)  # never confused with delivered webhooks

        # Nothing twice: one message row per message id, and at most one step per status of a
        # message (a webhook arriving after its step was restored is a redelivery of it).
        twice = query(
            reads, "SELECT msg_id FROM messages WHERE msg_id IS NOT NULL GROUP BY msg_id HAVING count(*) > 1"
        )
        assert twice == []
        steps_twice = query(
            reads, "SELECT message, status FROM message_steps GROUP BY message, status HAVING count(*) > 1"
        )
        assert steps_twice == []
    finally:
        if second is not None:
            await second.stop()
        await first.stop()
        await sandbox.stop(drain_timeout=0)
    # And shown: `pilot-desktop gaps` lists the gap with what its catch-up restored.
    listed = cli("gaps", "--json", "--data-dir", tmp_path)
    assert listed.returncode == 0, listed.stderr
    (shown,) = [g for g in json.loads(listed.stdout)["gaps"] if g["id"] == gap.id]
    assert shown["catchUp"] == camel_keys(summary) and shown["caughtUpAt"] is not None  # the CLI's key style
    # The restored steps are stored events, not a patch of the projection: replaying every
    # event (`rebuild`) gives the same statuses.
    assert cli("rebuild", "--data-dir", tmp_path).returncode == 0
    after = Reads.open(tmp_path)
    try:
        assert dict(query(after, STATUSES)) == stored
    finally:
        after.close()


async def test_without_an_account_a_gap_is_recorded_and_not_caught_up(tmp_path: Path) -> None:
    secrets = MemorySecrets()
    first = core_on(tmp_path, 0, secrets)
    await first.start()
    await first.stop()
    second = core_on(tmp_path, 0, secrets)
    await second.start()
    try:
        assert second.reads is not None and second.catch_ups is not None
        (gap,) = second.reads.gaps(None, 10)
        assert gap.ended_at is not None  # ended, and told to the catch-up when it listened
        assert not second.catch_ups.busy and second.catch_ups.done == []  # nothing to read with
        assert gap.caught_up_at is None
    finally:
        await second.stop()


async def test_a_gap_an_earlier_run_left_without_catch_up_is_caught_up_next_time(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    secrets = MemorySecrets()
    for _ in range(2):  # no account yet: the second start's gap is recorded, not caught up
        core = core_on(tmp_path, 0, secrets, settle_s=0.0)
        await core.start()
        await core.stop()
    (left,) = stored_gaps(tmp_path)
    assert left.caught_up_at is None
    await Accounts(Config.open(resolve(tmp_path)).state, secrets).add(
        sandbox.tenant_key, base_url=sandbox.base_url
    )
    core = core_on(tmp_path, 0, secrets, settle_s=0.0)
    await core.start()
    try:
        await eventually(
            lambda: core.catch_ups is not None and len(core.catch_ups.done) == 2, what="two catch-ups"
        )
    finally:
        await core.stop()
    gaps = stored_gaps(tmp_path)
    assert len(gaps) == 2 and gaps[0].id == left.id
    assert all(g.caught_up_at is not None and g.catch_up and g.catch_up["stopped"] is None for g in gaps)


def stored_gaps(folder: Path) -> list[Gap]:
    reads = Reads.open(folder)
    try:
        return reads.gaps(None, 100)
    finally:
        reads.close()


# -- the catch-up on its own: rate limits and a network failure --------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    # Scenario second 0 is 5 minutes ago: run 30x faster, its times stay in the past.
    sb = Sandbox(seed=9, numbers=1, rate=0.0, time_scale=30.0, start=datetime.now(UTC) - timedelta(minutes=5))
    await sb.start()
    yield sb
    await sb.stop(drain_timeout=0)


async def sent_and_moved_on(sb: Sandbox, count: int) -> list[str]:
    """`count` messages sent through the API that have gone past QUEUED; then the scenario is
    frozen, so the API's answers stay put."""
    number = sb.numbers[0]
    await eventually(lambda: sb.scenario.number_state(number.id) == "OPEN", what="the number to connect")
    async with httpx.AsyncClient(base_url=sb.base_url, timeout=10, trust_env=False) as api:
        ids = []
        for i in range(count):
            body = {"destinationNumber": TO, "text": f"rate limit {i}"}
            r = await api.post(
                "/v1/messages/send", headers={"x-api-key": sb.number_keys[number.id]}, json=body
            )
            ids.append(r.json()["id"])
    await eventually(
        lambda: all(sb.scenario.message(i).status != "QUEUED" for i in ids),  # type: ignore[union-attr]
        what="the messages to move on",
    )
    sb.time_scale = 0.0
    await asyncio.sleep(3 * TICK_S)
    return ids


class Store:
    """A real store in tmp_path with its writer, and the accounts of a real profile."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writer: Writer | None = None
        self.reads: Reads | None = None

    async def __aenter__(self) -> Store:
        path = open_store(self.folder)
        self.writer = Writer(path, asyncio.get_running_loop())
        self.writer.start()
        self.reads = Reads(path)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.writer is not None and self.reads is not None
        self.reads.close()
        await self.writer.stop()

    def catch_up(self, accounts: Accounts, **settings: Any) -> CatchUp:
        assert self.writer is not None and self.reads is not None
        return CatchUp(
            accounts, self.reads, self.writer.submit, "no-webhooks-here", CatchUpSettings(**settings)
        )

    def statuses(self) -> dict[str, str]:
        assert self.reads is not None
        return dict(query(self.reads, "SELECT msg_id, status FROM messages WHERE msg_id IS NOT NULL"))


async def accounts_for(folder: Path, sb: Sandbox) -> Accounts:
    accounts = Accounts(Config.open(resolve(folder)).state, MemorySecrets())
    await accounts.add(sb.tenant_key, base_url=sb.base_url)
    return accounts


async def test_a_429_is_waited_out_as_it_says_and_the_catch_up_goes_on(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    ids = await sent_and_moved_on(sandbox, 3)
    accounts = await accounts_for(tmp_path, sandbox)
    # Three 429s in a row on the first read-back: more than the client itself retries, so the
    # catch-up must wait them out (0.4 s each, as the answer says) and go on.
    sandbox.faults.inject("GET", "/v1/messages/msg_", 429, count=3, retry_after=0.4)
    async with Store(tmp_path) as store:
        before = time.monotonic()
        summary = await store.catch_up(accounts, pace_s=0.0).run(time.time() - 600, time.time())
        took = time.monotonic() - before
        statuses = store.statuses()
    assert summary["stopped"] is None and summary["errors"] == [], summary
    assert summary["rate_limited_waits"] >= 1 and took >= 3 * 0.4
    assert not sandbox.faults.pending()  # every 429 was met, and the reads went on past them
    assert summary["messages_restored"] == 3
    assert {i: statuses.get(i) for i in ids} == {i: sandbox.scenario.message(i).status for i in ids}  # type: ignore[union-attr]


async def test_the_platforms_rate_limit_is_honoured(sandbox: Sandbox, tmp_path: Path) -> None:
    ids = await sent_and_moved_on(sandbox, 6)
    accounts = await accounts_for(tmp_path, sandbox)
    sandbox.faults.rate_limit = (2, 1.0)  # two requests a second per key, then 429 with the wait
    before = sandbox.faults.requests("*", "/v1/")
    async with Store(tmp_path) as store:
        started = time.monotonic()
        summary = await store.catch_up(accounts, pace_s=0.0).run(time.time() - 600, time.time())
        took = time.monotonic() - started
        statuses = store.statuses()
    assert summary["stopped"] is None and summary["errors"] == [], summary
    assert {i: statuses.get(i) for i in ids} == {i: sandbox.scenario.message(i).status for i in ids}  # type: ignore[union-attr]
    # The webhook list, one history page, six reads: eight answers at two a second take 3 s
    # at least; more requests reached the sandbox than that, the refused ones, waited out.
    answered = 2 + summary["messages_checked"]
    assert summary["messages_checked"] == 6 and took >= (answered / 2 - 1) - 0.05
    assert sandbox.faults.requests("*", "/v1/") - before > answered


async def test_a_network_failure_stops_the_run_with_its_reason(sandbox: Sandbox, tmp_path: Path) -> None:
    await sent_and_moved_on(sandbox, 1)
    accounts = await accounts_for(tmp_path, sandbox)
    sandbox.faults.inject("GET", "/v1/messages/", None, drop=True, count=50)  # no answer at all
    async with Store(tmp_path) as store:
        summary = await store.catch_up(accounts, pace_s=0.0).run(time.time() - 600, time.time())
        assert store.statuses() == {}
    assert summary["stopped"] is not None and "could not be reached" in summary["stopped"]
    assert summary["messages_checked"] == 0

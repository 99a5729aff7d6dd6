"""AlertWatch (services/alerts.py) over real parts: a receiver (aiohttp on 127.0.0.1) with its
SQLite store and writer process in tmp_path, the real Reachability probing through a closed
port and then through the receiver itself, webhooks POSTed to the receiver, and what the
tray would show through AlertNotifier. Only the clock the silence is measured at is moved."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilot_desktop.core.alerts import NOT_STORING, SILENCE, UNREACHABLE, Alert, AlertNotifier
from pilot_desktop.core.events import classify
from pilot_desktop.core.notify import Notification, NotifyRules
from pilot_desktop.core.signature import verify
from pilot_desktop.services.alerts import AlertWatch
from pilot_desktop.services.gaps import GapRecorder
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.reachability import Reachability
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.services.settings import Settings
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import IncomingEvent
from tests.integration.test_probe import PROXY_VARS

TOKEN = "alerts-test-token-0123456789"
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)


@dataclass
class Node:
    runtime: Runtime
    gaps: GapRecorder
    reads: Reads

    def storing(self) -> tuple[bool, str | None]:
        health = self.reads.health()
        return health.state == "ok", health.reason

    async def post(self, body: dict[str, Any]) -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            resp = await client.post(f"{self.runtime.base_url}/hooks/{TOKEN}", json=body)
        assert resp.status_code == 200, resp.text


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    runtime = Runtime(resolve(tmp_path / "data").data_dir, TOKEN, lambda _route: [], host="127.0.0.1", port=0)
    await runtime.open()
    assert runtime.writer is not None and runtime.db_path is not None
    gaps = GapRecorder(runtime.writer.submit)
    await gaps.start(None, [])
    await runtime.listen()
    await gaps.receiver_up()
    node = Node(runtime, gaps, Reads(runtime.db_path, runtime.writer))
    yield node
    await runtime.stop_listening()
    await gaps.stop()
    node.reads.close()
    await runtime.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def message(number: str) -> dict[str, Any]:
    n = next(_ids)
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data = {"id": f"evt_{n}", "messageId": f"msg_{n}", "numberId": number, "from": "+5511988887777"}
    return {"event": "message.received", "data": {**data, "text": f"hello {n}", "createdAt": stamp}}


def number_event(name: str, number: str) -> dict[str, Any]:
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"event": name, "data": {"numberId": number, "phone": "+5511999990000", "createdAt": stamp}}


class Tray:
    """What the tray does with the watch: feed the notifier, take what is due."""

    def __init__(self, watch: AlertWatch) -> None:
        self.notifier = AlertNotifier(NotifyRules())
        self.shown: list[Notification] = []
        watch.subscribe(lambda active: self.notifier.feed(active, time.time()))

    def tick(self, now: float) -> list[str]:
        due = self.notifier.due(now)
        self.shown += due
        return [n.kind for n in due]


async def test_two_failed_probes_open_the_unreachable_alert_and_an_ok_probe_ends_it(
    node: Node, closed_port: int
) -> None:
    public = {"url": f"http://127.0.0.1:{closed_port}"}
    reach = Reachability(
        lambda: public["url"],
        TOKEN,
        node.runtime.instance,
        node.runtime.writer.submit,  # type: ignore[union-attr]
        node.gaps,
        interval_s=lambda: 3600.0,
    )
    watch = AlertWatch(
        lambda: node.reads, node.storing, lambda: Settings(public_url=public["url"]), interval_s=3600
    )
    heard: list[list[Alert]] = []
    watch.subscribe(heard.append)
    tray = Tray(watch)
    try:
        await reach.check_now()
        assert await watch.evaluate() == [] and heard == []  # one failure is not an alert
        await reach.check_now()
        [alert] = await watch.evaluate()
        first = node.reads.probes(10)[-1]
        assert (alert.kind, alert.since) == (UNREACHABLE, first.at)
        assert "refused" in alert.sentence.lower() and public["url"] in alert.sentence
        assert heard == [[alert]] and tray.tick(time.time()) == [UNREACHABLE]
        await reach.check_now()  # a third failure: the same alert, nobody told again
        assert [a.since for a in await watch.evaluate()] == [first.at] and len(heard) == 1
        assert tray.tick(time.time() + 120) == []

        public["url"] = node.runtime.base_url  # the tunnel is back
        await reach.check_now()
        assert await watch.evaluate() == [] and heard[-1] == []
        assert tray.tick(time.time() + 120) == ["reachable"]
        assert tray.tick(time.time() + 600) == []  # the recovery is told once
    finally:
        await reach.stop()


async def test_a_silent_number_alerts_until_it_receives_and_a_disconnected_one_never(node: Node) -> None:
    for _ in range(12):
        await node.post(message("num_busy"))
    for _ in range(12):
        await node.post(message("num_gone"))
    await node.post(number_event("number.disconnected", "num_gone"))  # told by number alerts
    clock = {"now": time.time()}
    settings = Settings().model_copy(
        update={"alerts": Settings().alerts.model_copy(update={"silence_min_minutes": 1})}
    )
    watch = AlertWatch(lambda: node.reads, node.storing, lambda: settings, clock=lambda: clock["now"])
    assert await watch.evaluate() == []
    clock["now"] += 61  # silent over a minute: far beyond 10 x its usual gap
    [alert] = await watch.evaluate()
    assert (alert.kind, alert.subject) == (SILENCE, "num_busy")
    last = node.reads.cadences(clock["now"])
    assert alert.since == next(c.last_at for c in last if c.number_id == "num_busy")

    off = settings.model_copy(update={"alerts": settings.alerts.model_copy(update={"silence": False})})
    switched = AlertWatch(lambda: node.reads, node.storing, lambda: off, clock=lambda: clock["now"])
    assert await switched.evaluate() == []

    await node.post(message("num_busy"))
    clock["now"] = time.time() + 1
    assert await watch.evaluate() == []


async def test_not_storing_follows_the_writer_and_the_watch_runs_on_its_own(node: Node) -> None:
    watch = AlertWatch(lambda: node.reads, node.storing, Settings, interval_s=3600)
    changed: asyncio.Queue[list[Alert]] = asyncio.Queue()
    watch.subscribe(changed.put_nowait)
    watch.start()
    try:
        assert await watch.evaluate() == []
        assert node.runtime.writer is not None
        await node.runtime.writer.stop()  # the writer is gone: nothing is stored any more
        watch.poke()  # the evaluation runs on the watch's own task
        active = await asyncio.wait_for(changed.get(), 10)
        assert [a.kind for a in active] == [NOT_STORING]
        assert "not being stored" in active[0].sentence
    finally:
        await watch.stop()


def _past_event(number: str, at: float) -> IncomingEvent:
    body = json.dumps(message(number)).encode()
    obj = json.loads(body)
    return IncomingEvent(
        received_at=at,
        route=None,
        headers=[("Content-Type", "application/json")],
        body=body,
        classified=classify(obj),
        verdict=verify(body, None, []),
    )


async def test_a_number_busy_until_the_app_stopped_is_not_silent_when_it_starts(node: Node) -> None:
    """Busy until 8 h ago, then nothing ran; the app starts now: no silence alert at start.
    Silence counts from this run's start, waits while a gap is open, then from its end."""
    started = node.gaps.run_started_at
    stopped_at = started - 8 * 3600
    for i in range(30):  # an event a minute until 8 h ago
        await node.runtime.writer.submit(_past_event("num_busy", stopped_at - i * 60))  # type: ignore[union-attr]
    clock = {"now": time.time()}
    watch = AlertWatch(lambda: node.reads, node.storing, Settings, clock=lambda: clock["now"])
    assert await watch.evaluate() == []  # silent 8 h, but nothing could receive until now

    clock["now"] = started + 31 * 60  # 31 min into this run, still nothing: silent (min 30 min)
    [alert] = await watch.evaluate()
    assert (alert.kind, alert.subject, alert.since) == (SILENCE, "num_busy", started)

    gap = await node.gaps.open_gap("tunnel", "The tunnel is down.")
    assert gap is not None
    assert await watch.evaluate() == []  # the tunnel is the cause: silence waits
    await node.gaps.close_gap("tunnel")
    clock["now"] = time.time() + 29 * 60
    assert await watch.evaluate() == []  # counted again from the gap's end: 29 min, not yet
    ended = next(g for g in node.reads.gaps(None, 10) if g.id == gap.id).ended_at
    assert ended is not None
    clock["now"] = ended + 31 * 60
    [alert] = await watch.evaluate()
    assert alert.since == ended

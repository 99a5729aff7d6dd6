"""Continuous reachability through the public URL (services/reachability.py).

Real parts only: a real receiver (Runtime: aiohttp on 127.0.0.1, port 0, SQLite and its writer
in tmp_path), the real GapRecorder writing through that writer, the real probe; the public
URL is the receiver's own loopback address, a local TCP forwarder playing the tunnel (the one
of test_probe.py), a closed port, a name under .invalid, or small aiohttp servers playing
the wrong program. Rows are read back through Reads, as the window and the CLI read them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from pilot_desktop.services.gaps import UNREACHABLE, GapRecorder
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.reachability import URL_SETTLE_S, Reach, Reachability
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Gap
from pilot_desktop.store.watch_records import ProbeRow
from tests.integration.test_probe import PROXY_VARS, Forwarder

TOKEN = "reach-test-token-0123456789"


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe honours proxy variables; these loopback probes must not use the machine's."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)


@dataclass
class Node:
    """A receiving Pilot Desktop: receiver, writer, gap recorder, reads; and what was told."""

    runtime: Runtime
    gaps: GapRecorder
    reads: Reads
    ended: list[Gap] = field(default_factory=list)  # the catch-up's hook: gaps that ended
    monitors: list[Reachability] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.runtime.base_url

    def monitor(self, public_url: Callable[[], str | None], **options: object) -> Reachability:
        options.setdefault("interval_s", lambda: 60.0)
        assert self.runtime.writer is not None
        mon = Reachability(
            public_url,
            options.pop("token", TOKEN),  # type: ignore[arg-type]
            options.pop("instance", self.runtime.instance),  # type: ignore[arg-type]
            self.runtime.writer.submit,
            self.gaps,
            receiver=lambda: self.runtime.base_url.removeprefix("http://"),
            **options,  # type: ignore[arg-type]
        )
        self.monitors.append(mon)
        return mon

    def probes(self) -> list[ProbeRow]:
        """Oldest first."""
        return list(reversed(self.reads.probes(limit=1000)))

    def gaps_of(self, kind: str) -> list[Gap]:
        return [g for g in self.reads.gaps(None, 1000) if g.kind == kind]


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
    gaps.subscribe(node.ended.append)
    yield node
    for mon in node.monitors:
        await mon.stop()
    await runtime.stop_listening()
    await gaps.stop()
    node.reads.close()
    await runtime.stop()


@pytest.fixture
async def servers() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Serves a small aiohttp app on loopback; answers its base URL."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield serve
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def tunnels() -> AsyncIterator[Callable[..., Awaitable[Forwarder]]]:
    made: list[Forwarder] = []

    async def make(target: tuple[str, int] | None, mode: str = "pipe") -> Forwarder:
        fwd = await Forwarder(target, mode).start()  # type: ignore[arg-type]
        made.append(fwd)
        return fwd

    yield make
    for fwd in made:
        await fwd.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def eventually(check: Callable[[], object], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "did not happen in time"
        await asyncio.sleep(0.02)


def into(state: str, seen: list[tuple[Reach, Reach]]) -> int:
    """How many times listeners saw the state turn `state`."""
    return sum(1 for before, after in seen if before.state != state and after.state == state)


# -- reachable ------------------------------------------------------------------------------------


async def test_a_public_url_reaching_this_receiver_is_reachable_with_its_latency_recorded(node: Node) -> None:
    mon = node.monitor(lambda: node.url)
    seen: list[tuple[Reach, Reach]] = []
    mon.subscribe(lambda before, after: seen.append((before, after)))
    assert (mon.reach.state, mon.reach.public_url, mon.reach.last) == ("not_checked", node.url, None)

    reach = await mon.check_now()

    assert (reach.state, reach.public_url, reach.failures) == ("reachable", node.url, 0)
    assert reach.last is not None and reach.last.latency_ms is not None and reach.last.latency_ms > 0
    assert mon.reach == reach
    assert [(b.state, a.state) for b, a in seen] == [("not_checked", "reachable")]
    (row,) = node.probes()  # recorded before the listeners were told
    assert (row.public_url, row.ok, row.diagnosis, row.status, row.trigger) == (
        node.url,
        True,
        "ok",
        200,
        "demand",
    )
    assert row.latency_ms == reach.last.latency_ms and row.at == reach.last.at
    assert "reached this app's receiver" in row.sentence
    assert node.gaps_of(UNREACHABLE) == []


async def test_concurrent_checks_share_one_probe(node: Node) -> None:
    mon = node.monitor(lambda: node.url)
    reaches = await asyncio.gather(*(mon.check_now() for _ in range(5)))
    assert len({id(r) for r in reaches}) == 1 and reaches[0].state == "reachable"
    assert len(node.probes()) == 1


# -- each failure recorded with its diagnosis -------------------------------------------------------


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):  # takes the request, never answers
        pass


async def test_each_failure_mode_is_recorded_with_its_diagnosis(
    node: Node,
    closed_port: int,
    servers: Callable[[web.Application], Awaitable[str]],
) -> None:
    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text="upstream connect error", content_type="text/plain")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="Hello from the dev server")

    gateway, dev = web.Application(), web.Application()
    gateway.router.add_route("*", "/{tail:.*}", bad_gateway)
    dev.router.add_route("*", "/{tail:.*}", hello)
    silent = await asyncio.start_server(_silent, "127.0.0.1", 0)
    silent_url = f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}"
    cases: list[tuple[str, dict[str, object], str, list[str]]] = [
        # (public URL, options, diagnosis, what the sentence names)
        (f"http://127.0.0.1:{closed_port}", {}, "refused", ["nothing is listening", str(closed_port)]),
        ("http://pilot-reach-test.invalid", {}, "dns", ["pilot-reach-test.invalid", "does not resolve"]),
        (await servers(dev), {}, "other_receiver", ["not Pilot Desktop", "Hello from the dev server"]),
        (node.url, {"instance": "another-window-0001"}, "other_receiver", ["a different Pilot Desktop"]),
        (await servers(gateway), {}, "http_status", ["HTTP 502", "upstream connect error"]),
        (silent_url, {"timeout_s": 0.5}, "timeout", ["no answer", "0.5 s"]),
    ]
    try:
        for url, options, diagnosis, needles in cases:
            mon = node.monitor(lambda url=url: url, **options)  # type: ignore[misc]
            reach = await mon.check_now()
            assert (reach.state, reach.failures) == ("failing", 1), (url, reach)
            assert reach.last is not None and reach.last.diagnosis == diagnosis, (url, reach.last)
            row = node.probes()[-1]
            assert (row.public_url, row.ok, row.diagnosis) == (url, False, diagnosis), row
            assert row.sentence == reach.last.sentence and row.sentence.endswith((".", '"'))
            for needle in needles:
                assert needle.lower() in row.sentence.lower(), (needle, row.sentence)
    finally:
        silent.close()
    assert [r.diagnosis for r in node.probes()] == [c[2] for c in cases]
    assert node.gaps_of(UNREACHABLE) == []  # one failure each: amber, no gap yet


# -- unreachable, then recovered ----------------------------------------------------------------------


@pytest.mark.parametrize("fix", ["the tunnel forwards again", "a new public URL"])
async def test_two_failures_in_a_row_open_the_unreachable_gap_and_the_first_ok_probe_ends_it(
    fix: str, node: Node, closed_port: int, tunnels: Callable[..., Awaitable[Forwarder]]
) -> None:
    # The tunnel is up but forwards to a port where nothing listens: "closed".
    tunnel = await tunnels(("127.0.0.1", closed_port))
    public = [tunnel.url]
    mon = node.monitor(lambda: public[0], interval_s=lambda: 0.2)
    seen: list[tuple[Reach, Reach]] = []
    mon.subscribe(lambda before, after: seen.append((before, after)))
    mon.start()

    await eventually(lambda: mon.reach.failures >= 3)
    assert mon.reach.state == "unreachable" and into("unreachable", seen) == 1
    assert [b.state for b, a in seen if a.state == "unreachable" and b.state != "unreachable"] == ["failing"]
    first = node.probes()[0]
    assert (first.ok, first.diagnosis) == (False, "closed")
    (gap,) = node.gaps_of(UNREACHABLE)
    assert gap.ended_at is None and gap.started_at == first.at  # from the first failed probe
    assert tunnel.url in gap.reason and "closed it without an answer" in gap.reason
    assert node.gaps.open_gaps[UNREACHABLE].id == gap.id
    assert node.ended == []  # nothing told to the catch-up while it lasts

    if fix == "the tunnel forwards again":
        tunnel.target = node.runtime.bound
    else:
        public[0] = node.url
        mon.url_changed()
    await eventually(lambda: mon.reach.state == "reachable")

    assert into("unreachable", seen) == 1 and into("reachable", seen) == 1
    assert seen[-1][1].state == "reachable"
    (ended,) = node.gaps_of(UNREACHABLE)
    assert ended.id == gap.id and ended.ended_at is not None and ended.ended_at >= gap.started_at
    ok = next(r for r in node.probes() if r.ok)
    assert ended.ended_at >= ok.at
    assert [g.id for g in node.ended] == [gap.id]  # the catch-up is told once
    assert UNREACHABLE not in node.gaps.open_gaps
    await mon.check_now()  # more ok probes end nothing more
    assert [g.id for g in node.ended] == [gap.id] and len(node.gaps_of(UNREACHABLE)) == 1


async def test_no_public_url_is_not_checked_and_ends_the_unreachable_gap(
    node: Node, closed_port: int
) -> None:
    public: list[str | None] = [None]
    mon = node.monitor(lambda: public[0])
    reach = await mon.check_now()
    assert (reach.state, reach.public_url, reach.last) == ("not_checked", None, None)
    assert node.probes() == []

    public[0] = f"http://127.0.0.1:{closed_port}"
    await mon.check_now()
    assert (await mon.check_now()).state == "unreachable"
    (gap,) = node.gaps_of(UNREACHABLE)
    assert gap.ended_at is None

    public[0] = None  # the operator cleared the public URL: nothing goes through one now
    reach = await mon.check_now()
    assert (reach.state, reach.public_url, reach.failures) == ("not_checked", None, 0)
    (gap,) = node.gaps_of(UNREACHABLE)
    assert gap.ended_at is not None and [g.id for g in node.ended] == [gap.id]
    assert len(node.probes()) == 2


# -- a changed URL ----------------------------------------------------------------------------------------


async def test_a_changed_url_is_not_checked_at_once_then_probed_once_soon(
    node: Node, tunnels: Callable[..., Awaitable[Forwarder]]
) -> None:
    old, new = await tunnels(node.runtime.bound), await tunnels(node.runtime.bound)
    public = [old.url]
    mon = node.monitor(lambda: public[0])  # every 60 s: only the URL change probes again
    seen: list[tuple[Reach, Reach]] = []
    mon.subscribe(lambda before, after: seen.append((before, after)))
    mon.start()
    await eventually(lambda: mon.reach.state == "reachable")

    public[0] = new.url
    changed_at = time.time()
    for _ in range(5):  # a burst of changes (the tunnel's status, settings, state)
        mon.url_changed()
    assert (mon.reach.state, mon.reach.public_url, mon.reach.last) == ("not_checked", new.url, None)
    assert [(b.state, a.state) for b, a in seen[1:3]] == [("reachable", "not_checked"), ("not_checked",) * 2]

    await eventually(lambda: mon.reach.state == "reachable")
    assert mon.reach.public_url == new.url
    rows = node.probes()
    assert [(r.trigger, r.public_url) for r in rows] == [("schedule", old.url), ("url_change", new.url)]
    assert rows[1].at - changed_at < 1.0
    # The burst asked for one probe: none other follows within several settle windows.
    await asyncio.sleep(URL_SETTLE_S * 4)
    assert len(node.probes()) == 2 and new.connections == 1


async def test_a_url_changed_without_a_word_is_noticed_within_a_second(
    node: Node, tunnels: Callable[..., Awaitable[Forwarder]]
) -> None:
    old, new = await tunnels(node.runtime.bound), await tunnels(node.runtime.bound)
    public = [old.url]
    mon = node.monitor(lambda: public[0])
    mon.start()
    await eventually(lambda: mon.reach.state == "reachable")
    changed = time.time()
    public[0] = new.url  # nobody calls url_changed()
    await eventually(lambda: mon.reach.state == "reachable" and mon.reach.public_url == new.url, 5)
    row = node.probes()[-1]
    assert (row.trigger, row.public_url) == ("url_change", new.url) and row.at - changed < 1.6


# -- the schedule -------------------------------------------------------------------------------------------


async def test_the_interval_is_respected_and_a_change_applies_without_a_restart(node: Node) -> None:
    interval = [30.0]
    mon = node.monitor(lambda: node.url, interval_s=lambda: interval[0])
    mon.start()
    await eventually(lambda: len(node.probes()) == 1)  # the first probe at once
    started = time.time()
    interval[0] = 0.2  # shortened while the monitor waits 30 s
    await eventually(lambda: len(node.probes()) >= 6)
    rows = node.probes()
    assert rows[1].at - started < 1.5  # read again within a second, not after 30 s
    steps = [b.at - a.at for a, b in itertools.pairwise(rows[1:6])]
    assert all(0.19 <= s < 1.0 for s in steps), steps

    interval[0] = 0.6
    count = len(node.probes())
    await eventually(lambda: len(node.probes()) >= count + 3)
    later = node.probes()[count:]
    steps = [b.at - a.at for a, b in itertools.pairwise(later)]
    assert all(0.59 <= s < 1.5 for s in steps), steps
    assert all(r.trigger == "schedule" and r.ok for r in node.probes())


async def test_slow_probes_never_overlap_and_the_next_follows_at_once(node: Node) -> None:
    silent = await asyncio.start_server(_silent, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}"
    try:
        mon = node.monitor(lambda: url, interval_s=lambda: 0.3, timeout_s=0.8)
        mon.start()
        await eventually(lambda: len(node.probes()) >= 4)
    finally:
        silent.close()
    rows = node.probes()[:4]
    assert all(r.diagnosis == "timeout" for r in rows)
    steps = [b.at - a.at for a, b in itertools.pairwise(rows)]
    # Each waits for the one before (its 0.8 s timeout) and comes right after it: the 0.3 s
    # interval passed meanwhile, so no more waiting (0.8 + 0.3 would be a schedule drifting).
    assert all(0.79 <= s < 1.05 for s in steps), steps


async def test_stop_cancels_a_probe_under_way_and_the_schedule(node: Node) -> None:
    silent = await asyncio.start_server(_silent, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}"
    try:
        mon = node.monitor(lambda: url, interval_s=lambda: 0.2, timeout_s=30)
        mon.start()
        waiting = asyncio.ensure_future(mon.check_now())  # joins the probe under way
        await asyncio.sleep(0.1)
        began = time.monotonic()
        await mon.stop()
        assert time.monotonic() - began < 1.0
        assert (await waiting).state == "not_checked"  # the caller gets the state, not an error
        assert node.probes() == []
        assert (await mon.check_now()).state == "not_checked"  # stopped: nothing probed
        await mon.stop()  # idempotent
    finally:
        silent.close()


# -- nothing stops the watch --------------------------------------------------------------------------------


async def test_a_failing_listener_and_a_store_that_stopped_do_not_stop_the_watch(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    mon = node.monitor(lambda: node.url, interval_s=lambda: 0.2)
    told: list[Reach] = []

    def broken(before: Reach, after: Reach) -> None:
        raise RuntimeError("a view's bug")

    mon.subscribe(broken)
    mon.subscribe(lambda before, after: told.append(after))
    mon.start()
    await eventually(lambda: len(told) >= 2)
    assert len(node.probes()) == len(told)

    assert node.runtime.writer is not None
    await node.runtime.writer.stop()  # the store stops storing
    count = len(told)
    with caplog.at_level(logging.WARNING, logger="pilot_desktop.services.reachability"):
        await eventually(lambda: len(told) >= count + 3)
    assert mon.reach.state == "reachable"  # still probing, still reachable
    said = [r for r in caplog.records if "could not record a probe" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]  # said once, not every probe
    assert sum("reachability listener failed" in r.getMessage() for r in caplog.records) >= 3

"""Acknowledged means durable: a 2xx is only sent after COMMIT, so neither `kill -9` nor a
SIGTERM in the middle of a burst may lose an event the sender was told is stored."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from tests.integration.serving import Server, gone

SAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "resources/samples/message.received.json").read_bytes()
)
WORKERS = 48  # concurrent requests in flight: many acks per writer batch
MIN_LOAD_S = 1.0  # load runs at least this long before the signal
MIN_ACKED = 300  # ...and until this many events were acknowledged
LOAD_TIMEOUT_S = 30.0


def event(ident: str) -> dict[str, Any]:
    """A distinct `message.received` (its own dedupe key) carrying `ident` as `data.id`."""
    body = copy.deepcopy(SAMPLE)
    body["data"]["id"] = ident
    return body


class Load:
    """WORKERS concurrent async clients (on one background thread) posting distinct events
    as fast as they can, recording which got a 2xx."""

    def __init__(self, server: Server, prefix: str = "load", workers: int = WORKERS) -> None:
        self.server = server
        self.prefix = prefix
        self.workers = workers
        self.acked: list[str] = []
        self.statuses: list[int] = []
        self.errors_after: list[float] = []  # monotonic times of transport errors
        self.stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        # aiohttp's client, not httpx: httpx's async pool managed ~250 requests/s with 48
        # connections here, aiohttp's ~7,000; a fast load makes a lost ack far likelier to show.
        connector = aiohttp.TCPConnector(limit=self.workers)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(self._work(session, n) for n in range(self.workers)))

    async def _work(self, session: aiohttp.ClientSession, n: int) -> None:
        url = self.server.hook()
        i = 0
        while not self.stop.is_set():
            ident = f"{self.prefix}-{n}-{i}"
            i += 1
            try:
                async with session.post(url, data=json.dumps(event(ident)).encode()) as r:
                    await r.read()
                    status = r.status
            except (TimeoutError, aiohttp.ClientError):
                self.errors_after.append(time.monotonic())
                await asyncio.sleep(0.01)  # the server is gone; do not spin
                continue
            self.statuses.append(status)
            if 200 <= status < 300:
                self.acked.append(ident)

    def start(self) -> None:
        self._thread.start()

    def wait_until_busy(self) -> None:
        """Poll until the load ran MIN_LOAD_S and MIN_ACKED events were acknowledged."""
        begun = time.monotonic()
        while time.monotonic() - begun < LOAD_TIMEOUT_S:
            assert self._thread.is_alive(), "the load thread died"
            if time.monotonic() - begun >= MIN_LOAD_S and len(self.acked) >= MIN_ACKED:
                return
            time.sleep(0.02)
        raise AssertionError(f"only {len(self.acked)} events acknowledged in {LOAD_TIMEOUT_S} s")

    def finish(self) -> None:
        self.stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the load hung"


def stored_ids(server: Server) -> list[str]:
    return [rec["payload"]["data"]["id"] for rec in server.export()]


def _load_then_kill(server: Server, prefix: str) -> Load:
    load = Load(server, prefix)
    load.start()
    try:
        load.wait_until_busy()
        server.kill()
        killed_at = time.monotonic()
        # Keep the load running a moment: the kill must land mid-burst, not after it.
        deadline = killed_at + 10
        while len([t for t in load.errors_after if t >= killed_at]) < WORKERS:
            assert time.monotonic() < deadline, "the load did not notice the kill"
            time.sleep(0.01)
    finally:
        load.finish()
    assert len(load.acked) >= MIN_ACKED
    assert len(set(load.acked)) == len(load.acked)  # ids really are distinct
    assert set(load.statuses) <= {200, 503}, sorted(set(load.statuses))
    return load


def test_kill_9_mid_load_loses_nothing_acknowledged(serve: Callable[..., Server]) -> None:
    server = serve()
    acked: set[str] = set()
    in_flight = 0
    for cycle in range(2):  # the second kill hits a store recovered from the first
        load = _load_then_kill(server, f"cycle{cycle}")
        acked |= set(load.acked)
        in_flight += WORKERS
        server = serve(data_dir=server.data_dir)
        ids = stored_ids(server)
        assert len(ids) == len(set(ids)), "an event was stored twice"
        missing = acked - set(ids)
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
        # Events in flight at a kill may or may not be stored: at most one per worker.
        assert len(set(ids) - acked) <= in_flight

    after = server.post(event("after-restart"))
    assert after.status_code == 200, after.text
    assert "after-restart" in stored_ids(server)


def test_sigterm_mid_load_drains_and_exits_0(serve: Callable[..., Server]) -> None:
    server = serve()
    load = Load(server)
    load.start()
    try:
        load.wait_until_busy()
        assert server.stop(signal.SIGTERM) == 0
    finally:
        load.finish()
    assert "Traceback" not in server.stderr()
    acked = set(load.acked)
    ids = set(stored_ids(server))  # export works on the closed store, no server needed
    missing = acked - ids
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"


# -- the writer process (store/writer_process.py) --------------------------------------------


def _wait(pred: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def test_a_killed_writer_process_is_replaced_and_loses_nothing_acknowledged(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    [writer] = server.writer_pids()
    load = Load(server)
    load.start()
    try:
        load.wait_until_busy()
        acked_before = len(load.acked)
        os.kill(writer, signal.SIGKILL)
        _wait(lambda: gone(writer), "the writer process died")
        # A new writer process takes over and the load is acknowledged again.
        _wait(lambda: len(load.acked) > acked_before + MIN_ACKED, "storing resumed")
        [replacement] = server.writer_pids()
        assert replacement != writer
    finally:
        load.finish()
    # What the dead writer had in flight was answered 503 (retry), never 200 unstored.
    assert set(load.statuses) <= {200, 503}, sorted(set(load.statuses))
    health = httpx.get(f"{server.base}/healthz", timeout=5).json()
    assert health["ok"] is True, health
    assert server.stop(signal.SIGTERM) == 0
    assert "writer process stopped (exit code -9)" in server.stderr()
    ids = stored_ids(server)
    missing = set(load.acked) - set(ids)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert len(ids) == len(set(ids))


def test_a_writer_process_that_keeps_dying_stops_the_receiver_with_a_reason(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    for _ in range(4):  # RESTARTS + 1 deaths within the window
        [writer] = server.writer_pids()
        os.kill(writer, signal.SIGKILL)
        _wait(lambda w=writer: gone(w) and server.writer_pids() != [w], "the writer was replaced or given up")
    _wait(lambda: httpx.get(f"{server.base}/healthz", timeout=5).status_code == 503, "healthz reports it")
    health = httpx.get(f"{server.base}/healthz", timeout=5).json()
    assert "stopped 4 times" in health["error"], health
    r = server.post(event("refused"))
    assert r.status_code == 503, r.text  # the sender keeps it and retries later
    assert server.writer_pids() == []
    assert server.stop(signal.SIGTERM) == 0


def test_a_killed_app_leaves_no_writer_process_behind(serve: Callable[..., Server]) -> None:
    server = serve()
    [writer] = server.writer_pids()
    assert server.post(event("before")).status_code == 200
    server.kill()
    _wait(lambda: gone(writer), "the orphaned writer process exited")


def test_ctrl_c_reaching_the_writer_process_too_still_drains(serve: Callable[..., Server]) -> None:
    # A terminal's Ctrl+C (or a service manager's stop) signals the whole process group:
    # the writer process must leave its work to the app's orderly drain.
    server = serve()
    [writer] = server.writer_pids()
    load = Load(server)
    load.start()
    try:
        load.wait_until_busy()
        os.kill(writer, signal.SIGINT)
        os.kill(writer, signal.SIGTERM)
        assert server.stop(signal.SIGINT) == 0
    finally:
        load.finish()
    assert gone(writer)
    assert "Traceback" not in server.stderr()
    missing = set(load.acked) - set(stored_ids(server))
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"

"""Gaps: the times this receiver could not receive are recorded, told and listed.

Real cores on a real store in tmp_path, real `pilot-desktop serve` subprocesses (killed with
SIGKILL for a crash), real sockets holding the port, the real `pilot-desktop gaps` command.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from pilot_desktop.core.format import iso
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.store.reads import Reads
from tests.integration.serving import BIN, Server, cli, cli_env, open_ro

if TYPE_CHECKING:
    from pilot_desktop.store.records import Changes, Gap


def core_on(folder: Path, port: int = 0, **options: object) -> AppCore:
    paths = resolve(folder)
    opts = CoreOptions(port=port, watch_s=0.1, listen_retry_s=0.1, **options)  # type: ignore[arg-type]
    return AppCore(paths, Config.open(paths), opts, secrets=MemorySecrets())


async def eventually(check: Callable[[], object], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "did not happen in time"
        await asyncio.sleep(0.02)


def stored_gaps(folder: Path) -> list[Gap]:
    reads = Reads.open(folder)
    try:
        return reads.gaps(None, 1000)
    finally:
        reads.close()


def beat_row(db: Path) -> sqlite3.Row | None:
    conn = open_ro(db)
    try:
        row: sqlite3.Row | None = conn.execute("SELECT * FROM heartbeat").fetchone()
        return row
    finally:
        conn.close()


@pytest.fixture
def held_port() -> Iterator[socket.socket]:
    """A port another program listens on (no SO_REUSEADDR: binding it again fails)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    yield holder
    holder.close()


async def test_a_clean_stop_then_a_start_records_one_not_running_gap_and_tells_it(tmp_path: Path) -> None:
    first = core_on(tmp_path)
    await first.start()
    await first.stop()
    beat = Reads.open(tmp_path).heartbeat()
    assert beat is not None and beat.stopped_at is not None  # the clean stop is dated

    second = core_on(tmp_path)
    before = time.time()
    await second.start()
    told: list[Gap] = []
    try:
        second.gaps.subscribe(told.append)  # after start: the gap is told all the same
        (gap,) = stored_gaps(tmp_path)
        assert gap.kind == "not_running"
        assert gap.started_at == beat.stopped_at
        assert gap.ended_at is not None and before <= gap.ended_at <= time.time()
        assert gap.reason == "Pilot Desktop was not running."
        assert [g.id for g in told] == [gap.id] and second.gaps.started_with == told[0]
        from pilot_desktop.store.records import GapMark  # (here: the module collects on older code)

        assert second.runtime.writer is not None  # the catch-up records what it restored so
        summary = {"summary": "12 steps of 5 messages restored", "steps": 12, "messages": 5}
        mark = GapMark(gap_id=gap.id, caught_up_at=time.time(), catch_up=json.dumps(summary))
        await second.runtime.writer.submit(mark)
    finally:
        await second.stop()
    assert len(stored_gaps(tmp_path)) == 1  # a clean stop opens nothing
    shown = cli("gaps", "--data-dir", tmp_path)
    assert shown.returncode == 0, shown.stderr
    (line,) = [x for x in shown.stdout.splitlines() if "not_running" in x]
    assert "caught up " in line and ": 12 steps of 5 messages restored" in line
    assert "Now: Not receiving since " in shown.stdout  # it stopped cleanly, nothing runs


async def test_the_heartbeat_does_not_wake_the_window(tmp_path: Path) -> None:
    core = core_on(tmp_path, heartbeat_s=0.3)  # a pause (3 beats late) would wake it, rightly
    await core.start()
    woken: list[Changes] = []
    try:
        assert core.reads is not None
        core.reads.subscribe(woken.append)
        first = core.reads.heartbeat()
        assert first is not None and first.pid is not None
        await eventually(lambda: core.reads.heartbeat().alive_at > first.alive_at + 0.5)  # type: ignore[union-attr]
        assert woken == []  # beats were written, no view was told to re-read
    finally:
        await core.stop()


async def test_a_busy_port_is_a_gap_until_a_retry_listens(tmp_path: Path, held_port: socket.socket) -> None:
    previous = core_on(tmp_path)  # a previous run: the start after it records not_running
    await previous.start()
    await previous.stop()
    port = held_port.getsockname()[1]
    core = core_on(tmp_path, port=port)
    told: list[Gap] = []
    followed: list[Gap] = []
    listening: list[bool] = []
    core.on_listening.append(lambda: listening.append(core.listening))
    await core.start()
    try:
        core.gaps.subscribe(told.append)
        core.gaps.follow(followed.append)
        assert not core.listening and core.port_in_use
        stopped = core.gaps.current
        assert stopped is not None and stopped.kind == "receiver_stopped" and stopped.ended_at is None
        assert f"port {port} is in use by another program" in stopped.reason
        assert told == []  # nothing is caught up while nothing can be received
        by_kind = {g.kind: g for g in stored_gaps(tmp_path)}
        assert by_kind["receiver_stopped"].ended_at is None  # open in the store
        # No hole between them: nothing was received from the previous stop to the retry.
        assert by_kind["not_running"].ended_at == by_kind["receiver_stopped"].started_at

        held_port.close()  # the other program lets go
        await eventually(lambda: core.listening and told)
        assert listening == [True] and core.receiver_error is None
        assert [g.kind for g in told] == ["not_running", "receiver_stopped"]
        ended = told[1]
        assert ended.id == stopped.id and ended.ended_at is not None
        assert [(g.id, g.ended_at is None) for g in followed] == [(stopped.id, False)]
        (row,) = [g for g in stored_gaps(tmp_path) if g.kind == "receiver_stopped"]
        assert row.ended_at == ended.ended_at
        async with httpx.AsyncClient(trust_env=False) as client:  # and it receives
            resp = await client.post(core.hook_url, json={"event": "message.received", "data": {}})
        assert resp.status_code == 200
    finally:
        await core.stop()


async def test_a_port_held_by_this_data_folders_other_receiver_is_no_gap(tmp_path: Path) -> None:
    first = core_on(tmp_path)
    await first.start()
    assert first.runtime.bound is not None
    second = core_on(tmp_path, port=first.runtime.bound[1])
    try:
        await second.start()
        assert not second.listening and second.port_shared  # the first one receives for both
        assert stored_gaps(tmp_path) == []  # no not_running (it runs), no receiver_stopped
        await first.stop()
        await eventually(lambda: second.listening)
        assert [g.kind for g in stored_gaps(tmp_path)] == []
    finally:
        await first.stop()
        await second.stop()


async def test_a_paused_process_records_the_pause(tmp_path: Path) -> None:
    core = core_on(tmp_path, heartbeat_s=0.2)
    await core.start()
    told: list[Gap] = []
    core.gaps.subscribe(told.append)
    try:
        await asyncio.sleep(0.1)
        time.sleep(1.5)  # noqa: ASYNC251 - the loop must not run: a suspended laptop, a SIGSTOP
        await eventually(lambda: told)
        # (a loaded machine may add short pauses of its own: the blocked one is there, once)
        (gap,) = [g for g in told if g.ended_at is not None and g.ended_at - g.started_at >= 1.5]
        assert gap.kind == "not_running" and "paused" in gap.reason
        assert [g.id for g in stored_gaps(tmp_path) if g.id == gap.id] == [gap.id]
    finally:
        await core.stop()


def test_a_killed_serve_leaves_a_gap_from_its_last_heartbeat(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = serve(data_dir=data)
    beat = beat_row(first.db)  # written before `Listening:`
    assert beat is not None and beat["pid"] == first.proc.pid and beat["stopped_at"] is None
    first.kill()  # SIGKILL: no clean stop

    now = json.loads(cli("gaps", "--json", "--data-dir", data).stdout)["now"]
    assert now["receiving"] is False and now["notReceivingSince"] == iso(beat["alive_at"])
    assert "no Pilot Desktop running for this data folder" in now["sentence"]

    second = serve(data_dir=data)
    said = second.wait_for_line("Not receiving from ", 5)
    assert "without a clean stop" in said and "crash" in said
    res = cli("gaps", "--json", "--data-dir", data)
    assert res.returncode == 0, res.stderr
    listed = json.loads(res.stdout)
    (gap,) = listed["gaps"]
    assert gap["kind"] == "not_running" and gap["startedAt"] == iso(beat["alive_at"])
    assert gap["endedAt"] is not None and gap["open"] is False and "crash" in gap["reason"]
    assert listed["now"]["receiving"] is True
    table = cli("gaps", "--data-dir", data)
    assert (
        table.returncode == 0
        and "not_running" in table.stdout
        and "Now: Pilot Desktop is running" in table.stdout
    )


def test_serve_on_a_busy_port_keeps_running_and_listens_once_it_is_free(
    serve: Callable[..., Server], tmp_path: Path, held_port: socket.socket
) -> None:
    data = tmp_path / "data"
    port = held_port.getsockname()[1]

    def release_when_the_gap_is_open() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                conn = open_ro(data / "pilot-desktop.sqlite3")
                try:
                    if conn.execute("SELECT 1 FROM gaps WHERE ended_at IS NULL").fetchone():
                        break
                finally:
                    conn.close()
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        held_port.close()

    releaser = threading.Thread(target=release_when_the_gap_is_open)
    releaser.start()
    server = serve(data_dir=data, port=port)  # returns at `Listening:`
    releaser.join()
    lines = server.lines
    opened = next(i for i, line in enumerate(lines) if line.startswith("Not receiving since "))
    ended = next(i for i, line in enumerate(lines) if line.startswith("Not receiving from "))
    assert f"port {port} is in use by another program" in lines[opened]
    assert opened < ended < lines.index(f"Listening: {server.url}")
    assert server.post({"event": "message.received", "data": {}}).status_code == 200
    (gap,) = json.loads(cli("gaps", "--json", "--data-dir", data).stdout)["gaps"]
    assert gap["kind"] == "receiver_stopped" and gap["open"] is False


def test_a_gap_left_open_by_a_crash_ends_at_the_last_heartbeat(
    serve: Callable[..., Server], tmp_path: Path, held_port: socket.socket
) -> None:
    """serve cannot listen (an open receiver_stopped gap) and is killed: the next start ends
    that gap where the killed run's last heartbeat was, and records the time nothing ran."""
    data = tmp_path / "data"
    port = held_port.getsockname()[1]
    stuck = subprocess.Popen(
        [str(BIN), "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=cli_env(),
        text=True,
    )
    try:
        assert stuck.stdout is not None
        for line in stuck.stdout:  # the gap is recorded before this line is printed
            if line.startswith("Not receiving since "):
                break
        else:
            raise AssertionError("serve on a busy port said nothing")
    finally:
        stuck.kill()
        stuck.wait()
        if stuck.stdout is not None:
            stuck.stdout.close()
    beat = beat_row(data / "pilot-desktop.sqlite3")
    assert beat is not None and beat["stopped_at"] is None

    serve(data_dir=data)
    gaps = json.loads(cli("gaps", "--json", "--data-dir", data).stdout)["gaps"]
    assert [(g["kind"], g["open"]) for g in gaps] == [("receiver_stopped", False), ("not_running", False)]
    stopped, not_running = gaps
    assert stopped["endedAt"] == not_running["startedAt"] == iso(beat["alive_at"])

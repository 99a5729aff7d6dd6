"""A lock held by another program is a passing problem, never the end of storing
(store/writer_child.py, store/integrity.py): a writer that starts (or restarts) while the
database is locked answers 503 with the reason at once, and stores again by itself once the
lock goes. Real processes hold real locks on a real SQLite file."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pilot_desktop.store.batches import BatchWriter
from pilot_desktop.store.db import open_store
from pilot_desktop.store.errors import StoreLocked
from pilot_desktop.store.integrity import Guard
from pilot_desktop.store.records import Stored
from tests.integration.serving import Server, gone, open_ro
from tests.integration.test_damaged_store import _HOLD_LOCK, WAIT_S, _fill, _health, _until, small_disk
from tests.integration.test_durability import event
from tests.unit.test_store import event as store_event
from tests.unit.test_store import incoming

HOLD_S = 3.0
__all__ = ["small_disk"]  # a fixture used here

# Exclusive locking mode: no other connection can even read the file (what a tool that
# "locks the database", or another connection's WAL recovery after a crash, looks like).
_HOLD_EXCLUSIVE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("CREATE TABLE lock_holder (x)")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def _locked(db: Path, script: str = _HOLD_EXCLUSIVE) -> Iterator[Callable[[], None]]:
    """Another process holds `db` locked until the yielded `release()` (or the end)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None

    def release() -> None:
        if holder.poll() is None:
            assert holder.stdin is not None
            holder.stdin.close()
            assert holder.wait(10) == 0

    try:
        assert holder.stdout.readline().strip() == "locked"
        yield release
    finally:
        release()


def _stored_ids(db: Path) -> set[str]:
    conn = open_ro(db)
    try:
        return {row[0] for row in conn.execute("SELECT json_extract(body, '$.data.id') FROM events")}
    finally:
        conn.close()


def test_serve_started_while_the_store_is_locked_answers_503_then_stores_by_itself(
    serve: Callable[..., Server],
) -> None:
    first = serve()
    assert first.post(event("before")).status_code == 200
    assert first.stop() == 0
    db = first.db

    with _locked(db) as release:
        server = serve(data_dir=first.data_dir)
        # Said before any webhook comes; then every request is answered quickly.
        _until(lambda: "locked by another program" in _health(server).text, "/healthz says the lock")
        locked_until = time.monotonic() + HOLD_S
        n = 0
        while time.monotonic() < locked_until:  # answered quickly, with the reason, every time
            began = time.monotonic()
            r = server.post(event(f"while-locked-{n}"))
            took = time.monotonic() - began
            assert r.status_code == 503, r.text
            assert "locked by another program" in r.json()["error"], r.text
            assert took < 1.6, f"request {n} answered after {took:.1f} s"
            n += 1
        health = _health(server)
        assert health.status_code == 503 and "locked by another program" in health.json()["error"], (
            health.text
        )
        server.wait_for_line("Storing problem", WAIT_S)
        assert "Not storing" not in server.output()
        release()

    # No restart: storing resumes by itself, and what was acknowledged is on disk.
    _until(lambda: server.post(event("after")).status_code == 200, "storing resumed")
    _until(lambda: _health(server).status_code == 200, "/healthz is fine again")
    for i in range(5):
        assert server.post(event(f"after-{i}")).status_code == 200
    assert server.stop(signal.SIGTERM) == 0
    assert {"before", "after", *(f"after-{i}" for i in range(5))} <= _stored_ids(db)
    assert not any(ident.startswith("while-locked") for ident in _stored_ids(db))


def test_a_writer_whose_start_met_a_lock_writes_once_it_goes(tmp_path: Path) -> None:
    """The guard's start failed before it saw the files (locked): the batch after the lock
    is written and answered, not a crash of the writer."""
    serve_db = tmp_path / "pilot-desktop.sqlite3"

    assert open_store(tmp_path) == serve_db
    # Opened, nothing read yet (the lock can come before the guard's first read).
    conn = sqlite3.connect(serve_db, isolation_level=None, timeout=0.2)
    guard = Guard(serve_db, conn)
    with _locked(serve_db):
        assert isinstance(guard.start(), StoreLocked)
    writer = BatchWriter(serve_db, conn, projections=True)
    results, _ = writer.write([incoming(store_event("after-the-lock"))])
    screened = guard.screen(results)
    assert guard.damage is None
    assert isinstance(screened[0], Stored), screened
    conn.close()
    assert "msg_after-the-lock" in _stored_ids(serve_db)


def test_a_new_kind_of_store_problem_is_logged_at_once(
    serve: Callable[..., Server], small_disk: Path
) -> None:
    """Locked, then (without a success between) full: the writer logs the second problem
    too, not as a repeat of the first."""
    server = serve(data_dir=small_disk / "data")
    assert server.post(event("before")).status_code == 200
    with _locked(server.db, _HOLD_LOCK):
        assert server.post(event("while-locked")).status_code == 503
        _until(lambda: "could not store a batch of 1" in server.stderr(), "the lock is logged")
        filler = _fill(small_disk)
    _until(lambda: "full" in server.post(event("while-full")).text, "the full disk is met")
    _until(
        lambda: any(
            "could not store a batch" in line and "full" in line for line in server.stderr().splitlines()
        ),
        "the full disk is logged by the writer",
    )
    filler.unlink()
    _until(lambda: server.post(event("after")).status_code == 200, "storing resumed")
    assert server.stop() == 0


def test_a_writer_process_replaced_while_the_store_is_locked_stores_again_once_it_goes(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    assert server.post(event("before")).status_code == 200
    [writer] = server.writer_pids()
    with _locked(server.db, _HOLD_LOCK):
        os.kill(writer, signal.SIGKILL)
        _until(lambda: gone(writer) and len(server.writer_pids()) == 1, "a new writer process started")
        _until(lambda: "locked by another program" in _health(server).text, "/healthz says the lock")
        began = time.monotonic()
        r = server.post(event("while-locked"))
        assert r.status_code == 503 and "locked by another program" in r.text, r.text
        assert time.monotonic() - began < 1.6
    _until(lambda: server.post(event("after")).status_code == 200, "storing resumed")
    assert "Not storing" not in server.output()
    assert server.stop(signal.SIGTERM) == 0
    assert {"before", "after"} <= _stored_ids(server.db)

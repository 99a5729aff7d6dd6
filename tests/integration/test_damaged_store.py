"""A damaged, replaced, read-only or locked store stops acknowledgements, says why, and is
never written to (store/integrity.py). Each test runs the real `pilot-desktop serve`."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilot_desktop.store.batches import BatchWriter
from pilot_desktop.store.db import connect
from pilot_desktop.store.errors import DatabaseCorrupt
from pilot_desktop.store.integrity import START_CHECK_MAX_BYTES
from pilot_desktop.store.records import Rejection
from tests.integration.serving import Server
from tests.integration.test_durability import event
from tests.unit.test_store import incoming

WAIT_S = 15.0


def _until(pred: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def _health(server: Server) -> httpx.Response:
    return httpx.get(f"{server.base}/healthz", timeout=10)


def _padded(ident: str) -> dict[str, Any]:
    body = event(ident)
    body["data"]["padding"] = "x" * 1500  # ~2 events a page: many pages, an interior root
    return body


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(db: Path) -> dict[str, str]:
    """The store's files and their contents' digests."""
    return {p.name: _digest(p) for p in sorted(db.parent.glob(db.name + "*"))}


def _store_with_history(serve: Callable[..., Server], n: int = 120) -> Path:
    server = serve()
    with httpx.Client(timeout=30) as client:
        for i in range(n):
            assert server.post(_padded(f"old-{i}"), client=client).status_code == 200
    assert server.stop() == 0
    return server.data_dir


def _leftmost_child(db: Path) -> int:
    """A page of the events table inserts never touch: the root's leftmost child."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    data = db.read_bytes()
    header = (root - 1) * page_size + (100 if root == 1 else 0)
    assert data[header] == 0x05, "the events table's root is not an interior page"
    first_cell = int.from_bytes(data[header + 12 : header + 14], "big")
    return int.from_bytes(data[(root - 1) * page_size + first_cell :][:4], "big")


def _assert_refuses(server: Server, words: str) -> None:
    """Not acknowledged, said in /healthz (without a path) and serve's output."""
    r = server.post(event("after-damage"))
    assert r.status_code == 503, r.text
    assert words in r.json()["error"], r.text
    assert r.headers.get("Retry-After")
    health = _health(server)
    assert health.status_code == 503, health.text
    assert words in health.json()["error"], health.text
    assert str(server.data_dir) not in health.text and "/" not in health.json()["error"], health.text
    server.wait_for_line("Not storing: ", WAIT_S)


def _page_of_history(db: Path) -> None:
    _garbage(db, _leftmost_child(db))  # a page in the middle of the history


def _page_of_an_index(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events_number'").fetchone()[0]
    finally:
        conn.close()
    _garbage(db, root)


def _truncated(db: Path) -> None:
    with db.open("r+b") as f:
        f.truncate(db.stat().st_size * 6 // 10 // 4096 * 4096)


def _garbage(db: Path, page: int) -> None:
    with db.open("r+b") as f:
        f.seek((page - 1) * 4096 + 8)
        f.write(os.urandom(4096 - 8))


@pytest.mark.parametrize(
    "damage",
    [_page_of_history, _page_of_an_index, _truncated],
    ids=["history-page", "index-page", "truncated"],
)
def test_damage_is_found_at_start_nothing_is_acknowledged_and_the_file_is_untouched(
    serve: Callable[..., Server], damage: Callable[[Path], None]
) -> None:
    data_dir = _store_with_history(serve)
    db = data_dir / "pilot-desktop.sqlite3"
    damage(db)
    before = _files(db)

    server = serve(data_dir=data_dir)
    _assert_refuses(server, "the database is damaged")
    line = server.wait_for_line("Not storing: ", WAIT_S)
    assert "damaged" in line and str(db) in line  # the operator's output names the file
    assert server.stop() == 0
    # No checkpoint, no recovery write, no -wal/-shm removed. Reading it may leave an empty
    # -wal (no frames: SQLite ignores it) and a -shm (the index of an empty WAL) beside it.
    after = _files(db)
    assert {name: after[name] for name in before} == before
    assert set(after) - set(before) <= {f"{db.name}-wal", f"{db.name}-shm"}
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def _remove_wal(db: Path) -> None:
    Path(f"{db}-wal").unlink()


def _remove_shm(db: Path) -> None:
    Path(f"{db}-shm").unlink()


def _replace_db(db: Path) -> None:
    copy = db.with_name("copy.sqlite3")
    shutil.copyfile(db, copy)
    os.replace(copy, db)


@pytest.mark.parametrize("change", [_remove_wal, _remove_shm, _replace_db], ids=["wal", "shm", "db"])
def test_a_store_file_removed_or_replaced_under_the_receiver_stops_acknowledgements(
    serve: Callable[..., Server], change: Callable[[Path], None]
) -> None:
    server = serve()
    assert server.post(event("before")).status_code == 200
    change(server.db)
    # The first event after it may not be acknowledged: what is committed then is not
    # where a restart reads.
    _assert_refuses(server, "removed or replaced")
    assert server.stop() == 0


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """`path` cannot be written, even by root (a read-only bind mount of the file)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)  # -l: even if serve still runs


def test_a_store_that_cannot_be_written_is_reported_at_start(serve: Callable[..., Server]) -> None:
    data_dir = _store_with_history(serve, n=3)
    db = data_dir / "pilot-desktop.sqlite3"
    with _read_only(db):
        server = serve(data_dir=data_dir)
        # Said before any webhook comes (not only by 503s to each one).
        _until(lambda: _health(server).status_code == 503, "/healthz reports it")
        _assert_refuses(server, "cannot be written")
        assert server.stop() == 0


_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def test_a_store_locked_by_another_program_is_answered_503_within_about_a_second(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    assert server.post(event("before")).status_code == 200
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(server.db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        for n in range(3):  # the first, and the ones after it
            began = time.monotonic()
            r = server.post(event(f"while-locked-{n}"))
            took = time.monotonic() - began
            assert r.status_code == 503, r.text
            assert took < 1.6, f"answered after {took:.1f} s"
            assert "locked by another program" in r.json()["error"]
        assert "locked by another program" in _health(server).json()["error"]
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
    _until(lambda: server.post(event("after")).status_code == 200, "storing resumed")
    server.wait_for_line("Storing again.", WAIT_S)
    assert server.stop(signal.SIGTERM) == 0


# -- a full disk: said once, not per refused request ---------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB file system (tmpfs; mounting needs root, which the test machines are)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


def test_a_full_disk_is_logged_once_not_per_refused_request(
    serve: Callable[..., Server], small_disk: Path
) -> None:
    server = serve(data_dir=small_disk / "data")
    assert server.post(event("before")).status_code == 200
    filler = _fill(small_disk)
    statuses = []
    with httpx.Client(timeout=30) as client:
        for n in range(300):
            statuses.append(server.post(event(f"full-{n}"), client=client).status_code)
    assert set(statuses) <= {200, 503} and statuses.count(503) > 250, statuses
    err = server.stderr()
    assert "Traceback" not in err and "Logging error" not in err, err[:3000]
    assert err.count("event not stored, answered 503") <= 2, err[:3000]
    assert len(err) < 10_000, f"{len(err)} bytes of stderr:\n{err[:3000]}"
    line = server.wait_for_line("Storing problem", WAIT_S)
    assert "disk is full" in line or "database or disk is full" in line, line

    filler.unlink()
    _until(lambda: server.post(event("after")).status_code == 200, "storing resumed")
    server.wait_for_line("Storing again.", WAIT_S)
    _until(lambda: "storing works again" in server.stderr() or _logged(server, "storing works again"), "said")
    assert server.stop() == 0


def _logged(server: Server, words: str) -> bool:
    log = server.data_dir / "logs" / "pilot-desktop.log"
    return log.exists() and words in log.read_text(encoding="utf-8", errors="replace")


def test_damage_in_a_store_too_big_to_check_at_start_is_found_in_the_background(
    serve: Callable[..., Server],
) -> None:
    data_dir = _store_with_history(serve, n=3)
    db = data_dir / "pilot-desktop.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    _copies(conn, START_CHECK_MAX_BYTES // 1500 + 2000)  # copies of a stored event, past the size
    conn.close()  # the last connection: checkpointed, the WAL removed
    assert db.stat().st_size > START_CHECK_MAX_BYTES
    _page_of_history(db)

    server = serve(data_dir=data_dir)
    _until(lambda: _health(server).status_code == 503, "the background check found the damage")
    _assert_refuses(server, "the database is damaged")
    assert server.stop() == 0


def _copies(conn: sqlite3.Connection, n: int) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO events (dedupe_key, received_at, last_received_at, event, event_group, summary, "
        "classification, signature, headers, body) "
        "SELECT ?, received_at, last_received_at, event, event_group, summary, "
        "classification, signature, headers, randomblob(1500) FROM events WHERE id = 1",
        [(f"copy-{i}",) for i in range(n)],
    )
    conn.execute("COMMIT")


# -- corruption met in the middle of a batch -------------------------------------------------


def _rejection() -> Rejection:
    return Rejection(
        received_at=time.time(), status=401, reason="no token", method="POST", path="/hooks/x",
        remote="127.0.0.1", headers=[], body=b"{}", body_size=2,
    )  # fmt: skip


def test_corruption_met_mid_batch_fails_the_batch_and_writes_nothing_more(
    serve: Callable[..., Server],
) -> None:
    """A batch whose one event meets a damaged page (a redelivery of the first stored event)
    fails as a whole: no item is retried on its own, where the others (a rejection, a new
    event) would commit into the damaged file before the guard reads the answers."""
    data_dir = _store_with_history(serve)
    db = data_dir / "pilot-desktop.sqlite3"
    _page_of_history(db)
    writer = BatchWriter(db, connect(db, durable=True))
    before = _files(db)
    try:
        items = [_rejection(), incoming(event("new-after-damage")), incoming(_padded("old-0"))]
        results, changes = writer.write(items)
        after = _files(db)
    finally:
        writer.conn.close()  # closing may checkpoint; the files were compared before it
    assert [type(r) for r in results] == [DatabaseCorrupt] * 3, results
    assert "damaged" in str(results[0]) and writer.last_error == str(results[0])
    assert (changes.new_events, changes.rejections) == ([], 0)
    assert after == before

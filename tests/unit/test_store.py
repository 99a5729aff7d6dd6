"""The SQLite store, the single writer and the settings file: what a user relies on.

Acknowledged means committed; a database or settings file that is not ours, too new or
damaged is refused with a sentence and left byte for byte as it was.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.core.events import classify
from pilot_desktop.core.signature import verify
from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.settings import SETTINGS_VERSION
from pilot_desktop.store import batches as batches_module
from pilot_desktop.store.batches import BatchWriter
from pilot_desktop.store.db import (
    DB_NAME,
    SCHEMA_VERSION,
    DatabaseCorrupt,
    DatabaseTooNew,
    StoreError,
    connect,
    open_store,
)
from pilot_desktop.store.records import Changes, IncomingEvent, Rejection, Stored
from pilot_desktop.store.schema import APPLICATION_ID
from pilot_desktop.store.writer import Overloaded, Writer, WriterClosed

BIN = Path(sys.executable).parent / "pilot-desktop"

# -- helpers -------------------------------------------------------------------------------


def incoming(obj: dict[str, Any]) -> IncomingEvent:
    body = json.dumps(obj).encode()
    return IncomingEvent(
        received_at=time.time(),
        route=None,
        headers=[("Content-Type", "application/json")],
        body=body,
        classified=classify(obj),
        verdict=verify(body, None, []),
    )


def event(n: int | str) -> dict[str, Any]:
    return {
        "event": "message.received",
        "data": {
            "numberId": "num_1",
            "id": f"msg_{n}",
            "messageId": f"wamid.{n}",
            "type": "text",
            "fromMe": False,
            "createdAt": "2025-06-01T10:00:00.000Z",
            "from": "+5511900000000",
            "to": "+5511911111111",
            "content": f"hello {n}",
        },
    }


def rejection(n: int) -> Rejection:
    return Rejection(
        received_at=time.time(),
        status=400,
        reason=f"bad body {n}",
        method="POST",
        path="/hooks/x",
        remote="127.0.0.1",
        headers=[("Content-Type", "text/plain")],
        body=b"nope",
        body_size=4,
    )


def ro(path: Path) -> sqlite3.Connection:
    """A second, read-only connection: sees only what was committed."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def scalar(path: Path, sql: str, *params: Any) -> Any:
    conn = ro(path)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return open_store(tmp_path / "store")


@pytest.fixture
async def writer(db: Path) -> AsyncIterator[Writer]:
    w = Writer(db, asyncio.get_running_loop())
    w.start()
    yield w
    await w.stop()


class Lock:
    """Hold SQLite's write lock from another connection: the writer blocks in BEGIN."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


# -- open_store ----------------------------------------------------------------------------


def test_open_store_creates_the_schema_in_wal_mode(tmp_path: Path) -> None:
    path = open_store(tmp_path / "new" / "dir")
    assert path == tmp_path / "new" / "dir" / DB_NAME
    conn = ro(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert {"events", "rejections", "numbers_seen"} <= tables


async def test_reopening_keeps_the_data(db: Path) -> None:
    w = Writer(db, asyncio.get_running_loop())
    w.start()
    await w.submit(incoming(event(1)))
    await w.stop()
    assert open_store(db.parent) == db  # idempotent: no migration, no error
    assert scalar(db, "SELECT count(*) FROM events") == 1
    assert scalar(db, "PRAGMA user_version") == SCHEMA_VERSION


def _too_new(folder: Path) -> None:
    path = open_store(folder)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


def _garbage_text(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / DB_NAME).write_bytes(b"this is not a database, it is a shopping list\n" * 100)


def _garbage_random(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / DB_NAME).write_bytes(random.Random(7).randbytes(8192))


def _garbage_after_header(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / DB_NAME).write_bytes(b"SQLite format 3\x00" + b"\xff" * 4080)


def _foreign(user_version: int, application_id: int = 0) -> Any:
    def make(folder: Path) -> None:
        folder.mkdir(parents=True)
        conn = sqlite3.connect(folder / DB_NAME)
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('keep me')")
        conn.execute(f"PRAGMA user_version = {user_version}")
        conn.execute(f"PRAGMA application_id = {application_id}")
        conn.commit()
        conn.close()

    return make


BAD_DATABASES = [
    pytest.param(_too_new, DatabaseTooNew, "newer", id="too-new"),
    pytest.param(_garbage_text, DatabaseCorrupt, "damaged", id="garbage-text"),
    pytest.param(_garbage_random, DatabaseCorrupt, "damaged", id="garbage-bytes"),
    pytest.param(_garbage_after_header, DatabaseCorrupt, "damaged", id="garbage-after-header"),
    pytest.param(_foreign(0), DatabaseCorrupt, "another program", id="foreign"),
    # A foreign file whose own user_version happens to equal or pass ours.
    pytest.param(_foreign(SCHEMA_VERSION), DatabaseCorrupt, "another program", id="foreign-v-ours"),
    pytest.param(_foreign(42), DatabaseCorrupt, "another program", id="foreign-v42"),
    pytest.param(_foreign(0, 0x12345678), DatabaseCorrupt, "another program", id="foreign-app-id"),
]


@pytest.mark.parametrize(("make", "error", "words"), BAD_DATABASES)
def test_a_database_we_cannot_use_is_refused_and_left_untouched(
    tmp_path: Path, make: Any, error: type[StoreError], words: str
) -> None:
    folder = tmp_path / "data"
    make(folder)
    before = snapshot(folder)
    with pytest.raises(error) as info:
        open_store(folder)
    message = str(info.value)
    assert str(folder / DB_NAME) in message
    assert words in message
    assert "untouched" in message
    assert snapshot(folder) == before


@pytest.mark.parametrize(("make", "error", "words"), BAD_DATABASES[:2] + BAD_DATABASES[4:5])
@pytest.mark.parametrize("command", ["serve", "export"])
def test_cli_on_an_unusable_database_exits_1_with_the_message(
    tmp_path: Path, make: Any, error: type[StoreError], words: str, command: str
) -> None:
    folder = tmp_path / "data"
    make(folder)
    before = snapshot(folder)
    args = ["--port", "0"] if command == "serve" else []
    res = subprocess.run(
        [str(BIN), command, "--data-dir", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("pilot-desktop: "), res.stderr
    assert words in res.stderr
    assert "Listening:" not in res.stdout
    after = snapshot(folder)
    # serve creates its settings, its state and their lock next to the database
    for name in ("settings.json", "state.json", "config.lock"):
        after.pop(name, None)
    # A read-only SQLite connection to a WAL database leaves an empty -wal and a -shm
    # behind (it may not delete them); the database itself must be byte-identical.
    assert after.pop(f"{DB_NAME}-wal", b"") == b""
    after.pop(f"{DB_NAME}-shm", None)
    assert after == before


# -- the writer ----------------------------------------------------------------------------


async def test_acknowledgement_comes_after_commit(db: Path, writer: Writer) -> None:
    visible_at_ack: dict[int, bool] = {}
    visible_at_change: list[bool] = []

    def on_ack(fut: asyncio.Future[Stored | None]) -> None:
        stored = fut.result()
        assert stored is not None
        n = scalar(db, "SELECT count(*) FROM events WHERE id = ?", stored.id)
        visible_at_ack[stored.id] = n == 1

    def on_change(changes: Changes) -> None:
        for row in changes.new_events:
            visible_at_change.append(scalar(db, "SELECT count(*) FROM events WHERE id = ?", row.id) == 1)

    writer.subscribe(on_change)
    futures = [writer.submit(incoming(event(n))) for n in range(50)]
    for fut in futures:
        fut.add_done_callback(on_ack)
    results = await asyncio.gather(*futures)
    assert len({r.id for r in results if r}) == 50
    assert visible_at_ack
    assert all(visible_at_ack.values()), "a future resolved before its row was committed"
    assert len(visible_at_change) == 50
    assert all(visible_at_change)


async def test_duplicates_bump_deliveries(db: Path, writer: Writer) -> None:
    item = incoming(event("dup"))
    # Two in the same batch, one in a later one.
    first, second = await asyncio.gather(writer.submit(item), writer.submit(item))
    third = await writer.submit(incoming(event("dup")))
    assert first is not None
    assert second is not None
    assert third is not None
    assert first.id == second.id == third.id
    assert sorted([first.deliveries, second.deliveries]) == [1, 2]
    assert third.deliveries == 3
    assert third.duplicate
    assert scalar(db, "SELECT count(*) FROM events") == 1
    assert scalar(db, "SELECT deliveries FROM events") == 3
    assert scalar(db, "SELECT last_received_at >= received_at FROM events") == 1


async def test_a_burst_larger_than_one_statement_keeps_arrival_order(db: Path) -> None:
    # 300 deliveries, 200 distinct events: some batches span several INSERT chunks, and
    # redeliveries of an event land in the same batch as it or in a later one.
    w = Writer(db, asyncio.get_running_loop(), max_batch=256)
    w.start()
    try:
        order = list(range(200)) + list(range(0, 200, 2))
        order.sort(key=lambda n: (n // 10, n))  # each redelivery near its original
        results = await asyncio.gather(*(w.submit(incoming(event(n))) for n in order))
    finally:
        await w.stop()
    first: dict[int, Any] = {}
    for n, stored in zip(order, results, strict=True):
        assert stored is not None
        if n in first:
            assert stored.id == first[n].id and stored.deliveries == 2
        else:
            first[n] = stored
            assert stored.deliveries == 1
    arrival = list(first)  # each event at its first delivery
    assert [first[n].id for n in arrival] == list(range(1, 201)), "ids follow arrival, no gaps"
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT deliveries, body FROM events ORDER BY id").fetchall()
    conn.close()
    assert [json.loads(body)["data"]["id"] for _, body in rows] == [f"msg_{n}" for n in arrival]
    assert [deliveries for deliveries, _ in rows] == [2 if n % 2 == 0 else 1 for n in arrival]


async def test_a_full_queue_is_refused_and_nothing_accepted_is_lost(db: Path) -> None:
    max_queue, max_batch = 4, 8
    w = Writer(db, asyncio.get_running_loop(), max_queue=max_queue, max_batch=max_batch)
    w.start()
    lock = Lock(db)
    accepted: list[asyncio.Future[Stored | None]] = []
    try:
        # At most 2 x max_batch items are in flight to the writer process while it blocks
        # on the lock; after that nothing leaves the queue, so Overloaded must come within
        # this many submits.
        with pytest.raises(Overloaded, match="queue full"):
            for n in range(max_queue + 2 * max_batch + 1):
                accepted.append(w.submit(incoming(event(n))))
        assert w.queue_size == max_queue
    finally:
        lock.release()
    results = await asyncio.gather(*accepted)
    assert all(isinstance(r, Stored) for r in results)
    assert scalar(db, "SELECT count(*) FROM events") == len(accepted)
    # Once drained it takes work again.
    assert await w.submit(incoming(event("later"))) is not None
    await w.stop()


async def test_stop_drains_everything_queued(db: Path) -> None:
    w = Writer(db, asyncio.get_running_loop())
    w.start()
    lock = Lock(db)
    futures = [w.submit(incoming(event(n))) for n in range(300)]
    futures += [w.submit(rejection(n)) for n in range(20)]
    stopping = asyncio.ensure_future(w.stop())
    await asyncio.sleep(0)  # let stop() flip the writer to draining
    with pytest.raises(WriterClosed):
        w.submit(incoming(event("too late")))
    assert not any(f.done() for f in futures)  # still blocked: nothing was written yet
    lock.release()
    await stopping
    assert all(f.done() and f.exception() is None for f in futures)
    assert scalar(db, "SELECT count(*) FROM events") == 300
    assert scalar(db, "SELECT count(*) FROM rejections") == 20
    await w.stop()  # idempotent


async def test_change_descriptors_list_new_rows_and_redeliveries(writer: Writer) -> None:
    seen: list[Changes] = []
    writer.subscribe(seen.append)
    a, b = await asyncio.gather(writer.submit(incoming(event("a"))), writer.submit(incoming(event("b"))))
    again = await writer.submit(incoming(event("a")))
    await writer.submit(rejection(1))
    assert a is not None
    assert b is not None
    assert again is not None
    new = [row for c in seen for row in c.new_events]
    assert sorted(row.id for row in new) == sorted([a.id, b.id])
    assert {row.event for row in new} == {"message.received"}
    assert {row.classification for row in new} == {"valid"}
    assert {row.number_id for row in new} == {"num_1"}
    redelivered: dict[int, int] = {}
    for c in seen:
        redelivered.update(c.redelivered)
    assert redelivered == {a.id: 2}
    assert sum(c.rejections for c in seen) == 1
    assert all(seen), "an empty change descriptor was published"


async def test_rejections_are_trimmed_to_the_bound(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = 20
    monkeypatch.setattr(batches_module, "REJECTIONS_KEPT", kept)  # reaches a thread, not a child
    writer = Writer(db, asyncio.get_running_loop(), process=False)
    writer.start()
    total = 1200
    for start in range(0, total, 300):
        await asyncio.gather(*(writer.submit(rejection(n)) for n in range(start, start + 300)))
    await writer.stop()
    count = scalar(db, "SELECT count(*) FROM rejections")
    # The writer trims every 500 rejections, so the table holds the bound plus at most 499.
    assert kept <= count < kept + 500
    # ...and what it keeps is the newest, without gaps.
    assert scalar(db, "SELECT max(id) FROM rejections") == total
    assert scalar(db, "SELECT min(id) FROM rejections") == total - count + 1
    assert scalar(db, "SELECT reason FROM rejections ORDER BY id DESC LIMIT 1") == "bad body 1199"


def test_a_broken_item_fails_alone_and_the_rest_of_its_batch_is_reported(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One item that breaks the batch's transaction (a bug, not the environment): the batch
    # is retried one by one, and what the others changed still reaches the views and the
    # notifier, number transitions included.
    connected = {
        "event": "number.connected",
        "data": {"numberId": "num_9", "createdAt": "2025-06-01T10:00:00.000Z"},
    }
    broken = incoming(event("broken"))
    real = batches_module._event_values

    def values(ident: int, item: IncomingEvent) -> tuple[object, ...]:
        if item is broken:
            raise ValueError("a bug in building this row")
        return real(ident, item)

    monkeypatch.setattr(batches_module, "_event_values", values)
    writer = BatchWriter(db, connect(db, durable=True))
    try:
        results, changes = writer.write([incoming(connected), broken, incoming(event(1))])
    finally:
        writer.conn.close()
    assert isinstance(results[0], Stored) and isinstance(results[2], Stored)
    assert isinstance(results[1], StoreError) and "internal error" in str(results[1])
    assert [row.event for row in changes.new_events] == ["number.connected", "message.received"]
    assert changes.numbers == {"num_9"}
    assert [(t.number_id, t.after) for t in changes.transitions] == [("num_9", "OPEN")]
    assert scalar(db, "SELECT count(*) FROM events") == 2


# -- settings ------------------------------------------------------------------------------


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.json"


def load(settings_file: Path) -> Config:
    """Open the settings (and state) in the settings file's folder, as the app does."""
    return Config.open(resolve(settings_file.parent))


@pytest.mark.parametrize("port", [70000, -1, "eighty", 1.5, None])
def test_a_bad_port_names_the_field(settings_file: Path, port: Any) -> None:
    settings_file.write_text(json.dumps({"version": 1, "receiver": {"port": port}}))
    before = settings_file.read_bytes()
    with pytest.raises(SettingsError) as info:
        load(settings_file)
    assert "receiver.port" in str(info.value)
    assert str(settings_file) in str(info.value)
    assert settings_file.read_bytes() == before
    assert not (settings_file.parent / "state.json").exists()  # not split either


def test_an_unknown_key_names_the_field(settings_file: Path) -> None:
    settings_file.write_text(json.dumps({"receiver": {"prot": 8080}}))
    with pytest.raises(SettingsError, match=r"receiver\.prot"):
        load(settings_file)


def test_invalid_json_gives_line_and_column(settings_file: Path) -> None:
    text = '{\n  "receiver": {\n    "port": 8080,\n  }\n}\n'  # trailing comma: line 4, col 3
    settings_file.write_text(text)
    with pytest.raises(SettingsError) as info:
        load(settings_file)
    assert "line 4, column 3" in str(info.value)
    assert settings_file.read_text() == text


def test_settings_from_a_newer_version_are_refused_untouched(settings_file: Path) -> None:
    settings_file.write_text(json.dumps({"version": SETTINGS_VERSION + 1, "future": {"x": 1}}))
    before = settings_file.read_bytes()
    with pytest.raises(SettingsError, match="newer"):
        load(settings_file)
    assert settings_file.read_bytes() == before


def test_missing_settings_are_created_private_and_stable(settings_file: Path) -> None:
    state_file = settings_file.parent / "state.json"
    first = load(settings_file)
    assert settings_file.exists() and state_file.exists()
    assert settings_file.stat().st_mode & 0o777 == 0o600
    assert state_file.stat().st_mode & 0o777 == 0o600  # the token is in there
    again = load(settings_file)
    assert again.state.value.token == first.state.value.token  # the hook URL survives restarts
    assert json.loads(state_file.read_text())["token"] == first.state.value.token
    assert again.settings.value == first.settings.value
    assert again.state.value == first.state.value


def test_save_then_load_round_trips(settings_file: Path) -> None:
    config = load(settings_file)
    saved = config.settings.update({"receiver.port": 9999})
    assert saved.receiver.port == 9999 and config.settings.value == saved
    assert load(settings_file).settings.value == saved
    assert not list(settings_file.parent.glob("*.tmp"))


def test_serve_with_bad_settings_exits_1_naming_the_field(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps({"receiver": {"port": 70000}}))
    res = subprocess.run(
        [str(BIN), "serve", "--data-dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ},
    )
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "receiver.port" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (folder / DB_NAME).exists()


def test_credentials_in_request_headers_are_never_stored() -> None:
    from pilot_desktop.store.records import REDACTED, headers_json

    sent = [("X-Api-Key", "ps_live_abc"), ("Authorization", "Bearer t"), ("x-pilot-status-signature", "ab")]
    stored = json.loads(headers_json(sent))
    signature = ["x-pilot-status-signature", "ab"]
    assert stored == [["X-Api-Key", REDACTED], ["Authorization", REDACTED], signature]

"""A store written by the previous version (schema 3) is upgraded in place: its refusals and
number states are kept, the new columns start empty, and no gap is invented for it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pilot_desktop.store.db import DB_NAME, SCHEMA_VERSION, open_store
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.schema import APPLICATION_ID, MIGRATIONS


def _schema3_store(folder: Path) -> Path:
    folder.mkdir()
    path = folder / DB_NAME
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for migration in MIGRATIONS[:3]:
            for statement in migration:
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 3")
        conn.execute(
            "INSERT INTO rejections (received_at, status, reason, method, path, remote, headers, body, "
            "body_size)"
            " VALUES (1.0, 401, 'bad signature', 'POST', '/hooks/t/num_1', '127.0.0.1', '[]', x'7b7d', 2)"
        )
        conn.execute(
            "INSERT INTO number_state (number_id, connection, connection_rank, health, health_rank, "
            "updated_at)"
            " VALUES ('num_1', 'OPEN', 1, 'healthy', 0, 1.0)"
        )
    finally:
        conn.close()
    return path


def test_a_schema_3_store_is_upgraded_keeping_its_refusals_and_numbers(tmp_path: Path) -> None:
    path = _schema3_store(tmp_path / "old")
    assert open_store(path.parent) == path
    reads = Reads(path)
    try:
        assert reads.run(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION
        [row] = reads.rejections(since=0)
        assert (row.status, row.reason, row.route, row.number_id, row.delivery, row.diagnosis) == (
            401,
            "bad signature",
            None,
            None,
            True,  # a POST to a hook URL: a delivery, shown in the default lists
            None,
        )
        assert reads.gaps() == [] and reads.heartbeat() is None  # nothing invented for the old store
        [summary] = reads.number_summaries(now=2.0)
        assert summary.number_id == "num_1" and summary.quality_rating is None and summary.sendable is None
    finally:
        reads.close()


def test_live_places_marks_through_the_webhook_events_index(tmp_path: Path) -> None:
    """Steps read back from the API arrive late; placing refusals and gaps among the events
    must not walk past them one by one (20,000 of them took 22 s before this index)."""
    from pilot_desktop.store import live_queries

    path = open_store(tmp_path)
    reads = Reads(path)
    try:
        sql = "EXPLAIN QUERY PLAN SELECT " + live_queries._ANCHOR.format(t="?")
        plan = " ".join(str(r[-1]) for r in reads.run(lambda c: c.execute(sql, (1.0,)).fetchall()))
        assert "events_received_webhooks" in plan, plan
    finally:
        reads.close()

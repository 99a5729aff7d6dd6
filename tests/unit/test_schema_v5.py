"""Schema 5 (issue 16): a store of the previous version is upgraded in place keeping what it
held, and the watch records behave as the services rely on: one open drift finding per key
(re-reporting answers the open one), a resolved finding can be found again, one tunnel row,
probes and the URL history newest first."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from pilot_desktop.store.db import DB_NAME, SCHEMA_VERSION, open_store
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.schema import APPLICATION_ID, MIGRATIONS
from pilot_desktop.store.watch_records import DriftMark, ProbeMark, TunnelMark, UrlMark
from pilot_desktop.store.writer import Writer


def _schema4_store(folder: Path) -> Path:
    folder.mkdir()
    path = folder / DB_NAME
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for migration in MIGRATIONS[:4]:
            for statement in migration:
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 4")
        conn.execute(
            "INSERT INTO gaps (kind, started_at, ended_at, reason) VALUES ('not_running', 1, 2, 'x')"
        )
    finally:
        conn.close()
    return path


def test_a_schema_4_store_is_upgraded_keeping_its_gaps(tmp_path: Path) -> None:
    path = _schema4_store(tmp_path / "old")
    assert open_store(path.parent) == path
    reads = Reads(path)
    try:
        assert reads.run(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION == 5
        assert [g.reason for g in reads.gaps()] == ["x"]
        assert reads.probes() == [] and reads.tunnel() is None
        assert reads.url_history() == [] and reads.drift() == []
    finally:
        reads.close()


def paused(at: float) -> DriftMark:
    return DriftMark(found_at=at, kind="paused", key="paused:wh_1", sentence="s")


def test_watch_records_round_trip_through_the_writer(tmp_path: Path) -> None:
    async def run() -> None:
        path = open_store(tmp_path)
        writer = Writer(path, asyncio.get_running_loop())
        writer.start()
        reads = Reads(path, writer)
        try:
            await writer.submit(ProbeMark(10.0, "https://a.example", False, None, "refused", "No."))
            await writer.submit(ProbeMark(20.0, "https://a.example", True, 42.0, "ok", "Yes.", 200))
            newest_first = [(p.at, p.ok, p.latency_ms) for p in reads.probes()]
            assert newest_first == [(20.0, True, 42.0), (10.0, False, None)]

            await writer.submit(TunnelMark(1.0, "command", None, "starting", output=("a",)))
            up = TunnelMark(2.0, "command", "https://b.example", "up", pid=7, output=("a", "b"))
            await writer.submit(up)
            row = reads.tunnel()
            assert row is not None and (row.state, row.public_url, row.pid, row.output) == (
                "up",
                "https://b.example",
                7,
                ["a", "b"],
            )

            await writer.submit(UrlMark(1.0, "seen", "https://a.example", "command"))
            await writer.submit(
                UrlMark(2.0, "registered", "https://b.example", "auto", "wh_1", "n1", "https://a")
            )
            assert [u.kind for u in reads.url_history()] == ["registered", "seen"]

            first = await writer.submit(paused(5.0))
            again = await writer.submit(paused(6.0))
            assert first == again  # the open finding, not a second one
            await writer.submit(DriftMark(finding_id=first, resolved_at=7.0))  # type: ignore[arg-type]
            assert reads.drift(open_only=True) == []
            later = await writer.submit(paused(8.0))
            assert later != first and [d.id for d in reads.drift(open_only=True)] == [later]
            assert len(reads.drift()) == 2
        finally:
            reads.close()
            await writer.stop()

    asyncio.run(run())

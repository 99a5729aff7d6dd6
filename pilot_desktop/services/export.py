"""Export every stored event as NDJSON (one JSON object a line) or CSV."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any, TextIO

from pilot_desktop.core.format import iso
from pilot_desktop.store.db import DB_NAME, StoreError, check_identity, classify_error, connect
from pilot_desktop.store.queries import iter_events
from pilot_desktop.store.records import EventDetail

CSV_COLUMNS = (
    "id",
    "receivedAt",
    "event",
    "group",
    "numberId",
    "from",
    "to",
    "summary",
    "signature",
    "deliveries",
    "classification",
    "schemaIssues",
    "payload",
)


def record(e: EventDetail) -> dict[str, Any]:
    r = e.row
    return {
        "id": r.id,
        "receivedAt": iso(r.received_at),
        "lastReceivedAt": iso(e.last_received_at),
        "event": r.event,
        "group": r.group,
        "numberId": r.number_id,
        "classification": r.classification,
        "schemaIssues": e.schema_issues,
        "signature": r.signature,
        "signatureSecret": e.signature_secret,
        "deliveries": r.deliveries,
        "route": e.route,
        "headers": dict(e.headers),
        "payload": e.payload(),
    }


def _dumps(obj: Any) -> str:
    try:
        text = json.dumps(obj, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in the payload: escape it
        text = json.dumps(obj)
    return text


def open_for_export(data_dir: Path) -> sqlite3.Connection:
    """Read-only: refuses a missing, foreign or too-new database; never upgrades one."""
    path = data_dir / DB_NAME
    if not path.exists():
        raise StoreError(f"No database in {data_dir}: nothing has been received there yet.")
    conn = connect(path, readonly=True)
    try:
        check_identity(path, conn)
    except BaseException:
        conn.close()
        raise
    return conn


def write_events(conn: sqlite3.Connection, out: TextIO, fmt: str) -> int:
    path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
    writer = csv.writer(out) if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_COLUMNS)
    count = 0
    try:
        for e in iter_events(conn):
            rec = record(e)
            if writer:
                writer.writerow([
                    rec["id"], rec["receivedAt"], rec["event"], rec["group"], rec["numberId"],
                    e.row.from_addr, e.row.to_addr, e.row.summary, rec["signature"],
                    rec["deliveries"], rec["classification"], _dumps(rec["schemaIssues"]),
                    e.body.decode("utf-8", "replace"),
                ])  # fmt: skip
            else:
                out.write(_dumps(rec) + "\n")
            count += 1
    except sqlite3.DatabaseError as exc:  # a damaged page part way through
        raise classify_error(path, exc) from exc
    return count

"""Export every stored event as NDJSON (one JSON object a line) or CSV.

The files are data for other programs (core/interchange.py): NDJSON is strict JSON on every
line; CSV quotes every cell (a spreadsheet guessing `;` or tab as the separator cannot split
one into a formula) and neutralises cells that start like a formula with a leading `'`; the
payload column is the body as text in its own encoding (UTF-8, -16 or -32).
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any, TextIO

from pilot_desktop.core.format import iso
from pilot_desktop.core.interchange import body_text, csv_cell, json_text
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
    writer = None
    if fmt == "csv":
        # On a terminal, "\n" alone: the sanitised stream would show a "\r" as "\x0d".
        ending = "\n" if out.isatty() else "\r\n"
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=ending)
        writer.writerow(CSV_COLUMNS)
    count = 0
    try:
        for e in iter_events(conn):
            rec = record(e)
            if writer:
                writer.writerow([csv_cell(cell) for cell in (
                    rec["id"], rec["receivedAt"], rec["event"], rec["group"], rec["numberId"],
                    e.row.from_addr, e.row.to_addr, e.row.summary, rec["signature"],
                    rec["deliveries"], rec["classification"], json_text(rec["schemaIssues"]),
                    body_text(e.body),
                )])  # fmt: skip
            else:
                out.write(json_text(rec) + "\n")
            count += 1
    except sqlite3.DatabaseError as exc:  # a damaged page part way through
        raise classify_error(path, exc) from exc
    return count

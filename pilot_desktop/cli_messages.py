"""`pilot-desktop timeline|messages|rebuild`: the message lifecycle projection from scripts.

`timeline` and `messages` open the database read-only: they never create, upgrade or lock
it, so they are safe beside a running `serve` or window. `rebuild` recomputes the
projections (`messages`, `message_steps`, and the number state) from the raw events in one
write transaction (`BEGIN IMMEDIATE`): a running receiver's writer waits for it (its busy
timeout, 5 s) and past that answers 503, which the platform retries; while the receiver
holds the lock, `rebuild` waits up to `--wait` seconds, then gives up with a message.
Either way nothing acknowledged is lost and no half-rebuilt projection is ever visible.

Output: `timeline --json` prints one JSON document (`message_queries.timeline_json`);
`messages --json` prints NDJSON, one message per line, newest first (streamable into `jq`
or a file, like `export`). Messages and notes go to stderr.
Exit codes: 0 done, 1 failed (no database, nothing found, database busy), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pilot_desktop.core.lifecycle import STATUSES, parse_time
from pilot_desktop.services.export import iso, open_for_export
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.store.db import (
    DB_NAME,
    SCHEMA_VERSION,
    check_identity,
    classify_error,
    connect,
    open_store,
)
from pilot_desktop.store.message_queries import (
    MessageFilter,
    MessageRow,
    StuckRules,
    Timeline,
    count_messages,
    messages_page,
    resolve,
    timeline,
    timeline_json,
)
from pilot_desktop.store.number_projection import rebuild_numbers
from pilot_desktop.store.projection import rebuild

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
COMMANDS = frozenset({"timeline", "messages", "rebuild"})
MAX_LIMIT = 1_000_000
PAGE = 1000  # rows per keyset page when listing
COUNT_CAP = 100_000
REBUILD_WAIT_S = 30.0
SEARCHED = (
    "internal ids, correlationIds, provider messageIds, quoted ids, event numbers (#ID) and contact phones"
)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class CliError(Exception):
    """A failure with a message for the operator and an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# -- argument types ------------------------------------------------------------------------
def status_arg(text: str) -> frozenset[str]:
    """`--status read` or `--status failed,queued`: case-insensitive, checked against the
    projection's statuses (argparse turns the error into exit 2 with the choices)."""
    wanted = {s.strip().upper() for s in text.split(",") if s.strip()}
    unknown = sorted(wanted - set(STATUSES))
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown status {', '.join(unknown) or repr(text)}: choose from {', '.join(STATUSES)} "
            "(case-insensitive; several separated by commas)"
        )
    return frozenset(wanted)


def since_arg(text: str, now: float | None = None) -> float:
    """`90m`, `24h`, `7d`, `2w` (back from now) or an ISO 8601 time (UTC unless it says)."""
    stripped = text.strip()
    if (match := _DURATION.fullmatch(stripped)) is not None:
        amount, unit = match.groups()
        return (time.time() if now is None else now) - float(amount) * _UNIT_S[unit.lower()]
    at = parse_time(stripped)
    if at is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (30m, 24h, 7d, 2w) nor an ISO time (2025-06-02T12:00:00Z)"
        )
    return at


def limit_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_LIMIT:,}, got {text!r}")
    return value


def wait_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be 0-3600 seconds, got {text!r}")
    return value


# -- parsers -------------------------------------------------------------------------------
def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the commands on the top-level subparsers (`common` carries --data-dir)."""
    tl = sub.add_parser(
        "timeline",
        parents=[common],
        help="one message's lifecycle: steps, late and repeated deliveries, failure reason, replies",
        description="Shows one message: every step with its event time and arrival, late and "
        "repeated deliveries, the time between steps, what is still pending, why it failed "
        "(with the meaning of the error code) and the replies.",
    )
    tl.add_argument(
        "id",
        metavar="ID",
        help="internal id, correlationId, provider messageId, #EVENT (a stored event's number) "
        "or a contact's phone (the newest message with that contact)",
    )
    tl.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    ms = sub.add_parser(
        "messages",
        parents=[common],
        help="list messages newest first, by status, number, age or stuck",
        description="Lists messages newest first. Several filters combine (AND). With --json, "
        "one JSON object per line (NDJSON).",
    )
    ms.add_argument(
        "--status",
        type=status_arg,
        metavar="S",
        help=f"only these statuses: {', '.join(STATUSES)} (case-insensitive; comma-separated)",
    )
    ms.add_argument("--number", "-n", metavar="NUMBER_ID", help="only messages of this number (its numberId)")
    ms.add_argument(
        "--stuck",
        action="store_true",
        help=f"only stuck ones: QUEUED over {StuckRules().queued_after / 60:.0f} min or SENT over "
        f"{StuckRules().sent_after / 60:.0f} min without progress",
    )
    ms.add_argument(
        "--since", type=since_arg, metavar="WHEN", help="first seen after: 30m, 24h, 7d, 2w, or an ISO time"
    )
    ms.add_argument(
        "--limit",
        type=limit_arg,
        default=50,
        metavar="N",
        help=f"at most N rows (default 50, max {MAX_LIMIT:,})",
    )
    ms.add_argument("--json", action="store_true", help="print NDJSON: one message object per line")

    rb = sub.add_parser(
        "rebuild",
        parents=[common],
        help="recompute the message and number projections from the stored raw events",
        description="Deletes the messages, their steps and the number states, and replays every "
        "stored event (and number poll) through the rules, in one transaction (after a rule fix, "
        "or to check the projections). "
        "Safe beside a running receiver: it waits for the write lock, and the receiver waits for "
        "the rebuild (answering 503 if it takes long, which the platform retries).",
    )
    rb.add_argument(
        "--wait",
        type=wait_arg,
        default=REBUILD_WAIT_S,
        metavar="S",
        help=f"wait up to S seconds for the database's write lock (default {REBUILD_WAIT_S:.0f})",
    )


# -- helpers -------------------------------------------------------------------------------
def _err(message: str) -> None:
    print(f"pilot-desktop: {message}", file=sys.stderr, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [headers, *rows]
    )


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


def _short(text: str | None, width: int) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def duration(seconds: float | None) -> str:
    """1.5 s, 3 min 20 s, 2 h 5 min, 3 d 4 h."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


@contextmanager
def open_read(paths: AppPaths) -> Iterator[sqlite3.Connection]:
    """A read-only connection, closed on exit. Refuses (StoreError or CliError) a missing,
    foreign, too new or not yet upgraded database; never creates or upgrades one."""
    conn = open_for_export(paths.data_dir)
    try:
        db = paths.data_dir / DB_NAME
        version = check_identity(db, conn)
        if version < SCHEMA_VERSION:
            raise CliError(
                f"The database {db} was written by an older Pilot Desktop (schema {version}). Upgrade "
                "it with `pilot-desktop rebuild` (or start Pilot Desktop once), then try again."
            )
        yield conn
    finally:
        conn.close()


def message_json(m: MessageRow) -> dict[str, Any]:
    """One line of `messages --json` (keys like `timeline --json`'s)."""
    return {
        "id": m.msg_id,
        "correlationId": m.correlation_id,
        "messageId": m.provider_id,
        "quotedMessageId": m.quoted_id,
        "direction": "outbound" if m.outbound else "inbound",
        "status": m.status,
        "statusAt": _iso(m.status_at),
        "numberId": m.number_id,
        "contact": m.peer,
        "type": m.kind,
        "text": m.text,
        "firstAt": _iso(m.first_at),
        "firstReceivedAt": _iso(m.first_received_at),
        "sentAt": _iso(m.sent_at),
        "deliveredAt": _iso(m.delivered_at),
        "readAt": _iso(m.read_at),
        "failedAt": _iso(m.failed_at),
        "sentToDeliveredSeconds": _seconds(m.to_delivered),
        "deliveredToReadSeconds": _seconds(m.to_read),
        "error": m.error,
        "errorCode": m.error_code,
        "steps": m.steps,
        "lateSteps": m.late,
        "replies": m.replies,
    }


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)  # times are milliseconds on the wire


def _label(m: MessageRow) -> str:
    """The id a user would pass back to `timeline`."""
    return m.msg_id or m.correlation_id or m.provider_id or f"row {m.id}"


# -- timeline ------------------------------------------------------------------------------
def _timeline(paths: AppPaths, args: argparse.Namespace) -> int:
    text = args.id.strip()
    if not text:
        raise CliError("timeline: ID is empty", EXIT_USAGE)
    with open_read(paths) as conn:
        found = resolve(conn, text)
        if found is None:
            raise CliError(f"No message matches {text!r}: searched {SEARCHED} in {paths.data_dir / DB_NAME}.")
        t = timeline(conn, found[0], time.time())
    assert t is not None  # found in the same read-only file a moment ago
    if found[1] == "phone":
        _err(f"note: {text!r} is a contact's phone: showing the newest message with {t.message.peer}")
    elif found[1] == "quotedMessageId":
        _err(f"note: {text!r} is quoted by this reply (the message it quotes is not stored)")
    if args.json:
        sys.stdout.write(json.dumps(timeline_json(t), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_timeline(t) + "\n")
    sys.stdout.flush()
    return EXIT_OK


def render_timeline(t: Timeline) -> str:
    m = t.message
    direction = "outbound" if m.outbound else "inbound"
    out = [f"Message {_label(m)} · {direction} {m.kind or 'message'} · {m.status}"]
    facts = [
        ("id", m.msg_id),
        ("correlationId", m.correlation_id),
        ("messageId", m.provider_id),
        ("quotes", m.quoted_id),
        ("number", m.number_id),
        ("contact", m.peer),
        ("text", _short(m.text, 100)),
        ("first seen", _iso(m.first_at)),
    ]
    if m.to_delivered is not None:
        facts.append(("sent → delivered", duration(m.to_delivered)))
    if m.to_read is not None:
        facts.append(("delivered → read", duration(m.to_read)))
    out += [f"  {k:17} {v}" for k, v in facts if v]

    rows: list[list[str]] = []
    previous: float | None = None
    for s in t.steps:
        notes = []
        if s.late:
            notes.append("late (arrived after a later step)")
        if s.deliveries > 1:
            notes.append(f"×{s.deliveries} deliveries")
        after = "" if previous is None or s.at is None else f"+{duration(max(0.0, s.at - previous))}"
        if s.at is not None:
            previous = s.at
        rows.append(
            [
                s.status,
                s.event,
                s.event_time or "(no time)",
                iso(s.received_at),
                after,
                f"#{s.event_id}",
                ", ".join(notes),
            ]
        )
    out.append("")
    out.append(f"Steps ({len(t.steps)}; {t.duplicates} repeated deliveries)")
    steps = table(["STATUS", "EVENT", "EVENT TIME", "ARRIVED", "AFTER", "EVENT #", "NOTES"], rows)
    out += ["  " + line for line in steps.splitlines()]
    if t.pending:
        out.append(f"  pending: {' → '.join(t.pending)}")
    if m.status == "FAILED" or m.error is not None:
        out.append("")
        out.append(f"Failure: {m.status} → {m.error or '(no error text)'} → {m.error_code or '(no code)'}")
        documented = "" if t.error_documented else " [undocumented code: needs review]"
        out.append(f"  meaning: {t.error_meaning}{documented}")
    if t.hints:
        out.append("")
        out.append("Hints")
        out += [f"  - {h}" for h in t.hints]
    if t.reply_to is not None:
        out.append("")
        out.append(f"In reply to {_label(t.reply_to)}: {_short(t.reply_to.text, 80)}")
    if m.outbound:
        out.append("")
        out.append(f"Replies ({len(t.replies)})" if t.replies else "Replies: none")
        for r in t.replies:
            out.append(f"  {_iso(r.first_at)}  {r.peer or '?'}  {_short(r.text, 60)!r}  ({_label(r)})")
    return "\n".join(out)


# -- messages ------------------------------------------------------------------------------
def _messages(paths: AppPaths, args: argparse.Namespace) -> int:
    now = time.time()
    flt = MessageFilter(
        statuses=args.status or frozenset(),
        number_id=args.number,
        since=args.since,
        stuck=StuckRules() if args.stuck else None,
        now=now,
    )
    with open_read(paths) as conn:
        if args.number is not None:
            known = [r[0] for r in conn.execute("SELECT number_id FROM numbers_seen ORDER BY number_id")]
            if args.number not in known:
                listed = ", ".join(known[:10]) + (" …" if len(known) > 10 else "") or "none yet"
                _err(f"note: no event of number {args.number!r} is stored (numbers seen: {listed})")
        shown = 0
        before: int | None = None
        rows: list[list[str]] = []
        while shown < args.limit:
            page = messages_page(conn, flt, min(PAGE, args.limit - shown), before)
            if not page:
                break
            for m in page:
                if args.json:
                    sys.stdout.write(json.dumps(message_json(m), ensure_ascii=False) + "\n")
                else:
                    rows.append(_message_cells(m))
            shown += len(page)
            before = page[-1].id
        if args.json:
            sys.stdout.flush()
            return EXIT_OK
        total = count_messages(conn, flt, COUNT_CAP)
    if rows:
        print(table(["FIRST SEEN", "DIR", "STATUS", "NUMBER", "CONTACT", "ID", "NOTES", "TEXT"], rows))
    more = f"{COUNT_CAP:,}+" if total >= COUNT_CAP else f"{total:,}"
    print(f"{shown:,} of {more} matching messages, newest first" if shown else "No messages match.")
    return EXIT_OK


def _message_cells(m: MessageRow) -> list[str]:
    notes = []
    if m.error_code or m.error:
        notes.append(m.error_code or "error")
    if m.late:
        notes.append(f"{m.late} late")
    if m.replies:
        notes.append(f"{m.replies} repl{'y' if m.replies == 1 else 'ies'}")
    return [
        (_iso(m.first_at) or "")[:19].replace("T", " "),
        "out" if m.outbound else "in",
        m.status,
        m.number_id or "",
        m.peer or "",
        _label(m),
        ", ".join(notes),
        _short(m.text, 40),
    ]


# -- rebuild -------------------------------------------------------------------------------
def _rebuild(paths: AppPaths, args: argparse.Namespace) -> int:
    db = paths.data_dir / DB_NAME
    if not db.exists():
        raise CliError(f"No database in {paths.data_dir}: nothing has been received there yet.")
    conn = connect(db)
    try:
        version = check_identity(db, conn)
        started = time.monotonic()
        if version < SCHEMA_VERSION:
            # The upgrade projects the stored events itself, under its own write lock.
            _err(f"upgrading the database from schema {version}; this projects every stored event")
            open_store(paths.data_dir)
            messages, steps = _counts(conn)
            numbers = int(conn.execute("SELECT count(*) FROM number_state").fetchone()[0])
        else:
            messages, steps, numbers = _rebuild_locked(conn, db, args.wait)
    finally:
        conn.close()
    print(
        f"Rebuilt {messages:,} messages ({steps:,} steps) and {numbers:,} numbers from the stored "
        f"events in {time.monotonic() - started:.1f} s."
    )
    return EXIT_OK


def _counts(conn: sqlite3.Connection) -> tuple[int, int]:
    messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    return int(messages), int(conn.execute("SELECT count(*) FROM message_steps").fetchone()[0])


def _rebuild_locked(conn: sqlite3.Connection, db: Path, wait: float) -> tuple[int, int, int]:
    """The rebuild in one write transaction; the counts it committed."""
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise CliError(
                f"The database {db} stayed busy for {wait:g} s: another Pilot Desktop (serve or "
                "the window) keeps writing to it. Nothing was changed; try again, with a longer "
                "--wait, or stop it first."
            ) from exc
        raise
    _err("rebuilding: the receiver of a running Pilot Desktop waits until this is done")

    def progress(done: int, total: int) -> None:
        _err(f"rebuilding: {done:,} / {total:,} message events")

    try:
        rebuild(conn, progress)
        numbers = rebuild_numbers(conn)
        counts = (*_counts(conn), numbers)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return counts


HANDLERS = {"timeline": _timeline, "messages": _messages, "rebuild": _rebuild}


def run(paths: AppPaths, args: argparse.Namespace) -> int:
    try:
        return HANDLERS[args.command](paths, args)
    except CliError as exc:
        _err(str(exc))
        return exc.code
    except sqlite3.Error as exc:  # StoreError (no database, foreign, too new) is main's
        _err(str(classify_error(paths.data_dir / DB_NAME, exc)))
        return EXIT_ERROR
    except BrokenPipeError:  # `messages --json | head`: stop quietly, and at exit too
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        _err("interrupted")
        return 130

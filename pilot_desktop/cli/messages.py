"""`pilot-desktop messages` (the message list) and `rebuild` (the projections, recomputed).

`messages` opens the database read-only: it never creates, upgrades or locks it, so it is
safe beside a running `serve` or window. `--json` prints NDJSON, one message per line,
newest first (streamable into `jq` or a file, like `export`). `--stuck` counts by the
deadlines in the settings, as the window does. `rebuild` runs the store's rebuild
transaction (store/rebuild.py).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import asdict
from typing import Any

from pilot_desktop.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Ctx,
    add_json,
    camel_keys,
    err,
    print_json,
    table,
)
from pilot_desktop.cli.timeline import label
from pilot_desktop.core.format import Names, cli_time, iso, number_line, number_short, parse_time, short
from pilot_desktop.core.interchange import json_text
from pilot_desktop.core.lifecycle import STATUSES
from pilot_desktop.services import number_lookup
from pilot_desktop.services.config import peek_settings
from pilot_desktop.services.deadlines import stuck_rules
from pilot_desktop.store.read_models import MessageFilter, MessageRow
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.rebuild import rebuild

MAX_LIMIT = 1_000_000
PAGE = 1000  # rows per keyset page when listing
COUNT_CAP = 100_000
REBUILD_WAIT_S = 30.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


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


def _bounded(kind: type[int] | type[float], low: float, high: float, what: str) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
        return value

    return parse


limit_arg = _bounded(int, 1, MAX_LIMIT, f"must be a whole number from 1 to {MAX_LIMIT:,}")
wait_arg = _bounded(float, 0, 3600, "must be 0-3600 seconds")


# -- parsers -------------------------------------------------------------------------------
def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
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
    ms.add_argument(
        "--number",
        "-n",
        metavar="NUMBER",
        help="only messages of this number: its id, phone (international or national, e.g. "
        '"(11) 98187-0697") or name (a unique part of it will do)',
    )
    ms.add_argument(
        "--stuck",
        action="store_true",
        help="only stuck ones: QUEUED or SENT without progress for longer than the deadlines in the "
        "settings (messages.stuck_queued_minutes, 15; messages.stuck_sent_minutes, 10)",
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
    add_json(ms, help="print NDJSON: one message object per line")
    ms.set_defaults(handler=list_messages)

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
    add_json(rb, help="print the counts as JSON")
    rb.set_defaults(handler=rebuild_command)


# -- messages ------------------------------------------------------------------------------
def message_json(m: MessageRow, names: Names | None = None) -> dict[str, Any]:
    """One line of `messages --json` (keys like `timeline --json`'s)."""
    name, phone = (names or {}).get(m.number_id or "", (None, None))
    return {
        "id": m.msg_id,
        "correlationId": m.correlation_id,
        "messageId": m.provider_id,
        "quotedMessageId": m.quoted_id,
        "direction": "outbound" if m.outbound else "inbound",
        "status": m.status,
        "statusAt": iso(m.status_at),
        "numberId": m.number_id,
        "numberName": name,
        "numberPhone": phone,
        "contact": m.peer,
        "type": m.kind,
        "text": m.text,
        "firstAt": iso(m.first_at),
        "firstReceivedAt": iso(m.first_received_at),
        "sentAt": iso(m.sent_at),
        "deliveredAt": iso(m.delivered_at),
        "readAt": iso(m.read_at),
        "failedAt": iso(m.failed_at),
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


def number_of(text: str, known: list[number_lookup.KnownNumber]) -> str:
    """The id of the number `-n TEXT` names (services/number_lookup.py), said on stderr when
    it was found by phone or name."""
    try:
        found = number_lookup.find(text, known)
    except number_lookup.NumberLookupError as exc:
        raise CliError(str(exc), EXIT_USAGE if exc.usage else EXIT_ERROR) from None
    if found.id != text.strip():
        err(f"note: number {number_line(found.id, number_lookup.names_of(known))}")
    return found.id


def list_messages(ctx: Ctx) -> int:
    args = ctx.args
    rules = stuck_rules(peek_settings(ctx.paths)) if args.stuck else None
    reads = Reads.open(ctx.paths.data_dir)
    try:
        known = number_lookup.known_on_disk(ctx.paths, reads)
        names = number_lookup.names_of(known)
        number_id = None if args.number is None else number_of(args.number, known)
        flt = MessageFilter(
            statuses=args.status or frozenset(),
            number_id=number_id,
            since=args.since,
            stuck=rules,
            now=time.time(),
        )
        shown, before, rows = 0, None, []
        while shown < args.limit:
            page = reads.messages_page(flt, min(PAGE, args.limit - shown), before)
            if not page:
                break
            for m in page:
                if args.json:
                    sys.stdout.write(json_text(camel_keys(message_json(m, names))) + "\n")
                else:
                    rows.append(_cells(m, names))
            shown += len(page)
            before = page[-1].id
        if args.json:
            sys.stdout.flush()
            return EXIT_OK
        total = reads.count_messages(flt, COUNT_CAP)
    finally:
        reads.close()
    if rows:
        headers = ["FIRST SEEN", "DIR", "STATUS", "NUMBER", "CONTACT", "ID", "NOTES", "TEXT"]
        # the time, contact and id are read whole or typed back; text and number go under the row first
        print(table(headers, rows, wide=(3, 6, 7), keep=(0, 4, 5), stack=(7, 3, 6, 4)))
    more = f"{COUNT_CAP:,}+" if total >= COUNT_CAP else f"{total:,}"
    print(f"{shown:,} of {more} matching messages, newest first" if shown else "No messages match.")
    return EXIT_OK


def _cells(m: MessageRow, names: Names) -> list[str]:
    notes = []
    if m.error_code or m.error:
        notes.append(m.error_code or "error")
    if m.late:
        notes.append(f"{m.late} late")
    if m.replies:
        notes.append(f"{m.replies} repl{'y' if m.replies == 1 else 'ies'}")
    return [
        cli_time(m.first_at),
        "out" if m.outbound else "in",
        m.status,
        number_short(m.number_id, names) if m.number_id else "",
        m.peer or "",
        label(m),
        ", ".join(notes),
        short(m.text, 40),
    ]


# -- rebuild -------------------------------------------------------------------------------
def rebuild_command(ctx: Ctx) -> int:
    """StoreError (exit 1) when there is no usable database or it stayed busy."""
    done = rebuild(ctx.paths.data_dir, wait=ctx.args.wait, progress=err)
    if ctx.as_json:
        print_json(asdict(done))
        return EXIT_OK
    print(
        f"Rebuilt {done.messages:,} messages ({done.steps:,} steps) and {done.numbers:,} numbers from the "
        f"stored events in {done.seconds:.1f} s."
    )
    return EXIT_OK

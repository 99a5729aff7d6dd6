"""`pilot-desktop timeline ID`: one message's lifecycle, as the window's timeline shows it."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from pilot_desktop.cli.common import EXIT_OK, EXIT_USAGE, CliError, Ctx, add_json, err, print_json, table
from pilot_desktop.cli.output import fit_text
from pilot_desktop.core.format import Names, cli_duration, cli_time, iso, number_line, parse_time, short
from pilot_desktop.core.phones import looks_like_phone, to_e164, valid
from pilot_desktop.services import number_lookup
from pilot_desktop.services.gaps import catch_up_text
from pilot_desktop.store.message_queries import event_number
from pilot_desktop.store.read_models import MessageRow, Timeline, timeline_json
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Gap

SEARCHED = (
    "internal ids, correlationIds, provider messageIds, quoted ids and contact phones "
    "(a stored event's number is written #ID)"
)


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    tl = sub.add_parser(
        "timeline",
        parents=[common],
        help="one message's lifecycle: steps, late and repeated deliveries, failure reason, replies",
        description="Shows one message: every step with its event time and arrival, late and "
        "repeated deliveries, the time between steps, what is still pending, why it failed "
        "(with the meaning of the error code) and the replies. Opens the database read-only: "
        "safe beside a running serve or window.",
    )
    tl.add_argument(
        "id",
        metavar="ID",
        help="internal id, correlationId, provider messageId, a contact's phone (international or "
        'national, e.g. "(11) 98187-0697": the newest message with that contact) or #EVENT (a '
        "stored event's number, always written with #: a bare 123 is never an event number)",
    )
    add_json(tl, help="print one JSON document on stdout")
    tl.set_defaults(handler=run)


def label(m: MessageRow) -> str:
    """The id a user would pass back to `timeline`."""
    return m.msg_id or m.correlation_id or m.provider_id or f"row {m.id}"


def run(ctx: Ctx) -> int:
    text = ctx.args.id.strip()
    if not text:
        raise CliError("timeline: ID is empty", EXIT_USAGE)
    if text.startswith("#") and event_number(text) is None:  # "#abc", "#", "# 5"
        raise CliError(
            f"{text!r} is not an event number: write '#' then its digits, "
            "e.g. pilot-desktop timeline '#123'.",
            EXIT_USAGE,
        )
    reads = Reads.open(ctx.paths.data_dir)
    try:
        known = number_lookup.known_on_disk(ctx.paths, reads)
        regions = number_lookup.regions(known)
        # store/message_queries.resolve's rule: "#123" is an event, a bare 123 never is.
        found = reads.resolve_message(text, regions)
        if found is None:
            raise _not_found(text, regions, reads, number_lookup.names_of(known))
        t = reads.timeline(found[0], time.time())
    finally:
        reads.close()
    assert t is not None  # found in the same read-only file a moment ago
    if found[1] == "phone":
        err(f"note: {text!r} is read as a contact's phone: showing the newest message with {t.message.peer}")
    elif found[1] == "quotedMessageId":
        err(f"note: {text!r} is quoted by this reply (the message it quotes is not stored)")
    names = number_lookup.names_of(known)
    if ctx.args.json:
        doc = timeline_json(t)
        doc["numberName"], doc["numberPhone"] = names.get(t.message.number_id or "", (None, None))
        print_json(doc)
    else:
        sys.stdout.write("\n".join(map(fit_text, render(t, names).splitlines())) + "\n")
        sys.stdout.flush()
    return EXIT_OK


def _not_found(text: str, regions: list[str], reads: Reads, names: Names) -> CliError:
    """What was searched, and how `text` was read: an event number only with "#"."""
    where = str(reads.path)
    event_id = event_number(text)
    if event_id is not None:
        event = reads.event(event_id)
        if event is None:
            return CliError(f"No event {text} is stored in {where}.")
        row = event.row  # stored, but no step of a message: say what it is instead
        of = f" of number {number_line(row.number_id, names)}" if row.number_id else ""
        see = (
            f" Its number's history: pilot-desktop numbers -n {row.number_id} --history 20."
            if row.event.startswith("number.") and row.number_id
            else ""
        )
        return CliError(
            f"Event {text} is a {row.event} event{of}, received {cli_time(row.received_at)}: "
            f"not a step of any message (timeline shows messages).{see}"
        )
    if text.isdigit() and not valid(text, regions):  # no id, no phone anyone has: an event meant?
        too = "too short for a phone" if not looks_like_phone(text) else "not a valid phone"
        return CliError(
            f"{text!r} is no message id and {too}"
            + (f" in {', '.join(regions)}" if regions and looks_like_phone(text) else "")
            + f". A stored event's number is written with '#': pilot-desktop timeline '#{text}'.",
            EXIT_USAGE,
        )
    searched = SEARCHED
    if looks_like_phone(text) and (phone := to_e164(text, regions)):
        searched = searched.replace("contact phones", f"contact phones (read as {phone})")
    return CliError(f"No message matches {text!r}: searched {searched} in {where}.")


def render(t: Timeline, names: Names | None = None) -> str:
    m = t.message
    direction = "outbound" if m.outbound else "inbound"
    out = [f"Message {label(m)} · {direction} {m.kind or 'message'} · {m.status}"]
    facts = [
        ("id", m.msg_id),
        ("correlationId", m.correlation_id),
        ("messageId", m.provider_id),
        ("quotes", m.quoted_id),
        ("number", number_line(m.number_id, names or {}) if m.number_id else None),
        ("contact", m.peer),
        ("text", short(m.text, 100)),
        ("first seen", iso(m.first_at)),
    ]
    if m.to_delivered is not None:
        facts.append(("sent → delivered", cli_duration(m.to_delivered)))
    if m.to_read is not None:
        facts.append(("delivered → read", cli_duration(m.to_read)))
    out += [f"  {k:17} {v}" for k, v in facts if v]
    out += ["", f"Steps ({len(t.steps)}; {t.duplicates} repeated deliveries)"]
    out += _steps(t)
    if t.pending:
        out.append(f"  pending: {' → '.join(t.pending)}")
    if t.gaps:  # nothing was received then: a step may be missing or reconstructed
        out += ["", f"Gaps over this message ({len(t.gaps)})", *(f"  {_gap_line(g)}" for g in t.gaps)]
    if m.status == "FAILED" or m.error is not None:
        out.append("")
        out.append(f"Failure: {m.status} → {m.error or '(no error text)'} → {m.error_code or '(no code)'}")
        documented = "" if t.error_documented else " [undocumented code: needs review]"
        out.append(f"  meaning: {t.error_meaning}{documented}")
    if t.hints:
        out += ["", "Hints", *(f"  - {h}" for h in t.hints)]
    if t.reply_to is not None:
        out += ["", f"In reply to {label(t.reply_to)}: {short(t.reply_to.text, 80)}"]
    if m.outbound:
        out += ["", f"Replies ({len(t.replies)})" if t.replies else "Replies: none"]
        for r in t.replies:
            out.append(f"  {iso(r.first_at)}  {r.peer or '?'}  {short(r.text, 60)!r}  ({label(r)})")
    return "\n".join(out)


def _gap_line(g: Gap) -> str:
    end = "still not receiving" if g.ended_at is None else cli_time(g.ended_at)
    caught = f"; {catch_up_text(g)}" if g.caught_up_at is not None else "; not caught up from the API"
    return f"{cli_time(g.started_at)} → {end}: {g.reason.rstrip('. ')}{caught}"


def _steps(t: Timeline) -> list[str]:
    rows: list[list[str]] = []
    previous: float | None = None
    for s in t.steps:
        notes = []
        if s.late:
            notes.append("late (arrived after a later step)")
        if s.deliveries > 1:
            notes.append(f"×{s.deliveries} deliveries")
        if s.reconstructed is not None:  # read back from the API after a gap: not a webhook
            read = f", at {s.reconstructed.at_text}" if s.reconstructed.at_text else ""
            notes.append(f"reconstructed from the API ({s.reconstructed.source}{read})")
        after = "" if previous is None or s.at is None else f"+{cli_duration(max(0.0, s.at - previous))}"
        if s.at is not None:
            previous = s.at
        rows.append([s.status, s.event, s.event_time or "", iso(s.received_at), after, f"#{s.event_id}",
                     ", ".join(notes)])  # fmt: skip
    # The date once above, the times of day to the millisecond in the cells (whole, never cut).
    day = _day(rows[0][3]) if rows else ""
    for r in rows:
        r[2], r[3] = _time_of_day(r[2], day) or "(no time)", _time_of_day(r[3], day)
    headers = ["STATUS", "EVENT", "EVENT TIME", "ARRIVED", "AFTER", "EVENT #", "NOTES"]
    return [f"  times UTC, on {day} unless dated"] * bool(day) + table(
        headers, rows, wide=(6,), keep=(2, 3, 5), margin=2
    ).splitlines()


def _day(stamp: str) -> str:
    at = parse_time(stamp)
    return "" if at is None else iso(at)[:10]


def _time_of_day(stamp: str, day: str) -> str:
    """`HH:MM:SS.mmm` (UTC) on `day`, the date before it on another day, the text as stored when
    it is no time."""
    at = parse_time(stamp)
    if at is None:
        return stamp
    full = iso(at)  # 2026-12-05T00:16:59.096Z
    return full[11:-1] if full[:10] == day else f"{full[:10]} {full[11:-1]}"

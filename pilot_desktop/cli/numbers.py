"""`pilot-desktop numbers`: each number's connection state, health, uptime and flaps.

Reads the store (what webhooks and earlier polls told) and lists every number known there
or to the accounts, in the Numbers pane's words (core/number_words.py: Connected,
Disconnected ...) with how long the state has lasted; a number nothing has told the state
of yet is "State unknown". `--refresh` first asks the platform once, through the
configured accounts, and stores the answers as the core's poller does. `--history N` adds
each number's last N transitions; `-n` shows one number (id, phone or name).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from pilot_desktop.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Ctx,
    add_json,
    err,
    print_json,
    table,
)
from pilot_desktop.cli.output import say
from pilot_desktop.core.format import cli_percent, cli_time, elapsed
from pilot_desktop.core.number_words import (
    KIND_LABEL,
    LATE_NOTE,
    change_words,
    shows_health,
    since_known,
    state_label,
)
from pilot_desktop.core.numbers import UNKNOWN, NumberState
from pilot_desktop.services import logs, number_lookup
from pilot_desktop.services.number_poller import poll_into
from pilot_desktop.store.db import DB_NAME
from pilot_desktop.store.read_models import NumberSummary, TransitionRow
from pilot_desktop.store.reads import Reads


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "numbers",
        parents=[common],
        help="each number's connection state, health, 24 h uptime and flaps",
        description="Shows what the stored webhooks and polls say about each number.",
    )
    add_json(p, help="print one JSON array on stdout")
    p.add_argument(
        "--number",
        "-n",
        metavar="NUMBER",
        help="only this number: its id, phone or name (a unique part will do)",
    )
    p.add_argument("--refresh", action="store_true", help="poll the platform once first (needs an account)")
    p.add_argument(
        "--history", type=_count, default=0, metavar="N", help="also show the last N transitions (N >= 0)"
    )
    p.set_defaults(handler=run)


def summary_json(s: NumberSummary, now: float, history: list[TransitionRow]) -> dict[str, Any]:
    st = s.state
    since = st.connection_at if since_known(st, s.entered_from) else None
    return {
        "numberId": st.number_id,
        "phone": st.phone,
        "name": st.name,
        "provider": s.provider,
        "state": st.connection,
        "stateLabel": state_label(st.connection),
        "since": since,  # None: not known (a poll's first reading says only that it held then)
        "sinceSeconds": None if since is None else max(0.0, now - since),
        "source": st.connection_source,
        "health": st.health if shows_health(st) else None,  # never "healthy" unless connected
        "healthReason": st.health_reason,
        "lastError": st.last_error,
        "lastErrorCode": st.last_error_code,
        "billingBlockedSince": s.billing_blocked_since,
        "billingDisconnectAt": s.billing_disconnect_at,
        "uptime24h": s.uptime_24h,
        "uptime7d": s.uptime_7d,
        "flaps24h": s.flaps_24h,
        "lastEventAt": s.last_event_at,
        "lastPollAt": s.last_poll_at,
        "history": [
            {
                "kind": t.kind,
                "from": t.before,
                "to": t.after,
                "at": t.at,
                "source": t.source,
                "event": t.event,
                "late": t.late,
                "error": t.error,
                "errorCode": t.error_code,
            }
            for t in history
        ],
    }


def unseen(n: number_lookup.KnownNumber) -> NumberSummary:
    """A number the accounts (or message events) know but no state was told of yet."""
    return NumberSummary(NumberState(n.id, phone=n.phone, name=n.name), None, None, None, None, None, 0,
                         None, None, 0, [])  # fmt: skip


def run(ctx: Ctx) -> int:
    args = ctx.args
    if args.refresh:  # polls and stores: in the profile's log (without it, only reads)
        logs.setup(ctx.paths, console=False)
        problem = asyncio.run(poll_into(ctx.paths.data_dir, ctx.accounts))
        if problem:
            err(problem)
    now = time.time()
    found: list[NumberSummary] = []
    history: dict[str, list[TransitionRow]] = {}
    reads = Reads.open(ctx.paths.data_dir) if (ctx.paths.data_dir / DB_NAME).exists() else None
    try:
        known = number_lookup.known_on_disk(ctx.paths, reads)
        if reads is not None:
            found = reads.number_summaries(now)
        listed = {s.number_id for s in found}
        found += sorted((unseen(n) for n in known if n.id not in listed), key=_by_name)
        if args.number is not None:
            wanted = _find(args.number, known, found)
            found = [s for s in found if s.number_id == wanted]
        if reads is not None:
            history = {s.number_id: reads.transitions(s.number_id, args.history) for s in found}
    finally:
        if reads is not None:
            reads.close()
    if args.json:
        print_json([summary_json(s, now, history.get(s.number_id, [])) for s in found], indent=None)
        return EXIT_OK
    if not found:
        print(
            "No numbers known yet: they appear with their first number.* webhook or poll (--refresh), "
            "or when an account is added (pilot-desktop accounts add)."
        )
        return EXIT_OK
    rows = []
    for s in found:
        st = s.state
        since = "" if st.connection == UNKNOWN else "unknown"  # a poll's first reading: not since when
        if since_known(st, s.entered_from) and st.connection_at is not None:
            since = elapsed(now - st.connection_at)
        billing = "BLOCKED (unpaid)" if s.billing_blocked_since else ""
        health = st.health if shows_health(st) else ""  # the Numbers pane's pill rule
        rows.append(
            [st.name or "", st.phone or "", st.number_id, state_label(st.connection), since, health,
             cli_percent(s.uptime_24h), str(s.flaps_24h), billing]
        )  # fmt: skip
    headers = ["NAME", "PHONE", "ID", "STATE", "FOR", "HEALTH", "UPTIME 24H", "FLAPS", "BILLING"]
    if not any(r[-1] for r in rows):  # no number is billing-blocked: room for the others
        headers, rows = headers[:-1], [r[:-1] for r in rows]
    print(table(headers, rows, wide=(0,), keep=(1, 2), stack=(2,)))  # phone and id never cut
    for s in found:
        if history.get(s.number_id):
            print(f"\n{s.state.name or s.number_id}:")
            for t in history[s.number_id]:
                late = f" {LATE_NOTE}" if t.late else ""
                reason = f" — {t.error}" if t.error else ""
                when = cli_time(t.at, local=True)
                change = f"{KIND_LABEL.get(t.kind, t.kind)}: {change_words(t.kind, t.before, t.after)}"
                say(f"  {when}  {change} via {t.source}{reason}{late}")
    return EXIT_OK


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _by_name(s: NumberSummary) -> tuple[str, str]:
    return ((s.state.name or "").lower(), s.number_id)


def _find(text: str, known: list[number_lookup.KnownNumber], found: list[NumberSummary]) -> str:
    everyone = number_lookup.merge(
        known, (number_lookup.KnownNumber(s.number_id, s.state.name, s.state.phone) for s in found)
    )
    try:
        return number_lookup.find(text, everyone).id
    except number_lookup.NumberLookupError as exc:
        raise CliError(str(exc), EXIT_USAGE if exc.usage else EXIT_ERROR) from None

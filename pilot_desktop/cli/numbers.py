"""`pilot-desktop numbers`: each number's connection state, health, uptime and flaps.

Reads the store (what webhooks and earlier polls told). `--refresh` first asks the
platform once, through the configured accounts, and stores the answers as the core's
poller does. `--history N` adds each number's last N transitions.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from pilot_desktop.cli.common import EXIT_OK, Ctx, err, table
from pilot_desktop.core.format import cli_duration, cli_percent, cli_time
from pilot_desktop.core.interchange import json_text
from pilot_desktop.services import logs
from pilot_desktop.services.number_poller import poll_into
from pilot_desktop.store.read_models import NumberSummary, TransitionRow
from pilot_desktop.store.reads import Reads


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "numbers",
        parents=[common],
        help="each number's connection state, health, 24 h uptime and flaps",
        description="Shows what the stored webhooks and polls say about each number.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON array on stdout")
    p.add_argument("--refresh", action="store_true", help="poll the platform once first (needs an account)")
    p.add_argument("--history", type=int, default=0, metavar="N", help="also show the last N transitions")
    p.set_defaults(handler=run)


def summary_json(s: NumberSummary, now: float, history: list[TransitionRow]) -> dict[str, Any]:
    st = s.state
    return {
        "numberId": st.number_id,
        "phone": st.phone,
        "name": st.name,
        "provider": s.provider,
        "state": st.connection,
        "since": st.connection_at,
        "sinceSeconds": None if st.connection_at is None else max(0.0, now - st.connection_at),
        "source": st.connection_source,
        "health": st.health,
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


def run(ctx: Ctx) -> int:
    args = ctx.args
    if args.refresh:  # polls and stores: in the profile's log (without it, only reads)
        logs.setup(ctx.paths, console=False)
        problem = asyncio.run(poll_into(ctx.paths.data_dir, ctx.accounts))
        if problem:
            err(problem)
    now = time.time()
    reads = Reads.open(ctx.paths.data_dir)
    try:
        found = reads.number_summaries(now)
        history = {s.number_id: reads.transitions(s.number_id, args.history) for s in found}
    finally:
        reads.close()
    if args.json:
        print(json_text([summary_json(s, now, history[s.number_id]) for s in found]))
        return EXIT_OK
    if not found:
        print("No numbers known yet: they appear with their first number.* webhook or poll (--refresh).")
        return EXIT_OK
    rows = []
    for s in found:
        st = s.state
        since = "" if st.connection_at is None else f"for {cli_duration(now - st.connection_at)}"
        billing = "BLOCKED (unpaid)" if s.billing_blocked_since else ""
        rows.append(
            [st.name or "", st.phone or "", st.number_id, st.connection, since, st.health,
             cli_percent(s.uptime_24h), str(s.flaps_24h), billing]
        )  # fmt: skip
    print(table(["NAME", "PHONE", "ID", "STATE", "SINCE", "HEALTH", "UPTIME 24H", "FLAPS", "BILLING"], rows))
    for s in found:
        if history[s.number_id]:
            print(f"\n{s.state.name or s.number_id}:")
            for t in history[s.number_id]:
                late = " (late: recorded, not applied)" if t.late else ""
                reason = f" — {t.error}" if t.error else ""
                when = cli_time(t.at, local=True)
                print(f"  {when}  {t.kind}: {t.before} → {t.after} via {t.source}{reason}{late}")
    return EXIT_OK

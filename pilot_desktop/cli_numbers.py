"""`pilot-desktop numbers`: each number's connection state, health, uptime and flaps.

Reads the store (what webhooks and earlier polls told). `--refresh` first asks the
platform once, through the configured accounts, and stores the answers like the window's
poller does. `--history N` adds each number's last N transitions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from pilot_desktop.cli_messages import CliError, duration, open_read, table
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.number_poller import NumberPoller
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.secrets import open_secrets
from pilot_desktop.services.settings import Settings, save
from pilot_desktop.store import number_queries as nq
from pilot_desktop.store.db import open_store
from pilot_desktop.store.writer import Writer

COMMANDS = frozenset({"numbers"})
EXIT_OK, EXIT_ERROR = 0, 1


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "numbers",
        parents=[common],
        help="each number's connection state, health, 24 h uptime and flaps",
        description="Shows what the stored webhooks and polls say about each number.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON array on stdout")
    p.add_argument("--refresh", action="store_true", help="poll the platform once first (needs an account)")
    p.add_argument("--history", type=int, default=0, metavar="N", help="also show the last N transitions")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def summary_json(s: nq.NumberSummary, now: float, history: list[nq.TransitionRow]) -> dict[str, Any]:
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


async def _refresh(paths: AppPaths, settings: Settings) -> str | None:
    """Poll once into the store; returns a problem to print, if any."""
    store = open_secrets(paths.data_dir)
    accounts = Accounts(settings, store, lambda s: save(paths.settings_file, s))
    if not accounts.all:
        return "no account is configured: add one with `pilot-desktop accounts add`"
    writer = Writer(open_store(paths.data_dir), asyncio.get_running_loop())
    writer.start()
    try:
        poller = NumberPoller(accounts, writer.submit)
        await poller.poll_once()
        problems = [poller.last_error] + [
            f"{n.id}: {p}" for _, n in accounts.numbers() if (p := poller.problem(n.id)) is not None
        ]
    finally:
        await writer.stop()
    return "; ".join(p for p in problems if p) or None


def run(paths: AppPaths, settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.refresh:
            problem = asyncio.run(_refresh(paths, settings))
            if problem:
                print(f"pilot-desktop: {problem}", file=sys.stderr)
        now = time.time()
        with open_read(paths) as conn:
            found = nq.summaries(conn, now)
            history = {s.number_id: nq.transitions(conn, s.number_id, args.history) for s in found}
    except CliError as exc:
        print(f"pilot-desktop: {exc}", file=sys.stderr)
        return exc.code
    if args.json:
        print(json.dumps([summary_json(s, now, history[s.number_id]) for s in found], ensure_ascii=False))
        return EXIT_OK
    if not found:
        print("No numbers known yet: they appear with their first number.* webhook or poll (--refresh).")
        return EXIT_OK
    rows = []
    for s in found:
        st = s.state
        since = "" if st.connection_at is None else f"for {duration(now - st.connection_at)}"
        billing = "BLOCKED (unpaid)" if s.billing_blocked_since else ""
        rows.append(
            [st.name or "", st.phone or "", st.number_id, st.connection, since, st.health,
             _pct(s.uptime_24h), str(s.flaps_24h), billing]
        )  # fmt: skip
    print(table(["NAME", "PHONE", "ID", "STATE", "SINCE", "HEALTH", "UPTIME 24H", "FLAPS", "BILLING"], rows))
    for s in found:
        if history[s.number_id]:
            print(f"\n{s.state.name or s.number_id}:")
            for t in history[s.number_id]:
                late = " (late: recorded, not applied)" if t.late else ""
                reason = f" — {t.error}" if t.error else ""
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t.at))
                print(f"  {when}  {t.kind}: {t.before} → {t.after} via {t.source}{reason}{late}")
    return EXIT_OK

"""`pilot-desktop gaps`: the times this receiver could not receive, and whether it receives now.

Reads the store read-only (safe beside a running window or `serve`). Oldest first: start,
end (or "open"), duration, kind, what the catch-up after it restored, and why. Then the
situation now, from the heartbeat (services/gaps.py): a clean stop, or a last heartbeat of
a run that is gone, means nothing receives for this data folder. `--json` prints one JSON
document: {"gaps": [...], "now": {...}}.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from pilot_desktop.cli.common import EXIT_OK, Ctx, print_json, table
from pilot_desktop.cli.messages import since_arg
from pilot_desktop.core.format import cli_duration, cli_time, iso
from pilot_desktop.services.gaps import Situation, catch_up_text, situation
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Gap

MAX_GAPS = 100_000


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "gaps",
        parents=[common, as_json],
        help="when this receiver could not receive (not running, port busy), and whether it receives now",
        description="Lists the recorded gaps oldest first: Pilot Desktop not running (from the last "
        "heartbeat of a stop or crash to the next start), the receiver stopped (a busy port), with the "
        "catch-up that followed; then says whether a Pilot Desktop receives for this data folder now. "
        "Times are UTC.",
    )
    p.add_argument(
        "--since",
        type=since_arg,
        metavar="WHEN",
        help="only gaps still open or ended after: 30m, 24h, 7d, 2w, or an ISO time",
    )
    p.set_defaults(handler=list_gaps)


def gap_json(gap: Gap, now: float) -> dict[str, Any]:
    end = gap.ended_at
    return {
        "id": gap.id,
        "kind": gap.kind,
        "startedAt": iso(gap.started_at),
        "endedAt": iso(end),
        "open": end is None,
        "durationSeconds": round(max(0.0, (now if end is None else end) - gap.started_at), 3),
        "reason": gap.reason,
        "caughtUpAt": iso(gap.caught_up_at),
        "catchUp": gap.catch_up,
    }


def situation_json(now_is: Situation, beat: Any) -> dict[str, Any]:
    return {
        "receiving": now_is.receiving,
        "notReceivingSince": iso(now_is.since),
        "lastHeartbeatAt": iso(beat.alive_at) if beat else None,
        "stoppedAt": iso(beat.stopped_at) if beat else None,
        "pid": beat.pid if beat else None,
        "sentence": now_is.sentence,
    }


def list_gaps(ctx: Ctx) -> int:
    now = time.time()
    reads = Reads.open(ctx.paths.data_dir)
    try:
        gaps = reads.gaps(ctx.args.since, MAX_GAPS)
        beat = reads.heartbeat()
    finally:
        reads.close()
    now_is = situation(beat, now)
    if ctx.as_json:
        print_json({"gaps": [gap_json(g, now) for g in gaps], "now": situation_json(now_is, beat)})
        return EXIT_OK
    if gaps:
        rows = [
            [
                cli_time(g.started_at),
                "open" if g.ended_at is None else cli_time(g.ended_at),
                cli_duration(max(0.0, (now if g.ended_at is None else g.ended_at) - g.started_at)),
                g.kind,
                catch_up_text(g),
                g.reason,
            ]
            for g in gaps
        ]
        print(table(["START", "END", "DURATION", "KIND", "CATCH-UP", "REASON"], rows, wide=(4, 5)))
    else:
        print("No gaps recorded." if ctx.args.since is None else "No gaps in that time.")
    print(f"Now: {now_is.sentence}")
    if now_is.receiving and any(g.ended_at is None and g.kind == "receiver_stopped" for g in gaps):
        print("Its receiver is not listening (the open gap above): it does not receive.")
    return EXIT_OK

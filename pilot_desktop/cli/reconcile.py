"""`pilot-desktop reconcile [--since WHEN] [--json]`: the catch-up after a gap, by hand.

For [since, now] it does what the app does after a gap (services/catch_up.py) with the
profile's accounts: compares the delivery logs of the webhooks pointing here with the store,
reads back the messages the store has not seen finish, and stores the missing steps as
reconstructed events. It writes through a writer of its own on the store: a window or
`serve` running on the same data folder keeps writing too (SQLite serialises the writers;
a moment's lock is a retried storing problem for either). Exit 1 when the run had to stop
(no network, a long rate limit, the store refused).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from pilot_desktop.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliError, Ctx, err, print_json
from pilot_desktop.cli.messages import since_arg
from pilot_desktop.core.format import cli_time
from pilot_desktop.services import logs
from pilot_desktop.services.catch_up import CatchUp
from pilot_desktop.store.db import open_store
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.writer import Writer

DEFAULT_SINCE_S = 24 * 3600.0
PROBLEMS_SHOWN = 10


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "reconcile",
        parents=[common, as_json],
        help="catch up through the API: store the message steps this receiver missed",
        description="Compares the delivery logs of the webhooks pointing here with the store, reads "
        "back through the API the messages sent since WHEN and those not seen finishing, and stores "
        "the steps missing here, marked as reconstructed from the API (never a step already stored, "
        "never a lower status). Needs an account. Safe while the window or serve runs.",
    )
    p.add_argument(
        "--since",
        type=since_arg,
        metavar="WHEN",
        help="from: 30m, 24h, 7d, 2w, or an ISO time (default: 24h)",
    )
    p.set_defaults(handler=reconcile)


async def reconcile(ctx: Ctx) -> int:
    now = time.time()
    since: float = ctx.args.since if ctx.args.since is not None else now - DEFAULT_SINCE_S
    if since >= now:
        raise CliError("--since must be in the past", EXIT_USAGE)
    accounts = ctx.accounts
    if not accounts.all:
        raise CliError("no account is configured: add one with `pilot-desktop accounts add`")
    logs.setup(ctx.paths, console=False)  # it writes to the store: in the profile's log
    token = ctx.config.state.value.token
    path = await asyncio.to_thread(open_store, ctx.paths.data_dir)
    writer = Writer(path, asyncio.get_running_loop())
    writer.start()
    reads = Reads(path)
    try:
        summary = await CatchUp(accounts, reads, writer.submit, token).run(since, now)
    finally:
        reads.close()
        await writer.stop()
    if ctx.as_json:
        print_json(summary)
    else:
        _print(summary, since, now)
    if summary["stopped"]:
        err(f"stopped: {summary['stopped']}")
        return EXIT_ERROR
    return EXIT_OK


def _print(summary: dict[str, Any], since: float, now: float) -> None:
    print(f"Reconciled {cli_time(since)} to {cli_time(now)} UTC")
    print(
        f"  webhooks pointing here: {summary['webhooks_compared']} compared; in their logs "
        f"{summary['received_in_logs']} received, {summary['missing_in_logs']} missing, "
        f"{summary['failed_in_logs']} failed deliveries"
    )
    print(f"  outbound messages in the history: {summary['history_rows']}")
    print(
        f"  messages read back: {summary['messages_checked']}; restored: {summary['messages_restored']} "
        f"({summary['steps']} steps, marked reconstructed from the API)"
    )
    if summary["rate_limited_waits"]:
        print(f"  rate limited: waited {summary['rate_limited_waits']} times as asked")
    problems = summary["errors"]  # messages failing alike are one line already (services/catch_up.py)
    for problem in problems[:PROBLEMS_SHOWN]:
        err(problem)
    if len(problems) > PROBLEMS_SHOWN:
        err(f"… and {len(problems) - PROBLEMS_SHOWN} more problems (all of them: --json)")

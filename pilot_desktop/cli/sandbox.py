"""`pilot-desktop sandbox`: the local Pilot Status (REST API + webhook deliveries)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from pilot_desktop.cli.common import EXIT_USAGE, Ctx


def rate_limit(text: str) -> tuple[int, float]:
    from pilot_desktop.sandbox.console import rate_limit_arg  # noqa: PLC0415 - loads only when asked

    return rate_limit_arg(text)


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    sandbox = sub.add_parser(
        "sandbox", parents=[common], help="run the local Pilot Status sandbox (REST API + webhook deliveries)"
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8790, help="listen port (default 8790; 0 = any free)")
    sandbox.add_argument("--seed", type=int, default=1, help="scenario seed: the same seed, the same traffic")
    sandbox.add_argument("--rate", type=float, default=2.0, help="organic webhooks per second (all numbers)")
    sandbox.add_argument("--numbers", type=int, default=3, help="how many simulated numbers")
    sandbox.add_argument(
        "--retry-window", type=float, default=300.0, metavar="S", help="retry failed deliveries for S seconds"
    )
    sandbox.add_argument(
        "--duplicates", type=float, default=0.0, metavar="F", help="share of deliveries sent twice (0-1)"
    )
    sandbox.add_argument(
        "--reorder", type=float, default=0.0, metavar="S", help="random delivery delay up to S seconds"
    )
    sandbox.add_argument(
        "--rate-limit",
        type=rate_limit,
        default=None,
        metavar="N/S",
        help="answer 429 past N API requests per S seconds per key (e.g. 10/1)",
    )
    sandbox.add_argument("--verbose", "-v", action="store_true", help="print every delivery attempt")
    sandbox.set_defaults(handler=run)


def run(ctx: Ctx) -> int:
    """The sandbox has nothing to do with this app's settings or store."""
    from pilot_desktop.sandbox import console  # noqa: PLC0415
    from pilot_desktop.sandbox.server import Sandbox  # noqa: PLC0415

    args = ctx.args
    problems = [
        f"--{name} {value}"
        for name, value, ok in (
            ("port", args.port, 0 <= args.port <= 65535),
            ("numbers", args.numbers, 1 <= args.numbers <= 500),
            ("rate", args.rate, 0 <= args.rate <= 10_000),
            ("duplicates", args.duplicates, 0 <= args.duplicates <= 1),
            ("reorder", args.reorder, 0 <= args.reorder <= 3600),
            ("retry-window", args.retry_window, 0 <= args.retry_window <= 7 * 86400),
        )
        if not ok
    ]
    if problems:
        print(f"pilot-desktop sandbox: out of range: {', '.join(problems)}", file=sys.stderr)
        return EXIT_USAGE

    def make(on_attempt: object) -> Sandbox:
        return Sandbox(
            seed=args.seed, numbers=args.numbers, rate=args.rate, host=args.host, port=args.port,
            retry_window=args.retry_window, duplicate_rate=args.duplicates, reorder_jitter=args.reorder,
            rate_limit=args.rate_limit, on_attempt=on_attempt,  # type: ignore[arg-type]
        )  # fmt: skip

    return asyncio.run(console.main(make, sys.stdout, args.verbose))

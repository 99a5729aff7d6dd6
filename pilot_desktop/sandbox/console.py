"""`pilot-desktop sandbox`: run the sandbox standalone and show what the real dashboard
would: the API keys, and each webhook's signing secret as it is created (the REST API
never returns a secret, on the sandbox as on the platform).

`--rate-limit N/S` (N requests per S seconds per API key, see `faults.py`) is parsed by
`rate_limit_arg` and passed to `Sandbox(rate_limit=...)`; the console shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import TextIO

from pilot_desktop.sandbox.faults import parse_rate_limit
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.sandbox.state import DeliveryLog

POLL_S = 0.5


def rate_limit_arg(text: str) -> tuple[int, float]:
    """argparse `type=` of `--rate-limit N/S`: `"10/1"` -> `(10, 1.0)`."""
    try:
        return parse_rate_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def describe(sandbox: Sandbox) -> list[str]:
    lines = [
        f"Pilot Status sandbox at {sandbox.base_url}  (the API base URL: "
        f"`pilot-desktop accounts add --base-url {sandbox.base_url}`)",
        f"Tenant key: {sandbox.tenant_key}",
        "Numbers (id, phone, name, provider, number-scoped key):",
    ]
    keys = sandbox.number_keys
    lines += [f"  {n.id}  {n.phone}  {n.name}  {n.provider}  {keys[n.id]}" for n in sandbox.numbers]
    if (limit := sandbox.faults.rate_limit) is not None:
        count, seconds = limit
        lines.append(f"Rate limit: {count} requests per {seconds:g} s per API key (then 429 RATE_LIMITED)")
    lines += [
        "Create webhooks with the API, e.g.:",
        f"  curl -X POST {sandbox.base_url}/v1/webhooks -H 'x-api-key: <number key>' "
        '-H \'content-type: application/json\' -d \'{"url": "<hook url>", "events": ["*"]}\'',
        "Each webhook's signing secret is printed here when it is created.",
    ]
    return lines


def attempt_line(log: DeliveryLog) -> str:
    code = log.status_code if log.status_code is not None else "no answer"
    return f"  {log.status:7} {code} {log.duration_ms:5} ms  {log.event}"


async def run(sandbox: Sandbox, out: TextIO, stop: asyncio.Event) -> None:
    await sandbox.start()
    print("\n".join(describe(sandbox)), file=out, flush=True)
    shown: set[str] = set()
    try:
        while not stop.is_set():
            for webhook in list(sandbox.state.webhooks.values()):
                if webhook.id not in shown:
                    shown.add(webhook.id)
                    print(
                        f"Webhook {webhook.id} ({webhook.url}) signing secret: {webhook.secret}",
                        file=out,
                        flush=True,
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)
    finally:
        await sandbox.stop()
        print("Sandbox stopped.", file=out, flush=True)


async def main(
    make: Callable[[Callable[[DeliveryLog], None] | None], Sandbox], out: TextIO, verbose: bool
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    on_attempt = (lambda log: print(attempt_line(log), file=out, flush=True)) if verbose else None
    sandbox = make(on_attempt)
    try:
        await run(sandbox, out, stop)
    except OSError as exc:
        print(
            f"pilot-desktop sandbox: cannot listen on {sandbox.host}:{sandbox.port}: {exc.strerror or exc}",
            flush=True,
        )
        return 1
    return 0

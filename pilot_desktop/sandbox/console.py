"""`pilot-desktop sandbox`: run the sandbox standalone and show what the real dashboard
would: the API keys, and each webhook's signing secret as it is created (the REST API
never returns a secret, on the sandbox as on the platform)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import TextIO

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.sandbox.state import DeliveryLog

POLL_S = 0.5


def describe(sandbox: Sandbox) -> list[str]:
    lines = [
        f"Pilot Status sandbox at {sandbox.base_url}  (API base: {sandbox.base_url}/v1)",
        f"Tenant key: {sandbox.tenant_key}",
        "Numbers (id, phone, name, provider, number-scoped key):",
    ]
    keys = sandbox.number_keys
    lines += [f"  {n.id}  {n.phone}  {n.name}  {n.provider}  {keys[n.id]}" for n in sandbox.numbers]
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

"""A store filled with what the sandbox platform emits: realistic traffic (named numbers,
messages with steps, replies, groups, channels, number events) written by the real
writer, as the receiver would have stored it, without a receiver in between."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from pilot_desktop.core.events import classify
from pilot_desktop.core.lifecycle import observe
from pilot_desktop.core.signature import verify
from pilot_desktop.sandbox.scenario import Emission, SandboxNumber, Scenario
from pilot_desktop.store.db import open_store
from pilot_desktop.store.records import IncomingEvent
from pilot_desktop.store.writer import Writer


def sandbox_traffic(
    numbers: list[SandboxNumber], seconds: float, *, seed: int = 1, rate: float = 4.0
) -> list[Emission]:
    """What the scenario emits for `numbers` over the last `seconds` (event times end now)."""
    start = datetime.fromtimestamp(time.time() - seconds, UTC)
    return Scenario(seed, numbers, rate=rate, start=start).next_batch(seconds)


def store_traffic(data: Path, emissions: list[Emission]) -> None:
    """Each emission stored through the real writer, as the receiver stores a delivery."""

    async def run() -> None:
        writer = Writer(open_store(data), asyncio.get_running_loop())
        writer.start()
        for e in emissions:
            raw = json.dumps(e.body).encode()
            await writer.submit(
                IncomingEvent(
                    time.time(), None, [], raw, classify(e.body), verify(raw, None, []), observe(e.body)
                )
            )
        await writer.stop()

    asyncio.run(run())

"""A catch-up reads back only what may have changed across the gap: non-final messages first
seen within a day before it, not every DELIVERED message of the week at every restart; and a
lasting rate limit stops the run instead of retrying for ever. The platform (outside this
machine) is a stand-in client; the store is a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import MessageDetails
from pilot_desktop.services.catch_up import CatchUp, CatchUpSettings
from pilot_desktop.store.db import open_store
from pilot_desktop.store.reads import Reads


def _store(folder: Path, now: float) -> Path:
    """600 messages sent over three days up to 22 h ago, all DELIVERED (read receipts off)."""
    path = open_store(folder)
    conn = sqlite3.connect(path)
    for i in range(600):
        t = now - 3 * 86400 + i * 300
        conn.execute(
            "INSERT INTO messages (outbound, status, status_at, msg_id, number_id, first_at, "
            "first_received_at, steps, late) VALUES (1, 'DELIVERED', ?, ?, 'num_a', ?, ?, 2, 0)",
            (t, f"msg_{i}", t, t),
        )
        mid = conn.execute("SELECT max(id) FROM messages").fetchone()[0]
        for n, status in enumerate(("SENT", "DELIVERED")):
            conn.execute(
                "INSERT INTO message_steps (event_id, message, status, at, late) VALUES (?, ?, ?, ?, 0)",
                (2 * i + n + 1, mid, status, t + n),
            )
    conn.commit()
    conn.close()
    return path


class Platform:
    def __init__(self, limited: bool = False) -> None:
        self.reads = 0
        self.limited = limited

    async def __aenter__(self) -> Platform:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def list_webhooks(self) -> list[Any]:
        return []

    async def message_history(self, **_: Any) -> list[Any]:
        return []

    async def get_message(self, message_id: str) -> MessageDetails:
        self.reads += 1
        if self.limited:
            raise ApiError(429, "RATE_LIMITED", "slow down", retry_after=0.0)
        return MessageDetails.model_validate(
            {
                "id": message_id,
                "status": "DELIVERED",
                "sentAt": "2026-01-01T00:00:00Z",
                "deliveredAt": "2026-01-01T00:00:01Z",
            }
        )


def _accounts(platform: Platform) -> Any:
    account = SimpleNamespace(id="a")
    return SimpleNamespace(
        all=[account], numbers=lambda: [(account, SimpleNamespace(id="num_a"))], client=lambda a, n: platform
    )


async def _nothing(_item: Any) -> None:
    raise AssertionError("nothing is to be stored")


def test_old_delivered_messages_are_not_read_back_at_every_gap(tmp_path: Path) -> None:
    now = time.time()
    reads = Reads(_store(tmp_path, now))
    platform = Platform()
    catch_up = CatchUp(_accounts(platform), reads, _nothing, "tok", CatchUpSettings(pace_s=0.0))
    try:
        for _ in range(3):  # three short gaps: three restarts
            summary = asyncio.run(catch_up.run(now - 40, now - 5))
            assert summary["messages_restored"] == 0 and not summary["stopped"]
    finally:
        reads.close()
    # Only those first seen within a day before the gaps (24 of them), at each gap.
    assert platform.reads == 3 * 24


def test_a_lasting_rate_limit_stops_the_run(tmp_path: Path) -> None:
    now = time.time()
    reads = Reads(_store(tmp_path, now))
    platform = Platform(limited=True)
    settings = CatchUpSettings(pace_s=0.0, max_waits=3)
    try:
        summary = asyncio.run(
            CatchUp(_accounts(platform), reads, _nothing, "tok", settings).run(now - 40, now - 5)
        )
    finally:
        reads.close()
    assert "rate limited 4 times" in summary["stopped"]
    assert platform.reads == 4

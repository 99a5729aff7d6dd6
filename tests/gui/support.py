"""Helpers for GUI tests that run on the Qt loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(pred: Callable[[], bool], seconds: float = 15.0, step: float = 0.02) -> None:
    """Poll on the loop: qtbot.waitUntil would spin a nested Qt loop that runs no asyncio task."""
    deadline = time.monotonic() + seconds
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)

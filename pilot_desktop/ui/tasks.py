"""Network work started from clicks, on the asyncio-on-Qt loop.

Like qasync's `asyncSlot`, a click starts a task and returns at once, so the window
never freezes; unlike it, the tasks are kept (a task nobody references can be collected
mid-flight) and `settled()` lets tests and shutdown wait for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Tasks:
    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # The pane handles the errors it expects; anything else is a bug to see.
            loop = asyncio.get_event_loop()
            loop.call_exception_handler({"message": "unhandled error in a UI task", "exception": exc})

    @property
    def busy(self) -> bool:
        return bool(self._running)

    async def settled(self) -> None:
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self._running):
            task.cancel()

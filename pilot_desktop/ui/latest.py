"""Background reads where only the latest counts (beside ui/tasks.py for clicked work).

A pane that re-reads the store (a new filter, a refresh, a page further down) starts a read;
it runs in a worker thread so the window never waits for SQLite. When a newer read is
started before an older one finishes, or the pane shuts down, the older result is dropped:
what is drawn is always the answer to the latest question.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class LatestRead(Generic[T]):
    def __init__(self, done: Callable[[T], None], failed: Callable[[Exception], None]) -> None:
        """`done(result)` and `failed(error)` run on the GUI thread, for the latest read only."""
        self._done, self._failed = done, failed
        self._generation = 0
        self._task: asyncio.Future[None] | None = None

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, work: Callable[[], T]) -> None:
        """Run `work()` in a worker thread; a read still under way is superseded."""
        self._generation += 1
        # Keep a reference: the loop holds tasks weakly.
        self._task = asyncio.ensure_future(self._run(work, self._generation))

    def cancel(self) -> None:
        """Nothing more is delivered (shutdown, or the pane starts over)."""
        self._generation += 1
        if self._task is not None:
            self._task.cancel()

    async def settled(self) -> None:
        """Wait until the read under way, if any, is delivered (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def _run(self, work: Callable[[], T], generation: int) -> None:
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, work)
        except Exception as exc:  # the store is environmental: the owner says so
            if generation == self._generation:
                self._failed(exc)
            return
        if generation == self._generation:
            self._done(result)

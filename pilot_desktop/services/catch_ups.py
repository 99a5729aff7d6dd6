"""The catch-ups of the running core: one after each gap that closes, in the background.

The gap recorder (services/gaps.py) tells `gap_closed` on the loop; each gap is caught up
once (services/catch_up.py), one at a time, after the settle delay, and only while some
account can read the platform. The first one also takes the gaps an earlier run ended
without a catch-up (it stopped during one, or had no account then), within the last
`open_window_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from pilot_desktop.services.catch_up import CatchUp
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.records import Gap

log = logging.getLogger(__name__)


class CatchUps:
    """Catch-ups after closed gaps, in the background, one at a time."""

    def __init__(self, catch_up: CatchUp) -> None:
        self.catch_up = catch_up
        self._queue: asyncio.Queue[Gap] = asyncio.Queue()
        self._queued: set[int] = set()  # gap ids, each caught up once per run
        self._earlier = False  # the earlier runs' gaps were looked for
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.done: list[tuple[Gap, dict[str, Any]]] = []  # what ran, oldest first (bounded)
        # Told after each catch-up with its gap and summary (serve's console, a status line).
        self.on_done: list[Callable[[Gap, dict[str, Any]], None]] = []

    def gap_closed(self, gap: Gap) -> None:
        """The gap recorder's listener (on the loop)."""
        if self._stopped:
            return
        if not self.catch_up.accounts.all:
            log.info("gap %s closed; no account, so no catch-up through the API", gap.id)
            return
        self._enqueue(gap)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._work())

    def _enqueue(self, gap: Gap) -> None:
        if gap.id not in self._queued and gap.ended_at is not None:
            self._queued.add(gap.id)
            self._queue.put_nowait(gap)

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _work(self) -> None:
        if not self._earlier:
            self._earlier = True
            since = time.time() - self.catch_up.settings.open_window_s
            try:
                earlier = await asyncio.to_thread(self.catch_up.reads.gaps, since, 1000)
            except StoreError as exc:
                log.warning("gaps not caught up earlier could not be read: %s", exc)
                earlier = []
            for gap in earlier:
                if gap.caught_up_at is None:
                    self._enqueue(gap)
        while not self._queue.empty():
            gap = self._queue.get_nowait()
            await asyncio.sleep(self.catch_up.settings.settle_s)
            try:
                summary = await self.catch_up.after_gap(gap)
            except Exception:  # a bug must not end catching up for the session
                log.exception("catch-up after gap %s failed", gap.id)
                continue
            self.done = [*self.done[-19:], (gap, summary)]
            for listener in list(self.on_done):
                try:
                    listener(gap, summary)
                except Exception:
                    log.exception("a catch-up listener failed")

    async def stop(self) -> None:
        """Idempotent; a catch-up under way is cancelled (what it stored stays)."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

"""Re-reading a pane from the store while it is visible (the Delivery and Numbers tabs).

A hidden tab does no work. A visible one re-reads when the writer said something it shows
changed (`mark_dirty`, from its change listener), at most every `throttle_s` however busy
the stream, and every `stale_s` anyway because what it shows ages. The read runs in a
worker thread (ui/latest.py): a newer read supersedes one still under way, so only the
latest is drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

from pilot_desktop.ui.latest import LatestRead

T = TypeVar("T")
TICK_MS = 500


class Refresher(QObject, Generic[T]):
    def __init__(
        self,
        owner: QWidget,
        job: Callable[[], Callable[[], T]],
        draw: Callable[[T], None],
        failed: Callable[[Exception], None],
        *,
        throttle_s: float,
        stale_s: float,
        busy_share: float | None = None,
    ) -> None:
        """`job()` runs on the GUI thread and returns the read to run in the worker (so
        it captures the choices of the moment); `draw(result)` and `failed(error)` run on
        the GUI thread. With `busy_share`, reads also wait long enough for the worker to
        be busy at most that share of the time (slow reads on big stores)."""
        super().__init__(owner)
        self._owner = owner
        self._job, self._draw = job, draw
        self._throttle_s, self._stale_s, self._busy_share = throttle_s, stale_s, busy_share
        self.dirty = True
        self._started_at = -throttle_s
        self._drawn_at = 0.0
        self._cost = 0.0  # seconds the last read took
        self._read: LatestRead[T] = LatestRead(self._done, failed)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)  # runs only while the owner is visible
        owner.installEventFilter(self)

    def mark_dirty(self) -> None:
        self.dirty = True

    def now(self) -> None:
        """The user asked (a new choice): read at once if visible, superseding a read
        under way; otherwise when next shown."""
        self.dirty = True
        if self._owner.isVisible():
            self._start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._owner and event.type() == QEvent.Type.Show:
            self._timer.start()
            self._tick()
        elif watched is self._owner and event.type() == QEvent.Type.Hide:
            self._timer.stop()
        return False  # the owner handles its events as usual

    async def settled(self) -> None:
        """Wait until the read under way, if any, is drawn (tests, shutdown)."""
        await self._read.settled()

    @property
    def busy(self) -> bool:
        return self._read.busy

    def shutdown(self) -> None:
        self._read.cancel()  # a read still running must not draw
        self._timer.stop()

    def _tick(self) -> None:
        if not self._owner.isVisible() or self.busy:
            return
        clock = time.monotonic()
        wait = (
            self._throttle_s
            if self._busy_share is None
            else max(self._throttle_s, self._cost / self._busy_share)
        )
        if clock - self._started_at < wait:
            return
        if self.dirty or clock - self._drawn_at >= self._stale_s:
            self._start()

    def _start(self) -> None:
        self.dirty = False
        self._started_at = time.monotonic()
        self._read.start(self._job())

    def _done(self, result: T) -> None:
        self._drawn_at = time.monotonic()
        self._cost = self._drawn_at - self._started_at
        self._draw(result)

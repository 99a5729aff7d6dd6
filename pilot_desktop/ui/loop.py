"""The asyncio loop on Qt: qasync's QEventLoop with batched ready callbacks.

qasync runs every `call_soon` as its own Qt timer (startTimer, a timerEvent, killTimer).
Under webhook load that is thousands of timers a second and most of the GUI thread's
time. Here ready callbacks go to a deque that one reusable zero-interval timer drains,
in FIFO order like asyncio's own loop; `call_later` with a real delay is unchanged.
A drain runs at most a few milliseconds before giving Qt its turn, so painting and
input stay responsive under load.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

DRAIN_BUDGET_S = 0.005


class QtLoop(qasync.QEventLoop):
    def __init__(self, app: QApplication | None = None, **kwargs: Any) -> None:
        self._ready_handles: deque[asyncio.Handle] = deque()
        self._drain_timer = QTimer()
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain)
        super().__init__(app, **kwargs)

    def call_soon(
        self, callback: Callable[..., Any], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context=context)
        self._ready_handles.append(handle)
        if not self._drain_timer.isActive():
            self._drain_timer.start()
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[..., Any],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        if delay <= 0:
            return self.call_soon(callback, *args, context=context)
        return super().call_later(delay, callback, *args, context=context)

    def _drain(self) -> None:
        # Only what was ready when the drain began: callbacks scheduled meanwhile wait for
        # the next turn, as in asyncio, so Qt events interleave.
        ready = self._ready_handles
        deadline = time.monotonic() + DRAIN_BUDGET_S
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()
            if time.monotonic() > deadline:
                break
        if ready and not self.is_closed():
            self._drain_timer.start()

    def close(self) -> None:
        self._drain_timer.stop()
        self._ready_handles.clear()
        super().close()

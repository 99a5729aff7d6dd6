"""What the tunnel manager records (services/tunnel.py): its status (`TunnelMark`, the single
`tunnel` row; output-only changes at most once a second) and its URL history (`UrlMark`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pilot_desktop.store.watch_records import TunnelMark
from pilot_desktop.tunnel.providers import TunnelStatus

log = logging.getLogger(__name__)

OUTPUT_MARK_S = 1.0  # output-only changes are recorded at most this often


class TunnelRecord:
    def __init__(
        self,
        submit: Callable[[Any], Awaitable[object]],
        spawn: Callable[[Awaitable[Any]], None],
        current: Callable[[], TunnelStatus],
    ) -> None:
        self._submit, self._spawn, self._current = submit, spawn, current
        self._marked_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def later(self) -> None:
        """Output only: recorded at most every OUTPUT_MARK_S (the newest lines win)."""
        if self._timer is not None:
            return
        wait = max(0.0, self._marked_at + OUTPUT_MARK_S - time.time())
        self._timer = asyncio.get_running_loop().call_later(wait, lambda: self._spawn(self._now()))

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def _now(self) -> None:
        self._timer = None
        await self.mark(self._current())

    async def mark(self, status: TunnelStatus) -> None:
        self._marked_at = time.time()
        s = status
        await self.record(
            TunnelMark(time.time(), s.mode, s.public_url, s.state, s.pid, s.since, s.error, s.output)
        )

    async def record(self, item: object) -> None:
        try:
            await self._submit(item)
        except Exception as exc:  # the store stopped: the tunnel still runs
            log.info("tunnel state not recorded: %s", exc)

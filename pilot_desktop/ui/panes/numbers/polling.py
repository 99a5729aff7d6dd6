"""The number poller's task for the window's lifetime (no Qt here).

It runs while there is at least one account: started at launch when there is one, or
when the first account is added; after any change of the accounts, numbers whose polling
stopped (a permanent error) are tried again. `stop()` is awaited in the async main's
staged shutdown, before the writer drains (craft.md habit 15).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pilot_desktop.services.number_poller import NumberPoller

log = logging.getLogger(__name__)


class NumberPolling:
    def __init__(self, poller: NumberPoller) -> None:
        self.poller = poller
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def has_accounts(self) -> bool:
        return bool(self.poller.accounts.all)

    def start(self) -> None:
        """Start polling if there is an account and it does not run yet."""
        if self._stopped or self.running or not self.has_accounts:
            return
        self._task = asyncio.ensure_future(self.poller.run())
        log.info("number polling every %.0f s", self.poller.interval)

    def accounts_changed(self) -> None:
        self.poller.reset()
        self.start()

    async def stop(self) -> None:
        """Idempotent; a poll under way is cancelled (what it submitted is still stored)."""
        self._stopped = True
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

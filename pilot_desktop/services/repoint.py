"""Re-pointing: when the public URL changes, move this app's webhooks to the new one.

"This app's webhooks" are those whose URL carries this receiver's token but not the current
public URL (`Change.recommended` in services/webhooks.py: an older tunnel address, or the
local one). Webhooks pointing at other systems are never moved here; the operator may pick
them in the preview (`apply(changes, "preview")`).

With `tunnel.auto_repoint` on, a URL change moves them at once (source "auto"); otherwise
they wait in `pending` for the operator's preview, and subscribers are told. Every move is
recorded (`UrlMark(kind="registered")`), every failure too (`repoint_failed`, once per reason:
a webhook whose move failed stays pending, a number whose webhooks could not be read is named);
after a move a probe through the new URL verifies the path. API errors never escape.

What failed, or waits for the operator, is looked at again with backoff (RETRY_S: 1, 2, 5,
10 min; a new URL looks at once), never at every probe. `settled` (the `tunnel` gap may close)
counts the numbers that were read: nothing of this app left on an old URL but what failed and
was recorded; a number that cannot be read or a move the platform keeps refusing does not hold
the gap open forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pilot_desktop.api.errors import ApiError
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.config import SettingsError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.webhook_admin import AdminError, WebhookAdmin
from pilot_desktop.services.webhooks import Change, plan_retarget
from pilot_desktop.store.watch_records import UrlMark

if TYPE_CHECKING:
    from pilot_desktop.services.reachability import Reach, Reachability

log = logging.getLogger(__name__)

Submit = Callable[[Any], Awaitable[object]]
PendingListener = Callable[[list[Change]], None]
ResultListener = Callable[["RepointResult"], None]
# What an API call, the accounts or the secret bookkeeping may raise: said, kept pending.
FAILURES = (ApiError, AccountError, AdminError, SecretsError, SettingsError)
RETRY_S = (60.0, 120.0, 300.0, 600.0)  # a look that left something behind, tried again after


@dataclass(frozen=True)
class RepointResult:
    moved: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    pending: list[Change] = field(default_factory=list)  # waiting for the operator (or a retry)
    probe: Reach | None = None  # the probe through the new URL after a move
    unlisted: list[str] = field(default_factory=list)  # numbers whose webhooks could not be read
    unread: list[tuple[str, str]] = field(default_factory=list)  # (number, why): newly not read
    told: bool = True  # something new for the followers (a move, a new failure, another pending list)


class Repointer:
    def __init__(
        self,
        admin: WebhookAdmin,
        submit: Submit,
        *,
        auto: Callable[[], bool],
        reachability: Reachability | None = None,
        backoff: Sequence[float] | None = None,
    ) -> None:
        """`auto()`: the setting tunnel.auto_repoint, read at each URL change; `backoff`: the
        waits before looking again while something is left (RETRY_S)."""
        self.admin, self._submit, self._auto, self.reachability = admin, submit, auto, reachability
        self.pending: list[Change] = []
        self.unlisted: list[str] = []  # numbers whose list failed at the last look: unknown
        self._listeners: list[PendingListener] = []
        self._followers: list[ResultListener] = []
        self._failed_said: dict[str, str] = {}  # webhook id -> the failure last recorded
        self._unread_said: dict[str, str] = {}  # number id -> why its webhooks were not read
        self._lock = asyncio.Lock()  # one look at the platform at a time
        self._backoff = tuple(backoff or RETRY_S)
        self._tries = 0  # looks in a row that left something behind
        self._timer: asyncio.TimerHandle | None = None
        self._later: asyncio.Task[RepointResult] | None = None
        self._stopped = False

    @property
    def settled(self) -> bool:
        """No webhook of this app on an old URL waits in the numbers that were read, but those
        whose move failed (recorded, tried again later)."""
        return all(c.webhook.id in self._failed_said for c in self.pending)

    async def stop(self) -> None:
        """No more looks later. Idempotent."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self._later is not None:
            self._later.cancel()
            await asyncio.gather(self._later, return_exceptions=True)

    def subscribe(self, listener: PendingListener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: PendingListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def follow(self, listener: ResultListener) -> None:
        """`listener(result)` after every look that moved, failed or left something pending
        (serve's console lines)."""
        self._followers.append(listener)

    async def url_changed(self, old: str | None, new: str) -> RepointResult:
        """The public URL is now `new`: find this app's webhooks elsewhere and move them (auto)
        or keep them pending for the preview."""
        log.info("public URL %s -> %s: looking for this app's webhooks on an old address", old, new)
        self._tries = 0  # a new URL: looked at at once, the backoff starts again
        return await self.retry(source="auto")

    async def retry(self, source: str = "auto") -> RepointResult:
        """Look again (each number's webhooks) and move or list what points at an old URL."""
        async with self._lock:
            try:
                changes, unread = await self._plan(source)
            except FAILURES as exc:  # nothing read: every number is unknown until a later look
                log.info("webhooks not re-pointed: %s", exc)
                self.unlisted = [n.id for _, n in self.admin.accounts.numbers()] or ["?"]
                self._again(True)
                return RepointResult(pending=list(self.pending), unlisted=list(self.unlisted))
            if not self._auto():
                changed = self._set_pending(changes)
                result = RepointResult(pending=list(changes), unlisted=list(self.unlisted), unread=unread)
                self._again(bool(self.unlisted or changes))
                return self._told(replace(result, told=changed or bool(unread)))
            result = await self._apply(changes, source)
            result = replace(result, unread=unread, told=result.told or bool(unread))
            self._again(bool(self.unlisted or result.failed))
        return await self._verified(result)

    def _again(self, left: bool) -> None:
        """Something left behind (a number not read, a move failed, webhooks waiting for the
        operator): look again after the next backoff step; nothing left: the backoff restarts."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not left or self._stopped:
            self._tries = 0
            return
        wait = self._backoff[min(self._tries, len(self._backoff) - 1)]
        self._tries += 1
        self._timer = asyncio.get_running_loop().call_later(wait, self._look_later)

    def _look_later(self) -> None:
        self._timer = None
        if not self._stopped:
            self._later = asyncio.ensure_future(self.retry())
            self._later.add_done_callback(_logged)

    async def apply(self, changes: Sequence[Change], source: str = "preview") -> RepointResult:
        """Move the given webhooks (the operator's choice in the preview)."""
        async with self._lock:
            result = await self._apply(list(changes), source)
        return await self._verified(result)

    async def _plan(self, source: str) -> tuple[list[Change], list[tuple[str, str]]]:
        """This app's webhooks on an old URL, and the numbers newly not read (recorded once per
        reason; `unlisted` names them all)."""
        target = self.admin.target()
        if target is None or not self.admin.accounts.all:
            self.unlisted = []
            return [], []
        listing = await self.admin.list_all()
        self.unlisted = [number.id for number, _ in listing.failures]
        for number_id in set(self._unread_said) - set(self.unlisted):
            del self._unread_said[number_id]  # read again
        unread: list[tuple[str, str]] = []
        for number, exc in listing.failures:
            if self._unread_said.get(number.id) == str(exc):
                continue
            self._unread_said[number.id] = str(exc)
            unread.append((number.id, str(exc)))
            log.info("webhooks of number %s not read (looked at again later): %s", number.id, exc)
            detail = f"its webhooks could not be read: {exc}"
            kind, url = "repoint_failed", target.public_url
            await self._record(UrlMark(time.time(), kind, url, source, number_id=number.id, detail=detail))
        hooks = [hook for hook, _ in listing.hooks]
        return [c for c in plan_retarget(hooks, target) if c.recommended], unread

    async def _apply(self, changes: list[Change], source: str) -> RepointResult:
        moved: list[Change] = []
        failed: list[tuple[Change, str]] = []
        fresh = False  # a failure not said before
        base = self.admin.target()
        for change in changes:
            mark = {
                "webhook_id": change.webhook.id,
                "number_id": change.number_id,
                "old_url": change.webhook.url,
            }
            try:
                await self.admin.retarget(change)
            except FAILURES as exc:
                failed.append((change, str(exc)))
                if self._failed_said.get(change.webhook.id) != str(exc):  # a retry failing alike: said once
                    self._failed_said[change.webhook.id] = str(exc)
                    fresh = True
                    log.info("webhook %s not re-pointed: %s", change.webhook.id, exc)
                    await self._record(
                        UrlMark(
                            time.time(), "repoint_failed", change.new_url, source, detail=str(exc), **mark
                        )
                    )
                continue
            self._failed_said.pop(change.webhook.id, None)
            moved.append(change)
            log.info("webhook %s re-pointed (%s)", change.webhook.id, source)
            public = base.public_url if base is not None else None
            await self._record(UrlMark(time.time(), "registered", public, source, **mark))
        done = {c.webhook.id for c in moved}
        failed_ids = {c.webhook.id for c, _ in failed}
        # Kept pending: what failed, and what was pending and not asked for now.
        keep = [c for c in self.pending if c.webhook.id not in done and c.webhook.id not in failed_ids]
        changed = self._set_pending(keep + [c for c, _ in failed if c.recommended])
        result = RepointResult(moved, failed, list(self.pending), None, list(self.unlisted))
        return replace(result, told=bool(moved or fresh or changed))

    async def _verified(self, result: RepointResult) -> RepointResult:
        """After a move, a probe through the new URL says whether the path works."""
        if result.moved and self.reachability is not None:
            try:
                reach = await self.reachability.check_now("repoint")
            except Exception:  # a probe bug must not undo the moves' report
                log.exception("the probe after re-pointing failed")
            else:
                result = replace(result, probe=reach)
        return self._told(result)

    def _told(self, result: RepointResult) -> RepointResult:
        if result.told:
            for listener in list(self._followers):
                try:
                    listener(result)
                except Exception:
                    log.exception("a re-pointing follower failed")
        return result

    def _set_pending(self, changes: list[Change]) -> bool:
        """Keep `changes` pending; True (and listeners told) when that changed the list."""
        before = [c.webhook.id for c in self.pending]
        self.pending = changes
        if [c.webhook.id for c in changes] == before:
            return False
        for listener in list(self._listeners):
            try:
                listener(list(changes))
            except Exception:
                log.exception("a re-pointing listener failed")
        return True

    async def _record(self, mark: UrlMark) -> None:
        try:
            await self._submit(mark)
        except Exception as exc:  # the store stopped: the move itself happened
            log.info("URL history not recorded: %s", exc)


def _logged(task: asyncio.Task[RepointResult]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("a later re-pointing look failed", exc_info=exc)

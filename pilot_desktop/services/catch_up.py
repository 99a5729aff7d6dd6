"""Catch-up after a gap: what the platform knows and the store missed, read back via the API.

While this receiver could not receive (a gap, services/gaps.py) the platform's retries may
have run out, and those events are lost for good. For a gap [start, end], per number an
account can act on (one client each):

1. every webhook whose URL points at this receiver (it names this receiver's token) has
   its delivery logs within the gap compared with the store (webhook_logs.py, the pane's
   comparison): received / missing / failed are counted, and the message ids of logged
   message events that are not stored become candidates;
2. `GET /v1/messages/history` over [start - margin, end + margin] (api §5.4): outbound
   rows that know a step the store lacks become candidates;
3. the store's outbound messages left QUEUED, SENT or DELIVERED whose first step came
   before the gap's end (the newest 500 within 7 days) are candidates too.

Each candidate is read with `GET /v1/messages/{id}`; the steps it knows and the store lacks
are stored as reconstructed events (reconstruct.py): never a step the store has, and the
status never goes back. Requests are paced (`pace_s`); a 429 is waited out as it says
(`retryAfterSeconds` / `Retry-After`) and the run goes on; a network failure, or a wait
longer than `max_wait_s`, stops the run with the reason recorded. The summary is recorded
on the gap (`GapMark.catch_up`) and logged.

`CatchUps` (catch_ups.py) runs them in the background, one at a time, after a gap closes
(with an account), once a settle delay has passed: retries the platform still has under way
land first. `pilot-desktop reconcile` runs `CatchUp.run` for [since, now].
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from pilot_desktop.api.client import HISTORY_PAGE_MAX, PilotClient
from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import DeliveryLog
from pilot_desktop.core.events import message_id_of
from pilot_desktop.core.format import iso, parse_time
from pilot_desktop.services.accounts import AccountError, Accounts
from pilot_desktop.services.reconstruct import lacks, missing_steps, reconstructed_event
from pilot_desktop.services.state import AccountNumber
from pilot_desktop.services.webhook_logs import compare_logs
from pilot_desktop.services.webhooks import route_of
from pilot_desktop.store.catch_up_queries import StoredOutbound
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Gap, GapMark, IncomingEvent, Refused, Stored

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUS_EVENTS = frozenset({"message.sent", "message.delivered", "message.read", "message.failed"})
MAX_LOGS = 50  # the platform's limit per request (api §2.7)
IDS_SHOWN = 10  # message ids named in one problem line; the rest counted


@dataclass(frozen=True)
class CatchUpSettings:
    settle_s: float = 30.0  # after a gap closes: the platform's running retries land first
    margin_s: float = 120.0  # history read this much before and after the gap (clock skew)
    pace_s: float = 0.25  # at least this long between two requests: 4 a second
    max_wait_s: float = 120.0  # a 429 asking for a longer wait stops the run
    default_wait_s: float = 5.0  # a 429 naming no wait
    open_limit: int = 500  # non-final messages read back, newest first
    # Non-final messages first seen this long before the gap are read back (a DELIVERED one
    # whose contact has read receipts off stays so: older ones are not re-read at every gap).
    open_recent_s: float = 86_400.0
    open_window_s: float = 7 * 86_400.0  # gaps an earlier run never caught up (catch_ups.py)
    max_waits: int = 20  # 429s waited out in one run; one more stops it (a lasting quota)
    history_pages: int = 20  # per number and run: 2,000 rows at most


class Stop(Exception):
    """The run cannot go on (no network, rate limited too long, the store refuses)."""


@dataclass
class Summary:
    start: float
    end: float
    webhooks_compared: int = 0
    received_in_logs: int = 0
    missing_in_logs: int = 0
    failed_in_logs: int = 0
    history_rows: int = 0
    messages_checked: int = 0
    messages_restored: int = 0
    steps: int = 0
    rate_limited_waits: int = 0
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)
    # Messages that could not be read back, by reason: said as one line per reason.
    unread: dict[str, list[str]] = field(default_factory=dict)

    def not_read(self, msg_id: str, exc: ApiError) -> None:
        # The platform's detail names the message again ("Message msg_… was not found."):
        # left out, so messages failing alike share one reason.
        if exc.detail and msg_id in exc.detail:
            exc = ApiError(exc.status, exc.code, exc.sentence, retry_after=exc.retry_after)
        self.unread.setdefault(str(exc), []).append(msg_id)

    def fold_unread(self) -> None:
        for reason, ids in self.unread.items():
            if len(ids) == 1:
                self.errors.append(f"message {ids[0]}: {reason}")
                continue
            named = ", ".join(ids[:IDS_SHOWN])
            more = f" and {len(ids) - IDS_SHOWN} more" if len(ids) > IDS_SHOWN else ""
            self.errors.append(f"{len(ids)} messages could not be read back ({named}{more}): {reason}")
        self.unread.clear()

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["unread"]
        out["start"], out["end"] = iso(self.start), iso(self.end)
        out["summary"] = self.line()  # the sentence `pilot-desktop gaps` shows
        return out

    def line(self) -> str:
        text = (
            f"{self.messages_restored} of {self.messages_checked} messages checked restored "
            f"({self.steps} steps); {self.webhooks_compared} webhooks' logs: "
            f"{self.missing_in_logs} missing, {self.failed_in_logs} failed deliveries"
        )
        if self.stopped:
            text += f"; stopped: {self.stopped}"
        elif self.errors:
            text += f"; {len(self.errors)} problems, first: {self.errors[0]}"
        return text


Submit = Callable[[IncomingEvent | GapMark], Awaitable[object]]


class CatchUp:
    """One catch-up at a time over the accounts' numbers; `token`: this receiver's, to tell
    which webhooks point here."""

    def __init__(
        self,
        accounts: Accounts,
        reads: Reads,
        submit: Submit,
        token: str,
        settings: CatchUpSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.accounts, self.reads, self._submit, self.token = accounts, reads, submit, token
        self.settings = settings or CatchUpSettings()
        self._clock, self._sleep = clock, sleep
        self._next_request = 0.0
        self._waits = 0

    async def after_gap(self, gap: Gap) -> dict[str, Any]:
        """Catch up over the gap and record the summary on it."""
        end = gap.ended_at if gap.ended_at is not None else self._clock()
        summary = await self.run(gap.started_at, end)
        mark = GapMark(gap_id=gap.id, caught_up_at=self._clock(), catch_up=json.dumps(summary))
        try:
            await self._submit(mark)
        except Exception as exc:  # the summary is still in the log
            log.warning("catch-up of gap %s not recorded: %s", gap.id, exc)
        return summary

    async def run(self, start: float, end: float) -> dict[str, Any]:
        summary = Summary(start, end)
        self._next_request, self._waits = 0.0, 0
        try:
            await self._run(summary)
        except Stop as exc:
            summary.stopped = str(exc)
        except StoreError as exc:  # a read of the log comparison
            summary.stopped = f"the store cannot be read: {exc}"
        summary.fold_unread()
        summary.rate_limited_waits = self._waits
        log.info("catch-up %s .. %s: %s", iso(start), iso(end), summary.line())
        return summary.as_dict()

    async def _run(self, summary: Summary) -> None:
        s = self.settings
        try:
            stale = await asyncio.to_thread(
                self.reads.open_outbound, summary.start - s.open_recent_s, summary.end, s.open_limit
            )
        except StoreError as exc:
            raise Stop(f"the store cannot be read: {exc}") from exc
        numbers = self.accounts.numbers()
        readable = {n.id for _, n in numbers}
        unread = sum(1 for m in stale if m.number_id not in readable)
        if unread:
            summary.errors.append(f"{unread} unfinished messages belong to numbers no account can read")
        seen_hooks: set[str] = set()
        for account, number in numbers:
            try:
                client = self.accounts.client(account, number.id)
            except AccountError as exc:
                summary.errors.append(f"number {number.id}: {exc}")
                continue
            async with client:
                mine = [m.msg_id for m in stale if m.number_id == number.id]
                try:
                    await self._number(client, number, mine, seen_hooks, summary)
                except ApiError as exc:  # this number's key is refused: the others go on
                    summary.errors.append(f"number {number.id}: {exc}")

    async def _number(
        self,
        client: PilotClient,
        number: AccountNumber,
        stale: list[str],
        seen_hooks: set[str],
        summary: Summary,
    ) -> None:
        candidates: dict[str, None] = {}  # message ids, in the order found
        for what, phase in (
            ("delivery logs", functools.partial(self._logs, client, number.id, seen_hooks, summary)),
            ("message history", functools.partial(self._history, client, summary)),
        ):
            try:
                candidates.update(dict.fromkeys(await phase()))
            except ApiError as exc:
                if exc.status == 401:
                    raise  # the key itself is refused: nothing of this number can be read
                summary.errors.append(f"number {number.id}, {what}: {exc}")
        candidates.update(dict.fromkeys(stale))
        stored = await self._stored(candidates)
        for msg_id in candidates:
            await self._restore(client, number.id, msg_id, stored.get(msg_id), summary)

    async def _stored(self, msg_ids: Any) -> dict[str, StoredOutbound]:
        try:
            found: dict[str, StoredOutbound] = await asyncio.to_thread(
                self.reads.outbound_by_ids, list(msg_ids)
            )
        except StoreError as exc:
            raise Stop(f"the store cannot be read: {exc}") from exc
        return found

    # -- 1. delivery logs ------------------------------------------------------------------------
    async def _logs(self, client: PilotClient, number_id: str, seen: set[str], summary: Summary) -> list[str]:
        hooks = await self._request(client.list_webhooks)
        found: list[str] = []
        for hook in hooks:
            route = route_of(hook.url, self.token)
            if route is None or hook.id in seen or hook.number_id not in (None, number_id):
                continue  # another system's webhook, or compared already
            seen.add(hook.id)
            logs = await self._request(functools.partial(client.webhook_logs, hook.id, limit=MAX_LOGS))
            logs = [e for e in logs if self._in_window(e, summary)]
            comparison = await compare_logs(self.reads, logs, route or None)
            counts = comparison.counts
            summary.webhooks_compared += 1
            summary.received_in_logs += counts["received"]
            summary.missing_in_logs += counts["missing"]
            summary.failed_in_logs += counts["failed"]
            found += [m for c in comparison.checks if not c.stored and (m := _logged_message(c.log))]
        return found

    def _in_window(self, entry: DeliveryLog, summary: Summary) -> bool:
        at = parse_time(entry.created_at)
        margin = self.settings.margin_s
        return at is None or summary.start - margin <= at <= summary.end + margin

    # -- 2. history --------------------------------------------------------------------------------
    async def _history(self, client: PilotClient, summary: Summary) -> list[str]:
        margin = self.settings.margin_s
        start, end = iso(summary.start - margin), iso(summary.end + margin)
        rows = []
        for page in range(1, self.settings.history_pages + 1):
            ask = functools.partial(
                client.message_history, start=start, end=end, page=page, page_size=HISTORY_PAGE_MAX
            )
            got = await self._request(ask)
            rows += [r for r in got if r.outbound]
            if len(got) < HISTORY_PAGE_MAX:
                break
        else:
            summary.errors.append(
                f"history longer than {self.settings.history_pages} pages: the rest not read"
            )
        summary.history_rows += len(rows)
        stored = await self._stored(r.id for r in rows)
        return [r.id for r in rows if lacks(r, stored.get(r.id))]

    # -- 3. read back and store ---------------------------------------------------------------
    async def _restore(
        self,
        client: PilotClient,
        number_id: str,
        msg_id: str,
        stored: StoredOutbound | None,
        summary: Summary,
    ) -> None:
        try:
            details = await self._request(lambda: client.get_message(msg_id))
        except ApiError as exc:
            if exc.status in (401, 403):
                raise  # the number's key: its other messages would fail the same way
            summary.not_read(msg_id, exc)
            return
        summary.messages_checked += 1
        read_at = self._clock()
        restored = 0
        for step in missing_steps(details, stored):
            item = reconstructed_event(details, number_id, step, read_at, now=self._clock())
            result = await self._store(item)
            if isinstance(result, Refused):
                summary.errors.append(
                    f"message {msg_id}: the store refused its {step.event}: {result.reason}"
                )
            elif isinstance(result, Stored) and not result.duplicate:
                restored += 1
        if restored:
            summary.messages_restored += 1
            summary.steps += restored

    async def _store(self, item: IncomingEvent) -> object:
        try:
            return await self._submit(item)
        except Exception as exc:  # overloaded, stopping, a storing problem: say it, stop
            raise Stop(f"the store did not take the restored steps: {exc}") from exc

    # -- requests ------------------------------------------------------------------------------
    async def _request(self, call: Callable[[], Awaitable[T]]) -> T:
        """One API request, paced; a 429 is waited out as told, then the request repeated."""
        while True:
            loop = asyncio.get_running_loop()
            wait = self._next_request - loop.time()
            if wait > 0:
                await self._sleep(wait)
            self._next_request = loop.time() + self.settings.pace_s
            try:
                return await call()
            except ApiError as exc:
                if exc.status == 0:
                    raise Stop(f"the platform could not be reached: {exc}") from exc
                if exc.status != 429:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else self.settings.default_wait_s
                if wait > self.settings.max_wait_s:
                    raise Stop(f"rate limited for {wait:.0f} s: {exc}") from exc
                if self._waits >= self.settings.max_waits:
                    raise Stop(f"rate limited {self._waits + 1} times in this run: {exc}") from exc
                self._waits += 1
                log.info("catch-up rate limited: waiting %.1f s as asked", wait)
                await self._sleep(wait)


def _logged_message(entry: DeliveryLog) -> str | None:
    """The internal id of the message a logged outbound status event is about."""
    payload = entry.payload
    if isinstance(payload, str):
        with contextlib.suppress(ValueError):
            payload = json.loads(payload)
    if not isinstance(payload, dict) or payload.get("event") not in STATUS_EVENTS:
        return None
    data = payload.get("data")
    return message_id_of(data) if isinstance(data, dict) else None

"""Polls the numbers' connection state, so a missed or late `number.*` webhook is caught.

Every `interval` seconds: `GET /v1/numbers` once per account (names, provider, billing
block; its state is not live, api §4.2) and `GET /v1/numbers/{id}/status` per number (live
state, api §4.4); at start and every `DETAIL_INTERVAL` the detail `GET /v1/numbers/{id}`
per number (Meta health, PII mode, api §4.3; cached by the platform, §7.5, so asked less
often). The answers go to the writer as one `NumberPoll`, so polls and webhooks share one
projection and one history.

Per number: 503 `UPSTREAM_TIMEOUT`/`UPSTREAM_ERROR` (transient) doubles its wait up to
`MAX_BACKOFF`; `PROVIDER_NOT_CONFIGURED` (permanent) stops its polling until the accounts
change; an unknown number is skipped. Nothing here blocks the loop: every call is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from pilot_desktop.api.errors import ApiError
from pilot_desktop.services.accounts import AccountError, Accounts
from pilot_desktop.store.db import open_store
from pilot_desktop.store.records import NumberPoll
from pilot_desktop.store.writer import Writer

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0
MIN_INTERVAL = 10.0
MAX_BACKOFF = 15 * 60.0
DETAIL_INTERVAL = 10 * 60.0


@dataclass
class _Track:
    next_at: float = 0.0
    failures: int = 0
    stopped: str | None = None  # why polling stopped for good
    problem: str | None = None  # the last error, for the Numbers pane
    detail_at: float = 0.0  # when the detail is due
    detail_failures: int = 0
    detail_state: object = None  # the connection state the last detail was read in


class NumberPoller:
    def __init__(
        self,
        accounts: Accounts,
        submit: Callable[[NumberPoll], Awaitable[object]],
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = accounts
        self._submit = submit
        self.interval = max(MIN_INTERVAL, interval)
        self._clock = clock
        self._tracks: dict[str, _Track] = {}
        self._wake = asyncio.Event()
        self.rounds = 0
        self.last_error: str | None = None  # an account-level problem (bad key, network)

    def problem(self, number_id: str) -> str | None:
        track = self._tracks.get(number_id)
        return None if track is None else track.stopped or track.problem

    def reset(self) -> None:
        """The accounts changed: retry what was stopped."""
        self._tracks.clear()

    def set_interval(self, interval: float) -> None:
        """A new interval (the settings changed): the wait under way ends now."""
        self.interval = max(MIN_INTERVAL, interval)
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end polling for the session
                log.exception("number polling round failed")
            # asyncio.timeout, not wait_for: on 3.11 wait_for loses a stop's cancel that meets
            # a wake-up (the wait already done), and stop() then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()

    async def poll_once(self) -> NumberPoll | None:
        now = self._clock()
        answers: list[tuple[str, str, dict[str, object]]] = []
        self.last_error = None
        for account in self.accounts.all:
            try:
                async with self.accounts.client(account) as client:
                    for item in await client.list_numbers():
                        answers.append((item.id, "list", item.model_dump(by_alias=True, mode="json")))
            except (ApiError, AccountError, httpx.HTTPError) as exc:
                # A number-scoped key may not list (api §4.7): the stored numbers stand in.
                if not (isinstance(exc, ApiError) and exc.status == 403):
                    self.last_error = f"{account.label or account.id}: {exc}"
        for _account, number in self.accounts.numbers():
            detail = await self._detail(number.id, now)
            if detail is not None:
                answers.append((number.id, "detail", detail))
            answer = await self._status(number.id, now)  # after: the newer reading of the two
            if detail is None and self._detail_outdated(number.id, answer):
                # Its state changed since the detail was read (Meta health, sendable describe
                # the old one): read it again now rather than in DETAIL_INTERVAL.
                self._tracks[number.id].detail_at = 0.0
                detail = await self._detail(number.id, now)
                if detail is not None:
                    answers.append((number.id, "detail", detail))
            if answer is not None:
                answers.append((number.id, "status", answer))
        self.rounds += 1
        if not answers:
            return None
        poll = NumberPoll(polled_at=self._clock(), answers=answers)
        try:
            await self._submit(poll)
        except Exception as exc:  # overloaded or stopping: the next round asks again
            log.warning("number poll not stored: %s", exc)
        return poll

    async def _status(self, number_id: str, now: float) -> dict[str, object] | None:
        track = self._tracks.setdefault(number_id, _Track())
        if track.stopped is not None or now < track.next_at:
            return None
        try:
            async with self.accounts.client_for_number(number_id) as client:
                status = await client.number_status(number_id)
        except ApiError as exc:
            if exc.code == "PROVIDER_NOT_CONFIGURED":
                track.stopped = f"status polling stopped: {exc}"
                log.warning("number %s: %s", number_id, track.stopped)
            elif exc.status == 404:
                track.stopped = "the platform does not know this number (404)"
            else:
                self._back_off(track, now, str(exc))
            return None
        except (AccountError, httpx.HTTPError) as exc:
            self._back_off(track, now, str(exc))
            return None
        track.failures, track.problem, track.next_at = 0, None, now
        return status.model_dump(by_alias=True, mode="json")

    async def _detail(self, number_id: str, now: float) -> dict[str, object] | None:
        """The detail when due. Its failures never stop the status polling: they only put
        the next try off (doubling, at most `DETAIL_INTERVAL`); `detail_at` in the store
        says how old the health shown is."""
        track = self._tracks.setdefault(number_id, _Track())
        if track.stopped is not None or now < track.detail_at:
            return None
        try:
            async with self.accounts.client_for_number(number_id) as client:
                detail = await client.get_number(number_id)
        except (ApiError, AccountError, httpx.HTTPError) as exc:
            track.detail_failures += 1
            wait = min(self.interval * 2 ** (track.detail_failures - 1), DETAIL_INTERVAL)
            track.detail_at = now + wait
            log.info("number %s: detail not read (%s); next try in %.0f s", number_id, exc, wait)
            return None
        track.detail_failures, track.detail_at = 0, now + DETAIL_INTERVAL
        body = detail.model_dump(by_alias=True, mode="json")
        track.detail_state = body.get("state")
        return body

    def _detail_outdated(self, number_id: str, status: dict[str, object] | None) -> bool:
        """The live status says another state than the one the last detail was read in."""
        track = self._tracks.get(number_id)
        if status is None or track is None or track.detail_state is None or track.detail_failures:
            return False  # (a failing detail keeps its back-off)
        return status.get("state") != track.detail_state

    def _back_off(self, track: _Track, now: float, problem: str) -> None:
        track.failures += 1
        track.problem = problem
        track.next_at = now + min(self.interval * 2 ** (track.failures - 1), MAX_BACKOFF)


class NumberPolling:
    """The poller's task for the core's lifetime. It runs while there is at least one
    account: started at start-up when there is one, or when the first account is added;
    after any change of the accounts, numbers whose polling stopped (a permanent error) are
    tried again. `stop()` is awaited in the staged shutdown, before the writer drains."""

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


async def poll_into(data_dir: Path, accounts: Accounts) -> str | None:
    """Poll every number once and store the answers as the core's poller does (for
    `numbers --refresh`, with no core running here); the problems, if any, in a sentence."""
    if not accounts.all:
        return "no account is configured: add one with `pilot-desktop accounts add`"
    writer = Writer(open_store(data_dir), asyncio.get_running_loop())
    writer.start()
    try:
        poller = NumberPoller(accounts, writer.submit)
        await poller.poll_once()
        problems = [poller.last_error] + [
            f"{n.id}: {p}" for _, n in accounts.numbers() if (p := poller.problem(n.id)) is not None
        ]
    finally:
        await writer.stop()
    return "; ".join(p for p in problems if p) or None

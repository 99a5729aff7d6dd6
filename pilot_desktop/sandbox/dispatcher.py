"""Webhook deliveries: signed JSON POSTs with retries, logged per attempt (§2.1–2.4, §2.7).

The body is serialised once and those exact bytes are signed (`x-pilot-status-signature`,
HMAC-SHA256 hex). Failures (non-2xx, timeout, refused, any client error) are retried with
exponential backoff for a bounded window of wall time, so a receiver sees duplicates as on
the real platform (at-least-once, G6). Optional injections make that visible on demand:
`duplicate_rate` pretends a 2xx answer was lost (logged FAILED, retried), `reorder_jitter`
delays each delivery randomly so later events can overtake earlier ones (no ordering
promise, G8).

Isolation: each webhook has its own lane of `per_webhook` attempts in flight, so a target
that hangs only slows its own deliveries; and at most `max_pending` unfinished deliveries
per webhook, beyond which new ones are dropped (logged FAILED), so a dead target can't
grow memory without bound.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from pilot_desktop.core.signature import HEADER, sign
from pilot_desktop.sandbox.state import DeliveryLog, SandboxState, Webhook, iso_now

log = logging.getLogger(__name__)

USER_AGENT = "PilotStatus-Sandbox/1"
RESPONSE_KEPT = 1024  # characters of the target's answer kept in the log
HISTORY_KEPT = 10_000  # all-webhook attempt history for tests and the console
DROPPED = "dropped: too many pending deliveries"
Status = Literal["SUCCESS", "FAILED"]
BUSY = "gave up: the webhook's connections stayed busy for the whole retry window"


@dataclass(frozen=True)
class DispatchConfig:
    retry_window: float = 300.0  # wall seconds after the first attempt; no retry starts later
    retry_base: float = 1.0  # first backoff; then doubles (1, 2, 4, 8 ... s)
    timeout: float = 10.0  # one attempt, connect to last byte
    duplicate_rate: float = 0.0
    reorder_jitter: float = 0.0
    per_webhook: int = 4  # attempts in flight per webhook
    max_pending: int = 1000  # unfinished deliveries per webhook (waiting, in flight, retrying)
    seed: int | None = None


@dataclass(frozen=True)
class _Job:
    """One event for one webhook: `raw` is the exact body that is sent and signed."""

    webhook_id: str
    event: str
    payload: Any
    raw: bytes

    def log(
        self,
        status: Status,
        response: str,
        *,
        attempt: int,
        code: int | None = None,
        ms: int = 0,
        created_at: str | None = None,
    ) -> DeliveryLog:
        at = created_at or iso_now()
        return DeliveryLog(self.webhook_id, self.event, status, code, ms, self.payload, response, at, attempt)


class Dispatcher:
    def __init__(
        self,
        state: SandboxState,
        config: DispatchConfig,
        on_attempt: Callable[[DeliveryLog], None] | None = None,
    ) -> None:
        self.state = state
        self.config = config
        self.on_attempt = on_attempt
        self.history: deque[DeliveryLog] = deque(maxlen=HISTORY_KEPT)
        self._rng = random.Random(config.seed)
        self._lanes: dict[str, asyncio.Semaphore] = {}
        self._pending: Counter[str] = Counter()
        self._dropping: set[str] = set()  # webhooks that hit `max_pending` (warned once)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        # No pool-wide limit: it would be shared, so a hung target could starve the others.
        # The per-webhook lanes bound the connections (per_webhook x webhooks).
        connector = aiohttp.TCPConnector(limit=0)
        self._session = aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=True)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def pending_for(self, webhook_id: str) -> int:
        """Unfinished deliveries of one webhook (at most `max_pending`)."""
        return self._pending[webhook_id]

    def submit(self, number_id: str, event: str, body: dict[str, Any]) -> int:
        """Schedule delivery to every matching webhook of the number; returns how many."""
        if self._session is None:
            raise RuntimeError("dispatcher not started")
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        # Paused webhooks get nothing, and nothing is kept for later (G6, §2.8).
        targets = [h.id for h in self.state.webhooks.values() if h.number_id == number_id and h.wants(event)]
        for webhook_id in targets:
            if self._pending[webhook_id] >= self.config.max_pending:
                self._drop(webhook_id, event, body)
                continue
            self._pending[webhook_id] += 1
            task = asyncio.create_task(self._deliver(_Job(webhook_id, event, body, raw)))
            self._tasks.add(task)
            # A callback, not a `finally`: a task cancelled before it ran never enters its body.
            task.add_done_callback(functools.partial(self._finished, webhook_id))
        return len(targets)

    async def drain(self, within: float) -> bool:
        """Wait for in-flight deliveries (retries included); False if some were still running."""
        if not self._tasks:
            return True
        _, running = await asyncio.wait(set(self._tasks), timeout=within)
        return not running

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _drop(self, webhook_id: str, event: str, payload: Any) -> None:
        if webhook_id not in self._dropping:
            self._dropping.add(webhook_id)
            log.warning(
                "webhook %s: %d deliveries pending, dropping new ones until it catches up",
                webhook_id,
                self.config.max_pending,
            )
        # Attempt 0: never attempted.
        self._record(_Job(webhook_id, event, payload, b"").log("FAILED", DROPPED, attempt=0))

    def _finished(self, webhook_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._pending[webhook_id] -= 1
        if self._pending[webhook_id] <= 0:
            del self._pending[webhook_id]
            self._lanes.pop(webhook_id, None)  # idle: nobody holds or waits on it
        # Half the cap before saying so, or a full queue would warn on every other event.
        if webhook_id in self._dropping and self._pending[webhook_id] <= self.config.max_pending // 2:
            self._dropping.discard(webhook_id)
            log.info("webhook %s: accepting new deliveries again", webhook_id)

    async def _deliver(self, job: _Job) -> None:
        try:
            await self._retrying(job)
        except Exception:  # never "Task exception was never retrieved": say what broke
            log.exception("webhook %s: delivery of %s failed unexpectedly", job.webhook_id, job.event)

    async def _retrying(self, job: _Job) -> None:
        cfg = self.config
        if cfg.reorder_jitter > 0:
            await asyncio.sleep(self._rng.uniform(0, cfg.reorder_jitter))
        first = time.monotonic()
        attempt = 1
        while True:
            lane = self._lanes.setdefault(job.webhook_id, asyncio.Semaphore(cfg.per_webhook))
            if not await self._enter(lane, job, until=first + cfg.retry_window, attempt=attempt):
                return
            try:
                hook = self.state.webhooks.get(job.webhook_id)
                # Deleted, paused or unsubscribed since: the delivery is dropped, not parked.
                if hook is None or not hook.wants(job.event):
                    return
                ok = await self._attempt(hook, job, attempt)
            finally:
                lane.release()
            if ok:
                return
            backoff = cfg.retry_base * 2 ** (attempt - 1)
            elapsed = time.monotonic() - first
            if elapsed + backoff > cfg.retry_window:  # wall time: slow attempts count too
                log.info(
                    "webhook %s: gave up on %s after %d attempts, %.1f s",
                    job.webhook_id,
                    job.event,
                    attempt,
                    elapsed,
                )
                return
            await asyncio.sleep(backoff)
            attempt += 1

    async def _enter(self, lane: asyncio.Semaphore, job: _Job, *, until: float, attempt: int) -> bool:
        """Take a place in the webhook's lane; False (logged FAILED) if it stays busy, e.g.
        with a hung target, past `until` (monotonic), the end of the retry window."""
        if not lane.locked():
            await lane.acquire()  # free: returns at once
            return True
        waited = time.monotonic()
        try:
            async with asyncio.timeout(until - waited):
                await lane.acquire()
        except TimeoutError:
            ms = round((time.monotonic() - waited) * 1000)
            self._record(job.log("FAILED", BUSY, attempt=attempt, ms=ms))
            log.info("webhook %s: gave up on %s, its lane stayed busy", job.webhook_id, job.event)
            return False
        return True

    async def _attempt(self, hook: Webhook, job: _Job, attempt: int) -> bool:
        assert self._session is not None
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            HEADER: sign(job.raw, hook.secret),
        }
        created_at = iso_now()
        started = time.perf_counter()
        code: int | None = None
        try:
            async with self._session.post(
                hook.url, data=job.raw, headers=headers, allow_redirects=False
            ) as resp:
                code = resp.status
                text = (await resp.content.read(RESPONSE_KEPT * 4)).decode("utf-8", "replace")
        except TimeoutError:
            text = f"timeout: no answer within {self.config.timeout:g} s"
        except aiohttp.ClientError as exc:
            text = f"connection error: {exc or type(exc).__name__}"
        except Exception as exc:  # a URL that won't encode, a codec bug ...: still a failed attempt
            text = f"error: {type(exc).__name__}: {exc}"
        duration_ms = round((time.perf_counter() - started) * 1000)
        ok = code is not None and 200 <= code < 300
        if ok and attempt == 1 and self._rng.random() < self.config.duplicate_rate:
            # The target got it, but the platform never saw the answer: it will retry.
            ok, code, text = False, None, "response lost (sandbox duplicate injection); will retry"
        status: Status = "SUCCESS" if ok else "FAILED"
        self._record(
            job.log(
                status,
                text[:RESPONSE_KEPT],
                attempt=attempt,
                code=code,
                ms=duration_ms,
                created_at=created_at,
            )
        )
        return ok

    def _record(self, entry: DeliveryLog) -> None:
        self.state.record_attempt(entry)
        self.history.append(entry)
        if self.on_attempt is not None:
            try:
                self.on_attempt(entry)
            except Exception:  # the console's printer must not break deliveries
                log.exception("on_attempt callback failed")

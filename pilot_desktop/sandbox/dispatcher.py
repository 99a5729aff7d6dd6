"""Webhook deliveries: signed JSON POSTs with retries, logged per attempt (§2.1–2.4, §2.7).

The body is serialised once and those exact bytes are signed (`x-pilot-status-signature`,
HMAC-SHA256 hex). Failures (non-2xx, timeout, refused) are retried with exponential
backoff for a bounded window, so a receiver sees duplicates as on the real platform
(at-least-once, G6). Optional injections make that visible on demand: `duplicate_rate`
pretends a 2xx answer was lost (logged FAILED, retried), `reorder_jitter` delays each
delivery randomly so later events can overtake earlier ones (no ordering promise, G8).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from pilot_desktop.core.signature import HEADER, sign
from pilot_desktop.sandbox.state import DeliveryLog, SandboxState, iso_now

log = logging.getLogger(__name__)

USER_AGENT = "PilotStatus-Sandbox/1"
RESPONSE_KEPT = 1024  # characters of the target's answer kept in the log
HISTORY_KEPT = 10_000  # all-webhook attempt history for tests and the console


@dataclass(frozen=True)
class DispatchConfig:
    retry_window: float = 300.0  # no new attempt starts later than this after the first
    retry_base: float = 1.0  # first backoff; then doubles (1, 2, 4, 8 ... s)
    timeout: float = 10.0
    duplicate_rate: float = 0.0
    reorder_jitter: float = 0.0
    concurrency: int = 32
    seed: int | None = None


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
        self._sem = asyncio.Semaphore(config.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        # One connection per delivery would exhaust ports under load; the pool bounds them.
        connector = aiohttp.TCPConnector(limit=self.config.concurrency)
        self._session = aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=True)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, number_id: str, event: str, body: dict[str, Any]) -> int:
        """Schedule delivery to every matching webhook of the number; returns how many."""
        if self._session is None:
            raise RuntimeError("dispatcher not started")
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        # Paused webhooks get nothing, and nothing is kept for later (G-gap, §2.8).
        targets = [h.id for h in self.state.webhooks.values() if h.number_id == number_id and h.wants(event)]
        for webhook_id in targets:
            task = asyncio.create_task(self._deliver(webhook_id, event, body, raw))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
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

    async def _deliver(self, webhook_id: str, event: str, payload: Any, raw: bytes) -> None:
        cfg = self.config
        if cfg.reorder_jitter > 0:
            await asyncio.sleep(self._rng.uniform(0, cfg.reorder_jitter))
        first = time.monotonic()
        offset = 0.0  # nominal schedule relative to the first attempt: 0, 1, 3, 7, 15 ... s
        attempt = 1
        while True:
            hook = self.state.webhooks.get(webhook_id)
            # Deleted, paused or unsubscribed since: the delivery is dropped, not parked.
            if hook is None or not hook.wants(event):
                return
            if await self._attempt(hook.id, hook.url, hook.secret, event, payload, raw=raw, attempt=attempt):
                return
            offset += cfg.retry_base * 2 ** (attempt - 1)
            if offset > cfg.retry_window + 1e-9:  # float sums: 0.4 + 0.8 > 1.2
                log.debug("webhook %s: giving up on %s after %d attempts", webhook_id, event, attempt)
                return
            await asyncio.sleep(max(0.0, first + offset - time.monotonic()))
            attempt += 1

    async def _attempt(
        self, webhook_id: str, url: str, secret: str, event: str, payload: Any, *, raw: bytes, attempt: int
    ) -> bool:
        assert self._session is not None
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            HEADER: sign(raw, secret),
        }
        created_at = iso_now()
        started = time.perf_counter()
        code: int | None = None
        async with self._sem:
            try:
                async with self._session.post(url, data=raw, headers=headers, allow_redirects=False) as resp:
                    code = resp.status
                    text = (await resp.content.read(RESPONSE_KEPT * 4)).decode("utf-8", "replace")
            except TimeoutError:
                text = f"timeout: no answer within {self.config.timeout:g} s"
            except aiohttp.ClientError as exc:
                text = f"connection error: {exc or type(exc).__name__}"
        duration_ms = round((time.perf_counter() - started) * 1000)
        ok = code is not None and 200 <= code < 300
        if ok and attempt == 1 and self._rng.random() < self.config.duplicate_rate:
            # The target got it, but the platform never saw the answer: it will retry.
            ok, code, text = False, None, "response lost (sandbox duplicate injection); will retry"
        entry = DeliveryLog(
            webhook_id,
            event,
            "SUCCESS" if ok else "FAILED",
            code,
            duration_ms,
            payload,
            text[:RESPONSE_KEPT],
            created_at,
            attempt,
        )
        self.state.record_attempt(entry)
        self.history.append(entry)
        if self.on_attempt is not None:
            self.on_attempt(entry)
        return ok

"""Fault injection and rate limiting on the sandbox's REST API (demo, training, tests).

The real platform documents only "429 = rate limit exceeded" (docs/pilot-status-api.md §6, G14)
and says nothing about its failure modes; a client still has to survive 5xx answers,
dropped connections, slow answers and answers lost after the change was made. This module
lets the sandbox play each of them on demand, and counts the requests that reached it so
a test can tell how many attempts a client made.

`Faults.inject(method, path_prefix, status, ...)` queues a fault for the next `count`
requests whose method matches (`"*"` = any) and whose path starts with `path_prefix`:

- `status` answers that status with the platform's error body `{"error", "code"}`
  (`code` defaults by status, e.g. 429 `RATE_LIMITED`, 503 `SERVICE_UNAVAILABLE`);
  a 429 (or any fault given `retry_after`) carries `retryAfterSeconds` in the body and a
  `Retry-After` header (whole seconds, rounded up). `status=None` keeps the real answer
  (useful with `delay` alone).
- `after_handler=True` runs the real handler first, so the change happens, and then
  answers the fault instead: a response lost on the way back.
- `delay` waits that many seconds before answering (a client's timeout).
- `drop=True` closes the connection without any answer (a network error); with
  `after_handler=True` the change happens first.

Faults are consumed in the order they were injected; the first one that matches a
request wins. `requests(method, path_prefix)` counts every request that reached the
sandbox (faulted, rate limited or not).

Rate limit (`Sandbox(rate_limit=(N, S))`, console `--rate-limit N/S`): each API key may
make N requests in any S-second sliding window; the next one gets 429 `RATE_LIMITED` with
`retryAfterSeconds` (when a slot frees, ms precision) and `Retry-After` (whole seconds,
rounded up). Only `/v1` requests with a valid key count; refused requests don't use a
slot, so a client that waits as told gets through. Missing or wrong keys are left to the
routes (401).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from pilot_desktop.sandbox.state import SandboxState

DEFAULT_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "CONFLICT",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
DEFAULT_RETRY_AFTER = 1.0  # seconds, for an injected 429 that names none
MAX_BUCKETS = 10_000  # rate-limit windows kept before idle ones are pruned
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d*)?|\.\d+)\s*s?\s*")


def parse_rate_limit(text: str) -> tuple[int, float]:
    """`"N/S"` (N requests per S seconds, e.g. `"10/1"` or `"100/60s"`) -> `(N, S)`."""
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(f"rate limit must look like N/S (N requests per S seconds), got {text!r}")
    limit = (int(match.group(1)), float(match.group(2)))
    check_rate_limit(limit)
    return limit


def check_rate_limit(limit: tuple[int, float] | None) -> None:
    if limit is None:
        return
    count, seconds = limit
    if count < 1 or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"rate limit needs N >= 1 requests per S > 0 seconds, got {count}/{seconds}")


@dataclass
class Fault:
    """One queued fault; `remaining` counts down as requests take it."""

    method: str
    path_prefix: str
    status: int | None
    code: str | None
    remaining: int
    retry_after: float | None
    after_handler: bool
    delay: float
    drop: bool

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.method in ("*", method) and path.startswith(self.path_prefix)

    def response(self) -> web.Response:
        assert self.status is not None
        code = self.code or DEFAULT_CODES.get(self.status, "INJECTED_FAULT")
        body: dict[str, object] = {"error": f"Injected sandbox fault: HTTP {self.status}.", "code": code}
        headers: dict[str, str] = {}
        wait = self.retry_after
        if wait is None and self.status == 429:
            wait = DEFAULT_RETRY_AFTER
        if wait is not None:
            body["retryAfterSeconds"] = wait
            headers["Retry-After"] = str(math.ceil(wait))
        return web.json_response(body, status=self.status, headers=headers)


class Faults:
    """Queued faults, the per-key rate limit and the request counts of one sandbox."""

    def __init__(
        self,
        rate_limit: tuple[int, float] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_rate_limit(rate_limit)
        self._rate_limit = rate_limit
        self._clock = clock
        self._faults: list[Fault] = []
        self._seen: list[tuple[str, str]] = []
        self._windows: dict[str, deque[float]] = {}
        self._closing = asyncio.Event()

    # -- faults ----------------------------------------------------------------------------
    def inject(
        self,
        method: str,
        path_prefix: str,
        status: int | None,
        *,
        code: str | None = None,
        count: int = 1,
        retry_after: float | None = None,
        after_handler: bool = False,
        delay: float = 0.0,
        drop: bool = False,
    ) -> Fault:
        """Fault the next `count` requests matching `method` (`"*"` = any) and `path_prefix`."""
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status (100-599), got {status}")
        if status is None and not drop and delay <= 0:
            raise ValueError("a fault needs a status, drop=True or a delay")
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        if delay < 0 or (retry_after is not None and retry_after < 0):
            raise ValueError("delay and retry_after must be >= 0")
        if not path_prefix.startswith("/"):
            raise ValueError(f"path_prefix must start with '/', got {path_prefix!r}")
        fault = Fault(
            method.upper(), path_prefix, status, code, count, retry_after, after_handler, delay, drop
        )
        self._faults.append(fault)
        return fault

    def pending(self) -> list[Fault]:
        """Faults not yet used up, in the order they will be tried."""
        return [f for f in self._faults if f.remaining > 0]

    def clear(self) -> None:
        """Forget every queued fault (the counts and the rate limit stay)."""
        self._faults.clear()

    def _take(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- counts ----------------------------------------------------------------------------
    def requests(self, method: str = "*", path_prefix: str = "/") -> int:
        """How many requests matching `method` (`"*"` = any) and `path_prefix` reached
        the sandbox so far, whatever they were answered."""
        wanted = method.upper()
        return sum(1 for m, p in self._seen if wanted in ("*", m) and p.startswith(path_prefix))

    def reset_counts(self) -> None:
        self._seen.clear()

    # -- rate limit ------------------------------------------------------------------------
    @property
    def rate_limit(self) -> tuple[int, float] | None:
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, limit: tuple[int, float] | None) -> None:
        """Change (or turn off with None) the limit while running; windows start afresh."""
        check_rate_limit(limit)
        self._rate_limit = limit
        self._windows.clear()

    def _limited(self, who: str) -> float | None:
        """Seconds to wait if `who` is over the limit now, else None (and the slot is used)."""
        if self._rate_limit is None:
            return None
        count, seconds = self._rate_limit
        now = self._clock()
        if len(self._windows) > MAX_BUCKETS:
            self._prune(now - seconds)
        window = self._windows.setdefault(who, deque())
        while window and window[0] <= now - seconds:
            window.popleft()
        if len(window) >= count:
            return max(window[0] + seconds - now, 0.001)
        window.append(now)
        return None

    def _prune(self, horizon: float) -> None:
        for who in [w for w, q in self._windows.items() if not q or q[-1] <= horizon]:
            del self._windows[who]

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """End every pending `delay` now (the sandbox is stopping)."""
        self._closing.set()

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # -- the middleware --------------------------------------------------------------------
    def middleware(self, state: SandboxState) -> Middleware:
        """The aiohttp middleware; it must come before the JSON-errors one, so a handler's
        error is already a response when an `after_handler` fault replaces it."""

        @web.middleware
        async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
            self._seen.append((request.method, request.path))
            fault = self._take(request.method, request.path)
            if fault is None:
                wait = self._limited(who) if (who := _caller(request, state)) else None
                if wait is not None:
                    return _rate_limited(wait)
                return await handler(request)
            if fault.delay > 0:
                # Read the body first, as a server does: a client that gives up during the
                # delay must not turn the late handler's read into a connection error.
                with contextlib.suppress(web.HTTPException, ConnectionError):
                    await request.read()
                await self._wait(fault.delay)
            if fault.drop:
                if fault.after_handler:
                    await handler(request)
                return _drop(request)
            if fault.status is None:  # only a delay: the real answer, late
                return await handler(request)
            if fault.after_handler:
                await handler(request)
            return fault.response()

        return faults


def _caller(request: web.Request, state: SandboxState) -> str | None:
    """The API key a `/v1` request is made with (its id), or None if none is valid."""
    if not request.path.startswith("/v1/"):
        return None
    key = state.key_for(request.headers.get("x-api-key"), request.headers.get("x-api-key-id"))
    return key.id if key is not None else None


def _rate_limited(wait: float) -> web.Response:
    seconds = math.ceil(wait * 1000) / 1000
    body = {
        "error": f"Rate limit exceeded for this API key; retry in {seconds:g} s.",
        "code": "RATE_LIMITED",
        "retryAfterSeconds": seconds,
    }
    return web.json_response(body, status=429, headers={"Retry-After": str(math.ceil(seconds))})


def _drop(request: web.Request) -> web.Response:
    """Close the connection without a byte of answer; the client sees a network error."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)  # never sent: the transport is gone

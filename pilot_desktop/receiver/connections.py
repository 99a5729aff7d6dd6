"""Connections are a resource: timeouts, a cap below the open-file limit, JSON parser errors.

- Idle and header-read timeout: aiohttp's keep-alive timer is armed when a connection opens
  and after each answer, and closes the connection if no complete request head has arrived
  by then. So `IDLE_TIMEOUT_S` bounds both an idle keep-alive connection and a slow sender
  of headers (a byte a second does not keep it open). Bodies get `BODY_TIMEOUT_S` in the
  handler (receiver/app.py).
- The cap: at most `connection_cap()` connections, below the soft RLIMIT_NOFILE (raised
  toward the hard limit at start, `raise_file_limit()`), so accept() never fails for want of
  file descriptors (asyncio then stops accepting for a second: every client stalls). Over
  the cap, the connections idle the longest are closed (a held-open connection costs a
  newcomer nothing); when none is idle, the newcomer gets a JSON 503 and is closed.
- Requests the HTTP parser refuses (a header line too long, too many headers, a bad request
  line) get the JSON `{"error": ...}` of every other 4xx, are recorded like any refused
  request, and log no traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 15.0
BODY_TIMEOUT_S = 30.0
EVICT_MIN_IDLE_S = 1.0
MAX_CONNECTIONS = 4096
FILES_RESERVED = 128  # the database, the writer's pipes, logs, the window, API calls
# asyncio accepts up to `backlog` sockets per loop turn, and the protocol hears of them two
# turns later: a few times that many descriptors above the cap must still be free, or
# accept() fails (EMFILE) and asyncio stops accepting for a second.
BACKLOG = 64
FILE_LIMIT_WANTED = MAX_CONNECTIONS + 2 * FILES_RESERVED
# Parser limits: a webhook sends a dozen short headers.
MAX_LINE_SIZE = 8190
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 64

# Told of each request the parser refused: (status, reason, remote address).
Refused = Callable[[int, str, str | None], None]

_BUSY_BODY = json.dumps({"error": "receiver busy: too many open connections; retry later"}).encode()
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


def raise_file_limit(wanted: int = FILE_LIMIT_WANTED) -> int:
    """Raise the soft open-file limit toward `wanted` (never above the hard limit, never
    lower); return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.info("open-file limit stays at %d: %s", soft, exc)
    return MAX_CONNECTIONS + FILES_RESERVED if soft == resource.RLIM_INFINITY else soft


def connection_cap(file_limit: int) -> int:
    """Connections allowed at once: below the file limit, leaving room for everything else."""
    reserve = max(FILES_RESERVED + 4 * BACKLOG, file_limit // 4)
    return max(16, min(MAX_CONNECTIONS, file_limit - reserve))


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol, answering parser refusals in JSON and recording them."""

    def __init__(self, manager: GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._refused = manager.refused
        self.last_active = self._loop.time()  # last data received or answer sent
        self.turned_away = False
        self._unanswered = 0  # requests parsed and not yet answered

    async def start(self) -> None:
        if self.turned_away:  # over the cap with nothing idle to close (GuardedServer)
            if self.transport is not None:
                self.transport.write(_BUSY)
            self.force_close()
            return
        await super().start()

    def data_received(self, data: bytes) -> None:
        self.last_active = self._loop.time()
        queued = len(self._messages)
        super().data_received(data)
        self._unanswered += max(0, len(self._messages) - queued)

    async def _handle_request(
        self,
        request: web.BaseRequest,
        start_time: float | None,
        request_handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super()._handle_request(request, start_time, request_handler)
        finally:
            self._unanswered = max(0, self._unanswered - 1)
            self.last_active = self._loop.time()  # idle from its answer, not from its request

    @property
    def idle(self) -> bool:
        # Waiting for (the rest of) a request head: nothing of the app's is under way, no
        # parsed request waits for its handler task (on 3.11 it starts a loop turn later).
        # (A closed one stays listed until its task ends: not idle, closing it frees nothing.)
        return (
            self.transport is not None
            and not self._unanswered
            and not self._request_in_progress
            and not self._messages
        )

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("an answer was already sent; cannot send the error")
        if status >= 500:
            self.log_exception("error handling a request", exc_info=exc)
            reason = "internal error in the receiver" if status == 500 else "the receiver timed out"
        else:
            # Malformed or oversized requests are the sender's problem: recorded, no traceback.
            said = " ".join((message or str(exc) or "bad request").split())
            reason = f"request refused by the HTTP parser: {said[:300]}"
            self._refused(status, reason, request.remote)
        resp = web.json_response({"error": reason}, status=status)
        resp.force_close()
        return resp


class GuardedServer(web.Server):
    """aiohttp's server with a connection cap and `GuardedHandler` connections."""

    def __init__(self, base: web.Server, *, cap: int, refused: Refused) -> None:
        super().__init__(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            **base._kwargs,
        )
        self.cap = cap
        self.refused = refused
        self._pending = 0  # accepted, connection_made not yet called
        # Closed to make room but still listed until their task ends: not counted, or every
        # newcomer of the same accept burst would close another batch.
        self._closing: set[RequestHandler] = set()
        self.evicted = 0  # idle connections closed to make room
        self.turned_away = 0  # newcomers answered 503 (nothing idle to close)

    def __call__(self) -> RequestHandler:
        # Called as soon as a socket is accepted, before its transport exists: make room
        # here, so the descriptors of the connections being set up are counted too.
        handler = GuardedHandler(self, loop=self._loop, **self._kwargs)
        self._pending += 1
        if self._closing:
            self._closing = {h for h in self._closing if h in self._connections}
        if len(self._connections) - len(self._closing) + self._pending > self.cap and not self._make_room():
            handler.turned_away = True
        return handler

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        self._pending = max(0, self._pending - 1)
        super().connection_made(handler, transport)
        if isinstance(handler, GuardedHandler) and handler.turned_away:
            self.turned_away += 1  # answered 503 and closed in GuardedHandler.start

    def _make_room(self) -> bool:
        """Close the longest-idle connections; False when none is idle."""
        # Not the ones idle for less than EVICT_MIN_IDLE_S: a sender's request may be on
        # its way (a busy loop reads it late); better to turn the newcomer away with a 503.
        since = self._loop.time() - EVICT_MIN_IDLE_S
        idle = [
            h for h in self._connections if isinstance(h, GuardedHandler) and h.idle and h.last_active < since
        ]
        if not idle:
            return False
        # The longest-idle sixteenth at once: one sort per many newcomers.
        idle.sort(key=lambda h: h.last_active)
        for victim in idle[: max(1, self.cap // 16)]:
            victim.force_close()
            self._closing.add(victim)
            self.evicted += 1
        return True


class GuardedRunner(web.AppRunner):
    """AppRunner serving through a `GuardedServer`."""

    def __init__(self, app: web.Application, *, cap: int, refused: Refused, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._cap, self._refused = cap, refused

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()
        return GuardedServer(base, cap=self._cap, refused=self._refused)

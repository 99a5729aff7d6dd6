"""Where the receiver listens, and getting it there (the core's `listening`).

The address asked for (`target`: the settings' receiver.host/port, or serve's --host/--port)
and the address bound (`runtime.bound`) may differ: the port is busy, or a move to another
address has not succeeded yet. While they differ, the target is tried again every `retry_s`
whatever the reason (a busy port, an address not on this machine yet), and `error` says why.
A move binds the new socket before closing the old one, so a failed move keeps receiving
where it did. Not listening at all is a `receiver_stopped` gap (services/gaps.py), except
when the port's holder is a receiver of this same profile (`shared`): it receives.

Two ways to move: `move()` for the window's "Use another port…" (nothing changes when the
new address cannot be bound: the error is raised), `follow()` for a settings change made
anywhere (the file is the truth: the new address is tried until it binds). `changed`
listeners hear every bind, unbind and change of `error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable

from pilot_desktop.services.gaps import GapRecorder
from pilot_desktop.services.runtime import ReceiverStartError, Runtime

log = logging.getLogger(__name__)

Address = tuple[str, int]


def free_port(host: str, near: int = 0, tries: int = 50) -> int:
    """A port nothing listens on at `host` now: the first free one after `near` (easy to
    remember next to the old one), else any the system gives."""
    for port in [*range(near + 1, min(near + 1 + tries, 65536))] if near else []:
        if _free(host, port):
            return port
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _free(host: str, port: int) -> bool:
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except OSError:
        return False
    return True


class Listening:
    def __init__(
        self,
        runtime: Runtime,
        gaps: GapRecorder,
        *,
        retry_s: float,
        on_bound: Callable[[], Awaitable[None]],
        changed: list[Callable[[], None]],
    ) -> None:
        self.runtime, self.gaps, self.retry_s = runtime, gaps, retry_s
        self._on_bound, self.changed = on_bound, changed
        self.target: Address = (runtime.host, runtime.port)
        self.error: str | None = None  # why the receiver is not listening at the target
        self.in_use = False  # that address is held by another program
        self.shared = False  # ... which is a receiver of this same profile
        self._at: Address | None = None  # the target the bound socket was bound for
        self._said: Address | None = None  # the target whose failure was last looked into
        self._retry: asyncio.Task[None] | None = None
        self._following: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one bind at a time (a retry, a move, a settings change)
        self._stopped = False

    @property
    def at_target(self) -> bool:
        return self.runtime.bound is not None and self._at == self.target

    # -- the three callers ---------------------------------------------------------------------
    async def start(self) -> None:
        """The first listen; when it fails, retried every retry_s."""
        async with self._lock:
            if not await self._attempt(at_start=True):
                self._keep_trying()

    async def retry(self) -> bool:
        """Try the target now (the window's Retry); True when listening there."""
        async with self._lock:
            ok = self.at_target or await self._attempt()
        if not ok:
            self._keep_trying()
        return ok

    async def move(self, host: str, port: int) -> None:
        """Listen on host:port now, or raise ReceiverStartError saying why; then nothing
        changed (the receiver still listens, or still retries, where it did)."""
        async with self._lock:
            if self._stopped or (self.at_target and (host, port) == self.target):
                return
            before = self.runtime.host, self.runtime.port
            try:
                await self.runtime.move_to(host, port)
            except ReceiverStartError:
                if self.runtime.bound is None:
                    self.runtime.host, self.runtime.port = before
                raise
            self.target = (host, port)
            await self._bound()

    async def follow(self, host: str, port: int) -> None:
        """The settings name another address: move there, else keep trying it (still
        receiving on the old address meanwhile, if it listened)."""
        async with self._lock:
            if (host, port) == self.target or self._stopped:
                return
            self.target = (host, port)
            ok = await self._attempt()
        if not ok:
            self._keep_trying()

    def follow_soon(self, wanted: Callable[[], Address]) -> None:
        """A settings listener's way in (it cannot await): follow `wanted()` until the
        target is what it says (it may change again during a move)."""
        if self._following is None or self._following.done():
            self._following = asyncio.ensure_future(self._follow_all(wanted))

    async def _follow_all(self, wanted: Callable[[], Address]) -> None:
        while not self._stopped and (address := wanted()) != self.target:
            await self.follow(*address)

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._retry, self._following):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- binding -------------------------------------------------------------------------------
    async def _attempt(self, *, at_start: bool = False) -> bool:
        if self._stopped:
            return False
        target = self.target
        try:
            await self.runtime.move_to(*target)
        except ReceiverStartError as exc:
            await self._failed(exc, target, at_start=at_start)
            return False
        await self._bound()
        return True

    async def _bound(self) -> None:
        self._at, self._said = self.target, None
        self.error, self.in_use, self.shared = None, False, False
        await self.gaps.receiver_up()
        self._tell()  # before the watch starts: a tunnel may take seconds to come up
        await self._on_bound()

    async def _failed(self, exc: ReceiverStartError, target: Address, *, at_start: bool) -> None:
        before = self.error, self.in_use, self.shared
        self.in_use = exc.in_use
        if self.runtime.bound is not None:  # a move that failed: still receiving where it was
            self.shared = False
            where = self.runtime.base_url.split("://", 1)[-1]
            self.error = f"{exc}. Still receiving on {where}"
            if (self.error, self.in_use, self.shared) != before:
                log.warning("receiver not moved: %s", self.error)
                self._tell()
            return
        self.error = str(exc)
        if self.error != before[0]:
            log.info("receiver not started: %s", exc)
        # Who holds the port is asked once per address, and again while it was this
        # profile's receiver or the failure was of another kind (the holder may change).
        if at_start or target != self._said or self.shared or not exc.in_use:
            self._said = target
            await self._not_listening(exc, at_start=at_start)
        if (self.error, self.in_use, self.shared) != before:
            self._tell()

    async def _not_listening(self, exc: ReceiverStartError, *, at_start: bool) -> None:
        host, port = self.target
        if exc.in_use and await self.runtime.port_holder_is_this_profile():
            if not self.shared:
                log.info(
                    "port %d is used by another Pilot Desktop on this data folder, which receives; "
                    "trying again every %.0f s",
                    port,
                    self.retry_s,
                )
            self.shared = True
            return
        self.shared = False
        reason = (
            f"port {port} is in use by another program (receiver address {host}:{port})."
            if exc.in_use
            else f"the receiver could not start: {exc}."
        )
        # At start: not receiving since this run's start (finding out who holds the port
        # takes a moment); later, from now.
        await self.gaps.receiver_down(reason, self.gaps.run_started_at if at_start else None)

    def _keep_trying(self) -> None:
        if self._stopped or (self._retry is not None and not self._retry.done()):
            return
        self._retry = asyncio.ensure_future(self._retrying())

    async def _retrying(self) -> None:
        while not self.at_target and not self._stopped:
            await asyncio.sleep(self.retry_s)
            async with self._lock:
                if not self.at_target:
                    await self._attempt()

    def _tell(self) -> None:
        for listener in list(self.changed):
            try:
                listener()
            except Exception:
                log.exception("a receiver listener failed")

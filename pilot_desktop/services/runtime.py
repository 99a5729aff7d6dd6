"""Ingest: the store, its writer and the receiver on the running loop, started in stages.

`open()` opens (and migrates) the store and starts the writer; `listen()` starts the
receiver, and may be called again after it failed (the core retries a busy port). They are
apart so that a port in use leaves the store and the writer running (the window still shows
the history, number polls are still stored). Shutdown is staged and idempotent: stop
accepting connections (`stop_listening()`), let in-flight requests finish, drain the
writer, close. It is awaited inside the async main while the loop still runs, never from a Qt
close handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiohttp import web

from pilot_desktop.core.urls import PROBE_HEADER, http_base, probe_proof
from pilot_desktop.receiver import connections as conns
from pilot_desktop.receiver.addresses import listening_urls
from pilot_desktop.receiver.app import PROCESS_INSTANCE, Receiver, ReceiverConfig
from pilot_desktop.receiver.hosts import WILDCARDS, machine_names
from pilot_desktop.receiver.refusals import RefusalMonitor
from pilot_desktop.services.signing import SigningSecrets
from pilot_desktop.store.db import open_store
from pilot_desktop.store.writer import Writer

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0
HOLDER_PROBE_S = 2.0  # how long asking the program on a busy port who it is may take
Secrets = Callable[[str | None], Sequence[str]]


class ReceiverStartError(Exception):
    """The receiver could not listen (port taken, bad address); the message says which."""

    def __init__(self, message: str, *, in_use: bool = False) -> None:
        super().__init__(message)
        self.in_use = in_use


@dataclass
class Runtime:
    data_dir: Path
    token: str
    secrets: Secrets  # the signing secrets checking a route, asked per request
    host: str = "127.0.0.1"
    port: int = 8787
    instance: str = PROCESS_INSTANCE  # the receiver's answer to a tunnel probe (tunnel/probe.py)
    # Off only in bench/ingest.py, to measure what the projections cost (Writer).
    projections: bool = True
    public_url: Callable[[], str | None] = lambda: None  # its host is an accepted Host
    idle_timeout: float = conns.IDLE_TIMEOUT_S  # also the header-read deadline
    # Recent refusals; there before the receiver listens, so the front ends can follow it.
    refusals: RefusalMonitor = field(default_factory=RefusalMonitor)

    db_path: Path | None = None
    writer: Writer | None = None
    receiver: Receiver | None = None
    bound: tuple[str, int] | None = None
    _runner: web.AppRunner | None = None
    _listening: list[str] | None = None  # found once at listen time (name lookups block)
    _stopping: bool = False  # no more listening
    _cap: int = 0  # connections at most (receiver/connections.py)
    _closing: list[asyncio.Future[None]] = field(default_factory=list)  # old sockets of moves
    _stopped: bool = False

    @property
    def base_url(self) -> str:
        host, port = self.bound or (self.host, self.port)
        return http_base(host, port)

    @property
    def hook_url(self) -> str:
        return f"{self.base_url}/hooks/{self.token}"

    @property
    def listening_urls(self) -> list[str]:
        """Base URLs clients can use: on all interfaces, one per address of this machine."""
        return self._listening if self._listening is not None else [self.base_url]

    async def open(self) -> None:
        """Open (and migrate) the store and start the writer. Raises StoreError."""
        self.db_path = open_store(self.data_dir)
        self.writer = Writer(self.db_path, asyncio.get_running_loop(), projections=self.projections)
        self.writer.start()

    async def listen(self) -> None:
        """Start the receiver on the open store. Raises ReceiverStartError; the writer runs on.
        Called again after a failure, it tries again (a no-op while listening). `move_to`
        listens elsewhere (services/listening.py)."""
        assert self.writer is not None, "open() first"
        if self._runner is not None or self._stopping:
            return
        await self._install(await self._open_site(self.host, self.port))

    async def move_to(self, host: str, port: int) -> None:
        """Listen on host:port instead. The new socket is bound before the old one closes, so
        a failure (raised: ReceiverStartError) leaves a listening receiver as it was, still
        listening where it did. Requests under way on the old socket finish. Not listening,
        host:port becomes the address asked for (and tried)."""
        if self._stopping:
            return
        if self._runner is None:
            self.host, self.port = host, port
            await self.listen()
            return
        old: web.AppRunner | None = self._runner
        before = self.host, self.port
        try:
            opened = await self._open_site(host, port)
        except ReceiverStartError as exc:
            if not exc.in_use or self.bound is None or port != self.bound[1]:
                raise
            # The same port on another address: our own socket is in the way. Let it go
            # first; when the new address still fails, listen where it was again.
            await self._close_runner()
            try:
                opened = await self._open_site(host, port)
            except ReceiverStartError:
                with contextlib.suppress(ReceiverStartError):
                    await self.listen()
                raise
            old = None
        self.host, self.port = host, port
        await self._install(opened)
        if old is not None:  # closed behind: the state above is whole when this returns
            self._closing.append(asyncio.ensure_future(old.cleanup()))
        log.info("receiver moved from %s:%s to %s", *before, self.base_url)

    async def _open_site(self, host: str, port: int) -> tuple[web.AppRunner, Receiver, tuple[str, int]]:
        """A receiver listening on host:port, not yet this runtime's. Raises ReceiverStartError."""
        assert self.writer is not None, "open() first"
        config = ReceiverConfig(
            token=self.token,
            secrets=self.secrets,
            instance=self.instance,
            host=host,
            public_url=self.public_url,
            # Name lookups may block: in a thread, once.
            machine_names=await asyncio.to_thread(machine_names) if host in WILDCARDS else None,
        )
        if isinstance(self.secrets, SigningSecrets):  # stored secrets protect their numbers everywhere
            config.protection = self.secrets.protection
        receiver = Receiver(config, self.writer, self.refusals)
        self._cap = cap = conns.connection_cap(conns.raise_file_limit())  # below the open-file limit
        # handler_cancellation off (the default): a client that hangs up mid-request does
        # not cancel the handler, so what was accepted is still stored and counted.
        runner = conns.GuardedRunner(
            receiver.app,
            cap=cap,
            refused=receiver.refused,
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE_S,
            auto_decompress=False,  # the receiver decodes, see receiver/encoding.py
            keepalive_timeout=self.idle_timeout,
            max_line_size=conns.MAX_LINE_SIZE,
            max_field_size=conns.MAX_FIELD_SIZE,
            max_headers=conns.MAX_HEADERS,
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True, backlog=conns.BACKLOG)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ReceiverStartError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}",
                in_use=exc.errno == errno.EADDRINUSE,
            ) from exc
        except BaseException:  # cancelled (a stop during a retry): leave nothing bound
            await runner.cleanup()
            raise
        server = site._server  # the only place aiohttp exposes the bound port (port 0)
        sockets = getattr(server, "sockets", None) or []
        return runner, receiver, (host, sockets[0].getsockname()[1]) if sockets else (host, port)

    async def _install(self, opened: tuple[web.AppRunner, Receiver, tuple[str, int]]) -> None:
        """Make an opened receiver this runtime's, its addresses found first (lookups block:
        in a thread), so `bound` and `listening_urls` change together."""
        runner, receiver, bound = opened
        try:
            urls = await asyncio.to_thread(listening_urls, *bound)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self.receiver, self.bound, self._listening = runner, receiver, bound, urls
        for url in self.listening_urls:  # the token stays out of logs
            log.info("receiver listening on %s/hooks/<token> (at most %d connections)", url, self._cap)

    async def _close_runner(self) -> None:
        runner, self._runner, self.bound, self._listening = self._runner, None, None, None
        if runner is not None:
            await runner.cleanup()

    async def port_holder_is_this_profile(self) -> bool:
        """Whether the program holding our busy port is a Pilot Desktop receiver with this
        profile's token (a second window or `serve` on the same data folder): it receives, and
        stores, what this one would. Asked with the tunnel probe, which that receiver answers
        without recording anything; anything else (no answer, another program, another
        token) is False."""
        host, port = self.host, self.port
        nonce = secrets.token_urlsafe(16)
        # The token is never sent (whatever holds the port may be anything): /healthz answers a
        # probe nonce with HMAC(token, nonce), which only a holder of the token can compute.
        url = f"{http_base(host, port)}/healthz"
        try:
            async with httpx.AsyncClient(timeout=HOLDER_PROBE_S, trust_env=False) as client:
                resp = await client.get(url, headers={PROBE_HEADER: nonce})
            data = resp.json() if resp.status_code in (200, 503) else None
        except (httpx.HTTPError, OSError, ValueError):
            return False
        if not isinstance(data, dict) or not isinstance(proof := data.get("proof"), str):
            return False
        return hmac.compare_digest(proof.encode(), probe_proof(self.token, nonce).encode())

    async def stop_listening(self) -> None:
        """Close the listening socket, wait for in-flight handlers (they await the writer,
        which is still running), then close idle connections. Idempotent."""
        self._stopping = True
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        closing, self._closing = self._closing, []  # sockets a move left behind
        await asyncio.gather(*closing, return_exceptions=True)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await self.stop_listening()
        if self.writer is not None:
            await self.writer.stop()
        log.info("runtime stopped")

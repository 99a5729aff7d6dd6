"""The core both `serve` and the GUI run: store + writer + receiver on the running loop.

Shutdown is staged and idempotent (craft.md habit 15): stop accepting connections,
let in-flight requests finish, drain the writer, close. It is awaited inside the async
main while the loop still runs, never from a Qt close handler.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from pilot_desktop.core.urls import http_base
from pilot_desktop.receiver.app import PROCESS_INSTANCE, Receiver, ReceiverConfig
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.settings import Settings
from pilot_desktop.store.db import open_store
from pilot_desktop.store.writer import Writer

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0


class ReceiverStartError(Exception):
    """The receiver could not listen (port taken, bad address); the message says which."""

    def __init__(self, message: str, *, in_use: bool = False) -> None:
        super().__init__(message)
        self.in_use = in_use


@dataclass
class Runtime:
    paths: AppPaths
    settings: Settings
    signing_secrets: list[str] = field(default_factory=list)
    host: str | None = None
    port: int | None = None
    instance: str = PROCESS_INSTANCE  # the receiver's answer to a tunnel probe (tunnel/probe.py)
    # The signing secrets stored per webhook for one route (Accounts.signing_secrets), asked
    # per request so a secret added in the Webhooks pane applies at once.
    extra_secrets: Callable[[str | None], Sequence[str]] | None = None
    # Off only in bench/ingest.py, to measure what the projections cost (Writer).
    projections: bool = True

    db_path: Path | None = None
    writer: Writer | None = None
    receiver: Receiver | None = None
    bound: tuple[str, int] | None = None
    _runner: web.AppRunner | None = None
    _stopping: bool = False

    def secrets(self, route: str | None) -> Sequence[str]:
        """The secrets checking a delivery to `route`: the given ones (--signing-secret, env)
        check every route and come first, so their `#index` in a stored verdict is stable."""
        if self.extra_secrets is None:
            return self.signing_secrets
        return [*self.signing_secrets, *self.extra_secrets(route)]

    @property
    def base_url(self) -> str:
        host, port = self.bound or (
            self.host or self.settings.receiver.host,
            self.port or self.settings.receiver.port,
        )
        return http_base(host, port)

    @property
    def hook_url(self) -> str:
        return f"{self.base_url}/hooks/{self.settings.receiver.token}"

    async def start(self) -> None:
        """Open (and migrate) the store, start the writer, listen. Raises StoreError or
        ReceiverStartError with a message for the user; nothing is left running then."""
        self.paths.ensure()
        self.db_path = open_store(self.paths.data_dir)
        self.writer = Writer(self.db_path, asyncio.get_running_loop(), projections=self.projections)
        self.writer.start()
        config = ReceiverConfig(
            token=self.settings.receiver.token, secrets=self.secrets, instance=self.instance
        )
        self.receiver = Receiver(config, self.writer)
        # handler_cancellation off (the default): a client that hangs up mid-request does
        # not cancel the handler, so what was accepted is still stored and counted.
        self._runner = web.AppRunner(
            self.receiver.app,
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE_S,
            auto_decompress=False,  # the receiver decodes, see receiver/encoding.py
        )
        await self._runner.setup()
        host = self.host or self.settings.receiver.host
        port = self.settings.receiver.port if self.port is None else self.port
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise ReceiverStartError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}", in_use=exc.errno == errno.EADDRINUSE
            ) from exc
        server = site._server  # the only place aiohttp exposes the bound port (port 0)
        sockets = getattr(server, "sockets", None) or []
        self.bound = (host, sockets[0].getsockname()[1]) if sockets else (host, port)
        log.info("receiver listening on %s/hooks/<token>", self.base_url)  # the token stays out of logs

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self._runner is not None:
            # Closes the listening socket, waits for in-flight handlers (they await the
            # writer, which is still running), then closes idle connections.
            await self._runner.cleanup()
            self._runner = None
        if self.writer is not None:
            await self.writer.stop()
        log.info("runtime stopped")

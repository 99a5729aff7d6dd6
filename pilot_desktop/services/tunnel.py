"""The tunnel manager: the path from the platform to this receiver, owned by the app. It
runs the provider the settings name (`tunnel.mode`, `tunnel.command`; `serve --tunnel`
overrides them for a run): manual (no process; the public URL typed in), a tunnel program
(tunnel/command.py: cloudflared, the ngrok agent, a custom template) or ngrok in-process
(tunnel/ngrok_sdk.py, its authtoken from the secret store). Every status change is recorded
(services/tunnel_record.py). A new public URL is written to the state (`tunnel_url`), recorded
(`UrlMark(kind="seen")`), handed to the re-pointer (this app's webhooks move to it) and to
the reachability probe. One tunnel per data folder: the process holding the folder's lease
(services/tunnel_lease.py) runs it, records it and writes `tunnel_url`; another runs none (its
status "off" says which does), answers the holder's URL from the state and takes the lease
over when the holder lets go. While the held tunnel is not up its public URL is None: the
probes, the Host check and the hook URLs (`public_url_of` follows this process's tunnel) do
not claim a dead address is live.

The `tunnel` gap: opened when the tunnel goes down after having been up, or when the public
URL changes while webhooks may still point at the old one; closed once the tunnel is up, no
webhook of this app is known to point at an old URL, and a probe through the new URL was ok.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.gaps import TUNNEL, GapRecorder
from pilot_desktop.services.secrets import SecretsError, SecretStore
from pilot_desktop.services.tunnel_lease import Lease
from pilot_desktop.services.tunnel_record import TunnelRecord
from pilot_desktop.services.webhooks import follow_live_tunnel
from pilot_desktop.store.watch_records import UrlMark
from pilot_desktop.tunnel.command import CommandTunnel
from pilot_desktop.tunnel.ngrok_sdk import AUTHTOKEN_SECRET, NgrokSdkTunnel
from pilot_desktop.tunnel.providers import TunnelError, TunnelStatus, command_line

if TYPE_CHECKING:
    from pilot_desktop.services.reachability import Reach, Reachability
    from pilot_desktop.services.repoint import Repointer

log = logging.getLogger(__name__)

Submit = Callable[[Any], Awaitable[object]]
Listener = Callable[[TunnelStatus], None]
MANUAL = "manual"
TUNNEL_FIELDS = frozenset({"tunnel.mode", "tunnel.command"})
LEASE_RETRY_S = 3.0  # a process without the lease tries to take it this often


class Provider(Protocol):
    @property
    def status(self) -> TunnelStatus: ...

    async def start(self) -> None: ...
    async def restart(self) -> None: ...
    async def stop(self) -> None: ...


def _same_but_output(a: TunnelStatus, b: TunnelStatus) -> bool:
    return replace(a, output=(), since=None) == replace(b, output=(), since=None) and a.since == b.since


class TunnelManager:
    def __init__(
        self,
        config: Config,
        submit: Submit,
        gaps: GapRecorder,
        *,
        local: Callable[[], tuple[int, str] | None],
        secrets: SecretStore,
        mode: str | None = None,
        command: str | None = None,
        backoff: Sequence[float] | None = None,
        lease: Path | None = None,
    ) -> None:
        """`local()`: the receiver's bound port and local base URL (None before it listens);
        `mode` / `command`: this run's overrides of the settings (serve --tunnel); `lease`:
        the data folder whose one tunnel this is (None: a configuration in memory)."""
        self.config, self._submit, self.gaps = config, submit, gaps
        self._local, self._secrets = local, secrets
        self._mode_override, self._command_override = mode, command
        self._backoff = backoff
        self._lease = Lease(lease)
        self._waiter: asyncio.Task[None] | None = None  # waiting for the lease
        self.repointer: Repointer | None = None
        self.reachability: Reachability | None = None
        self.status = TunnelStatus(self.mode, "off", self._manual_url() if self.mode == MANUAL else None)
        self._listeners: list[Listener] = []
        self._provider: Provider | None = None
        self._running: tuple[str, str] | None = None  # the (mode, command) the provider runs
        self._queue: asyncio.Queue[TunnelStatus | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._url: str | None = None  # the public URL webhooks should point at now
        self._probe_after = 0.0  # only a probe from then on counts (the URL changed, the tunnel fell)
        self._seen = False  # the URL was recorded as seen in this run
        self._repointing = 0  # URL changes whose look at the webhooks is under way
        self._was_up = False  # down counts only after having been up
        self._probed_ok = False  # a probe through `_url` was ok since it became that (or came back)
        self._rec = TunnelRecord(submit, self._spawn, lambda: self.status)
        self._started = self._stopped = False

    # -- what the rest reads -----------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode_override or self.config.settings.value.tunnel.mode

    @property
    def command(self) -> str:
        return self._command_override or self.config.settings.value.tunnel.command

    @property
    def public_url(self) -> str | None:
        """Where the platform reaches this app in this run's mode: the typed URL (manual); the
        tunnel's own URL while this process runs it, None while it is not up; else the URL the
        folder's tunnel reported last (state `tunnel_url`, written by the lease holder)."""
        if self.mode == MANUAL:
            return self._manual_url()
        if self.holds:
            return self.status.public_url if self.status.state == "up" else None
        return self.config.state.value.tunnel_url

    @property
    def probe_url(self) -> str | None:
        """What this process probes: its own tunnel's URL; nothing without the lease (the
        holder probes the folder's tunnel, which forwards to the holder's receiver)."""
        return self.public_url if self.holds else None

    @property
    def holds(self) -> bool:
        """This process runs the data folder's tunnel now."""
        return self._lease.held and self._started and not self._stopped

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.config.settings.subscribe(self._settings_changed)
        if self.reachability is not None:
            self.reachability.subscribe(self._reach_changed)
        if self.repointer is not None:
            self.repointer.subscribe(self._pending_changed)
        if self._lease.take():
            await self._run()
            return
        why = self._lease.taken_sentence()
        log.info("%s; taking it over when it stops", why.rstrip("."))
        self.status = TunnelStatus(self.mode, "off", None, since=time.time(), error=why)
        self._tell(self.status)
        self._waiter = asyncio.ensure_future(self._wait_for_lease())

    async def _wait_for_lease(self) -> None:
        await self._lease.wait(LEASE_RETRY_S)
        log.info("the tunnel of this data folder is now run by this process")
        await self._run()

    async def _run(self) -> None:
        """With the lease: run the provider, its URL the one this process answers."""
        follow_live_tunnel(self.config, lambda: self.public_url)
        # The URL the folder's tunnel reported last: another one in this run is a change.
        self._url = self._manual_url() if self.mode == MANUAL else self.config.state.value.tunnel_url
        self._probe_after = time.time()
        self._worker = asyncio.ensure_future(self._work())
        await self._start_provider()
        if self.reachability is not None:
            self.reachability.url_changed()  # probes follow this process's tunnel from now
        await self._queue.join()  # the first state is recorded when start() returns

    async def restart(self) -> None:
        """On demand (the Restart button): a new process; a quick tunnel gets a new URL. A
        provider that could not be built (no authtoken, the receiver not listening) or holds
        what it was built with (ngrok in-process: the authtoken) is built again."""
        if self._provider is not None and self.mode != "ngrok-sdk":
            await self._provider.restart()
        elif self.holds and self.mode != MANUAL:  # without the lease: no tunnel of its own
            await self._stop_provider()
            await self._start_provider()

    async def apply_settings(self, *, rebuild: bool = False) -> None:
        """tunnel.mode / tunnel.command changed (or, `rebuild`, the receiver's port): run the provider now."""
        if not self.holds or (not rebuild and self._running == (self.mode, self.command)):
            return
        await self._stop_provider()
        await self._start_provider()

    async def stop(self) -> None:
        """Stop the provider and record the final state (`stopped`). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.config.settings.unsubscribe(self._settings_changed)
        if self.reachability is not None:
            self.reachability.unsubscribe(self._reach_changed)
        if self.repointer is not None:
            self.repointer.unsubscribe(self._pending_changed)
        if not self._started:
            return
        if self._waiter is not None:
            self._waiter.cancel()
            await asyncio.gather(self._waiter, return_exceptions=True)
        if not self._lease.held:  # it ran no tunnel: nothing to record
            self.status = replace(self.status, state="stopped", since=time.time())
            self._tell(self.status)
            return
        await self._stop_provider()
        self._rec.cancel()
        for task in list(self._tasks):  # re-pointing or a gap close under way: not waited for
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._queue.put_nowait(None)
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)
        if self.status.state != "stopped":
            self.status = replace(self.status, state="stopped", since=time.time(), pid=None)
            self._tell(self.status)
            await self._rec.mark(self.status)
        follow_live_tunnel(self.config, None)
        self._lease.release()  # another process of this folder may run it now

    # -- the provider ---------------------------------------------------------------------------------
    async def _start_provider(self) -> None:
        mode, command = self.mode, self.command
        self._running = (mode, command)
        if mode == MANUAL:
            self._changed(TunnelStatus(MANUAL, "off", self._manual_url(), since=time.time()))
            return
        try:
            self._provider = self._build(mode, command)
        except (TunnelError, SecretsError) as exc:
            self._changed(TunnelStatus(mode, "failed", None, since=time.time(), error=str(exc)))
            return
        await self._provider.start()

    def _build(self, mode: str, command: str) -> Provider:
        local = self._local()
        if local is None:
            raise TunnelError("The receiver is not listening, so there is nothing to forward to.")
        port, local_url = local
        if mode == "ngrok-sdk":
            return NgrokSdkTunnel(self._secrets.get(AUTHTOKEN_SECRET), port=port, on_change=self._changed)
        argv = command_line(mode, command, port=port, local_url=local_url)
        if self._backoff is not None:
            return CommandTunnel(
                mode, argv, local_url=local_url, on_change=self._changed, backoff=self._backoff
            )
        return CommandTunnel(mode, argv, local_url=local_url, on_change=self._changed)

    async def _stop_provider(self) -> None:
        provider, self._provider = self._provider, None
        if provider is not None:
            try:
                await provider.stop()
            except Exception:
                log.exception("stopping the tunnel failed")

    def _manual_url(self) -> str | None:
        return self.config.settings.value.public_url

    def _settings_changed(self, changed: frozenset[str]) -> None:
        if not self.holds:
            return
        if changed & TUNNEL_FIELDS:
            self._spawn(self.apply_settings())
        elif "public_url" in changed and self._running is not None and self._running[0] == MANUAL:
            self._changed(replace(self.status, public_url=self._manual_url(), since=time.time()))

    # -- each change, in order ------------------------------------------------------------------------
    def _changed(self, status: TunnelStatus) -> None:
        """The provider's (or the manual URL's) new status: told at once, handled in order."""
        if (self._stopped and status.state != "stopped") or not self._lease.held:
            return
        before, self.status = self.public_url, status
        if status.state == "up" and status.mode != MANUAL and status.public_url:
            self._save_url(status.public_url)  # before anyone hears "up": public_url follows at once
        if self.public_url != before and self.reachability is not None:
            self.reachability.url_changed()  # a tunnel down: no longer reachable, at once
        self._tell(status)
        self._queue.put_nowait(status)

    def _save_url(self, url: str) -> None:
        if self.config.state.value.tunnel_url == url:
            return
        try:
            self.config.state.update({"tunnel_url": url})
        except SettingsError as exc:  # the state file is broken: said; the URL is still not saved
            log.warning("the tunnel's URL not saved: %s", exc)

    def _tell(self, status: TunnelStatus) -> None:
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("a tunnel listener failed")

    async def _work(self) -> None:
        last: TunnelStatus | None = None
        while (status := await self._queue.get()) is not None:
            try:
                await self._handle(last, status)
            except Exception:  # one bad change must not end the watch
                log.exception("handling a tunnel change failed")
            finally:
                self._queue.task_done()
            last = status

    async def _handle(self, last: TunnelStatus | None, status: TunnelStatus) -> None:
        if last is not None and replace(last, output=()) == replace(status, output=()):
            self._rec.later()
        else:
            await self._rec.mark(status)
        manual = status.mode == MANUAL
        if status.state == "up" or manual:
            url = status.public_url
            if url is not None and url != self._url:
                await self._new_url(url)
            elif url is not None and not self._seen:  # the same URL as the last run: seen again
                await self._rec.record(UrlMark(time.time(), "seen", url, status.mode))
            elif status.state == "up" and TUNNEL in self.gaps.open_gaps:
                self._check_soon()  # back up on the same URL: probed before the gap closes
            self._seen = self._seen or url is not None
            self._was_up = True
        elif status.state in ("restarting", "failed"):
            # Down after being up, or never up (not installed, refused): nothing reaches this app.
            self._probed_ok, self._probe_after = False, time.time()
            why = (status.error or status.state).rstrip(".")
            down = "down" if self._was_up else "not up"
            await self.gaps.open_gap(TUNNEL, f"the tunnel is {down}: {why}.", status.since)
        await self._maybe_close()

    async def _new_url(self, url: str) -> None:
        old, self._url, self._probe_after, self._probed_ok = self._url, url, time.time(), False
        self._seen = True
        if self.repointer is not None:
            self._repointing += 1  # until this URL's look at the webhooks is done, nothing is settled
        log.info("public URL: %s", url)
        await self._rec.record(UrlMark(time.time(), "seen", url, self.status.mode))
        if old is not None:
            why = f"the public URL changed from {old} to {url}; webhooks still on the old one get nothing."
            await self.gaps.open_gap(TUNNEL, why)
        if self.reachability is not None:
            self.reachability.url_changed()
        if self.repointer is not None:
            self._spawn(self._repoint(old, url))

    async def _repoint(self, old: str | None, new: str) -> None:
        assert self.repointer is not None
        try:
            await self.repointer.url_changed(old, new)
        finally:
            self._repointing -= 1
        await self._maybe_close()

    def _check_soon(self) -> None:
        if self.reachability is not None:
            self._spawn(self.reachability.check_now("url_change"))

    async def _maybe_close(self) -> None:
        """Close the `tunnel` gap once the path works again end to end."""
        if TUNNEL not in self.gaps.open_gaps or not self.holds:
            return
        up = self.status.state == "up" or (self.status.mode == MANUAL and self.status.public_url)
        settled = self.repointer is None or (self.repointer.settled and not self._repointing)
        probed = self.reachability is None or self._probed_ok
        if up and settled and probed and self.status.public_url == self._url:
            await self.gaps.close_gap(TUNNEL)

    def _reach_changed(self, before: Reach, after: Reach) -> None:
        last = after.last
        if last is None or before.last is last or last.public_url != self._url or last.at < self._probe_after:
            return
        self._probed_ok = last.ok
        if last.ok:
            self._spawn(self._maybe_close())

    def _pending_changed(self, pending: list[Any]) -> None:
        if not pending:
            self._spawn(self._maybe_close())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a tunnel task failed", exc_info=exc)

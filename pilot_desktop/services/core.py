"""The application core: what the window and `serve` both run, started and stopped in stages.

It owns the configuration (the profile's settings and state, re-read every second so a
change made by another process applies here without a restart), the secret store, the
accounts, the one signing-secret provider, the webhook administration, the store with its
writer and read facade, the receiver, the number poller and the demo. The window adds only
Qt things on top (panes over `reads`, the tray); `serve` adds its console lines.

Start: config watch -> store -> gap record (services/gaps.py: the heartbeat, the time
nothing ran) -> number polling -> receiver -> demo -> the watch (services/watch.py: tunnel,
reachability, re-pointing, drift audit, alerts; once the receiver listens). A stage that
fails is recorded (`store_error`, `receiver_error`, `demo_error`) and the stages that do not
need it still run: polling needs only the store, so it runs whatever the receiver does; with
the port taken, the history is still shown, a `receiver_stopped` gap is open and the address
is tried again every `listen_retry_s` until the receiver listens (`on_listening` is told, the
watch starts). The receiver's address follows receiver.host/port in the settings while
running, and `change_port` / `retry_listen` are the window's (services/listening.py).
Stop runs the stages backwards and is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from pilot_desktop.receiver.refusals import RefusalMonitor
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.catch_up import CatchUp
from pilot_desktop.services.catch_ups import CatchUps
from pilot_desktop.services.config import SETTINGS, Config, validate
from pilot_desktop.services.core_options import WATCH_S, CoreOptions
from pilot_desktop.services.demo import Demo, DemoError, demo_config, demo_paths, reset_demo_store, start_demo
from pilot_desktop.services.gaps import GapRecorder
from pilot_desktop.services.listening import Listening
from pilot_desktop.services.number_poller import NumberPoller, NumberPolling
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.private import make_private
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.services.secrets import MemorySecrets, SecretStore, open_secrets
from pilot_desktop.services.settings import Settings
from pilot_desktop.services.signing import SigningSecrets
from pilot_desktop.services.watch import Watch, WatchKnobs
from pilot_desktop.services.webhook_admin import WebhookAdmin
from pilot_desktop.services.webhooks import local_hook_url, public_url_of
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Gap, HeartbeatRow

log = logging.getLogger(__name__)

__all__ = ["WATCH_S", "AppCore", "CoreOptions"]  # the options live in services/core_options.py


class AppCore:
    def __init__(
        self,
        paths: AppPaths,
        profile: Config,
        options: CoreOptions | None = None,
        *,
        secrets: SecretStore | None = None,
    ) -> None:
        """Raises SecretsError when the stored signing secrets cannot be read."""
        options = options or CoreOptions()
        self.paths, self.profile, self.options = paths, profile, options
        self.profile_secrets: SecretStore = secrets or open_secrets(paths.data_dir)
        # The demo has its own folder, receiver, token, accounts and secrets (in memory); the
        # operator's preferences (deadlines, notifications) still apply, and a key added
        # during the demo goes to the operator's real accounts (`profile_accounts`).
        self.store_paths = demo_paths(paths) if options.demo else paths
        self.config = demo_config() if options.demo else profile
        self.secrets: SecretStore = MemorySecrets() if options.demo else self.profile_secrets
        self.accounts = Accounts(self.config.state, self.secrets)
        self.profile_accounts = (
            Accounts(profile.state, self.profile_secrets) if options.demo else self.accounts
        )
        self.signing = SigningSecrets(
            self.config.state, self.secrets, [] if options.demo else options.given_secrets
        )
        receiver = self.config.settings.value.receiver
        self.runtime = Runtime(
            self.store_paths.data_dir,
            self.config.state.value.token,
            self.signing,
            host=options.host or receiver.host,
            port=receiver.port if options.port is None else options.port,
            instance=options.instance,
            projections=options.projections,
            # Followed while running, in this run's tunnel mode (serve --tunnel overrides the settings').
            public_url=lambda: public_url_of(self.config, None if options.demo else options.tunnel),
        )
        self.reads: Reads | None = None
        self.webhooks = WebhookAdmin(self.config, self.accounts, self.signing, lambda: self.reads)
        self.polling: NumberPolling | None = None
        self.catch_ups: CatchUps | None = None  # after each closed gap, through the API
        self.demo: Demo | None = None
        self.store_error: str | None = None
        self.gaps = GapRecorder(self._submit, heartbeat_s=options.heartbeat_s)
        # Told after every bind, unbind or change of `receiver_error` (the window's banner,
        # status bar and Live hint follow it).
        self.on_receiver_changed: list[Callable[[], None]] = []
        self.listener = Listening(
            self.runtime,
            self.gaps,
            retry_s=options.listen_retry_s,
            on_bound=self._bound,
            changed=self.on_receiver_changed,
        )
        self._started = False  # start() done: a new bind starts the watch and is told
        # The path from the platform to the receiver (services/watch.py): the demo's public URL
        # is its own base URL, so it runs no tunnel program whatever was asked.
        knobs = WatchKnobs(
            None if options.demo else options.tunnel,
            None if options.demo else options.tunnel_command,
            options.probe_interval_s,
            options.audit_interval_s,
            options.tunnel_backoff,
            options.repoint_backoff,
            self.store_paths.data_dir,  # one tunnel per data folder (services/tunnel_lease.py)
        )
        self.watch = Watch(
            self.config,
            lambda: self.prefs,
            self.webhooks,
            self._submit,
            self.gaps,
            lambda: self.reads,
            storing=self._storing,
            secrets=self.profile_secrets,
            local=self._local,
            instance=options.instance,
            knobs=knobs,
        )
        self.tunnel, self.reachability = self.watch.tunnel, self.watch.reachability
        self.repoint, self.drift, self.alerts = self.watch.repoint, self.watch.drift, self.watch.alerts
        # Told when the receiver listens after it could not (a busy port let go) or listens
        # on another address (a move).
        self.on_listening: list[Callable[[], None]] = []
        self.demo_error: str | None = None
        self.made_private: list[Path] = []  # what start() tightened (it was open to others)
        self._watch: asyncio.Task[None] | None = None
        self._stopped = False
        # Told when a settings or state file changed on disk but cannot be used (the window
        # shows it; serve's log has it anyway).
        self.on_problem: Callable[[str], None] | None = None

    # -- what the front ends show ------------------------------------------------------------
    @property
    def prefs(self) -> Settings:
        """The operator's preferences (the profile's, in the demo too)."""
        return self.profile.settings.value

    @property
    def refusals(self) -> RefusalMonitor:
        """Recent refused requests of this process's receiver (receiver/refusals.py)."""
        return self.runtime.refusals

    @property
    def listening(self) -> bool:
        return self.runtime.bound is not None

    @property
    def receiver_error(self) -> str | None:
        """Why the receiver does not listen where it should (None when it does)."""
        return self.listener.error

    @property
    def port_in_use(self) -> bool:
        return self.listener.in_use

    @property
    def port_shared(self) -> bool:
        """The busy port is held by a receiver of this same profile (a second window or serve
        on this data folder): it receives, so no gap is recorded while it does."""
        return self.listener.shared

    @property
    def hook_url(self) -> str:
        """This process's receiver (the demo's own while it runs)."""
        return self.runtime.hook_url

    @property
    def real_hook_url(self) -> str:
        """The URL to give Pilot Status: the real receiver's, whatever this process runs."""
        return local_hook_url(self.profile, host=self.options.host, port=self.options.port)

    # -- stages ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.options.demo:
            reset_demo_store(self.store_paths)
        self.store_paths.ensure()
        self.signing.log_routes()
        if self.secrets.warning and (self.accounts.all or self.config.state.value.signing_secret_webhooks):
            log.info("no system keyring: %s", self.secrets.warning)
        # Whatever else fails: the configuration is followed (accounts, secrets, the tray's
        # rules, the public URL), and a broken file is said.
        self._watch = asyncio.ensure_future(self._watch_config())
        try:
            await self.runtime.open()
        except StoreError as exc:  # the front end shows it (window banner, serve's stderr)
            self.store_error = str(exc)
            log.info("store not opened: %s", exc)
            return
        # After the open (the database files exist by now); a refused store is left untouched.
        self.made_private = make_private(self._private_folders())
        self.reads = Reads(self.runtime.db_path, self.runtime.writer)  # type: ignore[arg-type]
        token, settings = self.config.state.value.token, self.options.catch_up
        self.catch_ups = CatchUps(CatchUp(self.accounts, self.reads, self._submit, token, settings))
        self.gaps.subscribe(self.catch_ups.gap_closed)
        beat, open_gaps = self._last_run()
        await self.gaps.start(beat, open_gaps)
        # Before the receiver: polling needs only the store, so nothing the receiver does
        # (a busy port, the holder asked who it is, a retry, a move) holds it up.
        self._start_polling()
        await self.listener.start()
        if self.options.demo:
            await self._start_demo()
        if self.listening:
            await self.watch.start()
        self._started = True

    def _local(self) -> tuple[int, str] | None:
        """The receiver's bound port and local base URL, for the tunnel to forward to."""
        return (self.runtime.bound[1], self.runtime.base_url) if self.runtime.bound else None

    def _storing(self) -> tuple[bool, str | None]:
        if self.reads is None:
            return False, self.store_error
        health = self.reads.health()
        return health.state == "ok", health.reason

    def _submit(self, item: object) -> asyncio.Future[object]:
        writer = self.runtime.writer
        if writer is None:
            raise RuntimeError("the store is not open")
        return writer.submit(item)  # type: ignore[arg-type, return-value]

    def _last_run(self) -> tuple[HeartbeatRow | None, list[Gap]]:
        """The heartbeat the previous run left, and the gaps still open."""
        assert self.reads is not None
        try:
            beat = self.reads.heartbeat()
            open_gaps = [g for g in self.reads.gaps(time.time() + 86400.0) if g.ended_at is None]
        except StoreError as exc:  # unreadable: no gap is better than a false one
            log.warning("could not read the last heartbeat: %s", exc)
            return None, []
        return beat, open_gaps

    # -- the receiver's address (services/listening.py) --------------------------------------
    async def retry_listen(self) -> bool:
        """Try the receiver's address now; True when it listens there."""
        return self.runtime.writer is not None and await self.listener.retry()  # no store: no receiver

    async def change_port(self, port: int, host: str | None = None) -> None:
        """Listen on `port` (and `host`) now and save them as receiver.port/host. Raises
        SettingsError (a bad value, the field named) or ReceiverStartError (why it cannot
        listen there); then nothing changed: the file, and where the receiver listens."""
        host = host if host is not None else self.listener.target[0]
        change = {"receiver.port": port, "receiver.host": host}
        checked = self.profile.settings.value.model_dump(mode="json")
        checked["receiver"] = {**checked["receiver"], "host": host, "port": port}
        validate(SETTINGS, checked, None)  # before binding: a bad port is a field error
        if self.options.demo or self.runtime.writer is None:  # the demo's receiver is its own;
            self.profile.settings.update(change)  # without a store none listens: the next start's
            return
        before = self.listener.target
        await self.listener.move(host, port)
        try:
            self.profile.settings.update(change)  # its listener finds the address applied
        except Exception:
            with contextlib.suppress(Exception):
                await self.listener.move(*before)
            raise

    def _wanted(self) -> tuple[str, int]:
        """The address the settings ask for, serve's --host/--port first."""
        receiver = self.profile.settings.value.receiver
        port = receiver.port if self.options.port is None else self.options.port
        return self.options.host or receiver.host, port

    async def _bound(self) -> None:
        """The receiver listens (again, or elsewhere): the watch starts or follows it."""
        if not self._started or self._stopped:
            return
        log.info("Listening on %s/hooks/<token>", self.runtime.base_url)
        for listener in list(self.on_listening):  # with the gaps' news (no await between)
            try:
                listener()
            except Exception:
                log.exception("a listening listener failed")
        if self.watch.running:
            await self.watch.receiver_moved()
        else:
            await self.watch.start()

    def _private_folders(self) -> list[Path]:
        p, s = self.paths, self.store_paths
        return [p.data_dir, p.config_dir, p.log_dir, s.data_dir, s.config_dir, s.log_dir]

    async def _start_demo(self) -> None:
        if not self.listening:
            self.demo_error = "the demo's receiver could not start"
            return
        try:
            self.demo = await start_demo(self.runtime, self.config, self.accounts, self.signing)
        except DemoError as exc:
            self.demo_error = str(exc)
            log.info("demo not started: %s", exc)
            return
        self.webhooks.demo_secret = self.demo.secret_of

    def _start_polling(self) -> None:
        writer = self.runtime.writer
        assert writer is not None
        poller = NumberPoller(self.accounts, writer.submit, interval=self.prefs.numbers.poll_interval_s)
        self.polling = NumberPolling(poller)
        self.polling.start()
        self.config.state.subscribe(self._state_changed)
        self.profile.settings.subscribe(self._settings_changed)

    def _state_changed(self, changed: frozenset[str]) -> None:
        if "accounts" in changed and self.polling is not None:
            self.polling.accounts_changed()

    def _settings_changed(self, changed: frozenset[str]) -> None:
        if "numbers.poll_interval_s" in changed and self.polling is not None:
            self.polling.poller.set_interval(self.prefs.numbers.poll_interval_s)
        if changed & {"receiver.host", "receiver.port"} and not self.options.demo:
            self.listener.follow_soon(self._wanted)

    async def _watch_config(self) -> None:
        said: dict[str, str | None] = {}
        while True:
            await asyncio.sleep(self.options.watch_s)
            try:
                self.profile.reload()
            except Exception:  # a bug must not end watching for the session
                log.exception("re-reading the settings failed")
            for doc in (self.profile.settings, self.profile.state):
                if doc.problem != said.get(doc.kind.name) and doc.problem and self.on_problem:
                    self.on_problem(f"{doc.problem} The previous values stay in use.")
                said[doc.kind.name] = doc.problem

    async def stop(self) -> None:
        """Backwards: no more config changes, polls, demo deliveries; then the receiver
        drains into the writer, which drains into the store. A stage that fails is logged
        and the next still runs: the writer is always drained."""
        if self._stopped:
            return
        self._stopped = True
        self.config.state.unsubscribe(self._state_changed)
        self.profile.settings.unsubscribe(self._settings_changed)
        for name, stage in (
            ("the settings watch", self._stop_watch),
            ("listening retries", self.listener.stop),
            ("the watch", self.watch.stop),  # tunnel, probes, audits: before the receiver and writer
            ("catch-up", self.catch_ups.stop if self.catch_ups else None),  # API reads feeding the writer
            ("number polling", self.polling.stop if self.polling else None),  # before the writer it feeds
            ("the demo", self.demo.stop if self.demo else None),  # no more deliveries before the drain
            ("the receiver", self.runtime.stop_listening),
            ("the gap record", self.gaps.stop),  # the last beat says: stopped cleanly, now
            # Before the writer: its connection must be the last one open, so closing it
            # checkpoints the WAL into the database and removes it (a read connection left
            # open, the start's heartbeat read, kept a WAL of every event written).
            ("the reads", self._close_reads),
            ("the writer", self.runtime.stop),
        ):
            if stage is None:
                continue
            try:
                await stage()
            except Exception:
                log.exception("stopping %s failed", name)
        self.signing.close()

    async def _close_reads(self) -> None:
        if self.reads is not None:
            self.reads.close()

    async def _stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

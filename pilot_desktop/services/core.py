"""The application core: what the window and `serve` both run, started and stopped in stages.

It owns the configuration (the profile's settings and state, re-read every second so a
change made by another process applies here without a restart), the secret store, the
accounts, the one signing-secret provider, the webhook administration, the store with its
writer and read facade, the receiver, the number poller and the demo. The window adds only
Qt things on top (panes over `reads`, the tray); `serve` adds its console lines.

Start: store -> receiver -> demo -> number polling -> config watch. A stage that fails is
recorded (`store_error`, `receiver_error`, `demo_error`) and the stages that do not need it
still run: with the port taken, the history is still shown and number polls still stored.
Stop runs the stages backwards and is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pilot_desktop.receiver.app import PROCESS_INSTANCE
from pilot_desktop.receiver.refusals import RefusalMonitor
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.config import Config
from pilot_desktop.services.demo import Demo, DemoError, demo_config, demo_paths, reset_demo_store, start_demo
from pilot_desktop.services.number_poller import NumberPoller, NumberPolling
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.private import make_private
from pilot_desktop.services.runtime import ReceiverStartError, Runtime
from pilot_desktop.services.secrets import MemorySecrets, SecretStore, open_secrets
from pilot_desktop.services.settings import Settings
from pilot_desktop.services.signing import SigningSecrets
from pilot_desktop.services.webhook_admin import WebhookAdmin
from pilot_desktop.services.webhooks import local_hook_url
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.reads import Reads

log = logging.getLogger(__name__)

WATCH_S = 1.0  # how often the settings and state files are looked at


@dataclass(frozen=True)
class CoreOptions:
    demo: bool = False
    given_secrets: Sequence[str] = ()  # --signing-secret / the environment: every route
    host: str | None = None  # overrides of the settings (serve --host/--port)
    port: int | None = None
    instance: str = PROCESS_INSTANCE
    projections: bool = True  # off only in bench/ingest.py
    watch_s: float = WATCH_S


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
            public_url=lambda: self.config.settings.value.public_url,  # followed while running
        )
        self.reads: Reads | None = None
        self.webhooks = WebhookAdmin(self.config, self.accounts, self.signing, lambda: self.reads)
        self.polling: NumberPolling | None = None
        self.demo: Demo | None = None
        self.store_error: str | None = None
        self.receiver_error: str | None = None
        self.port_in_use = False
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
        try:
            await self.runtime.listen()
        except ReceiverStartError as exc:
            self.receiver_error, self.port_in_use = str(exc), exc.in_use
            log.info("receiver not started: %s", exc)
        if self.options.demo:
            await self._start_demo()
        self._start_polling()

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
            log.info("the receiver's address changed in the settings; it applies from the next start")

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
            ("number polling", self.polling.stop if self.polling else None),  # before the writer it feeds
            ("the demo", self.demo.stop if self.demo else None),  # no more deliveries before the drain
            ("the receiver and the writer", self.runtime.stop),
        ):
            if stage is None:
                continue
            try:
                await stage()
            except Exception:
                log.exception("stopping %s failed", name)
        if self.reads is not None:
            self.reads.close()
        self.signing.close()

    async def _stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

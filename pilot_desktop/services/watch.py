"""The watch over the path from the platform to this receiver, as the core runs it.

Five parts, built together so each knows the others it needs:

- `tunnel` (services/tunnel.py): the tunnel provider, the public URL, the `tunnel` gap;
- `reachability` (services/reachability.py): a probe through the public URL every interval;
- `repoint` (services/repoint.py): this app's webhooks moved to a new public URL;
- `drift` (services/drift.py): the platform's webhooks compared with what the app expects;
- `alerts` (services/alerts.py): unreachable, not storing, silence (the tray).

Started once the receiver listens (a tunnel to nothing is no use), stopped before it: the
probes and audits first, then the tunnel (its final state recorded), while the writer runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_desktop.services.alerts import AlertWatch
from pilot_desktop.services.config import Config
from pilot_desktop.services.drift import DriftAudit
from pilot_desktop.services.gaps import GapRecorder
from pilot_desktop.services.reachability import Reach, Reachability
from pilot_desktop.services.repoint import Repointer
from pilot_desktop.services.secrets import SecretStore
from pilot_desktop.services.settings import Settings
from pilot_desktop.services.tunnel import TunnelManager
from pilot_desktop.services.webhook_admin import WebhookAdmin
from pilot_desktop.store.reads import Reads

log = logging.getLogger(__name__)

Submit = Callable[[Any], Awaitable[object]]


@dataclass(frozen=True)
class WatchKnobs:
    """Overrides for a run: `tunnel` / `tunnel_command` (serve --tunnel), and shorter
    intervals for tests (None: the settings')."""

    tunnel: str | None = None
    tunnel_command: str | None = None
    probe_interval_s: float | None = None
    audit_interval_s: float | None = None
    tunnel_backoff: Sequence[float] | None = None
    repoint_backoff: Sequence[float] | None = None  # a failing look or move tried again (tests)
    lease: Path | None = None  # the data folder whose one tunnel this process may run


class Watch:
    def __init__(  # noqa: PLR0917 - the parts it is built from, in the order the core has them
        self,
        config: Config,
        prefs: Callable[[], Settings],
        admin: WebhookAdmin,
        submit: Submit,
        gaps: GapRecorder,
        reads: Callable[[], Reads | None],
        *,
        storing: Callable[[], tuple[bool, str | None]],
        secrets: SecretStore,
        local: Callable[[], tuple[int, str] | None],
        instance: str,
        knobs: WatchKnobs,
    ) -> None:
        self.config, self.knobs = config, knobs
        self.tunnel = TunnelManager(
            config,
            submit,
            gaps,
            local=local,
            secrets=secrets,
            mode=knobs.tunnel,
            command=knobs.tunnel_command,
            backoff=knobs.tunnel_backoff,
            lease=knobs.lease,
        )
        admin.tunnel_mode = lambda: knobs.tunnel  # this run's mode decides where webhooks point
        self.reachability = Reachability(
            lambda: self.tunnel.probe_url,
            config.state.value.token,
            instance,
            submit,
            gaps,
            interval_s=self._probe_interval,
            receiver=lambda: _receiver_name(local()),
        )
        self.repoint = Repointer(
            admin,
            submit,
            auto=lambda: config.settings.value.tunnel.auto_repoint,
            reachability=self.reachability,
            backoff=knobs.repoint_backoff,
        )
        self.tunnel.repointer, self.tunnel.reachability = self.repoint, self.reachability
        self.drift = DriftAudit(admin, submit, reads, interval_s=self._audit_interval)
        self.alerts = AlertWatch(reads, storing=storing, prefs=prefs)
        self.reachability.subscribe(self._reach_changed)
        self.running = False

    def _probe_interval(self) -> float:
        given = self.knobs.probe_interval_s
        return given if given is not None else float(self.config.settings.value.tunnel.probe_interval_s)

    def _audit_interval(self) -> float:
        given = self.knobs.audit_interval_s
        return given if given is not None else float(self.config.settings.value.tunnel.audit_interval_s)

    def _reach_changed(self, before: Reach, after: Reach) -> None:
        self.alerts.poke()  # a probe was recorded: the unreachable alert may change

    async def start(self) -> None:
        """Once the receiver listens. Idempotent."""
        if self.running:
            return
        self.running = True
        try:
            await self.tunnel.start()
        except Exception:  # the rest of the watch still runs (and says what it finds)
            log.exception("the tunnel could not start")
        self.reachability.start()
        self.drift.start()
        self.alerts.start()

    async def receiver_moved(self) -> None:
        """The receiver listens on another port: the tunnel forwards there (built again),
        the probes name the new address (they read `local()`)."""
        if self.running:
            await self.tunnel.apply_settings(rebuild=True)

    async def stop(self) -> None:
        """Probes and audits first (they go through the tunnel and the API), then the tunnel."""
        for name, stage in (
            ("the reachability probes", self.reachability.stop),  # they poke the alerts
            ("the drift audit", self.drift.stop),
            ("the alerts", self.alerts.stop),
            ("re-pointing retries", self.repoint.stop),
            ("the tunnel", self.tunnel.stop),
        ):
            try:
                await stage()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stopping %s failed", name)
        self.running = False


def _receiver_name(local: tuple[int, str] | None) -> str | None:
    """The receiver's address as the probe's advice names it ("127.0.0.1:8787")."""
    if local is None:
        return None
    return local[1].split("://", 1)[-1]

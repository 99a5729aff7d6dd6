"""The knobs of one run of the application core (services/core.py): serve's overrides of the
settings, and shorter intervals for tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pilot_desktop.receiver.app import PROCESS_INSTANCE
from pilot_desktop.services.catch_up import CatchUpSettings
from pilot_desktop.services.gaps import HEARTBEAT_S, LISTEN_RETRY_S

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
    heartbeat_s: float = HEARTBEAT_S  # services/gaps.py; shorter only in tests
    catch_up: CatchUpSettings = field(default_factory=CatchUpSettings)  # no settle delay in tests
    listen_retry_s: float = LISTEN_RETRY_S  # a busy port is tried again this often
    tunnel: str | None = None  # overrides of the settings' tunnel.mode / tunnel.command (serve --tunnel)
    tunnel_command: str | None = None
    probe_interval_s: float | None = None  # shorter only in tests (else tunnel.probe_interval_s)
    audit_interval_s: float | None = None  # shorter only in tests (else tunnel.audit_interval_s)
    tunnel_backoff: Sequence[float] | None = None  # a dead tunnel program's restarts; tests only
    repoint_backoff: Sequence[float] | None = None  # a failing re-pointing look; tests only

"""AlertWatch: the alerts beyond numbers, evaluated in the running app (core/alerts.py rules).

Every `interval_s`, and soon after `poke()` (a probe was recorded), it reads the newest
probes, the tunnel row and the numbers' cadences (in a worker thread: Reads opens its own
connection there), asks `storing()` whether the writer stores, and applies the rules of
`alerts_now`, the same function `pilot-desktop status` uses. Listeners hear the active list
when it changed (an alert opened, ended or began at another time); the tray feeds it to
core/alerts.AlertNotifier. Settings `alerts.*` switch kinds off and set the silence bounds.

While the platform cannot reach this app, nothing is stored, or any gap is open (tunnel,
unreachable, receiver stopped), every number goes silent: silence alerts wait until that is
over, so one cause is told once; then silence counts from the later of the number's last
event and when the receiver could receive again (this run's start, the latest gap's end). A muted number
(notifications.muted, or snoozed: notifications.snoozed) raises no silence alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pilot_desktop.core.alerts import (
    Alert,
    Cadence,
    ProbeLike,
    current_probes,
    not_storing_alert,
    silence_alerts,
    stale_after,
    unreachable_alert,
)
from pilot_desktop.services.notifications import muted_now
from pilot_desktop.services.settings import Settings
from pilot_desktop.store.cadence_queries import gap_bounds
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import HeartbeatRow
from pilot_desktop.store.watch_records import TunnelRow

log = logging.getLogger(__name__)

PROBES_READ = 50  # the newest probes: enough to date the start of a failing run
FAILURES = 2  # failed probes in a row before unreachable (Reachability's failures_to_alert)

Listener = Callable[[list[Alert]], None]


# The states of a managed tunnel a process keeps: its row tells the tunnel in effect.
LIVE_STATES = frozenset({"starting", "up", "restarting", "failed"})


@dataclass(frozen=True, slots=True)
class Effective:
    """The tunnel in effect: its mode, the public URL probes should go through (None: not
    known) and whether a running process's tunnel row said so (`live`)."""

    mode: str
    public_url: str | None
    live: bool


def effective_tunnel(settings: Settings, tunnel: TunnelRow | None, running: bool) -> Effective:
    """What runs, not what the settings say: a row a running process keeps (a managed tunnel
    not stopped, or its manual "off") wins, since `serve --tunnel` overrides the settings for
    one run. Otherwise the settings' mode: the typed URL in manual, else the recorded URL."""
    if running and tunnel is not None:
        if tunnel.mode != "manual" and tunnel.state in LIVE_STATES:
            return Effective(tunnel.mode, tunnel.public_url, True)
        if tunnel.mode == "manual" and tunnel.state == "off":
            return Effective("manual", tunnel.public_url, True)
    if settings.tunnel.mode == "manual":
        return Effective("manual", settings.public_url, False)
    url = tunnel.public_url if tunnel is not None and tunnel.mode != "manual" else None
    return Effective(settings.tunnel.mode, url, False)


def probes_now(
    settings: Settings, probes_newest_first: Sequence[ProbeLike], tunnel: Effective, now: float
) -> list[ProbeLike]:
    """The probes that tell the present (core/alerts.current_probes)."""
    url = tunnel.public_url
    if url is None and tunnel.mode != "manual" and probes_newest_first:
        url = probes_newest_first[0].public_url  # a managed tunnel between two URLs
    return current_probes(probes_newest_first, url, now, stale_after(settings.tunnel.probe_interval_s))


def alerts_now(
    settings: Settings,
    *,
    probes: Sequence[ProbeLike],
    storing: tuple[bool, str | None],
    storing_since: float,
    cadences: Sequence[Cadence],
    now: float,
    listening_since: float | None = None,
    gap_open: bool = False,
) -> list[Alert]:
    """The active alerts by the settings: `probes` from `probes_now`; `storing` (ok, reason);
    `listening_since`, `gap_open` from `listening`."""
    rules = settings.alerts
    out: list[Alert] = []
    if rules.unreachable and (alert := unreachable_alert(probes, FAILURES)) is not None:
        out.append(alert)
    if rules.not_storing and (alert := not_storing_alert(*storing, storing_since)) is not None:
        out.append(alert)
    cause = unreachable_alert(probes, FAILURES) is not None or not storing[0] or gap_open
    if rules.silence and not cause:
        muted = muted_now(settings.notifications, now)  # snoozed ones too, until their time
        watched = [c for c in cadences if c.number_id not in muted]
        min_s = rules.silence_min_minutes * 60.0
        out += silence_alerts(watched, now, rules.silence_factor, min_s, listening_since)
    return out


def listening(reads: Reads, beat: HeartbeatRow | None) -> tuple[float | None, bool]:
    """When the receiver could receive again at the latest (its run's start, the end of the
    latest gap), and whether a gap is open (tunnel, unreachable, receiver stopped...): silence
    counts from the first and waits while the second holds."""
    end, gap_open = reads.run(gap_bounds)
    starts = [t for t in (beat.run_started_at if beat else None, end) if t is not None]
    return (max(starts) if starts else None), gap_open


class AlertWatch:
    def __init__(
        self,
        reads: Callable[[], Reads | None],
        storing: Callable[[], tuple[bool, str | None]],
        prefs: Callable[[], Settings],
        *,
        interval_s: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._reads = reads
        self._storing = storing
        self._prefs = prefs
        self.interval_s = interval_s
        self._clock = clock
        self.active: list[Alert] = []
        self._listeners: list[Listener] = []
        self._not_storing_since: float | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing: str | None = None  # the last read failure, logged once

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def poke(self) -> None:
        """Evaluate soon (a probe was recorded, the writer's health changed)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.evaluate()
            except Exception:  # a bug here must not end the watch
                log.exception("alert evaluation failed")
            self._wake.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel that meets a
            # poke (the wait already done), and stop() then waited forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()

    async def evaluate(self) -> list[Alert]:
        """One evaluation now; tells the listeners when the active list changed."""
        now = self._clock()
        settings = self._prefs()
        ok, reason = self._storing()
        if ok:
            self._not_storing_since = None
        elif self._not_storing_since is None:
            self._not_storing_since = now
        probes: Sequence[ProbeLike] = []
        cadences: list[Cadence] = []
        since: float | None = None
        gap_open = False
        reads = self._reads()
        if reads is not None:
            try:
                probes, tunnel, cadences, since, gap_open = await asyncio.to_thread(self._read, reads, now)
                # This app runs: a live tunnel row is this run's (or another process's) tunnel.
                probes = probes_now(settings, probes, effective_tunnel(settings, tunnel, True), now)
                self._failing = None
            except Exception as exc:  # a damaged store is said by its health, not here
                if str(exc) != self._failing:
                    log.warning("alerts: could not read the store: %s", exc)
                self._failing = str(exc)
        active = alerts_now(
            settings,
            probes=probes,
            storing=(ok, reason),
            storing_since=self._not_storing_since or now,
            cadences=cadences,
            now=now,
            listening_since=since,
            gap_open=gap_open,
        )
        before = {(a.kind, a.subject, a.since) for a in self.active}
        self.active = active
        if {(a.kind, a.subject, a.since) for a in active} != before:
            for listener in list(self._listeners):
                try:
                    listener(list(active))
                except Exception:
                    log.exception("alert listener failed")
        return active

    @staticmethod
    def _read(
        reads: Reads, now: float
    ) -> tuple[list[ProbeLike], TunnelRow | None, list[Cadence], float | None, bool]:
        since, gap_open = listening(reads, reads.heartbeat())
        return list(reads.probes(PROBES_READ)), reads.tunnel(), reads.cadences(now), since, gap_open

"""Gaps: the times this receiver could not receive, recorded in the store (table `gaps`).

Kinds recorded here:

- `not_running`: no Pilot Desktop ran on this data folder, from the last heartbeat of the
  previous run (its clean stop, else its last beat: a crash, a kill or a power loss) to this
  start; also a pause of a running one (the computer slept, the process was stopped) longer
  than STALE_BEATS heartbeats.
- `receiver_stopped`: the receiver could not listen (a busy port): from the failed start to
  the moment a retry listens (AppCore retries a busy port every `listen_retry_s`).

The heartbeat: every running core writes `Heartbeat(at, run_started_at, pid)` every
`heartbeat_s` (10 s) through the writer, and `stopped=True` at a clean stop. One row keeps
the last; a batch holding only a heartbeat changes nothing the window shows (its `Changes`
is falsy), so it wakes no view.

API (the window, `serve` and the catch-up use only this):

- `AppCore.gaps` is the `GapRecorder`; it runs from `AppCore.start()` (after the store
  opened) to `AppCore.stop()`.
- `recorder.subscribe(listener)`: `listener(gap: Gap)` for every gap that ended while this
  core receives: the `not_running` gap of this start (told once the receiver listens), a
  `receiver_stopped` gap when a retry listens, a pause. This is the catch-up's hook: the
  listener runs on the loop, must not block (start a task), and records its result with
  `writer.submit(GapMark(gap_id=gap.id, caught_up_at=..., catch_up=json))`. A listener
  subscribed after `start()` is told at once the gaps that already ended in this run, so
  subscribing right after `await core.start()` misses none. A gap ended by a stop (the
  receiver was down until the end) is not told: its `caught_up_at` stays NULL and the next
  run may find it with `Reads.gaps()`.
- `recorder.follow(listener)`: `listener(gap)` for every gap opened (`ended_at` None) or
  ended, as recorded (serve's console lines, a status display).
- `recorder.started_with`: the `not_running` gap recorded at this start, if any.
- `recorder.current`: the open `receiver_stopped` gap, if any.
- `await recorder.open_gap(kind, reason, since=None)` / `await recorder.close_gap(kind)`:
  the `tunnel` gap (the managed tunnel is down, or its URL changed and this app's webhooks
  still point at the old one) and the `unreachable` gap (probes through the public URL
  fail); one open per kind, ended at a clean stop, told to subscribers (catch-up) when
  they end like the others. `recorder.open_gaps` maps kind to the open one.

Several processes on one data folder (a window and `serve`) share the heartbeat row; a start
that finds a fresh beat of a live process records no gap, and a busy port held by a receiver
of this same profile (runtime.port_holder_is_this_profile) is no gap either: it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from pilot_desktop.core.format import cli_time, duration, when
from pilot_desktop.store.records import Gap, GapMark, Heartbeat, HeartbeatRow

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # how often a running core says it is alive
STALE_BEATS = 3  # beats missed before a run counts as gone (or paused)
LISTEN_RETRY_S = 3.0  # how often a busy port is tried again
NOT_RUNNING, RECEIVER_STOPPED = "not_running", "receiver_stopped"
# Opened and ended by the watch over the path to this receiver (services/tunnel.py,
# services/reachability.py) through open_gap / close_gap: one open gap per kind.
TUNNEL, UNREACHABLE = "tunnel", "unreachable"
CLEAN_STOP = "Pilot Desktop was not running."

Submit = Callable[[Any], Awaitable[object]]
Listener = Callable[[Gap], None]


def pid_alive(pid: int | None) -> bool | None:
    """Whether a process with this id runs on this machine; None when it cannot be told."""
    if pid is None or pid <= 0 or os.name != "posix":  # os.kill(pid, 0) signals on Windows
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return None
    return True


@dataclass(frozen=True)
class LastRun:
    """What the heartbeat row says about the run that wrote it."""

    ended_at: float | None  # its clean stop, else its last beat; None: it still runs
    clean: bool
    reason: str


# The runs (their start times) of the cores alive in this process: a beat with this process's
# pid is another core in it only if its run is one of these. Else the pid was reused: the same
# pid again after a crash (PID 1 in a container), which is a gap like any crash.
_RUNS_HERE: set[float] = set()


def last_run(
    beat: HeartbeatRow | None,
    now: float,
    heartbeat_s: float,
    own_pid: int,
    runs_here: Collection[float] | None = None,
) -> LastRun | None:
    """The previous run of this data folder as its heartbeat tells it; None without one (a new
    or just migrated store). A fresh beat (under STALE_BEATS beats old) of a live process, or
    of another core alive in this process (`runs_here`), is a run still going: `ended_at` None."""
    if beat is None:
        return None
    if beat.stopped_at is not None:
        return LastRun(beat.stopped_at, True, CLEAN_STOP)
    fresh = now - beat.alive_at < STALE_BEATS * heartbeat_s
    here = _RUNS_HERE if runs_here is None else runs_here
    alive = beat.run_started_at in here if beat.pid == own_pid else pid_alive(beat.pid) is not False
    if fresh and alive:
        return LastRun(None, False, "")
    return LastRun(
        beat.alive_at,
        False,
        "Pilot Desktop was not running: it ended without a clean stop (a crash, a kill or a power "
        f"loss). The start is its last heartbeat, so the gap may have begun up to {duration(heartbeat_s)} "
        "later.",
    )


def sentence(gap: Gap) -> str:
    """'Not receiving from 17:02:11 to 17:09:40 (7 min 29 s): <reason>' (local times)."""
    if gap.ended_at is None:
        return f"Not receiving since {when(gap.started_at)}: {gap.reason}"
    span = duration(gap.ended_at - gap.started_at)
    return f"Not receiving from {when(gap.started_at)} to {when(gap.ended_at)} ({span}): {gap.reason}"


class GapRecorder:
    def __init__(
        self,
        submit: Submit,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        pid: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._submit = submit
        self.heartbeat_s = heartbeat_s
        self.pid = os.getpid() if pid is None else pid
        self._clock = clock
        self.run_started_at = 0.0
        self.started_with: Gap | None = None
        self.current: Gap | None = None  # the open receiver_stopped gap
        self.open_gaps: dict[str, Gap] = {}  # tunnel / unreachable, by kind
        self.receiving = False
        self._ended: list[Gap] = []  # ended while receiving, told (replayed to late subscribers)
        self._untold: list[Gap] = []  # ended while the receiver was down: told when it listens
        self._subscribers: list[Listener] = []
        self._followers: list[Listener] = []
        self._beats: asyncio.Task[None] | None = None
        self._stopped = False
        self._failing: str | None = None  # the last write failure, said once

    # -- listeners ---------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._subscribers.append(listener)
        for gap in self._ended:
            self._call(listener, gap)

    def unsubscribe(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(listener)

    def follow(self, listener: Listener) -> None:
        self._followers.append(listener)

    def unfollow(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._followers.remove(listener)

    @staticmethod
    def _call(listener: Listener, gap: Gap) -> None:
        try:
            listener(gap)
        except Exception:  # one listener's bug must not stop recording
            log.exception("gap listener failed")

    def _followed(self, gap: Gap) -> None:
        for listener in list(self._followers):
            self._call(listener, gap)

    def _ended_now(self, gap: Gap) -> None:
        """A gap ended: told now while receiving, else when the receiver listens."""
        self._followed(gap)
        if not self.receiving:
            self._untold.append(gap)
            return
        self._ended.append(gap)
        for listener in list(self._subscribers):
            self._call(listener, gap)

    # -- writes ------------------------------------------------------------------------------
    async def _write(self, item: Heartbeat | GapMark) -> object:
        """Through the writer; a store not storing is said in its own place (health), so a
        failure here is logged and recording goes on."""
        try:
            done = await self._submit(item)
        except Exception as exc:
            if str(exc) != self._failing:  # once per problem, not every beat
                log.warning("could not record %s: %s", type(item).__name__, exc)
            self._failing = str(exc)
            return None
        self._failing = None
        return done

    async def _record(self, kind: str, started_at: float, reason: str, ended_at: float | None) -> Gap | None:
        mark = GapMark(kind=kind, started_at=started_at, reason=reason, ended_at=ended_at)
        gap_id = await self._write(mark)
        if not isinstance(gap_id, int):
            return None
        return Gap(gap_id, kind, started_at, ended_at, reason)

    async def _beat(self, *, stopped: bool = False) -> None:
        await self._write(Heartbeat(self._clock(), self.run_started_at, self.pid, stopped))

    # -- the run -----------------------------------------------------------------------------
    async def start(self, beat: HeartbeatRow | None, open_gaps: list[Gap]) -> Gap | None:
        """After the store opened, before listening: end what the previous run left open,
        record the time nothing ran, write the first beat and keep beating. Returns the
        `not_running` gap recorded (told to subscribers once the receiver listens)."""
        now = self.run_started_at = self._clock()
        previous = last_run(beat, now, self.heartbeat_s, self.pid)
        _RUNS_HERE.add(now)
        if previous is not None and previous.ended_at is not None:
            # Its run is over: gaps it left open (a crash) ended when it did.
            for gap in open_gaps:
                end = max(gap.started_at, previous.ended_at)
                await self._write(GapMark(gap_id=gap.id, ended_at=end))
            self.started_with = await self._record(
                NOT_RUNNING, min(previous.ended_at, now), previous.reason, now
            )
            if self.started_with is not None:
                log.info("%s", sentence(self.started_with))
                self._ended_now(self.started_with)
        await self._beat()
        self._beats = asyncio.ensure_future(self._keep_beating())
        return self.started_with

    async def _keep_beating(self) -> None:
        while True:
            before = self._clock()
            await asyncio.sleep(self.heartbeat_s)
            now = self._clock()
            if now - before > STALE_BEATS * self.heartbeat_s:
                # The loop did not run: the computer slept, or the process was stopped or
                # blocked. (Timed around the sleep only: a slow write is not a pause.)
                reason = (
                    "Pilot Desktop was paused (the computer slept, or the process was stopped or "
                    f"blocked): no heartbeat for {duration(now - before)}."
                )
                gap = await self._record(NOT_RUNNING, before, reason, now)
                if gap is not None:
                    log.info("%s", sentence(gap))
                    self._ended_now(gap)
            await self._beat()

    async def receiver_down(self, reason: str, since: float | None = None) -> Gap | None:
        """The receiver cannot listen: open a `receiver_stopped` gap (once), from `since`
        (this run's start when it never listened) or now."""
        self.receiving = False
        if self.current is None and not self._stopped:
            start = self._clock() if since is None else since
            self.current = await self._record(RECEIVER_STOPPED, start, reason, None)
            if self.current is not None:
                log.info("%s", sentence(self.current))
                self._followed(self.current)
                # A beat after the gap's start: should this run end without a stop, the next
                # start ends the gap at its last beat, never before it began.
                await self._beat()
        return self.current

    async def receiver_up(self) -> None:
        """The receiver listens: end the open gap, tell the gaps that waited for this."""
        self.receiving = True
        if self.current is not None:
            ended = replace(self.current, ended_at=self._clock())
            self.current = None
            await self._write(GapMark(gap_id=ended.id, ended_at=ended.ended_at))
            self._untold.append(ended)
            self._followed(ended)
        untold, self._untold = self._untold, []
        for gap in untold:
            self._ended.append(gap)
            for listener in list(self._subscribers):
                self._call(listener, gap)

    async def open_gap(self, kind: str, reason: str, since: float | None = None) -> Gap | None:
        """Open a gap of `kind` from `since` (default now), unless one of that kind is open."""
        if kind in self.open_gaps or self._stopped or self.run_started_at == 0.0:
            return self.open_gaps.get(kind)
        gap = await self._record(kind, self._clock() if since is None else since, reason, None)
        if gap is not None and kind not in self.open_gaps:
            self.open_gaps[kind] = gap
            log.info("%s", sentence(gap))
            self._followed(gap)
            await self._beat()  # as receiver_down: a crash ends the gap at a later beat
        return self.open_gaps.get(kind)

    async def close_gap(self, kind: str) -> Gap | None:
        """End the open gap of `kind` now; subscribers are told (the catch-up runs)."""
        gap = self.open_gaps.pop(kind, None)
        if gap is None:
            return None
        ended = replace(gap, ended_at=max(gap.started_at, self._clock()))
        await self._write(GapMark(gap_id=ended.id, ended_at=ended.ended_at))
        self._ended_now(ended)
        return ended

    async def stop(self) -> None:
        """A clean stop (after the receiver closed, before the writer drains): the open gap
        ends now, and the last beat says the run stopped."""
        if self._stopped:
            return
        self._stopped = True
        self.receiving = False
        _RUNS_HERE.discard(self.run_started_at)
        if self._beats is not None:
            self._beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beats
        if self.run_started_at == 0.0:
            return  # never started (no store)
        open_now = [g for g in (self.current, *self.open_gaps.values()) if g is not None]
        self.current, self.open_gaps = None, {}
        for gap in open_now:
            ended = replace(gap, ended_at=max(gap.started_at, self._clock()))
            await self._write(GapMark(gap_id=ended.id, ended_at=ended.ended_at))
            self._followed(ended)
        await self._beat(stopped=True)


@dataclass(frozen=True)
class Situation:
    """What the store says about receiving now (`pilot-desktop gaps`)."""

    receiving: bool | None  # None: nothing is known (no heartbeat yet)
    since: float | None  # not receiving since (a stop, or the last beat of a run that ended)
    sentence: str  # the moments in it are UTC, as the CLI prints them


def situation(beat: HeartbeatRow | None, now: float, heartbeat_s: float = HEARTBEAT_S) -> Situation:
    """Whether a Pilot Desktop runs for this data folder, from its heartbeat: a clean stop, or
    a beat older than STALE_BEATS beats or of a process that is gone, means nothing receives."""
    if beat is None:
        unknown = "No run of this version recorded yet: whether it receives now is unknown."
        return Situation(None, None, unknown)
    if beat.stopped_at is not None:
        at = cli_time(beat.stopped_at)
        return Situation(
            False,
            beat.stopped_at,
            f"Not receiving since {at} UTC: Pilot Desktop was stopped (no Pilot Desktop running for this "
            "data folder).",
        )
    stale = now - beat.alive_at >= STALE_BEATS * heartbeat_s
    if stale or pid_alive(beat.pid) is False:
        at = cli_time(beat.alive_at)
        return Situation(
            False,
            beat.alive_at,
            f"Not receiving since {at} UTC (no Pilot Desktop running for this data folder): that is its "
            "last heartbeat; it ended without a clean stop.",
        )
    return Situation(
        True,
        None,
        f"Pilot Desktop is running for this data folder (pid {beat.pid}, last heartbeat "
        f"{cli_time(beat.alive_at)} UTC).",
    )


def catch_up_text(gap: Gap) -> str:
    """'caught up 17:10:02: 12 steps restored', from the catch-up's JSON: its `summary`
    sentence when it has one, else its fields."""
    if gap.caught_up_at is None:
        return "" if gap.ended_at is None else "-"
    data = gap.catch_up or {}
    summary = data.get("summary")
    if isinstance(summary, str) and summary:
        detail = summary
    else:
        parts = []
        for key, value in data.items():
            parts.append(f"{key} {len(value) if isinstance(value, dict | list) else value}")
        detail = ", ".join(parts)
    at = f"caught up {cli_time(gap.caught_up_at)[11:]}"
    return f"{at}: {detail}" if detail else at

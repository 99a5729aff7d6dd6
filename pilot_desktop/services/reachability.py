"""Continuous reachability: does a request sent to the public URL reach this receiver, now?

`Reachability` probes the current public URL (tunnel/probe.py: a signed GET through the
tunnel back to this receiver, diagnosed when it fails) every `interval_s()` seconds and on
demand, records every probe (`ProbeMark`, table `probes`), and keeps `reach`:

    not_checked --ok--> reachable --fail--> failing (1) --fail--> unreachable (>= failures_to_alert)
    any state --ok--> reachable;  a changed or removed public URL --> not_checked

- Unreachable opens the `unreachable` gap (services/gaps.py) from the first failed probe's
  time; the first ok probe ends it, so the catch-up reads back what the platform could not
  deliver.
- No public URL: `not_checked` with `public_url` None, nothing probed. An `unreachable` gap
  this monitor opened is ended then: with no public URL nothing is delivered through one, and
  a tunnel that is down is the `tunnel` gap's business (services/tunnel.py).
- A changed URL (`url_changed()`, or `public_url()` answering another one, looked at every
  second) resets the state to `not_checked` and is probed within URL_SETTLE_S; calls in
  between ride along. A probe that was under way for the old URL is recorded, not applied.
- The schedule counts from the start of the last probe, whatever asked for it, and reads
  `interval_s()` at least every WAKE_S: a slow probe (up to `timeout_s`) is followed at once
  by the next one when its interval passed meanwhile, never by a burst; probes never overlap,
  and concurrent `check_now()` calls share the probe under way.
- Listeners get (before, after) on the loop after every probe and every reset; one that
  raises is logged. A probe that cannot be recorded (the store is not storing) is logged once
  per problem and probing goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pilot_desktop.services.gaps import UNREACHABLE, GapRecorder
from pilot_desktop.store.watch_records import ProbeMark
from pilot_desktop.tunnel.probe import probe

log = logging.getLogger(__name__)

ReachState = Literal["not_checked", "reachable", "failing", "unreachable"]
Submit = Callable[[Any], Awaitable[object]]

URL_SETTLE_S = 0.3  # a changed URL is probed this soon (one probe for a burst of changes)
WAKE_S = 1.0  # the schedule looks at interval_s() and public_url() at least this often
WRITE_WAIT_S = 5.0  # for the writer to record a probe before listeners are told anyway
DEFAULT_INTERVAL_S = 60.0  # when interval_s() answers something unusable


@dataclass(frozen=True)
class Reach:
    state: ReachState  # failing: 1 failure in a row (amber); unreachable: >= failures_to_alert (red)
    public_url: str | None  # None: there is no public URL, so nothing is checked
    last: ProbeMark | None = None  # the newest probe of this URL in this run
    failures: int = 0  # consecutive failures up to `last`
    since: float | None = None  # time.time() of entering this state


Listener = Callable[[Reach, Reach], None]


def advance(before: Reach, mark: ProbeMark, failures_to_alert: int = 2) -> Reach:
    """The state after the probe `mark` of `before.public_url`."""
    if mark.ok:
        since = before.since if before.state == "reachable" else mark.at
        return Reach("reachable", before.public_url, mark, 0, since)
    failures = before.failures + 1
    state: ReachState = "unreachable" if failures >= failures_to_alert else "failing"
    since = before.since if before.state == state else mark.at
    return Reach(state, before.public_url, mark, failures, since)


def _url(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class Reachability:
    def __init__(
        self,
        public_url: Callable[[], str | None],
        token: str,
        instance: str,
        submit: Submit,
        gaps: GapRecorder,
        *,
        interval_s: Callable[[], float],
        receiver: Callable[[], str | None] = lambda: None,
        timeout_s: float = 10.0,
        failures_to_alert: int = 2,
    ) -> None:
        self._public_url, self._token, self._instance = public_url, token, instance
        self._submit, self._gaps = submit, gaps
        self._interval_s, self._receiver = interval_s, receiver
        self.timeout_s = timeout_s
        self.failures_to_alert = max(1, failures_to_alert)
        self._said: dict[str, str] = {}  # the last problem logged, per kind: said once
        self.reach = Reach("not_checked", self._current_url(), None, 0, time.time())
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()  # probes never overlap
        self._inflight: asyncio.Task[Reach] | None = None  # shared by concurrent check_now()
        self._inflight_epoch = 0
        self._epoch = 0  # bumped by every URL change: an older probe answers for the old URL
        self._tasks: set[asyncio.Task[Reach]] = set()
        self._monitor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._url_due: float | None = None  # monotonic time of the probe a URL change asked for
        self._last_start: float | None = None  # monotonic time the last probe began
        self._first_failure_at: float | None = None  # time.time() of the streak's first failure
        self._gap_open = False  # this monitor opened the `unreachable` gap and has not ended it
        self._stopped = False

    # -- listeners -----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _set(self, after: Reach) -> None:
        before, self.reach = self.reach, after
        self._tell(before, after)

    def _tell(self, before: Reach, after: Reach) -> None:
        for listener in list(self._listeners):
            try:
                listener(before, after)
            except Exception:  # a listener's bug must not stop the watch
                log.exception("reachability listener failed")

    def _once(self, kind: str, problem: str | None) -> None:
        """Log a problem of `kind` once, until it changes; None: it went away."""
        if problem is None:
            self._said.pop(kind, None)
        elif self._said.get(kind) != problem:
            self._said[kind] = problem
            log.warning("%s: %s", kind, problem)

    # -- what is probed, and how often ---------------------------------------------------------
    def _current_url(self) -> str | None:
        try:
            url = _url(self._public_url())
        except Exception as exc:  # said once; no URL known means nothing is checked
            self._once("could not tell the public URL", f"{type(exc).__name__}: {exc}")
            return None
        self._once("could not tell the public URL", None)
        return url

    def interval(self) -> float:
        """The probe interval now (the setting, or 60 s when it answers something unusable)."""
        problem: str | None = None
        try:
            value = float(self._interval_s())
        except Exception as exc:
            value, problem = DEFAULT_INTERVAL_S, f"{type(exc).__name__}: {exc}"
        if problem is None and not (math.isfinite(value) and value > 0):
            problem = f"{value} is not a duration"
        self._once("probe interval unusable, using 60 s", problem)
        return value if problem is None else DEFAULT_INTERVAL_S

    def _receiver_name(self) -> str | None:
        try:
            return self._receiver()
        except Exception:
            return None

    # -- the run -------------------------------------------------------------------------------
    def start(self) -> None:
        """Probe at once, then every interval_s()."""
        if self._monitor is None and not self._stopped:
            self._last_start = None
            self._monitor = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        """Cancel the schedule and any probe under way. Idempotent; gaps are left to the
        recorder's own stop (a stop is not a recovery)."""
        self._stopped = True
        tasks = [t for t in (self._monitor, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def url_changed(self) -> None:
        """The public URL changed (or may have): not_checked now, a probe within URL_SETTLE_S."""
        if self._stopped:
            return
        self._reset(self._current_url())
        if self._url_due is None:
            self._url_due = time.monotonic() + URL_SETTLE_S
        self._wake.set()

    def _reset(self, url: str | None) -> None:
        self._epoch += 1
        self._first_failure_at = None
        self._set(Reach("not_checked", url, None, 0, time.time()))

    async def _watch(self) -> None:
        while not self._stopped:
            trigger = await self._due()
            try:
                await self.check_now(trigger)
            except Exception:  # never seen; the schedule must survive it all the same
                log.exception("reachability check failed")

    async def _due(self) -> str:
        """Wait for the next probe; answer its trigger."""
        while True:
            self._wake.clear()
            if self._current_url() != self.reach.public_url:  # changed without a word
                self.url_changed()
            now = time.monotonic()
            if self._url_due is not None and now >= self._url_due:
                self._url_due = None
                return "url_change"
            due = now if self._last_start is None else self._last_start + self.interval()
            if now >= due:
                return "schedule"
            wait = min(due - now, WAKE_S)
            if self._url_due is not None:
                wait = min(wait, self._url_due - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def check_now(self, trigger: str = "demand") -> Reach:
        """Probe the public URL now (or join the probe under way for it) and answer the state."""
        if self._stopped:
            return self.reach
        task = self._inflight
        if task is None or task.done() or self._inflight_epoch != self._epoch:
            task = asyncio.ensure_future(self._check(trigger))
            self._inflight, self._inflight_epoch = task, self._epoch
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._stopped and current is not None and not current.cancelling():
                return self.reach  # stop() cancelled the probe, not our caller
            raise

    async def _check(self, trigger: str) -> Reach:
        async with self._lock:
            if self._stopped:
                return self.reach
            url = self._current_url()
            if url != self.reach.public_url:  # probed right now: no other probe needed
                self._reset(url)
            self._last_start = time.monotonic()
            if url is None:
                await self._end_gap()
                return self.reach
            epoch, at = self._epoch, time.time()
            result = await probe(
                url, self._token, self._instance, timeout=self.timeout_s, receiver=self._receiver_name()
            )
            mark = ProbeMark(
                at,
                url,
                result.ok,
                result.elapsed_ms,
                result.diagnosis,
                result.sentence,
                result.status,
                trigger,
            )
            await self._record(mark)
            if epoch != self._epoch or url != self._current_url():
                return self.reach  # an answer about the old URL: recorded, not applied
            await self._apply(mark)
            return self.reach

    async def _record(self, mark: ProbeMark) -> None:
        try:
            await asyncio.wait_for(self._submit(mark), WRITE_WAIT_S)
        except Exception as exc:  # the store says its own trouble (health); the watch goes on
            self._once("could not record a probe", str(exc) or type(exc).__name__)
        else:
            self._once("could not record a probe", None)

    async def _apply(self, mark: ProbeMark) -> None:
        before = self.reach
        # Set first: the gap's subscribers (the catch-up) and listeners see the new state.
        self.reach = after = advance(before, mark, self.failures_to_alert)
        if mark.ok:
            self._first_failure_at = None
            await self._end_gap()
        else:
            if self._first_failure_at is None:
                self._first_failure_at = mark.at
            if after.state == "unreachable" and not self._gap_open:
                await self._open_gap(after)
        self._tell(before, after)

    async def _open_gap(self, reach: Reach) -> None:
        assert reach.last is not None
        reason = (
            f"Probes through the public URL {reach.public_url} fail ({reach.failures} in a row): "
            f"{reach.last.sentence}"
        )
        try:
            gap = await self._gaps.open_gap(UNREACHABLE, reason, since=self._first_failure_at)
        except Exception:
            log.exception("could not open the unreachable gap")
            return
        self._gap_open = gap is not None

    async def _end_gap(self) -> None:
        if not self._gap_open:
            return
        self._gap_open = False
        try:
            await self._gaps.close_gap(UNREACHABLE)
        except Exception:
            log.exception("could not end the unreachable gap")

"""Alerts beyond numbers (issue 16): the rules, and which of them become a notification.

Pure and clock-driven (the time is passed in), so services/alerts.py (the running app),
`pilot-desktop status` (the same rules on the stored records) and the tests agree:

- `unreachable`: the newest `failures` probes through the public URL all failed, in a row,
  through the same URL; since the first failure of that run. Probes of another URL, or
  probes too old to tell the present (`current_probes`), do not count.
- `not_storing`: the writer cannot store what the receiver accepts (`not_storing_alert`).
- `silence`: a number that usually receives (at least MIN_RECENT webhook events in the last
  WINDOW_S) has been silent longer than max(factor x its usual gap, min_s). Its usual gap is
  the 90th percentile of its last SAMPLE_GAPS inter-arrival gaps: webhooks come in bursts (a
  message's sent, delivered and read within seconds), so the median is a gap inside a burst
  and would make every busy number alert after min_s; the 90th percentile is the pause
  between bursts, and one long outlier (a night) among the sample does not move it. A number
  whose connection state is known and not OPEN is not silent: its disconnection is told by
  number alerts. Silence counts from when the receiver could receive again at the latest
  (this run's start, the end of the latest gap), and waits while a gap is open.

`AlertNotifier` turns the active alerts into notifications like core/notify.Notifier does for
numbers: an alert is told once it has held for its kind's delay (`DELAYS`), its recovery
once, only if its opening was shown; at most one notification per alert per spacing (the
number rules' `disconnect_delay`); quiet hours and muted numbers honoured.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pilot_desktop.core.format import duration
from pilot_desktop.core.notify import Notification, NotifyRules
from pilot_desktop.core.numbers import OPEN, UNKNOWN

AlertKind = Literal["unreachable", "not_storing", "silence"]
UNREACHABLE: AlertKind = "unreachable"
NOT_STORING: AlertKind = "not_storing"
SILENCE: AlertKind = "silence"
KINDS: tuple[AlertKind, ...] = (UNREACHABLE, NOT_STORING, SILENCE)

WINDOW_S = 7 * 86_400.0  # a number counts as active with MIN_RECENT webhook events in it
MIN_RECENT = 10
SAMPLE_GAPS = 200  # the usual gap is measured on at most this many of the newest gaps
GAP_PERCENTILE = 90.0
# An alert must hold this long before it is told: a writer replaced after a crash is
# storing again within seconds; unreachable already needs two failed probes in a row.
DELAYS: Mapping[str, float] = {UNREACHABLE: 0.0, NOT_STORING: 30.0, SILENCE: 0.0}


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    subject: str | None  # the number id of a silence alert; None for the others
    since: float  # when the problem began (first failed probe, last event, first not storing)
    sentence: str

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.kind, self.subject)


class ProbeLike(Protocol):
    """A probe through the public URL: store/watch_records' ProbeMark or ProbeRow."""

    @property
    def at(self) -> float: ...
    @property
    def public_url(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def sentence(self) -> str: ...


# -- unreachable ------------------------------------------------------------------------------


def stale_after(interval_s: float) -> float:
    """A newest probe older than this tells nothing about now (nothing probes any more)."""
    return 3 * interval_s + 60.0


def current_probes(
    probes_newest_first: Sequence[ProbeLike], public_url: str | None, now: float, max_age: float
) -> list[ProbeLike]:
    """The probes that tell the present: none without a public URL or when the newest is older
    than `max_age`; else the newest run through `public_url`."""
    if public_url is None or not probes_newest_first or now - probes_newest_first[0].at > max_age:
        return []
    out = []
    for p in probes_newest_first:
        if p.public_url != public_url:
            break
        out.append(p)
    return out


def failing_run(probes_newest_first: Sequence[ProbeLike]) -> list[ProbeLike]:
    """The newest failed probes in a row through one URL (newest first)."""
    run: list[ProbeLike] = []
    for p in probes_newest_first:
        if p.ok or (run and p.public_url != run[0].public_url):
            break
        run.append(p)
    return run


ReachState = Literal["not_checked", "reachable", "failing", "unreachable"]


@dataclass(frozen=True, slots=True)
class ProbeState:
    """Reachability as the newest current probes tell it (services/reachability.py's states)."""

    state: ReachState
    failures: int  # failed probes in a row, newest first
    since: float | None  # the first of them (failing / unreachable), the newest ok (reachable)


def probe_state(current_newest_first: Sequence[ProbeLike], failures: int = 2) -> ProbeState:
    """From `current_probes`: nothing -> not_checked; a newest ok -> reachable; 1 failure in a
    row -> failing; `failures` or more -> unreachable."""
    if not current_newest_first:
        return ProbeState("not_checked", 0, None)
    run = failing_run(current_newest_first)
    if not run:
        oks = list(itertools.takewhile(lambda p: p.ok, current_newest_first))
        return ProbeState("reachable", 0, oks[-1].at)
    state: ReachState = "unreachable" if len(run) >= max(1, failures) else "failing"
    return ProbeState(state, len(run), run[-1].at)


def unreachable_alert(probes_newest_first: Sequence[ProbeLike], failures: int = 2) -> Alert | None:
    """Alert when the newest `failures` probes all failed through the same URL: since the first
    of the failures in a row, with the diagnosis of the newest."""
    run = failing_run(probes_newest_first)
    if len(run) < max(1, failures):
        return None
    newest, first = run[0], run[-1]
    span = f" over {duration(newest.at - first.at)}" if newest.at > first.at else ""
    sentence = (
        f"The platform cannot reach this app through {newest.public_url}: {len(run)} probes in a row "
        f"failed{span}. {newest.sentence}"
    )
    return Alert(UNREACHABLE, None, first.at, sentence)


# -- not storing --------------------------------------------------------------------------------


def not_storing_alert(storing: bool, reason: str | None, since: float) -> Alert | None:
    if storing:
        return None
    why = (reason or "the store writer is not running").rstrip(".")
    sentence = (
        f"Webhooks are not being stored: {why}. The receiver answers 503 and the platform retries "
        "for a while; fix the store (disk space, permissions, `pilot-desktop rebuild`) before then."
    )
    return Alert(NOT_STORING, None, since, sentence)


# -- silence --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cadence:
    """How a number usually receives (store/cadence_queries.py)."""

    number_id: str
    name: str | None
    last_at: float | None  # its newest webhook event (catch-up reconstructions excluded)
    usual_gap: float | None  # GAP_PERCENTILE of its newest gaps; None: too few events
    recent: int  # webhook events within WINDOW_S before the query's time (of the sample)
    connection: str | None = None  # number_state.connection; None: never told


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def cadence_of(
    number_id: str,
    arrivals_newest_first: Sequence[float],
    now: float,
    *,
    name: str | None = None,
    connection: str | None = None,
) -> Cadence:
    """A number's cadence from its newest arrival times (at most SAMPLE_GAPS + 1 of them)."""
    times = sorted(arrivals_newest_first, reverse=True)[: SAMPLE_GAPS + 1]  # ids ~ arrival order
    recent = sum(1 for t in times if now - t <= WINDOW_S)
    gaps = [max(0.0, a - b) for a, b in itertools.pairwise(times)]
    usual = percentile(gaps, GAP_PERCENTILE) if len(gaps) >= MIN_RECENT - 1 else None
    return Cadence(number_id, name, times[0] if times else None, usual, recent, connection)


def silence_threshold(usual_gap: float, factor: float, min_s: float) -> float:
    return max(factor * usual_gap, min_s)


def watched(c: Cadence) -> bool:
    """Whether a number's silence means something: it usually receives, and it is not known
    to be disconnected (that is a number alert)."""
    connected = c.connection in (None, OPEN, UNKNOWN)
    return connected and c.recent >= MIN_RECENT and c.last_at is not None and c.usual_gap is not None


def silence_alerts(
    cadences: Sequence[Cadence],
    now: float,
    factor: float,
    min_s: float,
    listening_since: float | None = None,
) -> list[Alert]:
    """Silence counts from the later of a number's last event and `listening_since` (when
    the receiver could receive again: this run's start, the end of the latest gap): a number
    is not silent for the hours nothing could receive."""
    out = []
    for c in cadences:
        if not watched(c) or c.last_at is None or c.usual_gap is None:
            continue
        start = c.last_at if listening_since is None else max(c.last_at, listening_since)
        silent = now - start
        if silent <= silence_threshold(c.usual_gap, factor, min_s):
            continue
        name = c.name or c.number_id
        since = "" if start == c.last_at else " since this app could receive again"
        sentence = (
            f"No webhook event for {name} for {duration(silent)}{since}; it usually receives one every "
            f"{duration(c.usual_gap)} or less (9 gaps in 10). Check the number on the platform and "
            "its webhooks (`pilot-desktop webhooks drift`)."
        )
        out.append(Alert(SILENCE, c.number_id, start, sentence))
    return out


# -- notifications ----------------------------------------------------------------------------

_OPEN_WORDS = {
    UNREACHABLE: ("Unreachable: webhooks cannot reach this app", "down"),
    NOT_STORING: ("Not storing webhooks", "down"),
    SILENCE: ("{name} is silent", "warn"),
}
_OVER_WORDS = {
    UNREACHABLE: ("reachable", "Reachable again", "A probe through the public URL reached this app."),
    NOT_STORING: ("storing", "Storing webhooks again", "The store writes what the receiver accepts."),
    SILENCE: (
        "silence_over",
        "{name}: silence over",
        "An event arrived, or the number is no longer watched (not connected, or silent over 7 days).",
    ),
}


@dataclass
class _Track:
    alert: Alert
    seen_at: float  # when this notifier first saw it active
    told: bool = False  # its opening was emitted (shown or held back by quiet hours / mute)
    shown: bool = False  # its opening was shown
    over: bool = False  # resolved, recovery not told yet


class AlertNotifier:
    """`feed(active, now)` after each evaluation, `due(now)` on a timer (every few seconds)."""

    def __init__(
        self,
        rules: NotifyRules | None = None,
        names: dict[str, str] | None = None,
        delays: Mapping[str, float] | None = None,
    ) -> None:
        self.rules = rules or NotifyRules()
        self.names = names if names is not None else {}
        self.delays = dict(DELAYS if delays is None else delays)
        self._tracks: dict[tuple[str, str | None], _Track] = {}
        self._last_told: dict[tuple[str, str | None], float] = {}  # kept past a recovery
        self.suppressed = 0  # held back by quiet hours or mute

    def feed(self, active: Sequence[Alert], now: float) -> None:
        keys = set()
        for alert in active:
            keys.add(alert.key)
            track = self._tracks.get(alert.key)
            if track is None:
                self._tracks[alert.key] = _Track(alert, now)
            else:  # back before its recovery was told: still the opening told
                track.alert, track.over = alert, False
        for key, track in list(self._tracks.items()):
            if key in keys:
                continue
            if track.told:
                track.over = True
            else:  # resolved before its delay: a blip, never told
                del self._tracks[key]

    def _name(self, alert: Alert) -> str:
        subject = alert.subject or ""
        return self.names.get(subject) or subject

    def _emit(self, n: Notification, alert: Alert, out: list[Notification]) -> bool:
        self._last_told[alert.key] = n.at
        if (alert.subject and self.rules.muted_at(alert.subject, n.at)) or self.rules.quiet(n.at):
            self.suppressed += 1
            return False
        out.append(n)
        return True

    def due(self, now: float) -> list[Notification]:
        out: list[Notification] = []
        spacing = self.rules.disconnect_delay
        for key, at in list(self._last_told.items()):
            if now - at >= spacing:
                del self._last_told[key]
        for key, track in list(self._tracks.items()):
            a = track.alert
            if key in self._last_told:
                continue  # one notification per alert per spacing; the rest on a later tick
            name = self._name(a)
            if track.over:
                del self._tracks[key]
                if track.shown:
                    kind, title, text = _OVER_WORDS[a.kind]
                    n = Notification(a.subject or "", kind, title.format(name=name), text, now, "ok")
                    self._emit(n, a, out)
            elif not track.told and now - track.seen_at >= self.delays.get(a.kind, 0.0):
                title, severity = _OPEN_WORDS[a.kind]
                n = Notification(a.subject or "", a.kind, title.format(name=name), a.sentence, now, severity)
                track.told = True
                track.shown = self._emit(n, a, out)
        return out

"""One reader of the receiver's recent refusals for the whole window.

The receiver tells its `RefusalMonitor` about every refused request (thousands a second in
a flood). Nothing in the window redraws per refusal: this reads the monitor's summary once a
second, and only when something was refused or the five-minute window is still sliding,
then tells the status bar, the number cards, the webhook rows and the tray what changed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from pilot_desktop.receiver.refusals import BURST_S, KEEP, WINDOW_S, Refusal, RefusalMonitor, RefusalSummary

REFRESH_MS = 1000
K = TypeVar("K", str, str | None)


@dataclass(frozen=True)
class Concern:
    """Refused deliveries concerning one route or one number, in the window."""

    count: int
    statuses: tuple[tuple[int, int], ...]  # (status, count), most frequent first
    latest: Refusal
    at_least: bool = False  # counted among the newest KEEP refusals only (a flood): a lower bound

    @property
    def count_text(self) -> str:
        """'12', or '2,000+' when the flood was larger than what is kept whole."""
        return f"{self.count:,}{'+' if self.at_least else ''}"

    @property
    def status_text(self) -> str:
        """'401', or '401, 404' when several."""
        return ", ".join(str(s) for s, _ in self.statuses)

    @property
    def short(self) -> str:
        """What the newest refusal was, in a few words: its diagnosis's verdict, else its reason."""
        return self.latest.verdict or self.latest.reason


@dataclass(frozen=True)
class RefusalPicture:
    summary: RefusalSummary
    routes: Mapping[str | None, Concern] = field(default_factory=dict)
    numbers: Mapping[str, Concern] = field(default_factory=dict)
    capped: bool = False  # more were refused in the window than are kept whole: routes counted low

    @property
    def deliveries(self) -> int:
        return self.summary.deliveries

    def route(self, route: str | None) -> Concern | None:
        return self.routes.get(route)

    def number(self, number_id: str) -> Concern | None:
        return self.numbers.get(number_id)


def window_words(window_s: float) -> str:
    """'5 min', '1 min', '30 s': the span a count covers."""
    return f"{round(window_s / 60)} min" if window_s >= 60 else f"{round(window_s)} s"


def picture(monitor: RefusalMonitor, window_s: float = WINDOW_S, now: float | None = None) -> RefusalPicture:
    """The monitor's summary, with the refused deliveries grouped by route and by number
    (from the refusals it keeps whole: the newest KEEP)."""
    now = time.time() if now is None else now
    summary = monitor.summary(window_s, now)
    if not summary.deliveries:
        return RefusalPicture(summary)
    since = now - window_s
    by_route: dict[str | None, tuple[Counter[int], Refusal]] = {}
    by_number: dict[str, tuple[Counter[int], Refusal]] = {}
    kept = monitor.recent(KEEP)
    capped = len(kept) == KEEP and kept[-1].at >= since
    for r in kept:  # newest first: the first seen of a key is its latest
        if r.at < since:
            break
        if not r.delivery:
            continue
        _count(by_route, r.route, r)
        if number := r.number_id or r.route:  # a route made here names its number
            _count(by_number, number, r)
    routes = {k: _concern(*v, capped) for k, v in by_route.items()}
    numbers = {k: _concern(*v, capped) for k, v in by_number.items()}
    return RefusalPicture(summary, routes, numbers, capped)


def _count(groups: dict[K, tuple[Counter[int], Refusal]], key: K, r: Refusal) -> None:
    found = groups.get(key)
    if found is None:
        groups[key] = (Counter({r.status: 1}), r)
    else:
        found[0][r.status] += 1


def _concern(statuses: Counter[int], latest: Refusal, capped: bool) -> Concern:
    return Concern(statuses.total(), tuple(statuses.most_common()), latest, capped)


class RefusalWatch(QObject):
    """Reads the monitor once a second; `changed` when what the window shows changed,
    `burst_started` once per burst (with the last minute's picture)."""

    changed = Signal(object)  # RefusalPicture
    burst_started = Signal(object)  # RefusalPicture of the last BURST_S

    def __init__(
        self,
        monitor: RefusalMonitor,
        *,
        clock: Callable[[], float] = time.time,
        interval_ms: int = REFRESH_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self._clock = clock
        self.current = RefusalPicture(RefusalSummary(WINDOW_S))
        self._seen_total = monitor.total
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def refresh(self) -> None:
        monitor = self.monitor
        quiet = monitor.total == self._seen_total
        if quiet and not self.current.summary.deliveries and not self.current.summary.other:
            return  # nothing refused lately and nothing new: no work at all
        self._seen_total = monitor.total
        now = self._clock()
        if not quiet and monitor.burst(now):
            self.burst_started.emit(picture(monitor, BURST_S, now))
        found = picture(monitor, WINDOW_S, now)
        if found != self.current:
            self.current = found
            self.changed.emit(found)

    def shutdown(self) -> None:
        self._timer.stop()


def route_words(route: str | None) -> str:
    """How a hook route is named to people: …/<route>, or the bare URL."""
    return f"…/{route}" if route else "the bare hook URL"


def burst_words(p: RefusalPicture, names: Mapping[str, str]) -> tuple[str, str]:
    """The tray alert: ('Deliveries refused', '20 refused in the last minute — 401 on
    Sales: signed with a different secret')."""
    s = p.summary
    statuses = "/".join(str(status) for status, _ in Counter(s.by_status).most_common())
    numbers = sorted(p.numbers, key=lambda n: -p.numbers[n].count)
    if len(numbers) == 1:
        where = f" on {names.get(numbers[0], numbers[0])}"
    elif numbers:
        where = f" on {len(numbers)} numbers"
    elif s.latest is not None:
        where = f" on {route_words(s.latest.route)}"
    else:
        where = ""
    why = f": {s.latest.verdict or s.latest.reason}" if s.latest is not None else ""
    span = "the last minute" if round(s.window_s) == 60 else f"the last {window_words(s.window_s)}"
    return "Deliveries refused", f"{s.deliveries:,} refused in {span} — {statuses}{where}{why}"

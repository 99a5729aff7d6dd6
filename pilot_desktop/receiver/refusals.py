"""Recent refusals in memory: what the status bar, the tray, the number cards, the webhook
rows, `serve`'s console and `/healthz` say about deliveries being refused right now.

The rejections table is the record (bounded per request and per second, receiver/limits.py);
this monitor sees every refusal, recorded or only counted, at O(1) a refusal: the newest
ones kept whole, and per-second counts for the last hour so a flood is counted exactly.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_S = 300.0  # "recent": the status bar, /healthz and the cards count the last 5 minutes
KEEP = 2000  # refusals kept whole (the newest)
BURST = 20  # delivery refusals within BURST_S make a burst (the tray alerts once per burst)
BURST_S = 60.0
_HISTORY_S = 3600


@dataclass(frozen=True, slots=True)
class Refusal:
    at: float
    status: int
    reason: str
    route: str | None = None  # the hook URL's <route>
    number_id: str | None = None  # the number the route or the body names
    delivery: bool = False  # a POST to /hooks/...: a webhook delivery, not a stray request
    hint: str | None = None  # the signature diagnosis's one-line hint (core/diagnosis.py)
    verdict: str | None = None  # its verdict in a few words ("signed with a different secret")
    own: bool = False  # a delivery carrying this receiver's token (not another install's URL)


@dataclass(frozen=True)
class RefusalSummary:
    window_s: float
    deliveries: int = 0  # refused webhook deliveries in the window
    own_deliveries: int = 0  # of them, those carrying this receiver's token (/healthz's `ok`)
    other: int = 0  # other refused requests (wrong paths, scanners, bad Host)
    by_status: dict[int, int] = field(default_factory=dict)  # deliveries only
    by_route: dict[str | None, int] = field(default_factory=dict)  # deliveries only
    latest: Refusal | None = None  # the newest refused delivery (else the newest refusal)


class RefusalMonitor:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._recent: deque[Refusal] = deque(maxlen=KEEP)
        # second -> Counter of (delivery, own, status): exact counts however many were refused
        self._seconds: deque[tuple[int, Counter[tuple[bool, bool, int]]]] = deque()
        self._delivery_times: deque[float] = deque(maxlen=BURST)
        self._burst_until = 0.0
        self.total = 0
        self._listeners: list[Callable[[Refusal], None]] = []

    def subscribe(self, listener: Callable[[Refusal], None]) -> None:
        """`listener(refusal)` after each refusal, on the receiver's loop."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Refusal], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def record(self, refusal: Refusal) -> None:
        self.total += 1
        self._recent.append(refusal)
        second = int(refusal.at)
        if not self._seconds or self._seconds[-1][0] != second:
            self._seconds.append((second, Counter()))
            while self._seconds and self._seconds[0][0] < second - _HISTORY_S:
                self._seconds.popleft()
        self._seconds[-1][1][(refusal.delivery, refusal.own, refusal.status)] += 1
        if refusal.delivery:
            self._delivery_times.append(refusal.at)
        for listener in list(self._listeners):
            listener(refusal)

    def burst(self, now: float | None = None) -> bool:
        """True once when delivery refusals reach BURST within BURST_S; again only after
        a quiet BURST_S (the tray alerts once per burst, not per refusal). Safe to ask every
        second: the BURST refusals must all be within the last BURST_S, not only close together."""
        now = self._clock() if now is None else now
        times = self._delivery_times
        if len(times) < BURST or times[0] < now - BURST_S:
            return False
        started = self._burst_until < now
        self._burst_until = now + BURST_S
        return started

    def summary(self, window_s: float = WINDOW_S, now: float | None = None) -> RefusalSummary:
        now = self._clock() if now is None else now
        since = now - window_s
        deliveries = own = other = 0
        by_status: Counter[int] = Counter()
        for second, counts in reversed(self._seconds):
            if second + 1 <= since:
                break
            for (delivery, ours, status), n in counts.items():
                if delivery:
                    deliveries += n
                    own += n if ours else 0
                    by_status[status] += n
                else:
                    other += n
        by_route: Counter[str | None] = Counter()
        latest: Refusal | None = None
        latest_any: Refusal | None = None
        for r in reversed(self._recent):
            if r.at < since:
                break
            latest_any = latest_any or r
            if r.delivery:
                latest = latest or r
                by_route[r.route] += 1
        return RefusalSummary(
            window_s,
            deliveries=deliveries,
            own_deliveries=own,
            other=other,
            by_status=dict(by_status),
            by_route=dict(by_route),
            latest=latest or latest_any,
        )

    def recent(self, limit: int = 100) -> list[Refusal]:
        """The newest refusals kept whole, newest first."""
        return list(reversed(self._recent))[:limit]

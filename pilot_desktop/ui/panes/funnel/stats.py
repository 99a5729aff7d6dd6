"""What the Delivery tab shows, computed without Qt: periods, latency buckets and steps
(the figures themselves are read from the store: store/funnel_queries.py).

Pure functions and plain records, unit-tested in tests/unit/test_funnel.py; the widgets
in this folder only draw them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pilot_desktop.store.read_models import Funnel

HOUR = 3600.0
DAY = 24 * HOUR

# (label, length in seconds), in the order of the period chooser.
PERIODS: tuple[tuple[str, float], ...] = (
    ("Last hour", HOUR),
    ("Last 24 hours", DAY),
    ("Last 7 days", 7 * DAY),
    ("Last 30 days", 30 * DAY),
)
DEFAULT_PERIOD = 1  # last 24 hours


@dataclass(frozen=True, slots=True)
class Bucket:
    """Latencies in [low, high) seconds; the last bucket has no upper bound."""

    label: str
    low: float
    high: float | None


# Log-scaled: a delivery takes a second or two when all is well, minutes when a phone is
# off, hours when it is off for long; equal-width buckets would squash all but one.
BUCKETS: tuple[Bucket, ...] = (
    Bucket("<1 s", 0.0, 1.0),
    Bucket("1–5 s", 1.0, 5.0),
    Bucket("5–30 s", 5.0, 30.0),
    Bucket("30 s–2 min", 30.0, 120.0),
    Bucket("2–10 min", 120.0, 600.0),
    Bucket("10 min–1 h", 600.0, HOUR),
    Bucket("> 1 h", HOUR, None),
)
_OPEN_END = DAY  # where the last bucket's marks stop moving right


def bucket_index(seconds: float) -> int:
    """The bucket a latency falls in; each bucket holds its lower bound (5 s is in 5–30 s)."""
    for i, b in enumerate(BUCKETS):
        if b.high is None or seconds < b.high:
            return i
    return len(BUCKETS) - 1  # unreachable: the last bucket is open


def histogram(values: list[float]) -> list[int]:
    counts = [0] * len(BUCKETS)
    for v in values:
        counts[bucket_index(v)] += 1
    return counts


def axis_position(seconds: float) -> float:
    """Where a latency sits on the histogram's axis, in bucket widths from the left
    (0 .. len(BUCKETS)): the bucket's index plus how far into it, on a log scale like the
    buckets themselves (linear in the first bucket, which starts at 0)."""
    i = bucket_index(seconds)
    b = BUCKETS[i]
    high = b.high if b.high is not None else _OPEN_END
    linear = b.low <= 0  # log(0) does not exist
    into = seconds / high if linear else math.log(max(seconds, b.low) / b.low) / math.log(high / b.low)
    return i + min(max(into, 0.0), 0.999)


@dataclass(frozen=True, slots=True)
class Step:
    """One bar of the funnel: how many of the period's outbound messages got this far."""

    label: str
    count: int
    rate: float | None  # of all the period's outbound messages
    failure: bool = False


def steps(f: Funnel) -> list[Step]:
    return [
        Step("Sent", f.sent, f.rate(f.sent)),
        Step("Delivered", f.delivered, f.rate(f.delivered)),
        Step("Read", f.read, f.rate(f.read)),
        Step("Failed", f.failed, f.rate(f.failed), failure=True),
    ]


@dataclass(frozen=True, slots=True)
class Latency:
    """One histogram: the bucket counts and the marks drawn over them."""

    title: str
    counts: list[int]
    median: float | None
    p90: float | None

    @property
    def measured(self) -> int:
        return sum(self.counts)


def latencies(f: Funnel) -> tuple[Latency, Latency]:
    return (
        Latency(
            "Sent → delivered", histogram(f.to_delivered), f.median(f.to_delivered), f.p90(f.to_delivered)
        ),
        Latency("Delivered → read", histogram(f.to_read), f.median(f.to_read), f.p90(f.to_read)),
    )

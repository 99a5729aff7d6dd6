"""A burst of refused deliveries is told once, however often the monitor is asked (the
window's refusal watch asks every second), and a burst long past is never told again."""

from __future__ import annotations

from pilot_desktop.receiver.refusals import BURST, Refusal, RefusalMonitor


def refused(monitor: RefusalMonitor, start: float, n: int = BURST, step: float = 0.1) -> None:
    for i in range(n):
        monitor.record(Refusal(start + i * step, 401, "signature does not match", "num_A", "num_A", True))


def test_a_burst_is_told_once_while_it_lasts_and_again_only_for_a_new_one() -> None:
    monitor = RefusalMonitor()
    assert not monitor.burst(1000.0)
    refused(monitor, 1000.0, BURST - 1)
    assert not monitor.burst(1002.0)  # one short of a burst
    refused(monitor, 1002.0, 1)
    assert monitor.burst(1002.0)
    refused(monitor, 1003.0, 30)
    assert not [t for t in range(1003, 1010) if monitor.burst(float(t))]  # the same burst, asked every second

    # An hour later a scanner's stray request, then one refused delivery: no burst now,
    # though the 20 newest delivery refusals are still close together.
    monitor.record(Refusal(4600.0, 404, "no such endpoint"))
    assert not monitor.burst(4600.0)
    refused(monitor, 4601.0, 1)
    assert not monitor.burst(4601.0)
    # A new burst is told again.
    refused(monitor, 4700.0)
    assert monitor.burst(4702.0)

"""serve's refusal lines (cli/refusals.py RefusalLines): the first refused delivery of a kind
is said at once, then at most one line a minute per kind with what was counted meanwhile;
stray requests are never said. Driven through a real RefusalMonitor and a settable clock."""

from __future__ import annotations

from pilot_desktop.cli.refusals import RefusalLines
from pilot_desktop.receiver.refusals import Refusal, RefusalMonitor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def setup() -> tuple[RefusalMonitor, RefusalLines, list[str], Clock]:
    clock, said = Clock(), []
    monitor = RefusalMonitor(clock=clock)
    lines = RefusalLines(said.append, clock=clock)
    lines.follow(monitor)
    return monitor, lines, said, clock


def bad_signature(clock: Clock, route: str = "num_x") -> Refusal:
    return Refusal(
        clock.now, 401, "does not match", route, route, True, "hint", "signed with a different secret"
    )


def test_a_burst_is_one_line_then_one_a_minute_with_the_count() -> None:
    monitor, lines, said, clock = setup()
    for _ in range(20):
        monitor.record(bad_signature(clock))
        clock.now += 0.1
        lines.tick()
    first = "Refused a delivery: 401 on route num_x — signed with a different secret."
    assert said == [f"{first} See pilot-desktop rejections."]
    clock.now += 60
    lines.tick()
    assert said[1] == (
        "Refused 19 deliveries in the last minute: 401 on route num_x — signed with a different secret. "
        "See pilot-desktop rejections."
    )
    lines.tick()
    clock.now += 61
    lines.tick()  # a quiet minute: nothing to say
    assert len(said) == 2
    clock.now += 60
    lines.tick()  # quiet for two: the next one is news again
    monitor.record(bad_signature(clock, "num_y"))
    assert said[2].startswith("Refused a delivery: 401 on route num_y")


def test_kinds_are_told_apart_and_strays_are_not_said() -> None:
    monitor, lines, said, clock = setup()
    monitor.record(Refusal(clock.now, 404, "no such endpoint", None, None, False))
    monitor.record(bad_signature(clock))
    monitor.record(Refusal(clock.now, 404, "unknown hook token", "num_y", "num_y", True, None, None))
    monitor.record(
        Refusal(clock.now, 400, "body is not valid JSON: Expecting value: line 1", None, None, True)
    )
    monitor.record(Refusal(clock.now, 400, "body is not valid JSON: Extra data: line 2", "a", None, True))
    assert [line.split(" — ")[0] for line in said] == [
        "Refused a delivery: 401 on route num_x",
        "Refused a delivery: 404 on route num_y",
        "Refused a delivery: 400 on the bare hook URL",
    ]
    clock.now += 60
    lines.tick()
    assert said[3].startswith(
        "Refused 1 delivery in the last minute: 400 on route a — body is not valid JSON."
    )

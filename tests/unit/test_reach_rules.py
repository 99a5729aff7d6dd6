"""The reachability state rules (services/reachability.advance): probe after probe."""

from __future__ import annotations

import pytest

from pilot_desktop.services.reachability import Reach, advance
from pilot_desktop.store.watch_records import ProbeMark

URL = "https://hooks.example.com"


def mark(at: float, ok: bool) -> ProbeMark:
    diagnosis, sentence = ("ok", "Reached.") if ok else ("refused", "Nothing is listening.")
    return ProbeMark(at, URL, ok, 40.0 if ok else None, diagnosis, sentence)


def run(outcomes: str, failures_to_alert: int = 2) -> list[Reach]:
    """'x' a failed probe, 'o' an ok one, one a second from t=100."""
    reach = Reach("not_checked", URL, None, 0, 0.0)
    seen = []
    for i, c in enumerate(outcomes):
        reach = advance(reach, mark(100.0 + i, c == "o"), failures_to_alert)
        seen.append(reach)
    return seen


@pytest.mark.parametrize(
    ("outcomes", "states"),
    [
        ("o", ["reachable"]),
        ("x", ["failing"]),
        ("xx", ["failing", "unreachable"]),
        ("xxxx", ["failing", "unreachable", "unreachable", "unreachable"]),
        ("oxo", ["reachable", "failing", "reachable"]),  # one failure is not an alert
        ("xxo", ["failing", "unreachable", "reachable"]),  # the first ok recovers
        ("xxoxx", ["failing", "unreachable", "reachable", "failing", "unreachable"]),
    ],
)
def test_states(outcomes: str, states: list[str]) -> None:
    assert [r.state for r in run(outcomes)] == states


def test_failures_count_in_a_row_and_since_is_the_state_entry() -> None:
    seen = run("oxxxo")
    assert [r.failures for r in seen] == [0, 1, 2, 3, 0]
    assert [r.since for r in seen] == [100.0, 101.0, 102.0, 102.0, 104.0]
    assert all(r.last is not None and r.last.at == 100.0 + i for i, r in enumerate(seen))
    assert run("oo")[1].since == 100.0  # still reachable since the first ok


def test_the_alert_threshold_is_a_setting() -> None:
    assert [r.state for r in run("xxx", failures_to_alert=3)] == ["failing", "failing", "unreachable"]
    assert [r.state for r in run("x", failures_to_alert=1)] == ["unreachable"]

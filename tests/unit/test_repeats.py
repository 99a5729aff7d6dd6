"""A persisting condition is logged once, then a count of its repeats every `every_s`."""

from __future__ import annotations

import logging

import pytest

from pilot_desktop.store.repeats import Repeats


def test_repeats_are_counted_and_said_with_the_next_one_after_the_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    repeats = Repeats(every_s=60, clock=lambda: now[0])
    log = logging.getLogger("test.repeats")
    with caplog.at_level(logging.INFO, "test.repeats"):
        for second in range(120):  # one a second for two minutes
            now[0] = float(second)
            repeats.log(log, logging.ERROR, "full", "not stored: %s", "disk full")
        repeats.log(log, logging.ERROR, "locked", "not stored: %s", "locked")  # another condition: said
    assert [r.getMessage() for r in caplog.records] == [
        "not stored: disk full",
        "not stored: disk full (59 more like this in the last 60 s were not logged)",
        "not stored: locked",
    ]
    assert repeats.reset() == 59  # the repeats since the last one said

"""GUI tests collect garbage on the GUI thread only.

A garbage-collection pass runs in whatever thread happens to allocate when it is due: a
worker thread (a background read, the writer's feeder) may then destroy Qt objects a
previous test left in reference cycles, and Qt warns "Timers cannot be stopped from
another thread" (pytest-qt fails the test on that warning). Automatic collection is off
while a GUI test runs; it collects here, on the GUI thread, before and after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()

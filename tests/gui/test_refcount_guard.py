"""Guard for stack-notes §1: PySide6 6.12.0 drops references to None on Python 3.11.

There it loses one reference to ``None`` (or ``True``) per void Qt call, per
``Signal.emit`` and per Qt timer call into Python; under qasync the process then
dies with ``Fatal Python error: none_dealloc``. Small suites still pass, so check the
refcounts directly. On Python 3.12+ ``None`` is immortal and the counts never move.
"""

from __future__ import annotations

import gc
import sys
import time

import pytest
from PySide6 import __version_info__ as PYSIDE_VERSION
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

CALLS = 1_000
# The bug costs one reference per call (-1,000 per loop); allow for unrelated noise.
SLACK = 50


class _Emitter(QObject):
    fired = Signal()


class _Counter:
    """A Python callable for Qt to call; it keeps no reference to None (a list would)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def _refcounts() -> tuple[int, int]:
    gc.collect()
    return sys.getrefcount(None), sys.getrefcount(True)


def _assert_not_fallen(before: tuple[int, int], what: str) -> None:
    after = _refcounts()
    assert after[0] >= before[0] - SLACK, f"{what}: refcount(None) fell {before[0]} -> {after[0]}"
    assert after[1] >= before[1] - SLACK, f"{what}: refcount(True) fell {before[1]} -> {after[1]}"


def test_void_calls_keep_none_refcount() -> None:
    before = _refcounts()
    for _ in range(CALLS):
        QObject().setObjectName("x")
    _assert_not_fallen(before, "QObject.setObjectName")


def test_signal_emit_keeps_none_refcount() -> None:
    emitter = _Emitter()
    received = _Counter()
    emitter.fired.connect(received)
    before = _refcounts()
    for _ in range(CALLS):
        emitter.fired.emit()
    _assert_not_fallen(before, "Signal.emit")
    assert received.calls == CALLS


def test_qt_calls_into_python_keep_none_refcount(qapp: QApplication) -> None:
    # How qasync runs every call_soon: a zero-delay Qt timer calling a Python callable.
    fired = _Counter()
    before = _refcounts()
    for _ in range(CALLS):
        QTimer.singleShot(0, fired)
    deadline = time.monotonic() + 10
    while fired.calls < CALLS and time.monotonic() < deadline:
        qapp.processEvents()
    assert fired.calls == CALLS
    _assert_not_fallen(before, "QTimer callback into Python")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="6.12 is fine on 3.12+ (immortal None)")
def test_pyside6_pinned_below_6_12_on_python_3_11() -> None:
    assert PYSIDE_VERSION[:2] < (6, 12), (
        f"PySide6 {PYSIDE_VERSION} on Python {sys.version_info[:2]}: pin <6.12 (stack-notes §1)"
    )

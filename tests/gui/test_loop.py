"""The app's asyncio-on-Qt loop keeps asyncio's contract while batching ready callbacks."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

from PySide6.QtCore import QTimer

from pilot_desktop.ui.loop import QtLoop


async def test_runs_on_the_app_loop() -> None:
    assert isinstance(asyncio.get_running_loop(), QtLoop)


async def test_call_soon_is_fifo_and_cancellable() -> None:
    loop = asyncio.get_running_loop()
    seen: list[int] = []
    handles = [loop.call_soon(seen.append, i) for i in range(50)]
    handles[7].cancel()
    await asyncio.sleep(0.05)
    assert seen == [i for i in range(50) if i != 7]


async def test_callbacks_scheduled_during_a_drain_run_later_in_order() -> None:
    loop = asyncio.get_running_loop()
    seen: list[str] = []

    def first() -> None:
        seen.append("first")
        loop.call_soon(seen.append, "scheduled-by-first")

    loop.call_soon(first)
    loop.call_soon(seen.append, "second")
    await asyncio.sleep(0.05)
    assert seen == ["first", "second", "scheduled-by-first"]


async def test_call_soon_threadsafe_wakes_the_loop_from_another_thread() -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[str] = loop.create_future()
    threading.Thread(target=lambda: loop.call_soon_threadsafe(fut.set_result, "from thread")).start()
    assert await asyncio.wait_for(fut, 2) == "from thread"


async def test_an_exception_in_a_callback_reaches_the_handler_and_the_loop_goes_on() -> None:
    loop = asyncio.get_running_loop()
    caught: list[dict[str, Any]] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: caught.append(ctx))
    try:
        loop.call_soon(lambda: 1 / 0)
        after = loop.create_future()
        loop.call_soon(after.set_result, True)
        assert await asyncio.wait_for(after, 2)
    finally:
        loop.set_exception_handler(old)
    assert isinstance(caught[0]["exception"], ZeroDivisionError)


async def test_a_flood_of_ready_callbacks_still_lets_qt_timers_fire() -> None:
    loop = asyncio.get_running_loop()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    stop = time.monotonic() + 0.5

    def busy() -> None:  # ~1 ms of work that always reschedules itself
        end = time.monotonic() + 0.001
        while time.monotonic() < end:
            pass
        if time.monotonic() < stop:
            loop.call_soon(busy)

    for _ in range(20):
        loop.call_soon(busy)
    await asyncio.sleep(0.6)
    timer.stop()
    # The drain budget hands control back to Qt: its timer keeps ticking under the flood.
    assert len(ticks) >= 10
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.2


async def test_delayed_callbacks_still_wait() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    fut: asyncio.Future[float] = loop.create_future()
    loop.call_later(0.1, lambda: fut.set_result(loop.time()))
    assert await asyncio.wait_for(fut, 2) - started >= 0.09

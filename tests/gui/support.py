"""Helpers for GUI tests that run on the Qt loop."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from pathlib import Path

from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets, SecretStore
from pilot_desktop.services.settings import ReceiverSettings, Settings
from pilot_desktop.ui.app import build_window, close_window, make_app
from pilot_desktop.ui.main_window import MainWindow


async def until(pred: Callable[[], bool], seconds: float = 15.0, step: float = 0.02) -> None:
    """Poll on the loop: qtbot.waitUntil would spin a nested Qt loop that runs no asyncio task."""
    deadline = time.monotonic() + seconds
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


def memory_core(
    data_dir: Path,
    settings: Settings | None = None,
    *,
    config: Config | None = None,
    demo: bool = False,
    secrets: SecretStore | None = None,
) -> AppCore:
    """The application core on `data_dir`, its settings in memory (any free port by default)
    unless a `config` (e.g. Config.open, the real files) is given; secrets in memory."""
    config = config or Config.memory(settings or Settings(receiver=ReceiverSettings(port=0)))
    return AppCore(resolve(data_dir), config, CoreOptions(demo=demo), secrets=secrets or MemorySecrets())


async def open_window(core: AppCore) -> MainWindow:
    """What the GUI's main does before showing the window: start the core, build the window."""
    make_app()
    await core.start()
    return build_window(core)


async def close_app(window: MainWindow, core: AppCore) -> None:
    """The staged shutdown: the window lets go of the core, the core stops, then the
    widgets are deleted here, on the GUI thread (left to Python's cyclic GC they may be
    collected on a worker thread, where Qt cannot stop their timers)."""
    window.close()
    close_window(window, core)
    await core.stop()
    window.deleteLater()
    await asyncio.sleep(0.05)
    gc.collect()

"""Shared test setup: headless Qt, the qasync loop for GUI tests, isolated user directories."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path

# Before anything imports Qt (pytest-qt imports it at configure time): no display needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never reach the developer's real keyring (Secret Service, KWallet); every keyring call
# raises NoKeyringError. A test that needs a keyring monkeypatches an in-memory fake.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
# The stand-in tunnel (tests/tunnel_forwarder.py) prints http://127.0.0.1:<port>: let the custom
# tunnel mode take a local address as the public URL here and in every `serve` the tests start
# (pilot_desktop/tunnel/providers.ALLOW_LOCAL_ENV). The test of the rule itself unsets it.
os.environ.setdefault("PILOT_DESKTOP_TUNNEL_ALLOW_LOCAL", "1")

import pytest

GUI_TESTS = Path(__file__).resolve().parent / "gui"

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def _qasync_loop() -> asyncio.AbstractEventLoop:
    from PySide6.QtWidgets import QApplication

    from pilot_desktop.ui.loop import QtLoop  # the app's own loop (qasync, batched call_soon)

    app = QApplication.instance() or QApplication([])
    loop: asyncio.AbstractEventLoop = QtLoop(app)
    return loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, LoopFactory]:
    """Async tests under tests/gui/ run on a qasync (Qt) loop, all others on plain asyncio.

    pytest-asyncio (1.x) treats a None or empty result as a usage error as soon as any
    implementation of this hook exists, so non-GUI tests get the stock asyncio loop.
    Inside GUI async tests never use qtbot.waitUntil/waitSignal/qWait (stack-notes §7).
    """
    if item.path.resolve().is_relative_to(GUI_TESTS):
        return {"qasync": _qasync_loop}
    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real home, XDG directories or app data directory."""
    root = tmp_path_factory.mktemp("user")
    for var, name in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "share"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_RUNTIME_DIR", "runtime"),  # Qt warns unless it exists with mode 0700
        ("PILOT_DESKTOP_DATA_DIR", "pilot-desktop-data"),
    ):
        path = root / name
        path.mkdir(mode=0o700)
        monkeypatch.setenv(var, str(path))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty data directory (``tmp_path / "data"``), also PILOT_DESKTOP_DATA_DIR."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("PILOT_DESKTOP_DATA_DIR", str(path))
    return path

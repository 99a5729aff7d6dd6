"""The status bar's reachability segment over the real core: real probes through a public URL
(the receiver's own loopback address, or a closed port) back to the real receiver.

What is checked is what the operator sees: the segment's text, its colour (in the pixels
drawn, not only the style), its tooltip, and that a click probes now.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.services.settings import ReceiverSettings, Settings
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.reach_segment import AMBER, GREEN, GREY, RED, ReachSegment
from tests.gui.support import close_app, open_window, until


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def colour_of(segment: ReachSegment) -> str:
    """The text colour as drawn: the pixel of the grabbed segment farthest from the
    background (the darkest, or the most saturated)."""
    image = segment.grab().toImage()
    background = image.pixelColor(1, 1)
    best, distance = background, -1
    for x in range(image.width()):
        for y in range(image.height()):
            c = image.pixelColor(x, y)
            d = abs(c.red() - background.red()) + abs(c.green() - background.green())
            d += abs(c.blue() - background.blue())
            if d > distance:
                best, distance = c, d
    return best.name()


def near(drawn: str, expected: str, tolerance: int = 40) -> bool:
    a, b = QColor(drawn), QColor(expected)
    return max(abs(a.red() - b.red()), abs(a.green() - b.green()), abs(a.blue() - b.blue())) <= tolerance


@asynccontextmanager
async def window_on(
    tmp_path: Path, public_url: str | None = None, *, tunnel: str | None = None, command: str | None = None
) -> AsyncIterator[tuple[MainWindow, AppCore]]:
    """The window over a started core (manual tunnel mode with `public_url`, unless `tunnel`),
    probing only at start and when asked (a long interval)."""
    settings = Settings(receiver=ReceiverSettings(port=0), public_url=public_url)
    core = AppCore(
        resolve(tmp_path),
        Config.memory(settings),
        CoreOptions(probe_interval_s=3600.0, tunnel=tunnel, tunnel_command=command),
        secrets=MemorySecrets(),
    )
    window = await open_window(core)
    window.resize(1600, 600)
    window.show()
    try:
        yield window, core
    finally:
        await close_app(window, core)


async def test_without_a_public_url_it_says_not_checked_and_why(tmp_path: Path, qtbot: QtBot) -> None:
    async with window_on(tmp_path) as (window, core):
        segment = window.status.reach
        assert segment.isVisible()
        assert segment.text() == "Not checked"
        assert near(colour_of(segment), GREY)
        tip = segment.toolTip()
        assert "no public URL is set" in tip
        assert "Webhooks tab" in tip
        assert "Click to check now" not in tip  # nothing to probe
        qtbot.mouseClick(segment, Qt.MouseButton.LeftButton)
        assert segment.text() == "Not checked"  # not "Checking…": there is nothing to check
        await until(lambda: not segment.checking)
        assert segment.text() == "Not checked"
        assert core.reads is not None and core.reads.probes() == []


async def test_reachable_through_its_own_address_with_latency(tmp_path: Path) -> None:
    async with window_on(tmp_path) as (window, core):
        core.config.settings.update({"public_url": core.runtime.base_url})
        segment = window.status.reach
        await until(lambda: segment.text().startswith("Reachable · "))  # the probe a new URL gets
        assert segment.text().endswith(" ms")
        assert near(colour_of(segment), GREEN)
        tip = segment.toolTip()
        assert "The probe reached this app's receiver through" in tip
        assert f"Public URL: {core.runtime.base_url}" in tip
        assert "Last probe: " in tip and "Next probe: about " in tip
        assert tip.endswith("Click to check now.")


async def test_failures_go_amber_then_red_and_a_click_checks_now(tmp_path: Path, qtbot: QtBot) -> None:
    port = closed_port()
    async with window_on(tmp_path, f"http://127.0.0.1:{port}") as (window, core):
        segment = window.status.reach
        await until(lambda: segment.text() == "Probe failed once")  # the first probe, at start
        assert near(colour_of(segment), AMBER)
        assert "One more failure in a row turns this Unreachable" in segment.toolTip()
        assert f"Nothing is listening at 127.0.0.1:{port}" in segment.toolTip()

        qtbot.mouseClick(segment, Qt.MouseButton.LeftButton)
        assert segment.text() == "Checking…"  # at once, while the probe runs
        assert "Checking now…" in segment.toolTip()
        await until(lambda: not segment.checking)
        assert segment.text() == "Unreachable · connection refused"
        assert near(colour_of(segment), RED)
        tip = segment.toolTip()
        assert f"Nothing is listening at 127.0.0.1:{port} (connection refused)" in tip
        assert "2 probes in a row failed since" in tip
        # The receiver listens, but it must not look healthy beside this: amber, and says why.
        receiver = window.status.receiver_label
        await until(lambda: "#b7791f" in receiver.styleSheet())
        assert "but the platform cannot reach it" in receiver.toolTip()
        assert core.reads is not None
        assert [p.trigger for p in core.reads.probes()][:1] == ["demand"]  # the click's probe, recorded

        # The tunnel is fixed (here: the URL points at the receiver): one click, green again.
        core.config.settings.update({"public_url": core.runtime.base_url})
        await until(lambda: segment.text() == "Not checked" or segment.text().startswith("Reachable"))
        qtbot.mouseClick(segment, Qt.MouseButton.LeftButton)
        await until(lambda: segment.text().startswith("Reachable · "))
        assert near(colour_of(segment), GREEN)
        await until(lambda: "#2f855a" in receiver.styleSheet())


async def test_an_old_ok_probe_is_not_shown_as_reachable(tmp_path: Path) -> None:
    """The probes stopped (a stalled loop, a machine that slept): the last ok is history."""
    async with window_on(tmp_path) as (window, core):
        core.config.settings.update({"public_url": core.runtime.base_url})
        segment = window.status.reach
        await until(lambda: segment.text().startswith("Reachable"))
        later = segment.clock() + 4 * 3600.0  # four probe intervals on
        segment.clock = lambda: later
        segment.refresh()
        assert segment.text() == "Not checked"
        assert near(colour_of(segment), GREY)
        assert segment.toolTip().startswith("Not checked for 4 h: probes are due every 1 h but none ran.")


async def test_a_tunnel_that_failed_is_named_not_grey(tmp_path: Path) -> None:
    """No public URL because the managed tunnel cannot start: amber, and the tooltip says why."""
    program = tmp_path / "no-such-tunnel"
    async with window_on(tmp_path, tunnel="command", command=f"{program} --to {{port}}") as (window, _):
        segment = window.status.reach
        await until(lambda: segment.text() == "Not checked · tunnel failed")
        assert near(colour_of(segment), AMBER)
        tip = segment.toolTip()
        assert tip.startswith("Not checked: the tunnel command failed: ")
        assert "no-such-tunnel" in tip
        assert "Without a public URL the platform cannot deliver webhooks here." in tip
        await until(lambda: "#b7791f" in window.status.receiver_label.styleSheet())  # not a green "Listening"

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


async def test_webhooks_left_on_the_old_url_are_not_green(tmp_path: Path) -> None:
    """The probe goes through, but this app's webhooks still point at the old URL (re-pointing
    waits for the operator): nothing arrives, so the bar must not say a plain green Reachable."""
    from pilot_desktop.sandbox.server import Sandbox
    from pilot_desktop.ui.app import build_window

    sandbox = Sandbox(seed=5, numbers=2, time_scale=0.0, retry_window=0.0)
    await sandbox.start()
    # On every interface: the moved URL below is another loopback address of this machine
    # (a name like "localhost" may not resolve on a bare machine without /etc/hosts).
    settings = Settings(receiver=ReceiverSettings(host="0.0.0.0", port=0))
    core = AppCore(
        resolve(tmp_path),
        Config.memory(settings),
        CoreOptions(probe_interval_s=3600.0),
        secrets=MemorySecrets(),
    )
    window = await open_window(core)
    try:
        core.config.settings.update({"public_url": core.runtime.base_url})
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
        for _, number in core.accounts.numbers():
            await core.webhooks.create(number.id, ["*"], name="mine")
        window.close()
        close_window_of(window, core)
        window = build_window(core)  # (after the account: as the app opens on it)
        window.resize(1600, 600)
        window.show()
        segment, receiver = window.status.reach, window.status.receiver_label
        port = core.runtime.base_url.rsplit(":", 1)[1]
        core.config.settings.update({"public_url": f"http://127.0.0.2:{port}"})  # the URL moved
        await until(lambda: segment.text() == "Reachable · 2 webhooks on the old URL", 30)
        assert near(colour_of(segment), AMBER)
        tip = segment.toolTip()
        assert "2 webhooks of this app still point at the old URL" in tip
        assert "Webhooks tab" in tip and "Review" in tip and "auto re-point" in tip
        await until(lambda: "#b7791f" in receiver.styleSheet())  # not a green "Listening"
        await core.repoint.apply(list(core.repoint.pending))  # the operator moves them
        await until(lambda: segment.text().startswith("Reachable · ") and segment.text().endswith(" ms"), 30)
        assert near(colour_of(segment), GREEN)
        await until(lambda: "#2f855a" in receiver.styleSheet())
    finally:
        await close_app(window, core)
        await sandbox.stop()


def close_window_of(window: MainWindow, core: AppCore) -> None:
    from pilot_desktop.ui.app import close_window

    close_window(window, core)
    window.deleteLater()


async def test_the_window_stays_900_px_wide_when_unreachable(tmp_path: Path, qtbot: QtBot) -> None:
    """Unreachable, in the demo, with refused deliveries: the status bar elides its segments
    (the detail is in their tooltips) instead of widening the window past a small screen."""
    import httpx

    port = closed_port()
    async with window_on(tmp_path, f"http://127.0.0.1:{port}") as (window, core):
        segment = window.status.reach
        await until(lambda: segment.reach is not None and segment.reach.failures >= 1, 30)
        qtbot.mouseClick(segment, Qt.MouseButton.LeftButton)
        await until(lambda: segment.text() == "Unreachable · connection refused", 30)
        window.status.set_demo(True)
        async with httpx.AsyncClient(trust_env=False) as client:
            resp = await client.post(f"{core.runtime.base_url}/hooks/another-install/num_B", content=b"{}")
            assert resp.status_code == 404
        await until(window.status.refused_label.isVisible, 10)
        window.resize(900, 650)
        bar = window.status
        assert bar.minimumSizeHint().width() <= 760  # was 819 with these segments whole
        # Neither the bar nor Live's toolbar (its count elides too) widens the window.
        await until(lambda: window.width() == 900)
        assert bar.width() == window.width()
        assert segment.text() == "Unreachable · connection refused"  # whole, for the tooltip's sake
        assert window.status.demo_label.isVisible() and segment.isVisible()
        assert "Nothing is listening" in segment.toolTip()
        assert "Webhooks go to" in window.status.receiver_label.toolTip()

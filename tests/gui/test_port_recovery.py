"""A busy receiver port is recovered from the window: the banner's Retry listens once the
port is free, "Use another port…" suggests a free port and listens there at once (saved),
a busy choice is refused in the dialog with nothing changed, and the banner and status bar
always say the receiver's real state."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from PySide6.QtWidgets import QPushButton

from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.ui.port_recovery import PortBanner, PortDialog
from tests.gui.support import close_app, open_window, until


def held() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def button(banner: PortBanner, text: str) -> QPushButton:
    (found,) = [b for b in banner.findChildren(QPushButton) if b.text() == text]
    return found


async def received(core: AppCore) -> int:
    body = {"event": "message.received", "data": {"id": "in_1", "numberId": "num_A"}}
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        return (await client.post(core.hook_url, json=body)).status_code


async def test_retry_and_another_port_from_the_banner(tmp_path: Path) -> None:
    holder, other = held(), held()
    port = holder.getsockname()[1]
    paths = resolve(tmp_path)
    config = Config.open(paths)
    config.settings.update({"receiver.port": port})
    # Retries far apart: what listens below is the operator's click, not the timer.
    core = AppCore(paths, config, CoreOptions(listen_retry_s=600), secrets=MemorySecrets())
    window = await open_window(core)
    try:
        window.resize(640, 420)
        window.show()
        (banner,) = window.findChildren(PortBanner)
        assert banner.isVisibleTo(window) and "used by another program" in banner.text.text()
        assert "Receiver stopped" in window.status.receiver_label.text()

        button(banner, "Retry").click()  # still held: the banner stays, and says so
        await until(lambda: button(banner, "Retry").isEnabled())
        assert banner.isVisibleTo(window) and "used by another program" in banner.text.text()
        assert not core.listening

        holder.close()
        button(banner, "Retry").click()
        await until(lambda: core.listening)
        await until(lambda: not banner.isVisibleTo(window))
        assert "Listening" in window.status.receiver_label.text()
        assert "Receiver stopped" not in window.status.receiver_label.text()
        assert await received(core) == 200

        # Another port: a free one is suggested; a busy one is refused in the dialog.
        banner.port_button.click()
        dialog = window.findChild(PortDialog)
        assert dialog is not None and dialog.isVisible()
        suggested = dialog.port.value()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", suggested))  # it is free
        busy = other.getsockname()[1]
        dialog.port.setValue(busy)
        dialog.listen_button.click()
        await until(lambda: dialog.error.isVisibleTo(dialog))
        assert "used by another program" in dialog.error.text() and dialog.isVisible()
        assert core.runtime.bound == ("127.0.0.1", port)  # nothing changed
        assert Config.open(paths).settings.value.receiver.port == port

        dialog.port.setValue(suggested)
        dialog.listen_button.click()
        await until(lambda: not dialog.isVisible())
        assert core.runtime.bound == ("127.0.0.1", suggested)
        assert Config.open(paths).settings.value.receiver.port == suggested
        await until(
            lambda: (
                str(suggested) in window.status.receiver_label.toolTip() + window.status.receiver_label.text()
            )
        )
        assert await received(core) == 200
        assert not banner.isVisibleTo(window)
    finally:
        holder.close()
        other.close()
        await close_app(window, core)


async def test_the_banner_offers_another_port_while_the_port_is_busy(tmp_path: Path) -> None:
    holder = held()
    paths = resolve(tmp_path)
    config = Config.open(paths)
    config.settings.update({"receiver.port": holder.getsockname()[1]})
    core = AppCore(paths, config, CoreOptions(listen_retry_s=600), secrets=MemorySecrets())
    window = await open_window(core)
    try:
        window.show()
        (banner,) = window.findChildren(PortBanner)
        banner.port_button.click()
        dialog = window.findChild(PortDialog)
        assert dialog is not None
        chosen = dialog.port.value()
        dialog.listen_button.click()
        await until(lambda: core.listening)
        assert core.runtime.bound == ("127.0.0.1", chosen) and core.receiver_error is None
        await until(lambda: not banner.isVisibleTo(window))
        assert "Receiver stopped" not in window.status.receiver_label.text()
        assert core.gaps.current is None  # not receiving was a gap; it ended
        assert await received(core) == 200
    finally:
        holder.close()
        await close_app(window, core)


async def test_the_webhooks_pane_follows_a_moved_receiver(tmp_path: Path) -> None:
    """After a move, the Webhooks pane's hints and the tunnel's command preview name the new
    port, not the one the window was built with."""
    from pilot_desktop.ui.panes.webhooks.pane import WebhooksPane

    paths = resolve(tmp_path)
    config = Config.open(paths)
    config.settings.update({"receiver.port": 0, "tunnel.mode": "cloudflared"})
    core = AppCore(paths, config, CoreOptions(listen_retry_s=600), secrets=MemorySecrets())
    window = await open_window(core)
    try:
        pane = window.webhooks
        assert isinstance(pane, WebhooksPane) and pane.sections.tunnel_box is not None
        free = held()
        new_port = free.getsockname()[1]
        free.close()
        await core.change_port(new_port)
        await until(lambda: f":{new_port}" in pane.where.hint.text())
        assert pane.local_base.endswith(f":{new_port}")
        assert str(new_port) in pane.sections.tunnel_box.explain.text()
    finally:
        await close_app(window, core)

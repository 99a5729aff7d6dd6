"""A busy port is tried again: when it comes free, the window says it receives again."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.services.settings import ReceiverSettings, Settings
from pilot_desktop.ui.port_recovery import PortBanner
from tests.gui.support import close_app, open_window, until


async def test_the_window_follows_a_busy_port_that_comes_free(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    config = Config.memory(Settings(receiver=ReceiverSettings(port=port)))
    core = AppCore(resolve(tmp_path), config, CoreOptions(listen_retry_s=0.2), secrets=MemorySecrets())
    window = await open_window(core)
    try:
        assert "Receiver stopped" in window.status.receiver_label.text()
        (banner,) = window.findChildren(PortBanner)  # ui/port_recovery.py
        assert "used by another program" in banner.text.text()
        holder.close()
        await until(lambda: "Listening" in window.status.receiver_label.text())
        assert "Receiver stopped" not in window.status.receiver_label.text()
        assert not banner.isVisibleTo(window)  # the busy-port banner is gone
        assert "Listening again" in window.status.currentMessage()
        async with aiohttp.ClientSession() as session:  # and it does receive
            body = {"event": "message.received", "data": {"id": "in_1", "numberId": "num_A"}}
            async with session.post(core.hook_url, json=body) as resp:
                assert resp.status == 200
    finally:
        holder.close()
        await close_app(window, core)

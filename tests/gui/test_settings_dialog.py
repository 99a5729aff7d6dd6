"""The Settings dialog (ui/settings_dialog/) over a real settings file, in a real window on
the Qt loop: every field of the model is there with its description and bounds; a refused
value names its field and writes nothing; a saved change applies in the running window at
once (the Live pane's rows, the tray's quiet hours and delays, close to tray, polling)."""

from __future__ import annotations

import socket
import time
import typing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import BaseModel
from PySide6.QtWidgets import QComboBox, QLineEdit, QSpinBox

from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.settings import Settings, TunnelMode
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.settings_dialog import SettingsDialog
from pilot_desktop.ui.tray import NumbersTray
from tests.gui.support import close_app, memory_core, open_window, until
from tests.gui.test_live import message


def real_config(data_dir: Path) -> Config:
    """The profile's real files in `data_dir`, the receiver on any free port."""
    config = Config.open(resolve(data_dir))
    config.settings.update({"receiver.port": 0})
    return config


def leaves(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += leaves(ann, f"{prefix}{name}.")
        elif name != "version":
            out.append(prefix + name)
    return out


def test_every_setting_is_shown_with_its_description_bounds_and_choices(data_dir: Path, qapp: object) -> None:
    config = real_config(data_dir)
    dialog = SettingsDialog(config.settings, labels=lambda: {"num_1": "Loja · +55 11 98187-0697"})
    try:
        assert sorted(dialog.rows) == sorted(leaves(Settings))
        flap = dialog.rows["notifications.flap_threshold"]
        spin = flap.editor.findChild(QSpinBox)
        assert spin is not None and (spin.minimum(), spin.maximum(), spin.value()) == (2, 100, 3)
        about = flap.about.text().replace("\xa0", " ")  # the bounds are kept on one line
        assert "fold into one notification" in about and "2 to 100" in about
        combo = dialog.rows["tunnel.mode"].editor.findChild(QComboBox)
        assert combo is not None
        assert [combo.itemData(i) for i in range(combo.count())] == list(typing.get_args(TunnelMode))
        line = dialog.rows["tunnel.command"].editor.findChild(QLineEdit)
        assert line is not None and line.maxLength() == 2000
        assert "Start hidden in the tray" in dialog.rows["notifications.start_minimised"].about.text()
        # Only what cannot change in a running app says so.
        later = [p for p, r in dialog.rows.items() if "next start" in r.about.text()]
        assert later == ["notifications.single_instance"]
        # Muted numbers are a list of known numbers by name, not ids to type.
        dialog.rows["notifications.muted"].editor.set_value(["num_1"])
        assert dialog.rows["notifications.muted"].editor.value() == ["num_1"]
        assert dialog.patch() == {"notifications.muted": ["num_1"]}
    finally:
        dialog.deleteLater()


def test_a_refused_value_names_its_field_writes_nothing_and_keeps_what_was_typed(
    data_dir: Path, qapp: object
) -> None:
    config = real_config(data_dir)
    before = config.settings.path.read_bytes() if config.settings.path else b""
    dialog = SettingsDialog(config.settings)
    try:
        dialog.rows["notifications.disconnect_delay_s"].editor.set_value(120)
        dialog.rows["notifications.quiet_hours"].editor.set_value("25:00-07:00")
        dialog.rows["tunnel.command"].editor.set_value("my-tunnel --no-port")
        assert dialog.apply() is False
        assert config.settings.path is not None and config.settings.path.read_bytes() == before
        quiet, command = dialog.rows["notifications.quiet_hours"], dialog.rows["tunnel.command"]
        assert quiet.error.isVisibleTo(dialog) and "22:00-07:00" in quiet.error.text()
        assert command.error.isVisibleTo(dialog) and "{port}" in command.error.text()
        assert not dialog.rows["notifications.disconnect_delay_s"].error.isVisibleTo(dialog)
        assert "Quiet hours" in dialog.status.text() and "Command" in dialog.status.text()
        # The file's names of the fields, for whoever edits settings.json, in the tooltip.
        assert "notifications.quiet_hours" in dialog.status.toolTip()
        assert "tunnel.command" in dialog.status.toolTip()
        # What was typed is still there to fix.
        assert dialog.rows["notifications.disconnect_delay_s"].editor.value() == 120
        assert quiet.editor.value() == "25:00-07:00"

        quiet.editor.set_value("7:30-8:00")
        command.editor.set_value("")
        assert dialog.apply() is True
        on_disk = Config.open(resolve(data_dir)).settings.value.notifications
        assert (on_disk.disconnect_delay_s, on_disk.quiet_hours) == (120, "07:30-08:00")
        assert quiet.editor.value() == "07:30-08:00" and not quiet.error.isVisibleTo(dialog)
    finally:
        dialog.deleteLater()


@dataclass
class Desk:
    core: AppCore
    window: MainWindow
    tray: NumbersTray
    told: list[tuple[str, str]]

    def settings(self) -> SettingsDialog:
        """File > Settings… (the window's signal), as the menu and Ctrl+, do."""
        self.window.settings_requested.emit()
        dialog = self.window.findChild(SettingsDialog)
        assert dialog is not None and dialog.isVisible()
        return dialog


@asynccontextmanager
async def desk(data_dir: Path) -> AsyncIterator[Desk]:
    core = memory_core(data_dir, config=real_config(data_dir))
    window = await open_window(core)
    told: list[tuple[str, str]] = []
    tray = NumbersTray(
        window,
        core.profile.settings,
        list,
        tray_available=True,
        messages_supported=True,
        sink=lambda title, text, icon: told.append((title, text)),
    )
    window.show()
    try:
        yield Desk(core, window, tray, told)
    finally:
        tray.shutdown()
        tray.deleteLater()
        await close_app(window, core)


async def test_saved_settings_apply_in_the_running_window(data_dir: Path) -> None:
    async with desk(data_dir) as d, aiohttp.ClientSession() as session:
        live = d.window.live
        assert live is not None
        await live.load()
        for i in range(130):
            async with session.post(d.core.hook_url, json=message(i)) as resp:
                assert resp.status == 200
        await until(lambda: live.model.rowCount() == 130)
        cached_before = len(live.model._cache)  # the rows it holds in memory

        dialog = d.settings()
        dialog.rows["ui.live_tail_rows"].editor.set_value(100)
        dialog.rows["notifications.quiet_hours"].editor.set_value("00:00-23:59")
        dialog.rows["notifications.disconnect_delay_s"].editor.set_value(300)
        dialog.rows["notifications.close_to_tray"].editor.set_value(True)
        dialog.rows["numbers.poll_interval_s"].editor.set_value(600)
        assert dialog.apply() is True
        assert "Saved and applied" in dialog.status.text()

        # The Live pane keeps at most 100 rows in memory, at once (it held all 130).
        assert cached_before == 130 and len(live.model._cache) <= 100
        # The tray's rules: quiet now, the new delay.
        rules = d.tray.notifier.rules
        assert rules.quiet(time.time()) and rules.disconnect_delay == 300.0
        assert d.tray.quiet_action.isChecked()
        # Polling every 10 minutes.
        assert d.core.polling is not None and d.core.polling.poller.interval == 600

        # Close to tray: closing hides the window, the app keeps running.
        dialog.accept()
        closed: list[bool] = []
        d.window.window_did_close.connect(lambda: closed.append(True))
        d.window.close()
        assert not d.window.isVisible() and closed == []
        # Off again, from the dialog: closing really closes.
        d.window.show()
        dialog = d.settings()
        dialog.rows["notifications.close_to_tray"].editor.set_value(False)
        assert dialog.apply() is True
        dialog.accept()
        d.window.close()
        assert closed == [True]


async def test_a_change_made_elsewhere_shows_in_the_open_dialog_unless_edited_here(data_dir: Path) -> None:
    async with desk(data_dir) as d:
        dialog = d.settings()
        dialog.rows["notifications.flap_threshold"].editor.set_value(7)  # edited here
        other = Config.open(resolve(data_dir))  # the CLI, another process
        other.settings.update({"notifications.flap_threshold": 5, "messages.stuck_sent_minutes": 42})
        await until(lambda: dialog.rows["messages.stuck_sent_minutes"].editor.value() == 42)
        assert dialog.rows["notifications.flap_threshold"].editor.value() == 7
        assert dialog.apply() is True
        on_disk = Config.open(resolve(data_dir)).settings.value
        assert (on_disk.notifications.flap_threshold, on_disk.messages.stuck_sent_minutes) == (7, 42)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_port_saved_in_the_dialog_is_listened_on_at_once(data_dir: Path) -> None:
    async with desk(data_dir) as d, aiohttp.ClientSession() as session:
        port = free_port()
        dialog = d.settings()
        dialog.rows["receiver.port"].editor.set_value(port)
        assert dialog.apply() is True
        await until(lambda: d.core.runtime.bound is not None and d.core.runtime.bound[1] == port)
        async with session.post(d.core.hook_url, json=message(1)) as resp:
            assert resp.status == 200 and f":{port}/" in d.core.hook_url

"""The tray through its interface: transitions in on a controllable clock, what it shows out.

Real Qt (offscreen, where there is no system tray: availability is injected), a real
MainWindow, and the balloon sink injected; everything else is the production code.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from pilot_desktop.core.numbers import CLOSED, CONNECTION, OPEN, NumberState, Transition
from pilot_desktop.services import config as config_module
from pilot_desktop.services.config import Config
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.settings import NotificationSettings, ReceiverSettings, Settings
from pilot_desktop.store.records import Changes
from pilot_desktop.ui import messages
from pilot_desktop.ui.app import make_app
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.tray import NumbersTray, attach_tray, title_status
from tests.gui.support import close_app, memory_core, open_window, until

Icon = QSystemTrayIcon.MessageIcon

A, B = "num_A", "num_B"


@dataclass
class Rig:
    tray: NumbersTray
    window: MainWindow
    config: Config
    now: list[float]
    states: dict[str, NumberState]
    shown: list[tuple[str, str, Icon]] = field(default_factory=list)
    saves: int = 0

    @property
    def settings(self) -> Settings:
        """What the settings file says now (not what the tray believes)."""
        return Config.open(resolve(self.config.settings.path.parent)).settings.value  # type: ignore[union-attr]

    def at(self, t: float) -> None:
        self.now[0] = t

    def state(self, number_id: str, connection: str, name: str | None = None) -> None:
        old = self.states.get(number_id) or NumberState(number_id, name=name, phone="+5511999990000")
        self.states[number_id] = replace(old, connection=connection)

    def transition(self, number_id: str, after: str, *, error: str | None = None) -> None:
        """The store committed a connection change: the state moves, the writer publishes."""
        before = self.states[number_id].connection if number_id in self.states else "UNKNOWN"
        self.state(number_id, after)
        t = Transition(number_id, CONNECTION, before, after, self.now[0], "webhook", "number.x", False, error)
        self.tray.on_changes(Changes(numbers={number_id}, transitions=[t]))

    def tick(self, t: float) -> list[tuple[str, str, Icon]]:
        """Advance the clock, run the tray's timer slot; what was shown by this tick."""
        self.at(t)
        before = len(self.shown)
        self.tray.tick()
        return self.shown[before:]


@asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    available: bool = True,
    notifications: NotificationSettings | None = None,
    save: Callable[[], None] | None = None,
) -> AsyncIterator[Rig]:
    """The tray over a settings file in `tmp_path`; `save` runs before every write of it
    (raise there to make writing fail)."""
    make_app()
    window = MainWindow(None, "http://127.0.0.1:1/hooks/t", tmp_path / "window.ini", store_error="no store")
    config = Config.open(resolve(tmp_path / "profile"))
    config.settings.update({"notifications": notifications or NotificationSettings()})
    now = [1_000_000.0]
    states: dict[str, NumberState] = {}
    holder: list[Rig] = []
    write = config_module.write_json

    def saved(path: Path, model: Any) -> None:
        if save is not None:
            save()
        holder[0].saves += 1
        write(path, model)

    patch = pytest.MonkeyPatch()
    patch.setattr(config_module, "write_json", saved)
    tray = NumbersTray(
        window,
        config.settings,
        lambda: list(states.values()),
        clock=lambda: now[0],
        tray_available=available,
        messages_supported=True,
        sink=lambda title, text, icon: r.shown.append((title, text, icon)),
    )
    r = Rig(tray, window, config, now, states)
    holder.append(r)
    try:
        yield r
    finally:
        patch.undo()
        tray.shutdown()
        window.close()
        window.shutdown()
        await dispose(window, tray)


async def dispose(window: MainWindow, tray: NumbersTray) -> None:
    tray.deleteLater()
    window.deleteLater()
    await asyncio.sleep(0.05)
    gc.collect()


async def test_a_disconnect_is_told_once_after_the_delay_and_a_blip_never(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.state(A, OPEN, "Loja Centro")
        r.state(B, OPEN, "Loja Norte")
        r.tray.refresh()
        r.transition(A, CLOSED, error="phone offline")
        r.transition(B, CLOSED)
        assert r.tick(1_000_030.0) == []  # not yet: it may come back
        r.at(1_000_040.0)
        r.transition(B, OPEN)  # a 40 s blip
        shown = r.tick(1_000_061.0)
        assert shown == [("Loja Centro disconnected", "Down for 1 min 1 s (phone offline).", Icon.Critical)]
        assert r.tick(1_000_100.0) == []  # told once
        r.at(1_000_110.0)
        r.transition(A, OPEN)
        assert r.tick(1_000_115.0) == []  # one message per number per 60 s
        shown = r.tick(1_000_121.0)
        assert shown == [("Loja Centro is connected again", "Back after 1 min 50 s.", Icon.Information)]
        assert r.tick(1_000_500.0) == []  # nothing ever about the blip


async def test_flaps_fold_into_one_message(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.state(A, OPEN, "Loja Centro")
        r.tray.refresh()
        shown = []
        t = 1_000_000.0
        for _ in range(6):  # down 20 s, up 40 s: never down long enough for a disconnect
            r.at(t)
            r.transition(A, CLOSED)
            shown += r.tick(t + 10)
            r.at(t + 20)
            r.transition(A, OPEN)
            shown += r.tick(t + 30)
            t += 60
        assert [title for title, _, _ in shown] == ["Loja Centro keeps disconnecting"]
        assert shown[0][2] == Icon.Warning
        assert "3 flaps in 10 min" in shown[0][1]


async def test_icon_tooltip_and_title_follow_the_worst_state(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        assert r.tray.level == "none"
        assert r.window.windowTitle() == "Pilot Desktop"
        r.state(A, OPEN, "Loja Centro")
        r.state(B, OPEN, "Loja Norte")
        r.tray.refresh()
        assert r.tray.level == "ok"
        assert r.tray.icon.toolTip() == "Pilot Desktop\n2 of 2 numbers connected"
        r.transition(A, CLOSED)
        await until(lambda: r.tray.level == "down")  # re-read on a short timer after changes
        assert r.tray.icon.toolTip() == "Pilot Desktop\n1 of 2 numbers connected\nDisconnected: Loja Centro"
        assert r.window.windowTitle() == "Pilot Desktop — 1 disconnected"
        # The icon is the app's mark in the level's colour (red), drawn, not a file.
        image = r.tray.icon.icon().pixmap(32, 32).toImage()
        colour = image.pixelColor(4, 16)
        assert colour.red() > 180 and colour.green() < 100
        r.transition(A, OPEN)
        r.tray.refresh()
        assert r.tray.level == "ok"
        assert r.window.windowTitle() == "Pilot Desktop"


async def test_title_keeps_the_demo_label_and_says_connecting() -> None:
    states = [NumberState("a", connection="CONNECTING"), NumberState("b", connection=OPEN, health="degraded")]
    assert title_status(states) == "1 connecting, 1 with a health warning"
    assert title_status([NumberState("a", connection=OPEN)]) == ""


async def test_without_a_tray_the_banner_and_title_tell_and_the_banner_opens_the_number(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, available=False) as r:
        opened: list[str] = []
        r.window.show_number = opened.append  # type: ignore[attr-defined]  # the Numbers pane's
        r.window.show()
        r.state(A, OPEN, "Loja Centro")
        r.tray.refresh()
        r.transition(A, CLOSED)
        r.tray.refresh()
        assert r.window.windowTitle() == "Pilot Desktop — 1 disconnected"
        assert r.tick(1_000_061.0) == []  # no balloon: the banner carries it
        banner = r.window.notice_banner
        assert banner.isVisibleTo(r.window)
        assert "Loja Centro disconnected" in banner.text.text()
        assert banner.level == "error"
        assert banner.action_button.text() == "Show number"
        banner.action_button.click()
        assert opened == [A]
        assert r.window.tabs.tabText(r.window.tabs.currentIndex()) == "Numbers"


async def test_clicking_the_balloon_opens_its_number(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        opened: list[str] = []
        r.window.show_number = opened.append  # type: ignore[attr-defined]
        r.state(A, OPEN, "Loja Centro")
        r.state(B, OPEN, "Loja Norte")
        r.tray.refresh()
        r.transition(B, CLOSED)
        assert len(r.tick(1_000_061.0)) == 1
        r.tray.icon.messageClicked.emit()
        assert opened == [B]
        assert r.window.isVisible()
        assert r.window.tabs.tabText(r.window.tabs.currentIndex()) == "Numbers"


def mute_choice(r: Rig, number: int, text: str) -> QAction:
    """In the Mute menu, the `number`th number's choice whose label starts with `text`."""
    menu = r.tray.mute_menu.actions()[number].menu()
    assert isinstance(menu, QMenu)
    menu.aboutToShow.emit()
    found = [a for a in menu.actions() if a.text().startswith(text)]
    assert len(found) == 1, [a.text() for a in menu.actions()]
    return found[0]


async def test_mute_from_the_menu_is_saved_and_holds_notifications_back(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.state(A, OPEN, "Loja Centro")
        r.state(B, OPEN, "Loja Norte")
        r.tray.refresh()
        r.tray.mute_menu.aboutToShow.emit()
        labels = [a.text() for a in r.tray.mute_menu.actions()]
        assert labels == ["Loja Centro (+5511999990000)", "Loja Norte (+5511999990000)"]
        mute_choice(r, 0, "Until I unmute it").trigger()
        assert r.settings.notifications.muted == [A]
        assert r.saves == 1
        r.transition(A, CLOSED)
        r.transition(B, CLOSED)
        assert [s[0] for s in r.tick(1_000_061.0)] == ["Loja Norte disconnected"]
        assert r.tray.icon.toolTip().endswith("1 notification held back (quiet hours/muted)")
        r.tray.mute_menu.aboutToShow.emit()
        assert r.tray.mute_menu.actions()[0].text().endswith(" — muted")
        mute_choice(r, 0, "Unmute").trigger()
        assert r.settings.notifications.muted == []
        assert r.saves == 2


async def test_quiet_hours_toggle_from_the_menu(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        assert r.tray.quiet_action.text() == "Quiet hours (22:00–07:00)"
        assert not r.tray.quiet_action.isChecked()
        r.tray.quiet_action.trigger()
        assert r.settings.notifications.quiet_hours == "22:00-07:00"
        assert r.tray.notifier.rules.quiet_start == 22 * 60
        r.tray.quiet_action.trigger()
        assert r.settings.notifications.quiet_hours is None
        assert r.tray.notifier.rules.quiet_start is None
        assert r.saves == 2


async def test_a_setting_that_cannot_be_saved_is_undone_and_said(tmp_path: Path) -> None:
    posted: list[tuple[str, str]] = []

    def fail() -> None:
        raise OSError(28, "No space left on device")

    def on_post(level: str, text: str, _details: str) -> None:
        posted.append((level, text))

    messages.bus.message_did_post.connect(on_post)
    try:
        async with rig(tmp_path, save=fail) as r:
            r.state(A, OPEN, "Loja Centro")
            r.tray.refresh()
            r.tray.mute_menu.aboutToShow.emit()
            mute_choice(r, 0, "Until I unmute it").trigger()
            assert r.settings.notifications.muted == []
            assert A not in r.tray.notifier.rules.muted
            r.tray.quiet_action.trigger()
            assert r.settings.notifications.quiet_hours is None
            assert not r.tray.quiet_action.isChecked()
    finally:
        messages.bus.message_did_post.disconnect(on_post)
    assert [level for level, _ in posted] == ["error", "error"]
    assert "No space left on device" in posted[0][1]


async def test_close_to_tray_hides_and_quit_really_quits(tmp_path: Path) -> None:
    async with rig(tmp_path, notifications=NotificationSettings(close_to_tray=True)) as r:
        closed: list[bool] = []
        r.window.window_did_close.connect(lambda: closed.append(True))
        r.tray.show_initial()
        assert r.window.isVisible()
        r.window.close()
        assert not r.window.isVisible()
        assert closed == []  # still running in the tray
        assert [s[0] for s in r.shown] == ["Pilot Desktop is still running"]
        r.window.close()
        assert len(r.shown) == 1  # said once
        r.tray.quit()
        assert closed == [True]


async def test_close_without_a_tray_closes(tmp_path: Path) -> None:
    async with rig(tmp_path, available=False, notifications=NotificationSettings(close_to_tray=True)) as r:
        closed: list[bool] = []
        r.window.window_did_close.connect(lambda: closed.append(True))
        r.window.show()
        r.window.close()
        assert closed == [True]  # nowhere to hide: closing quits


async def test_start_minimised_only_with_a_tray(tmp_path: Path) -> None:
    minimised = NotificationSettings(start_minimised=True)
    async with rig(tmp_path, notifications=minimised) as r:
        r.tray.show_initial()
        assert not r.window.isVisible()
    async with rig(tmp_path, available=False, notifications=minimised) as r:
        r.tray.show_initial()
        assert r.window.isVisible()


def number_event(event: str, number: str, created: str) -> dict[str, Any]:
    return {
        "event": event,
        "data": {
            "numberId": number,
            "phone": "+5511999990000",
            "displayName": "Loja Sul",
            "createdAt": created,
        },
    }


async def test_a_real_disconnect_webhook_turns_the_tray_red(data_dir: Path) -> None:
    """Through the receiver, the writer's COMMIT and its change descriptor."""
    settings = Settings(
        receiver=ReceiverSettings(port=0), notifications=NotificationSettings(disconnect_delay_s=1)
    )
    core = memory_core(data_dir, settings)
    window = await open_window(core)
    runtime = core.runtime
    tray = attach_tray(window, core.profile.settings, core.reads)
    tray.show_initial()
    try:
        async with aiohttp.ClientSession() as session:
            for event, at in (("number.connected", "10:00:00"), ("number.disconnected", "10:05:00")):
                body = json.dumps(number_event(event, "num_S", f"2026-11-24T{at}.000Z"))
                async with session.post(runtime.hook_url, data=body) as resp:
                    assert resp.status == 200
                if event == "number.connected":
                    await until(lambda: tray.level == "ok")
        await until(lambda: tray.level == "down")
        assert "Disconnected: Loja Sul" in tray.icon.toolTip()
        assert window.windowTitle() == "Pilot Desktop — 1 disconnected"
        # Offscreen there is no tray: the banner tells, on the tray's own 2 s timer.
        await until(lambda: window.notice_banner.isVisibleTo(window))
        assert "Loja Sul disconnected" in window.notice_banner.text.text()
        window.notice_banner.action_button.click()
        assert window.numbers is not None
        assert window.tabs.currentWidget() is window.numbers
        numbers = window.numbers
        await until(lambda: numbers.selected == "num_S")
    finally:
        tray.shutdown()
        tray.deleteLater()
        await close_app(window, core)


async def test_a_mute_made_by_another_process_applies_without_a_restart(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.state(A, OPEN, "Loja Centro")
        r.tray.refresh()
        other = Config.open(resolve(tmp_path / "profile"))  # the CLI, on the same files
        other.settings.update({"notifications.muted": [A], "notifications.quiet_hours": "23:00-06:00"})
        assert r.config.reload()  # what the core's watcher does every second
        assert r.tray.notifier.rules.muted == frozenset({A})
        assert r.tray.quiet_action.isChecked() and "23:00–06:00" in r.tray.quiet_action.text()
        r.transition(A, CLOSED)
        assert r.tick(1_000_061.0) == []  # muted: held back

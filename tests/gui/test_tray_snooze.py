"""The tray's tooltip names the numbers, says DEMO in the demo; Mute offers a snooze that
ends by itself. The tray of tests/gui/test_tray.py's rig: a real window and settings file,
a controllable clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from pilot_desktop.core.numbers import CLOSED, CONNECTING, OPEN
from pilot_desktop.services.config import Config
from pilot_desktop.services.paths import resolve
from tests.gui.test_tray import A, B, mute_choice, rig

C, D = "num_C", "num_D"
T0 = datetime(2026, 12, 4, 14, 0).timestamp()  # a Friday, 14:00 local time


async def test_the_tooltip_names_each_state_s_numbers_and_says_demo(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.state(A, OPEN, "Loja Centro")
        r.state(B, CLOSED, "Loja Norte")
        r.state(C, CONNECTING, "Loja Sul")
        r.state(D, OPEN, "Loja Leste")
        r.states[D] = replace(r.states[D], health="degraded")
        r.tray.refresh()
        assert r.tray.icon.toolTip() == (
            "Pilot Desktop\n"
            "2 of 4 numbers connected\n"
            "Disconnected: Loja Norte\n"
            "Connecting: Loja Sul\n"
            "Health warning: Loja Leste (degraded)"
        )
        r.window.show_demo(None, "the sandbox could not start")
        r.tray.refresh()
        assert r.tray.icon.toolTip().startswith("Pilot Desktop — DEMO (sandbox data)\n2 of 4 numbers")


async def test_many_numbers_in_one_state_are_named_up_to_three(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        for i in range(5):
            r.state(f"num_{i}", CONNECTING, f"Loja {i}")
        r.tray.refresh()
        assert "Connecting: Loja 0, Loja 1, Loja 2 and 2 more" in r.tray.icon.toolTip()


async def test_a_snooze_holds_notifications_back_until_it_ends(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.at(T0)
        r.state(A, OPEN, "Loja Centro")
        r.state(B, OPEN, "Loja Norte")
        r.tray.refresh()
        r.tray.mute_menu.aboutToShow.emit()
        mute_choice(r, 0, "For 1 hour").trigger()
        assert r.settings.notifications.snoozed == {A: T0 + 3600}
        assert r.settings.notifications.muted == []
        r.tray.mute_menu.aboutToShow.emit()
        assert r.tray.mute_menu.actions()[0].text().endswith("— snoozed until 15:00")
        r.transition(A, CLOSED)
        r.transition(B, CLOSED)
        assert [s[0] for s in r.tick(T0 + 61)] == ["Loja Norte disconnected"]  # A: held back
        assert "Snoozed: Loja Centro until 15:00" in r.tray.icon.toolTip()
        r.at(T0 + 120)
        r.transition(A, OPEN)
        assert r.tick(T0 + 200) == []  # its reconnect: held back too
        # The hour is over: nothing to unmute, the next disconnect is told.
        r.at(T0 + 3601)
        r.transition(A, CLOSED)
        assert [s[0] for s in r.tick(T0 + 3662)] == ["Loja Centro disconnected"]
        assert "Snoozed" not in r.tray.icon.toolTip()
        r.tray.mute_menu.aboutToShow.emit()
        assert r.tray.mute_menu.actions()[0].text() == "Loja Centro (+5511999990000)"
        assert not mute_choice(r, 0, "Unmute").isEnabled()


async def test_until_tomorrow_morning_and_unmute_before_it_ends(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.at(T0)
        r.state(A, OPEN, "Loja Centro")
        r.tray.refresh()
        r.tray.mute_menu.aboutToShow.emit()
        mute_choice(r, 0, "Until tomorrow 08:00").trigger()
        morning = datetime.combine(datetime.fromtimestamp(T0).date() + timedelta(days=1), datetime.min.time())
        assert r.settings.notifications.snoozed == {A: morning.replace(hour=8).timestamp()}
        r.at(T0 + 8 * 3600)  # 22:00: still snoozed
        r.transition(A, CLOSED)
        assert r.tick(T0 + 8 * 3600 + 61) == []
        r.tray.mute_menu.aboutToShow.emit()
        mute_choice(r, 0, "Unmute").trigger()
        assert r.settings.notifications.snoozed == {}
        r.at(T0 + 9 * 3600)
        r.transition(A, OPEN)
        assert [s[0] for s in r.tick(T0 + 9 * 3600 + 10)] == ["Loja Centro is connected again"]


async def test_a_snooze_set_by_another_process_applies_and_past_ones_are_dropped(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.at(T0)
        r.state(A, OPEN, "Loja Centro")
        r.state(B, OPEN, "Loja Norte")
        r.tray.refresh()
        other = Config.open(resolve(tmp_path / "profile"))  # the CLI, on the same files
        other.settings.update({"notifications.snoozed": {A: T0 + 600, "num_gone": T0 - 1}})
        assert r.config.reload()
        r.transition(A, CLOSED)
        assert r.tick(T0 + 61) == []
        r.tray.mute_menu.aboutToShow.emit()
        mute_choice(r, 1, "For 8 hours").trigger()  # Loja Norte
        assert r.settings.notifications.snoozed == {A: T0 + 600, B: T0 + 61 + 8 * 3600}  # gone dropped

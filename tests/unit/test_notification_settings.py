"""The settings' `notifications` section: defaults, validation naming the field, the rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.notifications import notify_rules, set_muted, set_quiet_hours
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.settings import NotificationSettings, Settings


def test_defaults_are_the_documented_ones_and_make_the_default_rules(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Config.open(resolve(tmp_path)).settings.value  # created with defaults
    n = settings.notifications
    assert (n.disconnect_delay_s, n.flap_window_s, n.flap_threshold) == (60, 600, 3)
    assert n.quiet_hours is None and n.muted == []
    assert (n.start_minimised, n.close_to_tray, n.single_instance) == (False, False, True)
    assert json.loads(path.read_text())["notifications"]["single_instance"] is True
    rules = notify_rules(settings)
    assert (rules.disconnect_delay, rules.flap_window, rules.flap_threshold) == (60.0, 600.0, 3)
    assert rules.quiet_start is None and rules.muted == frozenset()


def test_a_file_without_the_section_gets_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    Config.open(resolve(tmp_path))  # writes the defaults
    raw = json.loads(path.read_text())
    del raw["notifications"]
    path.write_text(json.dumps(raw))
    assert Config.open(resolve(tmp_path)).settings.value.notifications.disconnect_delay_s == 60


@pytest.mark.parametrize(
    ("value", "stored", "minutes"),
    [
        ("22:00-07:00", "22:00-07:00", (1320, 420)),
        ("7:05 - 9:30", "07:05-09:30", (425, 570)),
        ("", None, None),
    ],
)
def test_quiet_hours_are_normalised_and_become_minutes(
    value: str, stored: str | None, minutes: tuple[int, int] | None
) -> None:
    settings = Settings(notifications=NotificationSettings(quiet_hours=value))
    assert settings.notifications.quiet_hours == stored
    rules = notify_rules(settings)
    assert (rules.quiet_start, rules.quiet_end) == (minutes or (None, None))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quiet_hours", "25:00-07:00"),
        ("quiet_hours", "22h-7h"),
        ("disconnect_delay_s", 0),
        ("flap_threshold", 1),
        ("muted", "num_A"),
    ],
)
def test_a_bad_value_in_the_file_names_the_field(tmp_path: Path, field: str, value: object) -> None:
    path = tmp_path / "settings.json"
    Config.open(resolve(tmp_path))  # writes the defaults
    raw = json.loads(path.read_text())
    raw["notifications"][field] = value
    path.write_text(json.dumps(raw))
    with pytest.raises(SettingsError, match=rf"notifications\.{field}"):
        Config.open(resolve(tmp_path))


def test_mute_and_quiet_changes(tmp_path: Path) -> None:
    config = Config.open(resolve(tmp_path))
    prefs = config.settings
    set_muted(prefs, "num_A", True)
    set_muted(prefs, "num_A", True)
    set_muted(prefs, "num_B", True)
    assert prefs.value.notifications.muted == ["num_A", "num_B"]
    set_muted(prefs, "num_A", False)
    assert notify_rules(prefs.value).muted == frozenset({"num_B"})
    set_quiet_hours(prefs, "23:30-06:00")
    assert notify_rules(prefs.value).quiet_start == 23 * 60 + 30
    with pytest.raises(SettingsError, match=r"notifications\.quiet_hours"):
        set_quiet_hours(prefs, "late")
    assert prefs.value.notifications.quiet_hours == "23:30-06:00"  # unchanged
    # The changes are in the file, and a bad one wrote nothing.
    again = Config.open(resolve(tmp_path)).settings.value.notifications
    assert again.muted == ["num_B"] and again.quiet_hours == "23:30-06:00"

"""Settings and state as stores: changes re-read what is on disk, write only what changed,
are announced, and nothing one process writes is lost when another saves."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.paths import AppPaths, resolve


def paths_in(folder: Path) -> AppPaths:
    return resolve(folder)


def test_two_processes_changing_different_settings_lose_neither(tmp_path: Path) -> None:
    window = Config.open(paths_in(tmp_path))
    cli = Config.open(paths_in(tmp_path))  # opened before either change, as a CLI beside the window
    window.settings.update({"notifications.muted": ["num_A"]})
    after = cli.settings.update({"messages.stuck_queued_minutes": 42})
    assert after.notifications.muted == ["num_A"]  # re-read before the write
    on_disk = json.loads((tmp_path / "settings.json").read_text())
    assert on_disk["notifications"]["muted"] == ["num_A"]
    assert on_disk["messages"]["stuck_queued_minutes"] == 42
    assert window.settings.value.messages.stuck_queued_minutes == 15  # not re-read yet
    assert window.reload() == {"messages", "messages.stuck_queued_minutes"}
    assert window.settings.value.messages.stuck_queued_minutes == 42


def _append_muted(folder: str, prefix: str, count: int) -> None:
    config = Config.open(resolve(folder))
    for i in range(count):
        config.settings.update(
            lambda s, i=i: {"notifications.muted": [*s.notifications.muted, f"{prefix}{i}"]}
        )


def test_concurrent_read_modify_writes_from_several_processes_lose_nothing(tmp_path: Path) -> None:
    Config.open(paths_in(tmp_path))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_muted, args=(str(tmp_path), f"p{n}_", 150)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    muted = Config.open(paths_in(tmp_path)).settings.value.notifications.muted
    assert sorted(muted) == sorted(f"p{n}_{i}" for n in range(4) for i in range(150))


def test_a_change_is_announced_with_the_fields_it_touched(tmp_path: Path) -> None:
    config = Config.open(paths_in(tmp_path))
    heard: list[frozenset[str]] = []
    config.settings.subscribe(heard.append)
    config.settings.update({"notifications.quiet_hours": "22:00-07:00"})
    config.settings.update({"notifications.quiet_hours": "22:00-07:00"})  # no change: no write, no news
    assert heard == [frozenset({"notifications", "notifications.quiet_hours"})]


def test_an_unchanged_update_does_not_rewrite_the_file(tmp_path: Path) -> None:
    config = Config.open(paths_in(tmp_path))
    before = (tmp_path / "settings.json").stat().st_ino
    config.settings.update({"receiver.port": config.settings.value.receiver.port})
    assert (tmp_path / "settings.json").stat().st_ino == before


def test_a_bad_change_names_the_field_and_writes_nothing(tmp_path: Path) -> None:
    config = Config.open(paths_in(tmp_path))
    before = (tmp_path / "settings.json").read_bytes()
    with pytest.raises(SettingsError, match=r"messages\.stuck_sent_minutes"):
        config.settings.update({"messages.stuck_queued_minutes": 5, "messages.stuck_sent_minutes": 0})
    assert (tmp_path / "settings.json").read_bytes() == before
    assert config.settings.value.messages.stuck_queued_minutes == 15  # all or nothing


def test_models_are_frozen_so_no_one_changes_them_behind_the_store(tmp_path: Path) -> None:
    config = Config.open(paths_in(tmp_path))
    with pytest.raises(ValueError, match="frozen"):
        config.settings.value.receiver.port = 1  # type: ignore[misc]


def test_a_file_broken_by_hand_keeps_the_last_good_values_and_says_why(tmp_path: Path) -> None:
    config = Config.open(paths_in(tmp_path))
    (tmp_path / "settings.json").write_text('{"version": 4, "receiver": {"port": "eighty"}}')
    assert config.reload() == frozenset()
    assert config.settings.value.receiver.port == 8787
    assert config.settings.problem is not None and "receiver.port" in config.settings.problem
    with pytest.raises(SettingsError, match=r"receiver\.port"):
        config.settings.update({"ui.live_tail_rows": 500})  # never written over a file in error
    assert "eighty" in (tmp_path / "settings.json").read_text()


def test_preferences_and_state_live_in_two_files(tmp_path: Path) -> None:
    config = Config.open(paths_in(tmp_path))
    settings = json.loads((tmp_path / "settings.json").read_text())
    state = json.loads((tmp_path / "state.json").read_text())
    assert "token" not in settings["receiver"] and "accounts" not in settings
    assert state["token"] == config.state.value.token and state["accounts"] == []
    assert Config.open(paths_in(tmp_path)).state.value.token == config.state.value.token  # stable


def test_a_v3_settings_file_is_split_keeping_every_value(tmp_path: Path) -> None:
    token = "t" * 24
    v3 = {
        "version": 3,
        "receiver": {"host": "0.0.0.0", "port": 9000, "token": token},
        "real_receiver": True,
        "public_url": "https://tunnel.example.com",
        "accounts": [{"id": "acc_1", "label": "Shop", "scope": "number", "numbers": [{"id": "num_1"}]}],
        "signing_secret_webhooks": ["wh_1", "wh_2"],
        "signing_secret_routes": {"wh_1": "num_1"},
        "notifications": {"muted": ["num_1"]},
    }
    (tmp_path / "settings.json").write_text(json.dumps(v3))
    config = Config.open(paths_in(tmp_path))
    settings, state = config.settings.value, config.state.value
    assert settings.version == 4 and settings.receiver.port == 9000 and settings.receiver.host == "0.0.0.0"
    assert settings.public_url == "https://tunnel.example.com" and settings.notifications.muted == ["num_1"]
    assert state.token == token and state.real_receiver and state.accounts[0].id == "acc_1"
    assert state.signing_secret_webhooks == ["wh_1", "wh_2"]
    assert state.signing_secret_routes == {"wh_1": "num_1"}  # wh_2 still checks every route
    on_disk = json.loads((tmp_path / "settings.json").read_text())
    assert on_disk["version"] == 4 and "token" not in on_disk["receiver"] and "accounts" not in on_disk


def test_a_bad_value_in_the_state_part_of_a_v3_file_names_it_and_changes_nothing(tmp_path: Path) -> None:
    v3 = {"version": 3, "signing_secret_routes": {"wh_1": "a/b"}}
    (tmp_path / "settings.json").write_text(json.dumps(v3))
    with pytest.raises(SettingsError, match=r"signing_secret_routes\.wh_1: .*one URL path segment"):
        Config.open(paths_in(tmp_path))
    assert json.loads((tmp_path / "settings.json").read_text()) == v3
    assert not (tmp_path / "state.json").exists()


def test_memory_config_changes_and_announces_without_files(tmp_path: Path) -> None:
    config = Config.memory()
    heard: list[frozenset[str]] = []
    config.state.subscribe(heard.append)
    config.mark_real_receiver()
    assert config.state.value.real_receiver and heard == [frozenset({"real_receiver"})]
    assert list(tmp_path.iterdir()) == []


def test_a_key_added_with_a_null_value_is_announced(tmp_path: Path) -> None:
    """A webhook's secret whose route turns out to point elsewhere (None): subscribers (the
    receiver's signing secrets) must hear it."""
    config = Config.open(paths_in(tmp_path))
    heard: list[frozenset[str]] = []
    config.state.subscribe(heard.append)
    config.state.update({"signing_secret_webhooks": ["wh_1"]})
    config.state.update({"signing_secret_routes": {"wh_1": None}})
    assert heard[-1] == {"signing_secret_routes", "signing_secret_routes.wh_1"}

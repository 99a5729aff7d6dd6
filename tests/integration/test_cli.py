"""Command-line details a user relies on, through the real console script."""

from __future__ import annotations

from pathlib import Path

from pilot_desktop.store.db import open_store
from tests.integration.serving import cli, settings_of, token_of


def test_data_dir_works_before_and_after_the_command(tmp_path: Path) -> None:
    data = tmp_path / "d"
    before = cli("--data-dir", data, "hook-url")
    after = cli("hook-url", "--data-dir", data)
    assert before.returncode == after.returncode == 0
    assert before.stdout == after.stdout
    assert "token" not in settings_of(data)["receiver"]  # state, not a preference
    token = token_of(data)
    assert before.stdout.strip().endswith(f"/hooks/{token}")


def test_export_with_data_dir_first_reads_that_folder_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    r = cli("--data-dir", missing, "export")
    assert r.returncode == 1
    assert str(missing) in r.stderr and "nothing has been received" in r.stderr
    assert not missing.exists()  # a mistyped folder is reported, not created


def test_a_data_dir_that_is_a_file_gets_a_message_not_a_traceback(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    r = cli("hook-url", "--data-dir", a_file)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "pilot-desktop:" in r.stderr


def test_export_to_an_unwritable_place_gets_a_message_and_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    open_store(data)
    r = cli("export", "--data-dir", data, "-o", tmp_path / "no" / "such" / "x.ndjson")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr

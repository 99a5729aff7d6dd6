"""A profile file that cannot be used stops `serve` and the window before anything runs
(issue 14, class 6): a sentence naming the file and the field, exit 1, every file left as
it was, and no receiver started with a new token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.serving import BIN, cli, cli_env, token_of

RUN_S = 30.0  # a refusal comes in about a second; a receiver that started would run on


def files(folder: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            out[entry.name] = f"-> {os.readlink(entry)}"
        elif entry.is_file() and entry.suffix == ".json":
            out[entry.name] = entry.read_bytes()
    return out


def run_until_exit(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """Run `pilot-desktop ARGS`; one still running after RUN_S started where it must not."""
    proc = subprocess.Popen(
        [str(BIN), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
    )
    try:
        out, err = proc.communicate(timeout=RUN_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running after {RUN_S:.0f} s instead of refusing:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """A profile the CLI made: a token, a public URL."""
    data = tmp_path / "data"
    assert cli("public-url", "https://tunnel.example.com", "--data-dir", data).returncode == 0
    assert cli("hook-url", "--data-dir", data).returncode == 0
    return data


def test_serve_refuses_a_state_file_that_is_a_link_to_nothing(profile: Path) -> None:
    token = token_of(profile)
    state = profile / "state.json"
    kept = profile.parent / "backup" / "state.json"
    kept.parent.mkdir()
    state.rename(kept)
    state.symlink_to(kept)
    shutil.rmtree(kept.parent)  # the backup disk is not mounted: the link points to nothing
    before = files(profile)
    r = run_until_exit("serve", "--port", "0", "--data-dir", profile)
    assert r.returncode == 1, r.stderr
    assert f"{state} is a symbolic link to {kept}, which does not exist" in r.stderr
    assert "Listening" not in r.stdout and "Traceback" not in r.stderr
    assert files(profile) == before
    kept.parent.mkdir()
    kept.write_text(json.dumps({"version": 1, "token": token}))
    assert cli("hook-url", "--data-dir", profile).stdout.strip().endswith(f"/hooks/{token}")  # same URL


@pytest.mark.parametrize("version", ["true", "0", "-1", '"4"', "null", "2.0"])
def test_the_window_refuses_a_settings_version_it_does_not_know(profile: Path, version: str) -> None:
    settings = profile / "settings.json"
    raw = settings.read_text()
    settings.write_text(raw.replace('"version": 4', f'"version": {version}'))
    before = files(profile)
    r = run_until_exit("--data-dir", profile, "--no-demo")  # no command: the window
    assert r.returncode == 1, r.stderr
    assert f"Settings {settings}: version: must be a whole number from 1 to 4" in r.stderr
    assert "Traceback" not in r.stderr
    assert files(profile) == before


def _without_read_override() -> list[str]:
    """A prefix under which a mode-0000 file is unreadable: root reads every file, so as root
    the process runs without the capabilities that let it (util-linux `setpriv`)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root: util-linux's setpriv is needed to drop CAP_DAC_OVERRIDE"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.mark.parametrize("name", ["settings.json", "state.json"])
def test_an_unreadable_file_is_refused_naming_it(profile: Path, name: str) -> None:
    path = profile / name
    before = files(profile)
    path.chmod(0)
    try:
        r = subprocess.run(
            [*_without_read_override(), str(BIN), "hook-url", "--data-dir", str(profile)],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=60,
            check=False,
        )
    finally:
        path.chmod(0o600)
    assert r.returncode == 1, r.stdout
    assert f"{path} cannot be read: Permission denied" in r.stderr
    assert files(profile) == before

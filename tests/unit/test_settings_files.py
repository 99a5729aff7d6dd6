"""Settings, state and secrets files are never silently destroyed (issue 14, class 6).

A profile made by the app (an account, a public URL, a stored secret's index, a token) has
one of its files replaced by something invalid. Opening it must refuse with a sentence
naming the file and the field, leave every file byte-identical, and never make a new token.
Links are followed, never replaced by a new file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import FileSecrets, SecretsError

ACCOUNT = {"id": "acc_1", "label": "Shop", "scope": "number", "numbers": [{"id": "num_1"}]}
NAMES = ("settings.json", "state.json")
HUGE = 16 * 1024 * 1024  # bytes: far beyond any settings or state file


@dataclass
class Profile:
    folder: Path
    token: str

    def files(self) -> dict[str, bytes | str]:
        """Every entry of the folder: a file's bytes, a link's target, a folder's kind."""
        out: dict[str, bytes | str] = {}
        for entry in sorted(self.folder.iterdir()):
            if entry.is_symlink():
                out[entry.name] = f"-> {os.readlink(entry)}"
            elif entry.is_file():
                out[entry.name] = entry.read_bytes()
            else:
                out[entry.name] = "(not a file)"
        return out

    def open_refused(self, *says: str) -> SettingsError:
        before = self.files()
        with pytest.raises(SettingsError) as info:
            Config.open(resolve(self.folder))
        message = str(info.value)
        for part in says:
            assert part in message, message
        assert self.files() == before  # nothing written, renamed, replaced or created
        return info.value


def make_profile(folder: Path) -> Profile:
    """A profile as the app leaves it after some use."""
    config = Config.open(resolve(folder))
    config.state.update({"accounts": [ACCOUNT], "signing_secret_webhooks": ["wh_1"]})
    config.state.update({"signing_secret_routes": {"wh_1": "num_1"}, "real_receiver": True})
    config.settings.update({"public_url": "https://tunnel.example.com"})
    return Profile(folder, config.state.value.token)


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return make_profile(tmp_path / "profile")


def with_version(value: Any) -> Callable[[bytes], bytes]:
    def change(original: bytes) -> bytes:
        raw = json.loads(original)
        raw["version"] = value
        return json.dumps(raw).encode()

    return change


def text(data: bytes) -> Callable[[bytes], bytes]:
    return lambda original: data


def with_string(value: str) -> Callable[[bytes], bytes]:
    """`value` in a list of strings the file has (muted numbers; the secrets' webhook ids)."""

    def change(original: bytes) -> bytes:
        raw = json.loads(original)
        if "notifications" in raw:
            raw["notifications"]["muted"] = [value]
        else:
            raw["signing_secret_webhooks"] = [value]
        return json.dumps(raw).encode()

    return change


# Each: what the file becomes (from the bytes the app wrote), and what the refusal must say.
CONTENTS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "version true": (with_version(True), "version: must be a whole number"),
    "version false": (with_version(False), "version: must be a whole number"),
    "version float": (with_version(1.0), "version: must be a whole number"),
    "version string": (with_version("1"), "version: must be a whole number"),
    "version negative": (with_version(-3), "version: must be a whole number"),
    "version zero": (with_version(0), "version: must be a whole number"),
    "version null": (with_version(None), "version: must be a whole number"),
    "version huge": (
        with_version(10**40),
        f"version: {10**40} was written by a newer",
    ),
    "version too new": (with_version(99), "newer Pilot Desktop"),
    "top level list": (text(b'[{"version": 4}]'), "must hold a JSON object"),
    "top level string": (text(b'"settings"'), "must hold a JSON object"),
    "top level null": (text(b"null"), "must hold a JSON object"),
    "invalid UTF-8": (
        lambda o: o.replace(b"https", b"\xffhttps").replace(b'"token"', b'"\xfftoken"'),
        "not UTF-8",
    ),
    "NUL byte": (lambda o: b"\x00" + o, "not valid JSON"),
    "empty": (text(b""), "is empty"),
    "only spaces": (text(b" \n\t "), "is empty"),
    "not JSON": (lambda o: o[: len(o) // 2], "not valid JSON (line"),
    "huge file": (lambda o: o[:-2] + b" " * HUGE + b"}\n", "larger than"),
    "deep nesting": (text(b'{"version": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "nests deeper"),
    "nesting past the limit": (text(b'{"version": 1, "x": ' + b"[" * 40 + b"]" * 40 + b"}"), "x[0]"),
    "huge integer": (text(b'{"version": 1, "x": ' + b"9" * 5000 + b"}"), "too many digits"),
    "huge float": (text(b'{"version": 1, "x": 1e999}'), "x: the number is too large"),
    "NaN": (text(b'{"version": 1, "x": NaN}'), "NaN is not a JSON number"),
    "duplicate key": (text(b'{"version": 1, "version": 1}'), "version: given twice"),
    "duplicate nested key": (text(b'{"version": 1, "a": {"b": 1, "b": 2}}'), "a.b: given twice"),
    "unpaired surrogate": (with_string("\ud800"), "holds an unpaired surrogate"),
    "escaped NUL": (with_string("num\x00_1"), "holds a NUL character"),
    "unknown field": (text(b'{"version": 1, "surprise": 1}'), "surprise"),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", CONTENTS)
def test_an_invalid_file_is_refused_naming_it_and_nothing_changes(
    profile: Profile, name: str, case: str
) -> None:
    change, says = CONTENTS[case]
    path = profile.folder / name
    path.write_bytes(change(path.read_bytes()))
    profile.open_refused(str(path), says)


def test_a_state_file_without_its_token_is_refused_not_given_a_new_one(profile: Profile) -> None:
    path = profile.folder / "state.json"
    raw = json.loads(path.read_text())
    del raw["token"]
    path.write_text(json.dumps(raw))
    profile.open_refused(str(path), "token: missing")


def test_a_byte_order_mark_is_accepted_and_kept(profile: Profile) -> None:
    for name in NAMES:
        path = profile.folder / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    before = profile.files()
    config = Config.open(resolve(profile.folder))
    assert config.state.value.token == profile.token
    assert config.settings.value.public_url == "https://tunnel.example.com"
    assert profile.files() == before


# -- what is there is not a file ------------------------------------------------------------


def _dangling(path: Path) -> str:
    path.unlink()
    path.symlink_to(path.parent / "moved-away.json")
    return "which does not exist"


def _link_to_folder(path: Path) -> str:
    path.unlink()
    (path.parent / "a-folder").mkdir()
    path.symlink_to(path.parent / "a-folder")
    return "is a directory"


def _link_loop(path: Path) -> str:
    path.unlink()
    path.symlink_to(path)
    return "symbolic link that cannot be followed"


def _folder(path: Path) -> str:
    path.unlink()
    path.mkdir()
    return "is a directory"


def _fifo(path: Path) -> str:
    path.unlink()
    os.mkfifo(path)
    return "named pipe"


NOT_FILES: dict[str, Callable[[Path], str]] = {
    "dangling link": _dangling,
    "link to a folder": _link_to_folder,
    "link loop": _link_loop,
    "folder": _folder,
    "FIFO": _fifo,
}


@pytest.mark.timeout(20)  # a FIFO opened for reading without a writer would block for ever
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", NOT_FILES)
def test_what_is_not_a_file_is_refused_never_replaced(profile: Profile, name: str, case: str) -> None:
    path = profile.folder / name
    profile.open_refused(str(path), NOT_FILES[case](path))


@pytest.mark.parametrize("name", NAMES)
def test_a_link_to_a_file_elsewhere_is_followed_and_written_through(tmp_path: Path, name: str) -> None:
    profile = make_profile(tmp_path / "profile")
    kept = tmp_path / "dotfiles" / name
    kept.parent.mkdir()
    (profile.folder / name).rename(kept)
    (profile.folder / name).symlink_to(kept)
    config = Config.open(resolve(profile.folder))
    assert config.state.value.token == profile.token
    config.settings.update({"receiver.port": 9100})
    config.state.update({"real_receiver": False})
    assert (profile.folder / name).is_symlink() and os.readlink(profile.folder / name) == str(kept)
    on_disk = json.loads(kept.read_text())
    assert on_disk.get("receiver", {}).get("port", 9100) == 9100 and on_disk.get("real_receiver") is not True
    assert kept.stat().st_mode & 0o777 == 0o600
    assert not [p for p in kept.parent.iterdir() if p != kept]  # no temporary file left


def test_a_file_turned_into_a_dangling_link_while_running_is_not_replaced(profile: Profile) -> None:
    config = Config.open(resolve(profile.folder))
    path = profile.folder / "state.json"
    _dangling(path)
    assert config.reload() == frozenset()
    with pytest.raises(SettingsError, match="which does not exist"):
        config.state.update({"real_receiver": False})
    assert path.is_symlink() and not path.exists()


@pytest.mark.parametrize("case", ["dangling link", "link to a folder", "folder"])
def test_a_lock_that_is_not_a_file_is_refused_and_its_target_kept(profile: Profile, case: str) -> None:
    lock = profile.folder / "config.lock"
    precious = profile.folder / "precious.txt"
    precious.write_text("keep me")
    lock.unlink(missing_ok=True)
    if case == "dangling link":
        lock.symlink_to(profile.folder / "nowhere")
    elif case == "link to a folder":
        (profile.folder / "a-folder").mkdir()
        lock.symlink_to(profile.folder / "a-folder")
    else:
        lock.mkdir()
    profile.open_refused(str(lock), "cannot be used")
    lock.unlink() if lock.is_symlink() else lock.rmdir()
    lock.symlink_to(precious)
    profile.open_refused(str(lock), "cannot be used")
    assert precious.read_text() == "keep me"


# -- older settings files: split only when both halves are good, never over a state file ------


def _v3(profile: Profile, **state: Any) -> dict[str, Any]:
    settings = json.loads((profile.folder / "settings.json").read_text())
    old = {**settings, "version": 3, "receiver": {**settings["receiver"], "token": profile.token}}
    old.update({"accounts": [ACCOUNT], "signing_secret_webhooks": ["wh_1"], "real_receiver": True})
    old.update({"signing_secret_routes": {"wh_1": "num_1"}, **state})
    return old


def test_an_old_settings_file_beside_a_different_state_is_refused_both_kept(profile: Profile) -> None:
    old = _v3(profile, accounts=[])
    old["receiver"]["token"] = "another-token-of-an-old-backup"
    (profile.folder / "settings.json").write_text(json.dumps(old))
    error = profile.open_refused(str(profile.folder / "settings.json"), str(profile.folder / "state.json"))
    assert "accounts" in str(error) and "token" in str(error)


def test_a_split_interrupted_after_the_state_was_written_completes_with_the_same_token(
    profile: Profile,
) -> None:
    (profile.folder / "settings.json").write_text(json.dumps(_v3(profile)))
    state_before = (profile.folder / "state.json").read_bytes()
    config = Config.open(resolve(profile.folder))
    assert config.state.value.token == profile.token
    assert (profile.folder / "state.json").read_bytes() == state_before
    assert json.loads((profile.folder / "settings.json").read_text())["version"] == 4


def test_a_settings_file_without_a_version_beside_a_state_keeps_that_state(profile: Profile) -> None:
    """A hand-written preferences file (no version: the oldest format) changes no state."""
    (profile.folder / "settings.json").write_text(json.dumps({"receiver": {"port": 9200}}))
    state_before = (profile.folder / "state.json").read_bytes()
    config = Config.open(resolve(profile.folder))
    assert config.settings.value.receiver.port == 9200
    assert config.state.value.token == profile.token and config.state.value.accounts[0].id == "acc_1"
    assert (profile.folder / "state.json").read_bytes() == state_before


def test_an_old_file_without_a_version_keeps_its_accounts_and_public_url(tmp_path: Path) -> None:
    """Version 1 had no accounts: a file without a version that holds some keeps them."""
    token = "k" * 24
    old = {"receiver": {"token": token}, "accounts": [ACCOUNT], "public_url": "https://t.example.com"}
    (tmp_path / "settings.json").write_text(json.dumps(old))
    config = Config.open(resolve(tmp_path))
    assert config.state.value.token == token and config.state.value.accounts[0].id == "acc_1"
    assert config.settings.value.public_url == "https://t.example.com"


def test_an_old_file_with_a_bad_half_writes_nothing(tmp_path: Path) -> None:
    old = {"version": 2, "receiver": {"token": "k" * 24}, "ui": {"live_tail_rows": 1}}
    (tmp_path / "settings.json").write_text(json.dumps(old))
    before = (tmp_path / "settings.json").read_bytes()
    with pytest.raises(SettingsError, match=r"ui\.live_tail_rows"):
        Config.open(resolve(tmp_path))
    assert (tmp_path / "settings.json").read_bytes() == before
    assert not (tmp_path / "state.json").exists()


def test_a_missing_state_file_beside_settings_is_a_new_install_of_the_state(profile: Profile) -> None:
    """No state file: nothing to destroy, so a token is made (once) and kept from then on;
    the log says so. An existing but unusable one is refused (the tests above)."""
    (profile.folder / "state.json").unlink()
    made = Config.open(resolve(profile.folder)).state.value.token
    assert made != profile.token
    assert Config.open(resolve(profile.folder)).state.value.token == made


# -- the secrets file (no keyring) ------------------------------------------------------------


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", [*NOT_FILES, "deep nesting", "huge integer", "duplicate key"])
def test_an_unusable_secrets_file_is_refused_and_kept(tmp_path: Path, case: str) -> None:
    path = tmp_path / "secrets.json"
    store = FileSecrets(path)
    store.set("api-key:acc_1", "sk_live_1")
    if case in NOT_FILES:
        NOT_FILES[case](path)
    elif case == "duplicate key":  # which key is the real one? Neither is guessed.
        path.write_text('{"api-key:acc_1": "sk_live_1", "api-key:acc_1": "sk_live_old"}')
    else:
        path.write_bytes(CONTENTS[case][0](path.read_bytes()))
    before = Profile(tmp_path, "").files()
    with pytest.raises(SecretsError, match=str(path)):
        store.set("api-key:acc_2", "sk_live_2")
    with pytest.raises(SecretsError, match=str(path)):
        store.get("api-key:acc_1")
    assert Profile(tmp_path, "").files() == before


def test_a_secrets_file_behind_a_link_is_written_through_it(tmp_path: Path) -> None:
    kept = tmp_path / "elsewhere" / "secrets.json"
    kept.parent.mkdir()
    kept.write_text('{"api-key:acc_1": "sk_live_1"}')
    (tmp_path / "secrets.json").symlink_to(kept)
    store = FileSecrets(tmp_path / "secrets.json")
    store.set("api-key:acc_2", "sk_live_2")
    assert (tmp_path / "secrets.json").is_symlink()
    assert json.loads(kept.read_text()) == {"api-key:acc_1": "sk_live_1", "api-key:acc_2": "sk_live_2"}


@pytest.mark.parametrize("label", ["Shop\x00", "Shop\ud800"])
def test_the_app_never_writes_a_file_its_next_start_would_refuse(profile: Profile, label: str) -> None:
    """A label from the platform holding a NUL: the change is refused, the state kept."""
    config = Config.open(resolve(profile.folder))
    before = profile.files()
    with pytest.raises(SettingsError, match=r"accounts\[0\]\.label"):
        config.state.update({"accounts": [{**ACCOUNT, "label": label}]})
    assert profile.files() == before
    assert Config.open(resolve(profile.folder)).state.value.token == profile.token

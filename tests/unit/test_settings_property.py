"""The settings loader against anything (issue 14, class 6): random bytes and random JSON
written as settings.json or state.json of a profile the app made. Opening either succeeds
or raises SettingsError naming that file; a refused file and its neighbour are left
byte-identical; the receiver token never changes (it is the state file's, whatever the
settings file holds)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pilot_desktop.services.config import Config, SettingsError, peek_settings
from pilot_desktop.services.paths import resolve
from tests.strategies import json_values

NAMES = ("settings.json", "state.json")
ACCOUNT = {"id": "acc_1", "label": "Shop", "scope": "number", "numbers": [{"id": "num_1"}]}


@pytest.fixture(scope="module")
def made() -> Iterator[Path]:
    """A profile as the app leaves it: an account, a public URL, a secret's index, a token."""
    with tempfile.TemporaryDirectory() as folder:
        config = Config.open(resolve(folder))
        config.state.update({"accounts": [ACCOUNT], "signing_secret_webhooks": ["wh_1"]})
        config.settings.update({"public_url": "https://tunnel.example.com"})
        yield Path(folder)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# Values shaped like the files (their keys, random values) reach the models' checks and
# the split of old files; random JSON and bytes reach the parser's.
_versions = st.one_of(st.integers(-2, 6), st.sampled_from([True, False, None, 1.0, "4", 10**30]), json_values)
_shaped = st.fixed_dictionaries(
    {},
    optional={
        "version": _versions,
        "token": json_values | st.text(alphabet="abcXYZ019_-", min_size=14, max_size=30),
        "receiver": st.dictionaries(st.sampled_from(["host", "port", "token"]), json_values, max_size=3),
        "accounts": json_values | st.just([ACCOUNT]),
        "public_url": json_values | st.just("https://other.example.com"),
        "signing_secret_webhooks": json_values,
        "signing_secret_routes": json_values,
        "real_receiver": json_values,
        "notifications": st.dictionaries(st.sampled_from(["muted", "quiet_hours"]), json_values, max_size=2),
    },
)


@st.composite
def _mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The file the app wrote with a few bytes changed, cut or added."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["set", "cut", "add"]))
        byte = draw(st.integers(0, 255))
        if op == "set" and at < len(data):
            data[at] = byte
        elif op == "cut":
            del data[at:]
        else:
            data.insert(at, byte)
    return bytes(data)


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(value, dict):
        return [prefix]
    return [prefix, *(p for key, item in value.items() for p in _paths(item, (*prefix, key)))]


@st.composite
def _edited(draw: st.DrawFn, original: bytes) -> bytes:
    """The file the app wrote with one field (or section) dropped or given another value."""
    raw = json.loads(original)
    where = draw(st.sampled_from([p for p in _paths(raw) if p]))
    node = raw
    for key in where[:-1]:
        node = node[key]
    how = draw(st.sampled_from(["drop", "any value", "same type"]))
    if how == "drop":
        del node[where[-1]]
    elif how == "any value":
        node[where[-1]] = draw(_versions if where == ("version",) else json_values)
    else:
        node[where[-1]] = draw(_same_type(node[where[-1]]))
    return _dumps(raw)


def _same_type(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-5, 100_000)
    if isinstance(value, str):
        return st.text(max_size=30)
    if isinstance(value, list):
        return st.lists(st.text(max_size=10), max_size=3)
    return st.none() | st.text(max_size=30)


def contents(original: bytes) -> st.SearchStrategy[bytes]:
    kinds: list[st.SearchStrategy[bytes]] = [
        _edited(original),
        st.binary(max_size=64),
        json_values.map(_dumps),
        _shaped.map(_dumps),
        _mutated(original),
    ]
    # Edits half of the time: so that loading, not only refusing, is tried often.
    return st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4]).flatmap(lambda i: kinds[i])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.suffix == ".json"}


def _old_settings(content: bytes) -> bool:
    """A v1-v3 settings file, which a successful open rewrites as v4 (the only rewrite)."""
    try:
        raw = json.loads(content)
    except ValueError:
        return False
    version = raw.get("version", 1) if isinstance(raw, dict) else None
    return type(version) is int and 1 <= version <= 3


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_content_is_loaded_or_refused_naming_the_file_never_changed(
    made: Path, name: str, data: st.DataObject
) -> None:
    token = json.loads((made / "state.json").read_text())["token"]
    content = data.draw(contents((made / name).read_bytes()), label="content")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "profile"
        shutil.copytree(made, folder)
        path = folder / name
        path.write_bytes(content)
        before = _files(folder)
        if name == "settings.json":
            try:
                peek_settings(resolve(folder))  # the read-only commands' loader
            except SettingsError as exc:
                assert str(path) in str(exc)
            assert _files(folder) == before
        try:
            config = Config.open(resolve(folder))
        except SettingsError as exc:
            event("refused")
            assert str(path) in str(exc), str(exc)
            assert _files(folder) == before
            return
        after = _files(folder)
        event("loaded, rewritten as v4" if after != before else "loaded")
        assert after["state.json"] == before["state.json"]  # a state file is never rewritten on open
        if name == "state.json":
            assert config.state.value.token == json.loads(content.removeprefix(b"\xef\xbb\xbf")).get("token")
            assert after == before
        else:
            assert config.state.value.token == token
            assert after == before or _old_settings(content)

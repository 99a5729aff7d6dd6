"""Settings and state as stores, not shared objects.

Each file is a `Document`: a frozen model in memory, changed only through `update()`, which
takes the config lock (a file lock shared by every Pilot Desktop process on the folder),
re-reads the file, applies the change to what is on disk now and writes only when something
changed. So the window and the CLI changing different fields at the same time lose neither
change. `reload()` (the core calls it every second) picks up what another process wrote;
either way, subscribers hear which fields changed. A file that cannot be used is refused
with a message naming the file and the field, and is never overwritten.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.settings import MIGRATIONS, SETTINGS_VERSION, Settings, split_v3
from pilot_desktop.services.state import STATE_VERSION, State

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
# A change: dotted field path -> new value, e.g. {"notifications.muted": ["num_1"]}. A value
# replaces the field whole (a list, a dict, a section); unnamed fields keep what is on disk.
Patch = Mapping[str, Any]
Listener = Callable[[frozenset[str]], None]
LOCK_NAME = "config.lock"
LOCK_TIMEOUT_S = 10.0


class SettingsError(Exception):
    """A settings or state file cannot be used, or a change is invalid; the message names
    the file and the field (`fields`: one "field: problem (got value)" each)."""

    def __init__(self, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


@dataclass(frozen=True)
class Kind(Generic[M]):
    name: str  # for messages: "settings", "state"
    model: type[M]
    version: int


SETTINGS = Kind("settings", Settings, SETTINGS_VERSION)
STATE = Kind("state", State, STATE_VERSION)


def _field_errors(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']} (got {err.get('input')!r})"
        for err in exc.errors(include_url=False)
    ]


def validate(kind: Kind[M], raw: dict[str, Any], where: Path | None) -> M:
    try:
        return kind.model.model_validate(raw)
    except ValidationError as exc:
        place = f" in {where}" if where is not None else ""
        fields = _field_errors(exc)
        raise SettingsError(f"Invalid {kind.name}{place}:\n  " + "\n  ".join(fields), fields) from exc


def read_json(kind: Kind[Any], path: Path) -> dict[str, Any]:
    """The file's object, with its version checked against what this Pilot Desktop knows."""
    what = kind.name.capitalize()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"Cannot read {kind.name} {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{what} {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"{what} {path} must hold a JSON object")
    version = raw.get("version", 1)
    if not isinstance(version, int) or version > kind.version:
        raise SettingsError(
            f"{what} {path}: version {version!r} was written by a newer Pilot Desktop "
            f"(this one knows up to {kind.version}); the file was left untouched."
        )
    return raw


def write_json(path: Path, model: BaseModel) -> None:
    """Atomic and private: a crash mid-write leaves the old file, never half a file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(model.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    # The inode too: files are replaced on save, and two saves within one tick of a coarse
    # file-system clock have the same mtime.
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


_ABSENT = object()  # a key missing on one side: not the same as a key holding None


def changed_fields(old: Any, new: Any, prefix: str = "") -> set[str]:
    """Dotted paths that differ, each with its parents ("notifications", "notifications.muted")."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: set[str] = set()
        for key in old.keys() | new.keys():
            path = f"{prefix}.{key}" if prefix else str(key)
            out |= changed_fields(old.get(key, _ABSENT), new.get(key, _ABSENT), path)
        if out and prefix:
            out.add(prefix)
        return out
    return {prefix} if old != new and prefix else set()


class Document(Generic[M]):
    """One file (or, for the demo, memory only) holding a frozen model."""

    def __init__(self, kind: Kind[M], value: M, path: Path | None = None, lock: FileLock | None = None):
        self.kind, self.path, self._lock = kind, path, lock
        self._value = value
        self._stamp = _stamp(path) if path is not None else None
        self._listeners: list[Listener] = []
        self.problem: str | None = None  # the file changed on disk but could not be used

    @property
    def value(self) -> M:
        return self._value

    def subscribe(self, listener: Listener) -> None:
        """`listener(changed)` runs after every change, made here or read from disk."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def read(self) -> M:
        """What the file holds now (validated); memory documents hold their value."""
        if self.path is None or not self.path.exists():
            return self._value
        raw = read_json(self.kind, self.path)
        if raw.get("version", 1) != self.kind.version:
            raise SettingsError(
                f"{self.kind.name.capitalize()} {self.path} was rewritten by an older Pilot Desktop "
                f"(version {raw.get('version', 1)}); restart this one to upgrade it."
            )
        return validate(self.kind, raw, self.path)

    def update(self, change: Patch | Callable[[M], Patch]) -> M:
        """Apply `change` to what is on disk now (a callable sees that fresh value and returns
        the patch), validate, write if anything changed. Raises SettingsError naming the
        field; then nothing is written."""
        with _locked(self._lock):
            fresh = self.read()
            patch = change(fresh) if callable(change) else change
            raw = fresh.model_dump(mode="json")
            for dotted, value in patch.items():
                _set(raw, dotted, to_jsonable_python(value))
            new = validate(self.kind, raw, None)
            if self.path is not None and new != fresh:
                write_json(self.path, new)
            stamp = _stamp(self.path) if self.path is not None else None  # before anyone else writes
        self._adopt(new, stamp)  # listeners run outside the lock: they may be slow, or update again
        return new

    def reload(self) -> frozenset[str]:
        """Take what another process wrote, if the file changed; the changed fields. Costs
        one `stat` when nothing changed (cheap enough to call per request)."""
        if self.path is None:
            return frozenset()
        stamp = _stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return frozenset()  # unchanged, or deleted: keep what we have, never recreate it here
        try:
            fresh = self.read()
        except SettingsError as exc:
            if self.problem != str(exc):
                log.warning("%s not re-read, the previous values stay: %s", self.kind.name, exc)
            self.problem = str(exc)
            self._stamp = stamp  # not re-read every second; the next change is
            return frozenset()
        self.problem = None
        return self._adopt(fresh, stamp)

    def _adopt(self, new: M, stamp: tuple[int, int, int] | None) -> frozenset[str]:
        old, self._value, self._stamp = self._value, new, stamp
        changed = frozenset(changed_fields(old.model_dump(mode="json"), new.model_dump(mode="json")))
        if changed:
            for listener in list(self._listeners):
                try:
                    listener(changed)
                except Exception:
                    log.exception("%s listener failed", self.kind.name)
        return changed


def _set(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            raise SettingsError(f"no settings section {key!r} (in {dotted!r})")
        node = child
    node[leaf] = value


def _locked(lock: FileLock | None) -> AbstractContextManager[object]:
    if lock is None:
        return nullcontext()
    return _Held(lock)


class _Held:
    def __init__(self, lock: FileLock) -> None:
        self.lock = lock

    def __enter__(self) -> None:
        try:
            self.lock.acquire()
        except Timeout as exc:
            raise SettingsError(
                f"The settings are locked by another Pilot Desktop ({self.lock.lock_file}) for over "
                f"{LOCK_TIMEOUT_S:.0f} s; nothing was changed."
            ) from exc

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


class Config:
    """The preferences and the state of one profile (or of the demo, in memory)."""

    def __init__(self, settings: Document[Settings], state: Document[State]) -> None:
        self.settings = settings
        self.state = state

    @classmethod
    def open(cls, paths: AppPaths) -> Config:
        """Read both files, creating them with defaults, upgrading a v1-v3 settings file
        (which held the state too). Raises SettingsError; a file in error is left untouched."""
        paths.ensure()
        lock = FileLock(paths.config_dir / LOCK_NAME, timeout=LOCK_TIMEOUT_S, mode=0o600)
        with _locked(lock):  # the documents take their files' stamps before anyone else writes
            settings, state = _open_files(paths.settings_file, paths.state_file)
            return cls(
                Document(SETTINGS, settings, paths.settings_file, lock),
                Document(STATE, state, paths.state_file, lock),
            )

    @classmethod
    def memory(cls, settings: Settings | None = None, state: State | None = None) -> Config:
        return cls(Document(SETTINGS, settings or Settings()), Document(STATE, state or State()))

    def reload(self) -> frozenset[str]:
        return self.settings.reload() | self.state.reload()

    def mark_real_receiver(self) -> None:
        """From now on the window starts the real receiver, not the demo."""
        if not self.state.value.real_receiver:
            self.state.update({"real_receiver": True})


def peek_settings(paths: AppPaths) -> Settings:
    """The preferences as they are on disk, for commands that only read: nothing is
    created or upgraded (defaults when there is no file). Raises SettingsError."""
    path = paths.settings_file
    if not path.exists():
        return Settings()
    raw = read_json(SETTINGS, path)
    if raw.get("version", 1) < SETTINGS_VERSION:
        for step in MIGRATIONS[raw.get("version", 1) - 1 :]:
            raw = step(raw)
        raw = split_v3(raw)[0]
    return validate(SETTINGS, raw, path)


def _open_files(settings_path: Path, state_path: Path) -> tuple[Settings, State]:
    raw = read_json(SETTINGS, settings_path) if settings_path.exists() else None
    if raw is not None and raw.get("version", 1) < SETTINGS_VERSION:
        for step in MIGRATIONS[raw.get("version", 1) - 1 :]:
            raw = step(raw)
        prefs_raw, state_raw = split_v3(raw)
        # Both halves are checked before either is written, each error naming the old file.
        settings = validate(SETTINGS, prefs_raw, settings_path)
        state = validate(STATE, {**state_raw, "version": STATE_VERSION}, settings_path)
        write_json(state_path, state)  # first: until settings.json is rewritten, v3 is the truth
        write_json(settings_path, settings)
        log.info("settings upgraded to version %d: state moved to %s", SETTINGS_VERSION, state_path)
        return settings, state
    if raw is None:
        settings = Settings()
        write_json(settings_path, settings)
    else:
        settings = validate(SETTINGS, raw, settings_path)
    if state_path.exists():
        state = validate(STATE, read_json(STATE, state_path), state_path)
    else:
        state = State()
        write_json(state_path, state)
    return settings, state

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
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from pilot_desktop.services import jsonfile
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.settings import SETTINGS_VERSION, Settings, split_v3
from pilot_desktop.services.state import STATE_VERSION, State, new_token

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
    required: tuple[str, ...] = ()  # keys a file must hold: never made up again on load


SETTINGS = Kind("settings", Settings, SETTINGS_VERSION)
# A state file without its token is refused: a new one would silently break every webhook URL.
STATE = Kind("state", State, STATE_VERSION, required=("token",))


def _short(value: Any) -> str:
    """A value for a message: its repr, cut (a field may hold a megabyte)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _field_errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        out.append(f"{field}: {err['msg']} (got {_short(err.get('input'))})")
    return out


def validate(kind: Kind[M], raw: dict[str, Any], where: Path | None) -> M:
    place = f" in {where}" if where is not None else ""
    # A file must hold what the app never makes up again on load (the token).
    fields = [f"{key}: missing" for key in kind.required if key not in raw] if where is not None else []
    try:
        value = kind.model.model_validate(raw)
    except ValidationError as exc:
        fields += _field_errors(exc)
    except RecursionError:  # not reached with jsonfile's depth limit; never a traceback
        fields.append("(top level): nested too deeply")
    if fields:
        raise SettingsError(f"Invalid {kind.name}{place}:\n  " + "\n  ".join(fields), fields)
    return value


def read_json(kind: Kind[Any], path: Path) -> dict[str, Any] | None:
    """The file's object, with its version checked against what this Pilot Desktop knows;
    None when there is no file. Raises SettingsError naming the file (and the field)."""
    what = kind.name.capitalize()
    try:
        data = jsonfile.read_bytes(path)
        if data is None:
            return None
        raw = jsonfile.parse(data, path)
    except jsonfile.FileProblem as exc:
        fields = [f"{exc.field}: {exc}"] if exc.field else []
        raise SettingsError(f"{what} {exc} The file was left untouched.", fields) from exc
    if not isinstance(raw, dict):
        raise SettingsError(
            f"{what} {path} must hold a JSON object, not {type(raw).__name__} {_short(raw)}; "
            "the file was left untouched.",
            ["(top level): not an object"],
        )
    version_of(kind, raw, path)
    return raw


def version_of(kind: Kind[Any], raw: dict[str, Any], path: Path) -> int:
    """A whole number from 1 to what this Pilot Desktop knows; missing is 1 (files before
    versions had none). Anything else is refused: never guessed, never "migrated"."""
    if "version" not in raw:
        return 1
    version = raw["version"]
    what = kind.name.capitalize()
    if type(version) is not int or version < 1:  # type(): a bool is an int to isinstance
        problem = f"version: must be a whole number from 1 to {kind.version} (got {_short(version)})"
        raise SettingsError(f"{what} {path}: {problem}; the file was left untouched.", [problem])
    if version > kind.version:
        problem = f"version: {_short(version)} was written by a newer Pilot Desktop"
        raise SettingsError(
            f"{what} {path}: {problem} (this one knows up to {kind.version}); the file was left untouched.",
            [problem],
        )
    return version


def write_json(path: Path, model: BaseModel) -> None:
    """Atomic and private, through a symbolic link (services/jsonfile.py)."""
    try:
        jsonfile.write(path, json.dumps(model.model_dump(mode="json"), indent=2) + "\n")
    except jsonfile.FileProblem as exc:
        raise SettingsError(f"{exc} Nothing was written.") from exc


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
        raw = read_json(self.kind, self.path) if self.path is not None else None
        if raw is None or self.path is None:  # memory, or a deleted file: an update writes it again
            return self._value
        if (version := version_of(self.kind, raw, self.path)) != self.kind.version:
            raise SettingsError(
                f"{self.kind.name.capitalize()} {self.path} was rewritten by an older Pilot Desktop "
                f"(version {version}); restart this one to upgrade it."
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
        except OSError as exc:  # a link (never followed), a directory: never replaced here
            raise SettingsError(
                f"The settings lock {self.lock.lock_file} cannot be used ({exc.strerror or exc}); "
                "nothing was changed. Remove it: Pilot Desktop makes a new one."
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
        """Read both files, creating a missing one (a new install's token is made once),
        upgrading a v1-v3 settings file (which held the state too). A file that is there is
        never replaced by defaults: one that cannot be used raises SettingsError naming it
        and its field, and is left byte-identical."""
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
    raw = read_json(SETTINGS, path)
    if raw is None:
        return Settings()
    return validate(
        SETTINGS, split_v3(raw)[0] if version_of(SETTINGS, raw, path) < SETTINGS_VERSION else raw, path
    )


def _open_files(settings_path: Path, state_path: Path) -> tuple[Settings, State]:
    """Everything is read and validated before anything is written; a file that exists is
    never replaced by defaults (only a v1-v3 settings file is rewritten, as its v4 half)."""
    settings_raw = read_json(SETTINGS, settings_path)
    state_raw = read_json(STATE, state_path)
    on_disk = validate(STATE, state_raw, state_path) if state_raw is not None else None
    if settings_raw is None:
        settings = Settings()
        state = on_disk or State()  # a new install: its token is made here, once
        _write_new(state_path, state, on_disk)
        write_json(settings_path, settings)
        return settings, state
    version = version_of(SETTINGS, settings_raw, settings_path)
    if version == SETTINGS_VERSION:
        settings = validate(SETTINGS, settings_raw, settings_path)
        if on_disk is None:
            # Nothing to destroy (a hand-written settings file, or the state deleted): said,
            # since webhooks pointing at an older hook URL now get 404.
            log.info("no state file %s beside the settings: a new receiver token was made", state_path)
        state = on_disk or State()
        _write_new(state_path, state, on_disk)
        return settings, state
    # v1-v3 held the state too: split, both halves checked, each error naming the old file.
    prefs_raw, old_state = split_v3(settings_raw)
    settings = validate(SETTINGS, prefs_raw, settings_path)
    state = _migrated_state(old_state, on_disk, settings_path, state_path, version)
    _write_new(state_path, state, on_disk)  # first: until settings.json is rewritten, it is the truth
    write_json(settings_path, settings)
    log.info(
        "settings upgraded from version %d to %d: state moved to %s", version, SETTINGS_VERSION, state_path
    )
    return settings, state


def _write_new(path: Path, state: State, on_disk: State | None) -> None:
    if on_disk is None:
        write_json(path, state)


def _migrated_state(
    old: dict[str, Any], on_disk: State | None, settings_path: Path, state_path: Path, version: int
) -> State:
    """The state a v1-v3 settings file holds. Beside an existing state file it must be that
    same state (a split interrupted after writing it), or hold none (a hand-written file of
    preferences): the existing state file is never overwritten."""
    if on_disk is None:  # no token in the old file (hand-written): made here, once
        return validate(STATE, {"token": new_token(), **old, "version": STATE_VERSION}, settings_path)
    if not old:
        return on_disk
    migrated = validate(STATE, {"token": on_disk.token, **old, "version": STATE_VERSION}, settings_path)
    if migrated == on_disk:
        return on_disk
    changed = changed_fields(on_disk.model_dump(mode="json"), migrated.model_dump(mode="json"))
    differ = sorted(name for name in changed if "." not in name)
    fields = [f"{name}: differs from {state_path}" for name in differ]
    raise SettingsError(
        f"Settings {settings_path} (version {version}) holds a receiver state ({', '.join(differ)}) that "
        f"differs from the one in {state_path}; neither file was changed. Keep one: move the other aside.",
        fields,
    )

"""The app's small JSON files (settings, state, secrets): read without hanging, crashing or
guessing, written atomically without ever replacing what the operator put there.

Reading refuses, with a sentence naming the file (and the field when there is one): what
is not a regular file (a directory, a FIFO, a device: opened without blocking), a symbolic
link to nothing, a file over `MAX_BYTES`, bytes that are not UTF-8, invalid JSON,
`NaN`/`Infinity`, numbers too long or too large, nesting deeper than `MAX_DEPTH`, a key
given twice in one object, and strings holding a NUL or an unpaired surrogate. A UTF-8
byte order mark (some Windows editors write one) is accepted. Writing checks the same
rules first, so the app never writes a file its next start would refuse.

A symbolic link is followed: the operator may keep the file elsewhere (a dotfiles
repository). Writing replaces the link's target atomically (a temporary file beside it,
then a rename), so the link stays a link.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

MAX_BYTES = 4 * 1024 * 1024  # a state with thousands of numbers is well under 1 MiB
MAX_DEPTH = 32  # the models nest 4 levels; anything deeper was not written by us
_BOM = b"\xef\xbb\xbf"
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class FileProblem(Exception):
    """The file cannot be used. The message is a sentence naming the file; `field` is the
    dotted path of the value at fault, when one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def locate(path: Path) -> Path | None:
    """The regular file that `path` names: itself, or what its symbolic link points to.
    None when nothing is there; FileProblem for a link to nothing, a link loop, or
    something that is not a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FileProblem(f"{path} cannot be looked at: {exc.strerror or exc}.") from exc
    real = path
    if stat.S_ISLNK(st.st_mode):
        try:
            real = path.resolve(strict=True)
            st = os.stat(real)
        except FileNotFoundError as exc:
            raise FileProblem(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                "restore that file or remove the link."
            ) from exc
        except (OSError, RuntimeError) as exc:  # a loop: RuntimeError before Python 3.13
            raise FileProblem(f"{path} is a symbolic link that cannot be followed ({exc}).") from exc
    if not stat.S_ISREG(st.st_mode):
        raise FileProblem(f"{path} is {_kind_of(st.st_mode)}, not a file.")
    return real


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes (following a link); None when there is no file."""
    try:
        fd = os.open(path, _OPEN_FLAGS)  # never blocks, not even on a FIFO
    except FileNotFoundError:
        if os.path.lexists(path):
            locate(path)  # a link to nothing: raises, saying where it points
        return None
    except OSError as exc:
        locate(path)  # a link loop, a directory (Windows): the same sentences as for writing
        raise FileProblem(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FileProblem(f"{path} is {_kind_of(mode)}, not a file.")
    with open(fd, "rb") as f:
        try:
            data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise FileProblem(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    if len(data) > MAX_BYTES:
        raise FileProblem(f"{path} is larger than {MAX_BYTES // (1024 * 1024)} MiB; it cannot be ours.")
    return data


class _Twice(dict[str, Any]):
    """An object in which `key` was given twice (found, with its path, by `_check`)."""

    key = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            twice = _Twice(pairs)
            twice.key = key
            return twice
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse(data: bytes, path: Path) -> Any:
    """The JSON value of a file's bytes, checked as the module says."""
    data = data.removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"{path} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})."
        ) from exc
    if not text.strip():
        raise FileProblem(f"{path} is empty.")
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise FileProblem(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc
    except RecursionError as exc:
        raise FileProblem(f"{path} nests deeper than {MAX_DEPTH} levels.") from exc
    except ValueError as exc:  # NaN, or an integer over Python's digit limit
        why = "a number has too many digits" if "digits" in str(exc) else str(exc)
        raise FileProblem(f"{path} is not valid JSON: {why}.") from exc
    _check(value, path)
    return value


def _check(root: Any, path: Path) -> None:
    """Depth, duplicate keys, finite numbers, encodable strings; iteratively (no recursion)."""
    todo: list[tuple[Any, str, int]] = [(root, "", 0)]
    while todo:
        value, where, depth = todo.pop()
        field = where or "(top level)"
        if depth > MAX_DEPTH:
            raise FileProblem(f"{path}: {field}: nests deeper than {MAX_DEPTH} levels.", field)
        if isinstance(value, float) and not math.isfinite(value):
            raise FileProblem(f"{path}: {field}: the number is too large.", field)
        if isinstance(value, str):
            _encodable(value, path, field)
        elif isinstance(value, list):
            todo.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, dict):
            if isinstance(value, _Twice):
                twice = f"{where}.{value.key}" if where else value.key
                raise FileProblem(f"{path}: {twice}: given twice; keep one.", twice)
            for key, item in value.items():
                _encodable(key, path, field)
                todo.append((item, f"{where}.{key}" if where else key, depth + 1))


def _encodable(text: str, path: Path, field: str) -> None:
    # No setting, token, id or key holds a NUL; one would reach the OS (a host name) raw.
    if "\x00" in text:
        raise FileProblem(f"{path}: {field}: holds a NUL character (\\u0000).", field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FileProblem(
            f"{path}: {field}: holds an unpaired surrogate ({exc.object[exc.start]!r}).", field
        ) from exc


def write(path: Path, text: str) -> None:
    """Atomically and privately (0600 from the start): a crash leaves the old file or the
    new one, never half of one. Through a symbolic link, its target is replaced and the
    link stays. Raises FileProblem when `path` is something else (a directory, a link to
    nothing) or `text` would be refused when read back (a NUL from elsewhere, too deep):
    nothing is written then."""
    parse(text.encode("utf-8", "surrogatepass"), path)  # never write what the next start refuses
    target = locate(path) or path
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # the rename must not reach the disk before the bytes
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)

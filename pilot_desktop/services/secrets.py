"""Where API keys and webhook signing secrets live: the OS keyring, else a 0600 file.

Never the settings file, the database or the logs. Entries are namespaced by data folder,
so a `--data-dir` used for tests or a second profile never sees the real profile's keys.
A machine without a keyring backend (a headless server, CI) gets `secrets.json` readable
by the owner only, and `warning` says so, for the window and `serve` to show.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import keyring
import keyring.errors
from filelock import FileLock, Timeout

from pilot_desktop.services import jsonfile

FILE_NAME = "secrets.json"


class SecretsError(Exception):
    """The secret store refused a read or write; the message says which store and why."""


class SecretStore(Protocol):
    @property
    def backend(self) -> str: ...  # where the secrets are, for messages
    @property
    def warning(self) -> str | None: ...  # why that place is not a keyring, if it is not

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...


class MemorySecrets:
    """For the demo: its sandbox's keys die with the process."""

    backend = "memory (demo)"
    warning: str | None = None

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        self._values[name] = value

    def delete(self, name: str) -> None:
        self._values.pop(name, None)


class KeyringSecrets:
    def __init__(self, service: str) -> None:
        self.service = service
        self.backend = f"system keyring ({type(keyring.get_keyring()).__name__})"
        self.warning: str | None = None

    def get(self, name: str) -> str | None:
        try:
            return keyring.get_password(self.service, name)
        except keyring.errors.KeyringError as exc:
            raise SecretsError(f"The system keyring could not be read: {exc}") from exc

    def set(self, name: str, value: str) -> None:
        try:
            keyring.set_password(self.service, name, value)
        except keyring.errors.KeyringError as exc:
            raise SecretsError(f"The system keyring refused to store the secret: {exc}") from exc

    def delete(self, name: str) -> None:
        try:
            keyring.delete_password(self.service, name)
        except keyring.errors.PasswordDeleteError:
            pass  # already gone
        except keyring.errors.KeyringError as exc:
            raise SecretsError(f"The system keyring refused to delete the secret: {exc}") from exc


class FileSecrets:
    """One JSON file; each change re-reads it under a file lock (the window, `serve` and the
    CLI may store secrets at the same time: none is lost) and replaces it atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(path.with_name(path.name + ".lock"), timeout=10, mode=0o600)
        self.backend = f"file {path} (owner-only, 0600)"
        self.warning: str | None = (
            f"No system keyring is available, so API keys and signing secrets are kept in {path}, "
            "readable only by your user. Install and unlock a keyring (GNOME Keyring, KWallet, "
            "macOS Keychain, Windows Credential Manager) to keep them there instead."
        )

    def _read(self) -> dict[str, str]:
        # The same reader as the settings: never hangs (a FIFO), never a traceback (deep
        # nesting, huge numbers), a link to nothing or a directory is refused, not replaced.
        try:
            data = jsonfile.read_bytes(self.path)
            if data is None:
                return {}
            raw = jsonfile.parse(data, self.path)
        except jsonfile.FileProblem as exc:
            raise SecretsError(f"The secrets file {exc} It was left untouched.") from exc
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise SecretsError(f"The secrets file {self.path} is damaged (expected an object of strings).")
        return raw

    def _write(self, values: dict[str, str]) -> None:
        # Created 0600 from the start under a name of its own (whoever else is writing), then
        # renamed over the file (through a symbolic link: the link stays).
        try:
            jsonfile.write(self.path, json.dumps(values, indent=1, sort_keys=True))
        except jsonfile.FileProblem as exc:
            raise SecretsError(f"The secrets file {exc} Nothing was stored.") from exc

    def _change(self, change: Callable[[dict[str, str]], bool]) -> None:
        """Read, change, write (only when `change` says it changed), under the lock."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            with self._lock:
                values = self._read()
                if change(values):
                    self._write(values)
        except Timeout as exc:
            raise SecretsError(f"The secrets file {self.path} stayed locked by another program.") from exc
        except OSError as exc:  # the lock is a link (never followed) or a directory
            raise SecretsError(
                f"The secrets file's lock {self._lock.lock_file} cannot be used ({exc.strerror or exc}); "
                "remove it: Pilot Desktop makes a new one."
            ) from exc

    def get(self, name: str) -> str | None:
        return self._read().get(name)

    def set(self, name: str, value: str) -> None:
        def put(values: dict[str, str]) -> bool:
            values[name] = value
            return True

        self._change(put)

    def delete(self, name: str) -> None:
        self._change(lambda values: values.pop(name, None) is not None)


def service_name(data_dir: Path) -> str:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return f"pilot-desktop:{digest}"


def keyring_usable() -> bool:
    backend = keyring.get_keyring()
    try:
        priority = float(getattr(backend, "priority", 0))
    except Exception:  # some backends compute priority and raise when unusable
        return False
    module = type(backend).__module__
    return priority > 0 and not module.startswith(("keyring.backends.fail", "keyring.backends.null"))


def open_secrets(data_dir: Path) -> SecretStore:
    """The keyring, else the 0600 file; its `warning` is for whoever uses it to show."""
    if keyring_usable():
        return KeyringSecrets(service_name(data_dir))
    return FileSecrets(data_dir / FILE_NAME)

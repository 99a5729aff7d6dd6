"""Where API keys and webhook signing secrets live: the OS keyring, else a 0600 file.

Never the settings file, the database or the logs. Entries are namespaced by data folder,
so a `--data-dir` used for tests or a second profile never sees the real profile's keys.
A machine without a keyring backend (a headless server, CI) gets `secrets.json` readable
by the owner only, and `warning` says so, for the window and `serve` to show.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Protocol

import keyring
import keyring.errors

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
    def __init__(self, path: Path) -> None:
        self.path = path
        self.backend = f"file {path} (owner-only, 0600)"
        self.warning: str | None = (
            f"No system keyring is available, so API keys and signing secrets are kept in {path}, "
            "readable only by your user. Install and unlock a keyring (GNOME Keyring, KWallet, "
            "macOS Keychain, Windows Credential Manager) to keep them there instead."
        )

    def _read(self) -> dict[str, str]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise SecretsError(f"The secrets file {self.path} cannot be read: {exc}") from exc
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise SecretsError(f"The secrets file {self.path} is damaged (expected an object of strings).")
        return raw

    def _write(self, values: dict[str, str]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        # Created 0600 from the start: never a moment where the keys are world-readable.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(values, f, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def get(self, name: str) -> str | None:
        return self._read().get(name)

    def set(self, name: str, value: str) -> None:
        values = self._read()
        values[name] = value
        self._write(values)

    def delete(self, name: str) -> None:
        values = self._read()
        if values.pop(name, None) is not None:
            self._write(values)


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

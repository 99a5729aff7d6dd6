"""Typed settings with a version and migrations; a bad value names its field.

Secrets are not settings: API keys and signing secrets never go into this file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SETTINGS_VERSION = 1


class SettingsError(Exception):
    """The settings file cannot be used; the message names the file and the field."""


class ReceiverSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = Field(default="127.0.0.1", description="Address the receiver listens on.")
    port: int = Field(default=8787, ge=0, le=65535, description="TCP port of the receiver (0: any free).")
    token: str = Field(
        default_factory=lambda: secrets.token_urlsafe(24),
        min_length=16,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Random per-install secret path segment of the hook URL.",
    )


class UiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    live_tail_rows: int = Field(
        default=5000, ge=100, le=100_000, description="Rows kept in memory by the Live pane."
    )


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    version: int = SETTINGS_VERSION
    receiver: ReceiverSettings = Field(default_factory=ReceiverSettings)
    real_receiver: bool = Field(
        default=False,
        description="Set once the real receiver was asked for (serve, hook-url, --no-demo): "
        "the window then starts it instead of the demo.",
    )
    ui: UiSettings = Field(default_factory=UiSettings)


# MIGRATIONS[n] turns a version-n dict into version n + 1.
MIGRATIONS: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = ()


def _field_message(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{field}: {err['msg']} (got {err.get('input')!r})")
    return f"Invalid settings in {path}:\n  " + "\n  ".join(lines)


def load(path: Path) -> Settings:
    """Read, migrate and validate; create the file with defaults when it does not exist."""
    if not path.exists():
        settings = Settings()
        save(path, settings)
        return settings
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"Cannot read settings {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"Settings {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"Settings {path} must hold a JSON object")
    version = raw.get("version", 1)
    if not isinstance(version, int) or version > SETTINGS_VERSION:
        raise SettingsError(
            f"Settings {path}: version {version!r} was written by a newer Pilot Desktop "
            f"(this one knows up to {SETTINGS_VERSION}); the file was left untouched."
        )
    migrated = version < SETTINGS_VERSION
    for step in MIGRATIONS[version - 1 :]:
        raw = step(raw)
    raw["version"] = SETTINGS_VERSION
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_field_message(path, exc)) from exc
    if migrated:
        save(path, settings)
    return settings


def save(path: Path, settings: Settings) -> None:
    """Atomic write: a crash mid-save leaves the old file, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(settings.model_dump(), indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)

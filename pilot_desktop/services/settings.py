"""Typed settings with a version and migrations; a bad value names its field.

Secrets are not settings: API keys and signing secrets never go into this file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from pilot_desktop.api.client import DEFAULT_BASE_URL
from pilot_desktop.tunnel.public_url import normalize_public_url

SETTINGS_VERSION = 3


def _one_segment(value: str) -> str:
    if "/" in value:
        raise ValueError("a route is one URL path segment, without '/'")
    return value


# The last path segment of a hook URL (`/hooks/<token>/<route>`); "" for the bare hook URL.
Route = Annotated[str, Field(max_length=256), AfterValidator(_one_segment)]


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


class AccountNumber(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str = ""
    phone: str = ""


class Account(BaseModel):
    """An API key's public side; the key itself lives in the secret store under `key_ref`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    label: str = ""
    base_url: str = Field(default=DEFAULT_BASE_URL, description="Pilot Status API base URL.")
    scope: str = Field(pattern=r"^(tenant|number)$", description="tenant key or number-scoped key.")
    numbers: list[AccountNumber] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        # ".../v1" is how the docs write the base; the client adds /v1 itself.
        value = value.strip().rstrip("/").removesuffix("/v1")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local sandbox)")
        return value

    @property
    def key_ref(self) -> str:
        return f"api-key:{self.id}"


class MessageSettings(BaseModel):
    """Deadlines after which an outbound message counts as stuck (minutes, up to 7 days)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    stuck_queued_minutes: int = Field(
        default=15, ge=1, le=10_080, description="Queued this long and never sent: stuck."
    )
    stuck_sent_minutes: int = Field(
        default=10, ge=1, le=10_080, description="Sent this long and never delivered: stuck."
    )


_QUIET = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def quiet_minutes(value: str | None) -> tuple[int, int] | None:
    """Quiet hours such as "22:00-07:00" as (start, end) minutes after local midnight; None: none."""
    if value is None:
        return None
    m = _QUIET.match(value)
    if m is None:
        raise ValueError('quiet hours are "HH:MM-HH:MM" in local time (e.g. "22:00-07:00"), or null')
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    return h1 * 60 + m1, h2 * 60 + m2


class NotificationSettings(BaseModel):
    """Number notifications (core/notify.py's rules) and how the window sits in the tray."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    disconnect_delay_s: int = Field(
        default=60,
        ge=1,
        le=86_400,
        description="A number must stay disconnected this long before it is told; also the "
        "least time between two notifications about one number.",
    )
    flap_window_s: int = Field(
        default=600, ge=10, le=86_400, description="Drops within this window count towards flapping."
    )
    flap_threshold: int = Field(
        default=3, ge=2, le=100, description="This many drops in the window fold into one notification."
    )
    quiet_hours: str | None = Field(
        default=None,
        description='"HH:MM-HH:MM" local time (may span midnight) without notifications, or null.',
    )
    muted: list[str] = Field(default_factory=list, description="Number ids never notified about.")
    start_minimised: bool = Field(default=False, description="Start hidden in the tray (when there is one).")
    close_to_tray: bool = Field(default=False, description="Closing the window hides it in the tray.")
    single_instance: bool = Field(
        default=True, description="A second launch on the same data folder raises this window instead."
    )

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        start, end = quiet_minutes(value) or (0, 0)
        return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


class NumberSettings(BaseModel):
    """Polling of the numbers' live connection state (the Numbers tab, the tray)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    poll_interval_s: int = Field(
        default=60,
        ge=10,
        le=3600,
        description="Seconds between two checks of every number's live state through the accounts.",
    )


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    version: int = SETTINGS_VERSION
    messages: MessageSettings = Field(default_factory=MessageSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    numbers: NumberSettings = Field(default_factory=NumberSettings)
    receiver: ReceiverSettings = Field(default_factory=ReceiverSettings)
    real_receiver: bool = Field(
        default=False,
        description="Set once the real receiver was asked for (serve, hook-url, --no-demo): "
        "the window then starts it instead of the demo.",
    )
    ui: UiSettings = Field(default_factory=UiSettings)
    public_url: str | None = Field(
        default=None,
        description="The tunnel's public base URL; managed webhooks point at "
        "<public_url>/hooks/<token>/<route>.",
    )
    accounts: list[Account] = Field(default_factory=list)
    signing_secret_webhooks: list[str] = Field(
        default_factory=list,
        description="Ids of webhooks whose signing secret is in the secret store (ids only, never secrets).",
    )
    signing_secret_routes: dict[str, Route | None] = Field(
        default_factory=dict,
        description="For a webhook of signing_secret_webhooks, the route its URL names "
        '(<token>/<route>; "" for the bare hook URL, null when it does not point at this app): '
        "its secret checks that route's deliveries only. A webhook missing here (a secret stored "
        "before v3) has its route filled in when the webhook list is next read; until then its "
        "secret checks every route.",
    )

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalize_public_url(value)


# MIGRATIONS[n] turns a version-n dict into version n + 1.
def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    # v2 adds accounts, the public URL and the signing-secret index; v1 had none of them.
    return {**raw, "accounts": [], "public_url": None, "signing_secret_webhooks": []}


def _v2_to_v3(raw: dict[str, Any]) -> dict[str, Any]:
    # v3 adds the route of each stored signing secret. A v2 secret's route is not known yet:
    # it keeps checking every route (as in v2) until the webhook list is next read.
    return {**raw, "signing_secret_routes": {}}


MIGRATIONS: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = (_v1_to_v2, _v2_to_v3)


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

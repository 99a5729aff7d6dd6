"""The operator's preferences (`settings.json`): typed, bounded, described, versioned.

Preferences only: what the app generates or learns (the hook token, the accounts, the
signing-secret index, markers) is state and lives in `state.json` (services/state.py).
Secrets are in neither: API keys and signing secrets stay in the secret store.
Models are frozen: a change goes through `Document.update` (services/config.py), which
re-reads the file under a lock and writes only what changed.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pilot_desktop.tunnel.public_url import normalize_public_url

SETTINGS_VERSION = 4
_FROZEN = ConfigDict(extra="forbid", frozen=True)


class ReceiverSettings(BaseModel):
    model_config = _FROZEN

    host: str = Field(default="127.0.0.1", description="Address the receiver listens on.")
    port: int = Field(default=8787, ge=0, le=65535, description="TCP port of the receiver (0: any free).")


class UiSettings(BaseModel):
    model_config = _FROZEN

    live_tail_rows: int = Field(
        default=5000, ge=100, le=100_000, description="Rows kept in memory by the Live pane."
    )


class MessageSettings(BaseModel):
    """Deadlines after which an outbound message counts as stuck (minutes, up to 7 days)."""

    model_config = _FROZEN

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

    model_config = _FROZEN

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
    snoozed: dict[str, float] = Field(
        default_factory=dict,
        description="Number ids not notified about until then (Unix time in seconds); past ones "
        "are dropped at the next change.",
    )
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

    model_config = _FROZEN

    poll_interval_s: int = Field(
        default=60,
        ge=10,
        le=3600,
        description="Seconds between two checks of every number's live state through the accounts.",
    )


TunnelMode = Literal["manual", "cloudflared", "ngrok", "command", "ngrok-sdk"]
TUNNEL_MODES: tuple[str, ...] = ("manual", "cloudflared", "ngrok", "command", "ngrok-sdk")


class TunnelSettings(BaseModel):
    """How the platform reaches the receiver (services/tunnel.py) and how that is watched."""

    model_config = _FROZEN

    mode: TunnelMode = Field(
        default="manual",
        description="manual: the public_url typed in; cloudflared / ngrok: that program started "
        "with the receiver (a quick tunnel / the ngrok agent); command: the template in "
        "`command`; ngrok-sdk: ngrok in-process (the `ngrok` extra and an authtoken).",
    )
    command: str = Field(
        default="",
        max_length=2000,
        description="The tunnel program for mode `command`: {port} and {local_url} are filled "
        "in; its public URL is read from what it prints.",
    )
    probe_interval_s: int = Field(
        default=60, ge=5, le=3600, description="Seconds between two probes through the public URL."
    )
    auto_repoint: bool = Field(
        default=False,
        description="When the public URL changes, move this app's webhooks to it without asking.",
    )
    audit_interval_s: int = Field(
        default=600,
        ge=10,
        le=86_400,
        description="Seconds between two drift audits of the webhooks (also one at start).",
    )

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        value = value.strip()
        if value and "{port}" not in value and "{local_url}" not in value:
            raise ValueError("the command must contain {port} or {local_url}, to reach the receiver")
        return value


class AlertSettings(BaseModel):
    """Tray alerts beyond numbers (core/alerts.py); debounced and quiet like number alerts."""

    model_config = _FROZEN

    unreachable: bool = Field(default=True, description="Tell when probes through the public URL fail.")
    not_storing: bool = Field(default=True, description="Tell when received webhooks cannot be stored.")
    silence: bool = Field(
        default=True, description="Tell when a number is silent much longer than its usual gap."
    )
    silence_factor: float = Field(
        default=10.0, ge=2.0, le=1000.0, description="Silent this many times its usual gap: an alert."
    )
    silence_min_minutes: int = Field(
        default=30, ge=1, le=10_080, description="Never a silence alert before this many minutes."
    )


class Settings(BaseModel):
    model_config = _FROZEN

    version: int = SETTINGS_VERSION
    messages: MessageSettings = Field(default_factory=MessageSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    numbers: NumberSettings = Field(default_factory=NumberSettings)
    receiver: ReceiverSettings = Field(default_factory=ReceiverSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    tunnel: TunnelSettings = Field(default_factory=TunnelSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    public_url: str | None = Field(
        default=None,
        description="The tunnel's public base URL when tunnel.mode is manual; managed webhooks "
        "point at <public_url>/hooks/<token>/<route>.",
    )

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalize_public_url(value)


# Versions 1-3 held preferences and state in one file. v2 added the accounts, the public URL
# and the signing-secret index, v3 the secrets' routes: only fields with defaults, so a
# v1-v3 file needs no step of its own. v4 moves the state out (split_v3; config.py writes it
# to state.json). A missing key is never filled in by overwriting one that is there.
STATE_KEYS = ("accounts", "real_receiver", "signing_secret_webhooks", "signing_secret_routes")


def split_v3(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A v3 settings dict as (v4 preferences, state): the token, accounts, the secret index
    and the demo marker leave the preferences. Values are moved, not checked: each half is
    validated by its own model, so a bad one still names its field."""
    prefs = {k: v for k, v in raw.items() if k not in STATE_KEYS}
    state = {k: raw[k] for k in STATE_KEYS if k in raw}
    receiver = prefs.get("receiver")
    if isinstance(receiver, dict) and "token" in receiver:
        receiver = dict(receiver)
        state["token"] = receiver.pop("token")
        prefs["receiver"] = receiver
    prefs["version"] = SETTINGS_VERSION
    return prefs, state

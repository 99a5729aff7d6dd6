"""Number notifications: the settings' `notifications` section as core/notify.py's rules,
and the changes the tray menu makes to it (the caller saves the settings)."""

from __future__ import annotations

from pilot_desktop.core.notify import NotifyRules
from pilot_desktop.services.settings import Settings, quiet_minutes

DEFAULT_QUIET_HOURS = "22:00-07:00"


def notify_rules(settings: Settings) -> NotifyRules:
    n = settings.notifications
    quiet = quiet_minutes(n.quiet_hours)
    return NotifyRules(
        disconnect_delay=float(n.disconnect_delay_s),
        flap_window=float(n.flap_window_s),
        flap_threshold=n.flap_threshold,
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
        muted=frozenset(n.muted),
    )


def set_muted(settings: Settings, number_id: str, muted: bool) -> None:
    ids = [i for i in settings.notifications.muted if i != number_id]
    settings.notifications.muted = [*ids, number_id] if muted else ids


def set_quiet_hours(settings: Settings, value: str | None) -> None:
    """Turn quiet hours on (with `value`, e.g. "22:00-07:00") or off (None). A bad value
    raises pydantic's ValidationError naming `quiet_hours`."""
    settings.notifications.quiet_hours = value

"""Number notifications: the settings' `notifications` section as core/notify.py's rules,
and the changes the tray menu makes to it (written through the settings document)."""

from __future__ import annotations

from pilot_desktop.core.notify import NotifyRules
from pilot_desktop.services.config import Document
from pilot_desktop.services.settings import Settings, quiet_minutes

DEFAULT_QUIET_HOURS = "22:00-07:00"
FIELDS = "notifications"  # a change under this prefix changes the rules


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


def set_muted(prefs: Document[Settings], number_id: str, muted: bool) -> Settings:
    """Mute or unmute one number, beside whatever another process muted meanwhile."""

    def change(s: Settings) -> dict[str, list[str]]:
        ids = [i for i in s.notifications.muted if i != number_id]
        return {"notifications.muted": [*ids, number_id] if muted else ids}

    return prefs.update(change)


def set_quiet_hours(prefs: Document[Settings], value: str | None) -> Settings:
    """Turn quiet hours on (with `value`, e.g. "22:00-07:00") or off (None). A bad value
    raises SettingsError naming `notifications.quiet_hours`; nothing is written then."""
    return prefs.update({"notifications.quiet_hours": value})

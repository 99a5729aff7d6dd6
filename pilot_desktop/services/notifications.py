"""Number notifications: the settings' `notifications` section as core/notify.py's rules,
and the changes the tray menu makes to it (written through the settings document).

Muting has two forms: `notifications.muted` (until unmuted) and `notifications.snoozed`
(number id -> the epoch second it ends). Rules ask `NotifyRules.muted_at(number, now)`, so a
snooze ends by itself at its time; past snoozes are dropped whenever the section is written.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from datetime import time as clock_time

from pilot_desktop.core.notify import NotifyRules
from pilot_desktop.services.config import Document
from pilot_desktop.services.settings import NotificationSettings, Settings, quiet_minutes

DEFAULT_QUIET_HOURS = "22:00-07:00"
FIELDS = "notifications"  # a change under this prefix changes the rules
FOREVER = math.inf  # `set_mute`'s "until I unmute it"
MORNING = clock_time(8, 0)  # "until tomorrow morning"
SNOOZES = (("For 1 hour", 3600.0), ("For 8 hours", 8 * 3600.0))


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
        snoozed=dict(n.snoozed),
    )


def muted_now(n: NotificationSettings, now: float) -> set[str]:
    """The numbers not to be told about at `now`: muted, or snoozed until later."""
    return set(n.muted) | {number for number, until in n.snoozed.items() if until > now}


def next_morning(now: float) -> float:
    """The next 08:00 local time after `now` ("until tomorrow morning"; before 08:00 it is
    this morning's)."""
    local = datetime.fromtimestamp(now)
    morning = datetime.combine(local.date(), MORNING)
    if morning <= local:
        morning = datetime.combine(local.date() + timedelta(days=1), MORNING)
    return morning.timestamp()


def set_mute(prefs: Document[Settings], number_id: str, until: float | None, now: float) -> Settings:
    """Mute one number until `until` (epoch seconds; FOREVER: until unmuted), or unmute it
    (None), beside whatever another process changed meanwhile. Past snoozes are dropped."""

    def change(s: Settings) -> dict[str, object]:
        muted = [i for i in s.notifications.muted if i != number_id]
        snoozed = {i: t for i, t in s.notifications.snoozed.items() if i != number_id and t > now}
        if until == FOREVER:
            muted.append(number_id)
        elif until is not None and until > now:
            snoozed[number_id] = float(until)
        return {"notifications.muted": muted, "notifications.snoozed": snoozed}

    return prefs.update(change)


def set_muted(prefs: Document[Settings], number_id: str, muted: bool, now: float | None = None) -> Settings:
    """Mute one number until unmuted, or unmute it (ending a snooze too)."""
    return set_mute(prefs, number_id, FOREVER if muted else None, time.time() if now is None else now)


def set_quiet_hours(prefs: Document[Settings], value: str | None) -> Settings:
    """Turn quiet hours on (with `value`, e.g. "22:00-07:00") or off (None). A bad value
    raises SettingsError naming `notifications.quiet_hours`; nothing is written then."""
    return prefs.update({"notifications.quiet_hours": value})

"""Stuck deadlines: the settings' `messages` section as the store's `StuckRules`.

The GUI (status bar, Delivery tab) and the command line count stuck messages by the
same rules, read from the same settings.
"""

from __future__ import annotations

from pydantic import ValidationError

from pilot_desktop.services.settings import MessageSettings, Settings, SettingsError
from pilot_desktop.store.message_queries import StuckRules


def stuck_rules(settings: Settings) -> StuckRules:
    m = settings.messages
    return StuckRules(queued_after=m.stuck_queued_minutes * 60.0, sent_after=m.stuck_sent_minutes * 60.0)


def set_deadlines(settings: Settings, queued_minutes: int, sent_minutes: int) -> None:
    """Change both deadlines at once (both or neither); a bad value names its field.
    The caller saves the settings."""
    try:
        section = MessageSettings(stuck_queued_minutes=queued_minutes, stuck_sent_minutes=sent_minutes)
    except ValidationError as exc:
        problems = [
            f"messages.{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors(include_url=False)
        ]
        raise SettingsError("Invalid deadline: " + "; ".join(problems)) from exc
    settings.messages = section

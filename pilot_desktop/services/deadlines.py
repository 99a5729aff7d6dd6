"""Stuck deadlines: the settings' `messages` section as the store's `StuckRules`.

The GUI (status bar, Delivery tab) and the command line count stuck messages by the
same rules, read from the same settings.
"""

from __future__ import annotations

from pilot_desktop.services.config import Document, SettingsError
from pilot_desktop.services.settings import Settings
from pilot_desktop.store.read_models import StuckRules

FIELDS = "messages"  # a change under this prefix changes the rules


def stuck_rules(settings: Settings) -> StuckRules:
    m = settings.messages
    return StuckRules(queued_after=m.stuck_queued_minutes * 60.0, sent_after=m.stuck_sent_minutes * 60.0)


def set_deadlines(prefs: Document[Settings], queued_minutes: int, sent_minutes: int) -> Settings:
    """Change both deadlines at once (both or neither). Raises SettingsError naming the
    field; nothing is written then."""
    try:
        return prefs.update(
            {"messages.stuck_queued_minutes": queued_minutes, "messages.stuck_sent_minutes": sent_minutes}
        )
    except SettingsError as exc:
        if not exc.fields:  # not the values: the file (locked, unreadable) says for itself
            raise
        raise SettingsError("Invalid deadline: " + "; ".join(exc.fields), exc.fields) from exc

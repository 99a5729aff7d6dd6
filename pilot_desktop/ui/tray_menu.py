"""The tray menu's settings: Mute (a snooze per number) and Quiet hours.

Mute lists the numbers (and muted ones no longer seen, so they stay unmutable); each offers
For 1 hour, For 8 hours, Until tomorrow 08:00 and Until I unmute it, and Unmute once muted.
Everything is written through the settings document (services/notifications.py), so the
rules, the CLI and another window see the same; a failed write is undone and said.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from pilot_desktop.core.numbers import REMOVED, NumberState
from pilot_desktop.services.config import Document, SettingsError
from pilot_desktop.services.notifications import (
    DEFAULT_QUIET_HOURS,
    FOREVER,
    SNOOZES,
    next_morning,
    set_mute,
    set_quiet_hours,
)
from pilot_desktop.services.settings import Settings
from pilot_desktop.ui import messages
from pilot_desktop.ui.tray_text import until_words

UNMUTE = "Unmute"


class MuteMenu(QMenu):
    """Filled each time it opens, from the settings as they are then."""

    def __init__(
        self,
        prefs: Document[Settings],
        states: Callable[[], list[NumberState]],
        names: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__("Mute")
        self.prefs, self._states, self.names, self._clock = prefs, states, names, clock
        self.aboutToShow.connect(self.fill)
        self.fill()

    def fill(self) -> None:
        self.clear()
        now = self._clock()
        n = self.prefs.value.notifications
        muted = set(n.muted)
        snoozed = {i: t for i, t in n.snoozed.items() if t > now}
        known = {s.number_id: s for s in self._states() if s.connection != REMOVED}
        ids = sorted(known, key=lambda i: (self.names.get(i, "").lower(), i))
        ids += sorted((muted | set(snoozed)) - set(known))  # muted numbers no longer seen
        if not ids:
            self.addAction("No numbers yet").setEnabled(False)
        for number_id in ids:
            state = known.get(number_id)
            label = self.names.get(number_id, number_id)
            if state is not None and state.phone and state.phone != label:
                label = f"{label} ({state.phone})"
            if number_id in muted:
                label += " — muted"
            elif number_id in snoozed:
                label += f" — snoozed until {until_words(snoozed[number_id], now)}"
            self._number_menu(number_id, label, number_id in muted or number_id in snoozed, now)

    def _number_menu(self, number_id: str, label: str, silenced: bool, now: float) -> None:
        menu = self.addMenu(label.replace("&", "&&"))
        morning = next_morning(now)
        choices: list[tuple[str, float | None]] = [(text, now + span) for text, span in SNOOZES]
        choices += [(f"Until {until_words(morning, now)}", morning), ("Until I unmute it", FOREVER)]
        for text, until in choices:
            menu.addAction(text, partial(self.mute, number_id, until))
        menu.addSeparator()
        unmute = menu.addAction(UNMUTE, lambda: self.mute(number_id, None))
        unmute.setEnabled(silenced)

    def mute(self, number_id: str, until: float | None) -> None:
        """Snooze `number_id` until then (FOREVER: until unmuted; None: unmute now)."""
        now = self._clock()
        try:
            set_mute(self.prefs, number_id, until, now)
        except (SettingsError, OSError) as exc:
            self.fill()
            messages.error(f"Could not save the settings: {exc}")
            return
        name = self.names.get(number_id, number_id)
        if until is None:
            messages.info(f"Notifications about {name} back on.")
        elif until == FOREVER:
            messages.info(f"Notifications about {name} muted until you unmute them.")
        else:
            messages.info(f"Notifications about {name} snoozed until {until_words(until, now)}.")


class QuietAction(QAction):
    """Quiet hours on or off; off remembers the hours for turning them on again."""

    def __init__(self, prefs: Document[Settings], parent: QMenu) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.setCheckable(True)
        self._value = prefs.value.notifications.quiet_hours or DEFAULT_QUIET_HOURS
        self.toggled.connect(self.set_quiet)
        self.relabel()

    def set_quiet(self, on: bool) -> None:
        before = self.prefs.value.notifications.quiet_hours
        if bool(before) == on:
            return
        try:
            set_quiet_hours(self.prefs, self._value if on else None)
        except (SettingsError, OSError) as exc:
            self.relabel()
            messages.error(f"Quiet hours not changed: {exc}")
            return
        if before:
            self._value = before
        self.relabel()
        messages.info(f"Quiet hours {'on' if on else 'off'}.")

    def relabel(self) -> None:
        value = self.prefs.value.notifications.quiet_hours
        self.setText(f"Quiet hours ({(value or self._value).replace('-', '–')})")
        self.blockSignals(True)
        self.setChecked(value is not None)
        self.blockSignals(False)

"""The tray: the numbers' worst state as the icon's colour, notifications, and the menu.

The store's writer publishes `Changes` after each COMMIT; their number transitions feed
core/notify.py's `Notifier`, which decides what is worth telling (debounce, flap folding,
quiet hours, mute). A 2 s timer asks it what is due and this shows exactly that: a tray
balloon, or, without a system tray (bare X, some Wayland desktops) or without balloon
support, the window's notice banner. The window title carries the worst state either way
("Pilot Desktop — 2 disconnected"). Each notification shown is logged (info) with its
number and kind.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from pilot_desktop.core.notify import Notification, Notifier
from pilot_desktop.core.numbers import NumberState, overall
from pilot_desktop.services.config import Document
from pilot_desktop.services.notifications import FIELDS, notify_rules
from pilot_desktop.services.settings import Settings
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.refusal_watch import RefusalPicture, RefusalWatch, burst_words
from pilot_desktop.ui.tray_icon import tray_icon
from pilot_desktop.ui.tray_menu import MuteMenu, QuietAction
from pilot_desktop.ui.tray_text import mute_line, state_lines, title_status, tooltip

__all__ = ["NumbersTray", "attach_tray", "store_states", "title_status"]

log = logging.getLogger(__name__)

DUE_INTERVAL_MS = 2000  # how often the notifier is asked what is due
REFRESH_DELAY_MS = 250  # state re-reads after changes: at most four a second under load
BALLOON_MS = 10_000

_MESSAGE_ICON = {
    "down": QSystemTrayIcon.MessageIcon.Critical,
    "warn": QSystemTrayIcon.MessageIcon.Warning,
    "ok": QSystemTrayIcon.MessageIcon.Information,
}
_BANNER_LEVEL = {"down": "error", "warn": "warning", "ok": "info"}
_SEVERITY_RANK = {"ok": 0, "warn": 1, "down": 2}

Sink = Callable[[str, str, QSystemTrayIcon.MessageIcon], None]
StatesReader = Callable[[], list[NumberState] | None]  # None: cannot read now


def store_states(reads: Reads) -> StatesReader:
    """A reader of the current number states that keeps the last picture on a store problem."""

    def read() -> list[NumberState] | None:
        try:
            return reads.number_states()
        except StoreError as exc:  # environmental: keep the last picture
            log.warning("tray: cannot read number states: %s", exc)
            return None

    return read


class NumbersTray(QObject):
    """Owns the QSystemTrayIcon and the Notifier; drives the window's title and notice banner."""

    def __init__(
        self,
        window: MainWindow,
        prefs: Document[Settings],
        read_states: StatesReader,
        *,
        clock: Callable[[], float] = time.time,
        tray_available: bool | None = None,
        messages_supported: bool | None = None,
        sink: Sink | None = None,
    ) -> None:
        """`prefs`: the operator's settings; a change made anywhere (the menu, the CLI)
        applies to the notification rules at once."""
        super().__init__()
        self.window = window
        self.prefs = prefs
        self._read_states = read_states
        self._clock = clock
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if tray_available is None else tray_available
        supported = QSystemTrayIcon.supportsMessages() if messages_supported is None else messages_supported
        self.balloons = self.available and supported  # else the notice banner tells
        self.names: dict[str, str] = {}
        self.notifier = Notifier(notify_rules(prefs.value), self.names)
        self.states: list[NumberState] = []
        self.level = "none"
        self.last_number: str | None = None  # what clicking the last message opens
        self.last_refused = False  # ... the Refused view, when it was a refusal alert
        self.last_open: Callable[[], None] | None = None  # ... or this (`tell`)
        # (level, tooltip line, title words): alerts beyond numbers (ui/watch_alerts.py)
        self.conditions: list[tuple[str, str, str]] = []
        self._told_hidden = False
        self._detach: Callable[[], None] | None = None

        self.icon = QSystemTrayIcon(tray_icon("none"))
        self._sink: Sink = sink or (lambda t, x, i: self.icon.showMessage(t, x, i, BALLOON_MS))
        self.menu = QMenu()
        self.menu.addAction("Show window", window.bring_to_front)
        self.menu.addAction("Numbers", self._show_numbers)
        self.mute_menu = MuteMenu(prefs, lambda: self.states, self.names, clock)
        self.menu.addMenu(self.mute_menu)
        self.quiet_action = QuietAction(prefs, self.menu)
        self.menu.addAction(self.quiet_action)
        self.menu.addSeparator()
        self.menu.addAction("Quit", self.quit)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self.open_last)
        window.notice_banner.action_did_trigger.connect(self.open_last)
        window.hide_on_close = self._hide_on_close

        self._due = QTimer(self)
        self._due.setInterval(DUE_INTERVAL_MS)
        self._due.timeout.connect(self.tick)
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_DELAY_MS)
        self._refresh.timeout.connect(self.refresh)
        self.refresh()
        if self.available and QSystemTrayIcon.isSystemTrayAvailable():  # (tests inject availability)
            self.icon.show()
        self._due.start()
        prefs.subscribe(self._prefs_changed)

    # -- wiring --------------------------------------------------------------------------------

    def attach(self, reads: Reads | None, refusals: RefusalWatch | None = None) -> None:
        """Hear the store's committed changes (number transitions) and the bursts of
        refused deliveries from now on."""
        if reads is not None:
            reads.subscribe(self.on_changes)
        if refusals is not None:
            refusals.burst_started.connect(self.refusals_burst)

        def detach() -> None:
            if reads is not None:
                reads.unsubscribe(self.on_changes)
            if refusals is not None:
                refusals.burst_started.disconnect(self.refusals_burst)

        self._detach = detach

    def _prefs_changed(self, changed: frozenset[str]) -> None:
        if FIELDS in changed:
            self.notifier.rules = notify_rules(self.prefs.value)
            self.quiet_action.relabel()
            self._show_state()

    def show_initial(self) -> None:
        """Start hidden in the tray when asked and there is a tray; else show the window."""
        if self.prefs.value.notifications.start_minimised and self.available:
            log.info("started minimised to the tray")
            return
        self.window.show()

    def shutdown(self) -> None:
        self.prefs.unsubscribe(self._prefs_changed)
        if self._detach is not None:
            self._detach()
            self._detach = None
        self._due.stop()
        self._refresh.stop()
        self.window.hide_on_close = None
        self.window.notice_banner.action_did_trigger.disconnect(self.open_last)
        self.icon.hide()
        self.icon.setContextMenu(None)  # type: ignore[arg-type]  # Qt accepts nullptr
        self.menu.deleteLater()
        self.icon.deleteLater()

    # -- what changed, what is due ----------------------------------------------------------------

    def on_changes(self, changes: Changes) -> None:
        """On the loop after a COMMIT: transitions go to the notifier, the state is re-read soon."""
        if not changes.numbers:
            return
        if any(t.number_id not in self.names for t in changes.transitions):
            self.refresh()  # names first: a health notice is worded when it is fed
        now = self._clock()
        for t in changes.transitions:
            self.notifier.feed(t, now)
        if not self._refresh.isActive():
            self._refresh.start()

    def refresh(self) -> None:
        """Re-read the current states: icon colour, tooltip, window title, names."""
        states = self._read_states()
        if states is None:
            return
        self.states = states
        for s in self.states:
            self.names[s.number_id] = s.name or s.phone or s.number_id
        level, _ = overall(self.states)
        for worse, _, _ in self.conditions:
            level = max(level, worse, key=lambda s: _SEVERITY_RANK.get(s, -1))
        if level != self.level:
            self.level = level
            self.icon.setIcon(tray_icon(level))
            if not self.available:  # the taskbar's window icon tells instead
                self.window.setWindowIcon(tray_icon(level))
        self._show_state()

    def _show_state(self) -> None:
        n = self.prefs.value.notifications
        tip = tooltip(
            state_lines(self.states, self.names),
            demo=self.window.demo,
            conditions=[line for _, line, _ in self.conditions],
            mute=mute_line(n.muted, n.snoozed, self.names, self._clock()),
            held=self.notifier.suppressed,
        )
        if self.icon.toolTip() != tip:
            self.icon.setToolTip(tip)
        words = [title_status(self.states), *(title for _, _, title in self.conditions)]
        self.window.set_title_status(", ".join(w for w in words if w))

    def tick(self) -> None:
        """Show what the notifier says is due now (the 2 s timer)."""
        due = self.notifier.due(self._clock())
        if due:
            self.show_notifications(due)
        self._show_state()

    def show_notifications(self, due: list[Notification]) -> None:
        """One balloon (or banner) for what came due together; every one is logged."""
        via = "tray" if self.balloons else "banner"
        for n in due:
            log.info(
                "notification number=%s kind=%s via=%s: %s. %s", n.number_id, n.kind, via, n.title, n.text
            )
        severity = max((n.severity for n in due), key=lambda s: _SEVERITY_RANK.get(s, 0))
        numbers = {n.number_id for n in due}
        self.last_number = due[0].number_id if len(numbers) == 1 else None
        self.last_refused = False
        if len(due) == 1:
            title, text = due[0].title, due[0].text
        else:
            title = f"{len(due)} number notifications"
            lines = [f"{n.title}: {n.text}" for n in due[:4]]
            text = "\n".join(lines) + (f"\nand {len(due) - 4} more" if len(due) > 4 else "")
        self.tell(title, text, severity, "Show number" if self.last_number else "Show numbers")

    def tell(
        self, title: str, text: str, severity: str, action: str, opens: Callable[[], None] | None = None
    ) -> None:
        """A balloon, or the notice banner (`action` its button) without one; clicking it
        runs `opens`, else opens the last number (or the Refused view)."""
        self.last_open = opens
        if self.balloons:
            self._sink(title, text, _MESSAGE_ICON.get(severity, QSystemTrayIcon.MessageIcon.Information))
        else:
            banner_text = f"<b>{html.escape(title)}</b> — {html.escape(text).replace(chr(10), '<br>')}"
            level = _BANNER_LEVEL.get(severity, "info")
            self.window.notice_banner.show_message(level, banner_text, action=action)

    def refusals_burst(self, picture: RefusalPicture) -> None:
        """One alert per burst of refused deliveries (ui/refusal_watch.py). Quiet hours hold it
        back, and so does muting when every number it concerns is muted; the status bar's red
        count tells all the same."""
        title, text = burst_words(picture, self.names)
        rules = self.notifier.rules
        concerned = set(picture.numbers)
        now = self._clock()
        if rules.quiet(now) or (concerned and all(rules.muted_at(n, now) for n in concerned)):
            self.notifier.suppressed += 1
            log.info("notification kind=refused held back (quiet hours/muted): %s", text)
            self._show_state()
            return
        log.info(
            "notification kind=refused via=%s: %s. %s", "tray" if self.balloons else "banner", title, text
        )
        self.last_number, self.last_refused = None, True
        self.tell(title, text, "down", "Show refused")

    # -- clicks --------------------------------------------------------------------------------------

    def open_last(self) -> None:
        """A notification was clicked: the window, the Numbers tab, its number (or the
        Refused view, for a refusal alert; what `tell` was given)."""
        if self.last_open is not None:
            self.last_open()
        elif self.last_refused:
            self.window.bring_to_front()
            self.window.open_refused()
        else:
            self.window.show_numbers(self.last_number)

    def _show_numbers(self) -> None:
        self.window.show_numbers()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.window.bring_to_front()

    def _hide_on_close(self) -> bool:
        hide = self.prefs.value.notifications.close_to_tray and self.available
        if hide and not self._told_hidden and self.balloons:
            self._told_hidden = True
            self._sink(
                "Pilot Desktop is still running",
                "It keeps receiving in the tray; use Quit in the tray menu (or Ctrl+Q) to stop it.",
                QSystemTrayIcon.MessageIcon.Information,
            )
        return hide

    def quit(self) -> None:
        """Really quit: the window's one quit path (File > Quit, Ctrl+Q), which closes it
        and so starts the staged shutdown."""
        self.window.quit_app()


def attach_tray(window: MainWindow, prefs: Document[Settings], reads: Reads | None) -> NumbersTray:
    """The tray over a store (none: a grey icon) with the operator's notification settings;
    it alerts on bursts of refused deliveries the window's refusal watch sees."""
    tray = NumbersTray(window, prefs, store_states(reads) if reads is not None else list)
    tray.attach(reads, window.refusal_watch)
    return tray

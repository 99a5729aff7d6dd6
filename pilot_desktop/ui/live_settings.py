"""Settings and accounts applied to the running window, without a restart.

Every preference is read where it is used or followed by a listener of the settings
document (a change saved by the Settings dialog, the tray or the CLI, heard within a
second): the tray's notification rules, close to tray (read at each close), the deadlines
(ui/app.py attach_deadlines), the receiver's address (services/core.py), the tunnel and
its watch, polling, alerts. This module adds what the window itself holds: the Live
pane's rows in memory, the Send dialog's numbers, and the Settings dialog. An account
added in the demo goes to the operator's profile: the window offers to leave the demo now
(ui/app.py runs the real core and a new window in the same process).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from pilot_desktop.core.format import number_label
from pilot_desktop.services.core import AppCore
from pilot_desktop.ui import messages
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.number_names import load_names
from pilot_desktop.ui.settings_dialog import SettingsDialog

# In the demo, the receiver and the tunnel settings are the real receiver's.
DEMO_NOTES = {
    "receiver.host": "The demo runs its own receiver; this is for the real one (after the demo).",
    "receiver.port": "The demo runs its own receiver on any free port; this is for the real one.",
    "tunnel.mode": "The demo needs no tunnel: its platform is on this computer.",
}
LEAVE = "Leave the demo now"


class LiveSettings(QObject):
    """What `attach_live_settings` wires, a child of the window: `open_dialog` for
    Settings…; `leave_demo_requested` when the operator chose to leave the demo (ui/app.py
    then runs the real core)."""

    leave_demo_requested = Signal()

    def __init__(self, window: MainWindow, core: AppCore) -> None:
        super().__init__(window)
        self.window, self.core = window, core
        self.dialog: SettingsDialog | None = None
        self.offer: QMessageBox | None = None
        self._seen = len(core.profile_accounts.all)  # the profile's accounts, to tell one added

    def open_dialog(self) -> SettingsDialog:
        """The one Settings dialog of this window (non-modal): raised when open, else shown
        afresh with what the file holds now (edits not saved last time are dropped)."""
        if self.dialog is None:
            notes = DEMO_NOTES if self.core.options.demo else {}
            self.dialog = SettingsDialog(
                self.core.profile.settings, labels=self.number_labels, notes=notes, parent=self.window
            )
        elif not self.dialog.isVisible():
            self.dialog.load(self.core.profile.settings.value)
            self.dialog.clear_status()
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.detach()
            self.dialog.close()

    def number_labels(self) -> dict[str, str]:
        """Every number this window knows (the store's and the accounts'), by name."""
        known = dict(load_names(self.core.reads) or {}) if self.core.reads is not None else {}
        for _, n in [*self.core.accounts.numbers(), *self.core.profile_accounts.numbers()]:
            known.setdefault(n.id, (n.name or None, n.phone or None))
        return {number_id: number_label(number_id, known) for number_id in known}

    # -- listeners -------------------------------------------------------------------------

    def settings_changed(self, changed: frozenset[str]) -> None:
        if "ui.live_tail_rows" in changed and self.window.live is not None:
            self.window.live.set_tail_rows(self.core.prefs.ui.live_tail_rows)

    def accounts_changed(self, changed: frozenset[str]) -> None:
        """This window's accounts (the demo's, in the demo) changed: an open Send dialog lists
        the numbers now (the Webhooks and Numbers panes follow the state themselves)."""
        if "accounts" in changed and self.window.send_dialog is not None:
            self.window.send_dialog.load_numbers()

    def profile_accounts_changed(self, changed: frozenset[str]) -> None:
        """In the demo: an account was added to the profile; offer to leave the demo now."""
        if "accounts" not in changed:
            return
        count = len(self.core.profile_accounts.all)
        added, self._seen = count > self._seen, count
        if added:
            self.offer_leave_demo()

    def leave_demo_clicked(self, link: str) -> None:
        """The demo bar's "leave the demo": asked when the profile has an account to receive
        for; else it says how to add one (leaving would show an empty window)."""
        if link != "leave-demo":
            return
        if self.core.profile_accounts.all:
            self.offer_leave_demo()
        else:
            messages.warning(
                "No account of yours is saved yet: add your API key in the Webhooks tab (Add account…) "
                "first; the window then offers to leave the demo."
            )

    def offer_leave_demo(self) -> QMessageBox:
        if self.offer is None:
            box = QMessageBox(self.window)
            box.setIcon(QMessageBox.Icon.Question)
            box.setWindowTitle("Leave the demo?")
            box.setText(
                "The account is saved to your profile. Leave the demo now to receive your own "
                "numbers' webhooks here? The demo's data stays apart from your history."
            )
            leave = box.addButton(LEAVE, QMessageBox.ButtonRole.AcceptRole)
            box.addButton("Stay in the demo", QMessageBox.ButtonRole.RejectRole)
            box.setDefaultButton(leave)

            def done() -> None:
                self.offer = None
                if box.clickedButton() is leave:
                    self.leave_demo_requested.emit()

            box.finished.connect(done)
            self.offer = box
            box.open()
        return self.offer


def attach_live_settings(window: MainWindow, core: AppCore) -> LiveSettings:
    """Follow the settings and the accounts in `window` until it shuts down."""
    live = LiveSettings(window, core)
    prefs, state, profile_state = core.profile.settings, core.config.state, core.profile.state
    prefs.subscribe(live.settings_changed)
    state.subscribe(live.accounts_changed)
    window.on_shutdown.append(lambda: prefs.unsubscribe(live.settings_changed))
    window.on_shutdown.append(lambda: state.unsubscribe(live.accounts_changed))
    if core.options.demo:
        window.demo_bar.link_clicked.connect(live.leave_demo_clicked)
        profile_state.subscribe(live.profile_accounts_changed)
        window.on_shutdown.append(lambda: profile_state.unsubscribe(live.profile_accounts_changed))
    window.on_shutdown.append(live.close_dialog)
    return live

"""The Webhooks pane's accounts row: which keys are added, Add/Remove account, Point all."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.config import SettingsError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.ui.elided import ElidedLabel
from pilot_desktop.ui.look import AMBER, tint
from pilot_desktop.ui.panes.webhooks.account_dialog import AccountDialog
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip


class AccountsRow(QWidget):
    point_all_requested = Signal()

    def __init__(
        self,
        accounts: Accounts,
        strip: StatusStrip,
        open_dialog: Callable[[QWidget], None],
        profile_accounts: Accounts | None = None,
    ) -> None:
        """`profile_accounts`: in the demo, the operator's real accounts, where a key added
        here goes (used from the next launch); `accounts` are the sandbox's."""
        super().__init__()
        self.accounts, self.profile_accounts = accounts, profile_accounts
        self.strip, self._open = strip, open_dialog
        self.line = ElidedLabel("", 120)  # one line; the whole list in its tooltip
        self.add = QPushButton("Add account…")
        self.add.clicked.connect(self.open_add)
        self.remove = QPushButton("Remove account…")
        self.remove.clicked.connect(self.open_remove)
        self.point_all = QPushButton("Point all…")  # short: the row fits a 640 px window
        self.point_all.setToolTip("Point all my webhooks at this app: a preview of every change first")
        self.point_all.clicked.connect(self.point_all_requested)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.line, 1)
        for button in (self.add, self.remove, self.point_all):
            row.addWidget(button)
        # Persistent, not in the strip: it stays true for as long as there is no keyring.
        warning = self.profile.secrets.warning or ""
        self.store_warning = QLabel(warning)
        self.store_warning.setWordWrap(True)
        self.store_warning.setStyleSheet(tint(self.store_warning, AMBER))
        self.store_warning.setVisible(bool(warning))
        self.show_accounts()

    @property
    def profile(self) -> Accounts:
        return self.profile_accounts or self.accounts

    def show_accounts(self) -> None:
        accounts = self.accounts.all
        if not accounts:
            self.line.setText("No account yet. Add a tenant key or a number's API key to manage webhooks.")
        else:
            described = ", ".join(
                f"{a.label or a.id} ({'tenant' if a.scope == 'tenant' else 'number'} key)" for a in accounts
            )
            self.line.setText(f"Accounts: {described}")
        self.line.setToolTip(self.line.text())
        self.remove.setEnabled(bool(accounts))
        self.point_all.setEnabled(bool(accounts))

    def open_add(self) -> None:
        dialog = AccountDialog(self, self._add, self.profile.secrets.backend)
        dialog.accepted.connect(self._added)
        self._open(dialog)

    async def _add(self, key: str, base_url: str, label: str) -> None:
        await self.profile.add(key, base_url=base_url.strip(), label=label)

    def _added(self) -> None:
        if self.profile_accounts is not None:
            self.strip.ok(
                "Account saved to your profile. Leave the demo (the yellow bar's link) to receive and "
                "manage its numbers' webhooks here, no restart needed."
            )
        elif warning := self.accounts.secrets.warning:
            self.strip.warn(warning)
        else:
            self.strip.ok("Account added.")

    def open_remove(self) -> None:
        accounts = self.accounts.all
        if not accounts:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove account")
        box.setText("Remove which account? Its API key is deleted from the secret store.")
        buttons: dict[object, str] = {
            box.addButton(a.label or a.id, QMessageBox.ButtonRole.AcceptRole): a.id for a in accounts
        }
        box.addButton(QMessageBox.StandardButton.Cancel)

        def done() -> None:
            account_id = buttons.get(box.clickedButton())
            if account_id is not None:
                try:
                    self.accounts.remove(account_id)  # the state change refreshes the pane
                except (SecretsError, SettingsError) as exc:
                    self.strip.error(exc)

        box.finished.connect(done)
        self._open(box)

"""Add an account: paste an API key; its scope and numbers are detected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from pilot_desktop.api.client import DEFAULT_BASE_URL
from pilot_desktop.api.errors import ApiError
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

HELP = (
    "A <b>tenant key</b> (dashboard → Profile → API) reaches every number of the account; a "
    "<b>number key</b> (dashboard → API keys) reaches one number. You can add both. The key is "
    "kept in {store}, never in the settings file."
)
_BUTTON = QDialogButtonBox.StandardButton


class AccountDialog(QDialog):
    def __init__(
        self,
        parent: QWidget | None,
        add: Callable[[str, str, str], Awaitable[object]],
        store_name: str,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a Pilot Status account")
        self.setModal(True)
        self._add = add
        self._tasks = Tasks()
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("ps_…")
        self.base_url = QLineEdit(base_url)
        self.label = QLineEdit()
        self.label.setPlaceholderText("optional, e.g. Support team")
        text = QLabel(HELP.format(store=store_name))
        text.setWordWrap(True)
        form = QFormLayout()
        form.addRow("API key", self.key)
        form.addRow("Label", self.label)
        form.addRow("API base URL", self.base_url)
        self.strip = StatusStrip()
        self.buttons = QDialogButtonBox(_BUTTON.Ok | _BUTTON.Cancel)
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)
        col = QVBoxLayout(self)
        col.addWidget(text)
        col.addLayout(form)
        col.addWidget(self.strip)
        col.addWidget(self.buttons)
        self.resize(560, 260)

    def _on_ok(self) -> None:
        if not self._tasks.busy:
            self._tasks.start(self._run())

    async def _run(self) -> None:
        self.buttons.setEnabled(False)
        self.strip.working("Checking the key…")
        try:
            await self._add(self.key.text(), self.base_url.text(), self.label.text())
        except (ApiError, AccountError, SecretsError, ValueError) as exc:
            self.strip.error(exc)
            return
        finally:
            self.buttons.setEnabled(True)
        self.key.clear()  # the key leaves the widget as soon as it is stored
        self.accept()

    async def settled(self) -> None:
        await self._tasks.settled()

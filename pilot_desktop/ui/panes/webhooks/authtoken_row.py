"""The ngrok authtoken in the Tunnel box: typed once into a masked field, kept in the secret
store (under tunnel/ngrok_sdk.AUTHTOKEN_SECRET), never shown back: "authtoken stored ✓"
with where, and Change… to type a new one."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from pilot_desktop.services.secrets import SecretsError, SecretStore
from pilot_desktop.tunnel.ngrok_sdk import AUTHTOKEN_SECRET


class AuthtokenRow(QWidget):
    stored = Signal(str)  # a sentence: stored, and where
    failed = Signal(str)  # why it was not stored

    def __init__(self, secrets: SecretStore) -> None:
        super().__init__()
        self.secrets = secrets
        self.state = QLabel()
        self.change = QPushButton("Change…")
        self.change.clicked.connect(lambda: self.show_stored(editing=True))
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setPlaceholderText("ngrok authtoken (dashboard.ngrok.com → Your Authtoken)")
        self.field.setToolTip(f"Kept in the {secrets.backend}, never shown again.")
        self.field.returnPressed.connect(self.store)
        self.store_button = QPushButton("Store")
        self.store_button.clicked.connect(self.store)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Authtoken"))
        row.addWidget(self.field, 1)
        row.addWidget(self.store_button)
        row.addWidget(self.state, 1)
        row.addWidget(self.change)

    def is_stored(self) -> bool:
        try:
            return self.secrets.get(AUTHTOKEN_SECRET) is not None
        except SecretsError as exc:
            self.failed.emit(str(exc))
            return False

    def show_stored(self, *, editing: bool = False) -> None:
        stored = self.is_stored()
        editing = editing or not stored
        self.state.setText(f"authtoken stored ✓ (in the {self.secrets.backend})")
        self.state.setVisible(not editing)
        self.change.setVisible(not editing)
        self.field.setVisible(editing)
        self.store_button.setVisible(editing)
        if editing and stored:
            self.field.setFocus()

    def store(self) -> None:
        text = self.field.text().strip()
        if not text:
            self.failed.emit("ngrok authtoken: paste the authtoken from dashboard.ngrok.com first.")
            return
        try:
            self.secrets.set(AUTHTOKEN_SECRET, text)
        except SecretsError as exc:
            self.failed.emit(str(exc))
            return
        self.field.clear()
        self.show_stored()
        self.stored.emit(f"Authtoken stored in the {self.secrets.backend}.")

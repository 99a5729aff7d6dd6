"""Asking for one webhook's signing secret inside a dialog (never a nested event loop):
`ask()` shows a masked field with Store and Skip and waits for the operator's answer."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

STYLE = "QFrame#secret { border: 1px solid #90cdf4; border-radius: 4px; background: #ebf8ff; }"


class SecretPrompt(QFrame):
    def __init__(self, store_name: str) -> None:
        super().__init__()
        self.setObjectName("secret")
        self.setStyleSheet(STYLE)
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.where = QLabel(
            "Pilot Status shows a webhook's signing secret once, in its dashboard, and never returns "
            f"it through the API. Stored in the {store_name}; never shown again. Skip: deliveries "
            "to it are accepted unverified until you add it (Edit…)."
        )
        self.where.setWordWrap(True)
        self.where.setStyleSheet("color: #5a6472;")
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setPlaceholderText("whsec_…")
        self.field.returnPressed.connect(lambda: self._answer(True))
        self.reveal = QCheckBox("Show")
        self.reveal.toggled.connect(
            lambda on: self.field.setEchoMode(
                QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
            )
        )
        self.store = QPushButton("Store")
        self.store.clicked.connect(lambda: self._answer(True))
        self.skip = QPushButton("Skip")
        self.skip.clicked.connect(lambda: self._answer(False))
        row = QHBoxLayout()
        row.addWidget(self.field, 1)
        row.addWidget(self.reveal)
        row.addWidget(self.store)
        row.addWidget(self.skip)
        col = QVBoxLayout(self)
        col.addWidget(self.question)
        col.addLayout(row)
        col.addWidget(self.where)
        self._waiting: asyncio.Future[str | None] | None = None
        self.hide()

    async def ask(self, question: str, prefill: str | None = None) -> str | None:
        """The secret typed (None: skipped, or the dialog closed)."""
        self.question.setText(question)
        self.field.setText(prefill or "")
        self.reveal.setChecked(False)
        self._waiting = asyncio.get_running_loop().create_future()
        self.show()
        self.field.setFocus()
        try:
            return await self._waiting
        finally:
            self._waiting = None
            self.field.clear()
            self.hide()

    def _answer(self, store: bool) -> None:
        text = self.field.text().strip()
        if store and not text:
            self.question.setText(self.question.text().split("\n")[0] + "\nPaste the secret, or Skip.")
            return
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(text if store else None)

    def cancel(self) -> None:
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(None)

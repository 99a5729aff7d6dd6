"""Send a test message (services/send.py) and follow it on its timeline.

Number (the accounts' numbers), destination, text; Send checks them first and says what
is wrong beside the form. The 202's `id` and `correlationId` stay shown, copyable; the
message's timeline opens at once and fills as its webhooks arrive. A send that failed on
the way (no answer, a timeout) can be sent again safely: the same number, destination and
text reuse the same Idempotency-Key, so the platform never sends it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.core.format import exact, number_line
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.send import MAX_TEXT, Sender, SendError, SendRequest, Sent, api_sentence
from pilot_desktop.services.webhook_admin import AdminError
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

NO_ACCOUNTS = (
    "No account yet: add an API key in the Webhooks tab (Add account…) to send from one of its numbers."
)
_BUTTON = QDialogButtonBox.StandardButton


def _copy_row(field: QLineEdit) -> QWidget:
    row = QWidget()
    line = QHBoxLayout(row)
    line.setContentsMargins(0, 0, 0, 0)
    line.addWidget(field, 1)
    copy = QToolButton()
    copy.setText("Copy")
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(field.text()))
    line.addWidget(copy)
    return row


class SendDialog(QDialog):
    def __init__(
        self,
        sender: Sender,
        on_sent: Callable[[Sent], Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`on_sent(sent)`: what follows an accepted send (the window opens its timeline)."""
        super().__init__(parent)
        self.setWindowTitle("Send test message")
        self.setModal(False)
        self.service = sender
        self.on_sent = on_sent
        self.sent: Sent | None = None
        self._tasks = Tasks()

        intro = QLabel(
            "Sends a text through Pilot Status, from one of your numbers, and opens its timeline: "
            "its steps appear as their webhooks reach this app."
        )
        intro.setWordWrap(True)
        self.number = QComboBox()
        self.number.setMinimumContentsLength(28)
        self.to = QLineEdit()
        self.to.setPlaceholderText("+5511999999999 (E.164, with '+')")
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("The message")
        self.text.setTabChangesFocus(True)
        self.count = QLabel()
        self.count.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.text.textChanged.connect(self._count)
        form = QFormLayout()
        form.addRow("From number", self.number)
        form.addRow("To", self.to)
        form.addRow("Text", self.text)
        form.addRow("", self.count)
        self.message_id = QLineEdit(readOnly=True)
        self.message_id.setPlaceholderText("(after sending)")
        self.correlation_id = QLineEdit(readOnly=True)
        self.correlation_id.setPlaceholderText("(after sending)")
        form.addRow("Message id", _copy_row(self.message_id))
        form.addRow("correlationId", _copy_row(self.correlation_id))

        self.strip = StatusStrip()
        self.buttons = QDialogButtonBox(_BUTTON.Close)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.timeline_button = QPushButton("Open timeline")
        self.timeline_button.setEnabled(False)
        self.buttons.addButton(self.timeline_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.send_button.clicked.connect(self.send)
        self.timeline_button.clicked.connect(self._open_timeline)
        self.buttons.rejected.connect(self.reject)

        col = QVBoxLayout(self)
        col.addWidget(intro)
        col.addLayout(form, 1)
        col.addWidget(self.strip)
        col.addWidget(self.buttons)
        self.resize(560, 420)
        self.load_numbers()
        self._count()

    def load_numbers(self) -> None:
        """The accounts' numbers, by name with the id beside it (the id is what is sent)."""
        current = self.number.currentData()
        numbers = self.service.numbers()
        names = {n.id: (n.name or None, n.phone or None) for n in numbers}
        self.number.clear()
        for n in numbers:
            self.number.addItem(number_line(n.id, names), n.id)
        if current is not None and (index := self.number.findData(current)) >= 0:
            self.number.setCurrentIndex(index)
        self.send_button.setEnabled(bool(numbers))
        if not numbers:
            self.strip.warn(NO_ACCOUNTS)
        elif self.strip.message.text() == NO_ACCOUNTS:  # an account came while it was open
            self.strip.clear()

    def _count(self) -> None:
        n = len(self.text.toPlainText())
        self.count.setText(f"{n:,} / {MAX_TEXT:,}")
        self.count.setStyleSheet("color: #c53030;" if n > MAX_TEXT else "color: gray;")

    # -- sending ---------------------------------------------------------------------

    def send(self) -> None:
        if self._tasks.busy:
            return
        try:
            request = self.service.prepare(
                str(self.number.currentData() or ""), self.to.text(), self.text.toPlainText()
            )
        except (SendError, AdminError) as exc:
            self.strip.error(str(exc))
            return
        self._tasks.start(self._send(request))

    async def _send(self, request: SendRequest) -> None:
        self.send_button.setEnabled(False)
        self.strip.working("Sending…")
        try:
            sent = await self.service.send(request)
        except ApiError as exc:
            self.strip.error(api_sentence(exc))
            return
        except AccountError as exc:
            self.strip.error(str(exc))
            return
        finally:
            self.strip.idle()
            self.send_button.setEnabled(True)
        self.sent = sent
        self.message_id.setText(sent.id)
        self.correlation_id.setText(sent.correlation_id or "")
        again = " (an earlier acceptance of the same send, answered again)" if sent.replayed else ""
        self.strip.ok(f"Accepted{again}: {sent.status} at {exact(sent.created)}. Its timeline follows it.")
        self.timeline_button.setEnabled(self.on_sent is not None)
        self._open_timeline()

    def _open_timeline(self) -> None:
        if self.sent is not None and self.on_sent is not None:
            self.on_sent(self.sent)

    async def settled(self) -> None:
        await self._tasks.settled()

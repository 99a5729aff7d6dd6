"""The "Deadlines…" dialog: when an outbound message counts as stuck."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from pilot_desktop.core.format import minutes

MAX_MINUTES = 10_080  # 7 days: the platform gives up on a queued message after that


def _spin(value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(1, MAX_MINUTES)
    spin.setSuffix(" min")
    spin.setValue(value)
    spin.setAccelerated(True)
    return spin


def _spelled(n: int) -> str:
    return f"= {minutes(n)}" if n >= 60 else ""  # 1,440 min is easier read as 1 day


class DeadlinesDialog(QDialog):
    """Edits both deadlines; `apply(queued, sent)` saves them (and may refuse: it returns
    the problem to show, or None)."""

    def __init__(
        self,
        parent: QWidget | None,
        queued_minutes: int,
        sent_minutes: int,
        apply: Callable[[int, int], str | None],
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Stuck message deadlines")
        self._apply = apply
        intro = QLabel(
            "An outbound message counts as <b>stuck</b> when it stays queued (the number has not "
            "sent it) or sent (no delivery confirmation came) for longer than these deadlines. "
            "The status bar counts stuck messages; click the count to list them."
        )
        intro.setWordWrap(True)
        self.queued = _spin(queued_minutes)
        self.queued.setToolTip("Queued this long and never sent: usually the number is disconnected.")
        self.sent = _spin(sent_minutes)
        self.sent.setToolTip(
            "Sent this long without a delivery confirmation: the contact's phone may be off or "
            "offline; WhatsApp delivers when it comes back."
        )
        self.queued_hint = QLabel()
        self.sent_hint = QLabel()
        for hint in (self.queued_hint, self.sent_hint):
            hint.setStyleSheet("color: palette(mid);")
        self.queued.valueChanged.connect(lambda v: self.queued_hint.setText(_spelled(v)))
        self.sent.valueChanged.connect(lambda v: self.sent_hint.setText(_spelled(v)))
        self.queued_hint.setText(_spelled(queued_minutes))
        self.sent_hint.setText(_spelled(sent_minutes))
        form = QFormLayout()
        form.addRow("Queued, not sent, after:", self.queued)
        form.addRow("", self.queued_hint)
        form.addRow("Sent, not delivered, after:", self.sent)
        form.addRow("", self.sent_hint)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c53030;")
        self.problem.hide()
        self.buttons = buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def _save(self) -> None:
        problem = self._apply(self.queued.value(), self.sent.value())
        if problem:
            self.problem.setText(problem)
            self.problem.show()
            return
        self.accept()

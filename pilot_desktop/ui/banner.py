"""A dismissable banner at the top of the window for errors and warnings.

It also carries number notifications when there is no system tray: those come with an
action button ("Show number") whose click is `action_did_trigger`.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

_STYLE = {
    "error": "background: #fed7d7; color: #742a2a; border: 1px solid #fc8181;",
    "warning": "background: #feebc8; color: #7b341e; border: 1px solid #f6ad55;",
    "info": "background: #bee3f8; color: #2a4365; border: 1px solid #63b3ed;",
}


class Banner(QFrame):
    action_did_trigger = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.hide()
        self.details_button.toggled.connect(self.details.setVisible)
        self.action_button = QPushButton()
        self.action_button.hide()
        self.action_button.clicked.connect(self.action_did_trigger)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.details_button)
        row.addWidget(self.action_button)
        row.addWidget(close)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(row)
        col.addWidget(self.details)
        outer.addWidget(inner)
        self.level = ""
        self.hide()

    def show_message(self, level: str, text: str, details: str = "", action: str = "") -> None:
        """`action`: the label of a button that emits `action_did_trigger` (none when empty)."""
        self.level = level
        self.setStyleSheet(f"Banner {{ {_STYLE.get(level, _STYLE['info'])} border-radius: 4px; }}")
        self.text.setText(text)
        self.details.setText(details[-4000:])
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)
        self.action_button.setText(action)
        self.action_button.setVisible(bool(action))
        self.show()

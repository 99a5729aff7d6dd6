"""A dismissable banner at the top of the window for errors and warnings."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

_STYLE = {
    "error": "background: #fed7d7; color: #742a2a; border: 1px solid #fc8181;",
    "warning": "background: #feebc8; color: #7b341e; border: 1px solid #f6ad55;",
    "info": "background: #bee3f8; color: #2a4365; border: 1px solid #63b3ed;",
}


class Banner(QFrame):
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
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.details_button)
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

    def show_message(self, level: str, text: str, details: str = "") -> None:
        self.level = level
        self.setStyleSheet(f"Banner {{ {_STYLE.get(level, _STYLE['info'])} border-radius: 4px; }}")
        self.text.setText(text)
        self.details.setText(details[-4000:])
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)
        self.show()

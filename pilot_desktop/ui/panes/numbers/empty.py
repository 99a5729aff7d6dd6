"""The Numbers tab before any number is known: what will appear and how to get there."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = QLabel("Loading…")
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.open_webhooks = QPushButton("Open the Webhooks tab")
        self.setObjectName("numbersEmpty")
        self.setStyleSheet("#numbersEmpty { background: palette(base); }")
        col = QVBoxLayout(self)
        col.setContentsMargins(16, 16, 16, 16)
        col.addWidget(self.hint)
        col.addWidget(self.open_webhooks, 0, Qt.AlignmentFlag.AlignLeft)
        col.addStretch(1)

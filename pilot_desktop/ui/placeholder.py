"""A pane's stand-in: what will be there, and what to do meanwhile."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget


def _hook_url_row(hook_url: str) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    field = QLineEdit(hook_url, readOnly=True)
    copy = QPushButton("Copy")
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(hook_url))
    row.addWidget(field, 1)
    row.addWidget(copy)
    return box


def placeholder(title: str, text: str, hook_url: str | None = None) -> QWidget:
    """A pane that a later feature fills; says what will be here and what to do now."""
    page = QWidget()
    col = QVBoxLayout(page)
    col.setContentsMargins(40, 40, 40, 40)
    head = QLabel(f"<h2>{title}</h2>")
    body = QLabel(text)
    body.setWordWrap(True)
    col.addWidget(head)
    col.addWidget(body)
    if hook_url:
        col.addWidget(QLabel("This app's webhook URL (through your tunnel, replace the host):"))
        col.addWidget(_hook_url_row(hook_url))
    col.addStretch(1)
    return page

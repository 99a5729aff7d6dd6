"""One refused request: why (the signature diagnosis laid out), its headers, its body's head."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTabWidget, QTextEdit, QVBoxLayout, QWidget

from pilot_desktop.core.format import clock, terminal_safe
from pilot_desktop.store.records import RejectionDetail, RejectionRow
from pilot_desktop.ui.panes.refused.text import body_label, diagnosis_html, preview_text, shown_path

NOTHING = "Select a refused request to see why it was refused, its headers and the start of its body."
# What each answer means for the person who set up the webhook.
STATUS_MEANING = {
    400: "The body is not a JSON object with an 'event' name: the platform retries it in vain.",
    401: "The signature did not check out: the webhook's signing secret here differs from the one "
    "the platform signs with, or the body was changed on the way.",
    404: "The URL's token is not this receiver's: the webhook points at another install or an old "
    "address. Copy this app's webhook URL (Webhooks tab) into the webhook.",
    413: "The body is larger than this receiver accepts.",
    421: "The request's Host names another server: a proxy or tunnel forwards it with the wrong Host.",
    503: "The store was busy or stopped: the platform retries later.",
}


def title_html(row: RejectionRow) -> str:
    parts = [
        f"<b style='color:#c53030'>⊘ {row.status}</b> {html.escape(terminal_safe(row.reason))}",
        f"received {clock(row.received_at)}",
        html.escape(f"{row.method} {shown_path(row.path)}"),
    ]
    if row.remote:
        parts.append(f"from {html.escape(row.remote)}")
    if row.body_size is not None:
        parts.append(f"body {body_label(row)}")
    return " · ".join(parts)


def why_html(row: RejectionRow) -> str:
    meaning = html.escape(STATUS_MEANING.get(row.status, ""))
    diagnosis = diagnosis_html(row.diagnosis)
    if diagnosis:
        return f"{diagnosis}<p style='color:#4a5568'>{meaning}</p>"
    return f"<p>{meaning}</p><p>{html.escape(terminal_safe(row.reason))}</p>"


class RefusalDetail(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.title = QLabel(NOTHING)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.why = QTextEdit(readOnly=True)
        self.headers = QPlainTextEdit(readOnly=True)
        self.preview = QTextEdit(readOnly=True)
        self.preview.setAcceptRichText(False)
        for w in (self.headers, self.preview):
            w.setFont(mono)
        self.headers.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.why, "Why")
        self.tabs.addTab(self.headers, "Headers")
        self.tabs.addTab(self.preview, "Body preview")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs, 1)

    def show_refusal(self, detail: RejectionDetail | None) -> None:
        if detail is None:
            self.title.setText(NOTHING)
            for w in (self.why, self.headers, self.preview):
                w.clear()
            return
        row = detail.row
        self.title.setText(title_html(row))
        self.why.setHtml(why_html(row))
        self.headers.setPlainText(
            "\n".join(f"{terminal_safe(k)}: {terminal_safe(v)}" for k, v in detail.headers)
        )
        self.preview.setPlainText(preview_text(detail.body, row.body_size))

"""Detail of one stored event: pretty JSON payload, headers, verdicts, copy buttons; or of a
refused delivery (its reason and diagnosis, headers, the kept head of its body), or a gap."""

from __future__ import annotations

import html
import json
import shlex

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.format import clock, terminal_safe
from pilot_desktop.core.interchange import body_text
from pilot_desktop.store.records import EventDetail, Gap, RejectionDetail
from pilot_desktop.ui.panes.live.cells import RECONSTRUCTED_TIP, gap_text
from pilot_desktop.ui.panes.refused.detail import STATUS_MEANING, title_html
from pilot_desktop.ui.panes.refused.text import diagnosis_text, hint, preview_text

# The stored body is the decoded one, so its transfer/content encodings must not be replayed.
_SKIP_IN_CURL = {
    "host",
    "content-length",
    "connection",
    "accept-encoding",
    "user-agent",
    "content-encoding",
    "transfer-encoding",
}
# Pretty-printing and laying out a near-1 MiB payload freezes the window for seconds.
PRETTY_LIMIT = 256 * 1024


def pretty_payload(detail: EventDetail) -> str:
    """What the Payload tab shows: pretty JSON, or the raw head of a very large body."""
    if len(detail.body) <= PRETTY_LIMIT:
        return full_payload(detail)
    head = body_text(detail.body[:PRETTY_LIMIT])
    note = f"(raw body, {len(detail.body):,} bytes; the first {PRETTY_LIMIT:,} shown; Copy JSON copies all)"
    return f"{note}\n{head}"


def full_payload(detail: EventDetail) -> str:
    try:
        return json.dumps(detail.payload(), indent=2, ensure_ascii=False)
    except ValueError:
        return body_text(detail.body)


def curl_command(detail: EventDetail, url: str) -> str:
    """Replays the delivery byte for byte (the raw body, not a re-serialisation)."""
    target = f"{url}/{detail.route}" if detail.route else url
    parts = ["curl", "-sS", "-X", "POST", shlex.quote(target)]
    for name, value in detail.headers:
        if name.lower() not in _SKIP_IN_CURL:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    parts += ["--data-binary", shlex.quote(detail.body.decode("utf-8", "replace"))]
    return " ".join(parts)


class DetailView(QWidget):
    """Empty (nothing selected) it is one line and gives the list the room; it opens (the
    `opened` signal, for the pane's splitter) when a row is shown."""

    opened = Signal()

    def __init__(self, hook_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hook_url: str | None = hook_url  # None: the receiver is not listening
        self._detail: EventDetail | None = None
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.title = QLabel("Select an event to see its payload and headers.")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_json = QPushButton("Copy JSON")
        self.copy_json.setToolTip("Copy the pretty-printed payload")
        self.copy_curl = QPushButton("Copy as cURL")
        self.copy_curl.setToolTip("Copy a curl command that replays this delivery to the receiver")
        for b in (self.copy_json, self.copy_curl):
            b.setEnabled(False)
        self.copy_json.clicked.connect(self._copy_json)
        self.copy_curl.clicked.connect(self._copy_curl)
        self.timeline_button = QPushButton("Timeline…")
        self.timeline_button.setToolTip(
            "Open this message's timeline: sent → delivered → read, or failed and why (or double-click)"
        )
        self.timeline_button.setEnabled(False)
        self.refused_button = QPushButton("Open in Refused…")
        self.refused_button.setToolTip("This refusal in the Refused view (or double-click the row)")
        self.refused_button.hide()

        self.payload = QPlainTextEdit(readOnly=True)
        self.headers = QPlainTextEdit(readOnly=True)
        self.info = QPlainTextEdit(readOnly=True)
        for w in (self.payload, self.headers, self.info):
            w.setFont(mono)
            w.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.payload, "Payload")
        self.tabs.addTab(self.headers, "Headers")
        self.tabs.addTab(self.info, "Checks")
        self.tabs.setMinimumHeight(64)  # a low window: the list keeps its rows, the text scrolls

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.timeline_button)
        top.addWidget(self.refused_button)
        top.addWidget(self.copy_json)
        top.addWidget(self.copy_curl)
        self._layout = layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self._open(False)

    def _open(self, open_: bool) -> None:
        """Closed: the tabs hidden and the height capped at the title line's."""
        was = self.tabs.isVisibleTo(self)
        self.tabs.setVisible(open_)
        self.setMaximumHeight(16777215 if open_ else self._layout.sizeHint().height())
        if open_ and not was:
            self.opened.emit()

    def _kind(self, refusal: bool) -> None:
        self.refused_button.setVisible(refusal)
        for b in (self.copy_json, self.copy_curl, self.timeline_button):
            b.setVisible(not refusal)
        self.tabs.setTabText(0, "Body preview" if refusal else "Payload")
        wrap = QPlainTextEdit.LineWrapMode.WidgetWidth if refusal else QPlainTextEdit.LineWrapMode.NoWrap
        self.info.setLineWrapMode(wrap)
        self.tabs.setTabText(2, "Why" if refusal else "Checks")

    def show_refusal(self, detail: RejectionDetail | None) -> None:
        """A refused delivery: nothing was stored, so no copy or timeline; why it was refused."""
        self._detail = None
        self._kind(True)
        if detail is None:
            self.title.setText("This refused delivery is no longer kept (the store keeps the newest 10,000).")
            for w in (self.payload, self.headers, self.info):
                w.clear()
            return
        row = detail.row
        self._open(True)
        self.title.setText(title_html(row))
        self.payload.setPlainText(preview_text(detail.body, row.body_size))
        self.headers.setPlainText(
            "\n".join(f"{terminal_safe(k)}: {terminal_safe(v)}" for k, v in detail.headers)
        )
        why = [f"Refused {row.status}: {terminal_safe(row.reason)}"]
        why += [f"Hint: {tip}"] if (tip := hint(row)) else []
        why += ["", STATUS_MEANING.get(row.status, "")]
        if row.diagnosis:
            why += ["", diagnosis_text(row.diagnosis)]
        self.info.setPlainText("\n".join(why))
        self.tabs.setCurrentIndex(2)

    def show_gap(self, gap: Gap) -> None:
        self._detail = None
        self._kind(False)
        self._open(True)
        for b in (self.copy_json, self.copy_curl, self.timeline_button):
            b.setEnabled(False)
        self.title.setText(f"<b>{html.escape(gap_text(gap))}</b>")
        for w in (self.payload, self.headers, self.info):
            w.clear()
        self.info.setPlainText(
            "Webhooks sent while this receiver could not receive are retried by the platform for a "
            "while; after that they are lost. Catch-up reads the messages left unfinished back from the "
            "REST API: those steps show as ↺ from API."
        )

    def show_event(self, detail: EventDetail | None) -> None:
        self._detail = detail
        self._kind(False)
        self.copy_json.setEnabled(detail is not None)
        self.copy_curl.setEnabled(detail is not None and self._hook_url is not None)
        self.timeline_button.setEnabled(detail is not None and detail.row.event.startswith("message."))
        if detail is None:
            self.title.setText("Select an event to see its payload and headers.")
            for w in (self.payload, self.headers, self.info):
                w.clear()
            self._open(False)
            return
        self._open(True)
        r = detail.row
        issues = f" · ⚠ {len(detail.schema_issues)} schema issue(s)" if detail.schema_issues else ""
        if r.signature == "reconstructed":
            self.title.setText(
                f"<b>↺ {html.escape(r.event)}</b> #{r.id} · {RECONSTRUCTED_TIP} · "
                f"restored {clock(r.received_at)}{issues}"
            )
        else:
            self.title.setText(
                f"<b>{html.escape(r.event)}</b> #{r.id} · received {clock(r.received_at)} · "
                f"delivered {r.deliveries}× · signature {r.signature}{issues}"
            )
        self.payload.setPlainText(pretty_payload(detail))
        self.headers.setPlainText("\n".join(f"{k}: {v}" for k, v in detail.headers))
        self.info.setPlainText(self._checks(detail))
        self.tabs.setTabText(2, "Checks ⚠" if detail.schema_issues else "Checks")

    @staticmethod
    def _checks(d: EventDetail) -> str:
        r = d.row
        lines = [
            f"Classification: {r.classification}",
            f"Signature:      {r.signature}"
            + (f" (secret {d.signature_secret})" if d.signature_secret else ""),
            f"Deliveries:     {r.deliveries} "
            f"(first {clock(r.received_at)}, last {clock(d.last_received_at)})",
            f"Event time:     {d.event_time or '(none in payload)'}",
            f"Route:          {d.route or '(none)'}",
            f"Body size:      {len(d.body)} bytes",
        ]
        if d.schema_issues:
            lines += ["", "Schema issues (the event was stored as received):"]
            lines += [f"  {i['path']}: {i['message']}" for i in d.schema_issues]
        return "\n".join(lines)

    def _copy_json(self) -> None:
        if self._detail is not None:
            QGuiApplication.clipboard().setText(full_payload(self._detail))

    def set_receiver(self, url: str | None) -> None:
        """Copy as cURL targets this app's receiver only while it listens."""
        self._hook_url = url
        self.copy_curl.setToolTip(
            "Copy a curl command that replays this delivery to the receiver"
            if url is not None
            else "The receiver is not listening: a replay would go to whatever holds its port"
        )
        self.copy_curl.setEnabled(self._detail is not None and url is not None)

    def _copy_curl(self) -> None:
        if self._detail is not None and self._hook_url is not None:
            QGuiApplication.clipboard().setText(curl_command(self._detail, self._hook_url))

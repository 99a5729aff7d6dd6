"""Pieces of the timeline window: copyable ids, the failure explanation, the reply thread."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGridLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.content import shown_content
from pilot_desktop.core.events import replied_text
from pilot_desktop.core.format import exact, short, when
from pilot_desktop.store.read_models import MessageRow, Timeline
from pilot_desktop.ui.panes.messages import style

NOTE_STYLE = (
    "background: #fefcbf; color: #744210; border: 1px solid #ecc94b; border-radius: 4px; padding: 6px;"
)
_FAIL_STYLE = "#failure { background: #fff5f5; border: 1px solid #fc8181; border-radius: 4px; }"
_REVIEW = "color: #c05621; font-weight: bold;"


class IdFields(QWidget):
    """The message's three ids, each selectable and with a Copy button."""

    NAMES = (
        ("Internal id", "msg_id"),
        ("correlationId", "correlation_id"),
        ("Provider messageId", "provider_id"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        self.fields: dict[str, QLineEdit] = {}
        for row, (title, attr) in enumerate(self.NAMES):
            field = QLineEdit(readOnly=True)
            field.setPlaceholderText("(not given)")
            copy = QToolButton()
            copy.setText("Copy")
            copy.setToolTip(f"Copy the {title}")
            copy.clicked.connect(lambda _=False, f=field: QGuiApplication.clipboard().setText(f.text()))
            grid.addWidget(QLabel(title), row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(copy, row, 2)
            self.fields[attr] = field

    def show_row(self, row: MessageRow) -> None:
        for attr, field in self.fields.items():
            field.setText(getattr(row, attr) or "")
            field.setCursorPosition(0)


class FailureBox(QFrame):
    """Why it failed, one layer at a time: status → reason → code → what the code means."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failure")
        self.setStyleSheet(_FAIL_STYLE)
        self.status = QLabel()
        self.reason = QLabel()
        self.code = QLabel()
        self.meaning = QLabel()
        form = QFormLayout(self)
        form.setContentsMargins(10, 6, 10, 6)
        for title, label in (
            ("Status", self.status),
            ("Reason", self.reason),
            ("Code", self.code),
            ("What it means", self.meaning),
        ):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"<b>{title}</b>", label)

    def show_timeline(self, t: Timeline) -> None:
        m = t.message
        if m.status != "FAILED" and m.error is None:
            self.hide()
            return
        self.status.setText(
            f"<span style='color:#c53030; font-weight:bold'>{html.escape(style.status_text(m.status))}</span>"
            f" at {exact(m.failed_at)}"
        )
        self.reason.setText(html.escape(m.error or "(the platform gave no error text)"))
        code = html.escape(m.error_code or "(no code)")
        if not t.error_documented:
            code += f" &nbsp;<span style='{_REVIEW}'>⚠ needs review</span>"
        self.code.setText(code)
        self.meaning.setText(
            html.escape(t.error_meaning or "")
            if t.error_documented
            else f"<span style='{_REVIEW}'>{html.escape(t.error_meaning or '')}</span>"
        )
        self.show()


def message_link(row: MessageRow, verb: str = "Open") -> str:
    text = html.escape(short(shown_content(row.text, row.kind), 80))
    return (
        f"{html.escape(style.status_text(row.status))} · {html.escape(style.contact(row))} · "
        f"{when(row.first_at)} · “{text}” &nbsp;<a href='msg:{row.id}'>{verb}</a>"
    )


def quoted_text(t: Timeline) -> str | None:
    """`contentReplied` of the message's `message.reply` event (kept raw in its body)."""
    for step in t.steps:
        if step.event != "message.reply":
            continue
        try:
            obj = step.payload()
        except ValueError:
            continue
        data = obj.get("data") if isinstance(obj, dict) else None
        if isinstance(data, dict) and (text := replied_text(data)) is not None:
            return text
    return None


class ReplyThread(QWidget):
    """The replies to an outbound message, or the message an inbound reply answers."""

    link_did_activate = Signal(int)  # messages.id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.body.linkActivated.connect(self.open_link)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        col.addWidget(self.title)
        col.addWidget(self.body)

    def open_link(self, href: str) -> None:
        if href.startswith("msg:"):
            self.link_did_activate.emit(int(href[4:]))

    def show_timeline(self, t: Timeline) -> None:
        m = t.message
        if not m.outbound:
            self.title.setText("<b>In reply to</b>")
            # The quote as the contact saw it (`contentReplied`), from the reply's own event:
            # it shows even when the quoted message is not in the store.
            quoted = quoted_text(t)
            quote = f"<br>Quoting: “{html.escape(short(quoted, 300))}”" if quoted else ""
            if t.reply_to is not None:
                self.body.setText(f"↩ {message_link(t.reply_to)}{quote}")
            elif m.quoted_id:
                self.body.setText(
                    f"Quotes provider messageId <code>{html.escape(m.quoted_id)}</code>, which "
                    f"is not in the stored history (yet): the link appears when its events arrive.{quote}"
                )
            elif quoted:
                self.body.setText(f"↩ {quote.removeprefix('<br>')}")
            else:
                self.body.setText("<span style='color:gray'>Not a reply to a message sent from here.</span>")
            return
        self.title.setText(f"<b>Replies ({len(t.replies)})</b>")
        if not t.replies:
            self.body.setText("<span style='color:gray'>No replies yet.</span>")
            return
        lines = [
            f"↪ {when(r.first_at)} · {html.escape(r.peer or '')}: "
            f"“{html.escape(short(shown_content(r.text, r.kind), 200))}” &nbsp;<a href='msg:{r.id}'>Open</a>"
            for r in t.replies
        ]
        self.body.setText("<br>".join(lines))

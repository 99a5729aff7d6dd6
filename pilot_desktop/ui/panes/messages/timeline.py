"""The timeline of one message, in a non-modal window (the receiver keeps running).

Header (ids to copy, number, contact, type, text), the steps on a time axis, hints, the
failure in layers, the steps' event and arrival times with each raw payload, and the reply
thread. It re-reads itself when a change descriptor touches the message or its thread.
Steps reconstructed from the API are marked as such (axis, table, payload); the times
nothing was received over the message's span are bands on the axis and sentences below it.

After a send (ui/send_dialog.py) it waits for the message's first webhook: the store has no
row for it until then. It shows the 202's answer meanwhile and switches to the message as
soon as a change brings it (found by its id or correlationId).

Back belongs to this window: each place that opens timelines has its own window
(timeline_windows.py), and a send starts a new history (Back never leads from the
message just sent into what was looked at before).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.content import shown_content
from pilot_desktop.core.format import duration, exact, number_line, when
from pilot_desktop.core.interchange import body_text
from pilot_desktop.services.send import Sent, Watch
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import MessageRow, Step, StuckRules, Timeline, timeline_json
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui import messages
from pilot_desktop.ui.number_names import load_names
from pilot_desktop.ui.panes.messages import style
from pilot_desktop.ui.panes.messages.axis import GAP_COLOR, AxisPoint, TimelineAxis
from pilot_desktop.ui.panes.messages.badge import badge_label, set_badge
from pilot_desktop.ui.panes.messages.marks import (
    axis_points,
    gap_bands,
    gap_line,
    reconstructed_note,
    step_name,
)
from pilot_desktop.ui.panes.messages.parts import NOTE_STYLE, FailureBox, IdFields, ReplyThread
from pilot_desktop.ui.panes.messages.steps_table import StepsTable


def kind_text(m: MessageRow) -> str:
    """The message type, or why there is none."""
    if m.kind:
        return m.kind
    issue = style.field_issue(m, "type")
    return f"⚠ {issue}" if issue else "(not given)"


class TimelineDialog(QDialog):
    def __init__(
        self,
        reads: Reads,
        stuck_rules: Callable[[], StuckRules] = StuckRules,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Message timeline")
        self.setModal(False)
        self.resize(1000, 780)
        self.reads = reads
        self._stuck_rules = stuck_rules
        self.timeline: Timeline | None = None
        self.history: list[int] = []
        self.awaiting: Sent | None = None  # a send whose first webhook has not been stored yet
        self._looked_at = 0.0  # when the awaited send was last looked for
        self._changed: set[int] = set()
        self._redelivered: set[int] = set()
        self._build()

    @property
    def message_id(self) -> int | None:
        return self.history[-1] if self.history else None

    # -- widgets ---------------------------------------------------------------------

    def _build(self) -> None:
        self.back = QPushButton("← Back")
        self.back.setToolTip("Back to the message you came from (Alt+Left)")
        self.back.clicked.connect(self.go_back)
        self.title = QLabel()
        self.title.setWordWrap(True)  # a long id must not widen the window
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.badge = badge_label("SENT")
        self.copy_json = QPushButton("Copy as JSON")
        self.copy_json.setToolTip("Copy this timeline as JSON (the same document as the CLI's --json)")
        self.copy_json.clicked.connect(self._copy_json)
        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addWidget(self.title, 1)
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)  # not stretched by a wrapped title
        top.addWidget(self.copy_json)

        self.ids = IdFields()
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.axis = TimelineAxis()
        self.axis.step_did_select.connect(self.select_step)
        self.gap_notes = QLabel()
        self.gap_notes.setTextFormat(Qt.TextFormat.RichText)
        self.gap_notes.setWordWrap(True)
        self.gap_notes.setStyleSheet(f"QLabel {{ color: {GAP_COLOR}; }}")
        self.gap_notes.setToolTip("Times this receiver could not receive webhooks (pilot-desktop gaps)")
        self.gap_notes.hide()
        self.hints = QLabel()
        self.hints.setTextFormat(Qt.TextFormat.RichText)  # escaped text: one hint alone too
        self.hints.setWordWrap(True)
        self.hints.setStyleSheet(f"QLabel {{ {NOTE_STYLE} }}")
        self.failure = FailureBox()
        self.reply_thread = ReplyThread()
        self.reply_thread.link_did_activate.connect(self.show_message)  # a link inside: Back returns

        self.steps = StepsTable()
        self.steps.itemSelectionChanged.connect(self._step_selected)
        self.payload = QPlainTextEdit(readOnly=True)
        self.payload.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.payload.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.payload.setPlaceholderText("Select a step (above or on the axis) to see its raw payload.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.steps)
        split.addWidget(self.payload)
        split.setSizes([150, 260])

        axis_scroll = QScrollArea()
        axis_scroll.setWidget(self.axis)
        axis_scroll.setWidgetResizable(True)
        axis_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        axis_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        axis_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        axis_scroll.setFixedHeight(self.axis.sizeHint().height() + 16)  # room for a scroll bar

        col = QVBoxLayout(self)
        col.addLayout(top)
        col.addWidget(self.ids)
        col.addWidget(self.info)
        col.addWidget(axis_scroll)
        col.addWidget(self.gap_notes)
        col.addWidget(self.hints)
        col.addWidget(self.failure)
        col.addWidget(self.reply_thread)
        col.addWidget(split, 1)
        QShortcut(QKeySequence("Alt+Left"), self, self.go_back)

    # -- content ---------------------------------------------------------------------

    def open_message(self, message: int) -> None:
        """Open a message from this window's place (a row, an event); Back returns."""
        self.show_message(message)

    def show_message(self, message: int) -> None:
        """Go to a message (opened, or a link followed inside this window); Back returns."""
        self.awaiting = None
        if message != self.message_id:
            self.history.append(message)
            del self.history[:-50]
        self._changed.clear()
        self._redelivered.clear()
        self.reload(select_last=True)
        self.show()
        self.raise_()
        self.activateWindow()

    def go_back(self) -> None:
        if self.awaiting is not None and self.history:
            self.awaiting = None
            self.reload(select_last=True)
        elif len(self.history) > 1:
            self.history.pop()
            self.reload(select_last=True)

    def reload(self, *, select_last: bool = False) -> None:
        message = self.message_id
        if message is None:
            return
        previous = self.steps.selected_event()
        try:
            t = self.reads.timeline(message, time.time())
        except StoreError as exc:
            messages.error(f"Could not read the timeline of message #{message}: {exc}")
            return
        self.timeline = t
        self.back.setEnabled(len(self.history) > 1)
        if t is None:
            self.title.setText(f"Message #{message} is no longer stored (rebuilt or deleted).")
            return
        self._show(t)
        events = [s.event_id for s in t.steps]
        if previous in events and not select_last:
            self.select_step(events.index(previous))
        elif events:
            self.select_step(len(events) - 1)

    def _show(self, t: Timeline) -> None:
        m = t.message
        who = style.contact(m)[2:]  # without the arrow: the title says the direction
        direction = f"Outbound message to {who}" if m.outbound else f"Inbound message from {who}"
        self.title.setText(f"<b>{html.escape(direction)}</b> &nbsp;<span style='color:gray'>#{m.id}</span>")
        set_badge(self.badge, m.status)
        self.ids.show_row(m)
        text = html.escape(shown_content(m.text, m.kind, t.pii_mode))
        if not (m.text or "").strip():  # what stands in for the text (content not retained) reads as such
            text = f"<span style='color:gray'>{text}</span>"
        number = "?"
        if m.number_id:  # by name when known, the id beside it (the id is what the API takes)
            number = html.escape(number_line(m.number_id, load_names(self.reads) or {}))
        self.info.setText(
            f"Number <b>{number}</b> · Type <b>{html.escape(kind_text(m))}</b> · "
            f"Created {exact(m.first_at)}<br>“{text}”"
        )
        now = time.time()
        self.axis.set_points(axis_points(t), now)
        self.axis.set_bands(gap_bands(t, now))
        self.gap_notes.setText("<br>".join(html.escape(gap_line(g, now)) for g in t.gaps))
        self.gap_notes.setVisible(bool(t.gaps))
        hints = list(t.hints)
        stuck = style.stuck_for(m, self._stuck_rules(), now)
        if stuck is not None:
            hints.insert(0, f"Stuck: {m.status.lower()} for {duration(stuck)}, past the deadline.")
        if any(s.late for s in t.steps):
            hints.append(
                "⚑ late: a status arrived after a later one. It is shown at its event time; "
                "the current status did not go back."
            )
        if t.duplicates:
            hints.append(f"{t.duplicates} duplicate deliveries (retries) were counted, not stored twice.")
        if m.issues:
            hints.append("⚠ Its webhooks did not match the schema: " + "; ".join(m.issues))
        self.hints.setText("<br>".join(html.escape(h) for h in hints))
        self.hints.setVisible(bool(hints))
        self.failure.show_timeline(t)
        self.reply_thread.show_timeline(t)
        self.reply_thread.show()  # hidden while waiting for a send's first webhook
        self.steps.fill(t)

    def select_step(self, index: int) -> None:
        t = self.timeline
        if t is None or not 0 <= index < len(t.steps):
            return
        self.steps.blockSignals(True)
        self.steps.selectRow(index)
        self.steps.blockSignals(False)
        self.axis.select(index)
        self._show_payload(t.steps[index])

    def _step_selected(self) -> None:
        rows = self.steps.selectionModel().selectedRows()
        if rows:
            self.select_step(rows[0].row())

    def _show_payload(self, step: Step) -> None:
        try:
            text = json.dumps(step.payload(), indent=2, ensure_ascii=False)
        except ValueError:
            text = body_text(step.body)
        origin = f" · {reconstructed_note(step)}, not a delivered webhook" if step.reconstructed else ""
        self.payload.setPlainText(f"// {step.event} · event #{step.event_id}{origin}\n{text}")

    def _copy_json(self) -> None:
        if self.timeline is not None:
            QGuiApplication.clipboard().setText(json.dumps(timeline_json(self.timeline), indent=2))

    # -- live ------------------------------------------------------------------------

    def note_changes(self, changes: Changes) -> None:
        if (self.message_id is None and self.awaiting is None) or not self.isVisible():
            return
        self._changed |= changes.messages
        self._redelivered.update(changes.redelivered)

    def flush(self) -> None:
        """Re-read when the last changes touched this message or its thread (timer tick)."""
        if self.awaiting is not None:
            self._look_for_send()
            return
        if self.timeline is not None and self.timeline.pending and time.time() - (self.axis.now or 0) >= 1:
            self.axis.now = time.time()  # "… so far" keeps counting
            self.axis.update()
        if not (self._changed or self._redelivered) or self.message_id is None:
            return
        changed, self._changed = self._changed, set()
        redelivered, self._redelivered = self._redelivered, set()
        steps = {s.event_id for s in self.timeline.steps} if self.timeline else set()
        try:
            touched = bool(redelivered & steps) or (
                bool(changed) and self.reads.timeline_touched(self.message_id, changed)
            )
        except StoreError:
            touched = True  # the reload says what went wrong
        if touched:
            self.reload()

    # -- after a send ----------------------------------------------------------------

    def await_send(self, sent: Sent) -> None:
        """Follow a message just sent: wait for its first webhook, then show it."""
        self.awaiting = sent
        self.history.clear()  # a new errand: Back does not lead into what was looked at before
        self._changed.clear()
        self._redelivered.clear()
        self._show_waiting(sent)
        self.show()
        self.raise_()
        self.activateWindow()
        self._look_for_send()

    def _look_for_send(self) -> None:
        """On a change of some message, or every second: is the sent message stored now?"""
        sent = self.awaiting
        if sent is None or not (self._changed or time.monotonic() - self._looked_at >= 1):
            return
        self._changed.clear()
        self._redelivered.clear()
        self._looked_at = time.monotonic()
        try:
            found = Watch(self.reads, sent).find()
        except StoreError as exc:
            self.hints.setText(html.escape(f"Could not read the store: {exc}"))
            return
        if found is not None:
            self.show_message(found)
        else:
            self.axis.now = time.time()  # "… so far" keeps counting
            self.axis.update()

    def _show_waiting(self, sent: Sent) -> None:
        self.timeline = None
        self.back.setEnabled(bool(self.history))
        self.title.setText(
            f"<b>Waiting for the first webhook of {html.escape(sent.id)}</b> "
            f"<span style='color:gray'>(sent {when(sent.created)}, {html.escape(sent.status)})</span>"
        )
        set_badge(self.badge, sent.status)
        self.ids.fields["msg_id"].setText(sent.id)
        self.ids.fields["correlation_id"].setText(sent.correlation_id or "")
        self.ids.fields["provider_id"].setText("")
        number = html.escape(number_line(sent.number_id, load_names(self.reads) or {}))
        self.info.setText(
            f"Number <b>{number}</b> · To <b>{html.escape(sent.to)}</b><br>“{html.escape(sent.text)}”"
        )
        queued = AxisPoint("Queued", sent.created, style.status_color("QUEUED"), note="accepted (202)")
        pending = [
            AxisPoint(step_name(s), None, style.PENDING_COLOR, note="pending")
            for s in ("SENT", "DELIVERED", "READ")
        ]
        self.axis.set_points([queued, *pending], time.time())
        self.axis.set_bands([])
        self.gap_notes.hide()
        replayed = (
            " Pilot Status answered an earlier acceptance of the same send (same Idempotency-Key)."
            if sent.replayed
            else ""
        )
        self.hints.setText(
            html.escape(
                "Pilot Status accepted the message. Its steps appear here as its webhooks reach this "
                "app's receiver; that needs a webhook of this number, with the message events, "
                f"pointing at this app.{replayed}"
            )
        )
        self.hints.show()
        self.failure.hide()
        self.reply_thread.hide()
        self.steps.setRowCount(0)
        self.payload.setPlainText(
            f"// the 202 answer of POST /v1/messages/send\n{json.dumps(sent.as_json(), indent=2)}"
        )

    def shutdown(self) -> None:
        """Nothing to release: the store's connections are the read facade's."""

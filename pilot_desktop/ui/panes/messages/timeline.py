"""The timeline of one message, in a non-modal window (the receiver keeps running).

Header (ids to copy, number, contact, type, text), the steps on a time axis, hints, the
failure in layers, the steps' event and arrival times with each raw payload, and the reply
thread. It re-reads itself when a change descriptor touches the message or its thread.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.format import duration, exact, number_line, when
from pilot_desktop.core.interchange import body_text
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import Step, StuckRules, Timeline, timeline_json
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui import messages
from pilot_desktop.ui.number_names import load_names
from pilot_desktop.ui.panes.messages import style
from pilot_desktop.ui.panes.messages.axis import AxisPoint, TimelineAxis
from pilot_desktop.ui.panes.messages.badge import badge_label, set_badge
from pilot_desktop.ui.panes.messages.parts import NOTE_STYLE, FailureBox, IdFields, ReplyThread

STEP_COLUMNS = ("Step", "Event time", "Arrived", "Arrival delay", "Deliveries", "Note")
_STEP_NAME = {"RECEIVED": "Received"}


def step_name(status: str) -> str:
    return _STEP_NAME.get(status, status.title())


def arrival_delay(step: Step) -> str:
    if step.at is None:
        return "no event time"
    delay = step.received_at - step.at
    if delay < 0:
        return f"{duration(-delay)} early (clocks differ)"
    return f"+{duration(delay)}"


def axis_points(t: Timeline) -> list[AxisPoint]:
    points = [
        AxisPoint(
            label=step_name(s.status),
            at=s.at if s.at is not None else s.received_at,
            color=style.status_color(s.status),
            time_text=when(s.at if s.at is not None else s.received_at),
            note=f"arrived {arrival_delay(s)}",
            late=s.late,
            deliveries=s.deliveries,
        )
        for s in t.steps
    ]
    points += [
        AxisPoint(label=step_name(p), at=None, color=style.PENDING_COLOR, note="pending") for p in t.pending
    ]
    return points


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
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.badge = badge_label("SENT")
        self.copy_json = QPushButton("Copy as JSON")
        self.copy_json.setToolTip("Copy this timeline as JSON (the same document as the CLI's --json)")
        self.copy_json.clicked.connect(self._copy_json)
        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addWidget(self.title, 1)
        top.addWidget(self.badge)
        top.addWidget(self.copy_json)

        self.ids = IdFields()
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.axis = TimelineAxis()
        self.axis.step_did_select.connect(self.select_step)
        self.hints = QLabel()
        self.hints.setWordWrap(True)
        self.hints.setStyleSheet(f"QLabel {{ {NOTE_STYLE} }}")
        self.failure = FailureBox()
        self.reply_thread = ReplyThread()
        self.reply_thread.link_did_activate.connect(self.show_message)

        self.steps = QTableWidget(0, len(STEP_COLUMNS))
        self.steps.setHorizontalHeaderLabels(list(STEP_COLUMNS))
        self.steps.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.steps.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.steps.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.steps.verticalHeader().hide()
        self.steps.setWordWrap(False)
        hh = self.steps.horizontalHeader()
        hh.setStretchLastSection(True)
        for i, width in enumerate((90, 180, 180, 150, 75)):
            hh.resizeSection(i, width)
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
        col.addWidget(self.hints)
        col.addWidget(self.failure)
        col.addWidget(self.reply_thread)
        col.addWidget(split, 1)
        QShortcut(QKeySequence("Alt+Left"), self, self.go_back)

    # -- content ---------------------------------------------------------------------

    def show_message(self, message: int) -> None:
        """Open a message (from a row, an event or a reply link); Back returns."""
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
        if len(self.history) > 1:
            self.history.pop()
            self.reload(select_last=True)

    def reload(self, *, select_last: bool = False) -> None:
        message = self.message_id
        if message is None:
            return
        previous = self._selected_event()
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
        direction = (
            f"Outbound message to {m.peer or '?'}" if m.outbound else f"Inbound message from {m.peer or '?'}"
        )
        self.title.setText(f"<b>{html.escape(direction)}</b> &nbsp;<span style='color:gray'>#{m.id}</span>")
        set_badge(self.badge, m.status)
        self.ids.show_row(m)
        text = html.escape(m.text) if m.text else "<span style='color:gray'>(no text in the events)</span>"
        number = "?"
        if m.number_id:  # by name when known, the id beside it (the id is what the API takes)
            number = html.escape(number_line(m.number_id, load_names(self.reads) or {}))
        self.info.setText(
            f"Number <b>{number}</b> · Type <b>{html.escape(m.kind or '?')}</b> · "
            f"Created {exact(m.first_at)}<br>“{text}”"
        )
        now = time.time()
        self.axis.set_points(axis_points(t), now)
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
        self.hints.setText("<br>".join(html.escape(h) for h in hints))
        self.hints.setVisible(bool(hints))
        self.failure.show_timeline(t)
        self.reply_thread.show_timeline(t)
        self._fill_steps(t)

    def _fill_steps(self, t: Timeline) -> None:
        self.steps.blockSignals(True)
        self.steps.clearContents()
        self.steps.setRowCount(len(t.steps) + len(t.pending))
        for row, s in enumerate(t.steps):
            note = "⚑ late: arrived after a later step" if s.late else ""
            cells = (
                step_name(s.status),
                exact(s.at) if s.at is not None else "(none in the payload)",
                exact(s.received_at),
                arrival_delay(s),
                f"×{s.deliveries}" if s.deliveries > 1 else "1",
                note,
            )
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, s.event_id)
                if c == 1:
                    item.setToolTip(f"createdAt as sent: {s.event_time or '(none)'} (shown in local time)")
                self.steps.setItem(row, c, item)
        for i, status in enumerate(t.pending):
            row = len(t.steps) + i
            receipts = status == "READ" and any("read receipts" in h for h in t.hints)
            hint = "read receipts may be off" if receipts else ""
            for c, value in enumerate((step_name(status), "pending", "", "", "", hint)):
                item = QTableWidgetItem(value)
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                self.steps.setItem(row, c, item)
        self.steps.blockSignals(False)

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
        self.payload.setPlainText(f"// {step.event} · event #{step.event_id}\n{text}")

    def _selected_event(self) -> int | None:
        rows = self.steps.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.steps.item(rows[0].row(), 0)
        value = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return int(value) if value is not None else None

    def _copy_json(self) -> None:
        if self.timeline is not None:
            QGuiApplication.clipboard().setText(json.dumps(timeline_json(self.timeline), indent=2))

    # -- live ------------------------------------------------------------------------

    def note_changes(self, changes: Changes) -> None:
        if self.message_id is None or not self.isVisible():
            return
        self._changed |= changes.messages
        self._redelivered.update(changes.redelivered)

    def flush(self) -> None:
        """Re-read when the last changes touched this message or its thread (timer tick)."""
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

    def shutdown(self) -> None:
        """Nothing to release: the store's connections are the read facade's."""

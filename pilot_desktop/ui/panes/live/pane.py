"""The Live pane: the event stream as it arrives, with pause, filters and details.

Change descriptors from the writer are buffered and flushed once per timer tick (one
`beginInsertRows` per tick, docs/craft.md, habit 3). Pause freezes the view while capture goes
on, with an "N new" badge (habit 8); the view follows new rows only when the user is
already at the bottom. Refused deliveries and gaps are rows too (model.py, rows.py), placed
as they are recorded (marks.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import EventFilter, LiveSnapshot
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes, EventRow
from pilot_desktop.ui import messages
from pilot_desktop.ui.elided import ElidedLabel
from pilot_desktop.ui.latest import LatestRead
from pilot_desktop.ui.number_names import fill_numbers, load_names
from pilot_desktop.ui.panes.live import header
from pilot_desktop.ui.panes.live.detail import DetailView
from pilot_desktop.ui.panes.live.filters import Filters
from pilot_desktop.ui.panes.live.marks import MarkFeed
from pilot_desktop.ui.panes.live.model import COLUMNS, SHOW_DELIVERIES, SHOW_REFUSALS, LiveModel
from pilot_desktop.ui.tables import EmptyHint, add_keys, move_selection, set_up_row_list

log = logging.getLogger(__name__)

FLUSH_MS = 150
# Rows held while paused (or while history loads); past this the store has them and
# resuming reloads from it.
PENDING_MAX = 20_000
_WIDTHS = {"Time": 100, "Event": 150, "Number": 120, "From": 130, "To": 130, "Signature": 90, "×": 40}


class LivePane(QWidget):
    timeline_requested = Signal(int)  # messages.id: a message event was opened
    refused_requested = Signal(int)  # rejections.id (0: none in particular): open the Refused view

    def __init__(
        self, reads: Reads, hook_url: str, *, tail_rows: int = 5000, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.reads = reads
        self._tail_rows = tail_rows
        self._pending: list[EventRow] = []
        self._redelivered: dict[int, int] = {}
        self._overflowed = False
        self._loading = False
        self._load: LatestRead[tuple[EventFilter, str, LiveSnapshot]] = LatestRead(
            self._loaded, self._load_failed
        )
        self._hook_url = hook_url
        token = hook_url.rsplit("/", 1)[-1] or None  # shown `<token>` in refused paths
        self.marks = MarkFeed(reads)
        self._numbers: set[str] = set()
        self._names_stale = False  # a number's name may have come or changed
        self.paused = False
        self._pending_matching = 0  # what the "N new" badge counts: pending rows the filter shows

        self.model = LiveModel(
            reads.rows_by_ids, lambda ids: reads.rejections_by_ids(ids, token), cache_rows=tail_rows
        )
        self._token = token
        self._build(hook_url)
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    # -- widgets ---------------------------------------------------------------------

    def _build(self, hook_url: str) -> None:
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the view; events are still received and stored (Space)")
        self.pause_button.toggled.connect(self.set_paused)
        self.badge = QLabel("")
        self.badge.setObjectName("newBadge")
        self.badge.setStyleSheet(
            "#newBadge { background: #dd6b20; color: white; border-radius: 8px; padding: 1px 8px; }"
        )
        self.badge.hide()

        self.filters = Filters(self._filters_changed)
        self.group_button, self.group_actions = self.filters.group_button, self.filters.group_actions
        self.number_combo, self.show_combo = self.filters.number_combo, self.filters.show_combo

        self.oldest_button = QPushButton("⇤ Oldest")
        self.oldest_button.setToolTip("Jump to the oldest stored event (Home)")
        self.oldest_button.clicked.connect(self.jump_to_oldest)
        self.newest_button = QPushButton("Newest ⇥")
        self.newest_button.setToolTip("Jump to the newest event and follow the stream (End)")
        self.newest_button.clicked.connect(self.jump_to_newest)
        # Elided, not widening the window: "12,345 events · 3 refused · 2 gaps" can be long.
        self.count_label = ElidedLabel("Loading history…", min_width=60)
        self.count_label.setStyleSheet("color: palette(mid);")

        bar = QHBoxLayout()
        bar.addWidget(self.pause_button)
        bar.addWidget(self.badge)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.group_button)
        bar.addWidget(self.number_combo)
        bar.addWidget(self.show_combo)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.oldest_button)
        bar.addWidget(self.newest_button)

        self.table = QTableView()
        self.table.setModel(self.model)
        set_up_row_list(self.table, COLUMNS, _WIDTHS, stretch="Summary", row_height=22)  # arrival order
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(self._row_activated)
        # Following the stream survives the table's height changing (the empty state
        # appears above refused rows, the window is resized): at the bottom stays there.
        scroll = self.table.verticalScrollBar()
        self._at_bottom = True
        scroll.valueChanged.connect(lambda value: setattr(self, "_at_bottom", value >= scroll.maximum() - 1))
        scroll.rangeChanged.connect(self._range_changed)

        self.empty_hint = EmptyHint(header.empty_text(hook_url, 0, 0))
        self.empty_hint.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.empty_hint.linkActivated.connect(lambda _link: self.refused_requested.emit(0))

        self.detail = DetailView(hook_url)
        self.detail.timeline_button.clicked.connect(self._open_selected_timeline)
        self.detail.refused_button.clicked.connect(self._open_selected_refusal)
        self.split = split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([560, 240])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.empty_hint)
        layout.addWidget(split, 1)

        add_keys(
            self,
            {
                "Space": self.pause_button.toggle,
                "J": lambda: move_selection(self.table, 1, newest_last=True),
                "K": lambda: move_selection(self.table, -1, newest_last=True),
                "Home": self.jump_to_oldest,
                "End": self.jump_to_newest,
            },
        )

    # -- data flow -------------------------------------------------------------------

    async def load(self) -> None:
        """(Re)load the ids for the current filter without blocking the window."""
        self._start_load()
        await self._load.settled()

    def _start_load(self) -> None:
        self._loading = True
        # Everything committed so far is in what this load reads; rows arriving while it
        # runs collect in _pending (an overflow then triggers another load at the next tick).
        self._pending.clear()
        self._pending_matching = 0
        self._overflowed = False
        flt, mode = self.filters.current(), self.filters.mode()
        self.count_label.setText("Loading history…")
        events, refusals = mode != SHOW_REFUSALS, mode != SHOW_DELIVERIES
        self._load.start(lambda: (flt, mode, self.reads.live_snapshot(flt, events=events, refusals=refusals)))

    def _load_failed(self, exc: Exception) -> None:
        self._loading = False  # _overflowed stays clear: no retry loop every tick
        messages.error(f"Could not load the event history: {exc}")

    def _loaded(self, result: tuple[EventFilter, str, LiveSnapshot]) -> None:
        flt, mode, snapshot = result
        self.model.reset(snapshot, flt, mode)
        self.marks.reset()
        self._loading = False
        self._apply_spans()
        self.detail.show_event(None)  # the reset cleared the selection
        self._update_count()
        try:
            self._refresh_numbers(self.reads.numbers_seen())
        except StoreError as exc:
            log.warning("numbers seen: %s", exc)
        self._show_number_names()
        self.flush()
        self.table.scrollToBottom()

    def on_changes(self, changes: Changes) -> None:
        """Writer listener (runs on the loop, which is the GUI thread): buffer only."""
        if changes.new_events:
            if len(self._pending) < PENDING_MAX:
                self._pending.extend(changes.new_events)
                flt = self.model.filter
                self._pending_matching += sum(1 for r in changes.new_events if flt.matches(r))
            else:
                # Paused for long under heavy traffic: stop holding rows in memory; the
                # store has them and resuming reloads from it.
                self._overflowed = True
        self._redelivered.update(changes.redelivered)
        self._names_stale = self._names_stale or bool(changes.numbers)
        self.marks.heard(changes)
        if self.paused:
            self._show_badge(self._pending_matching, self._overflowed)

    def flush(self) -> None:
        if self.paused or self._loading:
            return
        if self._names_stale:
            self._show_number_names()
        if self._overflowed:
            self._pending.clear()
            self._start_load()
            return
        if self._pending:
            following = self._following()
            rows, self._pending = self._pending, []
            self._pending_matching = 0
            self._refresh_numbers(r.number_id for r in rows if r.number_id)
            self._follow(following, self.model.append(rows) > 0)
        self._place_marks()
        if self._redelivered:
            redelivered, self._redelivered = self._redelivered, {}
            self.model.update_deliveries(redelivered)
        self._update_count()

    def _following(self) -> bool:
        # Follow the stream only when the user is at the bottom and has not picked a row to
        # read: a selected row must not scroll away. Newest (End) follows again.
        bar = self.table.verticalScrollBar()
        return bar.value() >= bar.maximum() - 1 and not self.table.selectionModel().hasSelection()

    def _follow(self, following: bool, added: bool) -> None:
        if added:
            self._apply_spans()
            if following:
                self.table.scrollToBottom()

    def _place_marks(self) -> None:
        following = self._following()
        added = self.marks.place(self.model)
        if added is None:
            self._start_load()  # the store keeps the newest 10,000 refusals: so does the list
            return
        self._follow(following, added > 0)

    def _range_changed(self, _low: int, high: int) -> None:
        if self._at_bottom and not self.table.selectionModel().hasSelection():
            self.table.verticalScrollBar().setValue(high)

    def _apply_spans(self) -> None:
        """Gap bands across the whole row."""
        self.table.clearSpans()
        for row in self.model.gap_rows():
            self.table.setSpan(row, 0, 1, len(COLUMNS))

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self._show_badge(self._pending_matching, self._overflowed)
        else:
            self.badge.hide()
            self.flush()

    def pending_count(self) -> int:
        return self._pending_matching

    def shutdown(self) -> None:
        self._load.cancel()  # a load still running must not draw
        self._timer.stop()

    # -- helpers ---------------------------------------------------------------------

    def _show_badge(self, n: int, overflowed: bool) -> None:
        if n == 0 and not overflowed:
            self.badge.hide()
            return
        self.badge.setText(f"{n:,}+ new" if overflowed else f"{n:,} new")
        self.badge.show()

    def _filters_changed(self) -> None:
        self.filters.relabel()
        self._start_load()

    def _refresh_numbers(self, numbers: Iterable[str]) -> None:
        new = [n for n in dict.fromkeys(numbers) if n not in self._numbers]
        if new:
            self._numbers.update(new)
            fill_numbers(self.number_combo, self._numbers, self.model.numbers)

    def _show_number_names(self) -> None:
        """Numbers by name in the table and the filter (a few rows: on the GUI thread)."""
        self._names_stale = False
        if (known := load_names(self.reads)) is not None:
            self.model.set_numbers(known)
            fill_numbers(self.number_combo, self._numbers, known)

    def _update_count(self) -> None:
        self.count_label.setText(header.count_text(self.model))
        if not header.shows_empty_state(self.model):
            self.empty_hint.hide()
        else:
            refused = self.recent_refusals()
            self.empty_hint.say(header.empty_text(self._hook_url, refused, self.model.refusal_count))

    def recent_refusals(self) -> int:
        return self.marks.recent()

    def _selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = selected.indexes()
        if not rows:
            return
        row = rows[0].row()
        event_id, mark = self.model.event_id(row), self.model.mark_at(row)
        try:
            if event_id is not None:
                self.detail.show_event(self.reads.event(event_id))
            elif mark is not None and mark.kind == "refusal":
                self.detail.show_refusal(self.reads.rejection_detail(mark.ident, self._token))
            elif mark is not None and (gap := self.model.gap(mark.ident)) is not None:
                self.detail.show_gap(gap)
        except StoreError as exc:
            messages.error(f"Could not read row {row + 1}: {exc}")

    def _row_activated(self, index: QModelIndex) -> None:
        mark = self.model.mark_at(index.row())
        if mark is not None and mark.kind == "refusal":
            self.refused_requested.emit(mark.ident)
            return
        row = self.model.row_at(index.row())
        if row is not None and row.event.startswith("message."):
            self.open_timeline_of(row.id)

    def _open_selected_refusal(self) -> None:
        row = self._selected_row()
        mark = None if row is None else self.model.mark_at(row)
        self.refused_requested.emit(mark.ident if mark is not None and mark.kind == "refusal" else 0)

    def _open_selected_timeline(self) -> None:
        row = self._selected_row()
        event_id = None if row is None else self.model.event_id(row)
        if event_id is not None:
            self.open_timeline_of(event_id)

    def open_timeline_of(self, event_id: int) -> bool:
        """Ask for the timeline of the message this event is a step of; say so when none."""
        try:
            message = self.reads.message_of_event(event_id)
        except StoreError as exc:
            messages.error(f"Could not read event #{event_id}: {exc}")
            return False
        if message is None:
            messages.info(
                f"Event #{event_id} is not tied to a message (it carries no message id), "
                "so it has no timeline."
            )
            return False
        self.timeline_requested.emit(message)
        return True

    def jump_to_oldest(self) -> None:
        if self.model.rowCount():
            self.table.scrollToTop()
            self.table.selectRow(0)

    def jump_to_newest(self) -> None:
        if self.model.rowCount():
            self.table.clearSelection()
            self.detail.show_event(None)
            self.table.scrollToBottom()

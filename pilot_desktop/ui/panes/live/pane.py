"""The Live pane: the event stream as it arrives, with pause, filters and details.

Change descriptors from the writer are buffered and flushed once per timer tick (one
`beginInsertRows` per tick, docs/craft.md, habit 3). Pause freezes the view while capture goes
on, with an "N new" badge (habit 8); the view follows new rows only when the user is
already at the bottom.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.catalogue import GROUP_LABELS
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import EventFilter, IdList
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes, EventRow
from pilot_desktop.ui import messages
from pilot_desktop.ui.latest import LatestRead
from pilot_desktop.ui.number_names import fill_numbers, load_names
from pilot_desktop.ui.panes.live.detail import DetailView
from pilot_desktop.ui.panes.live.model import COLUMNS, LiveModel
from pilot_desktop.ui.tables import EmptyHint, add_keys, move_selection, set_up_row_list

log = logging.getLogger(__name__)

FLUSH_MS = 150
# Rows held while paused (or while history loads); past this the store has them and
# resuming reloads from it.
PENDING_MAX = 20_000
_WIDTHS = {"Time": 100, "Event": 150, "Number": 120, "From": 130, "To": 130, "Signature": 90, "×": 40}


class LivePane(QWidget):
    timeline_requested = Signal(int)  # messages.id: a message event was opened

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
        self._load: LatestRead[tuple[EventFilter, IdList]] = LatestRead(self._loaded, self._load_failed)
        self._numbers: set[str] = set()
        self._names_stale = False  # a number's name may have come or changed
        self.paused = False
        self._pending_matching = 0  # what the "N new" badge counts: pending rows the filter shows

        self.model = LiveModel(reads.rows_by_ids, cache_rows=tail_rows)
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

        self.group_button = QToolButton()
        self.group_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.group_button)
        self.group_actions: dict[str, QAction] = {}
        for key, label in GROUP_LABELS.items():
            act = QAction(label, menu, checkable=True, checked=True)
            act.toggled.connect(self._filters_changed)
            menu.addAction(act)
            self.group_actions[key] = act
        self.group_button.setMenu(menu)
        self.group_button.setText("All events")
        self.group_button.setToolTip("Show only some event groups")

        self.number_combo = QComboBox()
        self.number_combo.setMinimumContentsLength(16)
        self.number_combo.addItem("All numbers", None)
        self.number_combo.setToolTip("Show only the events of one number")
        self.number_combo.currentIndexChanged.connect(self._filters_changed)

        self.oldest_button = QPushButton("⇤ Oldest")
        self.oldest_button.setToolTip("Jump to the oldest stored event (Home)")
        self.oldest_button.clicked.connect(self.jump_to_oldest)
        self.newest_button = QPushButton("Newest ⇥")
        self.newest_button.setToolTip("Jump to the newest event and follow the stream (End)")
        self.newest_button.clicked.connect(self.jump_to_newest)
        self.count_label = QLabel("Loading history…")
        self.count_label.setStyleSheet("color: palette(mid);")

        bar = QHBoxLayout()
        bar.addWidget(self.pause_button)
        bar.addWidget(self.badge)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.group_button)
        bar.addWidget(self.number_combo)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.oldest_button)
        bar.addWidget(self.newest_button)

        self.table = QTableView()
        self.table.setModel(self.model)
        set_up_row_list(self.table, COLUMNS, _WIDTHS, stretch="Summary", row_height=22)  # arrival order
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(self._row_activated)

        self.empty_hint = EmptyHint(
            "<b>Waiting for the first webhook.</b> Pilot Status reaches this app through a tunnel: "
            "create a webhook whose URL is your tunnel's public address followed by "
            f"<code>/hooks/{hook_url.rsplit('/', 1)[-1]}</code>. "
            f"To try it from this machine:<br><code>curl -X POST {hook_url} "
            "-H 'content-type: application/json' -d '{\"event\": \"test.ping\"}'</code>"
        )

        self.detail = DetailView(hook_url)
        self.detail.timeline_button.clicked.connect(self._open_selected_timeline)
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
        flt = self._current_filter()
        self.count_label.setText("Loading history…")
        self._load.start(lambda: (flt, self.reads.event_ids(flt)))

    def _load_failed(self, exc: Exception) -> None:
        self._loading = False  # _overflowed stays clear: no retry loop every tick
        messages.error(f"Could not load the event history: {exc}")

    def _loaded(self, result: tuple[EventFilter, IdList]) -> None:
        flt, ids = result
        self.model.reset(ids, flt)
        self._loading = False
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
            # Follow the stream only when the user is at the bottom and has not picked a
            # row to read: a selected row must not scroll away. Newest (End) follows again.
            bar = self.table.verticalScrollBar()
            following = bar.value() >= bar.maximum() - 1 and not self.table.selectionModel().hasSelection()
            rows, self._pending = self._pending, []
            self._pending_matching = 0
            self._refresh_numbers(r.number_id for r in rows if r.number_id)
            if self.model.append(rows) and following:
                self.table.scrollToBottom()
        if self._redelivered:
            redelivered, self._redelivered = self._redelivered, {}
            self.model.update_deliveries(redelivered)
        self._update_count()

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

    def _current_filter(self) -> EventFilter:
        chosen = frozenset(k for k, a in self.group_actions.items() if a.isChecked())
        groups = frozenset() if chosen == frozenset(GROUP_LABELS) else chosen
        return EventFilter(groups=groups, number_id=self.number_combo.currentData())

    def _filters_changed(self) -> None:
        chosen = [a.text() for a in self.group_actions.values() if a.isChecked()]
        if len(chosen) == len(self.group_actions):
            self.group_button.setText("All events")
        elif len(chosen) == 1:
            self.group_button.setText(chosen[0])
        else:
            self.group_button.setText(f"{len(chosen)} groups")
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
        n = self.model.rowCount()
        self.empty_hint.setVisible(n == 0 and self.model.filter == EventFilter())
        flt = self.model.filter
        what = "events" if flt == EventFilter() else "matching events"
        self.count_label.setText(f"{n:,} {what}")

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = selected.indexes()
        if not rows:
            return
        event_id = self.model.event_id(rows[0].row())
        try:
            self.detail.show_event(self.reads.event(event_id))
        except StoreError as exc:
            messages.error(f"Could not read event #{event_id}: {exc}")

    def _row_activated(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None and row.event.startswith("message."):
            self.open_timeline_of(row.id)

    def _open_selected_timeline(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.open_timeline_of(self.model.event_id(rows[0].row()))

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

"""The Live pane: the event stream as it arrives, with pause, filters and details.

Change descriptors from the writer are buffered and flushed once per timer tick (one
`beginInsertRows` per tick, docs/craft.md, habit 3). Following, holding (paused, pointer on
the rows, a row selected) and the "N new" badge are one explicit state (follow.py), shown
and re-checked every tick; rows on screen never move under the pointer. Refused deliveries
and gaps are rows too (model.py, rows.py), placed as they are recorded (marks.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QEnterEvent, QHideEvent, QMouseEvent, QShowEvent
from PySide6.QtWidgets import (
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
from pilot_desktop.ui.latest import LatestRead
from pilot_desktop.ui.number_names import fill_numbers, load_names
from pilot_desktop.ui.panes.live import header
from pilot_desktop.ui.panes.live.bar import LiveBar
from pilot_desktop.ui.panes.live.detail import DetailView
from pilot_desktop.ui.panes.live.follow import Follow
from pilot_desktop.ui.panes.live.layout import fit_number_column, make_room_for_detail
from pilot_desktop.ui.panes.live.marks import MarkFeed
from pilot_desktop.ui.panes.live.model import COLUMNS, SHOW_DELIVERIES, SHOW_REFUSALS, LiveModel
from pilot_desktop.ui.panes.live.opening import RowOpener
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
        self._hook_url: str | None = hook_url  # None: the receiver is not listening
        self._receiver_problem: str | None = None
        token = hook_url.rsplit("/", 1)[-1] or None  # shown `<token>` in refused paths
        self.marks = MarkFeed(reads)
        self._numbers: set[str] = set()
        self._names_stale = False  # a number's name may have come or changed
        self.follow = Follow()
        self._pointer_at: QPoint | None = None  # in the list's viewport; None: elsewhere
        self._pending_matching = 0  # what the "N new" badge counts: pending rows the filter shows
        self._waiting_shown = ""  # the badge's words when the empty state was last said

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
        self.bar = bar = LiveBar(self._filters_changed)
        self.pause_button, self.state_label, self.badge = bar.pause_button, bar.state_label, bar.badge
        self.pause_button.toggled.connect(self.set_paused)
        self.badge.clicked.connect(self.jump_to_newest)
        self.filters = bar.filters
        self.group_button, self.group_actions = self.filters.group_button, self.filters.group_actions
        self.number_combo, self.show_combo = self.filters.number_combo, self.filters.show_combo
        self.oldest_button, self.newest_button = bar.oldest_button, bar.newest_button
        self.oldest_button.clicked.connect(self.jump_to_oldest)
        self.newest_button.clicked.connect(self.jump_to_newest)
        self.count_label = bar.count_label

        self.table = QTableView()
        self.table.setModel(self.model)
        set_up_row_list(self.table, COLUMNS, _WIDTHS, stretch="Summary", row_height=22)  # arrival order
        self.detail = DetailView(hook_url)
        self.opener = RowOpener(self)
        # Following is the operator's choice (follow.py): only their own moves of the scroll
        # bar change it; a range changed by a resize or new rows keeps the newest in view.
        scroll = self.table.verticalScrollBar()
        scroll.actionTriggered.connect(self._scrolled_by_user)
        scroll.rangeChanged.connect(self._range_changed)
        # Held by the pointer only while a row is under it: moves inside the list re-decide.
        self.table.viewport().setMouseTracking(True)
        self.table.viewport().installEventFilter(self)

        self.empty_hint = EmptyHint(header.empty_text(hook_url, 0, 0))
        self.empty_hint.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.empty_hint.linkActivated.connect(lambda _link: self.refused_requested.emit(0))

        self.split = split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([600, 200])  # the rows first, in a low window too
        split.setCollapsible(0, False)
        self.detail.opened.connect(lambda: make_room_for_detail(split, self.table))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(bar)
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
        if self.follow.following:
            self.table.scrollToBottom()

    def on_changes(self, changes: Changes) -> None:
        """Writer listener (runs on the loop, which is the GUI thread): buffer only."""
        if changes.new_events:
            if len(self._pending) < PENDING_MAX:
                self._pending.extend(changes.new_events)
                flt = self.model.filter
                self._pending_matching += sum(1 for r in changes.new_events if flt.matches(r))
            else:
                # Held (paused, pointed at, a row selected) for long under heavy traffic: stop
                # holding rows in memory; the store has them and the release reloads from it.
                self._overflowed = True
        self._redelivered.update(changes.redelivered)
        self._names_stale = self._names_stale or bool(changes.numbers)
        self.marks.heard(changes)
        self._show_state()

    def flush(self, *, asked: bool = False) -> None:
        """Each tick: the state said as it is, then (unless held) the new rows put in.
        `asked`: the operator asked to see them (End, the badge): the pointer holds nothing."""
        self._show_state(asked=asked)
        if self.follow.held or self._loading:
            return
        if self._names_stale:
            self._show_number_names()
        if self._overflowed:
            self._pending.clear()
            self._start_load()
            return
        if self._pending:
            rows, self._pending = self._pending, []
            self._pending_matching = 0
            self._refresh_numbers(r.number_id for r in rows if r.number_id)
            self._follow(self.model.append(rows))
        self._place_marks()
        if self._redelivered:
            redelivered, self._redelivered = self._redelivered, {}
            self.model.update_deliveries(redelivered)
        self._update_count()
        self._show_state(asked=asked)

    def _show_state(self, *, asked: bool = False) -> None:
        """Recomputed, not remembered: whatever resizing, scrolling or selection did."""
        follow = self.follow
        follow.selected = self.table.selectionModel().hasSelection()
        follow.pointer = not asked and self._row_under_pointer()
        self.state_label.show_state(follow)
        badge = follow.badge(self._pending_matching, self._overflowed)
        self.badge.say(badge)
        if self._waiting_shown != badge and header.shows_empty_state(self.model):
            self._update_count()  # the empty state says what waits, not "waiting for the first"
        self._waiting_shown = badge

    def _row_under_pointer(self) -> bool:
        """A row (not the empty list, not the space below the last row) is under the pointer."""
        viewport = self.table.viewport()
        at = self._pointer_at
        return at is not None and viewport.underMouse() and self.table.indexAt(at).isValid()

    def _follow(self, added: int) -> None:
        if added:
            self._apply_spans()
            if self.follow.following:
                self.table.scrollToBottom()
            else:
                self.follow.unseen += added

    def _place_marks(self) -> None:
        added = self.marks.place(self.model)
        if added is None:
            self._start_load()  # the store keeps the newest 10,000 refusals: so does the list
            return
        self._follow(added)

    def _range_changed(self, _low: int, high: int) -> None:
        if self.follow.following and not self.follow.held:
            self.table.verticalScrollBar().setValue(high)

    def _scrolled_by_user(self, _action: int) -> None:
        # Emitted before the move applies; sliderPosition is where the bar is going.
        bar = self.table.verticalScrollBar()
        self._set_following(bar.sliderPosition() >= bar.maximum())

    def _set_following(self, following: bool) -> None:
        if following:
            self.follow.unseen = 0
        self.follow.following = following
        self._show_state()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.Enter, QEvent.Type.MouseMove) and isinstance(
            event, (QEnterEvent, QMouseEvent)
        ):
            self._pointer_at = event.position().toPoint()
        elif kind == QEvent.Type.Leave:
            self._pointer_at = None
        else:
            return super().eventFilter(watched, event)
        if self._row_under_pointer() != self.follow.pointer:
            self.flush()  # off the rows: what waited goes in now
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.follow.following and not self.follow.held:
            self.table.scrollToBottom()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._pointer_at = None  # no Leave comes to a hidden view

    def set_receiver(self, url: str | None, problem: str | None) -> None:
        """The receiver's address while it listens, else None and why: the empty state's curl
        hint and Copy as cURL only ever target this app's own listening receiver."""
        self._hook_url, self._receiver_problem = url, problem
        self.detail.set_receiver(url)
        self._update_count()

    def set_tail_rows(self, n: int) -> None:
        """ui.live_tail_rows, applied now (a smaller size trims the rows kept at once)."""
        self._tail_rows = n
        self.model.set_cache_rows(n)

    def _apply_spans(self) -> None:
        """Gap bands across the whole row."""
        self.table.clearSpans()
        for row in self.model.gap_rows():
            self.table.setSpan(row, 0, 1, len(COLUMNS))

    @property
    def paused(self) -> bool:
        return self.follow.paused

    def set_paused(self, paused: bool) -> None:
        self.follow.paused = paused
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.flush()

    def pending_count(self) -> int:
        return self._pending_matching

    def shutdown(self) -> None:
        self._load.cancel()  # a load still running must not draw
        self._timer.stop()

    # -- helpers ---------------------------------------------------------------------

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
            if known != self.model.numbers:
                self.model.set_numbers(known)
                fit_number_column(self.table, known.values())
            fill_numbers(self.number_combo, self._numbers, known)

    def _update_count(self) -> None:
        self.count_label.setText(header.count_text(self.model))
        if not header.shows_empty_state(self.model):
            self.empty_hint.hide()
        else:
            refused = self.recent_refusals()
            self.empty_hint.say(
                header.empty_text(
                    self._hook_url,
                    refused,
                    self.model.refusal_count,
                    token=self._token or "",
                    problem=self._receiver_problem,
                    waiting=self.badge.text() if self.badge.isVisibleTo(self) else "",
                    why=self.state_label.text(),
                )
            )

    def recent_refusals(self) -> int:
        return self.marks.recent()

    def open_timeline_of(self, event_id: int) -> bool:
        """Ask for the timeline of the message this event is a step of; say so when none."""
        return self.opener.open_timeline_of(event_id)

    def jump_to_oldest(self) -> None:
        if self.model.rowCount():
            self._set_following(False)
            self.table.scrollToTop()
            self.table.selectRow(0)

    def jump_to_newest(self) -> None:
        """End, Newest, the badge: show what waited and follow the stream (unpauses too)."""
        self.table.clearSelection()
        self.detail.show_event(None)
        self._set_following(True)
        if self.paused:
            self.set_paused(False)
        self.flush(asked=True)  # asked for: shown at once, even under the pointer
        self.table.scrollToBottom()
        self._show_state()

"""The Messages pane: one row per message, filtered and paged in SQLite, updated live.

The newest 200 matching messages load first (off the GUI thread), older pages follow when
the view scrolls to the bottom (keyset by id). Change descriptors are buffered and applied
once per tick: rows in view are re-read by id, and messages that newly match the filter
are inserted at their place while the user looks at the top of the list; further down,
an "N new" button says so instead of moving the rows under the reader.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QModelIndex, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import MessageChanges, MessageFilter, MessagePage, MessageRow, StuckRules
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui import messages
from pilot_desktop.ui.latest import LatestRead
from pilot_desktop.ui.number_names import load_names
from pilot_desktop.ui.panes.messages.badge import BadgeDelegate, MiddleElideDelegate
from pilot_desktop.ui.panes.messages.filters import FilterBar, count_text, empty_text
from pilot_desktop.ui.panes.messages.model import COLUMNS, MessagesModel
from pilot_desktop.ui.panes.messages.timeline import TimelineDialog
from pilot_desktop.ui.tables import EmptyHint, add_keys, move_selection, set_up_row_list

PAGE = 200
FLUSH_MS = 250
LIVE_KEEP = 1000  # rows kept while new ones are prepended at the top; older ones page in again
PENDING_MAX = 20_000  # changed ids held while hidden or busy; past this, reload
RELATIVE_REFRESH = 60.0  # seconds: "last hour" and "stuck" move with the clock
COUNT_CAP = 100_000
_WIDTHS = {
    "Status": 112, "Created": 96, "Number": 140, "Contact": 150, "Type": 52, "Sent→Delivered": 104,
    "Delivered→Read": 104, "Replies": 56, "Error": 150, "Notes": 100,
}  # fmt: skip


class MessagesPane(QWidget):
    def __init__(
        self,
        reads: Reads,
        stuck_rules: Callable[[], StuckRules] = StuckRules,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.reads = reads
        self._stuck_rules = stuck_rules
        self.filter = MessageFilter()
        self.search_text: str | None = None  # showing search results instead of the list
        self.loading = False
        self._loaded_once = False
        self._count = 0
        self._pending: set[int] = set()
        self._pending_events: set[int] = set()
        self._stale = False
        self._names_stale = False  # a number's name may have come or changed
        self._new_above: set[int] = set()  # matching messages waiting behind the "N new" button
        self._left: set[int] = set()  # shown rows that no longer match the filter
        self._loaded_at = 0.0
        # One list read at a time, the latest wins: a new filter or search supersedes a
        # load or a next page under way.
        self._reads: LatestRead[tuple[MessageFilter, int | None, MessagePage]] = LatestRead(
            self._page_read, self._page_failed
        )
        self._keep: int | None = None  # the message selected when the load started
        self.timeline: TimelineDialog | None = None
        self.model = MessagesModel(stuck_rules, self._fetch_more)
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    # -- widgets ---------------------------------------------------------------------

    def _build(self) -> None:
        self.filters = bar = FilterBar()
        bar.show_rules(self._stuck_rules())
        bar.filters_did_change.connect(self._filters_changed)
        bar.search_did_submit.connect(self.run_search)
        bar.search_did_clear.connect(self._search_cleared)
        bar.new_button.clicked.connect(self._show_new)
        bar.open_button.clicked.connect(self.open_selected)
        self.search_box, self.count_label, self.new_button = bar.search_box, bar.count_label, bar.new_button

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(COLUMNS.index("Status"), BadgeDelegate(self.table))
        self.table.setItemDelegateForColumn(COLUMNS.index("Number"), MiddleElideDelegate(self.table))
        set_up_row_list(self.table, COLUMNS, _WIDTHS, stretch="Text", row_height=24)  # newest first
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.doubleClicked.connect(self._row_activated)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: bar.open_button.setEnabled(self.selected_id() is not None)
        )
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)

        self.empty_hint = EmptyHint()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(bar)
        layout.addWidget(self.empty_hint)
        layout.addWidget(self.table, 1)

        add_keys(
            self,
            {
                "/": bar.focus_search,
                "J": lambda: move_selection(self.table, 1, newest_last=False),
                "K": lambda: move_selection(self.table, -1, newest_last=False),
            },
        )
        add_keys(self.table, {"Return": self.open_selected, "Enter": self.open_selected})

    # -- loading ---------------------------------------------------------------------

    async def load(self) -> None:
        """(Re)load the newest page of the filtered list without blocking the window."""
        self._start_load()
        await self._reads.settled()

    def _start_load(self) -> None:
        self._loaded_once = True
        self.loading = True
        self._pending.clear()  # committed so far: in what this load reads
        self._pending_events.clear()
        self._stale = False
        flt = self.filters.current_filter(time.time(), self._stuck_rules())
        self._keep = self.selected_id()
        if replace(flt, now=0) != replace(self.filter, now=0) or self.search_text is not None:
            self.count_label.setText("Loading…")  # a refresh of the same list keeps its count
        self._read_page(flt, None)

    def _read_page(self, flt: MessageFilter, before: int | None) -> None:
        page = functools.partial(self.reads.message_page, flt, before, size=PAGE, count_cap=COUNT_CAP)
        self._reads.start(lambda: (flt, before, page()))

    def _page_failed(self, exc: Exception) -> None:
        first = self.loading
        self.loading = self.model.fetching = False
        if first:
            self.count_label.setText("")
        messages.error(f"Could not load {'the' if first else 'older'} messages: {exc}")

    def _page_read(self, result: tuple[MessageFilter, int | None, MessagePage]) -> None:
        flt, before, page = result
        if before is not None:  # the next older page
            self.model.fetching = False
            if self.model.oldest_id == before:  # a live trim in between would leave a gap: drop it
                self.model.append_page(page.rows, page.dups, page.more)
            return
        self.filter, self.search_text = flt, None
        self._loaded_at = time.monotonic()
        self._show_rows(page.rows, page.dups, page.more)
        self._count = page.count or 0
        self.filters.add_numbers(page.numbers or [])
        self._show_number_names()
        self.loading = False
        if self._keep is not None:
            self.select_message(self._keep, scroll=False)
        self._update_labels()

    def _show_rows(self, rows: list[MessageRow], dups: dict[int, int], more: bool) -> None:
        """A new list (a load or a search): nothing new above, nothing left behind."""
        self._new_above.clear()
        self._left.clear()
        self.new_button.hide()
        self.model.fetching = False
        self.model.reset(rows, dups, more)

    def _fetch_more(self) -> None:
        """The view reached the bottom: load the next older page (keyset)."""
        if self.search_text is not None or self.loading:
            return
        self.model.fetching = True
        self._read_page(self.filter, self.model.oldest_id)

    def run_search(self, text: str) -> None:
        if not text:
            self._back_to_list()
            return
        self._reads.cancel()  # a list load still running must not replace the results
        self.loading = False
        try:
            rows = self.reads.search_messages(text)
            dups = self.reads.duplicate_counts([r.id for r in rows])
        except StoreError as exc:
            messages.error(f"Could not search the messages: {exc}")
            return
        self.search_text = text
        self._show_rows(rows, dups, more=False)
        if rows:
            self.table.selectRow(0)
        self._update_labels()

    def _search_cleared(self) -> None:
        if self.search_text is not None:
            self._back_to_list()

    def _back_to_list(self) -> None:
        if self.search_text is not None or not self._loaded_once:
            self.search_text = None
            self._start_load()

    def _filters_changed(self) -> None:
        if self.search_text is not None:
            self.search_text = None  # back to the list, filtered: one load, not two
            self.search_box.clear()
        self._start_load()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded_once:
            self._start_load()  # a hidden pane does no work until first shown
        else:
            self.flush()

    # -- live ------------------------------------------------------------------------

    def on_changes(self, changes: Changes) -> None:
        """Writer listener (on the loop, the GUI thread): buffer only."""
        if self.timeline is not None:
            self.timeline.note_changes(changes)
        if len(self._pending) + len(self._pending_events) > PENDING_MAX:
            self._stale = True
            self._pending.clear()
            self._pending_events.clear()
            return
        self._pending |= changes.messages
        self._pending_events.update(changes.redelivered)
        self._names_stale = self._names_stale or bool(changes.numbers)

    def _show_number_names(self) -> None:
        """Numbers by name in the table and the filter (a few rows: on the GUI thread)."""
        self._names_stale = False
        if (known := load_names(self.reads)) is not None:
            self.model.set_numbers(known)
            self.filters.set_number_names(known)

    def flush(self) -> None:
        if self.timeline is not None and self.timeline.isVisible():
            self.timeline.flush()
        if self.loading or not self._loaded_once or not self.isVisible():
            return
        if self._names_stale:
            self._show_number_names()
        if self._stale:
            self._start_load()
            return
        at_top = self.table.verticalScrollBar().value() == 0
        if (
            at_top
            and self.search_text is None
            and (self.filter.stuck is not None or self.filter.since is not None)
            and time.monotonic() - self._loaded_at > RELATIVE_REFRESH
        ):
            self._start_load()  # the clock moved the window: re-evaluate
            return
        if not (self._pending or self._pending_events):
            return
        ids, events = self._pending, self._pending_events
        self._pending, self._pending_events = set(), set()
        try:
            shown, oldest, more = set(self.model.ids()), self.model.oldest_id, self.model.more
            found = self.reads.message_changes(ids, events, self.filter, shown, oldest=oldest, more=more)
        except StoreError as exc:  # environmental: a full reload once it reads again
            self._stale = True
            messages.error(f"Could not update the messages: {exc}")
            return
        self._apply(found, at_top)

    def _apply(self, found: MessageChanges, at_top: bool) -> None:
        self.filters.add_numbers(found.numbers)
        if found.in_view:
            self.model.update_rows(found.in_view, found.in_view_dups)
        if self.search_text is not None:
            return
        if not self._is_unfiltered():
            self._track_leavers(found.in_view, found.still)
        if found.matching and at_top:
            self._recount(self.model.insert_rows(found.matching, found.matching_dups))
            if self.model.rowCount() > LIVE_KEEP:
                self.model.trim(LIVE_KEEP)
        elif found.matching:
            fresh = {r.id for r in found.matching} - self._new_above
            self._new_above |= fresh
            self._recount(len(fresh))
            self.filters.show_new(len(self._new_above))
        self._update_labels()

    def _track_leavers(self, in_view: list[MessageRow], still: set[int]) -> None:
        """Rows shown that moved out of the filter (e.g. Sent → Delivered under "Sent") stay
        where the reader saw them, greyed, and leave the count."""
        for r in in_view:
            if r.id not in still and r.id not in self._left:
                self._left.add(r.id)
                self._recount(-1)
            elif r.id in still and r.id in self._left:
                self._left.discard(r.id)
                self._recount(1)
        self.model.left_filter = set(self._left)

    def _recount(self, delta: int) -> None:
        if self._count < COUNT_CAP:  # past the cap the exact number is unknown: "100,000+"
            self._count = max(0, self._count + delta)

    def _scrolled(self, value: int) -> None:
        if value == 0 and self._new_above and not self.loading:
            self._start_load()

    def _show_new(self) -> None:
        self.table.scrollToTop()
        self._start_load()

    # -- labels ----------------------------------------------------------------------

    def _update_labels(self) -> None:
        n = self.model.rowCount()
        self.filters.open_button.setEnabled(self.selected_id() is not None)
        unfiltered = self._is_unfiltered()
        if self.search_text is not None:
            self.count_label.setText(f"{n:,} found (filters not applied)")
        else:
            self.count_label.setText(count_text(self._count, COUNT_CAP, unfiltered))
        stuck = self._stuck_rules() if self.filter.stuck is not None else None
        self.empty_hint.say(None if n else empty_text(self.search_text, unfiltered, stuck))

    def _is_unfiltered(self) -> bool:
        return self.filter == replace(MessageFilter(), now=self.filter.now)

    def show_stuck(self) -> None:
        """Only the stuck messages (all numbers, all time): what the status bar's count means."""
        self.search_box.clear()
        self.filters.choose_stuck()
        self._start_load()

    def stuck_rules(self) -> StuckRules:
        return self._stuck_rules()

    def set_stuck_rules(self, rules: Callable[[], StuckRules]) -> None:
        """Where the stuck deadlines come from (the settings); the list re-reads by them."""
        self._stuck_rules = rules
        self.model.set_stuck_rules(rules)
        self.filters.show_rules(rules())
        if self._loaded_once and self.filter.stuck is not None:
            self._start_load()

    # -- selection and the timeline -------------------------------------------------------

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        row = self.model.row_at(rows[0].row()) if rows else None
        return row.id if row is not None else None

    def select_message(self, message: int, *, scroll: bool = True) -> bool:
        pos = self.model.row_of(message)
        if pos is None:
            return False
        self.table.selectRow(pos)
        if scroll:
            self.table.scrollTo(self.model.index(pos, 0))
        return True

    def _row_activated(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self.open_timeline(row.id)

    def open_selected(self) -> None:
        message = self.selected_id()
        if message is not None:
            self.open_timeline(message)

    def open_timeline(self, message: int) -> TimelineDialog:
        """Show a message's timeline in the (one, non-modal) timeline window."""
        if self.timeline is None:
            self.timeline = TimelineDialog(self.reads, self.stuck_rules, parent=self.window())
        self.timeline.show_message(message)
        return self.timeline

    def shutdown(self) -> None:
        self._reads.cancel()  # reads still running must not draw
        self._timer.stop()
        if self.timeline is not None:
            self.timeline.shutdown()
            self.timeline.close()

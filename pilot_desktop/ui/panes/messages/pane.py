"""The Messages pane: one row per message, filtered and paged in SQLite, updated live.

The newest 200 matching messages load first (off the GUI thread), older pages follow when
the view scrolls to the bottom (keyset by id). Change descriptors are buffered and applied
once per tick: rows in view are re-read by id where they are.

Rows never move under the reader. New matching messages join the list only while nobody
is on it: the view at the top, the pointer not over the rows, no row selected and the
list in its live order (Created, newest first). Otherwise they wait behind the "N new"
badge; a click on it shows them, and they also come in by themselves once the reader
leaves (pointer out, selection cleared, at the top). The same rule holds the clock's
re-read of "last hour"/"stuck" lists.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.format import number_short
from pilot_desktop.core.phones import regions_of
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import MessageChanges, MessageFilter, MessagePage, MessageRow, StuckRules
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui import messages
from pilot_desktop.ui.latest import LatestRead
from pilot_desktop.ui.number_names import load_names
from pilot_desktop.ui.panes.messages.badge import BadgeDelegate
from pilot_desktop.ui.panes.messages.columns import WIDTHS, TextRoom, fit_headers, fit_names
from pilot_desktop.ui.panes.messages.filters import FilterBar, count_text, empty_text
from pilot_desktop.ui.panes.messages.hold import ReaderHold
from pilot_desktop.ui.panes.messages.model import COLUMNS, NATURAL, MessagesModel
from pilot_desktop.ui.panes.messages.timeline import TimelineDialog
from pilot_desktop.ui.panes.messages.timeline_windows import RowsAndTimelines, TimelineWindows
from pilot_desktop.ui.tables import EmptyHint, add_keys, move_selection, set_up_row_list

PAGE = 200
FLUSH_MS = 250
LIVE_KEEP = 1000  # rows kept while new ones are prepended at the top; older ones page in again
PENDING_MAX = 20_000  # changed ids held while hidden or busy; past this, reload
RELATIVE_REFRESH = 60.0  # seconds: "last hour" and "stuck" move with the clock
COUNT_CAP = 100_000


class MessagesPane(RowsAndTimelines, QWidget):
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
        self.timelines = TimelineWindows(
            lambda: TimelineDialog(self.reads, self.stuck_rules, parent=self.window())
        )
        self._regions: list[str] = []  # countries of the numbers' phones: national searches
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
        set_up_row_list(self.table, COLUMNS, WIDTHS, stretch="Text", row_height=24)  # newest first
        fit_headers(self.table)
        self.text_room = TextRoom(self.table, COLUMNS.index("Text"))
        self.table.horizontalHeader().setSortIndicator(*NATURAL)
        self.table.setSortingEnabled(True)  # sorts the loaded rows (model.sort)
        self.table.horizontalHeader().sortIndicatorChanged.connect(lambda *_: self._release())
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.doubleClicked.connect(self._row_activated)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.hold = ReaderHold(self.table, self.model.natural, self._release)
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
            self.filters.set_count("Loading…")  # a refresh of the same list keeps its count
        self._read_page(flt, None)

    def _read_page(self, flt: MessageFilter, before: int | None) -> None:
        page = functools.partial(self.reads.message_page, flt, before, size=PAGE, count_cap=COUNT_CAP)
        self._reads.start(lambda: (flt, before, page()))

    def _page_failed(self, exc: Exception) -> None:
        first = self.loading
        self.loading = self.model.fetching = False
        if first:
            self.filters.set_count("")
        messages.error(f"Could not load {'the' if first else 'older'} messages: {exc}")

    def _page_read(self, result: tuple[MessageFilter, int | None, MessagePage]) -> None:
        flt, before, page = result
        if before is not None:  # the next older page
            self.model.fetching = False
            if self.model.oldest_id == before:  # a live trim in between would leave a gap: drop it
                self.model.add_contact_names(page.names)
                self.model.append_page(page.rows, page.dups, page.more)
            return
        self.filter, self.search_text = flt, None
        self._loaded_at = time.monotonic()
        self.model.add_contact_names(page.names)
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
            rows = self.reads.search_messages(text, regions=self._regions)
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
        self.timelines.note_changes(changes)
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
            fit_names(self.table, COLUMNS.index("Number"), [number_short(n, known) for n in known])
            self.filters.set_number_names(known)
            self._regions = regions_of(phone for _, phone in known.values() if phone)

    def flush(self) -> None:
        self.timelines.flush()
        if self.loading or not self._loaded_once or not self.isVisible():
            return
        if self._names_stale:
            self._show_number_names()
        if self._stale:
            self._start_load()
            return
        at_top = not self.hold.held()
        if self._new_above and at_top and self.search_text is None:
            self._start_load()  # the reader left: what waited behind the badge comes in
            return
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
        if value == 0:
            self._release()

    # -- the reader's hold: rows never move under the pointer or the selection ------------

    def _release(self) -> None:
        """The hold may have ended: what waits behind the badge comes in (next tick)."""
        if self._new_above and not self.loading and self.isVisible() and not self.hold.held():
            self._start_load()

    def _selection_changed(self, *_: object) -> None:
        self.filters.open_button.setEnabled(self.selected_id() is not None)
        self._release()

    def _show_new(self) -> None:
        """The badge's click: the reader asked for the new rows, at the top of the list."""
        self.table.clearSelection()
        if not self.model.natural():
            self.table.horizontalHeader().setSortIndicator(*NATURAL)  # the live order again
        self.table.scrollToTop()
        self._start_load()

    # -- labels ----------------------------------------------------------------------

    def _update_labels(self) -> None:
        n = self.model.rowCount()
        self.filters.open_button.setEnabled(self.selected_id() is not None)
        unfiltered = self._is_unfiltered()
        if self.search_text is not None:
            self.filters.set_count(f"{n:,} found (filters not applied)")
        else:
            self.filters.set_count(count_text(self._count, COUNT_CAP, unfiltered))
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

    def shutdown(self) -> None:
        self._new_above.clear()  # nothing waits any more: closing never starts a load
        self._reads.cancel()  # reads still running must not draw
        self._timer.stop()
        self.timelines.shutdown()

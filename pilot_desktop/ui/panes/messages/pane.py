"""The Messages pane: one row per message, filtered and paged in SQLite, updated live.

The newest 200 matching messages load first (off the GUI thread), older pages follow when
the view scrolls to the bottom (keyset by id). Change descriptors are buffered and applied
once per tick: rows in view are re-read by id, and messages that newly match the filter
are inserted at their place while the user looks at the top of the list; further down,
an "N new" button says so instead of moving the rows under the reader.
"""

from __future__ import annotations

import asyncio
import html
import sqlite3
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.store import message_queries as mq
from pilot_desktop.store.db import connect
from pilot_desktop.store.message_queries import MessageFilter, MessageRow, StuckRules
from pilot_desktop.store.records import Changes
from pilot_desktop.ui import messages
from pilot_desktop.ui.number_names import load_names
from pilot_desktop.ui.panes.messages import style
from pilot_desktop.ui.panes.messages.badge import BadgeDelegate, MiddleElideDelegate
from pilot_desktop.ui.panes.messages.filters import SEARCH_HELP, FilterBar, count_text
from pilot_desktop.ui.panes.messages.model import COLUMNS, MessagesModel
from pilot_desktop.ui.panes.messages.timeline import TimelineDialog
from pilot_desktop.ui.tables import set_up_row_list

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


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[MessageRow]
    dups: dict[int, int]
    more: bool
    count: int | None = None
    numbers: list[str] | None = None


def read_page(db_path: Path, flt: MessageFilter, before_id: int | None, first: bool) -> Page:
    """One page (and, for the first, the count and the numbers). Runs in a worker thread
    with its own connection: a sparse filter may scan."""
    conn = connect(db_path, readonly=True)
    try:
        rows = mq.messages_page(conn, flt, PAGE + 1, before_id)
        page = rows[:PAGE]
        dups = mq.duplicate_counts(conn, [r.id for r in page])
        if not first:
            return Page(page, dups, len(rows) > PAGE)
        return Page(
            page, dups, len(rows) > PAGE, mq.count_messages(conn, flt, COUNT_CAP), mq.message_numbers(conn)
        )
    finally:
        conn.close()


class MessagesPane(QWidget):
    def __init__(
        self,
        db_path: Path,
        stuck_rules: Callable[[], StuckRules] = StuckRules,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.db_path = db_path
        self._conn: sqlite3.Connection = connect(db_path, readonly=True)
        self._stuck_rules = stuck_rules
        self.filter = MessageFilter()
        self.search_text: str | None = None  # showing search results instead of the list
        self.loading = False
        self._loaded_once = False
        self._generation = 0
        self._count = 0
        self._pending: set[int] = set()
        self._pending_events: set[int] = set()
        self._stale = False
        self._names_stale = False  # a number's name may have come or changed
        self._new_above: set[int] = set()  # matching messages waiting behind the "N new" button
        self._left: set[int] = set()  # shown rows that no longer match the filter
        self._loaded_at = 0.0
        self._tasks: set[asyncio.Future[None]] = set()
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

        self.empty_hint = QLabel()
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty_hint.setStyleSheet("QLabel { background: palette(base); padding: 12px; }")
        self.empty_hint.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(bar)
        layout.addWidget(self.empty_hint)
        layout.addWidget(self.table, 1)

        for key, slot in (
            ("/", bar.focus_search),
            ("J", lambda: self._move(1)),
            ("K", lambda: self._move(-1)),
            ("Return", self.open_selected),
            ("Enter", self.open_selected),
        ):
            sc = QShortcut(QKeySequence(key), self.table if key in ("Return", "Enter") else self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

    # -- loading ---------------------------------------------------------------------

    async def load(self) -> None:
        """(Re)load the newest page of the filtered list without blocking the window."""
        self._generation += 1
        generation = self._generation
        self._loaded_once = True
        self.loading = True
        self._pending.clear()  # committed so far: in what this load reads
        self._pending_events.clear()
        self._stale = False
        flt = self.filters.current_filter(time.time(), self._stuck_rules())
        keep = self.selected_id()
        if replace(flt, now=0) != replace(self.filter, now=0) or self.search_text is not None:
            self.count_label.setText("Loading…")  # a refresh of the same list keeps its count
        try:
            page = await asyncio.get_running_loop().run_in_executor(
                None, read_page, self.db_path, flt, None, True
            )
        except Exception as exc:
            if generation == self._generation:
                self.loading = False
                self.count_label.setText("")
                messages.error(f"Could not load the messages: {exc}")
            return
        if generation != self._generation:
            return  # superseded by a newer filter, a search, or shutdown
        self.filter, self.search_text = flt, None
        self._loaded_at = time.monotonic()
        self._new_above.clear()
        self._left.clear()
        self.new_button.hide()
        self.model.fetching = False
        self.model.reset(page.rows, page.dups, page.more)
        self._count = page.count or 0
        self.filters.add_numbers(page.numbers or [])
        self._show_number_names()
        self.loading = False
        if keep is not None:
            self.select_message(keep, scroll=False)
        self._update_labels()

    def _fetch_more(self) -> None:
        """The view reached the bottom: load the next older page (keyset)."""
        if self.search_text is not None or self.loading:
            return
        self.model.fetching = True
        self._spawn(self._load_more())

    async def _load_more(self) -> None:
        generation, flt, before = self._generation, self.filter, self.model.oldest_id
        try:
            page = await asyncio.get_running_loop().run_in_executor(
                None, read_page, self.db_path, flt, before, False
            )
        except Exception as exc:
            if generation == self._generation:
                self.model.fetching = False
                messages.error(f"Could not load older messages: {exc}")
            return
        if generation != self._generation:
            return
        self.model.fetching = False
        if self.model.oldest_id == before:  # a live trim in between would leave a gap: drop it
            self.model.append_page(page.rows, page.dups, page.more)

    def run_search(self, text: str) -> None:
        if not text:
            self._back_to_list()
            return
        self._generation += 1  # a list load still running must not replace the results
        self.loading = False
        rows = mq.search(self._conn, text)
        self.search_text = text
        self._left.clear()
        self._new_above.clear()
        self.new_button.hide()
        self.model.fetching = False
        self.model.reset(rows, mq.duplicate_counts(self._conn, [r.id for r in rows]), more=False)
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

    def _start_load(self) -> None:
        self._spawn(self.load())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # the loop holds tasks weakly
        task.add_done_callback(self._tasks.discard)

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
        if (known := load_names(self._conn)) is not None:
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
        ids, self._pending = self._pending, set()
        if self._pending_events:
            ids |= mq.messages_of_events(self._conn, self._pending_events)
            self._pending_events = set()
        self._apply(ids, at_top)

    def _apply(self, ids: set[int], at_top: bool) -> None:
        changed = mq.messages_by_ids(self._conn, ids)
        # A new reply changes its original's reply count without naming it.
        targets = {r.reply_to for r in changed if r.reply_to is not None} - ids
        shown = [t for t in targets if self.model.row_of(t) is not None]
        if shown:
            changed += mq.messages_by_ids(self._conn, shown)
        self.filters.add_numbers(r.number_id for r in changed if r.number_id)
        in_view = [r for r in changed if self.model.row_of(r.id) is not None]
        if in_view:
            self.model.update_rows(in_view, mq.duplicate_counts(self._conn, [r.id for r in in_view]))
        if self.search_text is not None:
            return
        self._track_leavers(in_view)
        oldest = self.model.oldest_id
        candidates = [
            r.id
            for r in changed
            if self.model.row_of(r.id) is None and (oldest is None or r.id > oldest or not self.model.more)
        ]
        matching = mq.messages_by_ids(self._conn, candidates, self.filter) if candidates else []
        if matching and at_top:
            added = self.model.insert_rows(
                matching, mq.duplicate_counts(self._conn, [r.id for r in matching])
            )
            self._recount(added)
            if self.model.rowCount() > LIVE_KEEP:
                self.model.trim(LIVE_KEEP)
        elif matching:
            fresh = {r.id for r in matching} - self._new_above
            self._new_above |= fresh
            self._recount(len(fresh))
            self.filters.show_new(len(self._new_above))
        self._update_labels()

    def _track_leavers(self, in_view: list[MessageRow]) -> None:
        """Rows shown that moved out of the filter (e.g. Sent → Delivered under "Sent") stay
        where the reader saw them, greyed, and leave the count."""
        if not in_view or self._is_unfiltered():
            return
        still = {r.id for r in mq.messages_by_ids(self._conn, [r.id for r in in_view], self.filter)}
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
        if self.search_text is not None:
            self.count_label.setText(f"{n:,} found (filters not applied)")
            self._set_empty(
                None
                if n
                else f"<b>No message matches “{html.escape(self.search_text)}”.</b> {SEARCH_HELP} "
                "Clear the search (Esc) to return to the list."
            )
            return
        self.count_label.setText(count_text(self._count, COUNT_CAP, self._is_unfiltered()))
        if n:
            self._set_empty(None)
        elif self._is_unfiltered():
            self._set_empty(
                "<b>No messages yet.</b> This list is built from message events (message.sent, "
                "delivered, read, failed, received, reply). Subscribe your numbers' webhooks to them "
                "in the Webhooks tab; each message then gets a row and a timeline (double-click)."
            )
        elif self.filter.stuck is not None:
            rules = self._stuck_rules()
            self._set_empty(
                f"<b>Nothing is stuck.</b> No message has been queued for over "
                f"{style.duration(rules.queued_after)} or sent without a delivery for over "
                f"{style.duration(rules.sent_after)} (within the other filters)."
            )
        else:
            self._set_empty(
                "<b>No messages match these filters.</b> Choose “All statuses” and “All time” to see all."
            )

    def _is_unfiltered(self) -> bool:
        return self.filter == replace(MessageFilter(), now=self.filter.now)

    def _set_empty(self, text: str | None) -> None:
        self.empty_hint.setVisible(text is not None)
        if text is not None:
            self.empty_hint.setText(text)

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
            self.timeline = TimelineDialog(self.db_path, self.stuck_rules, parent=self.window())
        self.timeline.show_message(message)
        return self.timeline

    def _move(self, step: int) -> None:
        n = self.model.rowCount()
        if n:
            current = self.table.currentIndex().row()
            self.table.selectRow(max(0, min(n - 1, (current if current >= 0 else -1) + step)))

    def shutdown(self) -> None:
        self._generation += 1  # loads still running must not touch closed connections
        for task in list(self._tasks):
            task.cancel()
        self._timer.stop()
        if self.timeline is not None:
            self.timeline.shutdown()
            self.timeline.close()
        self._conn.close()

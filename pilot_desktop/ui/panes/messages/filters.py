"""The Messages pane's bar: status, number and time filters, the search box, the count.

Two rows, so nothing is drawn over anything at 640 px: the filters (and Timeline…) above,
the search box with the "N new" badge and the count below; the count is an ElidedLabel
(elided at the end, the whole text in its tooltip) that gives way before the search box."""

from __future__ import annotations

import html
from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.format import duration
from pilot_desktop.store.read_models import MessageFilter, NumberNames, StuckRules
from pilot_desktop.ui.elided import ElidedLabel
from pilot_desktop.ui.number_names import fill_numbers
from pilot_desktop.ui.panes.messages.status_picker import STUCK, StatusPicker

RANGES = (("All time", None), ("Last hour", 3600), ("Last 24 hours", 86400), ("Last 7 days", 7 * 86400))
SEARCH_HELP = (
    "Search takes an internal id, a correlationId, a provider messageId (wamid…), "
    "#<event number> (with the #: a bare number is never read as an event) or a phone "
    "number in any format, national ones in the country of your numbers."
)


class FilterBar(QWidget):
    filters_did_change = Signal()
    search_did_submit = Signal(str)
    search_did_clear = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_picker = StatusPicker()
        self.status_picker.did_change.connect(self.filters_did_change)
        self.number_combo = QComboBox()
        self.number_combo.setMinimumContentsLength(14)
        self.number_combo.addItem("All numbers", None)
        self.number_combo.setToolTip("Show the messages of one number")
        self.range_combo = QComboBox()
        for label, seconds in RANGES:
            self.range_combo.addItem(label, seconds)
        self.range_combo.setToolTip("By the time of the message's first event")
        for combo in (self.number_combo, self.range_combo):
            combo.currentIndexChanged.connect(self.filters_did_change)
        self._numbers: set[str] = set()
        self._names: NumberNames = {}

        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search any id or phone, then Enter  ( / )")
        self.search_box.setToolTip(SEARCH_HELP)
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMinimumWidth(180)
        self.search_box.returnPressed.connect(
            lambda: self.search_did_submit.emit(self.search_box.text().strip())
        )
        self.search_box.textChanged.connect(
            lambda text: None if text.strip() else self.search_did_clear.emit()
        )
        esc = QShortcut(QKeySequence("Escape"), self.search_box)
        esc.setContext(Qt.ShortcutContext.WidgetShortcut)
        esc.activated.connect(self.search_box.clear)

        self.new_button = QPushButton()
        self.new_button.setObjectName("newMessages")
        self.new_button.setStyleSheet(
            "#newMessages { background: #dd6b20; color: white; border-radius: 8px; padding: 1px 10px; }"
        )
        self.new_button.setToolTip("New messages arrived above; show them")
        self.new_button.hide()
        self.count_label = ElidedLabel("Loading…", min_width=60)
        self.count_label.setStyleSheet("color: palette(mid);")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.open_button = QPushButton("Timeline…")
        self.open_button.setToolTip("Open the selected message's timeline (Enter, or double-click a row)")
        self.open_button.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.status_picker)
        top.addWidget(self.number_combo)
        top.addWidget(self.range_combo)
        top.addStretch(1)
        top.addWidget(self.open_button)
        second = QHBoxLayout()
        second.addWidget(self.search_box, 3)
        second.addWidget(self.new_button)
        second.addWidget(self.count_label, 1)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(4)
        rows.addLayout(top)
        rows.addLayout(second)

    def set_count(self, text: str) -> None:
        self.count_label.setText(text)
        self.count_label.setToolTip(text)

    def current_filter(self, now: float, rules: StuckRules) -> MessageFilter:
        seconds = self.range_combo.currentData()
        return MessageFilter(
            statuses=self.status_picker.statuses(),
            number_id=self.number_combo.currentData(),
            since=now - seconds if seconds else None,
            stuck=rules if self.status_picker.stuck() else None,
            now=now,
        )

    def choose_stuck(self) -> None:
        """Stuck, all numbers, all time; without signalling (the caller reloads once)."""
        for combo in (self.number_combo, self.range_combo):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.status_picker.choose(STUCK, signal=False)

    def show_rules(self, rules: StuckRules) -> None:
        self.status_picker.show_rules(
            f"Queued over {duration(rules.queued_after)} or sent without a delivery over "
            f"{duration(rules.sent_after)}"
        )

    def add_numbers(self, numbers: Iterable[str]) -> None:
        new = [n for n in dict.fromkeys(numbers) if n not in self._numbers]
        if not new:
            return
        self._numbers.update(new)
        self._fill_numbers()

    def set_number_names(self, known: NumberNames) -> None:
        if known != self._names:
            self._names = known
            self._fill_numbers()

    def _fill_numbers(self) -> None:
        fill_numbers(self.number_combo, self._numbers, self._names)

    def show_new(self, n: int) -> None:
        self.new_button.setText(f"↑ {n:,} new")
        self.new_button.setVisible(n > 0)

    def focus_search(self) -> None:
        self.search_box.setFocus()
        self.search_box.selectAll()


def count_text(count: int, cap: int, unfiltered: bool) -> str:
    """'1,234 messages', '3 matching messages', '100,000+ messages'."""
    capped = count >= cap
    total = f"{cap:,}+" if capped else f"{max(count, 0):,}"
    noun = "message" if count == 1 and not capped else "messages"
    return f"{total} {noun}" if unfiltered else f"{total} matching {noun}"


def empty_text(search: str | None, unfiltered: bool, stuck: StuckRules | None) -> str:
    """What the list says when nothing is in it: for a search, with no filter, under
    "Stuck" (`stuck`: the deadlines), or under other filters."""
    if search is not None:
        return (
            f"<b>No message matches “{html.escape(search)}”.</b>{bare_number_note(search)} {SEARCH_HELP} "
            "Clear the search (Esc) to return to the list."
        )
    if unfiltered:
        return (
            "<b>No messages yet.</b> This list is built from message events (message.sent, "
            "delivered, read, failed, received, reply). Subscribe your numbers' webhooks to them "
            "in the Webhooks tab; each message then gets a row and a timeline (double-click)."
        )
    if stuck is not None:
        return (
            f"<b>Nothing is stuck.</b> No message has been queued for over "
            f"{duration(stuck.queued_after)} or sent without a delivery for over "
            f"{duration(stuck.sent_after)} (within the other filters)."
        )
    return "<b>No messages match these filters.</b> Choose “All statuses” and “All time” to see all."


def bare_number_note(search: str) -> str:
    """Why a bare number found nothing: it is never read as an event number."""
    if not search.strip().isdigit():
        return ""
    n = html.escape(search.strip())
    return f" A bare number is never read as an event number: write “#{n}” for event {n}."

"""The Delivery tab: per-number funnel (sent → delivered → read, failed) and latencies.

It reads the message projection through the store's read facade in a worker thread, and
only while it is the visible tab: a change descriptor that touches messages marks it
stale, and a timer recomputes at most every THROTTLE_S seconds (docs/craft.md, habit 16). The
periods slide with the clock, so a visible tab also refreshes every STALE_S seconds.
"""

from __future__ import annotations

import functools
import html
import logging
import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.format import duration, number_label, number_tip, percent, when
from pilot_desktop.store.read_models import FunnelSnapshot, NumberFunnel, NumberNames
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui.number_names import fill_numbers
from pilot_desktop.ui.panes.funnel.charts import FunnelChart, LatencyHistogram
from pilot_desktop.ui.panes.funnel.deadlines import DeadlinesDialog
from pilot_desktop.ui.panes.funnel.stats import (
    DEFAULT_PERIOD,
    PERIODS,
    latencies,
    steps,
)
from pilot_desktop.ui.refresh import Refresher
from pilot_desktop.ui.tables import read_only_table

log = logging.getLogger(__name__)

THROTTLE_S = 2.0  # at most one recomputation this often, however busy the stream
BUSY_SHARE = 0.2  # and a worker busy at most this share of the time (long periods, big stores)
STALE_S = 60.0  # the periods slide: recompute a visible tab this often anyway

TABLE_COLUMNS = ("Number", "Sent", "Delivered %", "Read %", "Failed %", "Median delivery")
_TABLE_TIPS = (
    "The number that sent the messages (double-click to show only it)",
    "Outbound messages that reached at least 'sent'",
    "Delivered (or read), as a share of the number's outbound messages first seen in the period",
    "Read, as a share of the number's outbound messages first seen in the period",
    "Failed, as a share of the number's outbound messages first seen in the period",
    "Median time from sent to delivered",
)
EMPTY_WHAT = (
    "<p>For the messages your numbers send: how many were sent, delivered, read or failed, "
    "and how long delivery and reading took (median and 90th percentile), per number and "
    "period.</p><p>They come from the <code>message.sent</code>, <code>message.delivered</code>, "
    "<code>message.read</code> and <code>message.failed</code> webhooks: subscribe your numbers "
    "to them in the Webhooks tab, then send a message.</p>"
)
EMPTY_NEVER = "<h3>Delivery figures appear here</h3>" + EMPTY_WHAT
ReadDeadlines = Callable[[], tuple[int, int]]
ApplyDeadlines = Callable[[int, int], str | None]


class _Cell(QTableWidgetItem):
    """A table cell that sorts by a value, not by its text ("9.5%" < "10.0%")."""

    def __init__(self, text: str, key: float | str | None) -> None:
        super().__init__(text)
        self.key = key
        if not isinstance(key, str):
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.key, getattr(other, "key", None)
        if mine is None or theirs is None:
            return theirs is not None  # blanks first
        if isinstance(mine, str) or isinstance(theirs, str):
            return str(mine) < str(theirs)
        return mine < theirs


class DeliveryPane(QWidget):
    def __init__(self, reads: Reads, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reads = reads
        self.snapshot: FunnelSnapshot | None = None
        self.dialog: DeadlinesDialog | None = None
        self._read_deadlines: ReadDeadlines | None = None
        self._apply_deadlines: ApplyDeadlines | None = None
        self._build()
        self._refresh: Refresher[FunnelSnapshot] = Refresher(
            self, self._job, self.show_snapshot, self._failed,
            throttle_s=THROTTLE_S, stale_s=STALE_S, busy_share=BUSY_SHARE,
        )  # fmt: skip

    # -- widgets ---------------------------------------------------------------------

    def _build(self) -> None:
        self.number_combo = QComboBox()
        self.number_combo.setMinimumContentsLength(18)
        self.number_combo.addItem("All numbers", None)
        self.number_combo.setToolTip("Figures for every number together, or for one")
        self.number_combo.currentIndexChanged.connect(self._choice_changed)
        self.period_combo = QComboBox()
        for label, _ in PERIODS:
            self.period_combo.addItem(label)
        self.period_combo.setCurrentIndex(DEFAULT_PERIOD)
        self.period_combo.setToolTip("Outbound messages first seen in this period")
        self.period_combo.currentIndexChanged.connect(self._choice_changed)
        self.updated_label = QLabel("")
        self.updated_label.setStyleSheet("color: palette(mid);")
        self.deadlines_button = QPushButton("Deadlines…")
        self.deadlines_button.setToolTip("When a message counts as stuck (the Stuck count in the status bar)")
        self.deadlines_button.clicked.connect(self.edit_deadlines)
        self.deadlines_button.setEnabled(False)  # until the settings are attached
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Number:"))
        bar.addWidget(self.number_combo)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Period:"))
        bar.addWidget(self.period_combo)
        bar.addStretch(1)
        bar.addWidget(self.updated_label)
        bar.addWidget(self.deadlines_button)

        self.empty_hint = QLabel("Loading…")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty_hint.setStyleSheet("QLabel { background: palette(base); padding: 16px; }")
        self.empty_hint.setTextFormat(Qt.TextFormat.RichText)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.funnel_chart = FunnelChart()
        self.delivered_chart = LatencyHistogram("No delivery measured in this period")
        self.read_chart = LatencyHistogram("No read receipt measured in this period")
        self.read_note = QLabel(
            "Contacts who turned read receipts off never send one: their messages stay at delivered."
        )
        self.read_note.setWordWrap(True)
        self.read_note.setStyleSheet("color: palette(mid);")
        charts = QHBoxLayout()
        charts.setSpacing(24)
        charts.addWidget(self.delivered_chart, 1)
        charts.addWidget(self.read_chart, 1)

        self.table_title = QLabel("<b>By number</b>")
        self.table = read_only_table(TABLE_COLUMNS)
        for i, tip in enumerate(_TABLE_TIPS):
            header = self.table.horizontalHeaderItem(i)
            if header is not None:
                header.setToolTip(tip)
        hh = self.table.horizontalHeader()
        hh.setSortIndicator(0, Qt.SortOrder.AscendingOrder)  # by number until the user sorts
        self.table.setSortingEnabled(True)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, len(TABLE_COLUMNS)):
            hh.setSectionResizeMode(i, QHeaderView.ResizeMode.Interactive)
            hh.resizeSection(i, 120)
        self.table.setMinimumHeight(120)
        self.table.cellDoubleClicked.connect(self._table_row_chosen)

        content = QWidget()
        col = QVBoxLayout(content)
        col.setContentsMargins(6, 6, 6, 6)
        col.setSpacing(10)
        col.addWidget(self.summary)
        col.addWidget(self.funnel_chart)
        col.addWidget(_rule())
        col.addLayout(charts, 1)
        col.addWidget(self.read_note)
        col.addWidget(self.table_title)
        col.addWidget(self.table, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_hint)
        self.stack.addWidget(scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

    # -- data flow -------------------------------------------------------------------

    def on_changes(self, changes: Changes) -> None:
        """Writer listener (on the loop): mark stale only; the refresher recomputes."""
        if changes.messages:
            self._refresh.mark_dirty()

    def _job(self) -> Callable[[], FunnelSnapshot]:
        """The figures for the current choice, read in a worker thread."""
        number = self.number_combo.currentData()
        period = PERIODS[self.period_combo.currentIndex()][1]
        return functools.partial(self.reads.funnel_snapshot, number, period, time.time())

    def _failed(self, exc: Exception) -> None:  # the store is environmental: say so, keep the window
        log.warning("delivery figures: %s", exc)
        self.updated_label.setText("Could not read the figures")
        self.updated_label.setToolTip(str(exc))

    async def settled(self) -> None:
        """Wait until the computation under way, if any, is drawn (tests, shutdown)."""
        await self._refresh.settled()

    def show_snapshot(self, snap: FunnelSnapshot) -> None:
        self.snapshot = snap
        self._update_numbers(snap.numbers, snap.names)
        self.updated_label.setText(f"updated {when(snap.until)}")
        self.updated_label.setToolTip("")
        f = snap.funnel
        period = self.period_combo.currentText().lower()
        who = "all numbers" if snap.number is None else html.escape(number_label(snap.number, snap.names))
        if f.total == 0:
            sender = "any number" if snap.number is None else who
            self.empty_hint.setText(
                EMPTY_NEVER
                if not snap.numbers
                else f"<h3>No outbound messages from {sender} in the {period}</h3>"
                "<p>Choose a longer period or another number to see earlier ones.</p>" + EMPTY_WHAT
            )
            self.stack.setCurrentIndex(0)
            return
        self.summary.setText(
            f"<b>{f.total:,}</b> outbound message{'s' if f.total != 1 else ''} first seen in the "
            f"{period}, {who}. Rates are shares of them; a read message counts as sent and delivered too."
        )
        self.funnel_chart.set_steps(steps(f))
        to_delivered, to_read = latencies(f)
        self.delivered_chart.set_latency(to_delivered)
        self.read_chart.set_latency(to_read)
        self._fill_table(snap.per_number, snap.names)
        shown = snap.number is None
        self.table_title.setVisible(shown)
        self.table.setVisible(shown)
        self.stack.setCurrentIndex(1)

    def _fill_table(self, rows: list[NumberFunnel], known: NumberNames) -> None:
        self.table.setSortingEnabled(False)  # or rows move while being filled
        self.table.setRowCount(len(rows))
        for r, s in enumerate(rows):
            label = number_label(s.number, known)
            number = _Cell(label, label.lower())
            number.setData(Qt.ItemDataRole.UserRole, s.number)  # what a double-click chooses
            number.setToolTip(number_tip(s.number, known))
            cells = (
                number,
                _Cell(f"{s.sent:,}", s.sent),
                _Cell(percent(s.delivered), s.delivered),
                _Cell(percent(s.read), s.read),
                _Cell(percent(s.failed), s.failed),
                _Cell(duration(s.median_delivery), s.median_delivery),
            )
            for c, cell in enumerate(cells):
                self.table.setItem(r, c, cell)
        self.table.setSortingEnabled(True)

    def _update_numbers(self, numbers: list[str], known: NumberNames) -> None:
        chosen = [self.number_combo.itemData(i) for i in range(1, self.number_combo.count())]
        fill_numbers(self.number_combo, [*chosen, *numbers], known)  # a chosen number stays, even if gone

    def _choice_changed(self) -> None:
        self._refresh.now()

    def _table_row_chosen(self, row: int, _column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            number = item.data(Qt.ItemDataRole.UserRole)
            self.number_combo.setCurrentIndex(max(0, self.number_combo.findData(number)))

    # -- choices ---------------------------------------------------------------------

    def set_period(self, index: int) -> None:
        if 0 <= index < self.period_combo.count():
            self.period_combo.setCurrentIndex(index)

    def set_deadlines(self, read: ReadDeadlines, apply: ApplyDeadlines) -> None:
        """Enable "Deadlines…": `read()` gives (queued, sent) minutes, `apply` saves new ones."""
        self._read_deadlines, self._apply_deadlines = read, apply
        self.deadlines_button.setEnabled(True)

    def edit_deadlines(self) -> None:
        if self._read_deadlines is None or self._apply_deadlines is None:
            return
        queued, sent = self._read_deadlines()
        self.dialog = DeadlinesDialog(self, queued, sent, self._apply_deadlines)
        # open(), not exec(): a nested event loop would stall the receiver on this loop.
        self.dialog.open()

    def shutdown(self) -> None:
        self._refresh.shutdown()
        if self.dialog is not None:
            self.dialog.close()


def _rule() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line

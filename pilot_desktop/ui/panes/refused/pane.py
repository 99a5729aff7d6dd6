"""The Refused tab: every request the receiver refused, newest first, and why.

The store keeps the newest 10,000 refusals (store/schema.py); this tab reads those of the
chosen period in a worker thread while it is visible, again when the writer says new ones
were recorded (at most every THROTTLE_S), and draws only the latest answer (ui/refresh.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QItemSelection, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes, RejectionRow
from pilot_desktop.ui import messages
from pilot_desktop.ui.number_names import load_names
from pilot_desktop.ui.panes.refused.detail import RefusalDetail
from pilot_desktop.ui.panes.refused.model import COLUMNS, RefusedModel
from pilot_desktop.ui.refresh import Refresher
from pilot_desktop.ui.tables import EmptyHint, add_keys, move_selection, set_up_row_list

THROTTLE_S = 1.0
STALE_S = 30.0  # "last hour" slides
SHOWN = 10_000
PERIODS = (("Last hour", 3600.0), ("Last 24 hours", 86400.0), ("All kept", None))
_WIDTHS = {"Time": 100, "Status": 60, "Route": 160, "Number": 130, "Body": 70}
EMPTY = (
    "<b>No refused requests{period}.</b> When the receiver refuses a request (a wrong token in "
    "the URL, a signature that does not check out, a body that is not a JSON event, one too "
    "large), it answers with an error and records it here: when, the route, the status, the "
    "reason, the headers and the start of the body. For signature failures it also says which "
    "secrets were tried and whether the body was changed on the way."
)

Loaded = tuple[list[RejectionRow], float | None, bool]


class RefusedPane(QWidget):
    def __init__(self, reads: Reads, hook_url: str = "", parent: QWidget | None = None) -> None:
        """`hook_url`: this window's receiver; its token reads `<token>` in refused paths."""
        super().__init__(parent)
        self.reads = reads
        self._token = hook_url.rsplit("/", 1)[-1] or None
        self._wanted: int | None = None  # a refusal to select once it is drawn
        self.model = RefusedModel()

        self.period_combo = QComboBox()
        for label, seconds in PERIODS:
            self.period_combo.addItem(label, seconds)
        self.period_combo.setCurrentIndex(1)
        self.period_combo.currentIndexChanged.connect(self.reload)
        self.deliveries_box = QCheckBox("Deliveries only")
        self.deliveries_box.setChecked(True)
        self.deliveries_box.setToolTip(
            "Only POSTs to this receiver's /hooks/ URL (webhook deliveries); unchecked, also stray "
            "requests such as scanners"
        )
        self.deliveries_box.toggled.connect(self.reload)
        self.count_label = QLabel("Loading…")
        self.count_label.setStyleSheet("color: palette(mid);")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.period_combo)
        bar.addWidget(self.deliveries_box)
        bar.addStretch(1)
        bar.addWidget(self.count_label)

        self.table = QTableView()
        self.table.setModel(self.model)
        set_up_row_list(self.table, COLUMNS, _WIDTHS, stretch="Reason", row_height=22)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.empty_hint = EmptyHint()
        self.detail = RefusalDetail()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.empty_hint)
        layout.addWidget(split, 1)
        add_keys(
            self,
            {
                "J": lambda: move_selection(self.table, 1, newest_last=False),
                "K": lambda: move_selection(self.table, -1, newest_last=False),
            },
        )
        self.refresher: Refresher[Loaded] = Refresher(
            self, self._job, self._draw, self._failed, throttle_s=THROTTLE_S, stale_s=STALE_S
        )

    # -- data flow -----------------------------------------------------------------------
    def on_changes(self, changes: Changes) -> None:
        if changes.rejections:
            self.refresher.mark_dirty()

    def reload(self) -> None:
        self.refresher.now()

    async def settled(self) -> None:
        await self.refresher.settled()

    def shutdown(self) -> None:
        self.refresher.shutdown()

    def select(self, rejection_id: int | None) -> None:
        """Show this refusal (from Live or the status bar); widen the period if it is older."""
        self._wanted = rejection_id
        self.reload()

    def _job(self) -> Callable[[], Loaded]:
        span = self.period_combo.currentData()
        deliveries = self.deliveries_box.isChecked()
        since = None if span is None else time.time() - span

        def read() -> Loaded:
            return self.reads.rejections(SHOWN, since, deliveries, token=self._token), span, deliveries

        return read

    def _failed(self, exc: Exception) -> None:
        messages.error(f"Could not read the refused requests: {exc}")

    def _draw(self, loaded: Loaded) -> None:
        rows, span, deliveries = loaded
        chosen = self._selected_id() if self._wanted is None else self._wanted
        if (known := load_names(self.reads)) is not None:
            self.model.numbers = known
        self.model.set_rows(rows)
        what = "refused deliveries" if deliveries else "refused requests"
        more = f" (the newest {SHOWN:,})" if len(rows) >= SHOWN else ""
        self.count_label.setText(f"{len(rows):,} {what}{more}")
        period = "" if span is None else f" in the {self.period_combo.currentText().lower()}"
        self.empty_hint.say(EMPTY.format(period=period) if not rows else None)
        row = self.model.row_of(chosen) if chosen is not None else None
        if row is None and self._wanted is not None:  # older, or a stray request: widen
            if span is not None:
                self.period_combo.setCurrentIndex(len(PERIODS) - 1)  # reloads
                return
            if deliveries:
                self.deliveries_box.setChecked(False)  # reloads
                return
        if row is not None:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
            self._wanted = None
        else:
            self._wanted = None
            self.detail.show_refusal(None)

    def _selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()].id if rows else None

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = selected.indexes()
        if not rows:
            return
        ident = self.model.rows[rows[0].row()].id
        try:
            self.detail.show_refusal(self.reads.rejection_detail(ident, self._token))
        except StoreError as exc:
            messages.error(f"Could not read refusal #{ident}: {exc}")

"""Live's bar: pause, the follow state and its "N new" badge, the filters, the count and the
jumps. Controls keep their place when the badge comes and goes (its room is kept); in a
window too narrow for one row the filters move to a second row instead of widening it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from pilot_desktop.ui.elided import ElidedLabel
from pilot_desktop.ui.panes.live.filters import Filters
from pilot_desktop.ui.panes.live.follow import Badge, StateLabel


class LiveBar(QWidget):
    def __init__(self, filters_changed: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the view; events are still received and stored (Space)")
        self.state_label = StateLabel()
        self.badge = Badge()
        self.filters = Filters(filters_changed)
        for combo, chars in ((self.filters.number_combo, 12), (self.filters.show_combo, 20)):
            # Long number names are elided in the box, listed whole when it opens.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(chars)
        self.oldest_button = QPushButton("⇤ Oldest")
        self.oldest_button.setToolTip("Jump to the oldest stored event (Home)")
        self.newest_button = QPushButton("Newest ⇥")
        self.newest_button.setToolTip("Jump to the newest event and follow the stream (End)")
        # Elided, not widening the window: "12,345 events · 3 refused · 2 gaps" can be long.
        self.count_label = ElidedLabel("Loading history…", min_width=60)
        self.count_label.setStyleSheet("color: palette(mid);")

        self.filter_box = QWidget()
        show = QHBoxLayout(self.filter_box)
        show.setContentsMargins(0, 0, 0, 0)
        show.addSpacing(12)
        show.addWidget(QLabel("Show:"))
        show.addWidget(self.filters.group_button)
        show.addWidget(self.filters.number_combo)
        show.addWidget(self.filters.show_combo)

        self.first = QHBoxLayout()
        self.first.addWidget(self.pause_button)
        self.first.addWidget(self.state_label)
        self.first.addWidget(self.badge)
        self.first.addWidget(self.filter_box)
        self.first.addStretch(1)
        self.first.addWidget(self.count_label)
        self.first.addWidget(self.oldest_button)
        self.first.addWidget(self.newest_button)
        self.second = QHBoxLayout()
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.addLayout(self.first)
        rows.addLayout(self.second)
        self.two_rows = False

    def _first_row(self) -> list[QWidget]:
        return [
            self.pause_button,
            self.state_label,
            self.badge,
            self.count_label,
            self.oldest_button,
            self.newest_button,
        ]

    def _one_row_width(self) -> int:
        widgets = [*self._first_row(), self.filter_box]
        spacing = self.first.spacing() * (len(widgets) + 1)
        count = self.count_label  # elided when short of room: counted at its least
        return sum(w.sizeHint().width() for w in widgets) + spacing - count.sizeHint().width() + 120

    def minimumSizeHint(self) -> QSize:
        # Two rows at the narrowest: the bar never holds the window wider than the first row.
        width = sum(w.minimumSizeHint().width() for w in self._first_row()) + self.first.spacing() * 7
        width = max(width, self.filter_box.minimumSizeHint().width())
        return QSize(width, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        two = event.size().width() < self._one_row_width()
        if two != self.two_rows:
            self.two_rows = two
            if two:
                self.first.removeWidget(self.filter_box)
                self.second.addWidget(self.filter_box)
                self.second.addStretch(1)
            else:
                self.second.removeWidget(self.filter_box)
                while self.second.count():
                    self.second.takeAt(0)
                self.first.insertWidget(3, self.filter_box)
        super().resizeEvent(event)

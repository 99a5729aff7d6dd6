"""Status bar: receiver state, events per minute, age of the last event, database size."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from pilot_desktop.store.queries import database_size
from pilot_desktop.store.records import Changes
from pilot_desktop.ui.format import age, size

REFRESH_MS = 1000


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.demo_label = QLabel("DEMO")
        self.demo_label.setStyleSheet(
            "color: #744210; background: #fefcbf; padding: 0 6px; font-weight: bold;"
        )
        self.demo_label.setToolTip("Events come from the built-in sandbox, not from a real account")
        self.demo_label.hide()
        self.addPermanentWidget(self.demo_label)
        self.receiver_label = QLabel("Receiver: starting…")
        self.rate_label = QLabel("0 events/min")
        self.last_label = QLabel("last event: never")
        self.db_label = QLabel("DB: –")
        for w in (self.receiver_label, self.rate_label, self.last_label, self.db_label):
            w.setContentsMargins(6, 0, 6, 0)
            self.addPermanentWidget(w)
        # (second, count) buckets: constant memory however fast events arrive.
        self._buckets: deque[list[int]] = deque()
        self._last_event_at: float | None = None
        self._db_path: Path | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def set_receiver(self, url: str | None, error: str | None = None) -> None:
        if error:
            self.receiver_label.setText("● Receiver stopped")
            self.receiver_label.setStyleSheet("color: #c53030;")
            self.receiver_label.setToolTip(error)
        elif url:
            shown = url.rsplit("/", 1)[0] + "/…"  # keep the token out of screenshots
            self.receiver_label.setText(f"● Listening {shown}")
            self.receiver_label.setStyleSheet("color: #2f855a;")
            self.receiver_label.setToolTip(f"Webhooks go to {url}")

    def set_demo(self, on: bool) -> None:
        self.demo_label.setVisible(on)

    def set_database(self, path: Path) -> None:
        self._db_path = path
        self.db_label.setToolTip(str(path))

    def seed(self, per_second: list[tuple[int, int]], last_event_at: float | None) -> None:
        self._buckets.extend([sec, n] for sec, n in sorted(per_second))
        self._last_event_at = last_event_at
        self.refresh()

    def on_changes(self, changes: Changes) -> None:
        for row in changes.new_events:
            sec = int(row.received_at)
            if self._buckets and self._buckets[-1][0] == sec:
                self._buckets[-1][1] += 1
            else:
                self._buckets.append([sec, 1])
        if changes.new_events:
            self._last_event_at = changes.new_events[-1].received_at

    def refresh(self) -> None:
        now = time.time()
        while self._buckets and self._buckets[0][0] < now - 60:
            self._buckets.popleft()
        self.rate_label.setText(f"{sum(n for _, n in self._buckets):,} events/min")
        self.last_label.setText(f"last event: {age(self._last_event_at, now)}")
        if self._db_path is not None:
            self.db_label.setText(f"DB {size(database_size(self._db_path))}")

    def shutdown(self) -> None:
        self._timer.stop()

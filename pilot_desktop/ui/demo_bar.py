"""The demo bar: says the window shows sandbox data. Collapsible to one short line (a
small toggle), remembered in window.ini; the DEMO label in the status bar and the title
stay either way."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from pilot_desktop.ui.elided import ElidedLabel

KEY = "demo/collapsed"
SHORT = "Demo mode: sandbox data, nothing is sent to WhatsApp."


class DemoBar(QFrame):
    collapsed_changed = Signal(bool)
    link_clicked = Signal(str)

    def __init__(self, state: QSettings) -> None:
        super().__init__()
        self.setObjectName("demoBar")
        self.setStyleSheet(
            "#demoBar { background: #fefcbf; border-bottom: 1px solid #ecc94b; }"
            " #demoBar QLabel { color: #744210; } #demoBar QToolButton { color: #744210; border: none; }"
        )
        self._state = state
        self.collapsed: bool = state.value(KEY) in (True, "true")
        self.full = QLabel()
        self.full.setWordWrap(True)
        self.full.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.full.linkActivated.connect(self.link_clicked)  # "leave the demo" (ui/live_settings.py)
        self.short = ElidedLabel(SHORT)
        self.short.setToolTip(SHORT)
        self.toggle = QToolButton()
        self.toggle.setAutoRaise(True)
        self.toggle.clicked.connect(lambda: self.set_collapsed(not self.collapsed))
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 4, 4)
        row.addWidget(self.full, 1)
        row.addWidget(self.short, 1)
        row.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)
        self._apply()
        self.hide()

    def setText(self, text: str) -> None:  # a QLabel's name: callers treat it as one
        self.full.setText(text)

    def text(self) -> str:
        return self.full.text()

    def set_collapsed(self, collapsed: bool) -> None:
        if collapsed == self.collapsed:
            return
        self.collapsed = collapsed
        self._state.setValue(KEY, collapsed)
        self._state.sync()
        self._apply()
        self.collapsed_changed.emit(collapsed)

    def _apply(self) -> None:
        self.full.setVisible(not self.collapsed)
        self.short.setVisible(self.collapsed)
        self.toggle.setText("Show more" if self.collapsed else "Hide")
        self.toggle.setToolTip(
            "Show what the demo is and how to monitor your own numbers"
            if self.collapsed
            else "Fold this note to one line (remembered)"
        )

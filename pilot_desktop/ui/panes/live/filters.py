"""Live's filters: which event groups, which number, deliveries and/or refusals."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QMenu, QStyle, QToolButton

from pilot_desktop.core.catalogue import GROUP_LABELS
from pilot_desktop.store.read_models import EventFilter
from pilot_desktop.ui.panes.live.header import SHOW_CHOICES


class MenuButton(QToolButton):
    """A button that opens a menu, wide enough for its text AND the menu arrow (the style
    draws the arrow over the text's end otherwise: "All event▾")."""

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        arrow = self.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, self)
        return QSize(hint.width() + arrow + 4, hint.height())

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()


class Filters:
    def __init__(self, changed: Callable[[], None]) -> None:
        self.group_button = MenuButton()
        self.group_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.group_button)
        self.group_actions: dict[str, QAction] = {}
        for key, label in GROUP_LABELS.items():
            act = QAction(label, menu, checkable=True, checked=True)
            act.toggled.connect(changed)
            menu.addAction(act)
            self.group_actions[key] = act
        self.group_button.setMenu(menu)
        self.group_button.setText("All events")
        self.group_button.setToolTip("Show only some event groups")

        self.number_combo = QComboBox()
        self.number_combo.setMinimumContentsLength(16)
        self.number_combo.addItem("All numbers", None)
        self.number_combo.setToolTip("Show only the events (and refused deliveries) of one number")
        self.number_combo.currentIndexChanged.connect(changed)

        self.show_combo = QComboBox()
        for label, mode in SHOW_CHOICES:
            self.show_combo.addItem(label, mode)
        self.show_combo.setToolTip(
            "Webhooks stored, deliveries the receiver refused (red, ⊘), or both; gaps show in all"
        )
        self.show_combo.currentIndexChanged.connect(changed)

    def current(self) -> EventFilter:
        chosen = frozenset(k for k, a in self.group_actions.items() if a.isChecked())
        groups = frozenset() if chosen == frozenset(GROUP_LABELS) else chosen
        return EventFilter(groups=groups, number_id=self.number_combo.currentData())

    def mode(self) -> str:
        return str(self.show_combo.currentData())

    def relabel(self) -> None:
        chosen = [a.text() for a in self.group_actions.values() if a.isChecked()]
        if len(chosen) == len(self.group_actions):
            self.group_button.setText("All events")
        elif len(chosen) == 1:
            self.group_button.setText(chosen[0])
        else:
            self.group_button.setText(f"{len(chosen)} groups")

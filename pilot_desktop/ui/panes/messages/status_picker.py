"""The Messages pane's status filter: any set of statuses (Queued and Canceled included),
or only the stuck messages. A button with a menu of checkable statuses; the menu stays
open while ticking several."""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import QMenu, QStyle, QToolButton, QWidget

from pilot_desktop.core.lifecycle import CANCELED, DELIVERED, FAILED, QUEUED, READ, RECEIVED, SENT
from pilot_desktop.ui.panes.messages import style

STUCK = "stuck"
STATUS_ORDER = (QUEUED, SENT, DELIVERED, READ, FAILED, CANCELED, RECEIVED)


class _StayOpenMenu(QMenu):
    """Ticking a status keeps the menu open, so several can be chosen in one go."""

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        action = self.activeAction()
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


class StatusPicker(QToolButton):
    did_change = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolTip("Show messages by their current status (tick several), or only the stuck ones")
        menu = _StayOpenMenu(self)
        self.all_action = menu.addAction("All statuses")
        self.all_action.triggered.connect(lambda: self.choose(None))
        menu.addSeparator()
        self.actions_by_status: dict[str, QAction] = {}
        for status in STATUS_ORDER:
            action = menu.addAction(style.status_text(status))
            action.setCheckable(True)
            action.setToolTip(style.STATUS_HELP.get(status, ""))
            action.toggled.connect(self._status_toggled)
            self.actions_by_status[status] = action
        menu.addSeparator()
        self.stuck_action = menu.addAction("⏱ Stuck only")
        self.stuck_action.setCheckable(True)
        self.stuck_action.toggled.connect(self._stuck_toggled)
        menu.setToolTipsVisible(True)
        self.setMenu(menu)
        self._quiet = False
        self._label()

    def sizeHint(self) -> QSize:
        """Room for the menu's arrow on both sides of the centred text: the style draws it
        in the corner, over the last letter otherwise."""
        hint = super().sizeHint()
        arrow = self.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, self)
        return QSize(hint.width() + 2 * arrow, hint.height())

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def statuses(self) -> frozenset[str]:
        if self.stuck():
            return frozenset()
        return frozenset(s for s, a in self.actions_by_status.items() if a.isChecked())

    def stuck(self) -> bool:
        return self.stuck_action.isChecked()

    def choose(self, value: str | frozenset[str] | None, *, signal: bool = True) -> None:
        """Choose exactly: None (all), STUCK, one status or a set of them."""
        wanted: frozenset[str] = (
            frozenset() if value in (None, STUCK) else frozenset({value}) if isinstance(value, str) else value
        )
        self._quiet = True
        try:
            self.stuck_action.setChecked(value == STUCK)
            for status, action in self.actions_by_status.items():
                action.setChecked(status in wanted)
        finally:
            self._quiet = False
        self._changed(signal)

    def show_rules(self, text: str) -> None:
        self.stuck_action.setToolTip(text)

    def _status_toggled(self, on: bool) -> None:
        if self._quiet:
            return
        if on and self.stuck_action.isChecked():
            self._quiet = True
            self.stuck_action.setChecked(False)  # statuses and "stuck only" exclude each other
            self._quiet = False
        self._changed(True)

    def _stuck_toggled(self, on: bool) -> None:
        if self._quiet:
            return
        if on:
            self._quiet = True
            for action in self.actions_by_status.values():
                action.setChecked(False)
            self._quiet = False
        self._changed(True)

    def _changed(self, signal: bool) -> None:
        self._label()
        if signal:
            self.did_change.emit()

    def _label(self) -> None:
        chosen = [s for s in STATUS_ORDER if self.actions_by_status[s].isChecked()]
        if self.stuck():
            text = "⏱ Stuck"
        elif not chosen:
            text = "All statuses"
        elif len(chosen) <= 2:
            text = ", ".join(style.status_text(s) for s in chosen)
        else:
            text = f"{len(chosen)} statuses"
        self.setText(text)
        self.all_action.setEnabled(bool(chosen) or self.stuck())

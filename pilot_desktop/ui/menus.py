"""The menu bar and the window's shortcuts.

File: Send test message…, Settings… (Ctrl+,), Close window (Ctrl+W: to the tray when
close-to-tray is on and there is a tray, like the window's close button), Quit (Ctrl+Q: the
same staged shutdown as the tray's Quit). View: the panes (Ctrl+1…6), next and previous
(Ctrl+Tab / Ctrl+PgDown, Ctrl+Shift+Tab / Ctrl+PgUp). Help: Keyboard shortcuts (F1, the map
of every shortcut, ui/shortcuts.py) and About.

The shortcuts live on the menu bar's actions, so they work wherever the focus is in the
window (a table, the search field) and the menus show them.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QTabWidget

from pilot_desktop import __version__


@dataclass
class Menus:
    send: QAction
    settings: QAction
    close: QAction
    quit: QAction
    panes: list[QAction]
    next_pane: QAction
    previous_pane: QAction
    keys: QAction
    about: QAction


def _action(menu: QMenu, text: str, keys: list[str]) -> QAction:
    action = menu.addAction(text)
    action.setShortcuts([QKeySequence(k) for k in keys])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    return action


def pane_actions(menu: QMenu, tabs: QTabWidget) -> list[QAction]:
    """One per pane (Ctrl+1…9), named and switched by its place, as the tab bar shows it."""
    actions = []
    for i in range(min(tabs.count(), 9)):
        action = _action(menu, tabs.tabText(i), [f"Ctrl+{i + 1}"])
        action.setStatusTip(f"Show the {tabs.tabText(i)} pane")
        action.triggered.connect(lambda _=False, i=i: tabs.setCurrentIndex(i))
        actions.append(action)
    return actions


def step_pane(tabs: QTabWidget, step: int) -> None:
    """The next or previous pane, round the end."""
    if tabs.count():
        tabs.setCurrentIndex((tabs.currentIndex() + step) % tabs.count())


def build_menus(window: QMainWindow, tabs: QTabWidget) -> Menus:
    """The menu bar over `window`'s panes; the caller connects what the File items do."""
    bar = window.menuBar()
    file = bar.addMenu("&File")
    send = _action(file, "Send test message…", [])
    settings = _action(file, "Settings…", ["Ctrl+,"])
    file.addSeparator()
    close = _action(file, "Close window", ["Ctrl+W"])
    quit_ = _action(file, "Quit", ["Ctrl+Q"])
    quit_.setMenuRole(QAction.MenuRole.QuitRole)
    view = bar.addMenu("&View")
    panes = pane_actions(view, tabs)
    view.addSeparator()
    next_pane = _action(view, "Next pane", ["Ctrl+Tab", "Ctrl+PgDown"])
    next_pane.triggered.connect(lambda: step_pane(tabs, 1))
    previous_pane = _action(view, "Previous pane", ["Ctrl+Shift+Tab", "Ctrl+PgUp"])
    previous_pane.triggered.connect(lambda: step_pane(tabs, -1))
    help_ = bar.addMenu("&Help")
    keys = _action(help_, "Keyboard shortcuts", ["F1"])
    about = _action(help_, "About Pilot Desktop", [])
    about.setMenuRole(QAction.MenuRole.AboutRole)
    about.triggered.connect(lambda: show_about(window))
    return Menus(send, settings, close, quit_, panes, next_pane, previous_pane, keys, about)


def show_about(window: QMainWindow) -> None:
    QMessageBox.about(
        window,
        "About Pilot Desktop",
        f"<b>Pilot Desktop</b> {__version__}<br>A desktop monitor for Pilot Status WhatsApp numbers: "
        "webhooks received, stored and shown live.",
    )

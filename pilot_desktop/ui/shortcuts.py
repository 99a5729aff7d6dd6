"""The one keyboard map (Help > Keyboard shortcuts, F1).

Built when it opens, from what the window really has: the menu bar's actions (with all their
keys) and every QShortcut inside each pane, found by walking the pane, so a shortcut added to
a pane is listed without anyone remembering to. Descriptions of pane keys live here, in
PANE_KEYS, by pane title and key; a pane shortcut not described there is still listed, as
NOT_DESCRIBED (a test keeps the app free of those). Keys a pane handles in its own
keyPressEvent and keys of dialogs cannot be found that way; they are in HANDLED_KEYS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMenu,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

NOT_DESCRIBED = "(not described)"

# Shortcuts the panes make (ui/tables.py's add_keys, QShortcut): pane title -> key -> what.
PANE_KEYS: dict[str, dict[str, str]] = {
    "Live": {
        "Space": "Pause or follow the newest events",
        "J": "Select the next (newer) event",
        "K": "Select the previous (older) event",
        "Home": "Jump to the oldest event",
        "End": "Jump to the newest event and follow",
    },
    "Messages": {
        "/": "Search",
        "Esc": "Clear the search (in the search field)",
        "J": "Select the next message",
        "K": "Select the previous message",
        "Return": "Open the selected message's timeline",
        "Enter": "Open the selected message's timeline",
    },
    "Refused": {
        "J": "Select the next refused delivery",
        "K": "Select the previous refused delivery",
    },
}
# Keys handled without a QShortcut (keyPressEvent) or in dialogs: section -> key -> what.
HANDLED_KEYS: dict[str, dict[str, str]] = {
    "Numbers": {"J Down": "Select the next number", "K Up": "Select the previous number"},
    "Message timeline": {"Alt+Left": "Back to the message shown before"},
}  # several keys for one thing: separated by spaces


@dataclass(frozen=True)
class Row:
    section: str
    keys: tuple[str, ...]  # as shown: ("Ctrl+Tab", "Ctrl+PgDown")
    what: str

    @property
    def shown(self) -> str:
        return ", ".join(self.keys)


def key_text(sequence: QKeySequence) -> str:
    return sequence.toString(QKeySequence.SequenceFormat.NativeText)


def _menu_rows(window: QMainWindow) -> Iterator[Row]:
    def walk(actions: list[QAction], section: str) -> Iterator[Row]:
        for action in actions:
            menu = action.menu()
            if isinstance(menu, QMenu):
                yield from walk(menu.actions(), section or action.text().replace("&", ""))
            elif keys := [key_text(k) for k in action.shortcuts() if not k.isEmpty()]:
                what = action.statusTip() or action.text().replace("&", "").rstrip("…")
                yield Row(section, tuple(keys), what)

    yield from walk(window.menuBar().actions(), "")


def _pane_rows(window: QMainWindow, tabs: QTabWidget) -> Iterator[Row]:
    for i in range(tabs.count()):
        title, pane = tabs.tabText(i).replace("&", ""), tabs.widget(i)
        if pane is None:
            continue
        described = PANE_KEYS.get(title, {})
        seen: dict[str, list[str]] = {}  # what -> keys, in the order found
        for shortcut in pane.findChildren(QShortcut):
            parent = shortcut.parent()
            if not shortcut.isEnabled() or not isinstance(parent, QWidget) or parent.window() is not window:
                continue  # a dialog's (listed under its own name), or switched off
            key = shortcut.key().toString(QKeySequence.SequenceFormat.PortableText)
            what = described.get(key) or shortcut.whatsThis() or NOT_DESCRIBED
            keys = seen.setdefault(what, [])
            if key_text(shortcut.key()) not in keys:
                keys.append(key_text(shortcut.key()))
        for what, keys in seen.items():
            yield Row(title, tuple(keys), what)
        for handled, what in HANDLED_KEYS.get(title, {}).items():
            yield Row(title, tuple(handled.split()), what)
    titles = {tabs.tabText(i) for i in range(tabs.count())}
    for section, described_keys in HANDLED_KEYS.items():
        if section not in titles:
            for handled, what in described_keys.items():
                yield Row(section, tuple(handled.split()), what)


def keyboard_map(window: QMainWindow, tabs: QTabWidget) -> list[Row]:
    """Every shortcut of the window: the menus' first, then each pane's, then dialogs'."""
    return [*_menu_rows(window), *_pane_rows(window, tabs)]


def sheet_html(rows: list[Row]) -> str:
    """One table (the keys' column lines up across sections), a heading row per section."""
    out, section = ["<table cellspacing='0' cellpadding='3'>"], None
    for row in rows:
        if row.section != section:
            section = row.section
            pad = "padding-top:12px; " if len(out) > 1 else ""
            out.append(f"<tr><td colspan='2' style='{pad}font-size:large'><b>{escape(section)}</b></td></tr>")
        out.append(
            f"<tr><td style='padding-right:18px; white-space:nowrap'><b>{escape(row.shown)}</b></td>"
            f"<td>{escape(row.what)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


class ShortcutSheet(QDialog):
    """The keyboard map in a scrollable, non-modal window (re-read each time it opens)."""

    def __init__(self, window: QMainWindow, tabs: QTabWidget) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self._window, self._tabs = window, tabs
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        col = QVBoxLayout(self)
        col.addWidget(self.text, 1)
        col.addWidget(buttons)
        room = window.screen().availableGeometry()
        self.resize(min(480, room.width() - 40), min(560, room.height() - 80))
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)

    def reload(self) -> None:
        self.rows = keyboard_map(self._window, self._tabs)
        self.text.setHtml(sheet_html(self.rows))

    def plain(self) -> str:
        return self.text.toPlainText()

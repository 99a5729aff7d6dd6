"""The window reopens where the operator left it, even after a release adds a tab."""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QSettings

from pilot_desktop.store.db import open_store
from pilot_desktop.store.reads import Reads
from pilot_desktop.ui.app import make_app
from pilot_desktop.ui.main_window import MainWindow


def window(folder: Path) -> MainWindow:
    make_app()
    return MainWindow(Reads(open_store(folder)), "http://127.0.0.1:1/hooks/t", folder / "window.ini")


def dispose(w: MainWindow) -> None:
    w.shutdown()
    w.deleteLater()
    gc.collect()


def names(w: MainWindow) -> list[str]:
    return [w.tabs.tabText(i) for i in range(w.tabs.count())]


def test_the_tab_left_is_reopened_by_its_title(tmp_path: Path) -> None:
    w = window(tmp_path)
    w.tabs.setCurrentIndex(names(w).index("Numbers"))
    w.close()  # saves the window's state
    dispose(w)
    # A later release put a new tab before it: the saved index now names another tab.
    QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat).setValue("window/tab", 1)
    again = window(tmp_path)
    again.restore_tab()
    assert again.tabs.tabText(again.tabs.currentIndex()) == "Numbers"
    dispose(again)


def test_a_file_from_before_titles_were_saved_uses_the_index(tmp_path: Path) -> None:
    state = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    state.setValue("window/tab", 2)
    state.sync()
    w = window(tmp_path)
    w.restore_tab()
    assert w.tabs.currentIndex() == 2
    dispose(w)

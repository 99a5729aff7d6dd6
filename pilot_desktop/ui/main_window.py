"""The main window: a thin composition of the panes, the banner and the status bar."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.ui import messages
from pilot_desktop.ui.banner import Banner
from pilot_desktop.ui.panes.live.pane import LivePane
from pilot_desktop.ui.status_bar import StatusBar

ICON = Path(__file__).parent / "icons" / "app.svg"


def _hook_url_row(hook_url: str) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    field = QLineEdit(hook_url, readOnly=True)
    copy = QPushButton("Copy")
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(hook_url))
    row.addWidget(field, 1)
    row.addWidget(copy)
    return box


def placeholder(title: str, text: str, hook_url: str | None = None) -> QWidget:
    """A pane that a later feature fills; says what will be here and what to do now."""
    page = QWidget()
    col = QVBoxLayout(page)
    col.setContentsMargins(40, 40, 40, 40)
    head = QLabel(f"<h2>{title}</h2>")
    body = QLabel(text)
    body.setWordWrap(True)
    col.addWidget(head)
    col.addWidget(body)
    if hook_url:
        col.addWidget(QLabel("This app's webhook URL (through your tunnel, replace the host):"))
        col.addWidget(_hook_url_row(hook_url))
    col.addStretch(1)
    return page


class MainWindow(QMainWindow):
    window_did_close = Signal()

    def __init__(
        self,
        db_path: Path | None,
        hook_url: str,
        state_file: Path,
        *,
        tail_rows: int = 5000,
        store_error: str | None = None,
        guide_url: str | None = None,
    ) -> None:
        """`hook_url` is this window's receiver; `guide_url` the one to give Pilot Status
        (the real receiver's, also while the demo runs on its own throwaway receiver)."""
        super().__init__()
        self.setWindowTitle("Pilot Desktop")
        self.setWindowIcon(QIcon(str(ICON)))
        self._state = QSettings(str(state_file), QSettings.Format.IniFormat)
        self.banner = Banner()
        self.demo_bar = QLabel()
        self.demo_bar.setObjectName("demoBar")
        self.demo_bar.setWordWrap(True)
        self.demo_bar.setStyleSheet(
            "#demoBar { background: #fefcbf; color: #744210; border-bottom: 1px solid #ecc94b;"
            " padding: 6px 10px; }"
        )
        self.demo_bar.hide()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.live: LivePane | None = None
        self.webhooks: QWidget | None = None
        if db_path is not None:
            self.live = LivePane(db_path, hook_url, tail_rows=tail_rows)
            self.tabs.addTab(self.live, "Live")
        else:
            self.tabs.addTab(placeholder("The database could not be opened", store_error or "", None), "Live")
        self.tabs.addTab(
            placeholder(
                "Webhooks",
                "Subscribing numbers to events from here comes with account connection, in a "
                "later version. Until then, create a webhook in the Pilot Status dashboard "
                "pointing at your tunnel's public URL followed by the path below.",
                guide_url or hook_url,
            ),
            "Webhooks",
        )
        self.tabs.addTab(
            placeholder(
                "Messages", "Per-message timelines (sent → delivered → read, or failed and why) appear here."
            ),
            "Messages",
        )
        self.tabs.addTab(
            placeholder("Numbers", "Connection status of each WhatsApp number and its history appear here."),
            "Numbers",
        )
        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.demo_bar)
        col.addWidget(self.banner)
        col.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        if db_path is not None:
            self.status.set_database(db_path)
        messages.bus.message_did_post.connect(self._on_message)
        self._restore()

    def set_webhooks_pane(self, pane: QWidget) -> None:
        """Replace the Webhooks placeholder once the core (accounts, receiver) is up."""
        index = 1
        old = self.tabs.widget(index)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, pane, "Webhooks")
        if old is not None:
            old.deleteLater()
        self.webhooks = pane
        self.restore_tab()

    def restore_tab(self) -> None:
        """Reopen the tab the operator left (read once; a bad value is ignored)."""
        try:
            index = int(self._restore_tab) if self._restore_tab is not None else 0
        except (TypeError, ValueError):
            index = 0
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def show_demo(self, sandbox: Sandbox | None, problem: str | None = None) -> None:
        """Label everything as demo data, say how to get real traffic instead, and say so
        when the sandbox could not start (the demo folder is shown all the same)."""
        self.setWindowTitle("Pilot Desktop — DEMO (sandbox data)")
        source = (
            f"the built-in Pilot Status sandbox ({len(sandbox.numbers)} simulated numbers at "
            f"{sandbox.base_url})"
            if sandbox
            else f"the built-in Pilot Status sandbox, which could not start: {html.escape(problem or '')}"
        )
        self.demo_bar.setText(
            f"<b>Demo mode.</b> These events come from {source}, not from a real account; nothing "
            "is sent to WhatsApp and demo data is kept apart from your real history. "
            "To monitor your own numbers, add your API key in the Webhooks tab (Add account…) "
            "and restart, or start <code>pilot-desktop --no-demo</code> (from the project: "
            "<code>make run ARGS=--no-demo</code>)."
        )
        self.demo_bar.show()
        self.status.set_demo(True)

    def _on_message(self, level: str, text: str, details: str) -> None:
        if level == "info":
            self.status.showMessage(text, 5000)
        else:
            self.banner.show_message(level, text, details)

    def _restore(self) -> None:
        geometry = self._state.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        self._restore_tab = self._state.value("window/tab")  # applied once the panes exist
        header = self._state.value("live/header")
        if self.live is not None and isinstance(header, QByteArray):
            self.live.table.horizontalHeader().restoreState(header)

    def _save(self) -> None:
        self._state.setValue("window/geometry", self.saveGeometry())
        self._state.setValue("window/tab", self.tabs.currentIndex())
        if self.live is not None:
            self._state.setValue("live/header", self.live.table.horizontalHeader().saveState())
        self._state.sync()

    def shutdown(self) -> None:
        """Stop timers and close read connections; async cleanup happens in the main."""
        messages.bus.message_did_post.disconnect(self._on_message)
        self.status.shutdown()
        if self.live is not None:
            self.live.shutdown()
        shutdown = getattr(self.webhooks, "shutdown", None)
        if shutdown is not None:
            shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save()
        event.accept()
        self.window_did_close.emit()

"""The main window: a thin composition of the panes, the banners, the menu bar (ui/menus.py)
and the status bar."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QMainWindow,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.send import Sender, Sent
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui import messages
from pilot_desktop.ui.banner import Banner
from pilot_desktop.ui.demo_bar import DemoBar
from pilot_desktop.ui.menus import build_menus
from pilot_desktop.ui.panes.funnel.pane import DeliveryPane
from pilot_desktop.ui.panes.live.pane import LivePane
from pilot_desktop.ui.panes.messages.pane import MessagesPane
from pilot_desktop.ui.panes.messages.timeline import TimelineDialog
from pilot_desktop.ui.panes.messages.timeline_windows import LIVE, SEND
from pilot_desktop.ui.panes.numbers.pane import NumbersPane
from pilot_desktop.ui.panes.refused.pane import RefusedPane
from pilot_desktop.ui.placeholder import placeholder
from pilot_desktop.ui.refusal_watch import RefusalWatch
from pilot_desktop.ui.send_dialog import SendDialog
from pilot_desktop.ui.shortcuts import ShortcutSheet
from pilot_desktop.ui.status_bar import StatusBar

ICON = Path(__file__).parent / "icons" / "app.svg"


class MainWindow(QMainWindow):
    window_did_close = Signal()
    settings_requested = Signal()  # File > Settings… (Ctrl+,); ui/app.py opens the dialog
    quit_requested = Signal()  # File > Quit (Ctrl+Q): `quit_app`, the tray's Quit too

    def __init__(
        self,
        reads: Reads | None,
        hook_url: str,
        state_file: Path,
        *,
        tail_rows: int = 5000,
        store_error: str | None = None,
        guide_url: str | None = None,
    ) -> None:
        """`reads`: the store (None when it could not be opened: `store_error` says why);
        `hook_url` is this window's receiver; `guide_url` the one to give Pilot Status
        (the real receiver's, also while the demo runs on its own throwaway receiver)."""
        super().__init__()
        self.setWindowTitle("Pilot Desktop")
        self.setWindowIcon(QIcon(str(ICON)))
        self._state = QSettings(str(state_file), QSettings.Format.IniFormat)
        self.banner = Banner()
        self.notice_banner = Banner()  # number notifications when there is no tray (ui/tray.py)
        self._title_status = ""
        self.hide_on_close: Callable[[], bool] | None = None  # close to tray (ui/tray.py)
        self.on_shutdown: list[Callable[[], None]] = []  # detach from the core (ui/app.py)
        self.demo = False  # showing the sandbox's data (show_demo)
        self.demo_bar = DemoBar(self._state)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.send_button = QToolButton()  # enabled once the core's accounts are known (ui/app.py)
        self.send_button.setText("Send test message…")
        self.send_button.setToolTip("Send a text from one of your numbers and follow it on its timeline")
        self.send_button.setEnabled(False)
        self.send_button.clicked.connect(self.open_send)
        self.tabs.setCornerWidget(self.send_button, Qt.Corner.TopRightCorner)
        self.sender_service: Sender | None = None
        self.send_dialog: SendDialog | None = None
        self.live: LivePane | None = None
        self.webhooks: QWidget | None = None
        self.messages: MessagesPane | None = None
        self.delivery: DeliveryPane | None = None
        self.numbers: NumbersPane | None = None
        self.refused: RefusedPane | None = None
        if reads is not None:
            self.live = LivePane(reads, hook_url, tail_rows=tail_rows)
            self.tabs.addTab(self.live, "Live")
            self.messages = MessagesPane(reads)
            self.tabs.addTab(self.messages, "Messages")
            self.live.timeline_requested.connect(self.open_timeline)
        else:
            self.tabs.addTab(placeholder("The database could not be opened", store_error or "", None), "Live")
            self.tabs.addTab(placeholder("The database could not be opened", store_error or ""), "Messages")
        self._webhooks_slot: QWidget = placeholder(
            "Webhooks",
            "Subscribing numbers to events from here comes with account connection, in a "
            "later version. Until then, create a webhook in the Pilot Status dashboard "
            "pointing at your tunnel's public URL followed by the path below.",
            guide_url or hook_url,
        )
        self.tabs.addTab(self._webhooks_slot, "Webhooks")
        if reads is not None:
            self.delivery = DeliveryPane(reads)
            self.tabs.addTab(self.delivery, "Delivery")
            self.numbers = NumbersPane(reads)
            self.numbers.webhooks_requested.connect(self.show_webhooks)
            self.tabs.addTab(self.numbers, "Numbers")
            self.refused = RefusedPane(reads, hook_url)
            self.tabs.addTab(self.refused, "Refused")
            if self.live is not None:
                self.live.refused_requested.connect(self.open_refused)
        else:
            self.tabs.addTab(placeholder("The database could not be opened", store_error or ""), "Numbers")
        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.demo_bar)
        col.addWidget(self.banner)
        col.addWidget(self.notice_banner)
        col.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        if reads is not None:
            self.status.set_store(reads)
        self.status.stuck_clicked.connect(self.show_stuck)
        self.status.refused_clicked.connect(self.open_refused)
        self.menus = build_menus(self, self.tabs)
        self.menus.send.setEnabled(False)
        self.menus.send.triggered.connect(self.open_send)
        self.menus.settings.triggered.connect(self.settings_requested)
        self.menus.close.triggered.connect(self.close)
        self.menus.quit.triggered.connect(self.quit_requested)
        self.menus.keys.triggered.connect(self.show_shortcuts)
        self.quit_requested.connect(self.quit_app)
        self.shortcut_sheet: ShortcutSheet | None = None
        self.refusal_watch: RefusalWatch | None = None  # the receiver's refusals (ui/app.py)
        messages.bus.message_did_post.connect(self._on_message)
        self._restore()

    def set_webhooks_pane(self, pane: QWidget) -> None:
        """Replace the Webhooks placeholder once the core (accounts, receiver) is up."""
        index = self.tabs.indexOf(self._webhooks_slot)
        old = self.tabs.widget(index)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, pane, "Webhooks")
        if old is not None:
            old.deleteLater()
        self.webhooks = self._webhooks_slot = pane
        self.restore_tab()

    def restore_tab(self) -> None:
        """Reopen the tab the operator left (read once; a bad value is ignored). By its
        title, so adding a tab does not move the operator elsewhere; the index is the
        fallback for files written before titles were saved."""
        names = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        if isinstance(self._restore_name, str) and self._restore_name in names:
            self.tabs.setCurrentIndex(names.index(self._restore_name))
            return
        try:
            index = int(self._restore_tab) if self._restore_tab is not None else 0
        except (TypeError, ValueError):
            index = 0
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def open_timeline(self, message: int) -> None:
        """A message's timeline, from any pane (the Live pane's message events)."""
        if self.messages is not None:  # Live's own window: its Back history is not the pane's
            self.messages.open_timeline(message, LIVE)

    def set_sender(self, sender: Sender) -> None:
        self.sender_service = sender
        self.send_button.setEnabled(True)
        self.menus.send.setEnabled(True)

    def open_send(self) -> SendDialog | None:
        """The Send test message dialog (one, non-modal; its numbers re-read on each open)."""
        if self.sender_service is None:
            return None
        if self.send_dialog is None:
            self.send_dialog = SendDialog(self.sender_service, self.open_sent_timeline, parent=self)
        else:
            self.send_dialog.load_numbers()
        self.send_dialog.show()
        self.send_dialog.raise_()
        return self.send_dialog

    def open_sent_timeline(self, sent: Sent) -> TimelineDialog | None:
        """The timeline of a message just sent; it waits for the first webhook of it."""
        pane = self.messages
        if pane is None:
            return None
        dialog = pane.timelines.window(SEND)  # its own window, a new Back history
        dialog.await_send(sent)
        return dialog

    def show_stuck(self) -> None:
        """The status bar's stuck count was clicked: the Messages tab, stuck ones only."""
        if self.messages is not None:
            self.tabs.setCurrentWidget(self.messages)
            self.messages.show_stuck()

    def open_refused(self, rejection_id: int | None = None) -> None:
        """The Refused tab; with `rejection_id`, that refusal selected (Live, the status bar)."""
        if self.refused is not None:
            self.tabs.setCurrentWidget(self.refused)
            self.refused.select(rejection_id or None)

    def show_number(self, number_id: str) -> None:
        """The Numbers tab with that number selected (a number notification was clicked)."""
        if self.numbers is not None:
            self.tabs.setCurrentWidget(self.numbers)
            self.numbers.show_number(number_id)

    def show_webhooks(self, number_id: str = "") -> None:
        """The Webhooks tab; with `number_id`, that number's webhooks (Numbers tab's Webhooks…)."""
        if self.webhooks is None:
            return
        self.tabs.setCurrentWidget(self.webhooks)
        select = getattr(self.webhooks, "select_number", None)
        if number_id and select is not None and not select(number_id):
            messages.info(
                f"No account can manage the webhooks of {number_id}: add its API key or the tenant key "
                "(Add account…)."
            )

    def show_demo(self, sandbox: Sandbox | None, problem: str | None = None) -> None:
        """Label everything as demo data, say how to get real traffic instead, and say so
        when the sandbox could not start (the demo folder is shown all the same)."""
        self.demo = True
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
            "To monitor your own numbers, add your API key in the Webhooks tab (Add account…), "
            'then <a href="leave-demo">leave the demo</a>: the real receiver starts at once, no '
            "restart; or start <code>pilot-desktop --no-demo</code> (from the project: "
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
        self._restore_name = self._state.value("window/tab_name")
        period = self._state.value("delivery/period")
        if self.delivery is not None and isinstance(period, (int, str)) and str(period).isdigit():
            self.delivery.set_period(int(period))
        header = self._state.value("live/header")
        if self.live is not None and isinstance(header, QByteArray):
            self.live.table.horizontalHeader().restoreState(header)
        header = self._state.value("messages/columns")  # "messages/header": the old column order
        if self.messages is not None and isinstance(header, QByteArray):
            self.messages.table.horizontalHeader().restoreState(header)

    def _save(self) -> None:
        self._state.setValue("window/geometry", self.saveGeometry())
        self._state.setValue("window/tab", self.tabs.currentIndex())
        self._state.setValue("window/tab_name", self.tabs.tabText(self.tabs.currentIndex()))
        if self.live is not None:
            self._state.setValue("live/header", self.live.table.horizontalHeader().saveState())
        if self.messages is not None:
            self._state.setValue("messages/columns", self.messages.table.horizontalHeader().saveState())
        if self.delivery is not None:
            self._state.setValue("delivery/period", self.delivery.period_combo.currentIndex())
        self._state.sync()

    def change_listeners(self) -> list[Callable[[Changes], None]]:
        """What follows the writer's change descriptors: the panes this window has, and
        the status bar."""
        listeners: list[Callable[[Changes], None]] = []
        if self.live is not None:
            listeners.append(self.live.on_changes)
        listeners.append(self.status.on_changes)
        if self.messages is not None:
            listeners.append(self.messages.on_changes)
        if self.delivery is not None:
            listeners.append(self.delivery.on_changes)
        if self.numbers is not None:
            listeners.append(self.numbers.on_changes)
        if self.refused is not None:
            listeners.append(self.refused.on_changes)
        return listeners

    def shutdown(self) -> None:
        """Stop timers and detach; async cleanup happens in the main."""
        for detach in self.on_shutdown:
            detach()
        self.on_shutdown.clear()
        messages.bus.message_did_post.disconnect(self._on_message)
        self.status.shutdown()
        if self.live is not None:
            self.live.shutdown()
        if self.messages is not None:
            self.messages.shutdown()
        if self.delivery is not None:
            self.delivery.shutdown()
        if self.numbers is not None:
            self.numbers.shutdown()
        if self.refused is not None:
            self.refused.shutdown()
        shutdown = getattr(self.webhooks, "shutdown", None)
        if shutdown is not None:
            shutdown()

    # -- the tray (ui/tray.py) ---------------------------------------------------------------

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        else:
            self.show()
        self.raise_()
        self.activateWindow()

    def show_numbers(self, number_id: str | None = None) -> None:
        """The window in front on the Numbers tab; with `number_id`, that number."""
        self.bring_to_front()
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == "Numbers":
                self.tabs.setCurrentIndex(i)
        if number_id is not None:
            self.show_number(number_id)

    def set_title_status(self, status: str) -> None:
        """The numbers' worst state after the title ("Pilot Desktop — 2 disconnected")."""
        title = self.windowTitle()
        if self._title_status and title.endswith(self._title_status):
            title = title[: -len(self._title_status)]
        self._title_status = f" — {status}" if status else ""
        self.setWindowTitle(title + self._title_status)

    def show_shortcuts(self) -> ShortcutSheet:
        """Help > Keyboard shortcuts (F1): every shortcut of the window, read as it is now."""
        if self.shortcut_sheet is None:
            self.shortcut_sheet = ShortcutSheet(self, self.tabs)
        self.shortcut_sheet.reload()
        self.shortcut_sheet.show()
        self.shortcut_sheet.raise_()
        return self.shortcut_sheet

    def quit_app(self) -> None:
        """Quit for real, whatever close-to-tray says: the window closes, and its close
        starts the staged shutdown (ui/app.py). File > Quit and the tray's Quit come here."""
        self.hide_on_close = None
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save()
        if self.hide_on_close is not None and self.hide_on_close():
            event.ignore()  # close to tray: the tray's Quit really quits
            self.hide()
            return
        event.accept()
        self.window_did_close.emit()

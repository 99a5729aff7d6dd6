"""The receiver's address in the window: a banner while it does not listen where it should,
with Retry and "Use another port…" (a small dialog suggesting a free port).

The banner, the status bar's receiver segment and Live's hint follow the core's
`on_receiver_changed` (services/listening.py): a busy port that comes free, a retry, a move,
a change of receiver.host/port in the settings made anywhere. The banner shows the real
state each time, so it never says "cannot listen" while the receiver listens.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.services.config import SettingsError
from pilot_desktop.services.core import AppCore
from pilot_desktop.services.listening import free_port
from pilot_desktop.services.runtime import ReceiverStartError
from pilot_desktop.ui import messages
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.tasks import Tasks

RED = "#c53030"


class PortDialog(QDialog):
    """Pick a port (a free one suggested) and listen there now; the error, if it cannot,
    shown here with the dialog left open."""

    def __init__(self, core: AppCore, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core, self.tasks = core, tasks
        host, port = core.listener.target
        self.setWindowTitle("Use another port")
        intro = QLabel(
            f"The receiver's port on {host}, saved as receiver.port and used at once. A tunnel "
            "Pilot Desktop runs follows it; one you run yourself must be pointed at the new port."
        )
        intro.setWordWrap(True)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(free_port(host, near=port))
        self.port.setToolTip("A port no other program uses was suggested")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {RED};")
        self.error.hide()
        form = QFormLayout()
        form.addRow("Port:", self.port)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.listen_button = buttons.addButton("Listen here", QDialogButtonBox.ButtonRole.AcceptRole)
        self.listen_button.setDefault(True)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        col = QVBoxLayout(self)
        col.addWidget(intro)
        col.addLayout(form)
        col.addWidget(self.error)
        col.addWidget(buttons)
        self.setMinimumWidth(420)

    def apply(self) -> None:
        self.listen_button.setEnabled(False)
        self.error.hide()
        self.tasks.start(self._apply(self.port.value()))

    async def _apply(self, port: int) -> None:
        try:
            await self.core.change_port(port)
        except (ReceiverStartError, SettingsError, OSError) as exc:
            busy = isinstance(exc, ReceiverStartError) and exc.in_use
            why = f"port {port} is used by another program" if busy else str(exc)
            self.error.setText(f"Not changed: {why}. Another free port is suggested.")
            self.error.setToolTip(str(exc))
            self.error.show()
            self.resize(self.width(), self.heightForWidth(self.width()))  # room for the error
            self.port.setValue(free_port(self.core.listener.target[0], near=port))
            return
        finally:
            self.listen_button.setEnabled(True)
        self.accept()


class PortBanner(QFrame):
    """Why the receiver does not listen where it should, with Retry and another port."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("portBanner")
        self.setStyleSheet("#portBanner { background: #fde8e8; border: 1px solid #f5b5b5; }")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Try to listen on the receiver's address now")
        self.port_button = QPushButton("Use another port…")
        self.port_button.setToolTip("Listen on another port (a free one is suggested) and save it")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.text, 1)
        row.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.port_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()


class PortRecovery:
    """The banner, the status bar and Live kept true to the receiver's state."""

    def __init__(self, window: MainWindow, core: AppCore) -> None:
        self.window, self.core = window, core
        self.tasks = Tasks()
        self.banner = PortBanner(window)
        self.dialog: PortDialog | None = None
        self._was_listening: tuple[str, int] | None = core.runtime.bound
        widget = window.centralWidget()
        central = widget.layout() if widget is not None else None
        if isinstance(central, QVBoxLayout):  # above the general banner
            central.insertWidget(max(central.indexOf(window.banner), 0), self.banner)
        self.banner.retry_button.clicked.connect(self.retry)
        self.banner.port_button.clicked.connect(self.choose_port)
        core.on_receiver_changed.append(self.refresh)
        window.on_shutdown.append(self.shutdown)
        self.refresh()

    def shutdown(self) -> None:
        if self.refresh in self.core.on_receiver_changed:
            self.core.on_receiver_changed.remove(self.refresh)
        self.tasks.cancel()

    def retry(self) -> None:
        self.banner.retry_button.setEnabled(False)
        self.banner.text.setText(f"Trying {self._address()} again…")
        self.tasks.start(self._retry())

    async def _retry(self) -> None:
        try:
            await self.core.retry_listen()
        finally:
            self.banner.retry_button.setEnabled(True)
            self.refresh()

    def choose_port(self) -> PortDialog:
        self.dialog = PortDialog(self.core, self.tasks, self.window)
        self.dialog.open()
        return self.dialog

    def _address(self) -> str:
        host, port = self.core.listener.target
        return f"{host}:{port}"

    def refresh(self) -> None:
        """Everything from the core's state now (never from what was said before)."""
        core, window = self.core, self.window
        listening = core.listening
        url = core.hook_url if listening else None
        error = core.receiver_error
        if core.store_error:
            return  # no store, no receiver: the store's error stays said
        window.status.set_receiver(url, None if listening else error)
        if window.live is not None:  # its empty-state hint: a curl only at this app's receiver
            window.live.set_receiver(url, None if listening else self._problem(error))
        bound = core.runtime.bound if listening else None
        moved = getattr(window.webhooks, "receiver_moved", None)
        if bound is not None and bound != self._was_listening and moved is not None:
            moved(core.runtime.base_url)
        if bound is not None and bound != self._was_listening:
            where = core.hook_url.split("/hooks/")[0]
            again = "again " if self._was_listening is None else ""
            messages.info(f"Listening {again}on {where}: webhooks are received.")
        self._was_listening = bound
        if error is None:
            self.banner.hide()
            return
        self.banner.text.setText(self._sentence(error))
        self.banner.text.setToolTip(error)
        self.banner.show()

    def _problem(self, error: str | None) -> str | None:
        """Why it does not listen, short (the port's holder named when that is the reason)."""
        host, port = self.core.listener.target
        if self.core.port_shared:
            return f"port {port} is used by another Pilot Desktop on this data folder"
        return f"port {port} ({host}) is used by another program" if self.core.port_in_use else error

    def _sentence(self, error: str) -> str:
        """The state in a sentence (the system's own words in the tooltip)."""
        core = self.core
        host, port = core.listener.target
        what = "is used by another program" if core.port_in_use else "cannot be listened on"
        if core.listening:  # a move that has not succeeded yet: still receiving
            where = core.runtime.base_url.split("://", 1)[-1]
            return (
                f"Still receiving on {where}: port {port} ({host}) {what}. It is tried again every "
                "few seconds."
            )
        if core.port_shared:
            return (
                f"Port {port} is used by another Pilot Desktop on this data folder, which receives the "
                "webhooks; this window shows what it stores."
            )
        if core.port_in_use:
            return (
                f"Not receiving webhooks: port {port} ({host}) is used by another program. Stored "
                "history is shown; the port is tried again every few seconds."
            )
        return (
            f"Not receiving webhooks: {error}. Check the receiver's address (receiver.host) in "
            "the settings; it is tried again every few seconds."
        )


def attach_port_recovery(window: MainWindow, core: AppCore) -> PortRecovery:
    return PortRecovery(window, core)

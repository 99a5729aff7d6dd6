"""The Tunnel box of the Webhooks pane: how the platform reaches this receiver.

The mode and its settings are saved to the settings (`tunnel.*`, a bad value refused by
name with nothing saved) and applied to the core's TunnelManager; the ngrok authtoken goes
to the secret store and is never shown back. The state line follows the manager live, the
URL history follows the store (`Changes.watch`), "Check now" probes through the public URL.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.services.config import SettingsError
from pilot_desktop.store.errors import StoreError
from pilot_desktop.tunnel.providers import PRESETS, TunnelError, TunnelStatus, command_line
from pilot_desktop.ui.panes.webhooks.authtoken_row import AuthtokenRow
from pilot_desktop.ui.panes.webhooks.tunnel_history import (
    EXPLAIN,
    MODE_NAMES,
    MODES,
    Collapsible,
    OutputView,
    error_text,
    fill_history,
    history_table,
    reach_text,
    row_of,
    state_html,
)
from pilot_desktop.ui.panes.webhooks.watch_parts import WatchParts
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

if TYPE_CHECKING:
    from pilot_desktop.services.reachability import Reach
    from pilot_desktop.store.records import Changes

DEMO_EXPLAIN = (
    "Demo: the sandbox runs on this machine and delivers to the receiver directly: no tunnel needed."
)
ERROR_STYLE = "color: #c53030;"
HINT_STYLE = "color: #5a6472;"


class TunnelBox(QGroupBox):
    state_did_change = Signal(str)  # the tunnel's state (the pane's tab title follows it)

    def __init__(self, parts: WatchParts, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__("Tunnel", parent)
        self.parts, self.tasks = parts, tasks
        self.status: TunnelStatus = parts.tunnel.status
        self._build()
        self.show_settings()
        self.show_status(self.status)
        self.refresh_history()
        parts.tunnel.subscribe(self.show_status)
        parts.reachability.subscribe(self._reach_changed)
        parts.config.settings.subscribe(self._settings_changed)
        if parts.reads is not None:
            parts.reads.subscribe(self._store_changed)

    # -- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.mode = QComboBox()
        for value, label in MODES:
            self.mode.addItem(label, value)
        self.mode.currentIndexChanged.connect(self._mode_chosen)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setTextFormat(Qt.TextFormat.RichText)
        self.explain.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.explain.setStyleSheet(HINT_STYLE)

        self.template = QLineEdit()
        self.template.setPlaceholderText("mytunnel --to {local_url}")
        self.save_template = QPushButton("Save")
        self.save_template.clicked.connect(self.save_command)
        self.template.returnPressed.connect(self.save_command)
        self.command_row = row_of(QLabel("Command"), self.template, self.save_template, stretch=1)

        self.token_row = AuthtokenRow(self.parts.secrets)
        self.token_row.failed.connect(self.strip_error)
        self.token_row.stored.connect(self._token_stored)

        self.interval = QSpinBox()
        self.interval.setRange(5, 3600)
        self.interval.setSuffix(" s")
        self.interval.editingFinished.connect(self._save_interval)
        self.auto = QCheckBox("Move my webhooks automatically when the URL changes")
        self.auto.toggled.connect(self._save_auto)
        # The checkbox on a line of its own: side by side they overflow a 640 px window.
        watch_row = row_of(QLabel("Check reachability every"), self.interval, stretch=None)

        self.state_line = QLabel()
        self.state_line.setWordWrap(True)
        self.state_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy = QPushButton("Copy URL")
        self.copy.clicked.connect(self.copy_url)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.restart = QPushButton("Restart tunnel")
        self.restart.clicked.connect(lambda: self.tasks.start(self.restart_tunnel()))
        self.check = QPushButton("Check now")
        self.check.setToolTip("Send a signed probe through the public URL back to this app")
        self.check.clicked.connect(lambda: self.tasks.start(self.check_now()))
        self.reach_line = QLabel()
        self.reach_line.setWordWrap(True)
        # A URL in it must not widen the box past a 640 px window (it cannot wrap).
        self.reach_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.reach_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.output = OutputView()
        self.output_section = Collapsible("Last output", self.output)
        self.history = history_table()
        self.history_section = Collapsible("Public URL history", self.history)
        self.strip = StatusStrip()

        col = QVBoxLayout(self)
        col.addWidget(row_of(QLabel("Mode"), self.mode, stretch=None))
        col.addWidget(self.explain)
        col.addWidget(self.command_row)
        col.addWidget(self.token_row)
        col.addWidget(watch_row)
        col.addWidget(self.auto)
        col.addWidget(row_of(self.state_line, self.copy, stretch=0))
        col.addWidget(self.error)
        col.addWidget(row_of(self.restart, self.check, stretch=None))
        col.addWidget(self.reach_line)  # full width: it quotes the public URL, which cannot wrap
        col.addWidget(self.strip)
        col.addWidget(self.output_section)
        col.addWidget(self.history_section)

    # -- settings -----------------------------------------------------------------------------
    @property
    def saved_mode(self) -> str:
        return self.parts.config.settings.value.tunnel.mode

    def show_settings(self) -> None:
        """The saved values (here or by `pilot-desktop tunnel set`), fields being typed in kept."""
        tunnel = self.parts.config.settings.value.tunnel
        self.mode.blockSignals(True)
        self.mode.setCurrentIndex(max(0, self.mode.findData(tunnel.mode)))
        self.mode.blockSignals(False)
        if not self.template.hasFocus():
            self.template.setText(tunnel.command)
        if not self.interval.hasFocus():
            self.interval.setValue(tunnel.probe_interval_s)
        self.auto.blockSignals(True)
        self.auto.setChecked(tunnel.auto_repoint)
        self.auto.blockSignals(False)
        self._show_mode_fields(tunnel.mode)

    @property
    def port(self) -> str:  # the receiver's port now (it may have moved since the box was built)
        return self.parts.local_base.rsplit(":", 1)[-1]

    def receiver_moved(self) -> None:
        self._show_mode_fields(str(self.mode.currentData()))

    def _show_mode_fields(self, mode: str) -> None:
        explain = html.escape(EXPLAIN[mode], quote=False)
        if mode in PRESETS:
            try:
                argv = command_line(
                    mode, PRESETS[mode].template, port=int(self.port), local_url=self.parts.local_base
                )
                explain += f"<br><code>{html.escape(' '.join(argv), quote=False)}</code>"
            except (TunnelError, ValueError):
                pass
        if self.parts.demo:
            explain = DEMO_EXPLAIN
        self.mode.setEnabled(not self.parts.demo)
        self.explain.setText(explain)
        self.command_row.setVisible(mode == "command")
        self.token_row.setVisible(mode == "ngrok-sdk")
        if mode == "ngrok-sdk":
            self.token_row.show_stored()

    def _settings_changed(self, changed: frozenset[str]) -> None:
        if any(name.startswith("tunnel.") for name in changed):
            self.show_settings()

    def _mode_chosen(self, _index: int) -> None:
        mode = str(self.mode.currentData())
        self._show_mode_fields(mode)
        if mode == "command" and not self.parts.config.settings.value.tunnel.command:
            # Nothing to start yet: the mode is saved with the command.
            self.strip.warn("Type the command to start (with {port} or {local_url}), then Save.")
            self.template.setFocus()
            return
        self._save({"tunnel.mode": mode}, f"Tunnel mode saved: {MODE_NAMES[mode]}.")

    def save_command(self) -> None:
        text = self.template.text().strip()
        try:
            command_line("command", text, port=int(self.port), local_url=self.parts.local_base)
        except TunnelError as exc:  # does not parse (a quote left open...): refused before saving
            self.strip.error(f"tunnel.command: {exc}")
            return
        except ValueError:
            pass  # the settings' own check says it by name
        self._save(
            {"tunnel.mode": "command", "tunnel.command": text}, "Command saved; the tunnel starts with it."
        )

    def _save(self, patch: dict[str, Any], done: str) -> bool:
        """Saved to the settings; the core's TunnelManager follows them (a new mode or
        command restarts the tunnel), as it follows `pilot-desktop tunnel set`."""
        try:
            self.parts.config.settings.update(patch)
        except SettingsError as exc:  # a bad value names its field; nothing was saved
            # What was typed stays on screen to be fixed (the mode chosen, the command).
            self.strip.error(str(exc) if exc.fields else f"Could not save the settings: {exc}")
            return False
        except OSError as exc:
            self.strip.error(f"Could not save the settings: {exc}")
            return False
        self.strip.ok(done)
        return True

    def _save_interval(self) -> None:
        if self.interval.value() != self.parts.config.settings.value.tunnel.probe_interval_s:
            self._save({"tunnel.probe_interval_s": self.interval.value()}, "Probe interval saved.")

    def _save_auto(self, on: bool) -> None:
        done = "Webhooks will follow the URL." if on else "A URL change will ask before moving webhooks."
        self._save({"tunnel.auto_repoint": on}, done)

    # -- the ngrok authtoken --------------------------------------------------------------------
    def strip_error(self, text: str) -> None:
        self.strip.error(text)

    def _token_stored(self, done: str) -> None:
        if self.saved_mode == "ngrok-sdk":  # started again with it
            self.tasks.start(self._restart(done))
        else:
            self.strip.ok(done)

    # -- state ----------------------------------------------------------------------------------
    def show_status(self, status: TunnelStatus) -> None:
        if status.state in ("failed", "restarting") and status.state != self.status.state:
            self.strip.clear()  # "Command saved; the tunnel starts with it." is no longer true
        self.status = status
        self.state_line.setText(state_html(status))
        self.copy.setEnabled(bool(status.public_url))
        error = error_text(status)
        self.error.setText(error)
        self.error.setVisible(bool(error))
        managed = status.mode != "manual"
        self.restart.setVisible(managed)
        self.output_section.setVisible(managed)
        self.output.show_lines(status.output)
        self.output_section.set_title(f"Last output ({len(status.output)} lines)")
        self._show_reach(self.parts.reachability.reach)  # a new URL: its probes, not the old one's
        self.state_did_change.emit(status.state if managed else "manual")

    def copy_url(self) -> None:
        if self.status.public_url:
            QGuiApplication.clipboard().setText(self.status.public_url)
            self.strip.ok("Public URL copied.")

    async def restart_tunnel(self) -> None:
        await self._restart("Tunnel restarted.")

    async def _restart(self, done: str) -> None:
        self.restart.setEnabled(False)
        self.strip.working("Restarting the tunnel…")
        try:
            await self.parts.tunnel.restart()
        except TunnelError as exc:
            self.strip.error(str(exc))
            return
        finally:
            self.restart.setEnabled(True)
        self.strip.ok(done)

    async def check_now(self) -> None:
        self.check.setEnabled(False)
        self.reach_line.setStyleSheet("")
        self.reach_line.setText("Sending a probe through the public URL…")
        try:
            reach = await self.parts.reachability.check_now()
        finally:
            self.check.setEnabled(True)
        self._show_reach(reach)

    def _reach_changed(self, _before: Reach, after: Reach) -> None:
        self._show_reach(after)

    def _show_reach(self, reach: Reach) -> None:
        text, ok = reach_text(reach, self.status.public_url)
        self.reach_line.setStyleSheet(HINT_STYLE if ok is None else "" if ok else ERROR_STYLE)
        self.reach_line.setText(text)
        self.reach_line.setToolTip(text)  # a long URL cannot wrap: whole here when cut

    # -- history --------------------------------------------------------------------------------
    def _store_changed(self, changes: Changes) -> None:
        if changes.watch:
            self.refresh_history()

    def refresh_history(self) -> None:
        reads = self.parts.reads
        if reads is None:
            return
        try:
            rows = reads.url_history(limit=50)
        except StoreError:
            return  # the window's banner says why the store cannot be read
        fill_history(self.history, rows)
        self.history_section.set_title(f"Public URL history ({len(rows)})")

    def shutdown(self) -> None:
        self.parts.tunnel.unsubscribe(self.show_status)
        self.parts.reachability.unsubscribe(self._reach_changed)
        self.parts.config.settings.unsubscribe(self._settings_changed)
        if self.parts.reads is not None:
            self.parts.reads.unsubscribe(self._store_changed)

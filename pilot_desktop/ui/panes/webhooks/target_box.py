"""Where Pilot Status delivers: the tunnel's public URL, saved and tested from the pane."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
)

from pilot_desktop.services.config import SettingsError
from pilot_desktop.services.webhook_admin import WebhookAdmin
from pilot_desktop.services.webhooks import public_url_of
from pilot_desktop.tunnel.probe import probe
from pilot_desktop.ui.look import hint_style
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

if TYPE_CHECKING:
    from pilot_desktop.services.tunnel import TunnelManager
    from pilot_desktop.tunnel.providers import TunnelStatus

TUNNEL_HINT = (
    "Pilot Status reaches this app through a tunnel to {local}: pick a mode in the Tunnel box "
    "above and the app runs it, or run one yourself (for example <code>cloudflared tunnel --url "
    "{local}</code> or <code>ngrok http {port}</code>) and paste its public https URL here."
)
STATE_WORDS = {"failed": "has failed", "stopped": "is stopped", "off": "is off"}


def down_words(status: TunnelStatus | None) -> str | None:
    """'has failed', 'is restarting': the managed tunnel is not up (its URL is dead); else None."""
    if status is None or status.mode == "manual" or (status.state == "up" and status.public_url):
        return None
    if status.state == "up":
        return "has not reported a URL yet"
    return STATE_WORDS.get(status.state, f"is {status.state}")


DEMO_HINT = (
    "Demo: the sandbox runs on this machine, so the receiver's own address serves as the "
    "public URL. With a real account, put your tunnel's https URL here."
)


class TargetBox(QGroupBox):
    target_did_change = Signal()  # the public URL was saved (here or by another process)

    def __init__(
        self, admin: WebhookAdmin, local_base: str, instance: str | None, *, demo: bool, tasks: Tasks
    ) -> None:
        """`instance`: the receiver's id, for the probe; None: it is not listening."""
        super().__init__("Where Pilot Status delivers")
        self.admin, self.instance, self.tasks = admin, instance, tasks
        self.tunnel: TunnelManager | None = None  # the managed tunnel, once followed
        self._tunnel_seen: tuple[str | None, str | None] | None = None
        self.public_url = QLineEdit(admin.config.settings.value.public_url or "")
        self.public_url.setPlaceholderText("https://your-tunnel.example")
        self.public_url.returnPressed.connect(self.save)  # Enter saves, as the Save button does
        self.save_url = QPushButton("Save")
        self.save_url.clicked.connect(self.save)
        self.test_url = QPushButton("Test")
        self.test_url.setToolTip("Send a probe through the public URL and check it reaches this app")
        self.test_url.clicked.connect(lambda: self.tasks.start(self.test()))
        self.strip = StatusStrip()
        self.hook_line = QLabel()
        self.hook_line.setWordWrap(True)
        # Its URL cannot wrap: it must not widen the tab past a 640 px window (tooltip: whole).
        self.hook_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hook_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.demo = demo
        self.hint = hint = QLabel()
        self.set_local_base(local_base)
        hint.setWordWrap(True)
        hint.setStyleSheet(hint_style(hint))
        row = QHBoxLayout()
        row.addWidget(QLabel("Public URL"))
        row.addWidget(self.public_url, 1)
        row.addWidget(self.save_url)
        row.addWidget(self.test_url)
        col = QVBoxLayout(self)
        col.addLayout(row)
        col.addWidget(self.hook_line)
        col.addWidget(hint)
        col.addWidget(self.strip)
        self.managed = QLabel()  # outside manual mode: the URL is the tunnel's, shown read-only
        self.managed.setWordWrap(True)
        col.insertWidget(1, self.managed)
        self.show_target()
        admin.config.settings.subscribe(self._settings_changed)
        admin.config.state.subscribe(self._state_changed)

    def set_local_base(self, local_base: str) -> None:
        """The receiver's address, in the hint's examples (again after the receiver moved)."""
        port = local_base.rsplit(":", 1)[-1]
        self.hint.setText(DEMO_HINT if self.demo else TUNNEL_HINT.format(local=local_base, port=port))

    def show_target(self) -> None:
        mode = self.admin.tunnel_mode() or self.admin.config.settings.value.tunnel.mode
        was_managed, manual = self.public_url.isReadOnly(), mode == "manual"
        self.public_url.setReadOnly(not manual)
        self.save_url.setVisible(manual)
        self.managed.setVisible(not manual)
        self.hint.setVisible(manual)  # how to run a tunnel by hand
        down = down_words(self.tunnel.status) if self.tunnel is not None and not manual else None
        if down is not None:  # the URL the tunnel had is dead: not shown as if it were live
            self.public_url.setText("")
            self.public_url.setPlaceholderText(f"no public URL while the tunnel {down}")
            self.managed.setText(
                f"Managed by the tunnel ({mode}): no public URL while the tunnel {down}. Its state "
                "and error are in the Tunnel box above; a new URL shows here once it is up."
            )
        elif not manual:
            self.public_url.setText(public_url_of(self.admin.config, mode) or "")
            self.public_url.setPlaceholderText("waiting for the tunnel's URL…")
            self.managed.setText(
                f"Managed by the tunnel ({mode}): this URL follows it. Choose Manual URL in the "
                "Tunnel box above to type one."
            )
        elif was_managed:  # back to manual: the URL typed in before
            self.public_url.setText(self.admin.config.settings.value.public_url or "")
            self.public_url.setPlaceholderText("https://your-tunnel.example")
        target = self.admin.target()
        if down is not None:
            self.hook_line.setText(f"No public URL while the tunnel {down}: nothing reaches this app.")
        elif target is None:
            self.hook_line.setText("No public URL yet: webhooks created here can't point at this app.")
        else:
            example = html.escape(target.url_for("NUMBER")).removesuffix("NUMBER") + "&lt;number id&gt;"
            self.hook_line.setText(f"Webhooks of this app point at <b>{example}</b>")
        self.hook_line.setToolTip(self.hook_line.text())

    def follow_tunnel(self, tunnel: TunnelManager) -> None:
        """Show the managed tunnel's URL only while it is up (state.tunnel_url outlives it)."""
        self.tunnel = tunnel
        tunnel.subscribe(self._tunnel_changed)
        self.show_target()

    def _tunnel_changed(self, status: TunnelStatus) -> None:
        seen = (down_words(status), status.public_url)
        if seen != self._tunnel_seen:  # not for each output line the program prints
            self._tunnel_seen = seen
            self.show_target()
            self.target_did_change.emit()

    def _state_changed(self, changed: frozenset[str]) -> None:
        if "tunnel_url" in changed:  # the managed tunnel reported a new URL
            self.show_target()
            self.target_did_change.emit()

    def _settings_changed(self, changed: frozenset[str]) -> None:
        if changed & {"public_url", "tunnel.mode"}:  # saved here, or by the CLI
            if not self.public_url.hasFocus():
                self.public_url.setText(self.admin.config.settings.value.public_url or "")
            self.show_target()
            self.target_did_change.emit()

    def save(self) -> None:
        if self.public_url.isReadOnly():  # the managed tunnel's URL: nothing typed to save
            return
        try:
            value = self.admin.set_public_url(self.public_url.text())
        except ValueError as exc:
            self.strip.error(f"public_url: {exc}")
            return
        except (SettingsError, OSError) as exc:
            self.strip.error(f"Could not save the settings: {exc}")
            return
        self.public_url.setText(value or "")
        self.strip.ok("Saved." if value else "Public URL cleared.")

    async def test(self) -> None:
        text = self.public_url.text().strip()
        if not text:
            self.strip.error("Enter the tunnel's public URL first.")
            return
        if self.instance is None:
            self.strip.error("This app's receiver is not listening, so nothing reaches it.")
            return
        self.test_url.setEnabled(False)
        self.strip.working("Sending a probe through the public URL…")
        try:
            result = await probe(text, self.admin.token, self.instance)
        finally:
            self.test_url.setEnabled(True)
        if result.ok:
            self.strip.ok(result.sentence)
        else:
            self.strip.error(f"{result.sentence} [{result.diagnosis}]")

    def shutdown(self) -> None:
        self.admin.config.settings.unsubscribe(self._settings_changed)
        self.admin.config.state.unsubscribe(self._state_changed)
        if self.tunnel is not None:
            self.tunnel.unsubscribe(self._tunnel_changed)
            self.tunnel = None

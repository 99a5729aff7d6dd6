"""The Webhooks pane: per number, its webhooks, and every action on them with clicks.

All network calls run as tasks on the loop (the window never freezes); progress and
platform errors (with their code) are shown in place, in the pane or the open dialog.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Webhook
from pilot_desktop.services.accounts import AccountError, Accounts
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.webhooks import (
    Change,
    LogComparison,
    Target,
    compare_logs,
    describe_events,
    list_number_webhooks,
    plan_retarget,
    route_of,
)
from pilot_desktop.tunnel.probe import probe
from pilot_desktop.tunnel.public_url import normalize_public_url
from pilot_desktop.ui.format import age, number_label
from pilot_desktop.ui.panes.webhooks.account_dialog import AccountDialog
from pilot_desktop.ui.panes.webhooks.editor import Edit, WebhookEditor
from pilot_desktop.ui.panes.webhooks.logs_dialog import LogsDialog
from pilot_desktop.ui.panes.webhooks.retarget_dialog import RetargetDialog
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip, row_table
from pilot_desktop.ui.tasks import Tasks

log = logging.getLogger(__name__)

COLUMNS = ("Name", "Events", "Active", "Last triggered", "Signing secret", "URL")
URL_COLUMN = COLUMNS.index("URL")
EXPECTED = (ApiError, AccountError, SecretsError)
STALE_AFTER_S = 30.0
TUNNEL_HINT = (
    "Pilot Status reaches this app through a tunnel: start one to {local} (for example "
    "<code>cloudflared tunnel --url {local}</code> or <code>ngrok http {port}</code>) and paste "
    "its public https URL here."
)

DEMO_HINT = (
    "Demo: the sandbox runs on this machine, so the receiver's own address serves as the "
    "public URL. With a real account, put your tunnel's https URL here."
)

DEMO_AUTOFILL_NOTE = "Demo: left empty, the sandbox's secret for the new webhook is filled in for you."


@dataclass
class PaneContext:
    accounts: Accounts
    token: str
    public_url: Callable[[], str | None]
    save_public_url: Callable[[str | None], None]
    db_path: Path | None
    local_base: str  # the receiver's own address, for the tunnel hint
    instance: str | None  # the receiver's instance id, for the probe; None: not listening
    secret_lookup: Callable[[str], str | None] | None = None  # the demo sandbox's console
    # Demo: the pane shows the sandbox's account, but a key the user adds is real and goes
    # to the real profile, used from the next launch on.
    profile_accounts: Accounts | None = None
    demo: bool = False
    # Whether the receiver checks the signatures of a route (any secret for it, a global one
    # included); None: judged from the stored secrets alone.
    route_checked: Callable[[str | None], bool] | None = None


class WebhooksPane(QWidget):
    accounts_did_change = Signal()  # an account was added or removed here (the number poller)

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.tasks = Tasks()
        self.webhooks: list[Webhook] = []
        self.loaded_at = 0.0
        self.dialog: QWidget | None = None  # the open dialog, for tests and to keep it alive

        # Where Pilot Status delivers: the tunnel's public URL, and a probe through it.
        self.public_url = QLineEdit(ctx.public_url() or "")
        self.public_url.setPlaceholderText("https://your-tunnel.example")
        self.save_url = QPushButton("Save")
        self.save_url.clicked.connect(self._on_save_url)
        self.test_url = QPushButton("Test")
        self.test_url.setToolTip("Send a probe through the public URL and check it reaches this app")
        self.test_url.clicked.connect(lambda: self.tasks.start(self.test_public_url()))
        self.url_strip = StatusStrip()
        self.hook_line = QLabel()
        self.hook_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        port = ctx.local_base.rsplit(":", 1)[-1]
        hint = QLabel(DEMO_HINT if ctx.demo else TUNNEL_HINT.format(local=ctx.local_base, port=port))
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        url_row = QHBoxLayout()
        url_row.addWidget(QLabel("Public URL"))
        url_row.addWidget(self.public_url, 1)
        url_row.addWidget(self.save_url)
        url_row.addWidget(self.test_url)
        where = QGroupBox("Where Pilot Status delivers")
        where_col = QVBoxLayout(where)
        where_col.addLayout(url_row)
        where_col.addWidget(self.hook_line)
        where_col.addWidget(hint)
        where_col.addWidget(self.url_strip)

        # Accounts and numbers.
        self.accounts_line = QLabel()
        self.accounts_line.setWordWrap(True)
        self.add_account = QPushButton("Add account…")
        self.add_account.clicked.connect(self.open_add_account)
        self.remove_account = QPushButton("Remove account…")
        self.remove_account.clicked.connect(self._on_remove_account)
        self.point_all = QPushButton("Point all my webhooks at this app…")
        self.point_all.clicked.connect(lambda: self.tasks.start(self.open_point_all()))
        acc_row = QHBoxLayout()
        acc_row.addWidget(self.accounts_line, 1)
        acc_row.addWidget(self.add_account)
        acc_row.addWidget(self.remove_account)
        acc_row.addWidget(self.point_all)
        self.numbers = QListWidget()
        self.numbers.setMinimumWidth(220)
        self.numbers.currentItemChanged.connect(lambda *_: self.tasks.start(self.load_webhooks()))

        # The selected number's webhooks.
        self.title = QLabel()
        self.refresh = QPushButton("Refresh")
        self.refresh.clicked.connect(lambda: self.tasks.start(self.load_webhooks()))
        self.table = row_table(COLUMNS)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda *_: self.open_edit())
        self.new = QPushButton("New webhook…")
        self.new.clicked.connect(self.open_new)
        self.edit = QPushButton("Edit…")
        self.edit.clicked.connect(self.open_edit)
        self.pause = QPushButton("Pause")
        self.pause.clicked.connect(lambda: self.tasks.start(self.toggle_active()))
        self.delete = QPushButton("Delete…")
        self.delete.clicked.connect(self.confirm_delete)
        self.logs = QPushButton("Delivery logs…")
        self.logs.clicked.connect(self.open_logs)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.refresh)
        actions = QHBoxLayout()
        for button in (self.new, self.edit, self.pause, self.delete, self.logs):
            actions.addWidget(button)
        actions.addStretch(1)
        right = QWidget()
        right_col = QVBoxLayout(right)
        right_col.setContentsMargins(0, 0, 0, 0)
        right_col.addLayout(head)
        right_col.addWidget(self.table, 1)
        right_col.addLayout(actions)
        split = QSplitter()
        split.addWidget(self.numbers)
        split.addWidget(right)
        split.setSizes([260, 900])
        self.strip = StatusStrip()

        # Persistent, not in the strip: it stays true for as long as there is no keyring.
        self.store_warning = QLabel(self._profile.secrets.warning or "")
        self.store_warning.setWordWrap(True)
        self.store_warning.setStyleSheet("color: #975a16;")
        self.store_warning.setVisible(bool(self._profile.secrets.warning))

        col = QVBoxLayout(self)
        col.addWidget(where)
        col.addLayout(acc_row)
        col.addWidget(self.store_warning)
        col.addWidget(split, 1)
        col.addWidget(self.strip)
        # Secrets stored before their routes were check every route until each gets its
        # route: the first load reads every number's webhooks once to give it to them.
        self.routes_filled = not self.ctx.accounts.unrouted_signing_secrets()
        self._show_target()
        self.refresh_numbers()

    # -- state ------------------------------------------------------------------------------
    @property
    def target(self) -> Target | None:
        public = self.ctx.public_url()
        return Target(public, self.ctx.token) if public else None

    @property
    def number_id(self) -> str | None:
        item = self.numbers.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def route(self, hook: Webhook) -> str | None:
        """The route the webhook's URL names on this app's receiver ("" bare, None elsewhere)."""
        return route_of(hook.url, self.ctx.token)

    def _note_routes(self, hooks: list[Webhook]) -> None:
        # A stored secret checks the route its webhook's URL names: keep it in step.
        self.ctx.accounts.note_routes({h.id: self.route(h) for h in hooks})

    def _route_checked(self, hook: Webhook) -> bool:
        """Deliveries of this webhook are checked (and refused without the right signature)."""
        route = self.route(hook)
        if route is None:
            return False
        if self.ctx.route_checked is not None:
            return self.ctx.route_checked(route or None)
        return bool(self.ctx.accounts.signing_secrets(route or None))

    def selected(self) -> Webhook | None:
        rows = self.table.selectionModel().selectedRows()
        return self.webhooks[rows[0].row()] if rows else None

    def _number_label(self, number_id: str) -> str:
        known = {n.id: (n.name, n.phone) for _, n in self.ctx.accounts.numbers()}
        return number_label(number_id, known)

    def _show_target(self) -> None:
        target = self.target
        if target is None:
            self.hook_line.setText("No public URL yet: webhooks created here can't point at this app.")
        else:
            example = html.escape(target.url_for("NUMBER")).removesuffix("NUMBER") + "&lt;number id&gt;"
            self.hook_line.setText(f"Webhooks of this app point at <b>{example}</b>")

    def refresh_numbers(self) -> None:
        accounts = self.ctx.accounts.all
        if not accounts:
            self.accounts_line.setText(
                "No account yet. Add a tenant key or a number's API key to manage webhooks."
            )
        else:
            described = ", ".join(
                f"{a.label or a.id} ({'tenant' if a.scope == 'tenant' else 'number'} key)" for a in accounts
            )
            self.accounts_line.setText(f"Accounts: {described}")
        self.remove_account.setEnabled(bool(accounts))
        self.point_all.setEnabled(bool(accounts))
        current = self.number_id
        self.numbers.blockSignals(True)
        self.numbers.clear()
        for _, number in self.ctx.accounts.numbers():
            item = QListWidgetItem(f"{number.name or number.id}\n{number.phone}")
            item.setData(Qt.ItemDataRole.UserRole, number.id)
            item.setToolTip(number.id)
            self.numbers.addItem(item)
            if number.id == current:
                self.numbers.setCurrentItem(item)
        self.numbers.blockSignals(False)
        if self.numbers.currentItem() is None and self.numbers.count():
            self.numbers.setCurrentRow(0)  # starts load_webhooks through the signal
        elif not self.numbers.count():
            self.webhooks = []
            self._fill_table()

    def select_number(self, number_id: str) -> bool:
        """Show that number's webhooks (the Numbers tab's Webhooks…); False when no
        account can act on it."""
        for row in range(self.numbers.count()):
            item = self.numbers.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == number_id:
                self.numbers.setCurrentItem(item)  # loads its webhooks through the signal
                return True
        return False

    # -- loading ----------------------------------------------------------------------------
    async def load_webhooks(self) -> None:
        number_id = self.number_id
        if number_id is None:
            return
        self.title.setText(f"<b>Webhooks of {self._number_label(number_id)}</b>")
        self.strip.working("Loading webhooks…")
        self.refresh.setEnabled(False)
        try:
            if not self.routes_filled:
                self.routes_filled = True  # once: a deleted webhook's secret never gets a route
                await self.fill_routes()
            hooks = await list_number_webhooks(self.ctx.accounts, number_id)
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        finally:
            self.refresh.setEnabled(True)
        self._note_routes(hooks)
        if number_id != self.number_id:
            return  # the user moved on to another number meanwhile
        self.webhooks = hooks
        self.loaded_at = time.monotonic()
        self._fill_table()
        self.strip.clear()
        self._warn_refused()

    async def fill_routes(self) -> None:
        """Read every number's webhooks once, to give each stored secret its webhook's route."""
        for _, number in self.ctx.accounts.numbers():
            try:
                self._note_routes(await list_number_webhooks(self.ctx.accounts, number.id))
            except EXPECTED as exc:
                log.info("routes of the signing secrets of number %s not read: %s", number.id, exc)

    def _fill_table(self) -> None:
        target = self.target
        self.table.setRowCount(len(self.webhooks))
        for row, hook in enumerate(self.webhooks):
            here = target is not None and target.points_here(hook.url)
            secret = self.ctx.accounts.has_signing_secret(hook.id)
            refused = here and not secret and self._route_checked(hook)
            cells = [
                hook.name,
                describe_events(hook.events),
                "active" if hook.active else "paused",
                _ago(hook.last_triggered),
                _secret_cell(secret, here, refused),
                f"→ this app   {hook.url}" if here else hook.url,
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if col == URL_COLUMN and here:
                    item.setForeground(QColor("#276749"))
                    item.setToolTip(f"Points at this app's receiver: {hook.url}")
                if col == 2 and not hook.active:
                    item.setForeground(QColor("#975a16"))
                if col == 4 and refused:
                    item.setForeground(QColor("#c05621"))
                    item.setToolTip(
                        "Another signing secret checks this webhook's address, so its deliveries are "
                        "refused (401): add its own signing secret (Edit…)"
                    )
                elif col == 4 and here and not secret:
                    item.setToolTip(
                        "No signing secret stored: deliveries are accepted unverified. Add it (Edit…) "
                        "to have them checked"
                    )
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        for col in range(URL_COLUMN):  # long event lists must not push the URL out of sight
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), 320))
        self.table.setColumnWidth(URL_COLUMN, 200)  # then stretched to the free width
        self._update_buttons()

    def _update_buttons(self) -> None:
        hook = self.selected()
        for button in (self.edit, self.pause, self.delete, self.logs):
            button.setEnabled(hook is not None)
        self.pause.setText("Resume" if hook is not None and not hook.active else "Pause")
        self.new.setEnabled(self.number_id is not None)

    def _warn_refused(self) -> None:
        """A webhook pointing here without a stored secret is accepted unverified (its table
        cell says so), unless its route is checked anyway: it shares the address of a webhook
        whose secret is stored (two webhooks of one number), so its deliveries get 401."""
        target = self.target
        if target is None:
            return
        has = self.ctx.accounts.has_signing_secret
        refused = [
            h.name
            for h in self.webhooks
            if target.points_here(h.url) and not has(h.id) and self._route_checked(h)
        ]
        if refused:
            self.strip.warn(
                f"{', '.join(refused)} point(s) at this app without a stored signing secret, at an "
                "address another signing secret checks (a webhook sharing it has one), so the receiver "
                "refuses their deliveries (401): add their secret with Edit…."
            )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # "Last triggered" and pauses made elsewhere go stale: re-read when shown again.
        if self.loaded_at and time.monotonic() - self.loaded_at > STALE_AFTER_S and not self.tasks.busy:
            self.tasks.start(self.load_webhooks())

    # -- public URL -------------------------------------------------------------------------
    def _on_save_url(self) -> None:
        text = self.public_url.text().strip()
        try:
            value = normalize_public_url(text) if text else None
        except ValueError as exc:
            self.url_strip.error(f"public_url: {exc}")
            return
        self.ctx.save_public_url(value)
        self.public_url.setText(value or "")
        self._show_target()
        self._fill_table()
        self.url_strip.ok("Saved." if value else "Public URL cleared.")

    async def test_public_url(self) -> None:
        text = self.public_url.text().strip()
        if not text:
            self.url_strip.error("Enter the tunnel's public URL first.")
            return
        if self.ctx.instance is None:
            self.url_strip.error("This app's receiver is not listening, so nothing reaches it.")
            return
        self.test_url.setEnabled(False)
        self.url_strip.working("Sending a probe through the public URL…")
        try:
            result = await probe(text, self.ctx.token, self.ctx.instance)
        finally:
            self.test_url.setEnabled(True)
        if result.ok:
            self.url_strip.ok(result.sentence)
        else:
            self.url_strip.error(f"{result.sentence} [{result.diagnosis}]")

    # -- accounts ---------------------------------------------------------------------------
    @property
    def _profile(self) -> Accounts:
        return self.ctx.profile_accounts or self.ctx.accounts

    def open_add_account(self) -> None:
        dialog = AccountDialog(self, self._add_account, self._profile.secrets.backend)
        dialog.accepted.connect(self._account_added)
        self._open(dialog)

    async def _add_account(self, key: str, base_url: str, label: str) -> None:
        await self._profile.add(key, base_url=base_url.strip(), label=label)

    def _account_added(self) -> None:
        if self.ctx.profile_accounts is not None:
            self.strip.ok(
                "Account saved to your profile. Restart Pilot Desktop to leave the demo and manage "
                "its numbers' webhooks here."
            )
            return
        self.refresh_numbers()
        self.accounts_did_change.emit()
        if warning := self.ctx.accounts.secrets.warning:
            self.strip.warn(warning)
        else:
            self.strip.ok("Account added.")

    def _on_remove_account(self) -> None:
        accounts = self.ctx.accounts.all
        if not accounts:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove account")
        box.setText("Remove which account? Its API key is deleted from the secret store.")
        buttons: dict[object, str] = {
            box.addButton(a.label or a.id, QMessageBox.ButtonRole.AcceptRole): a.id for a in accounts
        }
        box.addButton(QMessageBox.StandardButton.Cancel)

        def done() -> None:
            account_id = buttons.get(box.clickedButton())
            if account_id is not None:
                try:
                    self.ctx.accounts.remove(account_id)
                except SecretsError as exc:
                    self.strip.error(exc)
                self.refresh_numbers()
                self.accounts_did_change.emit()

        box.finished.connect(done)
        self._open(box)

    # -- create / edit / pause / delete -------------------------------------------------------
    def open_new(self) -> None:
        number_id = self.number_id
        if number_id is None:
            return
        target = self.target
        editor = WebhookEditor(
            self,
            title="New webhook",
            number_label=self._number_label(number_id),
            default_url=target.url_for(number_id) if target else None,
            save=lambda edit: self._create(number_id, edit),
            store_name=self.ctx.accounts.secrets.backend,
            autofill_note=DEMO_AUTOFILL_NOTE if self.ctx.secret_lookup is not None else "",
        )
        if target is None:
            editor.strip.warn("No public URL is set (top of this pane), so the URL must be typed in.")
        self._open(editor)

    async def _create(self, number_id: str, edit: Edit) -> None:
        async with self.ctx.accounts.client_for_number(number_id) as client:
            hook = await client.create_webhook(
                edit.url, edit.events, name=edit.name or None, active=edit.active
            )
        secret = edit.secret
        if secret is None and self.ctx.secret_lookup is not None:
            secret = self.ctx.secret_lookup(hook.id)  # demo: the sandbox console shows it
        if secret:
            self.ctx.accounts.set_signing_secret(hook.id, secret, self.route(hook))
        self.strip.ok(f"Webhook '{hook.name}' created ({describe_events(hook.events)}).")
        await self.load_webhooks()

    def open_edit(self) -> None:
        hook, number_id = self.selected(), self.number_id
        if hook is None or number_id is None:
            return
        target = self.target
        editor = WebhookEditor(
            self,
            title=f"Edit webhook '{hook.name}'",
            number_label=self._number_label(number_id),
            default_url=target.url_for(number_id) if target else None,
            save=lambda edit: self._update(number_id, hook, edit),
            store_name=self.ctx.accounts.secrets.backend,
            webhook=hook,
            has_secret=self.ctx.accounts.has_signing_secret(hook.id),
        )
        self._open(editor)

    async def _update(self, number_id: str, hook: Webhook, edit: Edit) -> None:
        async with self.ctx.accounts.client_for_number(number_id) as client:
            # events always sent: PATCH replaces the list, which is what the editor shows.
            updated = await client.update_webhook(
                hook.id, name=edit.name or None, url=edit.url, events=edit.events, active=edit.active
            )
        if edit.secret:
            self.ctx.accounts.set_signing_secret(hook.id, edit.secret, self.route(updated))
        elif edit.forget_secret:
            self.ctx.accounts.forget_signing_secret(hook.id)
        else:
            self._note_routes([updated])  # a new URL moves its stored secret to the new route
        self.strip.ok(f"Webhook '{edit.name or hook.name}' saved.")
        await self.load_webhooks()

    async def toggle_active(self) -> None:
        hook, number_id = self.selected(), self.number_id
        if hook is None or number_id is None:
            return
        self.strip.working("Resuming…" if not hook.active else "Pausing…")
        try:
            async with self.ctx.accounts.client_for_number(number_id) as client:
                await client.update_webhook(hook.id, active=not hook.active)
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        await self.load_webhooks()
        self.strip.ok(f"Webhook '{hook.name}' {'resumed' if not hook.active else 'paused: no deliveries'}.")

    def confirm_delete(self) -> None:
        hook, number_id = self.selected(), self.number_id
        if hook is None or number_id is None:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Delete webhook")
        box.setText(f"Delete the webhook '{hook.name}'?")
        box.setInformativeText(
            "This is permanent on Pilot Status and also deletes its delivery logs. "
            "To stop deliveries for a while, Pause it instead."
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText("Delete")

        def done(result: int) -> None:
            if result == QMessageBox.StandardButton.Yes:
                self.tasks.start(self._delete(number_id, hook))

        box.finished.connect(done)
        self._open(box)

    async def _delete(self, number_id: str, hook: Webhook) -> None:
        self.strip.working("Deleting…")
        try:
            async with self.ctx.accounts.client_for_number(number_id) as client:
                await client.delete_webhook(hook.id)
            if self.ctx.accounts.has_signing_secret(hook.id):
                self.ctx.accounts.forget_signing_secret(hook.id)
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        await self.load_webhooks()
        self.strip.ok(f"Webhook '{hook.name}' deleted.")

    # -- logs and retargeting -----------------------------------------------------------------
    def open_logs(self) -> None:
        hook, number_id = self.selected(), self.number_id
        if hook is None or number_id is None:
            return
        dialog = LogsDialog(self, f"Delivery logs of '{hook.name}'", lambda: self._compare(number_id, hook))
        self._open(dialog)
        dialog.reload()

    async def _compare(self, number_id: str, hook: Webhook) -> LogComparison:
        async with self.ctx.accounts.client_for_number(number_id) as client:
            logs = await client.webhook_logs(hook.id)
        if self.ctx.db_path is None:
            return LogComparison()
        route = route_of(hook.url, self.ctx.token)
        return await asyncio.to_thread(compare_logs, self.ctx.db_path, logs, route)

    async def open_point_all(self) -> None:
        target = self.target
        if target is None:
            self.strip.error("Set and save the public URL first: webhooks are pointed at it.")
            return
        self.strip.working("Reading every number's webhooks…")
        hooks: list[Webhook] = []
        try:
            for _, number in self.ctx.accounts.numbers():
                hooks.extend(await list_number_webhooks(self.ctx.accounts, number.id))
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        self._note_routes(hooks)
        self.strip.clear()
        names = {n.id: self._number_label(n.id) for _, n in self.ctx.accounts.numbers()}
        dialog = RetargetDialog(self, plan_retarget(hooks, target), names, self._retarget)
        dialog.finished.connect(lambda *_: self.tasks.start(self.load_webhooks()))
        self._open(dialog)

    async def _retarget(self, change: Change) -> None:
        async with self.ctx.accounts.client_for_number(change.number_id) as client:
            updated = await client.update_webhook(change.webhook.id, url=change.new_url)
        self._note_routes([updated])  # its stored secret now checks the new route

    # -- plumbing ---------------------------------------------------------------------------
    def _open(self, dialog: QWidget) -> None:
        # open(), not exec(): a nested event loop would stall the receiver on this loop.
        self.dialog = dialog
        dialog.open()  # type: ignore[attr-defined]

    async def settled(self) -> None:
        """Wait for this pane's and its open dialog's work (tests, shutdown)."""
        while True:
            await self.tasks.settled()
            settle = getattr(self.dialog, "settled", None)
            if settle is not None:
                await settle()
            if not self.tasks.busy:
                return

    def shutdown(self) -> None:
        self.tasks.cancel()


def _secret_cell(stored: bool, here: bool, refused: bool) -> str:
    if stored:
        return "stored"
    if refused:
        return "missing (401)"
    return "none: unverified" if here else "—"


def _ago(iso: str | None) -> str:
    if not iso:
        return "never"
    try:
        return age(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return iso

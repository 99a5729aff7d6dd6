"""The Webhooks pane: per number, its webhooks, and every action on them with clicks.

The use cases are the core's (services/webhook_admin.py, shared with the CLI); this draws
them. All network calls run as tasks on the loop (the window never freezes); progress and
platform errors (with their code) are shown in place, in the pane or the open dialog.
Accounts, signing secrets and the public URL changed by another process (the CLI) show here
without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import number_label
from pilot_desktop.services.accounts import AccountError, Accounts
from pilot_desktop.services.config import SettingsError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.webhook_admin import AdminError, Located, WebhookAdmin
from pilot_desktop.services.webhooks import describe_events
from pilot_desktop.ui.elided import ElidedLabel
from pilot_desktop.ui.panes.webhooks.accounts_row import AccountsRow
from pilot_desktop.ui.panes.webhooks.editor import Edit, WebhookEditor, editor_for
from pilot_desktop.ui.panes.webhooks.hooks_table import fill, hooks_table, other_token, show_refused, warnings
from pilot_desktop.ui.panes.webhooks.logs_dialog import LogsDialog
from pilot_desktop.ui.panes.webhooks.retarget_dialog import RetargetDialog
from pilot_desktop.ui.panes.webhooks.sections import Sections
from pilot_desktop.ui.panes.webhooks.target_box import TargetBox
from pilot_desktop.ui.panes.webhooks.watch_parts import WatchParts
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip, delete_box, number_list
from pilot_desktop.ui.refusal_watch import RefusalPicture
from pilot_desktop.ui.tasks import Tasks

log = logging.getLogger(__name__)

EXPECTED = (ApiError, AccountError, SecretsError, SettingsError, AdminError)
STALE_AFTER_S = 30.0


class WebhooksPane(QWidget):
    def __init__(
        self,
        admin: WebhookAdmin,
        *,
        local_base: str,
        instance: str | None,
        profile_accounts: Accounts | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`profile_accounts`: in the demo, the operator's real accounts (the pane shows the sandbox's)."""
        super().__init__(parent)
        self.admin, self.local_base = admin, local_base
        self.profile_accounts = profile_accounts
        self.tasks = Tasks()
        self.webhooks: list[Webhook] = []
        self.loaded_at = 0.0
        self.dialog: QWidget | None = None  # the open dialog, for tests and to keep it alive
        self.refusals: RefusalPicture | None = None  # the receiver's recent refusals (ui/app.py)
        self.where = TargetBox(
            admin, local_base, instance, demo=profile_accounts is not None, tasks=self.tasks
        )
        self.where.target_did_change.connect(self._fill_table)
        self.public_url, self.url_strip = self.where.public_url, self.where.strip
        self._build()
        # Secrets stored before their routes check every route until each gets its route:
        # the first load reads every number's webhooks once to give it to them.
        self.routes_filled = not admin.signing.unrouted()
        admin.config.state.subscribe(self._state_changed)
        self.refresh_numbers()

    def _build(self) -> None:
        self.strip = StatusStrip()
        self.accounts_row = AccountsRow(self.admin.accounts, self.strip, self._open, self.profile_accounts)
        self.accounts_row.point_all_requested.connect(lambda: self.tasks.start(self.open_point_all()))
        self.numbers = number_list()
        self.numbers.currentItemChanged.connect(lambda *_: self.tasks.start(self.load_webhooks()))

        self.title = ElidedLabel("", 120)  # one line, elided in a narrow window
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.refresh = QPushButton("Refresh")
        self.refresh.clicked.connect(lambda: self.tasks.start(self.load_webhooks()))
        self.table = hooks_table()
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
        split.setStretchFactor(1, 1)  # the table takes the width a larger window gives
        split.setCollapsible(1, False)
        split.setSizes([200, 900])

        # Tabs: the webhooks, the tunnel (with self.where), the findings (sections.py).
        self.sections = Sections(self, self.accounts_row, split, self.where, self.strip)

    # -- state ------------------------------------------------------------------------------
    @property
    def accounts(self) -> Accounts:
        return self.admin.accounts

    @property
    def number_id(self) -> str | None:
        item = self.numbers.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def selected(self) -> Webhook | None:
        rows = self.table.selectionModel().selectedRows()
        return self.webhooks[rows[0].row()] if rows else None

    def _located(self) -> Located | None:
        hook, number_id = self.selected(), self.number_id
        pair = next(((a, n) for a, n in self.accounts.numbers() if n.id == number_id), None)
        if hook is None or pair is None:
            return None
        return Located(pair[0], number_id, hook)

    def _state_changed(self, changed: frozenset[str]) -> None:
        """Accounts or secrets changed, here or in another process (the CLI)."""
        if "accounts" in changed:
            self.refresh_numbers()
        elif changed & {"signing_secret_webhooks", "signing_secret_routes"}:
            self._fill_table()

    def refresh_numbers(self) -> None:
        self.accounts_row.show_accounts()
        current = self.number_id
        self.numbers.blockSignals(True)
        self.numbers.clear()
        for _, number in self.accounts.numbers():
            item = QListWidgetItem(f"{number.name or number.id}\n{number.phone}")
            item.setData(Qt.ItemDataRole.UserRole, number.id)
            item.setToolTip(f"{number.name or number.id}\n{number.phone}\n{number.id}")
            self.numbers.addItem(item)
            if number.id == current:
                self.numbers.setCurrentItem(item)
        self.numbers.blockSignals(False)
        if self.numbers.currentItem() is None and self.numbers.count():
            self.numbers.setCurrentRow(0)  # starts load_webhooks through the signal
        elif not self.numbers.count():
            self.webhooks = []
            self._fill_table()

    def open_add_account(self) -> None:
        self.accounts_row.open_add()

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
        self.title.setText(f"Webhooks of {number_label(number_id, self.admin.names())}")
        self.title.setToolTip(self.title.text())
        self.strip.working("Loading webhooks…")
        self.refresh.setEnabled(False)
        try:
            if not self.routes_filled:
                self.routes_filled = True  # once: a deleted webhook's secret never gets a route
                await self.admin.fill_routes()
            hooks = await self.admin.list_number(number_id)
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        finally:
            self.refresh.setEnabled(True)
        if number_id != self.number_id:
            return  # the user moved on to another number meanwhile
        self.webhooks = hooks
        self.loaded_at = time.monotonic()
        self.strip.clear()
        self._fill_table()

    def bases(self) -> list[str]:
        """This receiver's addresses: the public URL, the local one."""
        target = self.admin.target()
        return [target.public_url, self.local_base] if target is not None else [self.local_base]

    def foreign(self, url: str) -> str | None:
        """The other token of a URL at this receiver's address (deliveries get 404), else None."""
        return other_token(url, self.bases(), self.admin.token)

    def _fill_table(self) -> None:
        fill(self.table, self.webhooks, self.admin, self.refusals, self.bases())
        self._update_buttons()
        self._warn()

    def show_refusals(self, picture: RefusalPicture) -> None:
        """Deliveries refused lately, in the rows of the webhooks whose route they were sent to."""
        self.refusals = picture
        show_refused(self.table, self.webhooks, picture)

    def _update_buttons(self) -> None:
        hook = self.selected()
        for button in (self.edit, self.pause, self.delete, self.logs):
            button.setEnabled(hook is not None)
        self.pause.setText("Resume" if hook is not None and not hook.active else "Pause")
        self.new.setEnabled(self.number_id is not None)

    def _warn(self) -> None:
        """What makes the receiver refuse a listed webhook's deliveries (hooks_table.warnings),
        said in the strip, and unsaid once it no longer holds (unless the strip says something else)."""
        said = warnings(self.webhooks, self.admin, self.bases())
        if said:
            self.strip.warn(said)
        elif self.strip.warned:
            self.strip.clear()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # "Last triggered" and pauses made elsewhere go stale: re-read when shown again.
        if self.loaded_at and time.monotonic() - self.loaded_at > STALE_AFTER_S and not self.tasks.busy:
            self.tasks.start(self.load_webhooks())

    # -- create / edit / pause / delete -------------------------------------------------------
    def _editor(self, title: str, number_id: str, located: Located | None = None) -> WebhookEditor:
        def save(edit: Edit) -> Awaitable[None]:
            return self._create(number_id, edit) if located is None else self._update(located, edit)

        return editor_for(
            self, self.admin, title=title, number=number_id, hook=located, save=save, foreign=self.foreign
        )

    def open_new(self) -> None:
        if (number_id := self.number_id) is not None:
            self._open(self._editor("New webhook", number_id))

    def open_edit(self) -> None:
        located = self._located()
        if located is not None and located.number_id is not None:
            self._open(self._editor(f"Edit webhook '{located.hook.name}'", located.number_id, located))

    async def _create(self, number_id: str, edit: Edit) -> None:
        hook, _ = await self.admin.create(
            number_id,
            edit.events,
            url=edit.url,
            name=edit.name or None,
            active=edit.active,
            secret=edit.secret,
        )
        self.strip.ok(f"Webhook '{hook.name}' created ({describe_events(hook.events)}).")
        await self.load_webhooks()

    async def _update(self, located: Located, edit: Edit) -> None:
        hook = located.hook
        # Events always sent: PATCH replaces the list, which is what the editor shows.
        await self.admin.update(
            located,
            name=edit.name or None,
            url=edit.url,
            events=edit.events,
            active=edit.active,
            secret=edit.secret,
            forget_secret=edit.forget_secret,
        )
        self.strip.ok(f"Webhook '{edit.name or hook.name}' saved.")
        await self.load_webhooks()

    async def toggle_active(self) -> None:
        located = self._located()
        if located is None:
            return
        hook = located.hook
        self.strip.working("Resuming…" if not hook.active else "Pausing…")
        try:
            await self.admin.set_active(located, not hook.active)
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        await self.load_webhooks()
        self.strip.ok(f"Webhook '{hook.name}' {'resumed' if not hook.active else 'paused: no deliveries'}.")

    def confirm_delete(self) -> None:
        located = self._located()
        if located is None:
            return
        box = delete_box(self, located.hook.name)

        def done(result: int) -> None:
            if result == QMessageBox.StandardButton.Yes:
                self.tasks.start(self._delete(located))

        box.finished.connect(done)
        self._open(box)

    async def _delete(self, located: Located) -> None:
        self.strip.working("Deleting…")
        try:
            await self.admin.delete(located)
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        await self.load_webhooks()
        self.strip.ok(f"Webhook '{located.hook.name}' deleted.")

    # -- logs and retargeting -----------------------------------------------------------------
    def open_logs(self) -> None:
        located = self._located()
        if located is None:
            return
        dialog = LogsDialog(self, f"Delivery logs of '{located.hook.name}'", lambda: self.admin.logs(located))
        self._open(dialog)
        dialog.reload()

    async def open_point_all(self) -> None:
        self.strip.working("Reading every number's webhooks…")
        try:
            changes = await self.admin.plan_point_all()
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        self.strip.clear()
        known = self.admin.names()
        names = {n.id: number_label(n.id, known) for _, n in self.accounts.numbers()}
        dialog = RetargetDialog(self, changes, names, self.admin.retarget, foreign=self.foreign)
        # The table follows each Apply at once, not only when the dialog closes.
        dialog.applied.connect(lambda: self.tasks.start(self.load_webhooks()))
        self._open(dialog)

    # -- plumbing ---------------------------------------------------------------------------
    def _open(self, dialog: QWidget) -> None:
        # open(), not exec(): a nested event loop would stall the receiver on this loop.
        self.dialog = dialog
        dialog.open()  # type: ignore[attr-defined]

    def attach_watch(self, parts: WatchParts) -> None:
        """The tunnel box, the drift findings, the re-point banner and subscribe-all (the core's)."""
        # After subscribe-all, the table re-reads the platform.
        self.sections.attach(parts, self.admin, self._open, lambda: self.tasks.start(self.load_webhooks()))
        self.where.follow_tunnel(parts.tunnel)  # a dead tunnel's URL is not shown as live

    def receiver_moved(self, local_base: str) -> None:
        """The receiver moved (ui/port_recovery.py): hints and "points here" follow."""
        self.local_base = local_base
        self.where.set_local_base(local_base)
        if self.sections.tunnel_box is not None:
            self.sections.tunnel_box.receiver_moved()
        self.tasks.start(self.load_webhooks())  # "points here" is judged against the new address

    async def settled(self) -> None:
        """Wait for this pane's and its open dialog's work (tests, shutdown)."""
        while True:
            await self.tasks.settled()
            await self.sections.settled()
            settle = getattr(self.dialog, "settled", None)
            if settle is not None:
                await settle()
            if not self.tasks.busy and not self.sections.tasks.busy:
                return

    def shutdown(self) -> None:
        self.admin.config.state.unsubscribe(self._state_changed)
        self.where.shutdown()
        self.sections.shutdown()
        self.tasks.cancel()

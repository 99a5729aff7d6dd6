""" "Subscribe all numbers to this app": the plan (services/subscribe_all.py) as a preview
with a tick per number, then one action; each webhook it creates asks for its signing
secret (the platform never returns it), prefilled from the sandbox's console in the demo."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import number_label
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.config import SettingsError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.subscribe_all import (
    Submit,
    SubscribePlan,
    SubscribeResult,
    SubscribeStep,
    apply_subscribe_all,
    plan_subscribe_all,
)
from pilot_desktop.services.webhook_admin import AdminError, WebhookAdmin
from pilot_desktop.ui.look import GREEN, RED, cell_colour, fit_to_window
from pilot_desktop.ui.panes.webhooks.columns import FitColumns, refit
from pilot_desktop.ui.panes.webhooks.secret_prompt import SecretPrompt
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

EXPECTED = (ApiError, AccountError, AdminError, SecretsError, SettingsError)
# The result beside the tick: in view in a narrow window; the reason takes the spare width.
COLUMNS = ("Subscribe", "Result", "Number", "Account", "Action", "Webhook", "Why")
RESULT = COLUMNS.index("Result")
WHY = COLUMNS.index("Why")
NUMBER, ACCOUNT, HOOK = COLUMNS.index("Number"), COLUMNS.index("Account"), COLUMNS.index("Webhook")
ACTIONS = {"create": "create", "repoint": "re-point", "keep": "keep"}

INTRO = (
    "One webhook for every event (*) per number, pointing at this app: created where a number has "
    "none, re-pointed where this app's webhook is on an old address, kept where it already points "
    "here. Untick the numbers to leave alone; nothing changes until you press Apply. Each webhook "
    "created asks for its signing secret."
)
_BUTTON = QDialogButtonBox.StandardButton


class SubscribeAllDialog(QDialog):
    applied = Signal()  # webhooks were created or re-pointed: lists shown elsewhere are stale

    def __init__(self, parent: QWidget | None, admin: WebhookAdmin, submit: Submit | None = None) -> None:
        """`submit`: the store's writer, for the URL history (each webhook registered)."""
        super().__init__(parent)
        self.setWindowTitle("Subscribe all numbers to this app")
        self.admin, self.submit = admin, submit
        self.tasks = Tasks()
        self.steps: list[SubscribeStep] = []
        self.outcome: SubscribeResult | None = None
        self.asked: list[str] = []  # webhooks whose secret was asked for (tests, the summary)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.target = QLabel()
        self.target.setWordWrap(True)
        self.target.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Number, Account and Webhook whole (up to a cap); Why takes what remains.
        caps = {RESULT: 220, NUMBER: 340, ACCOUNT: 260, HOOK: 340}
        floors = {RESULT: "failed: …", NUMBER: "Imobiliária", ACCOUNT: "Sandbox", HOOK: "Pilot Desk"}
        # Short of room the tick column's title is a tick (its tooltip says "Subscribe").
        FitColumns(self.table, WHY, least=120, caps=caps, floors=floors, narrow={0: "✓"})
        self.prompt = SecretPrompt(admin.accounts.secrets.backend)
        self.strip = StatusStrip()
        self.buttons = QDialogButtonBox(_BUTTON.Apply | _BUTTON.Close)
        self.apply_button = self.buttons.button(_BUTTON.Apply)
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._on_apply)
        self.buttons.rejected.connect(self.reject)
        self.rejected.connect(self.prompt.cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.target)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.prompt)
        layout.addWidget(self.strip)
        layout.addWidget(self.buttons)
        fit_to_window(self, parent, 1000, 460)

    # -- the preview ----------------------------------------------------------------------------
    def load(self) -> None:
        self.tasks.start(self._load())

    async def _load(self) -> None:
        self.strip.working("Reading every number's webhooks…")
        try:
            plan = await plan_subscribe_all(self.admin)
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        self.show_plan(plan)

    def show_plan(self, plan: SubscribePlan) -> None:
        self.steps = list(plan.steps)
        example = html.escape(plan.target.url_for("NUMBER")).removesuffix("NUMBER") + "&lt;number id&gt;"
        self.target.setText(f"Webhooks will point at <b>{example}</b>")
        known = self.admin.names()
        self.table.setRowCount(len(self.steps))
        for row, step in enumerate(self.steps):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            changes = step.action != "keep"
            tick.setCheckState(Qt.CheckState.Checked if changes else Qt.CheckState.Unchecked)
            if not changes:
                tick.setFlags(Qt.ItemFlag.NoItemFlags)
            self.table.setItem(row, 0, tick)
            cells = (
                "",
                number_label(step.number.id, known),
                step.account.label or step.account.id,
                ACTIONS.get(step.action, step.action),
                step.webhook.name if step.webhook is not None else "(new)",
                step.reason,
            )
            for col, text in enumerate(cells, start=1):
                item = QTableWidgetItem(text)
                item.setToolTip(step.new_url if col == COLUMNS.index("Action") else text)
                self.table.setItem(row, col, item)
        refit(self.table)
        failures = list(plan.failures)
        if failures:
            self.strip.warn(
                f"{len(failures)} number(s) could not be read, so they are not in the list: "
                + "; ".join(f"{number.id}: {why}" for number, why in failures)
            )
        elif not self.steps:
            self.strip.warn("No number to subscribe: add an account first.")
        else:
            self.strip.clear()
        self.apply_button.setEnabled(bool(self.selected()))

    def selected(self) -> list[int]:
        return [
            row
            for row in range(self.table.rowCount())
            if (item := self.table.item(row, 0)) is not None and item.checkState() == Qt.CheckState.Checked
        ]

    # -- applying -------------------------------------------------------------------------------
    def _on_apply(self) -> None:
        if not self.tasks.busy:
            self.tasks.start(self.apply(self.selected()))

    async def apply(self, rows: list[int]) -> None:
        self.apply_button.setEnabled(False)
        self.strip.working(f"Subscribing {len(rows)} number(s)…")
        try:
            result = await apply_subscribe_all(
                self.admin, [self.steps[r] for r in rows], self.ask_secret, self.submit
            )
        except EXPECTED as exc:
            self.strip.error(exc)
            self.apply_button.setEnabled(True)
            return
        self.outcome = result
        self.show_result(result)
        if result.created or result.repointed:
            self.applied.emit()

    async def ask_secret(self, hook: Webhook) -> str | None:
        self.asked.append(hook.id)
        number = number_label(hook.number_id, self.admin.names()) if hook.number_id else "a number"
        demo = self.admin.demo_secret(hook.id) if self.admin.demo_secret is not None else None
        question = f"Signing secret of the new webhook '{hook.name}' of {number}"
        if demo:
            question += " (demo: filled in from the sandbox's console)"
        self.strip.working("Waiting for the signing secret…")
        try:
            return await self.prompt.ask(question + ":", demo)
        finally:
            self.strip.working("Subscribing…")

    def show_result(self, result: SubscribeResult) -> None:
        """Per number: what was done, or why it failed; notes (unsigned webhooks) below."""
        rows = {id(step): row for row, step in enumerate(self.steps)}
        unsigned = {h.id for h in result.unsigned}
        outcomes: list[tuple[SubscribeStep, str, bool]] = []
        for step, hook in result.created:
            signed = "no signing secret" if hook.id in unsigned else "secret stored"
            outcomes.append((step, f"created · {signed}", True))
        outcomes += [(step, "re-pointed", True) for step, _ in result.repointed]
        outcomes += [(step, "kept", True) for step in result.kept]
        outcomes += [(step, f"failed: {why}", False) for step, why in result.failed]
        for step, text, ok in outcomes:
            row = rows.get(id(step))
            if row is None:
                continue
            cell, tick = self.table.item(row, RESULT), self.table.item(row, 0)
            assert cell is not None and tick is not None
            cell.setText(text)
            cell.setToolTip(f"{text}\n{step.new_url}")
            cell.setForeground(cell_colour(self.table, GREEN if ok else RED))
            if ok:
                tick.setCheckState(Qt.CheckState.Unchecked)
        refit(self.table)  # short sentences; the URL is in the tooltip
        # The service's note on unsigned webhooks names the CLI; here, Edit… is the way.
        notes = " ".join(n for n in result.notes if not n.startswith("no signing secret stored"))
        if result.unsigned:
            notes += (
                f" No signing secret stored for {', '.join(h.id for h in result.unsigned)}: its deliveries "
                "are accepted unverified until you add it with Edit… (Webhooks tab)."
            )
        done = len(result.created) + len(result.repointed)
        if result.failed:
            self.strip.error(f"{len(result.failed)} number(s) failed; see the Result column. {notes}".strip())
        elif result.unsigned:
            self.strip.warn(f"{done} webhook(s) created or re-pointed. {notes}".strip())
        else:
            self.strip.ok(
                f"{done} webhook(s) created or re-pointed; every number is subscribed. {notes}".strip()
            )
        self.apply_button.setEnabled(bool(self.selected()))

    async def settled(self) -> None:
        await self.tasks.settled()

""" "Point all my webhooks at this app": a preview of every change, then one action.

The tick and the result come first, so what happened stays in view in a narrow window; the
reason takes the spare width. Each Apply says so (`applied`), so lists behind the dialog
re-read the platform at once rather than when the dialog closes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

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
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.webhooks import Change
from pilot_desktop.ui.look import GREEN, RED, cell_colour, fit_to_window
from pilot_desktop.ui.panes.webhooks.columns import FitColumns, refit
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

COLUMNS = ("Change", "Result", "Number", "Webhook", "Now points at", "Will point at", "Why")
_BUTTON = QDialogButtonBox.StandardButton
RESULT = COLUMNS.index("Result")
NOW, WILL = COLUMNS.index("Now points at"), COLUMNS.index("Will point at")
URL_COLUMNS = (NOW, WILL)  # shown by host (what changed), the whole URL in the tooltip
WHY = COLUMNS.index("Why")
FOREIGN_WHY = "this app's address with another token: its deliveries are refused (404)"


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


def _short(url: str) -> str:
    """Host and path (no scheme, query or fragment): what tells two URLs on one host apart."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}" if parts.netloc else url


class ChangeFailed(Exception):
    """An `apply` that reports a failure (the re-pointer's) rather than raising the API's."""


class RetargetDialog(QDialog):
    applied = Signal()  # an Apply changed webhooks on the platform: lists shown elsewhere are stale

    def __init__(
        self,
        parent: QWidget | None,
        changes: list[Change],
        number_names: dict[str, str],
        apply: Callable[[Change], Awaitable[object]],
        *,
        title: str = "Point webhooks at this app",
        intro: str | None = None,
        foreign: Callable[[str], str | None] = lambda url: None,
    ) -> None:
        """`foreign(url)`: the other token of a URL at this app's address (said in Why)."""
        super().__init__(parent)
        self.setWindowTitle(title)
        self.changes = changes
        self._apply = apply
        self._tasks = Tasks()
        intro_label = QLabel(
            intro
            if intro is not None
            else "Every webhook that does not point at this app is listed. Those on an old address of "
            "this app (the tunnel moved) are ticked; those pointing at another system are not — "
            "tick them only if this app should take over their deliveries. Nothing changes until "
            "you press Apply."
            if changes
            else "Every webhook already points at this app. Nothing to change."
        )
        intro_label.setWordWrap(True)
        self.table = QTableWidget(len(changes), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Ticks, not a selection: no current-cell frame beside the checkbox.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for row, change in enumerate(changes):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            tick.setCheckState(Qt.CheckState.Checked if change.recommended else Qt.CheckState.Unchecked)
            self.table.setItem(row, 0, tick)
            old, new = change.webhook.url, change.new_url
            if host_of(old) == host_of(new):  # same host (another token, a route): the paths differ
                old, new = _short(old), _short(new)
            else:
                old, new = host_of(old), host_of(new)
            why = FOREIGN_WHY if foreign(change.webhook.url) is not None else change.reason
            cells = {
                RESULT: ("", ""),
                COLUMNS.index("Number"): (number_names.get(change.number_id, change.number_id),) * 2,
                COLUMNS.index("Webhook"): (change.webhook.name,) * 2,
                NOW: (old, change.webhook.url),
                WILL: (new, change.new_url),
                WHY: (why, why),
            }
            for col, (text, tip) in cells.items():
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                self.table.setItem(row, col, item)
        # Number and Webhook whole (up to a cap), the addresses' hosts whole; Why the rest.
        number, hook = COLUMNS.index("Number"), COLUMNS.index("Webhook")
        caps = {RESULT: 220, number: 340, hook: 340, NOW: 260, WILL: 260}
        floors = {
            RESULT: "failed: …",
            number: "Imobiliária",
            hook: "Pilot Desk",
            NOW: "old.example",
            WILL: "old.example",
        }
        FitColumns(self.table, WHY, least=120, caps=caps, floors=floors)
        self.strip = StatusStrip()
        self.buttons = QDialogButtonBox(_BUTTON.Apply | _BUTTON.Close)
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setEnabled(bool(changes))
        self.apply_button.clicked.connect(self._on_apply)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.strip)
        layout.addWidget(self.buttons)
        fit_to_window(self, parent, 900, 420)

    def column(self, name: str) -> int:
        return COLUMNS.index(name)

    def selected(self) -> list[int]:
        return [
            row
            for row in range(self.table.rowCount())
            if (item := self.table.item(row, 0)) is not None and item.checkState() == Qt.CheckState.Checked
        ]

    def _on_apply(self) -> None:
        if not self._tasks.busy:
            self._tasks.start(self._run(self.selected()))

    async def _run(self, rows: list[int]) -> None:
        self.apply_button.setEnabled(False)
        failed = 0
        for done, row in enumerate(rows, start=1):
            self.strip.working(f"Updating {done} of {len(rows)}…")
            result = self.table.item(row, RESULT)
            assert result is not None
            try:
                await self._apply(self.changes[row])
            except (ApiError, AccountError, ChangeFailed) as exc:
                failed += 1
                result.setText(f"failed: {exc}")
                result.setToolTip(f"failed: {exc}")
                result.setForeground(cell_colour(self.table, RED))
                continue
            result.setText("done")
            result.setToolTip("done: it points at this app now")
            result.setForeground(cell_colour(self.table, GREEN))
            tick = self.table.item(row, 0)
            assert tick is not None
            tick.setCheckState(Qt.CheckState.Unchecked)
        refit(self.table)
        if failed:
            self.strip.error(f"{failed} of {len(rows)} changes failed; see the Result column.")
        else:
            self.strip.ok(f"{len(rows)} webhooks now point at this app.")
        self.apply_button.setEnabled(True)
        if failed < len(rows):
            self.applied.emit()

    async def settled(self) -> None:
        await self._tasks.settled()

""" "Point all my webhooks at this app": a preview of every change, then one action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.webhooks import Change
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

COLUMNS = ("Change", "Number", "Webhook", "Now points at", "Will point at", "Why", "Result")
_BUTTON = QDialogButtonBox.StandardButton
URL_COLUMNS = (3, 4)  # shown by host (what changed), the whole URL in the tooltip
WHY = COLUMNS.index("Why")


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


class ChangeFailed(Exception):
    """An `apply` that reports a failure (the re-pointer's) rather than raising the API's."""


class RetargetDialog(QDialog):
    def __init__(
        self,
        parent: QWidget | None,
        changes: list[Change],
        number_names: dict[str, str],
        apply: Callable[[Change], Awaitable[object]],
        *,
        title: str = "Point webhooks at this app",
        intro: str | None = None,
    ) -> None:
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
            cells = (
                number_names.get(change.number_id, change.number_id),
                change.webhook.name,
                change.webhook.url,
                change.new_url,
                change.reason,
                "",
            )
            for col, text in enumerate(cells, start=1):
                item = QTableWidgetItem(host_of(text) if col in URL_COLUMNS else text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(WHY, QHeaderView.ResizeMode.Stretch)  # the rest fits at 900 px
        header.setMinimumSectionSize(40)
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
        self.resize(900, 420)

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
            result = self.table.item(row, 6)
            assert result is not None
            try:
                await self._apply(self.changes[row])
            except (ApiError, AccountError, ChangeFailed) as exc:
                failed += 1
                result.setText(f"failed: {exc}")
                result.setForeground(Qt.GlobalColor.red)
                continue
            result.setText("done")
            tick = self.table.item(row, 0)
            assert tick is not None
            tick.setCheckState(Qt.CheckState.Unchecked)
        if failed:
            self.strip.error(f"{failed} of {len(rows)} changes failed; see the Result column.")
        else:
            self.strip.ok(f"{len(rows)} webhooks now point at this app.")
        self.apply_button.setEnabled(True)

    async def settled(self) -> None:
        await self._tasks.settled()

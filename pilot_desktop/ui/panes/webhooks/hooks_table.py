"""The Webhooks pane's table: one row per webhook of the selected number."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import age_iso
from pilot_desktop.services.webhook_admin import WebhookAdmin
from pilot_desktop.services.webhooks import describe_events
from pilot_desktop.ui.panes.webhooks.widgets import row_table

COLUMNS = ("Name", "Events", "Active", "Last triggered", "Signing secret", "URL")
URL_COLUMN = COLUMNS.index("URL")
REFUSED_TIP = (
    "Another signing secret checks this webhook's address, so its deliveries are refused (401): "
    "add its own signing secret (Edit…)"
)
UNVERIFIED_TIP = (
    "No signing secret stored: deliveries are accepted unverified. Add it (Edit…) to have them checked"
)


def hooks_table() -> QTableWidget:
    table = row_table(COLUMNS)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    table.setWordWrap(False)
    return table


def fill(table: QTableWidget, hooks: list[Webhook], admin: WebhookAdmin) -> None:
    """Every webhook: its events, whether it is paused, when it last fired, whether its
    signing secret is stored (or missing where another secret refuses its deliveries) and
    its URL, marked when it points at this app."""
    refused = {h.id for h in admin.refused(hooks)}
    table.setRowCount(len(hooks))
    for row, hook in enumerate(hooks):
        here = admin.points_here(hook.url)
        secret = admin.signing.has(hook.id)
        cells = [
            hook.name,
            describe_events(hook.events),
            "active" if hook.active else "paused",
            age_iso(hook.last_triggered),
            _secret_cell(secret, here, hook.id in refused),
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
            if col == 4 and hook.id in refused:
                item.setForeground(QColor("#c05621"))
                item.setToolTip(REFUSED_TIP)
            elif col == 4 and here and not secret:
                item.setToolTip(UNVERIFIED_TIP)
            table.setItem(row, col, item)
    table.resizeColumnsToContents()
    for col in range(URL_COLUMN):  # long event lists must not push the URL out of sight
        table.setColumnWidth(col, min(table.columnWidth(col), 320))
    table.setColumnWidth(URL_COLUMN, 200)  # then stretched to the free width


def _secret_cell(stored: bool, here: bool, refused: bool) -> str:
    if stored:
        return "stored"
    if refused:
        return "missing (401)"
    return "none: unverified" if here else "—"

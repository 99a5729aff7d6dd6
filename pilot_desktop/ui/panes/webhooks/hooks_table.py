"""The Webhooks pane's table: one row per webhook of the selected number."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import age_iso
from pilot_desktop.services.webhook_admin import WebhookAdmin
from pilot_desktop.services.webhooks import describe_events
from pilot_desktop.ui.panes.webhooks.widgets import row_table
from pilot_desktop.ui.refusal_watch import RefusalPicture, route_words, window_words

COLUMNS = ("Name", "Events", "Active", "Last triggered", "Signing secret", "URL")
URL_COLUMN = COLUMNS.index("URL")
LAST_COLUMN = COLUMNS.index("Last triggered")
_NOT_A_HOOK = "\0"  # a URL that is no /hooks/<token>[/<route>] address: no refusal is its
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


def fill(
    table: QTableWidget, hooks: list[Webhook], admin: WebhookAdmin, refusals: RefusalPicture | None = None
) -> None:
    """Every webhook: its events, whether it is paused, when it last fired (and whether its
    deliveries are being refused here), whether its signing secret is stored (or missing
    where another secret refuses its deliveries) and its URL, marked when it points at this app."""
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
    show_refused(table, hooks, refusals, resize=False)
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


def hook_route(url: str) -> str | None:
    """The route a hook URL sends to, whatever its token (a webhook of another install
    pointed here is refused on its route too): `…/hooks/<token>/<route>` -> route,
    `…/hooks/<token>` -> None (the bare URL); any other URL -> a key no refusal has."""
    parts = [unquote(p) for p in urlsplit(url).path.split("/")]
    if len(parts) >= 3 and parts[-2] == "hooks" and parts[-1]:
        return None
    if len(parts) >= 4 and parts[-3] == "hooks" and parts[-2] and parts[-1]:
        return parts[-1]
    return _NOT_A_HOOK


def show_refused(
    table: QTableWidget, hooks: list[Webhook], refusals: RefusalPicture | None, *, resize: bool = True
) -> None:
    """The "Last triggered" cell of a webhook whose route had refused deliveries lately
    says so in red ("⊘ 12 refused (401) in 5 min"), the reason and hint in its tooltip:
    the platform's "0 s ago" counts attempts, not deliveries kept."""
    for row, hook in enumerate(hooks[: table.rowCount()]):
        item = table.item(row, LAST_COLUMN)
        if item is None:
            continue
        last = age_iso(hook.last_triggered)
        route = hook_route(hook.url)
        concern = refusals.route(route) if refusals is not None and route != _NOT_A_HOOK else None
        if concern is None:
            if item.text() != last:
                item.setText(last)
                item.setToolTip(last)
                item.setData(Qt.ItemDataRole.ForegroundRole, None)
            continue
        span = window_words(refusals.summary.window_s) if refusals is not None else ""
        item.setText(f"{last} · ⊘ {concern.count_text} refused ({concern.status_text}) in {span}")
        item.setForeground(QColor("#c53030"))
        latest = concern.latest
        tip = [
            f"This receiver refused {concern.count_text} deliveries to {route_words(route)} in the last "
            f"{span} ({concern.status_text}); the platform counts them as triggered all the same.",
            f"Latest: {latest.status}: {latest.reason}",
        ]
        if latest.hint:
            tip.append(f"Hint: {latest.hint}")
        item.setToolTip("\n".join(tip))
    if resize:
        table.resizeColumnToContents(LAST_COLUMN)
        table.setColumnWidth(LAST_COLUMN, min(table.columnWidth(LAST_COLUMN), 320))

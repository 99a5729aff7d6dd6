"""The Webhooks pane's table: one row per webhook of the selected number."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import age_iso
from pilot_desktop.services.webhook_admin import WebhookAdmin
from pilot_desktop.services.webhooks import describe_events
from pilot_desktop.tunnel.public_url import token_at
from pilot_desktop.ui.look import AMBER, GREEN, ORANGE, RED, cell_colour
from pilot_desktop.ui.panes.webhooks.columns import SHORT_ROLE, FitColumns, refit
from pilot_desktop.ui.panes.webhooks.widgets import row_table
from pilot_desktop.ui.refusal_watch import RefusalPicture, route_words, window_words

# The URL second: it is what the operator reads first, and stays in view at 640 px.
COLUMNS = ("Name", "URL", "Events", "Active", "Last triggered", "Signing secret")
URL_COLUMN = COLUMNS.index("URL")
EVENTS_COLUMN = COLUMNS.index("Events")
ACTIVE_COLUMN = COLUMNS.index("Active")
LAST_COLUMN = COLUMNS.index("Last triggered")
SECRET_COLUMN = COLUMNS.index("Signing secret")
FOREIGN_MARK = "⚠ other token"
_NOT_A_HOOK = "\0"  # a URL that is no /hooks/<token>[/<route>] address: no refusal is its
REFUSED_TIP = (
    "Another signing secret checks this webhook's address, so its deliveries are refused (401): "
    "add its own signing secret (Edit…)"
)
UNVERIFIED_TIP = (
    "No signing secret stored: deliveries are accepted unverified. Add it (Edit…) to have them checked"
)


FOREIGN_TIP = (
    "This webhook points at this app's address, but with another token ({token}…): the receiver "
    "refuses its deliveries (404). It is from another install, or from before this app's token "
    "changed: point it at this app (Edit… → Use this app's URL, or Point all…)."
)


def hooks_table() -> QTableWidget:
    """The table, its columns shared by need (columns.py): names whole up to a cap, the events
    readable, the URL the rest and 40 % at least; short of room, "Active", "Last triggered" and
    "Signing secret" take their short forms ("on", "3 min", "✓"), then hide (the secret first)."""
    table = row_table(COLUMNS)
    FitColumns(
        table,
        URL_COLUMN,
        least=160,
        share=0.4,
        caps={0: 340, EVENTS_COLUMN: 260, LAST_COLUMN: 260},
        floors={0: "Webhook na", EVENTS_COLUMN: "all events (*)"},
        narrow={ACTIVE_COLUMN: "On", LAST_COLUMN: "Last", SECRET_COLUMN: "Secret"},
        drop=(SECRET_COLUMN, LAST_COLUMN, ACTIVE_COLUMN),
    )
    return table


def short_age(age: str) -> str:
    """ "3 min ago" -> "3 min": the Last column's short form."""
    return age.removesuffix(" ago")


def other_token(url: str, bases: Sequence[str], token: str) -> str | None:
    """The token of a hook URL at one of this receiver's addresses (`bases`: the public URL,
    the local one) when it is not the receiver's own (deliveries there get 404); else None."""
    for base in bases:
        found = token_at(url, base)
        if found is not None:
            return found if found != token else None
    return None


def events_cell(events: list[str]) -> tuple[str, str]:
    """The events cell (a count first when several, so an elided list still says how many)
    and its tooltip, one event a line."""
    text = describe_events(events)
    if len(events) > 2:
        text = f"{len(events)} events: {text}"
    return text, "\n".join(events) if len(events) > 1 else text


def fill(
    table: QTableWidget,
    hooks: list[Webhook],
    admin: WebhookAdmin,
    refusals: RefusalPicture | None = None,
    bases: Sequence[str] = (),
) -> None:
    """Every webhook: its URL (marked when it points at this app, or at this app's address
    with another token), its events, whether it is paused, when it last fired (and whether its
    deliveries are being refused here), whether its signing secret is stored (or missing where
    another secret refuses its deliveries). `bases`: this receiver's addresses."""
    refused = {h.id for h in admin.refused(hooks)}
    table.setRowCount(len(hooks))
    for row, hook in enumerate(hooks):
        here = admin.points_here(hook.url)
        foreign = None if here else other_token(hook.url, bases, admin.token)
        secret = admin.signing.has(hook.id)
        events, events_tip = events_cell(hook.events)
        url = f"→ this app   {hook.url}" if here else hook.url
        cells = [
            hook.name,
            f"{FOREIGN_MARK}   {hook.url}" if foreign is not None else url,
            events,
            "active" if hook.active else "paused",
            age_iso(hook.last_triggered),
            _secret_cell(secret, here, hook.id in refused),
        ]
        shorts = {ACTIVE_COLUMN: "on" if hook.active else "off", SECRET_COLUMN: _SHORT_SECRET[cells[-1]]}
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if col in shorts:
                item.setData(SHORT_ROLE, shorts[col])
            if col == URL_COLUMN and here:
                item.setForeground(cell_colour(table, GREEN))
                item.setToolTip(f"Points at this app's receiver: {hook.url}")
            elif col == URL_COLUMN and foreign is not None:
                item.setForeground(cell_colour(table, RED))
                item.setToolTip(f"{FOREIGN_TIP.format(token=foreign[:6])}\n{hook.url}")
            if col == EVENTS_COLUMN:
                item.setToolTip(events_tip)
            if col == ACTIVE_COLUMN and not hook.active:
                item.setForeground(cell_colour(table, AMBER))
            if col == SECRET_COLUMN and hook.id in refused:
                item.setForeground(cell_colour(table, ORANGE))
                item.setToolTip(REFUSED_TIP)
            elif col == SECRET_COLUMN and here and not secret:
                item.setToolTip(UNVERIFIED_TIP)
            table.setItem(row, col, item)
    show_refused(table, hooks, refusals, resize=False)
    refit(table)


def warnings(hooks: list[Webhook], admin: WebhookAdmin, bases: Sequence[str]) -> str:
    """Why the receiver refuses some listed webhooks' deliveries, in one sentence each; "" when
    none. A webhook at this app's address with another token gets 404. One pointing here without
    a stored secret is accepted unverified (its cell says so), unless its route is checked anyway:
    it shares the address of a webhook whose secret is stored, so its deliveries get 401."""
    said = []
    foreign = [h.name for h in hooks if other_token(h.url, bases, admin.token) is not None]
    if foreign:
        said.append(
            f"{', '.join(foreign)} point(s) at this app's address with another token, so the receiver "
            "refuses their deliveries (404): point them at this app (Edit… → Use this app's URL, or "
            "Point all…)."
        )
    refused = [h.name for h in admin.refused(hooks)]
    if refused:
        said.append(
            f"{', '.join(refused)} point(s) at this app without a stored signing secret, at an "
            "address another signing secret checks (a webhook sharing it has one), so the receiver "
            "refuses their deliveries (401): add their secret (Edit…)."
        )
    return "\n".join(said)


_SHORT_SECRET = {"stored": "✓", "missing (401)": "401", "none: unverified": "none", "—": "—"}


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
            item.setData(SHORT_ROLE, short_age(last))
            continue
        span = window_words(refusals.summary.window_s) if refusals is not None else ""
        item.setText(f"{last} · ⊘ {concern.count_text} refused ({concern.status_text}) in {span}")
        item.setData(SHORT_ROLE, f"⊘ {concern.count_text} ({concern.status_text})")
        item.setForeground(cell_colour(table, RED))
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
        refit(table)

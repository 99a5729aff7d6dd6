"""How the Webhooks pane is laid out, and its watch over the path from the platform.

Three tabs keep it usable on a small screen: the webhooks themselves; the tunnel and public
URL (scrolling); the changes found behind the app's back. Above them, a banner while some of
this app's webhooks still point at an old address (re-pointing waits for the operator).
The tabs' titles carry the tunnel's state and the number of findings, so neither hides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.format import number_label
from pilot_desktop.services.webhooks import Change
from pilot_desktop.ui.panes.webhooks.accounts_row import AccountsRow
from pilot_desktop.ui.panes.webhooks.drift_list import DriftList
from pilot_desktop.ui.panes.webhooks.retarget_dialog import ChangeFailed, RetargetDialog
from pilot_desktop.ui.panes.webhooks.subscribe_all_dialog import SubscribeAllDialog
from pilot_desktop.ui.panes.webhooks.target_box import STATE_WORDS
from pilot_desktop.ui.panes.webhooks.tunnel_box import TunnelBox
from pilot_desktop.ui.panes.webhooks.watch_parts import WatchParts
from pilot_desktop.ui.tasks import Tasks

if TYPE_CHECKING:
    from pilot_desktop.services.webhook_admin import WebhookAdmin

BANNER_STYLE = (
    "QFrame#repoint { background: #feebc8; border: 1px solid #f6ad55; border-radius: 4px; }"
    "QLabel { color: #7b341e; }"
)
REVIEW_INTRO = (
    "The public URL changed and these webhooks of this app still point at its old address, so "
    "their deliveries go nowhere. Untick any to leave as is; nothing changes until you press Apply."
)
WEBHOOKS_TAB, TUNNEL_TAB, DRIFT_TAB = 0, 1, 2


def old_base(url: str) -> str:
    return url.split("/hooks/", 1)[0]


class RepointBanner(QFrame):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("repoint")
        self.setStyleSheet(BANNER_STYLE)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.review = QPushButton("Review…")
        self.changes: list[Change] = []
        # Why the webhooks cannot be moved now (the tunnel is down: no live URL to move them
        # to), else None; the banner then waits instead of offering Review.
        self.blocked: Callable[[], str | None] = lambda: None
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.text, 1)
        row.addWidget(self.review)
        self.hide()

    def show_pending(self, changes: list[Change]) -> None:
        self.changes = list(changes)
        olds = sorted({old_base(c.webhook.url) for c in changes})
        n = len(changes)
        where = f"the old address {olds[0]}" if len(olds) == 1 else f"old addresses ({', '.join(olds)})"
        said = f"{n} webhook{'' if n == 1 else 's'} still point{'s' if n == 1 else ''} at {where}."
        if blocked := self.blocked():
            said = f"{said[:-1]}; waiting for the tunnel's new URL ({blocked}) before they can move."
        self.text.setText(said)
        self.review.setVisible(not blocked)
        self.setVisible(bool(changes))

    def recheck(self, *_: object) -> None:  # the tunnel's state changed
        self.show_pending(self.changes)


class Sections:
    """Built by the pane's layout; `attach` adds what needs the core (the tunnel, the drift
    audit, re-pointing, subscribe-all) once the pane is given them."""

    def __init__(
        self, pane: QWidget, accounts_row: AccountsRow, webhooks: QWidget, target_box: QWidget, strip: QWidget
    ) -> None:
        self.pane = pane
        self.tasks = Tasks()
        self.parts: WatchParts | None = None
        self.tunnel_box: TunnelBox | None = None
        self.drift_list: DriftList | None = None
        self.banner = RepointBanner()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        page = QWidget()
        page_col = QVBoxLayout(page)
        page_col.setContentsMargins(0, 0, 0, 0)
        page_col.addWidget(accounts_row)
        page_col.addWidget(accounts_row.store_warning)
        page_col.addWidget(webhooks, 1)
        self.tabs.addTab(page, "Webhooks")
        self.tunnel_page = QWidget()
        self.tunnel_col = QVBoxLayout(self.tunnel_page)
        self.tunnel_col.addWidget(target_box)
        self.tunnel_col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.tunnel_page)
        self.tabs.addTab(scroll, "Tunnel")
        col = QVBoxLayout(pane)
        col.addWidget(self.banner)
        col.addWidget(self.tabs, 1)
        col.addWidget(strip)
        self.subscribe_all = QPushButton("Subscribe all…")  # short: the row fits a 640 px window
        self.subscribe_all.setToolTip(
            "Subscribe all numbers to this app: one webhook for every event (*) per number of every "
            "account, pointing at this app: a preview first, then the signing secrets."
        )
        self.subscribe_all.hide()
        row = accounts_row.layout()
        assert row is not None  # the accounts row lays its buttons out in a row
        row.addWidget(self.subscribe_all)

    def attach(
        self,
        parts: WatchParts,
        admin: WebhookAdmin,
        open_dialog: Callable[[QWidget], None],
        reload: Callable[[], object] = lambda: None,
    ) -> None:
        """`reload`: re-read the Webhooks table (after subscribe-all changed the platform)."""
        self.parts, self.admin, self._open, self._reload = parts, admin, open_dialog, reload
        self.tunnel_box = TunnelBox(parts, self.tasks)
        self.tunnel_box.state_did_change.connect(self._tunnel_state)
        self.tunnel_col.insertWidget(0, self.tunnel_box)
        self._tunnel_state(parts.tunnel.status.state if parts.tunnel.status.mode != "manual" else "manual")
        self.drift_list = DriftList(parts.drift, parts.reads, admin.names, self.tasks)
        self.drift_list.count_did_change.connect(self._drift_count)
        self.tabs.currentChanged.connect(self._tab_shown)
        self.tabs.addTab(self.drift_list, "")
        self._drift_count(len(self.drift_list.findings))
        self.banner.review.clicked.connect(self.open_review)
        self.banner.blocked = self._blocked
        parts.repoint.subscribe(self.banner.show_pending)
        parts.tunnel.subscribe(self.banner.recheck)
        self.banner.show_pending(list(parts.repoint.pending))
        self.subscribe_all.clicked.connect(self.open_subscribe_all)
        self.subscribe_all.show()

    def _blocked(self) -> str | None:
        """Why this app's webhooks cannot be moved now (no live URL to move them to)."""
        assert self.parts is not None
        status = self.parts.tunnel.status
        if status.mode != "manual" and (status.state != "up" or not status.public_url):
            return f"the tunnel {STATE_WORDS.get(status.state, 'is ' + status.state)}"
        return None if self.admin.target() is not None else "no public URL"

    def _tab_shown(self, index: int) -> None:
        if index == DRIFT_TAB and self.drift_list is not None:
            self.drift_list.say_empty()  # "last audit HH:MM": audits finding nothing say nothing

    def _tunnel_state(self, state: str) -> None:
        title = "Tunnel" if state == "manual" else f"Tunnel: {state}"
        self.tabs.setTabText(TUNNEL_TAB, title)

    def _drift_count(self, count: int) -> None:
        self.tabs.setTabText(DRIFT_TAB, f"Changes found ({count})" if count else "Changes found")

    def open_review(self) -> None:
        if self.parts is None:
            return
        repoint = self.parts.repoint

        async def apply(change: Change) -> None:
            result = await repoint.apply([change], source="preview")
            if result.failed:
                raise ChangeFailed(result.failed[0][1])

        known = self.admin.names()
        names = {c.number_id: number_label(c.number_id, known) for c in repoint.pending}
        dialog = RetargetDialog(
            self.pane,
            list(repoint.pending),
            names,
            apply,
            title="Move webhooks to the new address",
            intro=REVIEW_INTRO,
        )
        dialog.applied.connect(self._reload)  # the table shows the new addresses at once
        self._open(dialog)

    def open_subscribe_all(self) -> None:
        dialog = SubscribeAllDialog(self.pane, self.admin, self.parts.submit if self.parts else None)
        dialog.applied.connect(self._reload)  # the table shows what was just created
        self._open(dialog)
        dialog.load()

    async def settled(self) -> None:
        await self.tasks.settled()

    def shutdown(self) -> None:
        if self.parts is not None:
            self.parts.repoint.unsubscribe(self.banner.show_pending)
            self.parts.tunnel.unsubscribe(self.banner.recheck)
        if self.tunnel_box is not None:
            self.tunnel_box.shutdown()
        if self.drift_list is not None:
            self.drift_list.shutdown()
        self.tasks.cancel()

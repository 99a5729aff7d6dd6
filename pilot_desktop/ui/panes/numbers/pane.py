"""The Numbers tab: one card per WhatsApp number (state and since when, 24 h uptime strip,
health, billing block, polling problem, webhooks) and the selected number's history.

It reads the store through the read facade in a worker thread, and only while it is the
visible tab: a change descriptor naming numbers marks it stale, and a timer
re-reads at most every THROTTLE_S seconds (docs/craft.md, habit 16). Ages and uptimes move
with the clock, so a visible tab also re-reads every STALE_S seconds.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import time
from collections.abc import Awaitable, Callable

import httpx
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import age
from pilot_desktop.core.numbers import overall
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.number_poller import NumberPolling
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.store.read_models import NumbersOverview, NumberSummary
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui.elided import ElidedLabel
from pilot_desktop.ui.look import hint_style, tint
from pilot_desktop.ui.panes.numbers.card import Hooks, NumberCard
from pilot_desktop.ui.panes.numbers.detail import NumberDetail
from pilot_desktop.ui.panes.numbers.empty import EmptyPage
from pilot_desktop.ui.panes.numbers.strip import StripLegend
from pilot_desktop.ui.panes.numbers.text import EMPTY, NO_ACCOUNT, hooks_problem
from pilot_desktop.ui.refresh import Refresher
from pilot_desktop.ui.refusal_watch import RefusalPicture
from pilot_desktop.ui.tasks import Tasks

log = logging.getLogger(__name__)

NARROW_PX = 900
LOW_PX = 560  # below this height (narrow), the detail under the cards gets a fifth
THROTTLE_S = 1.0  # at most one re-read this often, however busy the webhooks
STALE_S = 30.0  # ages, "since" and uptimes move: re-read a visible tab this often anyway
HISTORY_ROWS = 300
HOOKS_STALE_S = 300.0  # the webhooks of every number are re-read this often (network)
SELECTED_HOOKS_STALE_S = 60.0  # and the selected number's when it is selected again
WebhooksOf = Callable[[str], Awaitable[list[Webhook]]]
_LEVEL_COLOUR = {"ok": "#276749", "warn": "#975a16", "down": "#c53030", "none": "#718096"}


class NumbersPane(QWidget):
    webhooks_requested = Signal(str)  # a number id ("" for the tab alone)

    def __init__(self, reads: Reads, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reads = reads
        self.polling: NumberPolling | None = None
        self.webhooks_of: WebhooksOf | None = None
        self.summaries: list[NumberSummary] = []
        self.known_since: dict[str, float] = {}
        self.cards: dict[str, NumberCard] = {}
        self.selected: str | None = None
        self.tasks = Tasks()
        self._wanted: str | None = None  # show_number() before its card exists
        self._checking = False
        self._layout_kind: tuple[Qt.Orientation, bool] | None = None  # resizeEvent
        self._hooks: dict[str, tuple[float, list[Webhook] | str]] = {}
        self._hooks_task: asyncio.Task[None] | None = None
        self.refusals: RefusalPicture | None = None  # the receiver's recent refusals (ui/app.py)
        self._build()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Up/Down (j/k) move between numbers
        self._refresh: Refresher[NumbersOverview] = Refresher(
            self, self._job, self._show, self._failed, throttle_s=THROTTLE_S, stale_s=STALE_S
        )

    # -- widgets ---------------------------------------------------------------------

    def _build(self) -> None:
        # One line each (elided, whole in the tooltip): never wrapped into a column when narrow.
        self.overall_label = ElidedLabel("", min_width=120)
        self.overall_label.setStyleSheet("font-weight: bold;")
        self.polling_label = ElidedLabel("", min_width=60)
        self.polling_label.setStyleSheet(hint_style(self.polling_label))  # readable: not palette(mid)
        self.check_button = QPushButton("Check now")
        self.check_button.setToolTip("Ask the platform for every number's live state now")
        self.check_button.clicked.connect(lambda: self.tasks.start(self.check_now()))
        self.check_button.setEnabled(False)
        bar = QHBoxLayout()
        bar.addWidget(self.overall_label, 2)
        bar.addWidget(self.polling_label, 3)
        bar.addWidget(self.check_button)

        empty = EmptyPage()
        self.empty_hint, self.open_webhooks = empty.hint, empty.open_webhooks
        self.open_webhooks.clicked.connect(lambda: self.webhooks_requested.emit(""))

        self.card_box = QWidget()
        self.card_col = QVBoxLayout(self.card_box)
        self.card_col.setContentsMargins(0, 0, 6, 0)
        self.card_col.setSpacing(8)
        self.card_col.addStretch(1)
        self.card_scroll = QScrollArea()
        self.card_scroll.setWidgetResizable(True)
        self.card_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.card_scroll.setWidget(self.card_box)
        self.card_scroll.setMinimumWidth(300)
        self.card_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.detail = NumberDetail()
        self.detail.webhooks_requested.connect(self.webhooks_requested)
        self.detail.clear()
        detail_scroll = QScrollArea()  # scrolls when low: its wrapped lines never overlap
        detail_scroll.setWidgetResizable(True)
        detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        detail_scroll.setWidget(self.detail)
        self.split = QSplitter()
        self.split.addWidget(self.card_scroll)
        self.split.addWidget(detail_scroll)
        self.split.setSizes([580, 620])

        self.stack = QStackedWidget()
        self.stack.addWidget(empty)
        self.stack.addWidget(self.split)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        self.legend = StripLegend()
        layout.addWidget(self.legend)
        layout.addWidget(self.stack, 1)

    def _say_polling(self, text: str) -> None:
        self.polling_label.setText(text)
        self.polling_label.setToolTip(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Narrow: the selected number's detail goes under the cards instead of beside them;
        # low too: the cards get most of the height (the detail scrolls, its handle drags).
        size = event.size()
        wide = size.width() >= NARROW_PX
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        low = not wide and size.height() < LOW_PX
        if (orientation, low) != self._layout_kind:
            self._layout_kind = (orientation, low)
            self.split.setOrientation(orientation)
            self.split.setSizes([580, 620] if wide else [800, 200] if low else [600, 400])
        super().resizeEvent(event)

    def set_sources(self, polling: NumberPolling | None, webhooks_of: WebhooksOf | None) -> None:
        """The poller (problems, Check now) and how to read a number's webhooks."""
        self.polling, self.webhooks_of = polling, webhooks_of
        self._hooks.clear()
        self._refresh.mark_dirty()

    # -- data flow -------------------------------------------------------------------

    def on_changes(self, changes: Changes) -> None:
        """Writer listener (on the loop): mark stale only; the refresher re-reads."""
        if changes.numbers:
            self._refresh.mark_dirty()

    def _job(self) -> Callable[[], NumbersOverview]:
        """The numbers (and the selected one's history), read in a worker thread."""
        prefer = [self._wanted, self.selected]
        return functools.partial(self.reads.numbers_overview, prefer, time.time(), HISTORY_ROWS)

    def _failed(self, exc: Exception) -> None:  # the store is environmental: say so, keep the window
        log.warning("numbers: %s", exc)
        self._say_polling(f"Could not read the numbers: {exc}")

    async def settled(self) -> None:
        """Wait until the reads and webhook look-ups under way are drawn (tests, shutdown)."""
        while True:
            await self.tasks.settled()  # webhook look-ups, Check now
            if self._refresh.busy:
                await self._refresh.settled()
            elif not self.tasks.busy:
                return

    def _show(self, snap: NumbersOverview) -> None:
        found, now = snap.summaries, snap.now
        self.known_since = snap.known_since
        self.summaries = found
        by_id = {s.number_id: s for s in found}
        self._show_header(found)
        self.stack.setCurrentIndex(1 if found else 0)
        self.legend.setVisible(bool(found))
        self._sync_cards([s.number_id for s in found])
        for s in found:
            card = self.cards[s.number_id]
            card.show_summary(s, now, self._problem(s.number_id), self._hooks_of(s.number_id), self._known(s))
        self.selected = snap.number_id  # chosen with its history by the same rule
        if self._wanted == self.selected:
            self._wanted = None
        self._mark_selected()
        if self.selected is None:
            self.detail.clear()
        else:
            self.detail.show_number(
                by_id[self.selected], now, self._hooks_of(self.selected), self._problem(self.selected)
            )
            self.detail.show_history(snap.history)
        self.show_refusals(self.refusals)  # on the cards and the detail just drawn
        self._want_hooks(list(by_id), HOOKS_STALE_S)

    def show_refusals(self, picture: RefusalPicture | None) -> None:
        """Deliveries refused lately, on the cards of the numbers they concern (and the detail)."""
        self.refusals = picture
        span = picture.summary.window_s if picture is not None else 0.0
        for number_id, card in self.cards.items():
            card.show_refusals(picture.number(number_id) if picture is not None else None, span)
        if self.detail.number_id is not None:
            found = picture.number(self.detail.number_id) if picture is not None else None
            self.detail.show_refusals(found, span)

    def _show_header(self, found: list[NumberSummary]) -> None:
        level, text = overall([s.state for s in found])
        self.overall_label.setText(text)
        self.overall_label.setToolTip(text)
        self.overall_label.setStyleSheet(tint(self.overall_label, _LEVEL_COLOUR[level], "font-weight: bold;"))
        last = max((s.last_poll_at for s in found if s.last_poll_at is not None), default=None)
        self._say_polling(self._polling_text(last))
        polling = self.polling
        can_check = polling is not None and polling.has_accounts
        self.check_button.setEnabled(can_check and not self._checking)
        self.check_button.setToolTip(
            "Ask the platform for every number's live state now"
            if can_check
            else "Needs an account: add one in the Webhooks tab (Add account…)"
        )
        self.empty_hint.setText(EMPTY.format(polling=html.escape(self._polling_text(last))))

    def _polling_text(self, last: float | None) -> str:
        polling = self.polling
        if polling is None:
            return "Numbers are not polled (the store is not open): only webhooks tell their state."
        if not polling.has_accounts:
            return (
                "Not polled: no account yet. Add one in the Webhooks tab (Add account…) to have "
                "your numbers' live state checked; until then only webhooks tell it."
            )
        if polling.poller.last_error:
            return f"Polling problem: {polling.poller.last_error}"
        every = f"Live state checked every {polling.poller.interval:.0f} s through your accounts"
        return (
            f"{every}; last check {age(last)}."
            if last is not None
            else f"{every}; the first check is under way."
        )

    def _known(self, s: NumberSummary) -> float | None:
        return self.known_since.get(s.number_id)

    def _problem(self, number_id: str) -> str | None:
        return self.polling.poller.problem(number_id) if self.polling is not None else None

    def _hooks_of(self, number_id: str) -> Hooks:
        if self.webhooks_of is None:
            return NO_ACCOUNT
        found = self._hooks.get(number_id)
        return None if found is None else found[1]

    def _sync_cards(self, ids: list[str]) -> None:
        for gone in set(self.cards) - set(ids):
            old = self.cards.pop(gone)
            self.card_col.removeWidget(old)
            old.deleteLater()
        items = (self.card_col.itemAt(i) for i in range(self.card_col.count() - 1))
        order = [item.widget() if item is not None else None for item in items]
        if order == [self.cards.get(i) for i in ids]:
            return
        while self.card_col.count() > 1:  # keep the final stretch
            self.card_col.takeAt(0)
        for i, number_id in enumerate(ids):
            card = self.cards.get(number_id) or self._new_card(number_id)
            self.card_col.insertWidget(i, card)

    def _new_card(self, number_id: str) -> NumberCard:
        card = self.cards[number_id] = NumberCard(number_id)
        card.card_clicked.connect(self.select)
        card.webhooks_requested.connect(self.webhooks_requested)
        return card

    def _mark_selected(self) -> None:
        for number_id, card in self.cards.items():
            if card.selected != (number_id == self.selected):
                card.set_selected(number_id == self.selected)
        chosen = self.cards.get(self.selected or "")
        if chosen is not None:
            self.card_scroll.ensureWidgetVisible(chosen, 0, 8)

    # -- webhooks --------------------------------------------------------------------

    def _want_hooks(self, ids: list[str], max_age: float) -> None:
        if self.webhooks_of is None or (self._hooks_task is not None and not self._hooks_task.done()):
            return
        clock = time.monotonic()
        stale = [i for i in ids if i not in self._hooks or clock - self._hooks[i][0] > max_age]
        if stale:
            self._hooks_task = self.tasks.start(self._fetch_hooks(stale))

    async def _fetch_hooks(self, ids: list[str]) -> None:
        fetch = self.webhooks_of
        if fetch is None:
            return
        for number_id in ids:
            value: list[Webhook] | str
            try:
                value = await fetch(number_id)
            except (ApiError, AccountError, SecretsError, httpx.HTTPError) as exc:
                value = hooks_problem(exc)
            self._hooks[number_id] = (time.monotonic(), value)
            card = self.cards.get(number_id)
            if card is not None:
                card.show_hooks(value)
            if number_id == self.selected:
                self.detail.show_hooks(value)

    def forget_webhooks(self) -> None:
        """The accounts changed: what could (not) be read may have changed too."""
        self._hooks.clear()
        self._refresh.mark_dirty()

    # -- selection -------------------------------------------------------------------

    def select(self, number_id: str) -> None:
        self._wanted = None
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        summary = next((s for s in self.summaries if s.number_id == number_id), None)
        if summary is None or number_id == self.selected:
            return
        self.selected = number_id
        self._mark_selected()
        now = time.time()
        self.detail.show_number(summary, now, self._hooks_of(number_id), self._problem(number_id))
        self.show_refusals(self.refusals)
        self.detail.show_history([])
        self._refresh.now()  # its history, at once
        if self.webhooks_of is not None:
            found = self._hooks.get(number_id)
            if found is not None and time.monotonic() - found[0] > SELECTED_HOOKS_STALE_S:
                self._hooks.pop(number_id)
            self._want_hooks([number_id], SELECTED_HOOKS_STALE_S)

    def show_number(self, number_id: str) -> None:
        """Select that number (a notification was clicked); if it is not listed yet, as
        soon as it is."""
        if number_id in self.cards:
            self.select(number_id)
            return
        self._wanted = number_id
        self._refresh.now()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = {Qt.Key.Key_Down: 1, Qt.Key.Key_J: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_K: -1}.get(
            Qt.Key(event.key())
        )
        ids = [s.number_id for s in self.summaries]
        if step is None or not ids:
            super().keyPressEvent(event)
            return
        at = ids.index(self.selected) if self.selected in ids else 0
        self.select(ids[max(0, min(len(ids) - 1, at + step))])

    # -- polling ---------------------------------------------------------------------

    async def check_now(self) -> None:
        polling = self.polling
        if polling is None or not polling.has_accounts:
            return
        self._checking = True
        self.check_button.setEnabled(False)
        self._say_polling("Checking every number's live state…")
        try:
            await polling.poller.poll_once()
        finally:
            self._checking = False
            self.check_button.setEnabled(True)
            self._hooks.clear()  # a check re-reads the webhooks too
            self._refresh.now()

    def shutdown(self) -> None:
        self._refresh.shutdown()
        self.tasks.cancel()

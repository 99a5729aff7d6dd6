"""The selected number: what is known about it (Meta health and PII mode too), deliveries
about it refused lately, its webhooks, and its history of transitions (newest first, late
ones flagged, errors shown)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.core.format import age, exact, when
from pilot_desktop.core.numbers import HEALTHY
from pilot_desktop.store.read_models import NumberSummary, TransitionRow
from pilot_desktop.ui.look import hint_style
from pilot_desktop.ui.panes.numbers.card import Hooks
from pilot_desktop.ui.panes.numbers.text import (
    KIND_LABEL,
    NO_ACCOUNT,
    REFUSED_COLOUR,
    STATE_LABEL,
    change_text,
    detail_behind,
    error_text,
    meta_health_html,
    note_text,
    pii_text,
    provider_text,
    refused_text,
    refused_tip,
    source_text,
    webhook_line,
)
from pilot_desktop.ui.refusal_watch import Concern
from pilot_desktop.ui.tables import read_only_table

HISTORY_COLUMNS = ("Time", "Kind", "Change", "Source", "Note")
_WIDTHS = (None, None, 180, 95)  # None: fits its contents; no side scroll at 1024 px


class NumberDetail(QWidget):
    webhooks_requested = Signal(str)  # number id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number_id: str | None = None
        self.rows: list[TransitionRow] = []
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refused = QLabel()
        self.refused.setWordWrap(True)
        self.refused.setTextFormat(Qt.TextFormat.RichText)
        self.refused.hide()
        self.hooks = QLabel()
        self.hooks.setWordWrap(True)
        self.webhooks_button = QPushButton("Webhooks…")
        self.webhooks_button.setToolTip("Open the Webhooks tab on this number: subscribe it to number events")
        self.webhooks_button.clicked.connect(self._webhooks_clicked)
        hooks_row = QHBoxLayout()
        hooks_row.addWidget(self.hooks, 1)
        hooks_row.addWidget(self.webhooks_button, 0, Qt.AlignmentFlag.AlignTop)

        self.history_title = QLabel("<b>History</b> (newest first)")
        self.table = read_only_table(HISTORY_COLUMNS)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(50)
        for i, width in enumerate(_WIDTHS):
            if width is None:
                header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
            else:
                header.setSectionResizeMode(i, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(i, width)
        header.setStretchLastSection(True)
        self.empty_history = QLabel("No change recorded yet.")
        self.empty_history.setStyleSheet(hint_style(self.empty_history))

        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.title)
        col.addWidget(self.facts)
        col.addWidget(self.refused)
        col.addLayout(hooks_row)
        col.addSpacing(6)
        col.addWidget(self.history_title)
        col.addWidget(self.empty_history)
        col.addWidget(self.table, 1)

    def _webhooks_clicked(self) -> None:
        if self.number_id is not None:
            self.webhooks_requested.emit(self.number_id)

    def show_number(self, s: NumberSummary, now: float, hooks: Hooks, poll_problem: str | None) -> None:
        st = s.state
        self.number_id = st.number_id
        name = html.escape(st.name or st.number_id)
        who = " · ".join(html.escape(x) for x in (st.phone or "", st.number_id) if x)
        self.title.setText(f"<h3 style='margin: 0'>{name}</h3>{who}")
        facts = [f"Provider: {html.escape(provider_text(s.provider))}"]
        state = STATE_LABEL.get(st.connection, st.connection)
        if st.connection_at is not None:
            via = f" (from a {st.connection_source})" if st.connection_source else ""
            facts.append(f"{state} since {when(st.connection_at, now)}{via}")
        else:
            facts.append(state)
        if st.last_error or st.last_error_code:
            facts.append(
                f"Last disconnect reason: {html.escape(error_text(st.last_error, st.last_error_code))}"
            )
        if st.health != HEALTHY or st.health_reason:
            reason = f": {html.escape(st.health_reason)}" if st.health_reason else ""
            facts.append(f"Health {st.health}{reason}")
        if detail_behind(s):  # read before the current state began: said as old, never as fact
            if stale := meta_health_html(s, now=now):
                facts.append(stale)
        elif s.quality_rating or s.messaging_tier:
            facts.append(f"Meta health: {meta_health_html(s)}")
        elif s.sendable is not None:  # a web (QR) number's detail says only this
            facts.append("Sendable" if s.sendable else f"<b style='color: {REFUSED_COLOUR}'>Not sendable</b>")
        if pii := pii_text(s.pii_mode):
            facts.append(html.escape(pii))
        plural = "s" if s.events != 1 else ""
        last = age(s.last_event_at, now)
        facts.append(
            f"{s.events:,} webhook{plural} received, the last {last}" if s.events else "No webhook yet"
        )
        facts.append(f"Last status poll {age(s.last_poll_at, now)}")
        if poll_problem:
            facts.append(f"<span style='color: #c05621'>Polling: {html.escape(poll_problem)}</span>")
        self.facts.setText("<br>".join(facts))
        self.show_hooks(hooks)

    def show_refusals(self, concern: Concern | None, window_s: float) -> None:
        """Refused deliveries concerning this number (ui/refusal_watch.py), or none."""
        if concern is not None:
            hint = concern.latest.hint
            said = f"<b style='color: {REFUSED_COLOUR}'>{html.escape(refused_text(concern, window_s))}</b>"
            self.refused.setText(said + (f"<br>{html.escape(hint)}" if hint else ""))
            self.refused.setToolTip(refused_tip(concern))
        self.refused.setVisible(concern is not None)

    def show_hooks(self, hooks: Hooks) -> None:
        if hooks is None:
            self.hooks.setText("Webhooks: reading…")
        elif isinstance(hooks, str):
            advice = (
                " Add its API key or the tenant key in the Webhooks tab (Add account…) to manage them."
                if hooks == NO_ACCOUNT
                else ""
            )
            self.hooks.setText(f"Webhooks: {html.escape(hooks)}.{advice}")
        elif not hooks:
            self.hooks.setText(
                "No webhook for this number: its state comes from polling only. Subscribe it to "
                "number events (Webhooks…) to see disconnections the moment they happen."
            )
        else:
            lines = "<br>".join(f"• {html.escape(webhook_line(h))}" for h in hooks)
            self.hooks.setText(f"Webhooks:<br>{lines}")

    def show_history(self, rows: list[TransitionRow]) -> None:
        self.rows = rows
        self.empty_history.setVisible(not rows)
        self.table.setVisible(bool(rows))
        self.table.setRowCount(len(rows))
        italic = QFont()
        italic.setItalic(True)
        for r, row in enumerate(rows):
            cells = (
                when(row.at),
                KIND_LABEL.get(row.kind, row.kind),
                change_text(row),
                source_text(row),
                note_text(row),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if row.late:
                    item.setForeground(QColor("#718096"))
                    item.setFont(italic)
                self.table.setItem(r, c, item)
            source_item = self.table.item(r, 3)
            if source_item is not None:
                source_item.setToolTip(row.event)
            time_item = self.table.item(r, 0)
            if time_item is not None:
                true_at, recorded = exact(row.at), exact(row.received_at)
                time_item.setToolTip(f"True at {true_at}; recorded {recorded}")

    def clear(self) -> None:
        self.number_id = None
        self.title.setText("")
        self.facts.setText("Select a number to see its history.")
        self.refused.hide()
        self.hooks.setText("")
        self.show_history([])

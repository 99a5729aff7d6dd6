"""One number's card: who it is, its state and since when, deliveries refused lately, 24 h
strip, health (the platform's and Meta's), PII mode, billing, polling problem and webhooks.
Clicking it selects the number."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import age
from pilot_desktop.core.number_words import shows_health  # the CLI's rule too
from pilot_desktop.core.numbers import CLOSED, HEALTHY, REMOVED
from pilot_desktop.store.read_models import DAY, NumberSummary
from pilot_desktop.ui.elided import ElidedLabel
from pilot_desktop.ui.look import hint_style, tint
from pilot_desktop.ui.panes.numbers.strip import UptimeStrip
from pilot_desktop.ui.panes.numbers.text import (
    HEALTH_COLOURS,
    REFUSED_COLOUR,
    billing_text,
    colour,
    error_text,
    health_tip,
    meta_health_html,
    pii_text,
    provider_text,
    refused_text,
    refused_tip,
    state_text,
    uptime_text,
    webhooks_text,
)
from pilot_desktop.ui.refusal_watch import Concern

_CARD = "#numberCard {{ background: palette(base); border: {border}; border-radius: 6px; }}"
_PILL = "background: {bg}; color: {fg}; border-radius: 8px; padding: 1px 8px;"
_BILLING = "background: #fed7d7; color: #742a2a; border-radius: 4px; padding: 3px 6px;"
_PROBLEM = "background: #feebc8; color: #7b341e; border-radius: 4px; padding: 3px 6px;"
# What a card shows about the number's webhooks: the list, or why it is not known.
Hooks = list[Webhook] | str | None


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(hint_style(label))  # palette(mid) is about 2:1: too faint
    return label


class NumberCard(QFrame):
    card_clicked = Signal(str)  # number id
    webhooks_requested = Signal(str)  # number id: "Webhooks…" was clicked

    def __init__(self, number_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number_id = number_id
        self.selected = False
        self.state_colour = ""
        self.setObjectName("numberCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)

        self.dot = QLabel()
        self.dot.setFixedSize(12, 12)
        self.name = ElidedLabel("", min_width=80)  # a long name gives way, whole in the tooltip
        bold = self.name.font()
        bold.setBold(True)
        self.name.setFont(bold)
        self.phone = _muted()
        self.phone.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.provider = QLabel()
        self.provider.setStyleSheet(_PILL.format(bg="#edf2f7", fg="#2d3748"))
        self.health = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.dot)
        top.addWidget(self.name)
        top.addWidget(self.phone)
        top.addWidget(self.provider)
        top.addStretch(1)
        top.addWidget(self.health)

        self.state = QLabel()
        self.error = QLabel()
        self.error.setWordWrap(True)
        second = QHBoxLayout()
        second.addWidget(self.state)
        second.addWidget(self.error, 1)
        # Deliveries concerning this number refused lately: "Connected" alone is not healthy.
        self.refused = QLabel()
        self.refused.setWordWrap(True)
        self.refused.setStyleSheet(f"color: {REFUSED_COLOUR}; font-weight: bold;")
        self.refused.hide()
        self.meta = QLabel()  # Meta health and the PII mode, when the number's detail said
        self.meta.setWordWrap(True)
        self.meta.setTextFormat(Qt.TextFormat.RichText)
        self.meta.hide()

        self.strip = UptimeStrip()
        third = QHBoxLayout()
        third.addWidget(self.strip)
        span = ElidedLabel("24 h ago → now", min_width=20)
        span.setStyleSheet(hint_style(span))
        third.addWidget(span)
        third.addStretch(1)
        self.uptime = QLabel()
        self.uptime.setWordWrap(True)
        self.last = _muted()
        self.last.setWordWrap(True)

        self.billing = QLabel()
        self.billing.setWordWrap(True)
        self.billing.setStyleSheet(_BILLING)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(_PROBLEM)
        self.webhooks = _muted()
        self.webhooks.setWordWrap(True)
        self.webhooks.setTextFormat(Qt.TextFormat.RichText)
        self.webhooks.linkActivated.connect(lambda _: self.webhooks_requested.emit(self.number_id))

        col = QVBoxLayout(self)
        col.setContentsMargins(10, 8, 10, 8)
        col.setSpacing(4)
        col.addLayout(top)
        col.addLayout(second)
        col.addWidget(self.refused)
        col.addLayout(third)
        col.addWidget(self.uptime)
        col.addWidget(self.last)
        col.addWidget(self.meta)
        col.addWidget(self.billing)
        col.addWidget(self.problem)
        col.addWidget(self.webhooks)
        self.set_selected(False)

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        border = "2px solid #3182ce" if selected else "1px solid palette(mid)"
        self.setStyleSheet(_CARD.format(border=border))

    def show_summary(
        self, s: NumberSummary, now: float, problem: str | None, hooks: Hooks, known_since: float | None
    ) -> None:
        st = s.state
        self.state_colour = colour(st.connection)
        self.dot.setStyleSheet(f"background: {self.state_colour}; border-radius: 6px;")
        self.name.setText(st.name or st.number_id)
        self.name.setToolTip(f"{st.name} ({st.number_id})" if st.name else st.number_id)
        self.phone.setText(st.phone or "")
        self.provider.setText(provider_text(s.provider))
        self.provider.setToolTip(
            f"Provider: {s.provider}" if s.provider else "The provider is known after the first poll"
        )
        self.health.setVisible(shows_health(st))
        bg, fg = HEALTH_COLOURS.get(st.health, HEALTH_COLOURS[HEALTHY])
        self.health.setText(st.health)
        self.health.setStyleSheet(_PILL.format(bg=bg, fg=fg))
        self.health.setToolTip(health_tip(st, now))

        self.state.setText(f"<b>{html.escape(state_text(st, now, s.entered_from))}</b>")
        self.state.setStyleSheet(tint(self.state, self.state_colour))  # the hue, readable
        why = error_text(st.last_error, st.last_error_code) if st.connection == CLOSED else ""
        self.error.setText(f"— {why}" if why else "")
        self.error.setToolTip(why)
        heard = f"last webhook {age(s.last_event_at, now)}" if s.last_event_at else "no webhook received yet"
        polled = f" · last poll {age(s.last_poll_at, now)}" if s.last_poll_at is not None else ""
        self.last.setText(heard + polled)
        self.last.setToolTip("The last webhook of any kind for this number, and the last status poll")

        self.strip.set_history(s.history_24h, now - DAY, now)
        self.uptime.setText(uptime_text(s, known_since, now))
        self.uptime.setToolTip(
            "Share of the known time spent connected. A flap is a drop of under 10 minutes "
            "followed by a reconnection."
        )

        self.show_meta(s, now)
        billing = billing_text(s.billing_blocked_since, s.billing_disconnect_at)
        self.billing.setText(billing or "")
        self.billing.setVisible(billing is not None)
        self.problem.setText(f"Polling: {problem}" if problem else "")
        self.problem.setVisible(bool(problem))
        self.show_hooks(hooks)
        for label in (self.name, self.state):
            label.setDisabled(st.connection == REMOVED)

    def show_meta(self, s: NumberSummary, now: float | None = None) -> None:
        """Meta health, and the PII mode when it is not the platform's default (keep all)."""
        parts = [meta_health_html(s, sendable_too=False, now=now)]
        if s.pii_mode and s.pii_mode != "STORE_INDEFINITE":
            parts.append(html.escape(pii_text(s.pii_mode) or ""))
        shown = " · ".join(p for p in parts if p)
        self.meta.setText(shown)
        self.meta.setVisible(bool(shown))
        self.meta.setToolTip(
            "From the number's detail (GET /v1/numbers/{id}): Meta's quality rating, messaging "
            "tier and whether it can send; and what the platform keeps of message content."
        )

    def show_refusals(self, concern: Concern | None, window_s: float) -> None:
        """Refused deliveries concerning this number (ui/refusal_watch.py), or none."""
        if concern is None:
            self.refused.hide()
            return
        self.refused.setText(refused_text(concern, window_s))
        self.refused.setToolTip(refused_tip(concern))
        self.refused.show()

    def show_hooks(self, hooks: Hooks) -> None:
        link = ' · <a href="webhooks">Webhooks…</a>'
        if hooks is None:
            text = "Webhooks: reading…"
        elif isinstance(hooks, str):
            text = f"Webhooks: {html.escape(hooks)}"
        else:
            text = html.escape(webhooks_text(hooks))
        self.webhooks.setText(text + link)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.card_clicked.emit(self.number_id)
        super().mousePressEvent(event)

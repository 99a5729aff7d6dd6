"""What Live's header and empty state say: never healthy while deliveries are refused."""

from __future__ import annotations

import html

from pilot_desktop.store.read_models import EventFilter
from pilot_desktop.ui.panes.live.model import SHOW_ALL, SHOW_DELIVERIES, SHOW_REFUSALS, LiveModel

RECENT_S = 300  # "refused in the last 5 minutes"
SHOW_CHOICES = (
    ("Deliveries and refusals", SHOW_ALL),
    ("Deliveries only", SHOW_DELIVERIES),
    ("Refusals only", SHOW_REFUSALS),
)
OPEN_REFUSED = "refused"  # the empty state's link


def _how_to(url: str | None, token: str, problem: str | None) -> str:
    route = f"<code>/hooks/{html.escape(token)}</code>"
    how = (
        "Pilot Status reaches this app through a tunnel: create a webhook whose URL is your "
        f"tunnel's public address followed by {route}. "
    )
    if url is None:  # never a curl at a port another program may hold
        why = f" ({html.escape(problem)})" if problem else ""
        return how + (
            f"<br><b style='color:#c53030'>The receiver is not listening{why}</b>, so no webhook "
            "can arrive yet: use Retry or another port in the banner above."
        )
    return how + (
        f"To try it from this machine:<br><code>curl -X POST {html.escape(url)} "
        "-H 'content-type: application/json' -d '{\"event\": \"test.ping\"}'</code>"
    )


def empty_text(
    url: str | None,
    recent_refused: int,
    listed_refused: int,
    *,
    token: str = "",
    problem: str | None = None,
    waiting: str = "",
    why: str = "",
) -> str:
    """Above a list without a stored webhook: refusals first, they are why it is empty.
    `url` is the receiver's address while it listens, else None (`problem` says why).
    `waiting`: the badge's "N new" when webhooks arrived but wait behind it (`why`: the state)."""
    token = token or (url or "").rsplit("/", 1)[-1]
    if waiting:  # webhooks do arrive: never "waiting for the first" while they wait here
        state = why.lstrip("‖●↑ ")  # the state label's words without its sign
        held = f" ({html.escape(state)})" if state else ""
        return (
            f"<b>{html.escape(waiting)}: webhooks received, not shown yet{held}.</b> "
            "Click the badge or press End to show them."
        )
    how = _how_to(url, token, problem)
    link = f"<a href='{OPEN_REFUSED}'>Open Refused</a>"
    if recent_refused:
        many = "delivery was" if recent_refused == 1 else "deliveries were"
        return (
            f"<b style='color:#c53030'>⊘ No webhook stored yet — {recent_refused:,} {many} refused "
            f"in the last 5 minutes.</b> {link} to see why (a wrong token in the URL, a signing "
            "secret that differs, a body changed on the way).<br>" + how
        )
    if listed_refused:
        return (
            f"<b>No webhook stored yet.</b> {listed_refused:,} earlier refused deliveries are listed "
            f"below ({link} to see why). " + how
        )
    return "<b>Waiting for the first webhook.</b> " + how


def shows_empty_state(model: LiveModel) -> bool:
    return model.event_count == 0 and model.filter == EventFilter() and model.mode != SHOW_REFUSALS


def count_text(model: LiveModel) -> str:
    parts = []
    if model.mode != SHOW_REFUSALS:
        what = "events" if model.filter == EventFilter() else "matching events"
        parts.append(f"{model.event_count:,} {what}")
    if model.mode != SHOW_DELIVERIES:
        parts.append(f"{model.refusal_count:,} refused")
    gaps = model.gap_count
    if gaps:
        parts.append(f"{gaps:,} gap{'' if gaps == 1 else 's'}")
    return " · ".join(parts)

"""What the timeline draws for each step and gap: the axis points, the gap bands and their
sentences, the step notes. Steps reconstructed from the API read differently from delivered
webhooks everywhere (axis, table, payload header); gaps are named with their reason."""

from __future__ import annotations

from pilot_desktop.core.format import clock, duration, when
from pilot_desktop.store.read_models import Step, Timeline
from pilot_desktop.store.records import Gap
from pilot_desktop.ui.panes.messages import style
from pilot_desktop.ui.panes.messages.axis import AxisPoint, Band

_STEP_NAME = {"RECEIVED": "Received"}


def step_name(status: str) -> str:
    return _STEP_NAME.get(status, status.title())


def arrival_delay(step: Step) -> str:
    if step.at is None:
        return "no event time"
    delay = step.received_at - step.at
    if delay < 0:
        return f"{duration(-delay)} early (clocks differ)"
    return f"+{duration(delay)}"


def reconstructed_note(step: Step) -> str:
    """'reconstructed from the API (GET /v1/messages/…, at 17:10:02)', or '' for a webhook."""
    r = step.reconstructed
    if r is None:
        return ""
    at = clock(r.at) if r.at is not None else (r.at_text or "time unknown")
    return f"reconstructed from the API ({r.source}, at {at})"


def step_note(step: Step) -> str:
    notes = []
    if step.reconstructed is not None:
        notes.append(reconstructed_note(step))
        if step.deliveries > 1:  # the webhook, arriving after the catch-up, counts as a redelivery
            notes.append(f"its webhook came too (last at {clock(step.last_received_at)})")
    if step.late:
        notes.append("⚑ late: arrived after a later step")
    return " · ".join(notes)


def _axis_note(s: Step) -> str:
    if s.reconstructed is None:
        return f"arrived {arrival_delay(s)}"
    return "from the API, then its webhook" if s.deliveries > 1 else "from the API"


def axis_points(t: Timeline) -> list[AxisPoint]:
    points = [
        AxisPoint(
            label=step_name(s.status),
            at=s.at if s.at is not None else s.received_at,
            color=style.status_color(s.status),
            time_text=when(s.at if s.at is not None else s.received_at),
            note=_axis_note(s),
            late=s.late,
            deliveries=s.deliveries,
            reconstructed=s.reconstructed is not None,
        )
        for s in t.steps
    ]
    points += [
        AxisPoint(label=step_name(p), at=None, color=style.PENDING_COLOR, note="pending") for p in t.pending
    ]
    return points


def gap_span(g: Gap, now: float) -> str:
    end = "now" if g.ended_at is None else when(g.ended_at, now)
    length = duration((g.ended_at if g.ended_at is not None else now) - g.started_at)
    return f"{when(g.started_at, now)}–{end} ({length}{' so far' if g.ended_at is None else ''})"


def gap_line(g: Gap, now: float) -> str:
    """'Not receiving 17:02:11–17:09:40 (7 min 29 s): the app was not running; caught up at 17:10:02'."""
    reason = (g.reason or g.kind or "reason unknown").rstrip(". ")  # the clauses below follow it
    line = f"Not receiving {gap_span(g, now)}: {reason}"
    if g.caught_up_at is not None:
        line += f"; caught up from the API at {when(g.caught_up_at, now)}"
    elif g.ended_at is not None:
        line += "; not caught up from the API yet"
    return line


def gap_bands(t: Timeline, now: float) -> list[Band]:
    return [Band(g.started_at, g.ended_at, gap_line(g, now)) for g in t.gaps]

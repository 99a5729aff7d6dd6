"""Webhook management the pane and the CLI share: rows, retargeting plans, log checks.

Managed webhooks point at `<public>/hooks/<token>/<number id>`: the route names the
number, so what the receiver stored can be set beside a webhook's delivery logs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from yarl import URL

from pilot_desktop.api.models import DeliveryLog, Webhook
from pilot_desktop.core.events import dedupe_key
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.store.db import connect
from pilot_desktop.tunnel.public_url import hook_url, points_here

# The event picker's groups, with one line each (pilot-status-api.md §1.2).
EVENT_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Message status",
        (
            ("message.sent", "your message was handed to WhatsApp"),
            ("message.delivered", "it reached the recipient's phone"),
            ("message.read", "the recipient read it (only with their read receipts on)"),
            ("message.failed", "the send failed, with the reason and error code"),
        ),
    ),
    (
        "Inbound messages",
        (
            ("message.received", "a contact wrote to the number"),
            ("message.reply", "a contact quoted one of your messages"),
            ("message.group", "a message in a group the number is in"),
            ("message.newsletter", "a post from a WhatsApp Channel"),
        ),
    ),
    (
        "Number lifecycle",
        (
            ("number.created", "the number was created in Pilot Status"),
            ("number.connected", "the number connected to WhatsApp"),
            ("number.disconnected", "a disconnection confirmed by the health check"),
            ("number.removed", "the number was removed (30-day soft delete)"),
            ("number.restored", "a removed number was restored (comes back disconnected)"),
        ),
    ),
    (
        "Calls",
        (
            ("call.ringing", "a call is ringing"),
            ("call.connected", "a call was answered"),
            ("call.ended", "a call ended (completed, failed or rejected)"),
            ("call.missed", "an inbound call went unanswered"),
            ("call.permission_updated", "a contact answered a call-permission request (Meta)"),
        ),
    ),
    ("Leads", (("lead.received", "a Meta Lead Ads form was submitted"),)),
)
ALL_EVENTS = "*"
EMPTY_WARNING = "No events chosen: Pilot Status delivers nothing to a webhook with an empty list."
HEALTH_NOTE = (
    "Number health alerts (blocked, degraded, shadowban, recovered) are only delivered to "
    'webhooks subscribed to all events ("*").'
)


def events_warnings(events: list[str]) -> list[str]:
    if not events:
        return [EMPTY_WARNING]
    if ALL_EVENTS not in events and any(e.startswith("number.") for e in events):
        return [HEALTH_NOTE]  # someone following a number's state would expect them
    return []


def describe_events(events: list[str]) -> str:
    if ALL_EVENTS in events:
        return "all events (*)"
    if not events:
        return "none (delivers nothing)"
    return ", ".join(events)


@dataclass(frozen=True)
class Target:
    """Where this app receives: the public base URL and the receiver's token."""

    public_url: str
    token: str

    def url_for(self, number_id: str) -> str:
        return hook_url(self.public_url, self.token, number_id)

    def points_here(self, url: str) -> bool:
        return points_here(url, self.public_url, self.token)


def route_of(url: str, token: str) -> str | None:
    """The route a hook URL names (`…/hooks/<token>/<route>`), or None."""
    parts = [p for p in URL(url).path.split("/") if p]
    for i in range(len(parts) - 1):
        if parts[i] == "hooks" and parts[i + 1] == token:
            return parts[i + 2] if len(parts) > i + 2 else ""
    return None


@dataclass(frozen=True)
class Change:
    number_id: str
    webhook: Webhook
    new_url: str
    recommended: bool  # an old URL of this app (a tunnel that moved), not another system
    reason: str


def plan_retarget(hooks: Iterable[Webhook], target: Target) -> list[Change]:
    """The preview of "point all my webhooks at this app": every webhook not already
    pointing here, with its new URL. Webhooks on an old tunnel URL of this app (same
    token) are recommended; others point at other systems and are left unticked."""
    changes = []
    for hook in hooks:
        if target.points_here(hook.url) or hook.number_id is None:
            continue
        route = route_of(hook.url, target.token)
        mine = route is not None
        new = hook_url(target.public_url, target.token, route) if route else target.url_for(hook.number_id)
        reason = "an old address of this app (the tunnel moved)" if mine else "points at another system"
        changes.append(Change(hook.number_id, hook, new, mine, reason))
    return changes


async def list_number_webhooks(accounts: Accounts, number_id: str) -> list[Webhook]:
    async with accounts.client_for_number(number_id) as client:
        hooks = await client.list_webhooks()
    return [h for h in hooks if h.number_id in (None, number_id)]


# -- delivery logs beside what was stored ------------------------------------------------
@dataclass(frozen=True)
class LogCheck:
    log: DeliveryLog
    key: str | None
    stored: bool

    @property
    def verdict(self) -> str:
        if self.stored:
            return "received"
        if self.log.status == "SUCCESS":
            return "missing"  # the platform saw a 2xx, yet nothing here: another receiver?
        return "not stored (delivery failed)"


@dataclass
class LogComparison:
    checks: list[LogCheck] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)  # stored, not in the logs

    @property
    def counts(self) -> dict[str, int]:
        out = {"received": 0, "missing": 0, "failed": 0, "extra": len(self.extra)}
        for c in self.checks:
            out["received" if c.stored else ("missing" if c.log.status == "SUCCESS" else "failed")] += 1
        return out


def _key(payload: Any) -> str | None:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        return None
    try:
        return dedupe_key(payload)
    except (KeyError, TypeError):
        return None


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# The receiver commits a moment after the platform logs the attempt; wider slack would
# count the neighbours of the first and last logged deliveries as "extra".
SLACK_S = 1.0


def compare_logs(db_path: Path, logs: list[DeliveryLog], route: str | None) -> LogComparison:
    """Which logged deliveries are in the store; which stored events of this webhook's
    route (within the logs' time span) the logs do not show."""
    keys = [_key(entry.payload) for entry in logs]
    conn = connect(db_path, readonly=True)
    try:
        stored: set[str] = set()
        wanted = sorted({k for k in keys if k})
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT dedupe_key FROM events WHERE dedupe_key IN ({marks})"
            stored.update(r[0] for r in conn.execute(sql, chunk))
        result = LogComparison([LogCheck(e, k, k in stored) for e, k in zip(logs, keys, strict=True)])
        times = [t for t in (_epoch(e.created_at) for e in logs) if t is not None]
        if route is not None and times:
            lo, hi = min(times) - SLACK_S, max(times) + SLACK_S
            logged = {k for k in keys if k}
            rows = conn.execute(
                "SELECT id, dedupe_key, event, received_at FROM events"
                " WHERE route = ? AND received_at BETWEEN ? AND ? ORDER BY id",
                (route, lo, hi),
            )
            for event_id, key, event, received in rows:
                if key not in logged:
                    result.extra.append({"id": event_id, "event": event, "receivedAt": received})
    finally:
        conn.close()
    return result

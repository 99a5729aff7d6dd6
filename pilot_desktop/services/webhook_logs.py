"""A webhook's delivery logs (the platform's side) set beside what this app stored.

Managed webhooks point at `<public>/hooks/<token>/<number id>`: the route names the number,
so what the receiver stored for that route can be matched with the logged deliveries by
dedupe key, and what was stored but not logged shows as "extra".
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pilot_desktop.api.models import DeliveryLog
from pilot_desktop.core.events import dedupe_key
from pilot_desktop.store.reads import Reads

# The receiver commits a moment after the platform logs the attempt; wider slack would
# count the neighbours of the first and last logged deliveries as "extra".
SLACK_S = 1.0


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


def _compare(reads: Reads, logs: list[DeliveryLog], route: str | None) -> LogComparison:
    keys = [_key(entry.payload) for entry in logs]
    stored = reads.stored_keys(k for k in keys if k)
    result = LogComparison([LogCheck(e, k, k in stored) for e, k in zip(logs, keys, strict=True)])
    times = [t for t in (_epoch(e.created_at) for e in logs) if t is not None]
    if route is not None and times:
        logged = {k for k in keys if k}
        for event_id, key, event, received in reads.events_on_route(
            route, min(times) - SLACK_S, max(times) + SLACK_S
        ):
            if key not in logged:
                result.extra.append({"id": event_id, "event": event, "receivedAt": received})
    return result


async def compare_logs(reads: Reads | None, logs: list[DeliveryLog], route: str | None) -> LogComparison:
    """Which logged deliveries are in the store; which stored events of this webhook's
    route (within the logs' time span) the logs do not show. Without a store, nothing is."""
    if reads is None:
        return LogComparison([LogCheck(e, _key(e.payload), False) for e in logs])
    return await asyncio.to_thread(_compare, reads, logs, route)

"""What the receiver says about a refusal: whether it was a webhook delivery, its route and
number, the signature diagnosis (which secrets were tried, which others may have signed
it; core/diagnosis.py does the work) and the `refused` part of /healthz."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pilot_desktop.core.diagnosis import diagnose
from pilot_desktop.core.protection import Protection
from pilot_desktop.core.signature import verify
from pilot_desktop.receiver.refusals import RefusalSummary


def delivery_of(
    method: str, path: str, route: str | None, status: int, token: str
) -> tuple[str | None, bool]:
    """The hook URL's <route>, and whether the request is a webhook delivery: a POST to
    /hooks/... (a scanner's GET, a wrong path are not). One with a wrong Host counts when it
    carries this receiver's token: a tunnel whose address is not saved yet."""
    parts = path.split("/", 3)
    if len(parts) < 3 or parts[0] or parts[1] != "hooks" or not parts[2]:
        return None, False
    route = route or (parts[3] if len(parts) == 4 and parts[3] else None)
    delivery = method == "POST"
    if delivery and status == 421:
        delivery = hmac.compare_digest(parts[2].encode(), token.encode())
    return route, delivery


def refused_health(recent: RefusalSummary) -> dict[str, Any]:
    """/healthz's `refused`: counts of the window, and when and why the newest delivery was
    refused. /healthz needs no token (a tunnel forwards it): no route, number or hint (its
    secret fingerprints) is said there; the window, `serve` and the CLI have them.
    `own_deliveries_5min` counts those carrying this receiver's token (they make `ok` false);
    another install's URL (a foreign token, which anyone can send) is counted, not alarmed."""
    latest = recent.latest if recent.deliveries else None
    return {
        "deliveries_5min": recent.deliveries,
        "own_deliveries_5min": recent.own_deliveries,
        "other_5min": recent.other,
        # The reason is what the sender was answered anyway; never the route or the hint.
        "latest": None
        if latest is None
        else {"at": latest.at, "status": latest.status, "reason": latest.reason, "verdict": latest.verdict},
    }


def number_in(obj: dict[str, Any]) -> str | None:
    """The number a body names (`data.numberId`, else `data.whatsappNumberId`): two lookups."""
    data = obj.get("data")
    if isinstance(data, dict):
        for key in ("numberId", "whatsappNumberId"):
            if isinstance(value := data.get(key), str) and value:
                return value
    return None


@dataclass(frozen=True)
class Why:
    """What a signature refusal is diagnosed with (core/diagnosis.py); called only when its
    record is kept (receiver/limits.py), so nothing here runs per refused request."""

    body: bytes
    wire: bytes
    header: str | None
    obj: Any
    route: str | None
    secrets: Sequence[str]
    protection: Protection

    def for_route(self) -> dict[str, Any]:
        """The route's secrets did not match: does another route's?"""
        return self._diagnose(self.secrets, self._others(skip=self.route))

    def for_number(self) -> dict[str, Any]:
        """The event names a protected number not signed with its secrets: those are the
        ones tried; the route's own (and other numbers') may say what did sign it."""
        secrets_of = self.protection.secrets_of
        named = sorted(self.protection.named(self.obj, self.route))
        number = next(
            (n for n in named if verify(self.body, self.header, secrets_of[n]).status != "valid"),
            named[0] if named else None,
        )
        tried = secrets_of.get(number, ()) if number is not None else ()
        own = [(self.route or "", s) for s in self.secrets]
        return self._diagnose(tried, [*own, *self._others(skip=number)])

    def _others(self, skip: str | None) -> list[tuple[str, str]]:
        return [(r, s) for r, values in self.protection.secrets_of.items() if r != skip for s in values]

    def _diagnose(self, tried: Sequence[str], others: Sequence[tuple[str, str]]) -> dict[str, Any]:
        wire = self.wire if self.wire is not self.body else None
        return diagnose(self.body, wire, self.header, tried, others, parsed=self.obj)

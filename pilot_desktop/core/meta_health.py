"""A number's Meta health and PII mode, read from `GET /v1/numbers/{id}` (api §4.3).

The detail carries `health` (`qualityRating`, `messagingLimitTier`, `sendable`, …; Meta's
view, cached by the platform, §7.5; its values are not documented, so they are kept as
given) and `piiMode` (§7.8). `read_detail` takes what the poller stored, whatever its shape,
and `changes` says which differences deserve a line in the number's history: the quality
rating moving, or `sendable` turning (both ways, so the history shows the recovery too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

QUALITY = "quality"  # the kind of a quality-rating transition in number_transitions
SENDING = "sending"  # the kind of a `sendable` transition
SENDABLE, NOT_SENDABLE = "sendable", "not sendable"
PII_MODES = ("RELAY_ONLY", "STORE_X_DAYS", "STORE_INDEFINITE")
_MAX = 40  # value sets are undocumented: keep what comes, bounded


@dataclass(frozen=True, slots=True)
class MetaHealth:
    quality_rating: str | None = None
    messaging_tier: str | None = None
    sendable: bool | None = None
    pii_mode: str | None = None


def _text(value: Any) -> str | None:
    return (value.strip()[:_MAX] or None) if isinstance(value, str) else None


def read_detail(answer: dict[str, Any]) -> MetaHealth:
    """The health and PII mode of a detail answer. Non-Meta numbers have no rating or tier
    (null); a field of the wrong type reads as unknown rather than failing the poll."""
    health = answer.get("health")
    h: dict[str, Any] = health if isinstance(health, dict) else {}
    sendable = h.get("sendable")
    return MetaHealth(
        quality_rating=_text(h.get("qualityRating")),
        messaging_tier=_text(h.get("messagingLimitTier")),
        sendable=sendable if isinstance(sendable, bool) else None,
        pii_mode=_text(answer.get("piiMode")),
    )


def changes(before: MetaHealth | None, after: MetaHealth) -> list[tuple[str, str, str]]:
    """(kind, before, after) for each change worth a history line. A first reading is not
    a change: nothing was known before it."""
    if before is None:
        return []
    out = []
    if before.quality_rating and after.quality_rating and before.quality_rating != after.quality_rating:
        out.append((QUALITY, before.quality_rating, after.quality_rating))
    if before.sendable is not None and after.sendable is not None and before.sendable != after.sendable:
        words = {True: SENDABLE, False: NOT_SENDABLE}
        out.append((SENDING, words[before.sendable], words[after.sendable]))
    return out

"""In-memory state of the sandbox platform: one tenant, its numbers, keys, webhooks,
delivery logs, sent messages and idempotency records (docs/pilot-status-api.md §2.7, §3, §5, §6).

Plain data and bookkeeping only; the HTTP rules live in `api.py`, deliveries in
`dispatcher.py`. Everything runs on the one asyncio loop, so no locking.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pilot_desktop.core.catalogue import ALL_EVENTS, is_health
from pilot_desktop.core.format import iso

if TYPE_CHECKING:
    from pilot_desktop.sandbox.scenario import SandboxNumber

LOGS_KEPT = 50  # the logs endpoint documents at most 50 recent deliveries
IDEMPOTENCY_TTL_S = 24 * 3600.0
TENANT_ID = "tenant_sandbox"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """ULID-shaped ids like the docs' examples (`msg_01HZX...`): time-ordered, random tail."""
    ms = int(time.time() * 1000)
    stamp = "".join(_CROCKFORD[(ms >> (5 * i)) & 31] for i in reversed(range(10)))
    tail = "".join(secrets.choice(_CROCKFORD) for _ in range(16))
    return f"{prefix}_{stamp}{tail}"


def iso_now() -> str:
    return iso(time.time())


def digits(phone: str) -> str:
    # /v1/numbers and `sourceNumber` use digits without '+', webhooks use E.164 (§7.7).
    return phone.lstrip("+")


@dataclass(frozen=True)
class ApiKey:
    id: str
    key: str
    name: str
    number_id: str | None  # None: the tenant-scoped key

    def public(self) -> dict[str, Any]:
        # Lists only ever show a prefix and the last four characters (§4.2).
        return {"name": self.name, "keyPrefix": self.key[:8], "keyLast4": self.key[-4:]}


@dataclass
class Webhook:
    id: str
    number_id: str
    name: str
    url: str
    events: list[str]
    secret: str  # never serialised by `public()`
    active: bool = True
    last_triggered: str | None = None
    created_at: str = field(default_factory=iso_now)
    updated_at: str = field(default_factory=iso_now)

    def wants(self, event: str) -> bool:
        """Delivery gating (§2.8): paused gets nothing, `"*"` everything, a hand-picked list
        its events but never the health events, an empty list nothing."""
        if not self.active:
            return False
        if ALL_EVENTS in self.events:
            return True
        return event in self.events and not is_health(event)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenantId": TENANT_ID,
            "name": self.name,
            "url": self.url,
            "environment": "LIVE",
            "active": self.active,
            "events": list(self.events),
            "whatsappNumberIds": [self.number_id],
            "whatsappInstanceIds": [],
            "apiKeys": [],  # legacy key linkage; webhooks deliver without it (§3.2)
            "lastTriggered": self.last_triggered,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass(frozen=True)
class DeliveryLog:
    webhook_id: str
    event: str
    status: Literal["SUCCESS", "FAILED"]
    status_code: int | None  # None: no HTTP answer (refused, timeout, lost response)
    duration_ms: int
    payload: Any
    response: str
    created_at: str
    attempt: int  # 1, 2 ...; 0 for a delivery dropped without an attempt

    def public(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "status": self.status,
            "statusCode": self.status_code,
            "payload": self.payload,
            "response": self.response,
            "durationMs": self.duration_ms,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class SentMessage:
    id: str
    correlation_id: str
    number_id: str
    destination: str
    text: str
    created_at: str


@dataclass(frozen=True)
class IdempotencyRecord:
    body_hash: str
    status: int
    body: dict[str, Any]
    expires: float  # time.monotonic() deadline


class SandboxState:
    """The tenant and everything it owns. Keys and secrets are random per run."""

    def __init__(self, numbers: list[SandboxNumber]) -> None:
        self.created_at = iso_now()
        self.numbers: dict[str, SandboxNumber] = {n.id: n for n in numbers}
        self.tenant_key = ApiKey(new_id("key"), f"ps_live_{secrets.token_hex(20)}", "Tenant", None)
        self.number_keys: dict[str, ApiKey] = {
            n.id: ApiKey(new_id("key"), f"ps_live_{secrets.token_hex(20)}", f"{n.name} key", n.id)
            for n in numbers
        }
        all_keys = [self.tenant_key, *self.number_keys.values()]
        self._by_key = {k.key: k for k in all_keys}
        self._by_key_id = {k.id: k for k in all_keys}
        self.webhooks: dict[str, Webhook] = {}
        self.logs: dict[str, deque[DeliveryLog]] = {}
        self.messages: dict[str, SentMessage] = {}
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self.connected_at: dict[str, str | None] = {}

    # -- keys --------------------------------------------------------------------------
    def key_for(self, raw: str | None, key_id: str | None) -> ApiKey | None:
        if raw:
            return self._by_key.get(raw)
        if key_id:
            return self._by_key_id.get(key_id)
        return None

    # -- webhooks ----------------------------------------------------------------------
    def add_webhook(
        self, number_id: str, name: str, url: str, events: list[str], *, active: bool = True
    ) -> Webhook:
        secret = f"whsec_{secrets.token_hex(24)}"
        hook = Webhook(new_id("wh"), number_id, name, url, events, secret, active)
        self.webhooks[hook.id] = hook
        self.logs[hook.id] = deque(maxlen=LOGS_KEPT)
        return hook

    def remove_webhook(self, webhook_id: str) -> None:
        # Deleting a webhook also deletes its delivery logs (§2.7).
        self.webhooks.pop(webhook_id, None)
        self.logs.pop(webhook_id, None)

    def visible_webhooks(self, number_id: str | None) -> list[Webhook]:
        # Insertion order is creation order.
        return [h for h in self.webhooks.values() if number_id is None or h.number_id == number_id]

    def record_attempt(self, entry: DeliveryLog) -> None:
        logs = self.logs.get(entry.webhook_id)
        if logs is not None:  # the webhook may have been deleted mid-delivery
            logs.append(entry)
        hook = self.webhooks.get(entry.webhook_id)
        if hook is not None:
            hook.last_triggered = entry.created_at

    def recent_logs(self, webhook_id: str, limit: int, event: str | None) -> list[DeliveryLog]:
        newest_first = reversed(self.logs.get(webhook_id, ()))
        return [e for e in newest_first if event is None or e.event == event][:limit]

    # -- messages ----------------------------------------------------------------------
    def add_message(self, msg: SentMessage) -> None:
        # The lifecycle lives in the scenario; this is the record of what the API accepted.
        self.messages[msg.id] = msg

    def idempotent(self, number_id: str, key: str) -> IdempotencyRecord | None:
        now = time.monotonic()
        for k in [k for k, r in self._idempotency.items() if r.expires <= now]:
            del self._idempotency[k]  # lazy expiry is enough at sandbox volumes
        return self._idempotency.get((number_id, key))

    def remember(self, number_id: str, key: str, body_hash: str, status: int, body: dict[str, Any]) -> None:
        expires = time.monotonic() + IDEMPOTENCY_TTL_S
        self._idempotency[(number_id, key)] = IdempotencyRecord(body_hash, status, body, expires)

"""Typed responses of the REST API, tolerant where the sources disagree.

Extra fields are kept (the platform adds fields); fields the app relies on are typed.
Documented conflicts handled here: C1 (status shapes, `CLOSE` vs `CLOSED`), C2 (`id` vs
`internalMessageId`), C3 (cancel answers id lists or counts).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

ConnectionState = Literal["OPEN", "CONNECTING", "CLOSED", "UNKNOWN"]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)


def normalize_state(value: Any) -> str:
    """`CLOSE` (the .md page) and `CLOSED` (the HTML page) are the same state (C1)."""
    text = str(value or "").upper()
    if text in ("CLOSE", "CLOSED"):
        return "CLOSED"
    return text if text in ("OPEN", "CONNECTING") else "UNKNOWN"


class Webhook(ApiModel):
    id: str
    name: str = ""
    url: str
    events: list[str] = Field(default_factory=list)
    active: bool = True
    environment: str | None = None
    last_triggered: str | None = None
    whatsapp_number_ids: list[str] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def number_id(self) -> str | None:
        return self.whatsapp_number_ids[0] if self.whatsapp_number_ids else None


class DeliveryLog(ApiModel):
    event: str
    status: str  # SUCCESS | FAILED (kept open)
    status_code: int | None = None
    payload: Any = None
    response: Any = None
    duration_ms: float | None = None
    created_at: str | None = None


class Link(ApiModel):
    state: str = "UNKNOWN"
    connected_at: str | None = None


class _Stateful(ApiModel):
    state: str = "UNKNOWN"
    is_fully_connected: bool | None = None

    @model_validator(mode="after")
    def _normalize(self) -> _Stateful:
        self.state = normalize_state(self.state)
        if self.is_fully_connected is None:  # the .md shape has no flag: OPEN means ready
            self.is_fully_connected = self.state == "OPEN"
        return self


class Number(_Stateful):
    """A `/v1/numbers` item or a `/v1/numbers/{id}` detail (the detail has more keys)."""

    id: str
    number: str = ""
    name: str = ""
    provider: str | None = None
    primary_link: Link | None = None
    extra_charge_unpaid_since: str | None = None
    extra_charge_disconnect_at: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _state_from_link(cls, data: Any) -> Any:
        # The SDK's list type has no flat `state`, only `primaryLink.state`.
        if isinstance(data, dict) and "state" not in data and isinstance(data.get("primaryLink"), dict):
            data = {**data, "state": data["primaryLink"].get("state")}
        return data

    @property
    def phone(self) -> str:
        """E.164 with `+` (the list gives digits; webhooks give `+digits`, api §7.7)."""
        digits = self.number.lstrip("+")
        return f"+{digits}" if digits else ""


class NumberHealth(ApiModel):
    """`health` of `GET /v1/numbers/{id}` (api §4.3): Meta's view; value sets undocumented."""

    quality_rating: str | None = None  # e.g. GREEN / YELLOW / RED
    messaging_limit_tier: str | None = None  # the number's own tier, e.g. TIER_1K
    portfolio_messaging_limit_tier: str | None = None
    meta_status: str | None = None
    code: str | None = None
    reason: str | None = None
    sendable: bool | None = None


class NumberDetail(Number):
    """`GET /v1/numbers/{id}` (api §4.3): the list item's fields plus health and PII mode."""

    pii_mode: str | None = None  # RELAY_ONLY | STORE_X_DAYS | STORE_INDEFINITE
    pii_retention_days: int | None = None
    health: NumberHealth | None = None


class NumberStatus(_Stateful):
    """`/v1/numbers/{id}/status` in any of its three documented shapes (C1)."""

    id: str | None = None
    stale: bool = False
    checked_at: str | None = None
    last_known_at: str | None = None


class SendAccepted(ApiModel):
    id: str
    correlation_id: str | None = None
    status: str = "QUEUED"
    created_at: str | None = None
    origin: str | None = None
    source_number: str | None = None
    replayed: bool = False  # set from `Idempotent-Replayed: true`


class MessageDetails(ApiModel):
    id: str
    external_message_id: str | None = None
    status: str
    correlation_id: str | None = None
    destination_number: str | None = None
    created_at: str | None = None
    sent_at: str | None = None
    delivered_at: str | None = None
    read_at: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    origin: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _internal_id(cls, data: Any) -> Any:
        # C2: the send guide's older name for the internal id.
        if isinstance(data, dict) and "id" not in data and "internalMessageId" in data:
            data = {**data, "id": data["internalMessageId"]}
        return data


class HistoryMessage(ApiModel):
    """A `GET /v1/messages/history` row (api §5.4): both directions, newest first."""

    id: str
    direction: str = ""  # INBOUND | OUTBOUND (kept open)
    status: str | None = None
    external_message_id: str | None = None
    conversation_id: str | None = None
    provider_kind: str | None = None
    message_type: str | None = None
    origin: str | None = None
    text: str | None = None
    participant_phone: str | None = None
    sent_at: str | None = None
    delivered_at: str | None = None
    read_at: str | None = None
    provider_timestamp: str | None = None
    created_at: str | None = None

    @property
    def outbound(self) -> bool:
        return self.direction.upper() == "OUTBOUND"


class CancelFailure(ApiModel):
    id: str
    reason: str = ""


class CancelResult(ApiModel):
    """C3: the guide and SDK answer id lists, the playground counts; both read here."""

    cancelled_ids: list[str] = Field(default_factory=list)
    cancelled_count: int = 0
    failed: list[CancelFailure] = Field(default_factory=list)
    not_found: int = 0

    @model_validator(mode="before")
    @classmethod
    def _shapes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cancelled = data.get("cancelled")
        out = {k: v for k, v in data.items() if k != "cancelled"}
        if isinstance(cancelled, list):
            out["cancelledIds"] = cancelled
            out["cancelledCount"] = len(cancelled)
        elif isinstance(cancelled, int):
            out["cancelledCount"] = cancelled
        if isinstance(data.get("notFound"), int):
            out["notFound"] = data["notFound"]
        return out

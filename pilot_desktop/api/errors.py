"""One exception for every API failure, with a sentence an operator understands.

The platform's own `error` text is kept (`detail`) but the sentence leads: it says what
went wrong in the operator's terms and what to do. Codes come from docs/pilot-status-api.md §6.
"""

from __future__ import annotations

import math
from typing import Any

# code -> sentence. The platform's detail is appended when it adds something.
_SENTENCES: dict[str, str] = {
    "UNAUTHORIZED": "The API key was refused: it is wrong, revoked, or its number was deleted. "
    "Copy it again from the dashboard's API keys page.",
    "TENANT_SCOPE_NOT_ALLOWED": "This action needs a number: use that number's API key, "
    "or name the number when using the tenant key.",
    "NUMBER_SCOPE_NOT_ALLOWED": "This number's API key cannot do that; it needs the tenant key "
    "(dashboard → Profile → API).",
    "PERMISSION_DENIED": "This API key lacks the permission for that action.",
    "NUMBER_MISMATCH": "The chosen number is not the one this API key belongs to.",
    "NUMBER_REQUIRED": "Name the number: with the tenant key the webhook's number must be given.",
    "NUMBER_NOT_FOUND": "That number is not in this account (or no longer exists).",
    "WEBHOOK_NOT_FOUND": "That webhook no longer exists, or this API key cannot see it: "
    "list the webhooks again to see the current ones.",
    "MESSAGE_NOT_FOUND": "No message with that id is visible to this API key.",
    "EMPTY_PATCH": "There was nothing to change.",
    "VALIDATION_ERROR": "Pilot Status refused a value.",
    "RATE_LIMITED": "Pilot Status is rate limiting this key.",
    "NUMBER_BLOCKED": "Sending is blocked for this number: its extra-number charge is unpaid.",
    "WHATSAPP_INSTANCE_NOT_CONNECTED": "The number is not connected to WhatsApp; reconnect it first.",
    "SUBSCRIPTION_REQUIRED_FOR_MEDIA": "Media needs a paid plan.",
    "IDEMPOTENCY_KEY_REUSED": "This send's Idempotency-Key was already used with a different message.",
    "IDEMPOTENCY_KEY_IN_USE": "The same send is still being processed; wait and check its status.",
    "IDEMPOTENCY_KEY_INVALID": "The Idempotency-Key is invalid (max 255 chars, no control chars).",
    "PROVIDER_NOT_CONFIGURED": "The number's WhatsApp provider is not configured; its status can't be read.",
    "UPSTREAM_TIMEOUT": "The WhatsApp provider did not answer in time; this is usually brief.",
    "UPSTREAM_ERROR": "The WhatsApp provider answered with an error; this is usually brief.",
    "FEATURE_NOT_SUPPORTED": "This number's provider does not support that feature.",
    "NOT_SUPPORTED_FOR_META": "Meta (official) numbers do not support that.",
    "NETWORK": "Could not reach Pilot Status.",
    "TIMEOUT": "Pilot Status did not answer in time.",
    "BAD_RESPONSE": "Pilot Status answered with something this app could not read.",
}

_BY_STATUS: dict[int, str] = {
    400: "Pilot Status refused the request as invalid.",
    401: _SENTENCES["UNAUTHORIZED"],
    402: "This needs a paid Pilot Status plan.",
    403: "This API key's scope does not allow that action (a number key vs the tenant key).",
    404: "Not found, or not visible to this API key.",
    409: "The request conflicts with the current state on Pilot Status.",
    429: _SENTENCES["RATE_LIMITED"],
}


class ApiError(Exception):
    """`status` 0 means no HTTP answer (network, timeout); `code` is the platform's code,
    or a status-derived one; `detail` the platform's own text; `retry_after` seconds for 429;
    `maybe_applied` True when a change may have reached the platform before the failure."""

    def __init__(
        self,
        status: int,
        code: str,
        sentence: str,
        *,
        detail: str = "",
        field: str | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = False,
        body: Any = None,
    ) -> None:
        self.status = status
        self.code = code
        self.sentence = sentence
        self.detail = detail
        self.field = field
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied
        self.body = body
        super().__init__(self.message())

    def __str__(self) -> str:
        # Built when asked: `maybe_applied` / `retry_after` may be set after construction.
        return self.message()

    def message(self) -> str:
        parts = [self.sentence]
        if self.detail and self.detail not in self.sentence:
            parts.append(self.detail if self.detail.endswith(".") else self.detail + ".")
        if self.retry_after is not None:
            parts.append(f"Try again in {self.retry_after:.0f} s.")
        if self.maybe_applied:
            parts.append("The change may have been applied anyway: read it back before repeating it.")
        where = f"HTTP {self.status}" if self.status else "no answer"
        return f"{' '.join(parts)} [{self.code}, {where}]"


def seconds(value: Any) -> float | None:
    """A wait in seconds from a body field or header, or None if it isn't a usable one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        wait = float(value)
    except ValueError:
        return None  # e.g. an HTTP-date Retry-After
    return wait if math.isfinite(wait) and wait >= 0 else None


def from_response(status: int, body: Any, retry_after: float | None) -> ApiError:
    """Build the error of one non-2xx answer (body already parsed, or None). The body's
    `retryAfterSeconds` (the platform's own field, may be fractional) wins over
    `retry_after` (the `Retry-After` header, whole seconds)."""
    detail, code, field = "", "", None
    if isinstance(body, dict):
        detail = str(body.get("error") or body.get("message") or "")
        code = str(body.get("code") or "")
        field = body.get("field") if isinstance(body.get("field"), str) else None
        if (from_body := seconds(body.get("retryAfterSeconds"))) is not None:
            retry_after = from_body
    if not code:
        code = "UNAUTHORIZED" if status == 401 else ("RATE_LIMITED" if status == 429 else f"HTTP_{status}")
    sentence = _SENTENCES.get(code) or _BY_STATUS.get(status)
    if sentence is None:
        sentence = (
            "Pilot Status had a server error." if status >= 500 else f"Pilot Status answered HTTP {status}."
        )
    if code == "VALIDATION_ERROR" and field:
        sentence = f"Pilot Status refused the value of '{field}'."
    return ApiError(status, code, sentence, detail=detail, field=field, retry_after=retry_after, body=body)


def network(code: str, what: str, *, maybe_applied: bool) -> ApiError:
    return ApiError(0, code, _SENTENCES[code], detail=what, maybe_applied=maybe_applied)

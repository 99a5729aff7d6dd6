"""`POST /v1/messages/send`, `GET /v1/messages/{id}` and `GET /v1/messages/history`
(docs/pilot-status-api.md §5.1, §5.2, §5.4).

Per-number endpoints: a number-scoped key, or the tenant key with `x-whatsapp-number-id`
(without it: 403 `TENANT_SCOPE_NOT_ALLOWED`). The sandbox sends free text to one E.164
destination; every other documented mode answers 400 `FEATURE_NOT_SUPPORTED` so a client
learns the limit instead of getting a silently different behaviour. An accepted send is
handed to the scenario, which plays its lifecycle (sent → delivered → read, or failed).
The history lists the number's outbound messages the scenario knows (the sandbox keeps
no inbound rows), newest first by `providerTimestamp`, paged.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from aiohttp import web

from pilot_desktop.core.format import parse_time
from pilot_desktop.sandbox.rest import (
    Context,
    authenticate,
    canonical,
    fail,
    invalid,
    read_object,
    required_number,
)
from pilot_desktop.sandbox.state import SentMessage, digits, iso_now, new_id

E164 = re.compile(r"\+[1-9]\d{6,14}")
BSUID = re.compile(r"[A-Z]{2}\.\w+")  # username-only contacts (`BR.1349...`)
MAX_TEXT = 4096
MAX_IDEMPOTENCY_KEY = 255
HISTORY_PAGE_SIZE, HISTORY_PAGE_MAX = 30, 100  # §5.4: default 30, max 100
_UNSUPPORTED = {
    "templateId": "template sends",
    "media": "media sends",
    "buttons": "buttons",
    "header": "headers",
    "footer": "footers",
    "list": "list messages",
    "carousel": "carousels",
    "flow": "WhatsApp Flows",
    "deliverAt": "scheduled sends (deliverAt)",
    "deliverUntil": "delivery windows (deliverUntil)",
}


def _unsupported(what: str) -> None:
    fail(
        400,
        "FEATURE_NOT_SUPPORTED",
        f"The sandbox does not support {what}; it sends plain text to one destinationNumber.",
    )


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or any(ord(c) < 32 or ord(c) == 127 for c in key):
        fail(
            400,
            "IDEMPOTENCY_KEY_INVALID",
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters without control characters.",
        )
    return key


def _validate(body: dict[str, Any]) -> tuple[str, str]:
    targets = [k for k in ("destinationNumber", "groupId", "newsletterId") if body.get(k) is not None]
    if len(targets) > 1:
        invalid(targets[1], "Send to exactly one of destinationNumber, groupId or newsletterId.")
    if targets and targets[0] != "destinationNumber":
        _unsupported("group and channel sends")
    modes = [k for k in ("text", "templateId", "media") if body.get(k) is not None]
    if len(modes) > 1:
        invalid(modes[1], "Use exactly one of text, templateId or media.")
    for field, what in _UNSUPPORTED.items():
        if body.get(field) is not None:
            _unsupported(what)
    destination = body.get("destinationNumber")
    if not isinstance(destination, str) or not destination:
        invalid("destinationNumber", "Field 'destinationNumber' is required (E.164, e.g. +5511999999999).")
    if BSUID.fullmatch(destination):
        _unsupported("username (BSUID) destinations")
    if not E164.fullmatch(destination):
        invalid(
            "destinationNumber",
            "Field 'destinationNumber' must be E.164 with a leading '+', e.g. +5511999999999.",
        )
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        invalid("text", "Field 'text' is required and must be a non-empty string.")
    try:
        text.encode("utf-8")  # a lone surrogate ("\ud800") would break the webhook bodies later
    except UnicodeEncodeError:
        invalid("text", "Field 'text' must be valid Unicode text.")
    if len(text) > MAX_TEXT:
        invalid("text", f"Field 'text' must be at most {MAX_TEXT} characters.")
    return destination, text


def _whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        invalid(name, f"Query parameter '{name}' must be a whole number.")
    if not low <= value <= high:
        invalid(name, f"Query parameter '{name}' must be {low}-{high}.")
    return value


def _date(request: web.Request, name: str) -> float | None:
    text = request.query.get(name)
    if not text:
        return None
    when = parse_time(text)
    if when is None:
        invalid(name, f"Query parameter '{name}' must be an ISO 8601 date or time.")
    return when


class MessageRoutes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages/send", self.send)
        router.add_get("/v1/messages/history", self.history)  # before {id}: routes match in order
        router.add_get("/v1/messages/{id}", self.get)

    async def send(self, request: web.Request) -> web.Response:
        state = self.ctx.state
        number_id = required_number(request, state, authenticate(request, state))
        key = _idempotency_key(request)
        body = await read_object(request)
        body_hash = hashlib.sha256(canonical(body).encode("utf-8", "surrogatepass")).hexdigest()
        if key is not None and (seen := state.idempotent(number_id, key)) is not None:
            if seen.body_hash != body_hash:
                fail(409, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different body.")
            return web.json_response(seen.body, status=seen.status, headers={"Idempotent-Replayed": "true"})
        destination, text = _validate(body)
        sent = SentMessage(new_id("msg"), new_id("corr"), number_id, destination, text, iso_now())
        state.add_message(sent)
        self.ctx.scenario.send(
            number_id,
            destination,
            text,
            at=self.ctx.scenario_time(),
            message_id=sent.id,
            correlation_id=sent.correlation_id,
        )
        record = self.ctx.scenario.message(sent.id)
        accepted = {
            "id": sent.id,
            "correlationId": sent.correlation_id,
            "status": "QUEUED",
            # The scenario's clock, so the 202 and later GETs and webhooks agree.
            "createdAt": record.created_at if record is not None else sent.created_at,
            "origin": "API",
            "sourceNumber": digits(state.numbers[number_id].phone),
        }
        if key is not None:  # only 2xx answers are remembered
            state.remember(number_id, key, body_hash, 202, accepted)
        return web.json_response(accepted, status=202)

    async def get(self, request: web.Request) -> web.Response:
        state = self.ctx.state
        number_id = required_number(request, state, authenticate(request, state))
        wanted = request.match_info["id"]
        # The scenario resolves internal id, correlationId and provider id alike (§5.2);
        # its organic sends are API sends of the tenant's other systems, so they count too.
        record = self.ctx.scenario.message(wanted)
        if record is None or record.number_id != number_id:
            fail(404, "MESSAGE_NOT_FOUND", f"Message {wanted} was not found.")
        return web.json_response(record.as_api())

    async def history(self, request: web.Request) -> web.Response:
        state = self.ctx.state
        number_id = required_number(request, state, authenticate(request, state))
        start, end = _date(request, "startDate"), _date(request, "endDate")
        if start is not None and end is not None and start > end:
            fail(400, "INVALID_DATE_RANGE", "startDate must not be after endDate.")
        page = _whole(request, "page", 1, 1, 1_000_000)
        size = _whole(request, "pageSize", HISTORY_PAGE_SIZE, 1, HISTORY_PAGE_MAX)
        rows = []
        for record in self.ctx.scenario.messages_of(number_id):
            at = parse_time(record.provider_time)
            if at is None or (start is not None and at < start) or (end is not None and at > end):
                continue
            rows.append((at, record.id, record))
        rows.sort(key=lambda r: (r[0], r[1]), reverse=True)  # newest first
        provider = state.numbers[number_id].provider
        chosen = rows[(page - 1) * size : page * size]
        body = {
            "data": [record.as_history(provider) for _, _, record in chosen],
            "page": page,
            "pageSize": size,
            "total": len(rows),
        }
        return web.json_response(body)

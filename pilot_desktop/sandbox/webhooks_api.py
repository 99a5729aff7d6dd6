"""`/v1/webhooks` CRUD and delivery logs (docs/pilot-status-api.md §2.7, §3).

Documented rules: a webhook belongs to one number (from a number-scoped key, or the
tenant key's `whatsappNumberId` / header); `events` replaces on PATCH; the number can't
change; out-of-scope ids are 404 `WEBHOOK_NOT_FOUND`; the signing secret is never
returned. Gaps we decided (G3/G12): create answers 201 with the webhook object; delete
answers 200 `{"ok": true}`; `http://` is accepted (local receivers); unknown event names
are kept (the platform ships events without notice).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web
from yarl import URL

from pilot_desktop.core.catalogue import is_health, not_emitted_by
from pilot_desktop.sandbox.rest import (
    Context,
    authenticate,
    fail,
    invalid,
    read_object,
    scoped_number,
)
from pilot_desktop.sandbox.state import Webhook, iso_now

MAX_NAME = 200
MAX_URL = 2048


def _url(value: Any) -> str:
    """An absolute http(s) URL the dispatcher can actually call, or 400 naming `url`."""
    if not isinstance(value, str) or not value.strip():
        invalid("url", "Field 'url' is required and must be an http(s) URL.")
    url = value.strip()
    if len(url) > MAX_URL or any(c.isspace() or not c.isprintable() for c in url):
        invalid("url", f"Field 'url' must be an http(s) URL of at most {MAX_URL} characters, without spaces.")
    try:
        parsed = URL(url)
        host = parsed.host
        valid = parsed.scheme in ("http", "https") and bool(host) and parsed.port != 0
        if valid and host is not None and not _is_ip(host):
            host.encode("idna")  # what the resolver does: "a_b..c" fails here, not at delivery
    except ValueError:  # "http://[::1", "http://host:99999", a label empty or over 63 chars
        valid = False
    if not valid:
        invalid("url", "Field 'url' must be an absolute http(s) URL with a valid host name.")
    return url


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        invalid("name", f"Field 'name' must be a non-empty string of at most {MAX_NAME} characters.")
    return value.strip()


def _events(value: Any, provider: str) -> list[str]:
    if value is None:
        return []  # omitted = subscribed to nothing (§2.8)
    if not isinstance(value, list) or not all(isinstance(e, str) and e.strip() for e in value):
        invalid("events", "Field 'events' must be a list of event names (strings), or [\"*\"].")
    dropped = not_emitted_by(provider)  # the platform drops them silently (§1.2)
    kept: list[str] = []
    for event in (e.strip() for e in value):
        # Health events can only be had through "*" (§1.2): picking one is a no-op.
        if event not in kept and event not in dropped and not is_health(event):
            kept.append(event)
    return kept


def _active(value: Any) -> bool:
    if not isinstance(value, bool):
        invalid("active", "Field 'active' must be true or false.")
    return value


class WebhookRoutes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/webhooks", self.list_all)
        router.add_post("/v1/webhooks", self.create)
        router.add_get("/v1/webhooks/{id}", self.get)
        router.add_patch("/v1/webhooks/{id}", self.patch)
        router.add_delete("/v1/webhooks/{id}", self.delete)
        router.add_get("/v1/webhooks/{id}/logs", self.logs)

    def _find(self, request: web.Request) -> Webhook:
        state = self.ctx.state
        number_id = scoped_number(request, state, authenticate(request, state))
        hook = state.webhooks.get(request.match_info["id"])
        if hook is None or (number_id is not None and hook.number_id != number_id):
            fail(404, "WEBHOOK_NOT_FOUND", "Webhook not found.")
        return hook

    async def list_all(self, request: web.Request) -> web.Response:
        state = self.ctx.state
        number_id = scoped_number(request, state, authenticate(request, state))
        return web.json_response([h.public() for h in state.visible_webhooks(number_id)])

    async def create(self, request: web.Request) -> web.Response:
        state = self.ctx.state
        key = authenticate(request, state)
        scoped = scoped_number(request, state, key)
        body = await read_object(request)
        named = body.get("whatsappNumberId")
        if named is not None and not isinstance(named, str):
            invalid("whatsappNumberId", "Field 'whatsappNumberId' must be a string.")
        if named and scoped is not None and named != scoped:
            fail(
                400, "NUMBER_MISMATCH", "Field 'whatsappNumberId' contradicts the key's (or header's) number."
            )
        number_id = scoped or named
        if not number_id:
            fail(
                400,
                "NUMBER_REQUIRED",
                "A tenant key must name the number: send 'whatsappNumberId' or x-whatsapp-number-id.",
            )
        number = state.numbers.get(number_id)
        if number is None:
            fail(404, "NUMBER_NOT_FOUND", f"Number {number_id} was not found in this tenant.")
        # Validate everything before adding anything: a 400 leaves no webhook behind.
        url = _url(body.get("url"))
        name = _name(body["name"]) if body.get("name") is not None else (URL(url).host or url)
        events = _events(body.get("events"), number.provider)
        active = _active(body["active"]) if "active" in body else True
        hook = state.add_webhook(number.id, name, url, events, active=active)
        return web.json_response(hook.public(), status=201)

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(self._find(request).public())

    async def patch(self, request: web.Request) -> web.Response:
        hook = self._find(request)
        body = await read_object(request, empty_ok=True)
        for field in ("whatsappNumberId", "whatsappNumberIds"):
            if field in body and body[field] not in (hook.number_id, [hook.number_id]):
                invalid(field, "A webhook's number can't be changed; create a webhook for the other number.")
        changes = {k: body[k] for k in ("name", "url", "active", "events") if k in body}
        if not changes:
            fail(400, "EMPTY_PATCH", "Nothing to update: send at least one of name, url, active, events.")
        provider = self.ctx.state.numbers[hook.number_id].provider
        # Validate everything before changing anything: a 400 leaves the webhook as it was.
        url = _url(changes["url"]) if "url" in changes else hook.url
        name = _name(changes["name"]) if "name" in changes else hook.name
        active = _active(changes["active"]) if "active" in changes else hook.active
        if "events" in changes and changes["events"] is None:
            invalid("events", "Field 'events' must be a list; send [] to subscribe to nothing.")
        events = _events(changes["events"], provider) if "events" in changes else hook.events
        hook.url, hook.name, hook.active, hook.events = url, name, active, events
        hook.updated_at = iso_now()
        return web.json_response(hook.public())

    async def delete(self, request: web.Request) -> web.Response:
        hook = self._find(request)
        self.ctx.state.remove_webhook(hook.id)
        return web.json_response({"ok": True, "id": hook.id})

    async def logs(self, request: web.Request) -> web.Response:
        hook = self._find(request)
        raw_limit = request.query.get("limit", "50")
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 50:
            invalid("limit", "Query parameter 'limit' must be an integer from 1 to 50.")
        event = request.query.get("event") or None
        entries = self.ctx.state.recent_logs(hook.id, limit, event)
        return web.json_response([e.public() for e in entries])

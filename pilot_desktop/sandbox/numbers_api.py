"""`/v1/numbers` read endpoints (docs/pilot-status-api.md §4.1–4.4).

Key scope (conflict C5): the tenant key sees every number; a number-scoped key may call
these endpoints too, but only for its own number (others are 404 `NUMBER_NOT_FOUND`).
The connection state is the scenario's live state; `/status` answers the SDK shape
(C1) `{id, state, stale, checkedAt}` plus the HTML page's `isFullyConnected`, and its 404
is `{"error"}` without a `code`, as documented (§4.4).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pilot_desktop.sandbox.rest import ApiError, Context, authenticate, fail, invalid
from pilot_desktop.sandbox.state import ApiKey, digits, iso_now

if TYPE_CHECKING:
    from pilot_desktop.sandbox.scenario import SandboxNumber

INSTANCE_PREFIX = "sandbox"


class NumberRoutes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/numbers", self.list_all)
        router.add_get("/v1/numbers/{id}", self.detail)
        router.add_get("/v1/numbers/{id}/status", self.status)

    def _visible(self, key: ApiKey) -> list[SandboxNumber]:
        numbers = list(self.ctx.state.numbers.values())
        return [n for n in numbers if key.number_id is None or n.id == key.number_id]

    def _find(self, request: web.Request) -> SandboxNumber:
        key = authenticate(request, self.ctx.state)
        wanted = request.match_info["id"]
        found = [n for n in self._visible(key) if n.id == wanted]
        if not found:
            fail(404, "NUMBER_NOT_FOUND", f"Number {wanted} was not found.")
        return found[0]

    def _state(self, number: SandboxNumber) -> str:
        return self.ctx.scenario.number_state(number.id)

    def _connected_at(self, number: SandboxNumber, state: str) -> str | None:
        if state != "OPEN":
            return None
        # Set from `number.connected` emissions; a number open from the start connected then.
        return self.ctx.state.connected_at.get(number.id) or self.ctx.state.created_at

    def _common(self, number: SandboxNumber) -> dict[str, Any]:
        state = self._state(number)
        return {
            "id": number.id,
            "number": digits(number.phone),
            "name": number.name,
            "provider": number.provider,
            "state": state,
            "isFullyConnected": state == "OPEN",
            "extraChargeUnpaidSince": None,
            "extraChargeDisconnectAt": None,
            "createdAt": self.ctx.state.created_at,
            "updatedAt": self.ctx.state.created_at,
        }

    def _list_item(self, number: SandboxNumber) -> dict[str, Any]:
        item = self._common(number)
        key = self.ctx.state.number_keys[number.id]
        item |= {
            "instanceName": f"{INSTANCE_PREFIX}-{digits(number.phone)}",
            "primaryLink": {"state": item["state"], "connectedAt": self._connected_at(number, item["state"])},
            "secondaryLink": None,
            "apiKeys": [key.public()],
        }
        if number.provider == "META":  # the list carries `coexistence` for Meta numbers only
            item["coexistence"] = {"status": "NO", "evidence": None}
        return item

    async def list_all(self, request: web.Request) -> web.Response:
        key = authenticate(request, self.ctx.state)
        return web.json_response([self._list_item(n) for n in self._visible(key)])

    async def detail(self, request: web.Request) -> web.Response:
        number = self._find(request)
        body = self._common(number)
        meta = number.provider == "META"
        pick = zlib.crc32(number.id.encode())  # stable per number, whatever the seed's clock
        # A web number in three keeps chats 30 days (api §7.8); Meta numbers keep them.
        days = 30 if not meta and pick % 3 == 0 else None
        body |= {
            "piiMode": "STORE_X_DAYS" if days else "STORE_INDEFINITE",
            "piiRetentionDays": days,
            "settings": _settings(meta),
            "health": _health(meta, pick, sendable=body["state"] == "OPEN"),
            "meta": _meta(number, pick) if meta else None,
            "coexistence": {"status": "NO", "evidence": None} if meta else None,
        }
        return web.json_response(body)

    async def status(self, request: web.Request) -> web.Response:
        try:
            number = self._find(request)
        except ApiError as exc:
            if exc.status != 404:
                raise
            # §4.4: this endpoint's 404 comes deliberately without a `code` (SDK types).
            return web.json_response({"error": str(exc)}, status=404)
        link = request.query.get("link", "primary")
        if link not in ("primary", "secondary"):
            invalid("link", "Query parameter 'link' must be 'primary' or 'secondary'.")
        if link == "secondary":
            invalid("link", "This number has no secondary link.")
        state = self._state(number)
        body: dict[str, Any] = {
            "id": number.id,
            "state": state,
            "isFullyConnected": state == "OPEN",
            "stale": False,
        }
        if number.provider != "META":  # Meta numbers answer without a timestamp (SDK)
            body["checkedAt"] = iso_now()
        return web.json_response(body)


def _settings(meta: bool) -> dict[str, Any]:
    return {
        "historyImportEnabled": True,
        "webhookHistoricalMessages": False,
        "ignoreNewsletters": False,
        "markReadOnSend": False,
        # Evolution GO advanced settings; null = provider default.
        "alwaysOnline": None,
        "rejectCall": None,
        "msgRejectCall": None,
        "readMessages": None,
        "ignoreGroups": None,
        "ignoreStatus": None,
        "appliesTo": {
            "history": "all",
            "advanced": "none" if meta else "evolution-go",
            "sending": "meta" if meta else "none",
        },
    }


def _quality(pick: int) -> str:
    return "YELLOW" if pick % 4 == 1 else "GREEN"  # one Meta number in four lost some quality


def _health(meta: bool, pick: int, *, sendable: bool) -> dict[str, Any]:
    # Web (QR) numbers have no Meta health: every value null but `sendable` (api §4.3).
    return {
        "qualityRating": _quality(pick) if meta else None,
        "messagingLimitTier": ("TIER_1K", "TIER_10K", "TIER_250")[pick % 3] if meta else None,
        "portfolioMessagingLimitTier": "TIER_10K" if meta else None,
        "metaStatus": "CONNECTED" if meta else None,
        "code": None,
        "reason": None,
        "sendable": sendable,
    }


def _meta(number: SandboxNumber, pick: int) -> dict[str, Any]:
    # A small camelCase mirror of Meta Graph data; real tokens never appear here.
    return {
        "phone": {
            "displayPhoneNumber": number.phone,
            "verifiedName": number.name,
            "qualityRating": _quality(pick),
            "platformType": "CLOUD_API",
        },
        "profile": {"about": "Pilot Desktop sandbox", "vertical": "OTHER"},
        "waba": {"id": f"waba_{digits(number.phone)}", "name": f"{number.name} (sandbox)"},
    }

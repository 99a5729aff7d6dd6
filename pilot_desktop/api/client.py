"""Async client of the Pilot Status REST API (docs/pilot-status-api.md §3–6).

Retry rules, and why:
- GET is retried on network errors and 5xx with 250 ms x 2^n backoff (the SDK's rule):
  reading twice changes nothing.
- POST/PATCH/DELETE are never retried after a network error or 5xx: the change may have
  been applied. The error says so (`maybe_applied`). The one exception is a send, which
  carries an Idempotency-Key, so repeating it with the same key cannot send twice (if
  every attempt fails, its error still says the message may have gone out).
- A connection that could not be made (refused, connect timeout) sent nothing: its error
  never says `maybe_applied`.
- 429 means the platform refused before acting, so any method is retried after
  `retryAfterSeconds` / `Retry-After` when that wait is short; a longer wait is raised
  with `retry_after` set, for the caller to show.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from pilot_desktop import __version__
from pilot_desktop.api import errors
from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import (
    CancelResult,
    DeliveryLog,
    HistoryMessage,
    MessageDetails,
    Number,
    NumberDetail,
    NumberStatus,
    SendAccepted,
    Webhook,
)

DEFAULT_BASE_URL = "https://pilotstatus.com.br"
NUMBER_HEADER = "x-whatsapp-number-id"
HISTORY_PAGE_MAX = 100  # api §5.4: pageSize at most 100 (default 30)
# §5.4 does not document the envelope of a history page: a bare list, or an object with
# the rows under one of these keys, are all read.
_ROW_KEYS = ("data", "messages", "items", "results")
M = TypeVar("M", bound=BaseModel)


class PilotClient:
    """One API key against one base URL. `number_id` names the number for a tenant key
    (`x-whatsapp-number-id`); a number-scoped key needs none."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        number_id: str | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.25,
        max_retry_after: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.number_id = number_id
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"x-api-key": api_key, "user-agent": f"pilot-desktop/{__version__}"},
            follow_redirects=False,
            # A corporate HTTP(S)_PROXY is right for pilotstatus.com.br, wrong for a local
            # sandbox: loopback is always reached directly.
            trust_env=not _is_loopback(self.base_url),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PilotClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def for_number(self, number_id: str | None) -> PilotClient:
        """A view of this client naming another number; shares the connection pool."""
        clone = object.__new__(PilotClient)
        clone.__dict__.update(self.__dict__)
        clone.number_id = number_id
        return clone

    # -- webhooks (§3, §2.7) ----------------------------------------------------------------
    async def list_webhooks(self) -> list[Webhook]:
        return self._list(Webhook, await self._call("GET", "/v1/webhooks"))

    async def get_webhook(self, webhook_id: str) -> Webhook:
        return self._one(Webhook, await self._call("GET", f"/v1/webhooks/{_seg(webhook_id)}"))

    async def create_webhook(
        self, url: str, events: list[str], *, name: str | None = None, active: bool = True
    ) -> Webhook:
        body: dict[str, Any] = {"url": url, "events": events}
        if name:
            body["name"] = name
        if not active:
            body["active"] = False
        if self.number_id:
            body["whatsappNumberId"] = self.number_id
        return self._one(Webhook, await self._call("POST", "/v1/webhooks", json_body=body))

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        events: list[str] | None = None,
        active: bool | None = None,
    ) -> Webhook:
        """PATCH; `events` replaces the whole list (§3.4)."""
        changes = {"name": name, "url": url, "events": events, "active": active}
        body = {k: v for k, v in changes.items() if v is not None}
        return self._one(
            Webhook, await self._call("PATCH", f"/v1/webhooks/{_seg(webhook_id)}", json_body=body)
        )

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._call("DELETE", f"/v1/webhooks/{_seg(webhook_id)}")

    async def webhook_logs(
        self, webhook_id: str, *, limit: int = 50, event: str | None = None
    ) -> list[DeliveryLog]:
        params: dict[str, str] = {"limit": str(limit)}
        if event:
            params["event"] = event
        data = await self._call("GET", f"/v1/webhooks/{_seg(webhook_id)}/logs", params=params)
        return self._list(DeliveryLog, data)

    # -- numbers (§4) -----------------------------------------------------------------------
    async def list_numbers(self) -> list[Number]:
        return self._list(Number, await self._call("GET", "/v1/numbers"))

    async def get_number(self, number_id: str) -> NumberDetail:
        return self._one(NumberDetail, await self._call("GET", f"/v1/numbers/{_seg(number_id)}"))

    async def number_status(self, number_id: str) -> NumberStatus:
        try:
            data = await self._call("GET", f"/v1/numbers/{_seg(number_id)}/status")
        except ApiError as exc:
            if exc.status == 404 and not _platform_code(exc.body):
                # §4.4: this endpoint's 404 (unknown number) deliberately has no code.
                raise ApiError(
                    404,
                    "NUMBER_NOT_FOUND",
                    errors._SENTENCES["NUMBER_NOT_FOUND"],
                    detail=exc.detail,
                    body=exc.body,
                ) from exc
            raise
        status = self._one(NumberStatus, data)
        if status.id is None:  # the HTML page's shape has no id
            status.id = number_id
        return status

    # -- messages (§5) ----------------------------------------------------------------------
    async def send_text(self, to: str, text: str, *, idempotency_key: str | None = None) -> SendAccepted:
        """Send free text. Retried on failure with the same Idempotency-Key, so at most one
        message goes out whatever the network does."""
        key = idempotency_key or str(uuid.uuid4())
        body = {"destinationNumber": to, "text": text}
        data, headers = await self._call_with_headers(
            "POST", "/v1/messages/send", json_body=body, headers={"Idempotency-Key": key}, idempotent=True
        )
        accepted = self._one(SendAccepted, data)
        accepted.replayed = headers.get("idempotent-replayed", "").lower() == "true"
        return accepted

    async def get_message(self, message_id: str) -> MessageDetails:
        """By internal id, correlationId or provider id (§5.2)."""
        return self._one(MessageDetails, await self._call("GET", f"/v1/messages/{_seg(message_id)}"))

    async def message_history(
        self, *, start: str | None = None, end: str | None = None, page: int = 1, page_size: int = 30
    ) -> list[HistoryMessage]:
        """One page of the number's messages, both directions, newest first (§5.4); a page
        shorter than `page_size` is the last. `start`/`end`: ISO 8601 (`startDate`, `endDate`)."""
        if not 1 <= page_size <= HISTORY_PAGE_MAX:
            raise ValueError(f"page_size must be 1-{HISTORY_PAGE_MAX}, got {page_size}")
        if page < 1:
            raise ValueError(f"page must be >= 1, got {page}")
        params = {"page": str(page), "pageSize": str(page_size)}
        if start:
            params["startDate"] = start
        if end:
            params["endDate"] = end
        data = await self._call("GET", "/v1/messages/history", params=params)
        if isinstance(data, dict):
            data = next((data[k] for k in _ROW_KEYS if isinstance(data.get(k), list)), [])
        return self._list(HistoryMessage, data)

    async def cancel_messages(self, message_ids: list[str]) -> CancelResult:
        data = await self._call("DELETE", "/v1/messages/cancel", json_body={"messageIds": message_ids})
        return self._one(CancelResult, data)

    # -- plumbing ---------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        data, _ = await self._call_with_headers(method, path, json_body=json_body, params=params)
        return data

    async def _call_with_headers(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> tuple[Any, httpx.Headers]:
        safe = method == "GET" if idempotent is None else idempotent  # may be repeated
        changes = method != "GET"  # a failure after sending may leave the change applied
        sent = dict(headers or {})
        if self.number_id:
            sent[NUMBER_HEADER] = self.number_id
        content = None if json_body is None else json.dumps(json_body).encode()
        if content is not None:
            sent["content-type"] = "application/json"
        attempt = 0
        limited = 0
        while True:
            try:
                resp = await self._http.request(method, path, content=content, params=params, headers=sent)
            except httpx.TimeoutException as exc:
                applied = changes and not isinstance(exc, _NOT_SENT)
                error = errors.network("TIMEOUT", _describe(exc, self.base_url), maybe_applied=applied)
            except httpx.TransportError as exc:
                applied = changes and not isinstance(exc, _NOT_SENT)
                error = errors.network("NETWORK", _describe(exc, self.base_url), maybe_applied=applied)
            else:
                if resp.is_success:
                    return _json(resp), resp.headers
                error = errors.from_response(resp.status_code, _json_or_none(resp), _retry_after(resp))
                if resp.status_code == 429:
                    wait = error.retry_after if error.retry_after is not None else self.backoff
                    if limited < self.retries and wait <= self.max_retry_after:
                        limited += 1
                        await self._sleep(wait)
                        continue
                    raise error
                if resp.status_code < 500:
                    raise error
                error.maybe_applied = changes
            if not safe or attempt >= self.retries:
                raise error
            await self._sleep(self.backoff * 2**attempt)
            attempt += 1

    def _one(self, model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise _bad(model, exc) from exc

    def _list(self, model: type[M], data: Any) -> list[M]:
        if not isinstance(data, list):
            raise ApiError(200, "BAD_RESPONSE", errors._SENTENCES["BAD_RESPONSE"], detail="expected a list")
        return [self._one(model, item) for item in data]


# The request never left: nothing can have been applied.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _platform_code(body: Any) -> bool:
    return isinstance(body, dict) and bool(body.get("code"))


def _seg(value: str) -> str:
    """One path segment: an id with '/' or '?' must not change the request's path."""
    return quote(value, safe="")


def _bad(model: type[BaseModel], exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "(body)"
    return ApiError(
        200,
        "BAD_RESPONSE",
        errors._SENTENCES["BAD_RESPONSE"],
        detail=f"{model.__name__}.{where}: {first['msg']}",
    )


def _json(resp: httpx.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError as exc:
        raise ApiError(
            resp.status_code, "BAD_RESPONSE", errors._SENTENCES["BAD_RESPONSE"], detail="the body is not JSON"
        ) from exc


def _json_or_none(resp: httpx.Response) -> Any:
    try:
        return resp.json() if resp.content else None
    except ValueError:
        return None


def _retry_after(resp: httpx.Response) -> float | None:
    # An HTTP-date gives None: rare, and the body's retryAfterSeconds wins anyway.
    return errors.seconds(resp.headers.get("retry-after"))


def _describe(exc: httpx.HTTPError, base_url: str) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return f"{base_url}: {text}"


def _is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

"""REST plumbing shared by the sandbox routes: errors, keys and scope, JSON bodies.

Errors follow §6: a JSON body `{"error": <sentence>, "code": <CODE>}` (plus a `field`
on validation errors). Scope follows §3.1/§6: a number-scoped key is bound to its number;
the tenant key picks one with `x-whatsapp-number-id` or acts tenant-wide where allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiohttp import web

from pilot_desktop.sandbox.faults import Faults
from pilot_desktop.sandbox.scenario import Scenario
from pilot_desktop.sandbox.state import ApiKey, SandboxState

NUMBER_HEADER = "x-whatsapp-number-id"


@dataclass
class Context:
    state: SandboxState
    scenario: Scenario
    scenario_time: Callable[[], float]  # seconds on the scenario's clock, for `send(at=)`
    faults: Faults = field(default_factory=Faults)  # injected faults, rate limit, request counts


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = extra

    def response(self) -> web.Response:
        body = {"error": str(self), "code": self.code, **self.extra}
        return web.json_response(body, status=self.status)


def fail(status: int, code: str, message: str, **extra: Any) -> NoReturn:
    raise ApiError(status, code, message, **extra)


def invalid(field: str, message: str) -> NoReturn:
    fail(400, "VALIDATION_ERROR", message, field=field)


def authenticate(request: web.Request, state: SandboxState) -> ApiKey:
    raw = request.headers.get("x-api-key")
    key_id = request.headers.get("x-api-key-id")
    if not raw and not key_id:
        fail(401, "UNAUTHORIZED", "Missing API key: send it in the x-api-key header.")
    key = state.key_for(raw, key_id)
    if key is None:
        fail(401, "UNAUTHORIZED", "Invalid API key.")
    return key


def scoped_number(request: web.Request, state: SandboxState, key: ApiKey) -> str | None:
    """The number this request is about, or None for the tenant key acting tenant-wide."""
    if key.number_id is not None:
        return key.number_id  # a number-scoped key ignores the header (SDK README)
    header = request.headers.get(NUMBER_HEADER) or None
    if header is not None and header not in state.numbers:
        fail(404, "NUMBER_NOT_FOUND", f"Number {header} was not found in this tenant.")
    return header


def required_number(request: web.Request, state: SandboxState, key: ApiKey) -> str:
    number_id = scoped_number(request, state, key)
    if number_id is None:
        fail(
            403,
            "TENANT_SCOPE_NOT_ALLOWED",
            f"This endpoint acts on one number: use that number's API key, or send the "
            f"{NUMBER_HEADER} header with the tenant key.",
        )
    return number_id


async def read_object(request: web.Request, *, empty_ok: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        if empty_ok:
            return {}
        fail(400, "VALIDATION_ERROR", "The request body must be a JSON object.")
    try:
        body = json.loads(raw)
    except RecursionError:  # "[[[[..." thousands deep: the parser's stack, not a 500
        fail(400, "VALIDATION_ERROR", "The request body is nested too deeply.")
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        fail(400, "VALIDATION_ERROR", "The request body is not valid JSON.")
    if not isinstance(body, dict):
        fail(400, "VALIDATION_ERROR", "The request body must be a JSON object.")
    return body


def canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@web.middleware
async def json_errors(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPNotFound:
        return ApiError(404, "NOT_FOUND", f"No endpoint {request.method} {request.path}.").response()
    except web.HTTPMethodNotAllowed as exc:
        error = ApiError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}.")
        resp = error.response()
        resp.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return resp
    except web.HTTPRequestEntityTooLarge:
        return ApiError(413, "PAYLOAD_TOO_LARGE", "The request body is too large.").response()
    return response

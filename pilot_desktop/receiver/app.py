"""The webhook receiver: aiohttp routes, cheap checks first, 2xx only after COMMIT.

Checks run in the order of docs/architecture.md step 2: unknown token 404, body over the limit
413, not JSON / not an object / no string `event` 400, bad or missing signature 401 (on
a route some signing secret checks; a route without one stores deliveries unchecked).
Every 4xx carries a JSON `error` and is recorded in the rejections table (within a byte
budget, receiver/limits.py) with its route, number and whether it was a webhook delivery;
a signature refusal also with its diagnosis (core/diagnosis.py), worked out only when the
record is kept. Every refusal, recorded or only counted, also goes to `refusals` (the
in-memory monitor /healthz, serve's console and the window read).

A GET on a hook URL with an `x-pilot-desktop-probe: <nonce>` header is the tunnel probe
(tunnel/probe.py): with the right token it is answered with this receiver's identity and
the nonce, and stored nowhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pilot_desktop.core.events import classify
from pilot_desktop.core.lifecycle import observe
from pilot_desktop.core.protection import NO_PROTECTION, Protection
from pilot_desktop.core.signature import HEADER, verify
from pilot_desktop.core.urls import PROBE_HEADER, PROBE_RECEIVER, UNKNOWN_TOKEN, probe_proof
from pilot_desktop.receiver.connections import BODY_TIMEOUT_S
from pilot_desktop.receiver.diagnose import Why, delivery_of, number_in, refused_health
from pilot_desktop.receiver.encoding import BodyEncodingError, decode, mend_surrogates
from pilot_desktop.receiver.hosts import HostPolicy
from pilot_desktop.receiver.limits import DIAGNOSIS_BYTES, RejectionLog, bounded_rejection
from pilot_desktop.receiver.refusals import WINDOW_S, Refusal, RefusalMonitor
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.records import IncomingEvent, Refused, Rejection
from pilot_desktop.store.repeats import Repeats
from pilot_desktop.store.writer import Overloaded, Writer, WriterClosed

log = logging.getLogger(__name__)
_REPEATS = Repeats()  # a store problem refuses every request: logged once, then counted
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Diagnose = Callable[[], dict[str, Any]]
_HINTS_KEPT = 256  # the last diagnosis's hint per (route, reason), for refusals only counted
_FOREIGN_URL_HINT = (
    "The webhook's URL carries another hook token (another install's?): point it at this "
    "receiver's URL (`pilot-desktop hook-url`)."
)

MAX_BODY = 1024 * 1024
RETRY_AFTER_S = 1

_PROBE_NONCE = re.compile(r"[A-Za-z0-9_-]{8,128}")
# Tells this process's receiver apart from another window's or machine's behind the same URL.
PROCESS_INSTANCE = secrets.token_hex(8)


@dataclass
class ReceiverConfig:
    token: str
    # The signing secrets checking one route (the request's `<route>`, None without one).
    # Called per request, so secrets changed in the settings apply without a restart. None
    # of them for a route: its deliveries are stored unchecked (`unsigned` / `unverified`).
    secrets: Callable[[str | None], Sequence[str]]
    max_body: int = MAX_BODY
    instance: str = PROCESS_INSTANCE
    # The Host values answered (receiver/hosts.py): the listen host and the public URL's.
    host: str = "127.0.0.1"
    public_url: Callable[[], str | None] = lambda: None
    # This machine's names, for a wildcard listener (found off the loop; None: found here).
    machine_names: frozenset[str] | None = None
    # The numbers stored secrets protect on every route; asked per request, after `secrets`.
    protection: Callable[[], Protection] = lambda: NO_PROTECTION


@dataclass
class ReceiverStats:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    overloaded: int = 0
    last_event_at: float | None = None


class _NonStandardJSON(ValueError):
    pass


def _no_constants(name: str) -> float:
    # NaN / Infinity are not JSON; storing them would make exports that strict parsers reject.
    raise _NonStandardJSON(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    # 1e999 is valid JSON syntax but Python reads it as inf: refused like Infinity itself.
    value = float(text)
    if value in (_INF, -_INF):
        raise _NonStandardJSON(f"{text[:40]} is out of range for a JSON number")
    return value


_INF = float("inf")


def _error(status: int, reason: str, **extra: Any) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return web.json_response({"error": reason, **extra}, status=status, headers=headers)


class Receiver:
    """Owns the aiohttp application; the runner/site lifecycle lives in `serve.py`."""

    def __init__(
        self, config: ReceiverConfig, writer: Writer, refusals: RefusalMonitor | None = None
    ) -> None:
        self.config = config
        self.writer = writer
        self.stats = ReceiverStats()
        self.refusals = refusals or RefusalMonitor()  # every refusal, recorded or only counted
        self._hints: dict[tuple[str | None, str], tuple[str, str]] = {}  # -> (hint, verdict)
        self.rejections = RejectionLog(writer)  # bounded per request and per second
        self.hosts = HostPolicy(config.host, config.public_url, config.machine_names)
        self.app = web.Application(client_max_size=config.max_body, middlewares=[self._check_host])
        self.app.router.add_post("/hooks/{token}", self._hook)
        self.app.router.add_post("/hooks/{token}/{route}", self._hook)
        self.app.router.add_get("/hooks/{token}", self._probe, allow_head=False)
        self.app.router.add_get("/hooks/{token}/{route}", self._probe, allow_head=False)
        self.app.router.add_get("/healthz", self._health)
        # Everything else gets a JSON answer and a recorded rejection too: a webhook
        # pointed at a wrong path is exactly what an operator needs to see.
        self.app.router.add_route("*", r"/{tail:[\s\S]*}", self._unrouted)  # [\s\S]: "." misses %0A

    @web.middleware
    async def _check_host(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        # The tunnel probe checks a public URL before it is saved, so its host is not known
        # yet; a browser cannot send the probe header without a CORS preflight, never granted.
        if self.hosts.allows(host) or (request.method == "GET" and PROBE_HEADER in request.headers):
            return await handler(request)
        # 421 Misdirected Request: this server does not answer for that authority (a DNS
        # rebinding page, a wrong proxy); not 403, nothing about permissions was decided.
        shown = (host or "")[:100]
        return await self._reject(
            request,
            421,
            f"this receiver does not answer for Host {shown!r}; if that is your tunnel's address, "
            "set it as the public URL (`pilot-desktop public-url https://...` or the Webhooks tab)",
        )

    def refused(self, status: int, reason: str, remote: str | None) -> None:
        """A request aiohttp's parser refused (no method or path to show): recorded, bounded."""
        record = bounded_rejection(status=status, reason=reason, method="-", path="-", remote=remote)
        self.refusals.record(Refusal(record.received_at, status, record.reason))
        self.rejections.record_soon(record)

    async def _health(self, request: web.Request) -> web.Response:
        storing = self.writer.alive and self.writer.last_error is None
        problem = self.writer.problem  # its reason names no file: anyone may ask /healthz
        recent = self.refusals.summary(WINDOW_S)
        # Refused deliveries make it not ok (the operator's probe must not say healthy), but
        # only a store that cannot write turns the answer 503: tunnels and probes keep working.
        # Stray requests (scanners, wrong paths) count apart and change nothing.
        body = {
            # Not ok while this receiver's own webhooks are refused; another install's URL
            # (a foreign token, anyone can send one) is said in `status`, not in `ok`.
            "ok": storing and not recent.own_deliveries,
            "status": "not storing" if not storing else "refusing deliveries" if recent.deliveries else "ok",
            "writer": "running" if self.writer.alive else "stopped",
            "error": None if storing else (problem.reason if problem else "the store writer is not running"),
            "queue": self.writer.queue_size,
            "accepted": self.stats.accepted,
            "refused": refused_health(recent),
        }
        nonce = request.headers.get(PROBE_HEADER)
        if nonce is not None and _PROBE_NONCE.fullmatch(nonce):  # "do you hold my token?"
            body["proof"] = probe_proof(self.config.token, nonce)
        return web.json_response(body, status=200 if storing else 503)

    async def _unrouted(self, request: web.Request) -> web.Response:
        parts = request.path.strip("/").split("/")
        allowed = "GET" if request.path == "/healthz" else None
        if parts[0] == "hooks" and len(parts) in (2, 3) and all(parts):
            allowed = "POST"
        if allowed and request.method != allowed:
            return await self._reject(
                request, 405, f"method {request.method} not allowed here; use {allowed}"
            )
        return await self._reject(
            request, 404, "no such endpoint; webhooks go to POST /hooks/<token> or /hooks/<token>/<route>"
        )

    def _known_token(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.match_info["token"].encode(), self.config.token.encode())

    async def _probe(self, request: web.Request) -> web.Response:
        nonce = request.headers.get(PROBE_HEADER)
        if nonce is None:
            return await self._unrouted(request)  # a plain GET on a hook URL: 405 as ever
        if not self._known_token(request):
            return await self._reject(request, 404, UNKNOWN_TOKEN)
        if not _PROBE_NONCE.fullmatch(nonce):
            return await self._reject(request, 400, f"{PROBE_HEADER} must be 8 to 128 URL-safe characters")
        body = {"receiver": PROBE_RECEIVER, "instance": self.config.instance, "nonce": nonce}
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def _reject(
        self,
        request: web.Request,
        status: int,
        reason: str,
        body: bytes | None = None,
        body_size: int | None = None,
        *,
        number_id: str | None = None,
        diagnosis: Diagnose | None = None,
    ) -> web.Response:
        """Answer `status`, record the refusal (the monitor always, the table within its
        budget); `diagnosis()` is worked out only when the record is kept."""
        self.stats.rejected += 1
        route, delivery = delivery_of(
            request.method, request.path, request.match_info.get("route"), status, self.config.token
        )
        record = bounded_rejection(
            status=status,
            reason=reason,
            method=request.method,
            path=request.path,
            remote=request.remote,
            headers=request.headers.items(),
            body=body,
            body_size=body_size,
            route=route,
            number_id=route or number_id,  # a managed webhook's route is its number
            delivery=delivery,
        )
        key = (route, record.reason)
        foreign = delivery and reason == UNKNOWN_TOKEN
        said = (_FOREIGN_URL_HINT, "the URL carries another hook token") if foreign else None
        complete = None
        if diagnosis is not None:

            def complete(rec: Rejection) -> Rejection:
                try:
                    found = diagnosis()
                except Exception as exc:  # a diagnosis must never turn the 401 into a 500
                    _REPEATS.log(log, logging.ERROR, "diagnosis", "signature diagnosis failed: %r", exc)
                    return rec
                if len(self._hints) >= _HINTS_KEPT:
                    self._hints.clear()
                self._hints[key] = (found["hint"], found["verdict"])
                return dataclasses.replace(rec, diagnosis=json.dumps(found))

        # Charged for what it hashes: the raw body and its re-serialised forms, many secrets.
        cost = DIAGNOSIS_BYTES + 4 * min(len(body or b""), MAX_BODY) if diagnosis is not None else 0
        fut = self.rejections.submit(record, complete, cost)  # within a byte budget; else counted
        # The hint of this refusal's diagnosis, else of the last one like it (a flood past the
        # budget is not diagnosed one by one).
        hint, verdict = said or self._hints.get(key) or (None, None)
        self.refusals.record(
            Refusal(
                at=record.received_at,
                status=status,
                reason=record.reason,
                route=record.route,
                number_id=record.number_id,
                delivery=delivery,
                hint=hint,
                verdict=verdict,
                own=delivery and not foreign,
            )
        )
        await self.rejections.wait(fut, record)
        return _error(status, reason)

    async def _hook(self, request: web.Request) -> web.Response:
        received_at = time.time()
        if not self._known_token(request):
            return await self._reject(request, 404, UNKNOWN_TOKEN)
        limit = self.config.max_body
        if request.content_length is not None and request.content_length > limit:
            return await self._reject(
                request, 413, f"body over the {limit} byte limit", body_size=request.content_length
            )
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):  # a slow sender holds no connection forever
                body = await request.read()
        except TimeoutError:
            return await self._reject(request, 408, f"body not received within {BODY_TIMEOUT_S:.0f} s")
        except web.HTTPRequestEntityTooLarge:
            return await self._reject(request, 413, f"body over the {limit} byte limit")
        except web.RequestPayloadError as exc:  # e.g. `Content-Encoding: gzip` on a plain body
            reason = " ".join(str(exc).split())
            return await self._reject(request, 400, f"body could not be read: {reason}")
        try:
            body = decode(wire := body, request.headers.get("Content-Encoding", ""), limit)
        except BodyEncodingError as exc:
            return await self._reject(request, exc.status, exc.reason, wire)
        try:
            obj = json.loads(body, parse_constant=_no_constants, parse_float=_finite_float)
        except _NonStandardJSON as exc:
            return await self._reject(request, 400, f"body is not valid JSON: {exc}", body)
        except RecursionError:
            return await self._reject(request, 400, "body is JSON nested too deeply", body)
        except json.JSONDecodeError as exc:
            return await self._reject(request, 400, f"body is not valid JSON: {exc}", body)
        except UnicodeDecodeError:
            return await self._reject(request, 400, "body is not valid UTF-8 JSON", body)
        except ValueError:  # e.g. an integer too long to convert
            return await self._reject(request, 400, "body is not valid JSON (a value is out of range)", body)
        try:
            obj = mend_surrogates(body, obj)
        except RecursionError:
            return await self._reject(request, 400, "body is JSON nested too deeply", body)
        if not isinstance(obj, dict):
            return await self._reject(request, 400, "body is not a JSON object", body)
        if not isinstance(obj.get("event"), str):
            return await self._reject(
                request, 400, "body has no string `event` field", body, number_id=number_in(obj)
            )
        route = request.match_info.get("route")
        secrets = self.config.secrets(route)
        header = request.headers.get(HEADER)
        verdict = verify(body, header, secrets)
        if verdict.status == "invalid" and wire is not body:
            # Signed over the bytes on the wire rather than the decoded JSON: accept either.
            on_wire = verify(wire, header, secrets)
            verdict = on_wire if on_wire.status == "valid" else verdict
        protection = self.config.protection()
        if verdict.status == "invalid":
            why = Why(body, wire, header, obj, route, secrets, protection)
            return await self._reject(
                request, 401, verdict.reason, body, number_id=number_in(obj), diagnosis=why.for_route
            )
        # A secret protects its number on every route (core/protection.py).
        decision = protection.decide(obj, route, verdict, checked=secrets, signed=(body, wire), header=header)
        if decision.refused is not None:
            why = Why(body, wire, header, obj, route, secrets, protection)
            return await self._reject(
                request, 401, decision.refused, body, number_id=number_in(obj), diagnosis=why.for_number
            )
        verdict = decision.verdict
        try:
            classified = classify(obj)
        except RecursionError:
            return await self._reject(request, 400, "body is JSON nested too deeply", body)
        item = IncomingEvent(
            received_at=received_at,
            route=route,
            headers=list(request.headers.items()),
            body=body,
            classified=classified,
            verdict=verdict,
            observation=observe(obj),
            forbid=decision.forbid,
        )
        try:
            stored = await self.writer.submit(item)
        except Overloaded as exc:
            self.stats.overloaded += 1
            return _error(503, f"receiver busy: {exc}; retry later")
        except WriterClosed as exc:
            return _error(503, f"receiver shutting down: {exc}; retry later")
        except StoreError as exc:
            # The details (file, disk) are for the operator's log, once per condition (a full
            # disk refuses every request); the sender gets the reason without any path.
            _REPEATS.log(log, logging.ERROR, exc.reason, "event not stored, answered 503: %s", exc)
            return _error(503, f"the receiver cannot store events right now ({exc.reason}); retry later")
        except asyncio.CancelledError:
            raise
        assert stored is not None and not isinstance(stored, int)
        if isinstance(stored, Refused):  # names a protected number's message (store/guard.py)
            return await self._reject(request, 401, stored.reason, body, number_id=number_in(obj))
        self.stats.accepted += 1
        self.stats.duplicates += stored.duplicate
        self.stats.last_event_at = received_at
        return web.json_response(
            {
                "ok": True,
                "id": stored.id,
                "duplicate": stored.duplicate,
                "deliveries": stored.deliveries,
                "classification": classified.kind,
            }
        )

"""The public-URL probe: does a request sent to the tunnel's public URL reach this app?

`probe()` sends `GET <public>/hooks/<token>/probe` with a fresh nonce in the
`x-pilot-desktop-probe` header. This app's receiver answers it with its identity and the
nonce (receiver/app.py) and stores nothing. Anything else is diagnosed: the code in
`ProbeResult.diagnosis` is for programs, the sentence for the operator — what was reached
and what to do about it.
"""

from __future__ import annotations

import asyncio
import errno
import html
import json
import re
import secrets
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from pilot_desktop.core.format import duration
from pilot_desktop.core.urls import PROBE_HEADER, PROBE_RECEIVER, UNKNOWN_TOKEN
from pilot_desktop.tunnel.public_url import hook_url, normalize_public_url

Diagnosis = Literal[
    "ok",
    "bad_url",
    "dns",
    "refused",
    "tls",
    "timeout",
    "closed",
    "http_status",
    "other_receiver",
    "network",
]

PROBE_ROUTE = "probe"
BODY_READ = 64 * 1024  # of an answer; an error page's first lines are what matters
EXCERPT = 200
# OpenSSL's reasons when the other side answers a TLS hello in plain text (HTTP).
_PLAIN_TEXT_REASONS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL"}
_TUNNEL_NOT_FORWARDING = {404, 502, 503, 504}


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    diagnosis: Diagnosis
    sentence: str
    elapsed_ms: float | None  # until the answer was read; None when no answer came
    status: int | None  # the HTTP status of the answer, if one came


@dataclass
class _Attempt:
    base: str
    host: str
    port: int
    timeout: float
    receiver: str | None
    steps: set[str]

    @property
    def target(self) -> str:
        return f"this app's receiver ({self.receiver})" if self.receiver else "this app's receiver"

    def fail(self, diagnosis: Diagnosis, sentence: str) -> ProbeResult:
        return ProbeResult(False, diagnosis, sentence, None, None)


async def probe(
    public_base: str,
    token: str,
    instance: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - the deadline is part of what the probe reports
    trust_env: bool = True,
    receiver: str | None = None,
) -> ProbeResult:
    """Probe `<public_base>/hooks/<token>/probe` and say whether it reached the receiver
    whose instance id is `instance`, and how long the answer took.

    `trust_env` (default on) lets a proxy from the environment carry the request, as a
    public URL from behind a corporate proxy needs. `receiver` (e.g. "127.0.0.1:8787") is
    named in the advice when the tunnel does not forward to it. Never raises for network
    trouble: every outcome is a ProbeResult.
    """
    try:
        base = normalize_public_url(public_base)
        url = httpx.URL(hook_url(base, token, PROBE_ROUTE))
    except (ValueError, httpx.InvalidURL) as exc:
        return ProbeResult(False, "bad_url", _sentence(str(exc)), None, None)
    port = url.port or (443 if url.scheme == "https" else 80)
    attempt = _Attempt(base, url.host, port, timeout, receiver, set())

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        attempt.steps.add(event)

    nonce = secrets.token_urlsafe(24)
    headers = {PROBE_HEADER: nonce, "cache-control": "no-cache", "user-agent": "pilot-desktop-probe"}
    # Built before the clock starts: making its TLS context costs ~20 ms of CPU, which is
    # not the path's latency.
    client = httpx.AsyncClient(timeout=timeout, trust_env=trust_env, follow_redirects=False)
    started = time.perf_counter()
    try:
        async with (
            asyncio.timeout(timeout),
            client,
            client.stream("GET", url, headers=headers, extensions={"trace": trace}) as resp,
        ):
            body = b""
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) >= BODY_READ:
                    break
    except (TimeoutError, httpx.TimeoutException):
        return _timed_out(attempt)
    except (httpx.HTTPError, OSError) as exc:
        return _failed(attempt, exc)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return _answered(attempt, resp, body[:BODY_READ], nonce=nonce, instance=instance, elapsed_ms=elapsed_ms)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


# -- no answer ----------------------------------------------------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything behind it: causes, contexts, members of exception groups."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        stack.extend(c for c in (e.__cause__, e.__context__) if c is not None)


def _first(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
    return next((e for e in _causes(exc) if isinstance(e, kind)), None)


def _timed_out(a: _Attempt) -> ProbeResult:
    wait = f"{a.timeout:g} s"
    if "connection.connect_tcp.complete" not in a.steps:
        return a.fail(
            "timeout",
            f"No connection to {a.host}:{a.port} within {wait}: the address does not answer "
            "(a firewall dropping packets, or a wrong address). Check the public URL and that "
            "the tunnel is running.",
        )
    if a.base.startswith("https://") and "connection.start_tls.complete" not in a.steps:
        return a.fail(
            "timeout",
            f"Connected to {a.host}:{a.port}, but the TLS handshake did not finish within {wait}: "
            "the tunnel may not speak https on this port.",
        )
    return a.fail(
        "timeout",
        f"The tunnel at {a.base} took the request but no answer came within {wait}: the tunnel "
        f"is up, but {a.target} did not answer through it. Check that the tunnel forwards to "
        "this app's receiver and that the receiver is running.",
    )


def _failed(a: _Attempt, exc: BaseException) -> ProbeResult:
    if isinstance(exc, httpx.ProxyError):
        return a.fail(
            "network",
            f"The HTTP proxy set in the environment (HTTPS_PROXY / HTTP_PROXY) did not pass the "
            f"probe on to {a.host}: {exc}. Check the proxy settings, or add the host to NO_PROXY.",
        )
    if (dns := _first(exc, socket.gaierror)) is not None:
        if dns.errno == socket.EAI_AGAIN:
            return a.fail(
                "dns",
                f"The name {a.host} could not be looked up (DNS): no name server answered. "
                "Check this machine's network connection.",
            )
        return a.fail(
            "dns",
            f"The name {a.host} does not resolve (DNS): check the public URL for typos. A "
            "tunnel's temporary name also stops resolving when the tunnel is stopped.",
        )
    if (cert := _first(exc, ssl.SSLCertVerificationError)) is not None:
        why = cert.verify_message or cert.reason or "verification failed"
        return a.fail(
            "tls",
            f"The TLS certificate of {a.host} is not trusted ({why}): the platform will refuse "
            "it too. Use the tunnel's own https address or a certificate from a public authority.",
        )
    if (tls := _first(exc, ssl.SSLError)) is not None:
        reason = tls.reason or ""
        if reason in _PLAIN_TEXT_REASONS or "wrong version number" in str(tls):
            return a.fail(
                "tls",
                f"The public URL is https://, but {a.host}:{a.port} speaks plain http (no TLS): "
                "use http:// in the public URL, or turn TLS on in the tunnel.",
            )
        if isinstance(tls, ssl.SSLEOFError) or "EOF" in reason:
            return a.fail(
                "tls",
                f"{a.host}:{a.port} closed the connection during the TLS handshake: the tunnel "
                "may not speak https on this port, or it is not ready.",
            )
        return a.fail("tls", f"The TLS handshake with {a.host}:{a.port} failed ({reason or tls}).")
    if _first(exc, ConnectionRefusedError) is not None:
        return a.fail(
            "refused",
            f"Nothing is listening at {a.host}:{a.port} (connection refused): start the "
            "tunnel, or check the host and port in the public URL.",
        )
    unreachable = _first(exc, OSError)
    if unreachable is not None and unreachable.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return a.fail(
            "network",
            f"{a.host} cannot be reached from this machine ({unreachable.strerror}): check the "
            "network connection and the public URL.",
        )
    if _closed(exc):
        return a.fail(
            "closed",
            f"{a.base} accepted the connection and closed it without an answer: the tunnel is "
            f"up but cannot reach the app behind it. Check that it forwards to {a.target} and "
            "that the receiver is running.",
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        return a.fail("network", f"{a.base} answered something that is not HTTP ({exc}).")
    detail = str(exc) or type(exc).__name__
    return a.fail("network", f"The probe to {a.base} failed: {_sentence(detail)}")


def _closed(exc: BaseException) -> bool:
    if isinstance(exc, httpx.RemoteProtocolError) and "without sending" in str(exc):
        return True  # h11: "Server disconnected without sending a response."
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return True
    return _first(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)) is not None


# -- an answer ----------------------------------------------------------------------------


def _json(resp: httpx.Response, body: bytes) -> Any:
    if "json" not in resp.headers.get("content-type", ""):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _excerpt(resp: httpx.Response, body: bytes) -> str:
    """The first ~200 characters of a text answer, as one line; "" for binary or none."""
    kind = resp.headers.get("content-type", "").lower()
    if kind and not kind.startswith("text/") and "json" not in kind and "xml" not in kind:
        return ""
    text = body.decode(resp.charset_encoding or "utf-8", errors="replace")
    if "html" in kind or text.lstrip().startswith("<"):
        text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
        text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _answered(
    a: _Attempt, resp: httpx.Response, body: bytes, *, nonce: str, instance: str, elapsed_ms: float
) -> ProbeResult:
    status = resp.status_code
    data = _json(resp, body)
    mine = isinstance(data, dict) and data.get("receiver") == PROBE_RECEIVER

    def result(diagnosis: Diagnosis, sentence: str) -> ProbeResult:
        return ProbeResult(diagnosis == "ok", diagnosis, sentence, elapsed_ms, status)

    if status == 200 and mine:
        if data.get("instance") != instance:
            return result(
                "other_receiver",
                f"The probe through {a.base} reached a different Pilot Desktop (another window "
                "or machine), not this one: webhooks would land there. Point the tunnel at "
                f"{a.target}, or stop the other one.",
            )
        if data.get("nonce") != nonce:
            return result(
                "other_receiver",
                f"The probe through {a.base} got an old answer of this app back: something "
                "between the tunnel and this app caches answers. Turn caching off for /hooks/.",
            )
        took = duration(elapsed_ms / 1000)
        return result("ok", f"The probe reached this app's receiver through {a.base} in {took}.")
    said = _excerpt(resp, body)
    quoted = f' It said: "{said}"' if said else ""
    if 200 <= status < 300:
        return result(
            "other_receiver",
            f"The probe through {a.base} reached a web server that is not Pilot Desktop (HTTP "
            f"{status}): the tunnel forwards to another program. Point it at {a.target}.{quoted}",
        )
    error = data.get("error") if isinstance(data, dict) else None
    if status == 404 and error == UNKNOWN_TOKEN:
        return result(
            "other_receiver",
            f"The probe through {a.base} reached a Pilot Desktop with another token (another "
            f"window, profile or machine): webhooks would be refused there. Point the tunnel at "
            f"{a.target}.",
        )
    if status == 405 and isinstance(error, str) and error.startswith("method GET not allowed"):
        return result(
            "other_receiver",
            f"The probe through {a.base} reached a Pilot Desktop that does not answer probes "
            f"(an older version, likely another machine). Point the tunnel at {a.target}.",
        )
    if status == 404 and isinstance(error, str) and error.startswith("no such endpoint"):
        return result(
            "http_status",
            f"HTTP 404 from a Pilot Desktop receiver behind {a.base}: the path arrives changed. "
            "The tunnel must pass /hooks/… on unchanged; check the path in the public URL.",
        )
    return result("http_status", _status_sentence(a, status, resp) + quoted)


def _status_sentence(a: _Attempt, status: int, resp: httpx.Response) -> str:
    if 300 <= status < 400:
        where = resp.headers.get("location")
        to = f" to {where}" if where else ""
        return (
            f"{a.base} redirects (HTTP {status}{to}); webhook senders do not follow redirects. "
            "Use the address it redirects to as the public URL."
        )
    if status in (401, 403, 407):
        return (
            f"HTTP {status} from {a.base}: the tunnel or a proxy in front of it refuses the "
            "request (access protection); the platform's webhooks would be refused too. Turn "
            "the protection off for /hooks/."
        )
    if status in _TUNNEL_NOT_FORWARDING:
        return (
            f"HTTP {status} from {a.base}, not from this app: a tunnel answers this when it is up "
            f"but not forwarding to the app. Check that it points at {a.target} and that the "
            "receiver is running."
        )
    if status == 429:
        return f"HTTP 429 from {a.base}: the tunnel is rate-limiting requests; try again later."
    return f"HTTP {status} from {a.base}, not this app's probe answer."

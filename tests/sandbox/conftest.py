"""Fixtures: a running Sandbox on loopback, an httpx client for its API, and a real aiohttp
app as the webhook target that records every delivery and answers as scripted."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from pilot_desktop.sandbox.server import Sandbox

SECRET_PREFIX = "whsec_"


async def wait_for(predicate: Callable[[], Any], within: float = 5.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; return its value. No fixed sleeps in tests."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return str(self.json["event"])


@dataclass
class Target:
    """Webhook receiver: `url(name)` gives a path per webhook; `script[name]` is a list of
    statuses to answer before falling back to 200."""

    base: str = ""
    received: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    script: dict[str, list[int]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"{self.base}/hook/{name}"

    def got(self, name: str, event: str | None = None) -> list[Received]:
        return [r for r in self.received[name] if event is None or r.event == event]

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.received[name].append(Received(request.path, dict(request.headers), await request.read()))
        statuses = self.script.get(name)
        status = statuses.pop(0) if statuses else 200
        return web.json_response({"ok": status < 300}, status=status)


async def serve_target(target: Target, port: int = 0) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/hook/{name}", target.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    target.base = f"http://127.0.0.1:{bound}"
    return runner


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    t = Target()
    runner = await serve_target(t)
    yield t
    await runner.cleanup()


SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
async def make_sandbox() -> AsyncIterator[SandboxFactory]:
    """Factory for sandboxes with test-friendly defaults (quiet traffic, short retries)."""
    started: list[Sandbox] = []

    async def make(**kwargs: Any) -> Sandbox:
        options: dict[str, Any] = {"seed": 7, "numbers": 3, "rate": 0.2, "retry_window": 5.0}
        options.update(kwargs)
        sandbox = Sandbox(**options)
        await sandbox.start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        await sandbox.stop(drain_timeout=0)


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox()


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Client of the sandbox API. Every response body of the test is checked at the end:
    no webhook signing secret may ever appear in one (§2.3)."""
    bodies: list[bytes] = []

    async def keep(response: httpx.Response) -> None:
        bodies.append(await response.aread())

    async with httpx.AsyncClient(
        base_url=sandbox.base_url, timeout=10, event_hooks={"response": [keep]}
    ) as client:
        yield client
    secrets = [h.secret for h in sandbox.state.webhooks.values()]
    for body in bodies:
        assert SECRET_PREFIX.encode() not in body
        assert not any(s.encode() in body for s in secrets)


def auth(key: str, number_id: str | None = None) -> dict[str, str]:
    headers = {"x-api-key": key}
    if number_id is not None:
        headers["x-whatsapp-number-id"] = number_id
    return headers


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    return dict(body)


def body(event: str, number_id: str, marker: str) -> dict[str, Any]:
    """A message event whose ids and text are `marker`: distinct markers, distinct events."""
    data = {
        "numberId": number_id,
        "messageId": marker,
        "id": marker,
        "type": "text",
        "fromMe": False,
        "createdAt": "2025-01-01T00:00:00.000Z",
        "from": "+5511911112222",
        "to": "+5511933334444",
        "content": marker,
    }
    return {"event": event, "data": data}

"""The connection cap closes as many idle connections as newcomers need, and never one that
was answered a moment ago (receiver/connections.py). A real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from pilot_desktop.receiver import connections as conns

IDLE_S = conns.EVICT_MIN_IDLE_S + 0.3


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "0")))
    return web.json_response({"ok": True})


@pytest.fixture
async def cap_server() -> AsyncIterator[tuple[conns.GuardedServer, int]]:
    app = web.Application()
    app.router.add_get("/", _slow)
    runner = conns.GuardedRunner(app, cap=64, refused=lambda *_: None, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=conns.BACKLOG)
    await site.start()
    server = runner.server
    assert isinstance(server, conns.GuardedServer)
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, port
    await runner.cleanup()


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _get(conn: Conn, seconds: float = 0) -> bytes:
    reader, writer = conn
    writer.write(f"GET /?s={seconds} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
    )
    await reader.readexactly(length)
    return head.split(b"\r\n", 1)[0]


async def _until_listed(server: conns.GuardedServer, n: int) -> None:
    for _ in range(500):
        if len(server.connections) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(server.connections)} connections listed, {n} expected")


async def test_a_burst_of_newcomers_closes_about_as_many_idle_connections(
    cap_server: tuple[conns.GuardedServer, int],
) -> None:
    server, port = cap_server
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(server.cap)]
    await _until_listed(server, server.cap)
    await asyncio.sleep(IDLE_S)  # all of them idle long enough to be closed
    newcomers = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(8)))
    answers = await asyncio.gather(*(_get(c) for c in newcomers))
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers
    assert 8 <= server.evicted <= 8 + server.cap // 16, server.evicted
    for _, writer in idle + list(newcomers):
        writer.close()


async def test_a_connection_answered_a_moment_ago_is_not_the_first_closed(
    cap_server: tuple[conns.GuardedServer, int],
) -> None:
    server, port = cap_server
    busy = await asyncio.open_connection("127.0.0.1", port)
    slow = asyncio.ensure_future(_get(busy, IDLE_S))  # its request arrives first, answered last
    others = [await asyncio.open_connection("127.0.0.1", port) for _ in range(server.cap - 1)]
    await _until_listed(server, server.cap)
    assert (await slow).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(0.2)  # the others are now idle > EVICT_MIN_IDLE_S
    newcomer = await asyncio.open_connection("127.0.0.1", port)
    assert (await _get(newcomer)).startswith(b"HTTP/1.1 200")
    assert server.evicted >= 1
    # The keep-alive connection just answered is still open and served.
    assert (await _get(busy)).startswith(b"HTTP/1.1 200")
    for _, writer in [busy, newcomer, *others]:
        writer.close()

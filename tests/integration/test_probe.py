"""The public-URL probe against real receivers, with a local TCP forwarder playing the tunnel.

Every receiver here is a real Runtime (aiohttp on 127.0.0.1, port 0, SQLite in a temporary
data dir); the "tunnel" is an asyncio server piping bytes to a target, or misbehaving the
ways real tunnels do (dropping the connection, never answering, an error page).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Literal

import httpx
import pytest
from aiohttp import web

from pilot_desktop.receiver.app import PROBE_HEADER
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.store import queries
from pilot_desktop.tunnel.probe import ProbeResult, probe
from tests.integration.serving import open_ro

TOKEN = "probe-test-token-0123456789"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")

Mode = Literal["pipe", "silent", "close"]


class Forwarder:
    """A stand-in tunnel on 127.0.0.1: `pipe` copies bytes both ways to `target` (and drops
    the connection when the target refuses, as a tunnel whose app is down does); `silent`
    takes the request and never answers; `close` hangs up at once."""

    def __init__(self, target: tuple[str, int] | None, mode: Mode = "pipe") -> None:
        self.target = target
        self.mode = mode
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> Forwarder:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            if self.mode == "close":
                return
            if self.mode == "silent":
                while await reader.read(65536):
                    pass
                return
            assert self.target is not None
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return
            self._writers.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            writer.close()
            self._tasks.discard(task)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """probe() honours proxy variables by default; these loopback tests must not go through
    whatever proxy the machine running them has (one test sets its own)."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)


@pytest.fixture
async def receivers(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Runtime]]]:
    """Factory of real receivers: `await receivers(token=..., instance=...)`."""
    started: list[Runtime] = []

    async def start(token: str = TOKEN, instance: str | None = None) -> Runtime:
        paths = resolve(tmp_path / f"data{len(started)}")
        runtime = Runtime(paths.data_dir, token, lambda _route: [], host="127.0.0.1", port=0)
        if instance is not None:
            runtime.instance = instance
        started.append(runtime)
        await runtime.open()
        await runtime.listen()
        return runtime

    yield start
    for runtime in started:
        await runtime.stop()


@pytest.fixture
async def runtime(receivers: Callable[..., Awaitable[Runtime]]) -> Runtime:
    return await receivers()


@pytest.fixture
async def tunnels() -> AsyncIterator[Callable[..., Awaitable[Forwarder]]]:
    made: list[Forwarder] = []

    async def make(target: tuple[str, int] | None, mode: Mode = "pipe") -> Forwarder:
        fwd = await Forwarder(target, mode).start()
        made.append(fwd)
        return fwd

    yield make
    for fwd in made:
        await fwd.close()


@pytest.fixture
async def web_app() -> AsyncIterator[Callable[..., Awaitable[tuple[str, int]]]]:
    """Serves a small aiohttp app on loopback (the tunnel's error page, another web server)."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application, tls: ssl.SSLContext | None = None) -> tuple[str, int]:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        runners.append(runner)
        return "127.0.0.1", int(runner.addresses[0][1])

    yield serve
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def address(runtime: Runtime) -> tuple[str, int]:
    assert runtime.bound is not None
    return runtime.bound


def stored(runtime: Runtime) -> tuple[int, int]:
    """(events, rejections) in the runtime's database."""
    assert runtime.db_path is not None
    conn = open_ro(runtime.db_path)
    try:
        return queries.count_events(conn), queries.rejection_count(conn)
    finally:
        conn.close()


def assert_sentence(result: ProbeResult, *needles: str) -> None:
    """The sentence is a whole, specific statement: it names what it says it names."""
    assert result.sentence.strip() and result.sentence.rstrip().endswith((".", '"')), result
    for needle in needles:
        assert needle.lower() in result.sentence.lower(), (needle, result.sentence)


# -- the probe reaches this app ------------------------------------------------------------


async def test_probe_through_the_tunnel_reaches_this_receiver_and_stores_nothing(
    runtime: Runtime, tunnels: Callable[..., Awaitable[Forwarder]]
) -> None:
    tunnel = await tunnels(address(runtime))
    result = await probe(tunnel.url + "/", TOKEN, runtime.instance)

    assert (result.ok, result.diagnosis, result.status) == (True, "ok", 200), result
    assert result.elapsed_ms is not None and result.elapsed_ms > 0
    assert_sentence(result, "this app's receiver", tunnel.url, " ms")
    assert tunnel.connections == 1  # it went through the tunnel, not around it
    assert stored(runtime) == (0, 0)  # neither an event nor a rejection
    assert runtime.receiver is not None and runtime.receiver.stats.accepted == 0

    # The same store does show a real delivery: the check above can see what is stored.
    async with httpx.AsyncClient(trust_env=False) as client:
        r = await client.post(f"{runtime.base_url}/hooks/{TOKEN}/probe", json={"event": "test.x"})
    assert r.status_code == 200, r.text
    assert stored(runtime) == (1, 0)


async def test_probe_uses_the_proxy_from_the_environment(
    runtime: Runtime, tunnels: Callable[..., Awaitable[Forwarder]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name that resolves nowhere: only the proxy (here a forwarder to the receiver, which
    # takes the absolute-form request line) can carry the probe.
    proxy = await tunnels(address(runtime))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    result = await probe("http://pilot-probe-behind-proxy.invalid", TOKEN, runtime.instance)
    assert result.diagnosis == "ok", result
    assert proxy.connections == 1

    direct = await probe("http://pilot-probe-behind-proxy.invalid", TOKEN, runtime.instance, trust_env=False)
    assert direct.diagnosis == "dns", direct


# -- it does not, and the sentence says why ------------------------------------------------


async def test_a_name_that_does_not_resolve_is_dns() -> None:
    result = await probe("https://pilot-probe-test.invalid", TOKEN, "x")
    assert (result.ok, result.diagnosis, result.status, result.elapsed_ms) == (False, "dns", None, None)
    assert_sentence(result, "pilot-probe-test.invalid", "does not resolve")


async def test_nothing_listening_is_refused(closed_port: int) -> None:
    result = await probe(f"http://127.0.0.1:{closed_port}", TOKEN, "x")
    assert (result.ok, result.diagnosis) == (False, "refused"), result
    assert_sentence(result, f"127.0.0.1:{closed_port}", "nothing is listening")


async def test_https_to_a_plain_http_tunnel_is_tls(
    runtime: Runtime, tunnels: Callable[..., Awaitable[Forwarder]]
) -> None:
    tunnel = await tunnels(address(runtime))
    result = await probe(f"https://127.0.0.1:{tunnel.port}", TOKEN, runtime.instance)
    assert (result.ok, result.diagnosis) == (False, "tls"), result
    assert_sentence(result, "https://", "plain http", "http://")
    assert tunnel.connections == 1


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_an_untrusted_certificate_is_tls(
    self_signed: ssl.SSLContext, web_app: Callable[..., Awaitable[tuple[str, int]]]
) -> None:
    app = web.Application()

    async def never_reached(request: web.Request) -> web.Response:
        raise AssertionError("a client that does not trust the certificate sent a request")

    app.router.add_get("/{tail:.*}", never_reached)
    host, port = await web_app(app, self_signed)
    result = await probe(f"https://{host}:{port}", TOKEN, "x")
    assert (result.ok, result.diagnosis, result.status) == (False, "tls", None), result
    assert_sentence(result, "certificate", "not trusted", "self-signed")


async def test_a_tunnel_that_never_answers_is_timeout(tunnels: Callable[..., Awaitable[Forwarder]]) -> None:
    tunnel = await tunnels(None, "silent")
    started = time.monotonic()
    result = await probe(tunnel.url, TOKEN, "x", timeout=0.5)
    took = time.monotonic() - started
    assert (result.ok, result.diagnosis) == (False, "timeout"), result
    assert 0.4 < took < 5, took
    assert_sentence(result, "0.5 s", "no answer", tunnel.url)


@pytest.mark.parametrize("how", ["hangs up", "app down"])
async def test_a_tunnel_that_drops_the_connection_is_closed(
    how: str, tunnels: Callable[..., Awaitable[Forwarder]], closed_port: int
) -> None:
    if how == "hangs up":
        tunnel = await tunnels(None, "close")
    else:  # the tunnel is up, the app behind it is not: the tunnel drops each connection
        tunnel = await tunnels(("127.0.0.1", closed_port))
    result = await probe(tunnel.url, TOKEN, "x")
    assert (result.ok, result.diagnosis) == (False, "closed"), result
    assert_sentence(result, tunnel.url, "closed it without an answer", "receiver is running")
    assert tunnel.connections >= 1


async def test_a_tunnel_error_page_is_http_status_with_its_text(
    tunnels: Callable[..., Awaitable[Forwarder]],
    web_app: Callable[..., Awaitable[tuple[str, int]]],
) -> None:
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{color:red}</style>"
        "</head><body><h1>Bad gateway</h1><p>The tunnel agent could not reach "
        "localhost:8787 &amp; gave up.</p></body></html>"
    )

    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text=page, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", bad_gateway)
    tunnel = await tunnels(await web_app(app))
    result = await probe(tunnel.url, TOKEN, "x", receiver="127.0.0.1:8787")
    assert (result.ok, result.diagnosis, result.status) == (False, "http_status", 502), result
    assert result.elapsed_ms is not None and result.elapsed_ms > 0
    assert_sentence(
        result, "HTTP 502", "not forwarding", "127.0.0.1:8787", "could not reach localhost:8787 & gave up"
    )
    assert "<" not in result.sentence and "color:red" not in result.sentence


async def test_another_pilot_desktop_with_the_same_token_is_other_receiver(
    runtime: Runtime,
    receivers: Callable[..., Awaitable[Runtime]],
    tunnels: Callable[..., Awaitable[Forwarder]],
) -> None:
    other = await receivers(token=TOKEN, instance="another-window-0001")
    assert other.instance != runtime.instance
    tunnel = await tunnels(address(other))
    result = await probe(tunnel.url, TOKEN, runtime.instance)
    assert (result.ok, result.diagnosis, result.status) == (False, "other_receiver", 200), result
    assert_sentence(result, "different Pilot Desktop", "another window or machine")
    # The same tunnel is "ok" for the app it does forward to.
    assert (await probe(tunnel.url, TOKEN, other.instance)).diagnosis == "ok"


async def test_another_pilot_desktop_with_another_token_is_other_receiver(
    runtime: Runtime,
    receivers: Callable[..., Awaitable[Runtime]],
    tunnels: Callable[..., Awaitable[Forwarder]],
) -> None:
    other = await receivers(token="someone-elses-token-0123456789")
    tunnel = await tunnels(address(other))
    result = await probe(tunnel.url, TOKEN, runtime.instance)
    assert (result.ok, result.diagnosis, result.status) == (False, "other_receiver", 404), result
    assert_sentence(result, "Pilot Desktop with another token")


async def test_a_web_server_that_is_not_pilot_desktop_is_other_receiver(
    tunnels: Callable[..., Awaitable[Forwarder]],
    web_app: Callable[..., Awaitable[tuple[str, int]]],
) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="Hello from the dev server")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    tunnel = await tunnels(await web_app(app))
    result = await probe(tunnel.url, TOKEN, "x")
    assert (result.ok, result.diagnosis, result.status) == (False, "other_receiver", 200), result
    assert_sentence(result, "not Pilot Desktop", "Hello from the dev server")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "empty"),
        ("name.example.com", "must start with https:// or http://"),
        ("ftp://name.example.com", "must start with https:// or http://"),
        ("https://name.example.com/?x=1", "query"),
    ],
)
async def test_an_unusable_public_url_is_bad_url(url: str, says: str) -> None:
    result = await probe(url, TOKEN, "x")
    assert (result.ok, result.diagnosis, result.status, result.elapsed_ms) == (False, "bad_url", None, None)
    assert_sentence(result, says)


# -- the receiver's side of the probe -------------------------------------------------------


async def test_receiver_answers_a_probe_on_both_hook_paths_and_records_nothing(runtime: Runtime) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        for path in (f"/hooks/{TOKEN}", f"/hooks/{TOKEN}/orders"):
            r = await client.get(runtime.base_url + path, headers={PROBE_HEADER: "nonce-1234"})
            assert r.status_code == 200, r.text
            assert r.json() == {
                "receiver": "pilot-desktop",
                "instance": runtime.instance,
                "nonce": "nonce-1234",
            }
            assert "no-store" in r.headers["cache-control"]
    assert stored(runtime) == (0, 0)


async def test_receiver_get_without_the_probe_header_is_still_405_and_recorded(runtime: Runtime) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        r = await client.get(f"{runtime.base_url}/hooks/{TOKEN}/probe")
    assert r.status_code == 405, r.text
    assert r.json()["error"] == "method GET not allowed here; use POST"
    assert stored(runtime) == (0, 1)


@pytest.mark.parametrize(
    ("token", "nonce", "status", "error"),
    [
        ("wrong-token-0123456789", "nonce-1234", 404, "unknown hook token"),
        (TOKEN, "short", 400, f"{PROBE_HEADER} must be 8 to 128 URL-safe characters"),
        (TOKEN, "not url safe!", 400, f"{PROBE_HEADER} must be 8 to 128 URL-safe characters"),
    ],
)
async def test_receiver_refuses_a_probe_with_a_wrong_token_or_nonce(
    runtime: Runtime, token: str, nonce: str, status: int, error: str
) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        r = await client.get(f"{runtime.base_url}/hooks/{token}/probe", headers={PROBE_HEADER: nonce})
    assert (r.status_code, r.json()) == (status, {"error": error})
    assert stored(runtime) == (0, 1)

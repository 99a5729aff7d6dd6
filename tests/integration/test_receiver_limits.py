"""Issue 14, classes 2-4: refused traffic does not amplify, connections are a resource, a
browser on this machine is not a client. Real `serve` processes on loopback."""

from __future__ import annotations

import asyncio
import fcntl
import json
import selectors
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from pilot_desktop.core.events import classify
from pilot_desktop.core.signature import verify
from pilot_desktop.store.db import open_store
from pilot_desktop.store.records import IncomingEvent, Rejection
from pilot_desktop.store.writer import Overloaded, Writer
from tests.integration import serving
from tests.integration.serving import Server, cli, open_ro

# What the receiver promises (receiver/limits.py, receiver/connections.py), restated here.
RATE = 256 * 1024
BURST = 4 * 1024 * 1024
HEADERS_KEPT = 4096
BODY_KEPT = 4096
IDLE_TIMEOUT_S = 15.0

_n = iter(range(10**9))


def good_event() -> bytes:
    return json.dumps({"event": "test.probe", "data": {"n": next(_n)}}).encode()


def json_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    reason = r.json()["error"]
    assert isinstance(reason, str)
    assert reason.strip()
    return reason


def rejection_rows(server: Server, after: int = 0) -> list[sqlite3.Row]:
    conn = open_ro(server.db)
    try:
        return conn.execute(
            "SELECT id, status, reason, path, headers, body, body_size FROM rejections "
            "WHERE id > ? ORDER BY id",
            (after,),
        ).fetchall()
    finally:
        conn.close()


def wait_until(what: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


# -- class 2: rejected requests are recorded within bounds --------------------------------


def _rejected_request(client: httpx.Client, server: Server, token: str = "not-the-token-0123456789") -> None:
    headers = [(f"x-junk-{i}", "h" * 1000) for i in range(20)]  # 20 KB of headers
    client.post(server.hook(token=token), content=b"b" * 20_000, headers=headers)


def test_refused_requests_are_recorded_within_bytes_per_request_and_in_total(server: Server) -> None:
    with httpx.Client(timeout=30) as client:
        before = server.last_rejection_id()
        _rejected_request(client, server, server.token)  # not JSON: a 400 that keeps the body
        [row] = rejection_rows(server, before)
    # One request: bounded headers and body, with a note of what was cut.
    headers = json.loads(row["headers"])
    assert len(row["headers"]) <= HEADERS_KEPT + 1024, len(row["headers"])
    assert len(row["body"]) <= BODY_KEPT
    assert row["body_size"] == 20_000
    notes = [v for k, v in headers if k == "x-pilot-desktop-cut"]
    assert any("header" in n for n in notes), headers[-3:]
    assert any("body cut" in n for n in notes), headers[-3:]

    # A flood without the token: the records stay within the budget, a summary counts
    # the rest, and a normal client is served meanwhile.
    start_id = server.last_rejection_id()
    stop = threading.Event()
    sent = [0] * 6

    def flood(i: int) -> None:
        with httpx.Client(timeout=30) as c:
            while not stop.is_set():
                _rejected_request(c, server)
                sent[i] += 1

    def summary_written() -> bool:
        return any("not recorded" in r["reason"] for r in rejection_rows(server, start_id))

    threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(6)]
    began = time.monotonic()
    for t in threads:
        t.start()
    normal: list[int] = []
    try:
        with httpx.Client(timeout=30) as c:
            deadline = time.monotonic() + 60
            while not summary_written() and time.monotonic() < deadline:
                normal.append(server.post(good_event(), client=c).status_code)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    elapsed = time.monotonic() - began
    assert summary_written(), f"{sum(sent)} refused requests and no summary of the unrecorded ones"
    assert normal and set(normal) == {200}, normal
    # Let the last summary land, then weigh what the flood left in the table.
    assert server.proc.poll() is None, server.output()
    time.sleep(2)
    rows = rejection_rows(server, start_id)
    stored = sum(len(r["headers"] or "") + len(r["body"] or b"") for r in rows)
    assert stored <= BURST + RATE * (elapsed + 3), (stored, elapsed, len(rows), sum(sent))
    # Not every refusal has a row of its own (on a slow machine the flood may pass the burst
    # by one request only: one counted, plus its summary row), and every one is accounted for.
    individual = sum("not recorded" not in r["reason"] for r in rows)
    counted = sum(int(r["reason"].split()[0]) for r in rows if "not recorded" in r["reason"])
    assert individual < sum(sent) and counted >= 1, (individual, counted, sum(sent))
    assert counted + individual == sum(sent)


async def test_the_write_queue_bound_counts_headers(tmp_path: Path) -> None:
    db = open_store(tmp_path / "store")
    writer = Writer(db, asyncio.get_running_loop(), max_bytes=1024 * 1024, process=False)
    writer.start()
    try:
        big = [(f"x-h{i}", "v" * 8000) for i in range(200)]  # 1.6 MB of headers, tiny body
        rejection = Rejection(time.time(), 404, "r", "POST", "/x", None, big, b"", 0)
        with pytest.raises(Overloaded):
            writer.submit(rejection)
        body = b'{"event":"test.probe"}'
        obj = json.loads(body)
        event = IncomingEvent(time.time(), None, big, body, classify(obj), verify(body, None, []))
        with pytest.raises(Overloaded):
            writer.submit(event)
    finally:
        await writer.stop()


# -- class 3: connections ------------------------------------------------------------------


@pytest.fixture
def serve_at_1024(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """serve with a soft and hard open-file limit of 1024 (it cannot raise it)."""
    wrapper = tmp_path / "pilot-desktop-1024"
    wrapper.write_text(f'#!/bin/sh\nexec prlimit --nofile=1024:1024 -- "{serving.BIN}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(serving, "BIN", wrapper)
    pool = serving.ServerPool(tmp_path)
    yield pool.start()
    problems = pool.close()
    assert not problems, "\n\n".join(problems)


def test_two_thousand_idle_connections_at_a_1024_file_limit_stop_no_one(serve_at_1024: Server) -> None:
    server = serve_at_1024
    limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
    assert any(line.startswith("Max open files") and "1024" in line for line in limits.splitlines())
    port = int(server.base.rsplit(":", 1)[1])
    idle: list[socket.socket] = []
    try:
        for _ in range(2000):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            for _ in range(20):
                r = server.post(good_event(), client=client)
                assert r.status_code == 200, r.text
        # Over the cap, the longest-idle connections were closed (the server saw EOF-able FDs).
        with selectors.DefaultSelector() as sel:
            for s in idle:
                sel.register(s, selectors.EVENT_READ)
            closed = len(sel.select(timeout=1))
        assert closed >= 2000 - 1024, closed
    finally:
        for s in idle:
            s.close()
    assert "Traceback" not in server.stderr(), server.stderr()[-3000:]


def test_idle_and_slow_header_connections_are_closed(server: Server) -> None:
    port = int(server.base.rsplit(":", 1)[1])
    idle = socket.create_connection(("127.0.0.1", port), timeout=IDLE_TIMEOUT_S + 10)
    slow = socket.create_connection(("127.0.0.1", port), timeout=1)
    began = time.monotonic()
    try:
        closed_slow = None
        request = b"POST /hooks/x HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"x-slow: " + b"a" * 1000
        for byte in request:  # a byte a second: never a complete request head
            if time.monotonic() - began > IDLE_TIMEOUT_S + 10:
                break
            try:
                slow.sendall(bytes([byte]))
                if slow.recv(1024) == b"":
                    closed_slow = time.monotonic() - began
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_slow = time.monotonic() - began
                break
        assert closed_slow is not None and closed_slow <= IDLE_TIMEOUT_S + 5, closed_slow
        assert idle.recv(1024) == b""  # closed by the server, within the socket's timeout
        assert time.monotonic() - began <= IDLE_TIMEOUT_S + 10
    finally:
        idle.close()
        slow.close()


def _raw(server: Server, request: bytes) -> tuple[int, dict[str, str], bytes]:
    port = int(server.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


PARSER_REFUSALS = {
    "header-line-too-long": b"POST /hooks/x HTTP/1.1\r\nHost: 127.0.0.1\r\nx-long: "
    + b"a" * 20_000
    + b"\r\n\r\n",
    "too-many-headers": b"POST /hooks/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    + b"".join(b"x-h%d: v\r\n" % i for i in range(300))
    + b"\r\n",
    "bad-request-line": b"THIS IS NOT HTTP\r\n\r\n",
    "request-line-too-long": b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
}


@pytest.mark.parametrize("kind", PARSER_REFUSALS)
def test_parser_refusals_get_a_json_error_and_are_recorded(server: Server, kind: str) -> None:
    before = server.last_rejection_id()
    status, headers, body = _raw(server, PARSER_REFUSALS[kind])
    assert 400 <= status < 500, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    reason = json.loads(body)["error"]
    assert isinstance(reason, str) and reason.strip()
    wait_until(lambda: len(rejection_rows(server, before)) == 1, 10, "the refusal was not recorded")
    [row] = rejection_rows(server, before)
    assert row["status"] == status
    assert len(row["reason"]) <= 1024
    ok = server.post(good_event())
    assert ok.status_code == 200
    assert "Traceback" not in server.stderr(), server.stderr()[-3000:]


# -- class 4: Host -------------------------------------------------------------------------


def test_unexpected_host_is_refused_and_the_public_url_host_follows_the_settings(server: Server) -> None:
    port = server.base.rsplit(":", 1)[1]
    with httpx.Client(timeout=30) as client:
        for host in ("127.0.0.1", f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "app.localhost"):
            r = server.post(good_event(), client=client, headers={"Host": host})
            assert r.status_code == 200, (host, r.text)
        before = server.last_rejection_id()
        for host in (f"evil.example:{port}", "attacker.test", f"tunnel.example.com:{port}"):
            reason = json_error(server.post(good_event(), client=client, headers={"Host": host}), 421)
            assert "Host" in reason
            health = client.get(f"{server.base}/healthz", headers={"Host": host})
            json_error(health, 421)
        rows = rejection_rows(server, before)
        assert [r["status"] for r in rows] == [421] * 6

        # The tunnel probe checks a public URL before it is saved: its host is not known yet.
        probe_headers = {"Host": "not-saved-yet.example", "x-pilot-desktop-probe": "nonce-12345"}
        r = client.get(server.hook(route="probe"), headers=probe_headers)
        assert r.status_code == 200 and r.json()["nonce"] == "nonce-12345", r.text

        res = cli("public-url", "https://tunnel.example.com", "--data-dir", server.data_dir)
        assert res.returncode == 0, res.stderr

        def public_host_accepted() -> bool:
            r = server.post(good_event(), client=client, headers={"Host": "tunnel.example.com"})
            return r.status_code == 200

        wait_until(public_host_accepted, 15, "the public URL's host was not accepted after the change")
        json_error(server.post(good_event(), client=client, headers={"Host": "evil.example"}), 421)
        # The tunnel moved: its old host is refused again.
        res = cli("public-url", "https://moved.example.net", "--data-dir", server.data_dir)
        assert res.returncode == 0, res.stderr
        wait_until(lambda: not public_host_accepted(), 15, "the old public host is still accepted")


def _interface_addresses() -> list[str]:
    """This machine's global IPv4 addresses, read from the kernel (SIOCGIFADDR)."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                raw = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            address = socket.inet_ntoa(raw[20:24])
            if not address.startswith("127."):
                found.append(address)
    return found


def test_all_interfaces_prints_the_real_addresses(serve: Callable[..., Server]) -> None:
    server = serve("--host", "0.0.0.0")
    port = server.base.rsplit(":", 1)[1]
    expected = _interface_addresses()
    assert expected, "this machine has no non-loopback IPv4 address to check with"
    server.wait_for_line("Also listening: ", 10)  # printed just after "Listening: ", read by a thread
    lines = list(server.lines)
    also = [line.split(" ", 2)[2] for line in lines if line.startswith("Also listening: ")]
    for address in expected:
        url = f"http://{address}:{port}/hooks/{server.token}"
        assert url in also, (url, lines)
        r = httpx.get(f"http://{address}:{port}/healthz", timeout=10)
        assert r.status_code == 200, r.text
    assert not any("0.0.0.0" in line for line in lines), lines
    log = (server.data_dir / "logs" / "pilot-desktop.log").read_text(encoding="utf-8")
    assert not any("0.0.0.0" in line for line in log.splitlines() if "listening" in line), log
    for address in expected:
        assert f"http://{address}:{port}/hooks/<token>" in log, log


def test_refusals_log_nothing_per_request_when_the_store_cannot_write(serve: Callable[..., Server]) -> None:
    server = serve()
    assert server.post(good_event()).status_code == 200
    Path(f"{server.db}-wal").unlink()  # the store stops acknowledging (store/integrity.py)
    wait_until(lambda: server.post(good_event()).status_code == 503, 15, "the damage was not noticed")
    server.wait_for_line("Not storing: ", 15)
    logged = server.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()
    with httpx.Client(timeout=10) as client:
        for i in range(20):
            _rejected_request(client, server, token=f"not-the-token-{i:020d}")
            r = client.get(f"{server.base}/healthz", headers={"Host": "evil.example"})
            json_error(r, 421)
    # Each refusal was answered at once; the store's condition was said once, not per request.
    assert server.post(good_event()).status_code == 503
    after = server.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()[len(logged) :]
    assert not [line for line in after if "reject" in line or str(server.db) in line], after
    assert len(after) <= 2, after
    assert server.stop() == 0


def test_all_ipv6_interfaces_prints_only_addresses_that_answer(serve: Callable[..., Server]) -> None:
    server = serve("--host", "::")
    listening = next(line for line in server.lines if line.startswith("Listening: "))
    base = listening.split(" ", 1)[1].rsplit("/hooks/", 1)[0]
    also = [line.split(" ", 2)[2].rsplit("/hooks/", 1)[0] for line in server.lines if line.startswith("Also")]
    assert base.startswith("http://[::1]:"), server.lines
    for url in [base, *also]:  # each one printed is one a client can use
        r = httpx.get(f"{url}/healthz", timeout=10)
        assert r.status_code == 200, (url, r.text)
    assert server.stop() == 0

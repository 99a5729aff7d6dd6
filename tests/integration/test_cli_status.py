"""`pilot-desktop status [--json]` against real `serve` processes: healthy (the public URL is
the receiver's own loopback address, so the probes through it succeed), unreachable (a public
URL on a closed port), stopped; a missing or damaged store is reported, never created or
written; the hook token never goes to whatever answers on the receiver's port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.serving import DB_NAME, Server, cli, token_of
from tests.integration.watch_support import FORWARD_TEMPLATE

WAIT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def status(data_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    res = cli("status", "--json", "--data-dir", data_dir, *args)
    assert res.returncode in (0, 1), res.stderr
    return res.returncode, json.loads(res.stdout)


def wait_status(
    data_dir: Path, port: int, done: Callable[[dict[str, Any]], bool]
) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + WAIT_S
    while True:
        rc, doc = status(data_dir, "--port", str(port))
        if done(doc) or time.monotonic() > deadline:
            return rc, doc
        time.sleep(0.5)


def profile(data_dir: Path, public_url: str) -> None:
    """A manual public URL probed every 5 s (the shortest the settings allow)."""
    for args in (("tunnel", "set", "manual", "--probe-interval", "5"), ("public-url", public_url)):
        res = cli(*args, "--data-dir", data_dir)
        assert res.returncode == 0, res.stderr


def test_healthy_serve_exits_0_and_a_stopped_one_1(tmp_path: Path, serve: Callable[..., Server]) -> None:
    data, port = tmp_path / "data", free_port()
    profile(data, f"http://127.0.0.1:{port}")
    server = serve(data_dir=data, port=port)
    rc, doc = wait_status(data, port, lambda d: d["reachability"]["state"] == "reachable")
    assert rc == 0, doc["problems"]
    assert doc["healthy"] is True and doc["problems"] == []
    rec = doc["receiver"]
    assert rec["address"] == f"http://127.0.0.1:{port}"
    assert (rec["running"], rec["answering"], rec["thisProfile"], rec["storing"]) == (True, True, True, True)
    assert rec["pid"] == server.proc.pid and rec["healthStatus"] == "ok"
    assert doc["tunnel"]["mode"] == "manual" and doc["tunnel"]["publicUrl"] == f"http://127.0.0.1:{port}"
    last = doc["reachability"]["lastProbe"]
    assert last["ok"] is True and last["diagnosis"] == "ok" and last["latencyMs"] > 0
    assert last["at"].endswith("Z") and abs(last["atEpoch"] - time.time()) < 60
    assert doc["drift"] == {"open": 0, "findings": []} and doc["alerts"] == []

    human = cli("status", "--data-dir", data, "--port", str(port))
    assert human.returncode == 0 and "Healthy." in human.stdout and "Reachable" in human.stdout

    assert server.stop() == 0
    rc, doc = status(data, "--port", str(port))
    assert rc == 1 and doc["healthy"] is False
    assert doc["receiver"]["running"] is False and doc["receiver"]["answering"] is False
    assert doc["reachability"]["state"] == "not_checked"  # nothing probes a stopped receiver
    assert any("Pilot Desktop was stopped" in p for p in doc["problems"])


def test_a_serve_tunnel_override_is_the_tunnel_status_and_the_alerts_follow(
    tmp_path: Path, serve: Callable[..., Server], closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings on a manual URL (a closed port), `serve --tunnel command` for this run: the
    tunnel actually running is the one judged, not the settings' mode."""
    monkeypatch.setenv("PILOT_DESKTOP_TUNNEL_ALLOW_LOCAL", "1")  # the stand-in's URL is on loopback
    data, port = tmp_path / "data", free_port()
    profile(data, f"http://127.0.0.1:{closed_port}")
    server = serve("--tunnel", "command", "--tunnel-command", FORWARD_TEMPLATE, data_dir=data, port=port)
    url = server.wait_for_line("New public URL: ", WAIT_S).split(": ", 1)[1].strip()
    rc, doc = wait_status(data, port, lambda d: d["reachability"]["state"] == "reachable")
    assert rc == 0 and doc["healthy"] is True, doc["problems"]
    assert doc["tunnel"]["mode"] == "command" and doc["tunnel"]["state"] == "up"
    assert doc["tunnel"]["publicUrl"] == url and doc["reachability"]["publicUrl"] == url
    assert doc["reachability"]["lastProbe"]["publicUrl"] == url and doc["alerts"] == []


def test_unreachable_public_url_exits_1_with_the_alert(
    tmp_path: Path, serve: Callable[..., Server], closed_port: int
) -> None:
    data, port = tmp_path / "data", free_port()
    profile(data, f"http://127.0.0.1:{closed_port}")
    serve(data_dir=data, port=port)
    rc, doc = wait_status(data, port, lambda d: d["reachability"]["state"] == "unreachable")
    assert rc == 1 and doc["healthy"] is False
    assert doc["receiver"]["running"] is True and doc["receiver"]["storing"] is True  # the rest is fine
    reach = doc["reachability"]
    assert reach["failures"] >= 2 and reach["lastProbe"]["ok"] is False
    assert reach["lastProbe"]["diagnosis"] == "refused"
    [alert] = doc["alerts"]
    assert alert["kind"] == "unreachable" and alert["sinceEpoch"] == reach["sinceEpoch"]
    assert any(p.startswith("Unreachable through") for p in doc["problems"])
    human = cli("status", "--data-dir", data, "--port", str(port))
    assert human.returncode == 1 and "Unreachable" in human.stdout and "Not healthy:" in human.stdout


def test_a_missing_or_damaged_store_is_reported_and_left_as_it_is(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, doc = status(empty)
    assert rc == 1 and doc["store"]["ok"] is False and "No database" in doc["store"]["error"]
    assert list(empty.iterdir()) == []  # nothing created: no database, no settings

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    junk = b"this is not a database" * 100
    (damaged / DB_NAME).write_bytes(junk)
    rc, doc = status(damaged)
    assert rc == 1 and doc["store"]["ok"] is False and doc["store"]["error"]
    assert (damaged / DB_NAME).read_bytes() == junk
    assert sorted(p.name for p in damaged.iterdir()) == [DB_NAME]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for args in (("--port", "0"), ("--port", "70000"), ("--timeout", "0")):
        res = cli("status", "--data-dir", tmp_path, *args)
        assert res.returncode == 2, (args, res.stderr)
        assert f"{args[0]} must be" in res.stderr, res.stderr  # the option named, with its bounds
    assert list(tmp_path.iterdir()) == []


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []  # what reached it (one test uses it)

    def do_GET(self) -> None:
        self.seen.append(f"{self.requestline}\n{self.headers}")
        body = json.dumps({"ok": True, "status": "ok"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_status_never_sends_the_token_and_knows_another_program_is_not_its_receiver(
    tmp_path: Path, serve: Callable[..., Server]
) -> None:
    data = tmp_path / "data"
    server = serve(data_dir=data)  # makes the profile (its token) and the store
    server.stop()
    token = token_of(data)
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        rc, doc = status(data, "--port", str(http.server_address[1]))
    finally:
        http.shutdown()
        http.server_close()
    assert _Recorder.seen and all(token not in seen for seen in _Recorder.seen)
    assert rc == 1 and doc["receiver"]["answering"] is True and doc["receiver"]["thisProfile"] is False
    assert doc["receiver"]["storing"] is None
    assert any("No receiver of this data folder answers" in p for p in doc["problems"])


def test_an_open_gap_is_named_and_unhealthy(tmp_path: Path, serve: Callable[..., Server]) -> None:
    """A tunnel that cannot start means nothing reaches this app: `status` names the open
    gap (kind, since, why) and exits 1."""
    data, port = tmp_path / "data", free_port()
    serve("--tunnel-command", "no-such-tunnel-program --to 127.0.0.1:{port}", data_dir=data, port=port)
    rc, doc = wait_status(data, port, lambda d: bool(d["gaps"]["open"]))
    assert rc == 1 and doc["healthy"] is False
    [gap] = doc["gaps"]["open"]
    assert gap["kind"] == "tunnel" and "not installed" in gap["reason"] and gap["since"].endswith("Z")
    assert any(p.startswith("Not receiving since") and "not installed" in p for p in doc["problems"])

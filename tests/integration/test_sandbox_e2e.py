"""End to end: `pilot-desktop sandbox` delivering to `pilot-desktop serve`, both real processes.

The sandbox injects duplicates and reordering, and the receiver starts only after the
webhooks exist, so the first deliveries meet a closed port and must arrive through the
sandbox's retries. Then: every delivery the sandbox logged as SUCCESS is in the store
exactly once, and the store holds nothing the sandbox did not send.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilot_desktop.core.events import canonical_hash
from tests.integration.serving import BIN, Server, cli_env


class SandboxProcess:
    def __init__(self, *args: str) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [str(BIN), "sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cli_env(),
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        first = self.wait_for(r"^Pilot Status sandbox at (\S+)")
        self.base = first.group(1)
        self.keys = {
            m.group(1): m.group(2)
            for line in self.wait_lines(3, r"^  (num_\S+) .* (ps_live_\w+)$")
            if (m := re.match(r"^  (num_\S+) .* (ps_live_\w+)$", line))
        }

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_lines(self, count: int, pattern: str, timeout: float = 20) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(found := [ln for ln in self.lines if re.match(pattern, ln)]) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"sandbox never printed {count} x {pattern!r}:\n" + "\n".join(self.lines)
                self._cond.wait(left)
            return found

    def wait_for(self, pattern: str) -> re.Match[str]:
        line = self.wait_lines(1, pattern)[-1]
        match = re.match(pattern, line)
        assert match
        return match

    def secret(self, webhook_id: str) -> str:
        return self.wait_for(rf"^Webhook {webhook_id} \(.*\) signing secret: (\S+)$").group(1)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture
def sandbox() -> Iterator[Callable[..., SandboxProcess]]:
    started: list[SandboxProcess] = []

    def start(*args: str) -> SandboxProcess:
        started.append(SandboxProcess(*args))
        return started[-1]

    yield start
    for s in started:
        assert s.stop() == 0, "\n".join(s.lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def logs(client: httpx.Client, key: str, webhook_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/webhooks/{webhook_id}/logs", params={"limit": 50}, headers={"x-api-key": key})
    r.raise_for_status()
    entries: list[dict[str, Any]] = r.json()
    return entries


def test_every_successful_delivery_is_stored_exactly_once(
    sandbox: Callable[..., SandboxProcess], serve: Callable[..., Server], tmp_path: Path
) -> None:
    sb = sandbox(
        "--seed", "11", "--rate", "4", "--duplicates", "0.2", "--reorder", "0.5", "--retry-window", "30"
    )
    port = free_port()
    hook_base = f"http://127.0.0.1:{port}/hooks/"
    with httpx.Client(base_url=sb.base, timeout=10) as api:
        # Webhooks first, pointing at a port where nothing listens yet: the receiver is "down".
        token = "e2e-token-0123456789abcdef"
        webhooks: dict[str, str] = {}
        for key in sb.keys.values():
            r = api.post(
                "/v1/webhooks",
                headers={"x-api-key": key},
                json={"url": f"{hook_base}{token}/sandbox", "events": ["*"]},
            )
            assert r.status_code == 201, r.text
            webhooks[r.json()["id"]] = key
            assert "secret" not in r.text
        secrets = [sb.secret(wid) for wid in webhooks]
        time.sleep(2.5)  # deliveries fail meanwhile (connection refused) and get retried
        server = _serve_with_token(serve, tmp_path / "receiver", port, token, secrets)
        time.sleep(6)  # traffic, duplicates, reordering, retries reaching the receiver

        for wid, key in webhooks.items():  # pause: no new deliveries, pending retries dropped
            assert api.patch(
                f"/v1/webhooks/{wid}", headers={"x-api-key": key}, json={"active": False}
            ).is_success
        time.sleep(1.5)  # attempts in flight finish and are logged
        per_webhook = [logs(api, key, wid) for wid, key in webhooks.items()]
    # The platform keeps the last 50 attempts per webhook; the run stays under that, so the
    # logs below are the complete record of what the sandbox sent.
    assert all(len(entries) < 50 for entries in per_webhook)
    attempts = [entry for entries in per_webhook for entry in entries]

    stored = server.export()
    stored_hashes = [canonical_hash(rec["payload"]) for rec in stored]
    assert len(stored_hashes) == len(set(stored_hashes)), "an event was stored twice"
    success = {canonical_hash(a["payload"]) for a in attempts if a["status"] == "SUCCESS"}
    sent = {canonical_hash(a["payload"]) for a in attempts}
    assert success, "no delivery succeeded"
    assert success <= set(stored_hashes), "a delivery the sandbox logged as SUCCESS is missing"
    assert set(stored_hashes) <= sent, "the store holds something the sandbox did not send"
    assert {rec["signature"] for rec in stored} == {"valid"}

    # The receiver was down at first: some deliveries failed with no answer, were retried,
    # and arrived once it was back.
    refused = {
        canonical_hash(a["payload"]) for a in attempts if a["status"] == "FAILED" and a["statusCode"] is None
    }
    recovered = refused & success
    assert recovered, "no retried delivery reached the receiver after it came back"
    # Duplicates were injected: some events were delivered more than once and counted.
    assert any(rec["deliveries"] > 1 for rec in stored)


def _serve_with_token(
    serve: Callable[..., Server], data_dir: Path, port: int, token: str, secrets: list[str]
) -> Server:
    # serve reads its token from the data folder; written before starting as a v1 settings file
    # (the token under `receiver`), which serve upgrades into settings.json v4 + state.json.
    data_dir.mkdir()
    (data_dir / "settings.json").write_text(
        json.dumps({"version": 1, "receiver": {"host": "127.0.0.1", "port": port, "token": token}})
    )
    args = [arg for secret in secrets for arg in ("--signing-secret", secret)]
    return serve(*args, data_dir=data_dir, port=port)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--numbers", "0"], "--numbers 0"),
        (["--duplicates", "1.5"], "--duplicates 1.5"),
        (["--port", "70000"], "--port 70000"),
    ],
)
def test_sandbox_refuses_out_of_range_options_naming_them(args: list[str], named: str) -> None:
    r = subprocess.run(
        [str(BIN), "sandbox", *args], check=False, capture_output=True, text=True, env=cli_env(), timeout=30
    )
    assert r.returncode == 2
    assert named in r.stderr
    assert "Traceback" not in r.stderr

"""`serve` runs the application core the window runs: it polls numbers through the accounts,
and a signing secret or setting changed by the CLI applies to it without a restart.

Real processes: `pilot-desktop serve`, the CLI, and the sandbox platform on loopback, each
test with its own temporary data dir.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import Server, sign
from tests.integration.test_cli_webhooks import add_tenant, ok, ok_json, pd
from tests.sandbox.conftest import body

APPLIES_WITHIN_S = 5.0  # the bound for a change made by another process


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


def polls(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM number_polls").fetchone()[0])
    finally:
        conn.close()


def eventually(check: Callable[[], bool], within: float, what: str) -> float:
    """Seconds it took for `check()` to hold; fails past `within`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            raise AssertionError(f"{what} did not happen within {within} s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_serve_with_an_account_polls_the_numbers(
    platform: SandboxThread, tmp_path: Path, serve: Callable[..., Server]
) -> None:
    data = tmp_path / "data"
    sb = platform.sandbox
    add_tenant(data, sb)
    server = serve(data_dir=data)
    assert server.wait_for_line("Number polling: every ", 10)
    eventually(lambda: polls(server.db) >= 1, 15, "a stored number poll")
    # The polls are projected like webhooks: `numbers` shows every number of the account.
    shown = ok_json(pd(data, "numbers", "--json"))
    assert {n["numberId"] for n in shown} == {n.id for n in sb.numbers}
    assert all(n["lastPollAt"] is not None for n in shown)


def test_a_new_signing_secret_applies_to_a_running_serve_and_the_old_one_stops(
    platform: SandboxThread, tmp_path: Path, serve: Callable[..., Server]
) -> None:
    """The defect the issue names: the new secret was refused (401) and the old one still
    accepted until serve restarted."""
    data = tmp_path / "data"
    sb = platform.sandbox
    number = sb.numbers[0].id
    add_tenant(data, sb)
    server = serve(data_dir=data)
    ok(pd(data, "public-url", server.base))
    hook = ok_json(pd(data, "webhooks", "create", "-n", number, "--all-events", "--json"))

    def status(secret: str, marker: str) -> int:
        raw = json.dumps(body("message.received", number, marker)).encode()
        with httpx.Client(timeout=10, trust_env=False) as client:
            return client.post(
                hook["url"], content=raw, headers={"x-pilot-status-signature": sign(raw, secret)}
            ).status_code

    ok(pd(data, "webhooks", "update", hook["id"], "--secret-stdin", stdin="whsec_first"))
    took = eventually(
        lambda: status("whsec_first", "a") == 200 and status("nope", "b") == 401,
        APPLIES_WITHIN_S,
        "the first secret",
    )
    ok(pd(data, "webhooks", "update", hook["id"], "--secret-stdin", stdin="whsec_second"))
    took = max(
        took, eventually(lambda: status("whsec_second", "c") == 200, APPLIES_WITHIN_S, "the new secret")
    )
    assert status("whsec_first", "d") == 401  # the old secret no longer checks the route
    ok(pd(data, "webhooks", "update", hook["id"], "--forget-secret"))
    took = max(took, eventually(lambda: status("nope", "e") == 200, APPLIES_WITHIN_S, "the forgotten secret"))
    assert took < APPLIES_WITHIN_S
    assert "Traceback" not in server.stderr()

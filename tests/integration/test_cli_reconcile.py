"""`pilot-desktop reconcile`: the catch-up by hand, as a real CLI process against a real
sandbox on loopback, writing into a store that a running `serve` writes too."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from pilot_desktop.sandbox.server import TICK_S
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import Server, open_ro
from tests.integration.test_cli_webhooks import ok, pd

TO = "+5511987654321"


def messages_moved_on(sb: SandboxThread, count: int) -> list[str]:
    """`count` messages sent through the API that went past QUEUED (a recipient may stay offline
    for minutes: SENT is as far as each surely gets); then the scenario freezes."""
    number = sb.sandbox.numbers[0]
    sb.call(lambda: setattr(sb.sandbox, "time_scale", 30.0))
    sb.wait_for(lambda s: s.scenario.number_state(number.id) == "OPEN", what="the number to connect")
    with httpx.Client(base_url=sb.sandbox.base_url, timeout=10, trust_env=False) as api:
        ids = []
        for i in range(count):
            body = {"destinationNumber": TO, "text": f"reconcile {i}"}
            r = api.post(
                "/v1/messages/send", headers={"x-api-key": sb.sandbox.number_keys[number.id]}, json=body
            )
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
    sb.wait_for(
        lambda s: all(s.scenario.message(i).status != "QUEUED" for i in ids),  # type: ignore[union-attr]
        what="the messages to move on",
    )
    sb.call(lambda: setattr(sb.sandbox, "time_scale", 0.0))
    time.sleep(3 * TICK_S)  # the next tick still plays what was due up to the pause
    return ids


def stored(db: Path) -> tuple[dict[str, str], int]:
    conn = open_ro(db)
    try:
        statuses = dict(
            conn.execute("SELECT msg_id, status FROM messages WHERE msg_id IS NOT NULL").fetchall()
        )
        events = conn.execute("SELECT count(*) FROM events WHERE signature = 'reconstructed'").fetchone()[0]
        return statuses, int(events)
    finally:
        conn.close()


def test_reconcile_restores_what_the_api_knows_beside_a_running_serve(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # Scenario second 0 is 5 minutes ago: run 30x faster, its times stay in the past.
    with running_sandbox(seed=3, numbers=1, rate=0.0, start=datetime.now(UTC) - timedelta(minutes=5)) as sb:
        ok(pd(data, "accounts", "add", "--base-url", sb.sandbox.base_url, stdin=sb.sandbox.tenant_key))
        server = serve(data_dir=data)  # the app runs meanwhile and writes to the same store
        ids = messages_moved_on(sb, 3)
        truth = {i: sb.call(lambda i=i: sb.sandbox.scenario.message(i).status) for i in ids}  # type: ignore[union-attr]

        first = ok(pd(data, "reconcile", "--since", "30m", "--json"))
        summary = json.loads(first.stdout)
        assert summary["stopped"] is None and summary["errors"] == [], summary
        assert (summary["messagesChecked"], summary["messagesRestored"]) == (3, 3)
        statuses, reconstructed = stored(server.db)
        assert {i: statuses.get(i) for i in ids} == truth
        assert reconstructed == summary["steps"] >= 3  # at least the sent step of each

        again = ok(pd(data, "reconcile", "--since", "30m"))  # nothing left to restore
        assert "restored: 0 (0 steps" in again.stdout
        assert stored(server.db) == (statuses, reconstructed)  # nothing stored twice


def test_reconcile_says_what_it_needs(tmp_path: Path) -> None:
    with running_sandbox(numbers=1) as sb:
        none = pd(tmp_path / "empty", "reconcile")
        assert none.returncode == 1 and "no account is configured" in none.stderr
        data = tmp_path / "data"
        ok(pd(data, "accounts", "add", "--base-url", sb.sandbox.base_url, stdin=sb.sandbox.tenant_key))
        future = pd(data, "reconcile", "--since", "2099-01-01T00:00:00Z")
        assert future.returncode == 2 and "--since must be in the past" in future.stderr
        bad = pd(data, "reconcile", "--since", "yesterday")
        assert bad.returncode == 2 and "neither a duration" in bad.stderr
    # The platform unreachable (the sandbox is gone): the run stops, says why, exits 1.
    down = pd(data, "reconcile", "--since", "1h")
    assert down.returncode == 1 and "could not be reached" in down.stderr
    assert "Traceback" not in down.stderr

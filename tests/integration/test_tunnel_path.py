"""The whole path from the platform to the receiver through a managed tunnel, end to end.

A real sandbox platform delivers (retrying failed attempts, first backoff 0.2 s) through a
real tunnel stand-in (tests/tunnel_forwarder.py: prints a URL, forwards TCP; a new URL on
every start) run by the `command` provider, to a real receiver storing in a real SQLite
file. The forwarder is killed while traffic flows: the app restarts it, reads its new URL,
re-points the sandbox's webhooks, probes the new path, records the `tunnel` gap and closes
it, and every event the sandbox delivered is stored exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.core.events import dedupe_key
from pilot_desktop.sandbox.server import TICK_S, Sandbox
from pilot_desktop.sandbox.state import DeliveryLog
from pilot_desktop.services.gaps import TUNNEL
from pilot_desktop.services.reconstruct import HEADER
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import BIN, Server, cli_env, gone
from tests.integration.watch_support import FORWARDER, core_on, eventually, platform_hooks, rows

FORWARD = f"{shlex.quote(sys.executable)} {shlex.quote(str(FORWARDER))} --to 127.0.0.1:{{port}}"
RETRY_BASE_S = 0.2


def delivered(history: list[DeliveryLog]) -> tuple[set[str], set[str], int]:
    """(keys of every event attempted, keys of those delivered with success, failed attempts)."""
    attempted = {dedupe_key(e.payload) for e in history if e.attempt >= 1}
    ok = {dedupe_key(e.payload) for e in history if e.status == "SUCCESS"}
    return attempted, ok, sum(1 for e in history if e.status == "FAILED")


def stored(db: Path) -> tuple[list[str], set[str]]:
    """(keys of the events received as webhooks, in row order; keys restored by the catch-up)."""
    received: list[str] = []
    restored: set[str] = set()
    for row in rows(db, "SELECT dedupe_key, headers FROM events ORDER BY id"):
        names = {name.lower() for name, _ in json.loads(row["headers"])}
        (restored.add if HEADER in names else received.append)(row["dedupe_key"])
    return received, restored


def assert_nothing_missing(history: list[DeliveryLog], db: Path) -> None:
    """Every event the sandbox attempted was delivered in the end and is stored once: as
    received, or as restored by the catch-up after the gap (a retry landing after that joins
    the restored row: one row per event, the store's dedupe key is unique)."""
    attempted, ok, failed = delivered(history)
    received, restored = stored(db)
    assert failed > 0, "the kill cost no delivery: the test did not exercise the retries"
    assert attempted == ok, f"the sandbox gave up on {len(attempted - ok)} event(s)"
    assert len(received) == len(set(received)), "an event was stored twice"
    missing = attempted - set(received) - restored
    assert not missing, f"{len(missing)} delivered event(s) missing from the store"
    assert set(received) <= attempted, "the store holds webhook events the sandbox never sent"


async def pause(sandbox: Sandbox) -> None:
    """Freeze the scenario and let every delivery under way (retries included) finish."""
    sandbox.time_scale = 0.0
    await asyncio.sleep(3 * TICK_S)
    await eventually(lambda: sandbox.dispatcher.pending == 0, 60, "the sandbox's deliveries to finish")


async def test_a_killed_tunnel_is_restarted_webhooks_follow_its_new_url_and_nothing_is_missing(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(seed=11, numbers=2, rate=6.0, retry_base=RETRY_BASE_S, time_scale=0.0)
    await sandbox.start()
    core = core_on(
        tmp_path,
        settings={"tunnel.mode": "command", "tunnel.command": FORWARD, "tunnel.auto_repoint": True},
        probe_interval_s=1.0,
        audit_interval_s=1.0,
        tunnel_backoff=(0.5,),
    )
    try:
        await core.start()
        assert core.listening and core.reads is not None
        reads, db = core.reads, core.runtime.db_path
        assert db is not None
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
        token = core.config.state.value.token

        # Start: the URL is read from the forwarder's output, saved, and a probe through it is ok.
        first = await eventually(lambda: core.tunnel.status.state == "up" and core.tunnel.status.public_url)
        assert core.config.state.value.tunnel_url == first
        await eventually(
            lambda: (
                core.reachability.reach.state == "reachable" and core.reachability.reach.public_url == first
            ),
            what="a probe through the tunnel",
        )
        for number in sandbox.numbers:  # this app's default hook URL: through the tunnel
            await core.webhooks.create(number.id, ["*"])
        hooks = await platform_hooks(sandbox)
        assert sorted(h["url"] for h in hooks.values()) == sorted(
            f"{first}/hooks/{token}/{n.id}" for n in sandbox.numbers
        )

        sandbox.time_scale = 1.0  # traffic flows
        await eventually(lambda: len(stored(db)[0]) >= 10, what="events through the tunnel")
        row = reads.tunnel()
        assert row is not None and row.state == "up" and row.pid and row.public_url == first
        os.kill(row.pid, signal.SIGKILL)

        second = await eventually(
            lambda: (
                core.tunnel.status.state == "up"
                and core.tunnel.status.public_url not in (None, first)
                and core.tunnel.status.public_url
            ),
            what="the restarted tunnel's new URL",
        )
        await eventually(
            lambda: all(
                h.url.startswith(f"{second}/hooks/{token}/") for h in sandbox.state.webhooks.values()
            ),
            what="the webhooks to be re-pointed",
        )
        hooks = await platform_hooks(sandbox)
        assert all(h["url"] == f"{second}/hooks/{token}/{h['whatsappNumberIds'][0]}" for h in hooks.values())
        gap = await eventually(
            lambda: [g for g in reads.gaps() if g.kind == TUNNEL and g.ended_at is not None],
            what="the tunnel gap to be recorded and closed",
        )
        assert len(gap) == 1 and "down" in gap[0].reason
        # Deliveries resume through the new URL.
        count = len(stored(db)[0])
        await eventually(lambda: len(stored(db)[0]) >= count + 10, what="deliveries to resume")
        await pause(sandbox)

        assert_nothing_missing(list(sandbox.dispatcher.history), db)
        history = reads.url_history()
        assert [r.public_url for r in history if r.kind == "seen"][:2] == [second, first]
        moved = [r for r in history if r.kind == "registered"]
        assert {(r.webhook_id, r.public_url, r.source) for r in moved} == {(h, second, "auto") for h in hooks}
        assert all(r.old_url and r.old_url.startswith(first) for r in moved)
        assert any(p.ok and p.public_url == second for p in reads.probes())
        assert reads.drift() == [], "the app's own re-pointing was reported as drift"
    finally:
        await core.stop()
        await sandbox.stop()
    assert rows(tmp_path / "pilot-desktop.sqlite3", "SELECT state FROM tunnel")[0]["state"] == "stopped"


# -- the same through a real `serve` process -------------------------------------------------


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox(seed=12, numbers=2, rate=6.0, retry_base=RETRY_BASE_S) as thread:
        yield thread


def tunnel_row(db: Path) -> dict[str, Any] | None:
    found = rows(db, "SELECT state, pid, public_url FROM tunnel")
    return dict(found[0]) if found else None


def wait(check: Any, within: float = 30.0, what: str = "it") -> Any:
    deadline = time.monotonic() + within
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out after {within} s waiting for {what}"
        time.sleep(0.05)
    return value


def test_serve_runs_the_tunnel_follows_its_new_url_and_stops_it(
    platform: SandboxThread, tmp_path: Path
) -> None:
    sb = platform.sandbox
    data = tmp_path / "data"
    added = subprocess.run(
        [str(BIN), "accounts", "add", "--base-url", sb.base_url, "--data-dir", str(data)],
        input=sb.tenant_key,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
        check=False,
    )
    assert added.returncode == 0, added.stderr
    settings_file = data / "settings.json"
    settings = json.loads(settings_file.read_text(encoding="utf-8"))
    settings.setdefault("tunnel", {})["auto_repoint"] = True
    settings_file.write_text(json.dumps(settings), encoding="utf-8")
    token = json.loads((data / "state.json").read_text(encoding="utf-8"))["token"]

    server = Server(
        data, ["--port", "0", "--tunnel", "command", "--tunnel-command", FORWARD], tmp_path / "logs"
    )
    try:
        first = server.wait_for_line("New public URL: ", 30).split(": ", 1)[1]
        server.wait_for_line(f"Reachable through {first}", 30)
        numbers = [n.id for n in sb.numbers]
        # Webhooks of this app made earlier (by the window, or by hand): on the tunnel's URL.
        for number in numbers:
            platform.call(
                lambda n=number: sb.state.add_webhook(n, "made earlier", f"{first}/hooks/{token}/{n}", ["*"])
            )
        platform.call(lambda: setattr(sb, "time_scale", 1.0))
        wait(lambda: len(stored(server.db)[0]) >= 10, what="events through the tunnel")
        row = tunnel_row(server.db)
        assert row is not None and row["state"] == "up" and row["public_url"] == first
        os.kill(row["pid"], signal.SIGKILL)

        server.wait_for_line("Tunnel (command) down, restarting", 30)
        second = wait(
            lambda: [ln.split(": ", 1)[1] for ln in server.lines if ln.startswith("New public URL: ")][1:],
            what="the new URL line",
        )[0]
        assert second != first
        server.wait_for_line("Re-pointed 2 webhook(s) to the new public URL", 30)
        hooks = platform.call(lambda: {h.id: h.url for h in sb.state.webhooks.values()})
        assert sorted(hooks.values()) == sorted(f"{second}/hooks/{token}/{n}" for n in numbers)
        server.wait_for_line(f"Reachable through {second}", 30)
        count = len(stored(server.db)[0])
        wait(lambda: len(stored(server.db)[0]) >= count + 10, what="deliveries to resume")
        platform.call(lambda: setattr(sb, "time_scale", 0.0))
        time.sleep(3 * TICK_S)
        wait(lambda: platform.call(lambda: sb.dispatcher.pending == 0), 60, "the deliveries to finish")
        assert_nothing_missing(platform.call(lambda: list(sb.dispatcher.history)), server.db)
        pid = tunnel_row(server.db)["pid"]  # type: ignore[index]
    finally:
        rc = server.stop()
    assert rc == 0, server.output()
    assert gone(pid), "the tunnel program outlived serve"
    assert tunnel_row(server.db)["state"] == "stopped"  # type: ignore[index]
    ended = rows(server.db, "SELECT ended_at, reason FROM gaps WHERE kind = 'tunnel'")
    assert len(ended) == 1 and ended[0]["ended_at"] is not None, [dict(r) for r in ended]

"""The watch in the core: started once the receiver listens (also when a busy port frees),
not while another process of this data folder holds the port, stopped before the receiver;
the tunnel settings applied while running; the demo probing its own receiver without a
tunnel program; and `serve`'s tunnel flags checked like the settings."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.gaps import UNREACHABLE
from pilot_desktop.services.webhooks import public_url_of
from tests.integration.serving import Server, cli
from tests.integration.test_tunnel_path import FORWARD
from tests.integration.watch_support import core_on, eventually, rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_watch_runs_while_the_receiver_listens_and_stops_before_it(tmp_path: Path) -> None:
    port = free_port()
    here = f"http://127.0.0.1:{port}"  # a manual public URL that reaches the receiver itself
    core = core_on(tmp_path, port=port, settings={"public_url": here}, probe_interval_s=0.3)
    await core.start()
    try:
        assert core.watch.running
        assert core.tunnel.status.state == "off" and core.tunnel.status.public_url == here
        reads = core.reads
        assert reads is not None
        await eventually(lambda: len([p for p in reads.probes() if p.ok]) >= 3, what="probes every 0.3 s")
        assert core.reachability.reach.state == "reachable"
        row = reads.tunnel()
        assert row is not None and (row.mode, row.state, row.public_url) == ("manual", "off", here)
        assert [(r.kind, r.public_url, r.source) for r in reads.url_history()] == [("seen", here, "manual")]
    finally:
        await core.stop()
    db = tmp_path / "pilot-desktop.sqlite3"
    assert rows(db, "SELECT state FROM tunnel")[0]["state"] == "stopped"
    # Probes stopped before the receiver: none failed at the stop, no unreachable gap.
    assert not rows(db, "SELECT * FROM probes WHERE ok = 0")
    assert not rows(db, "SELECT * FROM gaps WHERE kind = ?", UNREACHABLE)


async def test_a_port_held_by_this_data_folder_runs_no_second_tunnel_until_it_frees(tmp_path: Path) -> None:
    port = free_port()
    settings = {"tunnel.mode": "command", "tunnel.command": FORWARD}
    first = core_on(tmp_path, port=port, settings=settings, listen_retry_s=0.2)
    second = core_on(tmp_path, port=port, listen_retry_s=0.2)
    await first.start()
    try:
        url = await eventually(lambda: first.tunnel.status.state == "up" and first.tunnel.status.public_url)
        await second.start()
        assert second.port_shared and not second.watch.running
        assert second.tunnel.status.pid is None and second.tunnel.status.state == "off"

        await first.stop()  # the port frees: the second one listens and starts its own tunnel
        await eventually(lambda: second.listening, what="the second core to listen")
        assert second.watch.running
        new = await eventually(
            lambda: second.tunnel.status.state == "up" and second.tunnel.status.public_url,
            what="the second core's tunnel",
        )
        assert new != url and public_url_of(second.config) == new
    finally:
        await first.stop()
        await second.stop()


async def test_changing_the_tunnel_mode_while_running_switches_the_public_url(tmp_path: Path) -> None:
    port = free_port()
    here = f"http://127.0.0.1:{port}"
    core = core_on(tmp_path, port=port, settings={"public_url": here})
    await core.start()
    try:
        core.config.settings.update({"tunnel.command": FORWARD, "tunnel.mode": "command"})
        tunnel_url = await eventually(
            lambda: core.tunnel.status.state == "up" and core.tunnel.status.public_url,
            what="the tunnel program's URL",
        )
        assert core.webhooks.target() is not None and core.webhooks.target().public_url == tunnel_url  # type: ignore[union-attr]
        await eventually(lambda: core.reachability.reach.public_url == tunnel_url)
        pid = core.tunnel.status.pid
        assert pid is not None

        core.config.settings.update({"tunnel.mode": "manual"})
        await eventually(lambda: core.tunnel.status.mode == "manual", what="back to manual")
        assert core.tunnel.status.pid is None and core.tunnel.public_url == here
        assert core.reads is not None
        reads = core.reads
        await eventually(
            lambda: (
                [r.public_url for r in reads.url_history() if r.kind == "seen"] == [here, tunnel_url, here]
            ),
            what="each URL in the history",
        )
    finally:
        await core.stop()


async def test_the_demo_probes_its_own_receiver_and_runs_no_tunnel_program(tmp_path: Path) -> None:
    core = core_on(tmp_path, demo=True, tunnel="command", tunnel_command=FORWARD)
    await core.start()
    try:
        assert core.demo is not None, core.demo_error
        await eventually(lambda: core.reachability.reach.state == "reachable", what="a probe of the demo")
        assert core.reachability.reach.public_url == core.runtime.base_url
        assert core.tunnel.status.mode == "manual" and core.tunnel.status.pid is None
    finally:
        await core.stop()


def test_serve_refuses_a_tunnel_command_that_cannot_reach_the_receiver(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = cli("serve", "--data-dir", data, "--tunnel-command", "cloudflared tunnel --url http://localhost")
    assert bad.returncode == 2, bad.stderr
    assert "--tunnel-command" in bad.stderr and "{port}" in bad.stderr
    quotes = cli("serve", "--data-dir", data, "--tunnel-command", "ssh -R '80:{local_url}")
    assert quotes.returncode == 2 and "quote" in quotes.stderr, quotes.stderr
    other = cli("serve", "--data-dir", data, "--tunnel", "cloudflared", "--tunnel-command", "x {port}")
    assert other.returncode == 2 and "--tunnel command" in other.stderr, other.stderr
    mode = cli("serve", "--data-dir", data, "--tunnel", "frp")
    assert mode.returncode == 2 and "--tunnel" in mode.stderr


def test_serve_says_when_the_tunnel_program_is_missing_and_keeps_receiving(
    serve: Callable[..., Server],
) -> None:
    server = serve("--tunnel-command", "no-such-tunnel-program --to 127.0.0.1:{port}")
    line = server.wait_for_line("Tunnel (command) failed: ", 20)
    assert "no-such-tunnel-program" in line and "not installed" in line, line
    assert server.post({"event": "message.received", "data": {}}).status_code == 200


async def test_this_runs_tunnel_url_is_where_webhooks_point_and_a_host_the_receiver_answers(
    tmp_path: Path,
) -> None:
    # The settings say manual with a typed URL; this run's tunnel (serve --tunnel) has its own.
    tunnel_url = "https://quick-words.trycloudflare.com"
    # A tunnel program that prints its URL and stays up (it forwards nothing: no probe is ok).
    code = f"import time; print('{tunnel_url}', flush=True); time.sleep(600)"
    core = core_on(
        tmp_path,
        settings={"public_url": "https://typed.example.com"},
        tunnel="command",
        tunnel_command=f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} {{port}}",
    )
    core.config.state.update({"tunnel_url": "https://old-words.trycloudflare.com"})  # a last run's
    await core.start()
    try:
        await eventually(lambda: core.tunnel.status.state == "up", what="the tunnel program's URL")
        target = core.webhooks.target()
        assert target is not None and target.public_url == tunnel_url
        await eventually(lambda: core.reachability.reach.public_url == tunnel_url, what="the probed URL")
        body = {"event": "message.received", "data": {}}
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            through = await client.post(
                f"{core.hook_url}/n1", json=body, headers={"host": "quick-words.trycloudflare.com"}
            )
            typed = await client.post(f"{core.hook_url}/n1", json=body, headers={"host": "typed.example.com"})
        assert through.status_code == 200, through.text
        assert typed.status_code == 421, typed.text  # not this run's public URL
    finally:
        await core.stop()


async def test_a_wake_up_at_the_moment_of_stopping_does_not_hang_the_stop(tmp_path: Path) -> None:
    """A loop waiting for "woken or the interval" must end when stopped, even when woken in
    the same instant (asyncio.wait_for on 3.11 swallowed that cancel: stop() never returned)."""
    sandbox = Sandbox(seed=4, numbers=1, time_scale=0.0)
    await sandbox.start()
    core = core_on(tmp_path)

    async def ends(stop: Coroutine[Any, Any, None], what: str) -> None:
        _, pending = await asyncio.wait({asyncio.ensure_future(stop)}, timeout=10)
        assert not pending, f"stopping {what} hung"

    try:
        await core.start()
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
        polling = core.polling
        assert polling is not None
        await eventually(lambda: polling.running and polling.poller.rounds >= 1, what="a poll")
        await asyncio.sleep(0.5)  # both loops are now in their wait
        core.alerts.poke()  # a probe was recorded ...
        await ends(core.alerts.stop(), "the alerts")  # ... just as the app stops
        polling.poller.set_interval(30)  # the settings changed ...
        await ends(polling.stop(), "number polling")  # ... just as the app stops
    finally:
        await ends(core.stop(), "the core")
        await sandbox.stop()


def tunnel_rows(db: Path) -> list[dict[str, Any]]:
    return [dict(r) for r in rows(db, "SELECT state, pid, public_url FROM tunnel")]


async def test_one_tunnel_per_data_folder_another_process_runs_none_and_takes_over_when_it_stops(
    tmp_path: Path,
) -> None:
    """Two processes on one data folder (other ports): only the first runs the tunnel; the URL,
    the tunnel row and the probes stay its own while the second runs and after it stops; when
    the first stops, a second one still running takes the tunnel over."""
    settings = {"tunnel.mode": "command", "tunnel.command": FORWARD}
    first = core_on(tmp_path, settings=settings, probe_interval_s=0.3)
    second = core_on(tmp_path, probe_interval_s=0.3)
    third = core_on(tmp_path, probe_interval_s=0.3)
    db = tmp_path / "pilot-desktop.sqlite3"
    await first.start()
    try:
        url = await eventually(lambda: first.tunnel.status.state == "up" and first.tunnel.status.public_url)
        pid = first.tunnel.status.pid
        await eventually(lambda: first.reachability.reach.state == "reachable", what="a probe through it")
        await second.start()
        assert second.listening and second.watch.running
        status = second.tunnel.status
        assert status.state == "off" and status.pid is None and status.public_url is None
        assert "Another Pilot Desktop on this data folder" in (status.error or ""), status
        assert second.webhooks.target() is not None and second.webhooks.target().public_url == url  # type: ignore[union-attr]
        reads = first.reads
        assert reads is not None
        count = len(reads.probes())
        await eventually(lambda: len(reads.probes()) >= count + 5, what="more probes")
        await second.stop()
        count = len(reads.probes())
        await eventually(lambda: len(reads.probes()) >= count + 3, what="probes after the second stopped")

        assert first.config.state.value.tunnel_url == url
        assert tunnel_rows(db) == [{"state": "up", "pid": pid, "public_url": url}]
        probes = reads.probes(limit=1000)
        assert probes and all(p.ok and p.public_url == url for p in probes), [
            (p.public_url, p.sentence) for p in probes if not p.ok or p.public_url != url
        ]
        assert first.reachability.reach.state == "reachable"
        assert not rows(db, "SELECT * FROM gaps WHERE kind IN ('tunnel', 'unreachable')")

        await third.start()
        assert third.tunnel.status.state == "off" and third.tunnel.status.pid is None
        await first.stop()  # the third one takes over within a few seconds
        new = await eventually(
            lambda: third.tunnel.status.state == "up" and third.tunnel.status.public_url,
            what="the third process to take the tunnel over",
        )
        assert new != url
        await eventually(lambda: third.config.state.value.tunnel_url == new, what="its URL saved")
        await eventually(lambda: [r["public_url"] for r in tunnel_rows(db)] == [new], what="its tunnel row")
        await eventually(
            lambda: (
                third.reachability.reach.state == "reachable" and third.reachability.reach.public_url == new
            ),
            what="a probe through the new tunnel",
        )
    finally:
        await second.stop()
        await first.stop()
        await third.stop()


async def test_the_reach_leaves_reachable_at_once_when_the_tunnel_dies(tmp_path: Path) -> None:
    """The forwarder is killed and its restart hangs (it prints no URL): the dead URL is no
    longer claimed as the public URL (probes, webhooks) and the reach is no longer reachable."""
    wrapper = tmp_path / "wrap.sh"
    ran = tmp_path / "ran"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ ! -e "{ran}" ]; then touch "{ran}"; exec {FORWARD.replace("{port}", "$1")}; fi\n'
        "echo connecting...; exec sleep 600\n",
        encoding="utf-8",
    )
    core = core_on(
        tmp_path / "data",
        settings={"tunnel.mode": "command", "tunnel.command": f"sh {wrapper} {{port}}"},
        probe_interval_s=60.0,
        tunnel_backoff=(0.1,),
    )
    await core.start()
    try:
        url = await eventually(lambda: core.tunnel.status.state == "up" and core.tunnel.status.public_url)
        await eventually(lambda: core.reachability.reach.state == "reachable", what="a probe through it")
        pid = core.tunnel.status.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: core.tunnel.status.state != "up", 10, "the tunnel to be seen down")
        await eventually(
            lambda: core.reachability.reach.state != "reachable", 1.0, "the reach to leave reachable"
        )
        assert core.reachability.reach.public_url is None
        assert core.tunnel.public_url is None and core.webhooks.target() is None
        assert public_url_of(core.config) is None
        assert core.config.state.value.tunnel_url == url  # the last URL it reported, kept
    finally:
        await core.stop()


async def test_a_managed_tunnel_that_never_comes_up_is_a_gap(tmp_path: Path) -> None:
    """Nothing reaches this app while its tunnel has not started: that time is recorded like a
    tunnel that fell, and `status` names it."""
    settings = {"tunnel.mode": "command", "tunnel.command": "no-such-tunnel-program --to 127.0.0.1:{port}"}
    core = core_on(tmp_path, settings=settings, probe_interval_s=0.3)
    await core.start()
    try:
        await eventually(lambda: "tunnel" in core.gaps.open_gaps, what="a tunnel gap")
        gap = core.gaps.open_gaps["tunnel"]
        assert "not installed" in gap.reason, gap.reason
    finally:
        await core.stop()
    [row] = rows(tmp_path / "pilot-desktop.sqlite3", "SELECT * FROM gaps WHERE kind = 'tunnel'")
    assert row["ended_at"] is not None  # ended by the clean stop

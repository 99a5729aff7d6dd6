"""The command tunnel provider with a real tunnel program: tests/tunnel_forwarder.py, a TCP
forwarder that prints a public-looking URL, in front of a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from itertools import groupby
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from pilot_desktop.tunnel.command import CommandTunnel
from pilot_desktop.tunnel.providers import TunnelStatus, command_line, not_installed_sentence

FORWARDER = Path(__file__).resolve().parents[1] / "tunnel_forwarder.py"
PY = shlex.quote(sys.executable)
FAST = (0.05, 0.1)  # backoff for the tests


class Seen:
    """Every status the provider told, and a way to wait for one."""

    def __init__(self) -> None:
        self.all: list[TunnelStatus] = []
        self._changed = asyncio.Event()

    def __call__(self, status: TunnelStatus) -> None:
        self.all.append(status)
        self._changed.set()

    async def until(
        self, check: Callable[[TunnelStatus], bool], *, after: int = 0, within: float = 20.0
    ) -> TunnelStatus:
        """The first status told (from index `after` on) for which `check` holds."""
        async with asyncio.timeout(within):
            while True:
                for status in self.all[after:]:
                    if check(status):
                        return status
                self._changed.clear()
                await self._changed.wait()


def is_up(status: TunnelStatus) -> bool:
    return status.state == "up"


def gone(pid: int) -> bool:
    """No such process any more, or only its exit status left for a parent that is not us."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


async def vanishes(pid: int, within: float = 5.0) -> bool:
    """Whether `pid` is gone within the time: a SIGKILL to a process we do not wait for
    (a grandchild) takes effect a moment later."""
    deadline = time.monotonic() + within
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    """A small aiohttp app on a free loopback port: GET /hello answers who it is."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"receiver says hello to {request.path_qs}")

    app = web.Application()
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def forwarder_tunnel(
    local_url: str, seen: Callable[[TunnelStatus], None], *flags: str, **options: float | tuple[float, ...]
) -> CommandTunnel:
    template = f"{PY} {shlex.quote(str(FORWARDER))} --to {{local_url}} {' '.join(flags)}"
    argv = command_line("command", template, port=int(local_url.rsplit(":", 1)[1]), local_url=local_url)
    options.setdefault("backoff", FAST)
    return CommandTunnel("command", argv, local_url=local_url, on_change=seen, **options)  # type: ignore[arg-type]


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        return await client.get(url)


async def test_the_tunnel_comes_up_with_its_url_and_carries_requests_to_the_receiver(receiver: str) -> None:
    seen = Seen()
    tunnel = forwarder_tunnel(receiver, seen)
    try:
        await tunnel.start()
        assert tunnel.status.state == "starting" and tunnel.status.pid is not None
        up = await seen.until(is_up)
        assert up.public_url is not None and up.public_url.startswith("http://127.0.0.1:")
        assert up.public_url != receiver
        assert up.pid == tunnel.status.pid and up.restarts == 0 and up.error is None
        assert any(up.public_url in line for line in up.output)  # the banner is kept
        answer = await get(f"{up.public_url}/hello?via=tunnel")
        assert answer.status_code == 200
        assert answer.text == "receiver says hello to /hello?via=tunnel"
    finally:
        await tunnel.stop()


async def test_a_killed_tunnel_is_restarted_and_reports_its_new_url(receiver: str) -> None:
    seen = Seen()
    tunnel = forwarder_tunnel(receiver, seen)
    try:
        await tunnel.start()
        first = await seen.until(is_up)
        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        mark = len(seen.all)
        down = await seen.until(lambda s: s.state == "restarting", after=mark)
        assert down.public_url is None and down.pid is None
        assert down.error is not None and "was stopped by SIGKILL" in down.error
        again = await seen.until(is_up, after=mark)
        assert again.restarts == 1
        assert again.pid != first.pid
        assert again.public_url is not None and again.public_url != first.public_url
        assert (await get(f"{again.public_url}/hello")).status_code == 200
        assert gone(first.pid)
    finally:
        await tunnel.stop()


async def test_a_program_that_is_not_installed_fails_with_where_to_get_it_without_retrying_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    seen = Seen()
    argv = command_line("cloudflared", "", port=8787, local_url=receiver)
    tunnel = CommandTunnel("cloudflared", argv, local_url=receiver, on_change=seen, backoff=(0.01,))
    try:
        await tunnel.start()
        assert tunnel.status.state == "failed"
        assert tunnel.status.error == (
            "cloudflared is not installed (not found on PATH). Get it from "
            "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/; "
            "it is tried again every minute."
        )
        assert tunnel.status.error == not_installed_sentence("cloudflared", "cloudflared")
        # With a 10 ms backoff a retry loop would have told dozens of states by now.
        await asyncio.sleep(0.5)
        assert [s.state for s in seen.all] == ["failed"]
        assert tunnel.status.restarts == 0

        # Installed afterwards (a stand-in printing on stderr like cloudflared), Restart runs it.
        fake = bin_dir / "cloudflared"
        fake.write_text(
            "#!/bin/sh\n"
            f"exec {PY} {shlex.quote(str(FORWARDER))} --to {receiver.removeprefix('http://')} --stderr "
            "--print-url https://quiet-lake-1234.trycloudflare.com\n"
        )
        fake.chmod(0o755)
        await tunnel.restart()
        up = await seen.until(is_up)
        assert up.public_url == "https://quiet-lake-1234.trycloudflare.com"
        assert up.restarts == 1
    finally:
        await tunnel.stop()


async def test_stop_ends_the_program_and_its_children_and_is_idempotent(
    tmp_path: Path, receiver: str
) -> None:
    # A program that ignores SIGTERM and leaves a child of its own.
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print('child', child.pid, flush=True)\n"
        "print('tunnel ready at https://stubborn.example.net', flush=True)\n"
        "time.sleep(600)\n"
    )
    seen = Seen()
    tunnel = CommandTunnel(
        "command", [sys.executable, str(script)], local_url=receiver, on_change=seen, stop_grace_s=0.5
    )
    await tunnel.start()
    up = await seen.until(is_up)
    assert up.public_url == "https://stubborn.example.net" and up.pid is not None
    child = int(next(line for line in up.output if line.startswith("child")).split()[1])
    started = time.monotonic()
    await tunnel.stop()
    took = time.monotonic() - started
    assert 0.5 <= took < 5  # SIGTERM ignored: killed after the grace
    assert tunnel.status.state == "stopped" and tunnel.status.pid is None and tunnel.status.public_url is None
    assert gone(up.pid)  # reaped by stop()
    assert await vanishes(child)  # killed with its process group
    told = len(seen.all)
    await tunnel.stop()
    assert len(seen.all) == told and tunnel.status.state == "stopped"


async def test_a_program_that_prints_no_url_is_restarted_after_the_timeout(receiver: str) -> None:
    seen = Seen()
    tunnel = forwarder_tunnel(receiver, seen, "--no-url", url_timeout_s=1.0)
    try:
        await tunnel.start()
        first_pid = tunnel.status.pid
        down = await seen.until(lambda s: s.state == "restarting")
        assert down.error is not None
        assert down.error.startswith(f"{Path(sys.executable).name} printed no public URL within 1 s")
        again = await seen.until(lambda s: s.state == "starting" and s.restarts == 1)
        assert again.pid != first_pid
        assert first_pid is not None and gone(first_pid)
    finally:
        await tunnel.stop()


async def test_a_program_that_exits_early_is_restarted_with_its_code_and_last_line(receiver: str) -> None:
    seen = Seen()
    tunnel = forwarder_tunnel(receiver, seen, "--no-url", "--exit-after", "0.2")
    try:
        await tunnel.start()
        down = await seen.until(lambda s: s.state == "restarting")
        assert down.error is not None
        assert "exited with code 1 before printing a public URL" in down.error
        assert "exiting as asked (--exit-after)" in down.error  # its last line says why
        await seen.until(lambda s: s.restarts >= 2)  # and again, with backoff
    finally:
        await tunnel.stop()


async def test_output_lines_are_capped_masked_and_still_searched(tmp_path: Path, receiver: str) -> None:
    script = tmp_path / "chatty.py"
    script.write_text(
        "import sys, time\n"
        "sys.stdout.write('x' * 100_000 + '\\n')\n"
        "print('args:', ' '.join(sys.argv[1:]))\n"
        "print('login ok, authtoken=zq9-private-77')\n"
        "print('\\x1b[32mcoloured\\x1b[0m line')\n"
        "sys.stdout.flush()\n"
        "sys.stderr.write('public at https://chatty.example.org\\r\\n')\n"
        "sys.stderr.flush()\n"
        "time.sleep(600)\n"
    )
    seen = Seen()
    argv = command_line(
        "command", f"{PY} {script} --password hunter2222 --to {{local_url}}", port=1, local_url=receiver
    )
    tunnel = CommandTunnel("command", argv, local_url=receiver, on_change=seen)
    try:
        await tunnel.start()
        up = await seen.until(is_up)
        assert up.public_url == "https://chatty.example.org"
        out = up.output
        assert all(len(line) <= 2000 for line in out)
        assert out[0] == "x" * 1999 + "…"
        text = "\n".join(out)
        assert "hunter2222" not in text and "zq9-private-77" not in text
        assert f"args: --password [hidden] --to {receiver}" in out
        assert "coloured line" in out
        assert out[-1] == "public at https://chatty.example.org"
    finally:
        await tunnel.stop()


async def test_a_failing_listener_is_logged_and_does_not_stop_the_tunnel(
    receiver: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Seen()

    def listener(status: TunnelStatus) -> None:
        seen(status)
        raise RuntimeError("a broken view")

    tunnel = forwarder_tunnel(receiver, listener)
    caplog.set_level(logging.ERROR)
    try:
        await tunnel.start()
        up = await seen.until(is_up)
        assert (await get(f"{up.public_url}/hello")).status_code == 200
        assert "a tunnel status listener failed" in caplog.text
    finally:
        await tunnel.stop()
    assert tunnel.status.state == "stopped"


def fake_program(bin_dir: Path, name: str, lines: list[str], *, exit_code: int | None) -> None:
    """A program named `name` on PATH that prints `lines` (as the real one would), then
    exits with `exit_code` or keeps running."""
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        f"for line in {lines!r}:\n"
        "    print(line, flush=True)\n"
        f"if {exit_code!r} is not None:\n"
        f"    sys.exit({exit_code!r})\n"
        "time.sleep(600)\n"
    )
    script.chmod(0o755)


async def test_the_ngrok_preset_reads_the_agents_log_and_stops_retrying_without_an_authtoken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    argv = command_line("ngrok", "", port=8787, local_url=receiver)
    # What ngrok v3 prints when no authtoken is configured, then exits 1.
    fake_program(
        bin_dir,
        "ngrok",
        [
            "ERROR:  authentication failed: Usage of ngrok requires a verified account and authtoken.",
            "ERROR:",
            "ERROR:  Sign up for an account: https://dashboard.ngrok.com/signup",
            "ERROR:  Install your authtoken: https://dashboard.ngrok.com/get-started/your-authtoken",
            "ERROR:",
            "ERROR:  ERR_NGROK_4018",
            "ERROR:  https://ngrok.com/docs/errors/err_ngrok_4018",
            "ERROR:",
        ],
        exit_code=1,
    )
    seen = Seen()
    tunnel = CommandTunnel("ngrok", argv, local_url=receiver, on_change=seen, backoff=(0.01,))
    try:
        await tunnel.start()
        failed = await seen.until(lambda s: s.state == "failed")
        assert failed.error == (
            "ngrok has no valid authtoken: copy yours from "
            "https://dashboard.ngrok.com/get-started/your-authtoken, run ngrok config add-authtoken "
            "TOKEN; it is tried again every minute."
        )
        await asyncio.sleep(0.5)  # a 10 ms backoff would have restarted it many times by now
        assert [state for state, _ in groupby(s.state for s in seen.all)] == ["starting", "failed"]
        assert {s.restarts for s in seen.all} == {0}

        # With an authtoken, the agent's `started tunnel` line gives the URL.
        fake_program(
            bin_dir,
            "ngrok",
            [
                't=2024-05-10T09:20:12+0000 lvl=info msg="client session established" obj=tunnels.session',
                't=2024-05-10T09:20:12+0000 lvl=info msg="started tunnel" obj=tunnels name=command_line '
                f"addr={receiver} url=https://3f2a-203-0-113-7.ngrok-free.app",
            ],
            exit_code=None,
        )
        await tunnel.restart()
        up = await seen.until(is_up)
        assert up.public_url == "https://3f2a-203-0-113-7.ngrok-free.app" and up.restarts == 1
    finally:
        await tunnel.stop()


async def test_stop_and_restart_send_sigterm_first_and_kill_only_after_the_grace(
    tmp_path: Path, receiver: str
) -> None:
    # One program ends on SIGTERM (writing a file first), the other notes it and keeps running.
    def program(name: str, then: str) -> list[str]:
        script = tmp_path / f"{name}.py"
        script.write_text(
            "import signal, sys, time\n"
            "def term(*_):\n"
            f"    open({str(tmp_path / name)!r} + '.term', 'a').write('TERM\\n')\n"
            f"    {then}\n"
            "signal.signal(signal.SIGTERM, term)\n"
            f"print('tunnel at https://{name}.example.net', flush=True)\n"
            "while True:\n"
            "    time.sleep(0.1)\n"
        )
        return [sys.executable, str(script)]

    seen = Seen()
    polite = CommandTunnel("command", program("polite", "sys.exit(0)"), local_url=receiver, on_change=seen)
    await polite.start()
    up = await seen.until(is_up)
    await asyncio.sleep(0.3)  # up a while, as when an operator presses Restart (not at the first line)
    await polite.restart()  # restart ends the running program the same way
    await seen.until(lambda s: s.state == "up" and s.pid != up.pid)
    await asyncio.sleep(0.3)
    await polite.stop()
    assert (tmp_path / "polite.term").read_text() == "TERM\nTERM\n"  # both ended by their SIGTERM

    seen = Seen()
    stubborn = CommandTunnel(
        "command", program("stubborn", "pass"), local_url=receiver, on_change=seen, stop_grace_s=1.0
    )
    await stubborn.start()
    up = await seen.until(is_up)
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await stubborn.stop()
    assert time.monotonic() - started >= 1.0  # it had the grace
    assert (tmp_path / "stubborn.term").read_text() == "TERM\n"
    assert up.pid is not None and gone(up.pid)  # then killed and reaped


async def test_a_new_url_printed_while_running_becomes_the_public_url(tmp_path: Path, receiver: str) -> None:
    script = tmp_path / "reconnects.py"
    flag = tmp_path / "go"
    script.write_text(
        "import os, time\n"
        "print('tunnel at https://first.example.net', flush=True)\n"
        f"while not os.path.exists({str(flag)!r}):\n"
        "    time.sleep(0.02)\n"
        "print('reconnected: https://second.example.net', flush=True)\n"
        "time.sleep(600)\n"
    )
    seen = Seen()
    tunnel = CommandTunnel("command", [sys.executable, str(script)], local_url=receiver, on_change=seen)
    try:
        await tunnel.start()
        first = await seen.until(is_up)
        assert first.public_url == "https://first.example.net"
        mark = len(seen.all)
        flag.touch()
        second = await seen.until(lambda s: s.public_url != first.public_url, after=mark)
        assert second.public_url == "https://second.example.net"
        assert second.state == "up" and second.pid == first.pid and second.since == first.since
        assert all(s.state == "up" for s in seen.all[mark:])  # no restart, no gap in between
    finally:
        await tunnel.stop()


async def test_a_flood_of_output_stays_bounded_and_the_url_is_still_found(
    tmp_path: Path, receiver: str
) -> None:
    # Megabytes of log lines (with secrets), the URL in the middle of them, then more.
    script = tmp_path / "flood.py"
    script.write_text(
        "import sys, time\n"
        "line = 'INF connection 3f2a registered location=fra08 token=abcdefgh1234 ' * 3 + '\\n'\n"
        "block = line * 2000\n"
        "for _ in range(10):\n"
        "    sys.stdout.write(block)\n"
        "sys.stdout.write('\\x1b[32mtunnel at https://flood.example.net\\x1b[0m\\n')\n"
        "sys.stdout.flush()\n"
        "while True:\n"
        "    sys.stdout.write(block)\n"
        "    sys.stdout.flush()\n"
    )
    seen = Seen()
    tunnel = CommandTunnel("command", [sys.executable, str(script)], local_url=receiver, on_change=seen)
    try:
        await tunnel.start()
        up = await seen.until(is_up, within=30)
        assert up.public_url == "https://flood.example.net"
        mark = len(seen.all)
        dropped = await seen.until(
            lambda s: any("[output dropped: more than 256 KiB a second" in x for x in s.output), after=mark
        )
        assert len(dropped.output) <= 200 and all(len(x) <= 2000 for x in dropped.output)
        assert not any("abcdefgh1234" in x for x in dropped.output)  # masked
        assert up.pid is not None and not gone(up.pid)  # the program runs on (it waits on its pipe)
    finally:
        await tunnel.stop()

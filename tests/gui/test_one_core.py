"""The window runs the same core as `serve`: what the CLI changes while it runs (a signing
secret, a setting) applies in the window without a restart, and the two processes changing
different settings at the same time lose neither change.

The window is built in this process on the Qt loop, over the real settings files of a
temporary data dir; the CLI runs as real subprocesses, the sandbox platform on loopback.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from pilot_desktop.core.signature import HEADER, sign
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.deadlines import set_deadlines
from pilot_desktop.services.paths import resolve
from pilot_desktop.ui.main_window import MainWindow
from tests.gui.support import close_app, open_window
from tests.sandbox.conftest import body

BIN = Path(sys.executable).parent / "pilot-desktop"
APPLIES_WITHIN_S = 5.0


async def cli(data: Path, *args: str, stdin: str = "") -> Any:
    """`pilot-desktop ARGS --data-dir DATA` without blocking the loop (the sandbox and the
    window's receiver answer on it meanwhile); the parsed JSON with --json."""
    proc = await asyncio.create_subprocess_exec(
        str(BIN), *args, "--data-dir", str(data),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{out.decode()}\n{err.decode()}"
    return json.loads(out) if "--json" in args else None


async def eventually(check: Callable[[], Any], what: str) -> float:
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > APPLIES_WITHIN_S:
            raise AssertionError(f"{what} did not apply within {APPLIES_WITHIN_S} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@asynccontextmanager
async def window_on(data: Path) -> AsyncIterator[tuple[AppCore, MainWindow]]:
    """The real window's core over the profile's files, listening on any free port."""
    paths = resolve(data)
    core = AppCore(paths, Config.open(paths), CoreOptions(port=0))
    window = await open_window(core)
    try:
        yield core, window
    finally:
        await close_app(window, core)


async def test_a_secret_changed_by_the_cli_applies_in_the_running_window(data_dir: Path) -> None:
    sandbox = Sandbox(seed=7, numbers=2, time_scale=0.0, retry_window=0.0)
    await sandbox.start()
    number = sandbox.numbers[0].id
    try:
        await cli(
            data_dir, "accounts", "add", "--base-url", sandbox.base_url, "--json", stdin=sandbox.tenant_key
        )
        async with window_on(data_dir) as (core, _window):
            await cli(data_dir, "public-url", core.runtime.base_url)
            hook = await cli(data_dir, "webhooks", "create", "-n", number, "--all-events", "--json")

            async def status(secret: str) -> int:
                raw = json.dumps(body("message.received", number, f"{secret}-{time.monotonic_ns()}")).encode()
                async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
                    resp = await client.post(hook["url"], content=raw, headers={HEADER: sign(raw, secret)})
                return resp.status_code

            assert await status("anything") == 200  # no secret stored yet: accepted unverified
            await cli(data_dir, "webhooks", "update", hook["id"], "--secret-stdin", stdin="whsec_one")

            async def first() -> bool:
                return await status("whsec_one") == 200 and await status("anything") == 401

            await eventually(first, "the first secret")
            await cli(data_dir, "webhooks", "update", hook["id"], "--secret-stdin", stdin="whsec_two")

            async def second() -> bool:
                return await status("whsec_two") == 200

            await eventually(second, "the new secret")
            assert await status("whsec_one") == 401  # the old one no longer checks the route
    finally:
        await sandbox.stop()


async def test_the_cli_and_the_window_changing_different_settings_lose_neither(data_dir: Path) -> None:
    async with window_on(data_dir) as (core, window):
        prefs = core.profile.settings
        urls = [f"https://tunnel-{i}.example.com" for i in range(6)]

        cli_done = asyncio.Event()

        async def window_changes() -> None:
            i = 0
            while not cli_done.is_set():  # the Delivery tab's Deadlines…, over and over
                i += 1
                set_deadlines(prefs, 15, 1 + i % 100)
                await asyncio.sleep(0.02)
            set_deadlines(prefs, 15, 777)  # and once more after the CLI's last change

        window_side = asyncio.ensure_future(window_changes())
        for url in urls:  # meanwhile the CLI sets the public URL, a process of its own
            await cli(data_dir, "public-url", url)
        cli_done.set()
        await window_side
        on_disk = json.loads((data_dir / "settings.json").read_text())
        assert on_disk["public_url"] == urls[-1]
        assert on_disk["messages"]["stuck_sent_minutes"] == 777

        async def seen() -> bool:
            return prefs.value.public_url == urls[-1] and core.webhooks.target() is not None

        await eventually(seen, "the CLI's public URL in the window")
        assert prefs.value.messages.stuck_sent_minutes == 777
        # What the window shows follows: the Webhooks pane's public URL field.
        webhooks = window.webhooks
        assert webhooks is not None
        assert webhooks.public_url.text() == urls[-1]  # type: ignore[attr-defined]

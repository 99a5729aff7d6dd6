"""The application core's stages: a failed stage leaves the others running, and stopping
always drains the writer, whatever stage fails on the way."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.number_poller import NumberPolling
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets


def core_on(folder: Path, **options: object) -> AppCore:
    paths = resolve(folder)
    return AppCore(
        paths, Config.open(paths), CoreOptions(port=0, watch_s=0.1, **options), secrets=MemorySecrets()
    )  # type: ignore[arg-type]


async def eventually(check: object, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "did not happen in time"
        await asyncio.sleep(0.05)


async def test_a_damaged_store_still_follows_the_settings_and_says_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "pilot-desktop.sqlite3").write_bytes(b"not a database" * 100)
    core = core_on(tmp_path)
    problems: list[str] = []
    core.on_problem = problems.append
    await core.start()
    try:
        assert core.store_error is not None and "damaged" in core.store_error
        assert core.reads is None and not core.listening
        # The CLI sets the public URL meanwhile: the core (the window over it) follows.
        Config.open(resolve(tmp_path)).settings.update({"public_url": "https://t.example.com"})
        await eventually(lambda: core.webhooks.target() is not None)
        # A settings file broken by hand is said, once, and the last good values stay.
        (tmp_path / "settings.json").write_text('{"version": 4, "receiver": {"port": "x"}}')
        await eventually(lambda: bool(problems))
        assert "receiver.port" in problems[0] and len(problems) == 1
        assert core.profile.settings.value.public_url == "https://t.example.com"
    finally:
        await core.stop()


async def test_stopping_drains_the_writer_even_when_a_stage_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: NumberPolling) -> None:
        raise RuntimeError("a bug in a stage")

    monkeypatch.setattr(NumberPolling, "stop", broken)
    core = core_on(tmp_path)
    await core.start()
    assert core.listening and core.runtime.writer is not None and core.runtime.bound is not None
    writer, port = core.runtime.writer, core.runtime.bound[1]
    await core.stop()
    assert not writer.alive  # drained and stopped
    with socket.socket() as probe:  # the receiver let go of its port
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    await core.stop()  # idempotent

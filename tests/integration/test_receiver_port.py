"""The receiver's port, recovered while running: a busy port tried again on demand
(`retry_listen`), another port taken at once (`change_port`: saved, and nothing changed when
it cannot listen there), receiver.host/port changed in settings.json by another process
applied live, number polling going on whatever the receiver does, and the tunnel forwarding
to the new port."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.core import AppCore
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.runtime import ReceiverStartError
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.store.reads import Reads
from tests.integration.serving import Server
from tests.integration.test_tunnel_path import FORWARD
from tests.integration.watch_support import core_on, eventually

EVENT = {"event": "message.received", "data": {"id": "in_1", "numberId": "num_A"}}


def held() -> socket.socket:
    """A port another program listens on (no SO_REUSEADDR: binding it again fails)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def holder() -> Iterator[socket.socket]:
    sock = held()
    yield sock
    sock.close()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(seed=5, numbers=2, time_scale=0.0)
    await sb.start()
    try:
        yield sb
    finally:
        await sb.stop()


def on_port(folder: Path, port: int, **options: object) -> AppCore:
    """A core whose receiver.port is in its settings file (no serve --port override)."""
    return core_on(folder, settings={"receiver.port": port}, port=None, **options)


async def post(core: AppCore) -> int:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        return (await client.post(core.hook_url, json=EVENT)).status_code


def polls(folder: Path) -> int:
    reads = Reads.open(folder)
    try:
        return sum(1 for s in reads.number_summaries(time.time()) if s.last_poll_at is not None)
    finally:
        reads.close()


async def test_polling_runs_while_the_port_is_busy_and_retry_takes_the_freed_port(
    tmp_path: Path, holder: socket.socket, sandbox: Sandbox
) -> None:
    secrets = MemorySecrets()
    await Accounts(Config.open(resolve(tmp_path)).state, secrets).add(
        sandbox.tenant_key, base_url=sandbox.base_url
    )
    port = holder.getsockname()[1]
    # Retries far apart: what listens below is the Retry, not the timer.
    core = core_on(tmp_path, settings={"receiver.port": port}, port=None, secrets=secrets, listen_retry_s=600)
    told: list[bool] = []
    core.on_receiver_changed.append(lambda: told.append(core.listening))
    await core.start()
    try:
        assert not core.listening and core.port_in_use and core.receiver_error
        assert core.polling is not None and core.polling.running  # whatever the receiver does
        await eventually(lambda: polls(tmp_path) == 2, what="both numbers polled while the port is busy")
        assert not await core.retry_listen()  # still held: still not listening, and says why
        assert "in use" in (core.receiver_error or "")
        holder.close()
        assert await core.retry_listen()
        assert core.listening and core.receiver_error is None and not core.port_in_use
        assert core.runtime.bound == ("127.0.0.1", port)
        assert told and told[-1] is True
        assert await post(core) == 200
        assert core.gaps.current is None  # the receiver_stopped gap ended
    finally:
        await core.stop()


async def test_change_port_listens_there_at_once_saves_it_and_refuses_a_busy_one(
    tmp_path: Path, holder: socket.socket
) -> None:
    first = free_port()
    core = on_port(tmp_path, first)
    told: list[str | None] = []
    core.on_receiver_changed.append(lambda: told.append(core.hook_url if core.listening else None))
    await core.start()
    try:
        assert core.runtime.bound == ("127.0.0.1", first)
        second = free_port()
        await core.change_port(second)
        assert core.runtime.bound == ("127.0.0.1", second) and f":{second}/hooks/" in core.hook_url
        assert told[-1] == core.hook_url
        assert await post(core) == 200
        await eventually(lambda: refused(first), what="the old socket let go")
        saved = Config.open(resolve(tmp_path)).settings.value.receiver
        assert (saved.host, saved.port) == ("127.0.0.1", second)
        assert f":{second}/hooks/" in core.real_hook_url  # the URL to give Pilot Status follows

        busy = holder.getsockname()[1]
        with pytest.raises(ReceiverStartError, match="in use"):
            await core.change_port(busy)
        with pytest.raises(SettingsError, match=r"receiver\.port"):
            await core.change_port(70000)
        # Nothing changed: still listening, still saved where it was.
        assert core.runtime.bound == ("127.0.0.1", second) and core.receiver_error is None
        assert await post(core) == 200
        assert Config.open(resolve(tmp_path)).settings.value.receiver.port == second
    finally:
        await core.stop()


async def test_a_port_changed_in_the_settings_file_by_another_process_applies_live(
    tmp_path: Path, holder: socket.socket
) -> None:
    core = on_port(tmp_path, free_port(), listen_retry_s=0.2)
    await core.start()
    other = Config.open(resolve(tmp_path))  # as the CLI or the settings dialog would
    try:
        new = free_port()
        other.settings.update({"receiver.port": new})
        await eventually(lambda: core.runtime.bound == ("127.0.0.1", new), what="the move to the new port")
        assert await post(core) == 200

        # A busy port in the file: still receiving on the old one, saying why, until it frees.
        busy = holder.getsockname()[1]
        other.settings.update({"receiver.port": busy})
        await eventually(lambda: core.receiver_error is not None, what="the failed move said")
        assert "in use" in (core.receiver_error or "") and f"Still receiving on 127.0.0.1:{new}" in (
            core.receiver_error or ""
        )
        assert core.runtime.bound == ("127.0.0.1", new) and await post(core) == 200
        holder.close()
        await eventually(lambda: core.runtime.bound == ("127.0.0.1", busy), what="the freed port taken")
        assert core.receiver_error is None
        await eventually(lambda: refused(new), what="the old socket let go")
        assert await post(core) == 200
    finally:
        await core.stop()


async def test_the_tunnel_forwards_to_the_new_port(tmp_path: Path) -> None:
    settings = {"receiver.port": free_port(), "tunnel.mode": "command", "tunnel.command": FORWARD}
    core = core_on(tmp_path, settings=settings, port=None)
    await core.start()
    try:
        await eventually(lambda: core.tunnel.status.state == "up", what="the tunnel")
        await core.change_port(free_port())
        url = await eventually(
            lambda: core.tunnel.status.state == "up" and core.tunnel.status.public_url,
            what="the tunnel built again for the new port",
        )
        token = core.config.state.value.token
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            resp = await client.post(f"{url}/hooks/{token}", json=EVENT)
        assert resp.status_code == 200, resp.text  # through the tunnel, to the new port
    finally:
        await core.stop()


def test_serve_moves_its_receiver_when_the_settings_file_names_another_port(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "served"
    data.mkdir()
    Config.open(resolve(data)).settings.update({"receiver.port": free_port()})
    server = serve(data_dir=data, port=None)  # the settings decide the port, as they do live
    assert server.post(EVENT).status_code == 200
    new = free_port()
    Config.open(resolve(data)).settings.update({"receiver.port": new})  # as another process would
    deadline = time.monotonic() + 20
    while not any(line.startswith(f"Listening: http://127.0.0.1:{new}/hooks/") for line in server.lines):
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.05)
    with httpx.Client(trust_env=False, timeout=10) as client:
        resp = client.post(f"http://127.0.0.1:{new}/hooks/{server.token}", json=EVENT)
    assert resp.status_code == 200
    assert refused(int(server.base.rsplit(":", 1)[1]))

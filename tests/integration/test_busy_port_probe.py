"""Whatever holds the receiver's port is asked whether it is this profile's receiver without
being told the hook token (with the token, it could post events here); a program that only
echoes the probe is not taken for this profile: the gap is recorded."""

from __future__ import annotations

import socket
from pathlib import Path

from aiohttp import web

from pilot_desktop.core.urls import PROBE_HEADER, PROBE_RECEIVER
from tests.integration.test_gaps import core_on, eventually


async def test_the_port_holder_never_sees_the_token_and_cannot_fake_the_answer(tmp_path: Path) -> None:
    seen: list[str] = []

    async def squatter(request: web.Request) -> web.Response:  # answers like a receiver would
        seen.append(f"{request.method} {request.path_qs} {dict(request.headers)}")
        nonce = request.headers.get(PROBE_HEADER, "")
        return web.json_response({"receiver": PROBE_RECEIVER, "nonce": nonce, "instance": "x"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", squatter)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    core = core_on(tmp_path, port)
    try:
        await core.start()
        assert not core.listening and not core.port_shared  # not taken for this profile
        await eventually(lambda: core.gaps.current is not None)  # so nothing receiving is a gap
        token = core.config.state.value.token
        assert seen, "the holder was asked"
        assert all(token not in line for line in seen), seen
    finally:
        await core.stop()
        await runner.cleanup()

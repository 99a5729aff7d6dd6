"""Helpers for the tests of the watch over the path to the receiver (tunnel, re-pointing):
a real core on a temporary data folder, a real sandbox on the same loop, its webhooks read
back over HTTP."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.catch_up import CatchUpSettings
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets

FORWARDER = Path(__file__).resolve().parent.parent / "tunnel_forwarder.py"
# The stand-in tunnel program (tests/tunnel_forwarder.py) as the custom command template.
FORWARD_TEMPLATE = f"{sys.executable} {FORWARDER} --to {{local_url}}"


async def eventually(check: Callable[[], Any], seconds: float = 30.0, what: str = "it") -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while not (value := check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out after {seconds} s waiting for {what}"
        await asyncio.sleep(0.05)
    return value


def core_on(
    folder: Path,
    *,
    settings: dict[str, Any] | None = None,
    secrets: MemorySecrets | None = None,
    **options: Any,
) -> AppCore:
    """A core on `folder` (any free port unless given), its settings patched first."""
    paths = resolve(folder)
    config = Config.open(paths)
    if settings:
        config.settings.update(settings)
    options.setdefault("port", 0)
    options.setdefault("watch_s", 0.1)
    options.setdefault("catch_up", CatchUpSettings(settle_s=0.0, pace_s=0.0))
    return AppCore(paths, config, CoreOptions(**options), secrets=secrets or MemorySecrets())


async def platform_hooks(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """Every webhook as the sandbox's API answers it (tenant key), by id."""
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10, trust_env=False) as api:
        resp = await api.get("/v1/webhooks", headers={"x-api-key": sandbox.tenant_key})
    assert resp.status_code == 200, resp.text
    return {hook["id"]: hook for hook in resp.json()}


async def add_hook(sandbox: Sandbox, number_id: str, url: str, events: list[str] | None = None) -> str:
    """A webhook made on the platform directly (by another tool, or an older run of the app)."""
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10, trust_env=False) as api:
        resp = await api.post(
            "/v1/webhooks",
            headers={"x-api-key": sandbox.number_keys[number_id]},
            json={"url": url, "events": events or ["*"], "name": "made elsewhere"},
        )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def rows(db: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    """Read the store straight from its file (read-only), also after the core stopped."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()

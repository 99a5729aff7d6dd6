"""The app's webhook administration over a real sandbox platform on loopback and a real store
(the writer process, SQLite in tmp_path), for the drift audit and subscribe-all tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.config import Config
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.services.signing import SigningSecrets
from pilot_desktop.services.webhook_admin import WebhookAdmin
from pilot_desktop.store.db import open_store
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.writer import Writer

PUBLIC = "https://tunnel.example.test"


@dataclass
class App:
    config: Config
    admin: WebhookAdmin
    writer: Writer
    reads: Reads
    sandbox: Sandbox
    api: httpx.AsyncClient  # the platform's REST API with the tenant key: "behind the app's back"

    @property
    def token(self) -> str:
        return self.config.state.value.token

    def number(self, provider: str, skip: int = 0) -> str:
        return [n.id for n in self.sandbox.numbers if n.provider == provider][skip]

    async def behind(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        r = await self.api.request(method, path, json=body or None)
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result

    def platform(self, webhook_id: str) -> Any:
        return self.sandbox.state.webhooks.get(webhook_id)


@asynccontextmanager
async def app_on_sandbox(tmp_path: Path, *, numbers: int = 3, seed: int = 3) -> AsyncIterator[App]:
    sandbox = Sandbox(seed=seed, numbers=numbers, time_scale=0.0)
    await sandbox.start()
    paths = resolve(tmp_path / "data")
    config = Config.open(paths)
    config.settings.update({"public_url": PUBLIC})
    secrets = MemorySecrets()
    accounts = Accounts(config.state, secrets)
    signing = SigningSecrets(config.state, secrets)
    path = await asyncio.to_thread(open_store, paths.data_dir)
    writer = Writer(path, asyncio.get_running_loop())
    writer.start()
    reads = Reads(path)
    admin = WebhookAdmin(config, accounts, signing, lambda: reads)
    headers = {"x-api-key": sandbox.tenant_key}
    api = httpx.AsyncClient(base_url=sandbox.base_url, headers=headers, timeout=10, trust_env=False)
    try:
        yield App(config, admin, writer, reads, sandbox, api)
    finally:
        await api.aclose()
        reads.close()
        await writer.stop()
        await sandbox.stop(drain_timeout=0)


async def eventually(check: Callable[[], Any], seconds: float = 20.0, what: str = "it") -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while not (value := check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return value

"""The Webhooks pane with the core's watch (tunnel, reachability, re-pointing, drift audit)
over a real core on a temporary data folder (real settings files) and a real sandbox."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.catch_up import CatchUpSettings
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.ui.app import make_app
from pilot_desktop.ui.panes.webhooks.pane import WebhooksPane
from pilot_desktop.ui.panes.webhooks.sections import Sections
from pilot_desktop.ui.panes.webhooks.watch_parts import WatchParts
from tests.gui.support import until


@dataclass
class WatchEnv:
    pane: WebhooksPane
    core: AppCore
    sandbox: Sandbox
    secrets: MemorySecrets

    @property
    def sections(self) -> Sections:
        return self.pane.sections

    async def platform(self) -> dict[str, dict[str, Any]]:
        """Every webhook as the sandbox's API answers it (tenant key), by id."""
        async with httpx.AsyncClient(base_url=self.sandbox.base_url, timeout=10, trust_env=False) as api:
            resp = await api.get("/v1/webhooks", headers={"x-api-key": self.sandbox.tenant_key})
        assert resp.status_code == 200, resp.text
        return {hook["id"]: hook for hook in resp.json()}


@asynccontextmanager
async def watch_env(
    folder: Path,
    *,
    numbers: int = 2,
    settings: dict[str, Any] | None = None,
    manual_url: bool = True,
    accounts: bool = True,
    size: tuple[int, int] = (1200, 800),
    **options: Any,
) -> AsyncIterator[WatchEnv]:
    """`manual_url`: the receiver's own address as the public URL (the sandbox is local)."""
    make_app()
    paths = resolve(folder)
    config = Config.open(paths)
    config.settings.update({"receiver.port": 0, **(settings or {})})
    options.setdefault("watch_s", 0.1)
    options.setdefault("catch_up", CatchUpSettings(settle_s=0.0, pace_s=0.0))
    secrets = MemorySecrets()
    core = AppCore(paths, config, CoreOptions(**options), secrets=secrets)
    sandbox = Sandbox(seed=5, numbers=numbers, time_scale=0.0, retry_window=0.0)
    await sandbox.start()
    await core.start()
    if manual_url:
        config.settings.update({"public_url": core.runtime.base_url})
    if accounts:
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
    pane = WebhooksPane(core.webhooks, local_base=core.runtime.base_url, instance=core.options.instance)
    pane.attach_watch(WatchParts.of(core))
    pane.resize(*size)
    pane.show()
    await pane.settled()
    try:
        yield WatchEnv(pane, core, sandbox, secrets)
    finally:
        pane.shutdown()
        if pane.dialog is not None:
            pane.dialog.close()
        pane.close()
        pane.deleteLater()
        await core.stop()
        await sandbox.stop()
        await asyncio.sleep(0.05)
        gc.collect()


__all__ = ["WatchEnv", "until", "watch_env"]

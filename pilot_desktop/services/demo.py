"""Demo mode: the built-in sandbox feeding this app's own receiver.

A first launch (no account yet) shows the product working: the sandbox starts in this
process, and this app subscribes a webhook per sandbox number to `"*"` through the
sandbox's REST API, exactly as it would on the real platform, pointed at its own
receiver. The webhooks' signing secrets, which the API never returns, come from the
sandbox's console side and are registered with the receiver, so every demo delivery is
signature-checked. Demo data lives in its own data folder and never mixes with real
history.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

import httpx

from pilot_desktop.api.errors import ApiError
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.accounts import AccountError, Accounts
from pilot_desktop.services.config import Config
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.services.settings import ReceiverSettings, Settings
from pilot_desktop.services.signing import SigningSecrets
from pilot_desktop.services.state import State
from pilot_desktop.services.webhooks import route_of
from pilot_desktop.store.db import DB_NAME

log = logging.getLogger(__name__)

DEMO_NUMBERS = 3
DEMO_RATE = 3.0  # events per second over all numbers: lively, still readable


class DemoError(Exception):
    """The sandbox could not be started or configured; the message says why."""


def demo_paths(paths: AppPaths) -> AppPaths:
    root = paths.data_dir / "demo"
    return AppPaths(root, root, paths.log_dir)


def demo_config() -> Config:
    """In memory: a fresh token and any free port, so the demo never answers on the real
    hook URL, and nothing of it outlives the process."""
    return Config.memory(Settings(receiver=ReceiverSettings(port=0)), State())


def reset_demo_store(paths: AppPaths) -> None:
    """Each demo starts clean: last launch's simulated numbers would contradict this one's,
    and demo data must not grow without end. Only the demo folder's database is removed."""
    for suffix in ("", "-wal", "-shm"):
        (paths.data_dir / f"{DB_NAME}{suffix}").unlink(missing_ok=True)


@dataclass
class Demo:
    sandbox: Sandbox
    webhook_ids: list[str] = field(default_factory=list)

    def secret_of(self, webhook_id: str) -> str | None:
        """The demo's stand-in for copying a new webhook's secret from the dashboard."""
        hook = self.sandbox.state.webhooks.get(webhook_id)
        return hook.secret if hook is not None else None

    async def stop(self) -> None:
        await self.sandbox.stop()


async def start_demo(
    runtime: Runtime, config: Config, accounts: Accounts, signing: SigningSecrets, *, seed: int | None = None
) -> Demo:
    """Start the sandbox and point one `"*"` webhook per number at `runtime`'s receiver.

    The sandbox's tenant key is added as an account of the demo's `config` and the
    webhooks' secrets are stored with `signing`, so the Webhooks pane manages the sandbox
    exactly as it would a real account. The public URL is the receiver's own address: the
    sandbox runs on this machine and needs no tunnel."""
    # The scenario clock starts paused: the webhooks must exist before the first events
    # (number.created at t=0), as they would on the platform before a number is created.
    sandbox = Sandbox(
        seed=secrets.randbelow(1_000_000) if seed is None else seed,
        numbers=DEMO_NUMBERS,
        rate=DEMO_RATE,
        time_scale=0.0,
    )
    try:
        await sandbox.start()
    except OSError as exc:
        raise DemoError(f"The demo sandbox could not start: {exc}") from exc
    demo = Demo(sandbox)
    try:
        # trust_env=False: a corporate HTTP_PROXY must not capture calls to 127.0.0.1.
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10, trust_env=False) as client:
            for number in sandbox.numbers:
                url = f"{runtime.hook_url}/{number.id}"
                resp = await client.post(
                    "/v1/webhooks",
                    headers={"x-api-key": sandbox.number_keys[number.id]},
                    json={
                        "url": url,
                        "name": f"Pilot Desktop demo ({number.name})",
                        "events": ["*"],
                    },
                )
                resp.raise_for_status()
                webhook_id = resp.json()["id"]
                demo.webhook_ids.append(webhook_id)
                # Checks the route of this webhook's URL (its number), as a real one would.
                signing.set(webhook_id, sandbox.webhook_secret(webhook_id), route_of(url, runtime.token))
        config.settings.update({"public_url": runtime.base_url})
        await accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Sandbox tenant key")
    except (httpx.HTTPError, KeyError, ValueError, ApiError, AccountError) as exc:
        await sandbox.stop()
        raise DemoError(f"The demo sandbox could not be configured: {exc}") from exc
    sandbox.time_scale = 1.0
    log.info("demo: sandbox at %s feeding %d webhooks", sandbox.base_url, len(demo.webhook_ids))
    return demo

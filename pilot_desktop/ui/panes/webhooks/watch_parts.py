"""The core's watch over the path from the platform to this receiver, as the Webhooks pane
uses it: the tunnel, reachability, re-pointing, the drift audit, the reads and the secret
store (where the ngrok authtoken goes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pilot_desktop.services.config import Config
    from pilot_desktop.services.core import AppCore
    from pilot_desktop.services.drift import DriftAudit
    from pilot_desktop.services.reachability import Reachability
    from pilot_desktop.services.repoint import Repointer
    from pilot_desktop.services.secrets import SecretStore
    from pilot_desktop.services.tunnel import TunnelManager
    from pilot_desktop.store.reads import Reads


@dataclass(frozen=True)
class WatchParts:
    config: Config  # where tunnel.* is saved (the core's: the demo's own in the demo)
    tunnel: TunnelManager
    reachability: Reachability
    repoint: Repointer
    drift: DriftAudit
    reads: Reads | None
    secrets: SecretStore  # the operator's secret store (the authtoken outlives the demo)
    local: Callable[[], str]  # the receiver's own address now, e.g. http://127.0.0.1:8765 (it may move)
    submit: Callable[[Any], Awaitable[object]]  # the store's writer (the URL history)
    demo: bool = False  # the sandbox is on this machine: no tunnel to choose

    @property
    def local_base(self) -> str:
        return self.local()

    @classmethod
    def of(cls, core: AppCore) -> WatchParts:
        return cls(
            config=core.config,
            tunnel=core.tunnel,
            reachability=core.reachability,
            repoint=core.repoint,
            drift=core.drift,
            reads=core.reads,
            secrets=core.profile_secrets,
            local=lambda: core.runtime.base_url,
            submit=core._submit,
            demo=core.options.demo,
        )

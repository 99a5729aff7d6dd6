"""Webhook rules the pane and the CLI share: event warnings, where this app receives,
retargeting plans.

Managed webhooks point at `<public>/hooks/<token>/<number id>`: the route names the
number, so what the receiver stored can be set beside a webhook's delivery logs
(webhook_logs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from yarl import URL

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.catalogue import ALL_EVENTS
from pilot_desktop.core.urls import http_base
from pilot_desktop.services.config import Config
from pilot_desktop.tunnel.public_url import hook_url, normalize_public_url, points_here

EMPTY_WARNING = "No events chosen: Pilot Status delivers nothing to a webhook with an empty list."
HEALTH_NOTE = (
    "Number health alerts (blocked, degraded, shadowban, recovered) are only delivered to "
    'webhooks subscribed to all events ("*").'
)


def events_warnings(events: list[str]) -> list[str]:
    if not events:
        return [EMPTY_WARNING]
    if ALL_EVENTS not in events and any(e.startswith("number.") for e in events):
        return [HEALTH_NOTE]  # someone following a number's state would expect them
    return []


def describe_events(events: list[str]) -> str:
    if ALL_EVENTS in events:
        return "all events (*)"
    if not events:
        return "none (delivers nothing)"
    return ", ".join(events)


@dataclass(frozen=True)
class Target:
    """Where this app receives: the public base URL and the receiver's token."""

    public_url: str
    token: str

    @property
    def bare_url(self) -> str:
        """The hook URL without a route (webhooks made elsewhere; `hook-url` prints it)."""
        return f"{self.public_url}/hooks/{self.token}"

    def url_for(self, number_id: str) -> str:
        return hook_url(self.public_url, self.token, number_id)

    def points_here(self, url: str) -> bool:
        return points_here(url, self.public_url, self.token)


def local_hook_url(config: Config, *, host: str | None = None, port: int | None = None) -> str:
    """The receiver's own hook URL on this machine (host and port: overrides of the settings)."""
    receiver = config.settings.value.receiver
    address = http_base(host or receiver.host, receiver.port if port is None else port)
    return f"{address}/hooks/{config.state.value.token}"


# The managed tunnel this process runs, per configuration (services/tunnel.py, the lease
# holder): its own answer (None while it is not up) wins over the state file.
_LIVE: WeakKeyDictionary[Config, Callable[[], str | None]] = WeakKeyDictionary()


def follow_live_tunnel(config: Config, answer: Callable[[], str | None] | None) -> None:
    """From now on `public_url_of(config)` outside manual mode is `answer()` (None: the state's)."""
    if answer is None:
        _LIVE.pop(config, None)
    else:
        _LIVE[config] = answer


def public_url_of(config: Config, mode: str | None = None) -> str | None:
    """Where the platform reaches this app: the typed public URL (tunnel mode manual), else
    the tunnel's: this process's own while it runs the folder's tunnel (None while it is not
    up), or the URL the folder's tunnel reported (state `tunnel_url`, services/tunnel.py).
    `mode`: this run's tunnel mode when it overrides the settings' (serve --tunnel)."""
    if (mode or config.settings.value.tunnel.mode) == "manual":
        return config.settings.value.public_url
    live = _LIVE.get(config)
    return live() if live is not None else config.state.value.tunnel_url


def target_of(config: Config, mode: str | None = None) -> Target | None:
    """Where this app receives, once a public URL is set (or the tunnel reported one)."""
    public = public_url_of(config, mode)
    return Target(public, config.state.value.token) if public else None


def set_public_url(config: Config, text: str | None) -> str | None:
    """Save the tunnel's public base URL (None or blank forgets it); ValueError says what is
    wrong with it. Setting one marks the real receiver as wanted: the tunnel forwards to it."""
    value = normalize_public_url(text) if text and text.strip() else None
    config.settings.update({"public_url": value})
    if value:
        config.mark_real_receiver()
    return value


def route_of(url: str, token: str) -> str | None:
    """The route a hook URL names (`…/hooks/<token>/<route>`), or None."""
    parts = [p for p in URL(url).path.split("/") if p]
    for i in range(len(parts) - 1):
        if parts[i] == "hooks" and parts[i + 1] == token:
            return parts[i + 2] if len(parts) > i + 2 else ""
    return None


@dataclass(frozen=True)
class Change:
    number_id: str
    webhook: Webhook
    new_url: str
    recommended: bool  # an old URL of this app (a tunnel that moved), not another system
    reason: str


def plan_retarget(hooks: Iterable[Webhook], target: Target) -> list[Change]:
    """The preview of "point all my webhooks at this app": every webhook not already
    pointing here, with its new URL. Webhooks on an old tunnel URL of this app (same
    token) are recommended; others point at other systems and are left unticked."""
    changes = []
    for hook in hooks:
        if target.points_here(hook.url) or hook.number_id is None:
            continue
        route = route_of(hook.url, target.token)
        mine = route is not None
        new = hook_url(target.public_url, target.token, route) if route else target.url_for(hook.number_id)
        reason = "an old address of this app (the tunnel moved)" if mine else "points at another system"
        changes.append(Change(hook.number_id, hook, new, mine, reason))
    return changes

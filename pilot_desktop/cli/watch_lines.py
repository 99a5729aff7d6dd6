"""serve's console lines for the watch over the path to the receiver: the tunnel's state,
a new public URL, re-pointing done or pending, reachability turning good or bad."""

from __future__ import annotations

from collections.abc import Callable

from pilot_desktop.services.core import AppCore
from pilot_desktop.services.reachability import Reach
from pilot_desktop.services.repoint import RepointResult
from pilot_desktop.tunnel.ngrok_sdk import MODE as NGROK_SDK
from pilot_desktop.tunnel.ngrok_sdk import wants_authtoken
from pilot_desktop.tunnel.providers import RETRIED, TunnelStatus

MOVE_BY_HAND = (
    "move them with `pilot-desktop webhooks update ID --here` (one) or `pilot-desktop webhooks "
    "subscribe-all` (a preview; with --yes it re-points them all and gives a number without one "
    "a webhook); to have them moved at each new public URL from now on: "
    "`pilot-desktop tunnel set MODE --auto-repoint`"
)


def start_again(mode: str, state: str, error: str | None, *, in_serve: bool) -> str:
    """What the CLI adds to a failed tunnel's sentence: the layers below say what to fix, in
    words the window shares; how to do it from a terminal is said here. A tunnel program is
    tried again by itself (its sentence says so); ngrok in-process is not."""
    if state != "failed" or (error is not None and RETRIED in error):
        return ""
    store = (
        " The command: `pilot-desktop tunnel authtoken` (the token on stdin)."
        if mode == NGROK_SDK and wants_authtoken(error)
        else ""
    )
    who = (
        "stop serve (Ctrl+C) and start it again"
        if in_serve
        else "start it again where it runs (serve: stop it and start it again)"
    )
    return f"{store} Then {who}: a failed tunnel is not started again by itself."


class WatchLines:
    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._told: tuple[str, str | None, str | None, int | None] | None = None
        self._url: str | None = None

    def follow(self, core: AppCore) -> None:
        self._url = core.tunnel.public_url  # the last run's: a new one is said as new
        core.tunnel.subscribe(self.tunnel)
        if core.watch.running:
            self.tunnel(core.tunnel.status)
        core.repoint.follow(self.repointed)
        core.reachability.subscribe(self.reach)

    def tunnel(self, status: TunnelStatus) -> None:
        told = (status.state, status.public_url, status.error, status.pid)
        if told == self._told:
            return  # new output lines only
        self._told = told
        name = f"Tunnel ({status.mode})"
        if status.state == "off" and status.mode != "manual":  # another process runs it
            self._say(f"{name} not run here: {status.error or 'off'}")
        elif status.state == "off":
            where = status.public_url or "none set (pilot-desktop public-url URL)"
            self._say(f"Tunnel: manual, public URL {where}")
        elif status.state == "up":
            pid = f" (pid {status.pid})" if status.pid else ""
            self._say(f"{name} up: {status.public_url}{pid}")
        elif status.state == "starting":
            self._say(f"{name} starting" + (f" (pid {status.pid})" if status.pid else ""))
        elif status.state == "restarting":
            self._say(f"{name} down, restarting: {status.error or 'it stopped'}")
        elif status.state == "failed":
            again = start_again(status.mode, status.state, status.error, in_serve=True)
            self._say(f"{name} failed: {status.error or 'it stopped'}{again}")
        else:
            self._say(f"{name} stopped.")
        if status.public_url and status.public_url != self._url and status.state in ("up", "off"):
            self._url = status.public_url
            self._say(f"New public URL: {status.public_url}")

    def repointed(self, result: RepointResult) -> None:
        if result.moved:
            ids = ", ".join(c.webhook.id for c in result.moved)
            self._say(f"Re-pointed {len(result.moved)} webhook(s) to the new public URL: {ids}")
        for number_id, reason in result.unread:
            self._say(f"Could not read the webhooks of number {number_id} (tried again later): {reason}")
        for change, reason in result.failed:
            self._say(f"Could not re-point webhook {change.webhook.id} (tried again later): {reason}")
        waiting = [c for c in result.pending if c.webhook.id not in {f.webhook.id for f, _ in result.failed}]
        if waiting and not result.moved and not result.failed:
            ids = ", ".join(c.webhook.id for c in waiting)
            self._say(
                f"{len(waiting)} webhook(s) of this app still point at an old URL ({ids}), and "
                f"tunnel.auto_repoint is off: {MOVE_BY_HAND}"
            )

    def reach(self, before: Reach, after: Reach) -> None:
        last = after.last
        if last is None or after.state == before.state:
            return
        if after.state == "reachable":
            ms = f" ({last.latency_ms:.0f} ms)" if last.latency_ms is not None else ""
            self._say(f"Reachable through {after.public_url}{ms}.")
        elif after.state == "unreachable":
            self._say(
                f"Unreachable through {after.public_url} ({after.failures} failed probes, "
                f"{last.diagnosis}): {last.sentence}"
            )
        elif after.state == "failing":
            self._say(f"A probe through {after.public_url} failed ({last.diagnosis}): {last.sentence}")

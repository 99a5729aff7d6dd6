"""Re-pointing after the public URL changes, against a real sandbox platform and a real core
(receiver on loopback, store in tmp_path): this app's webhooks (its token, an old address)
are moved — at once with tunnel.auto_repoint, else listed for the operator's preview —
webhooks of other systems never are, each move or failure is in the URL history, and the
`tunnel` gap opened by the change closes once nothing points at the old address and a probe
through the new one was ok."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.core import AppCore
from pilot_desktop.services.gaps import TUNNEL
from pilot_desktop.services.repoint import RepointResult
from pilot_desktop.services.state import AccountNumber
from pilot_desktop.services.webhook_admin import Listing
from pilot_desktop.services.webhooks import Change
from tests.integration.test_tunnel_path import FORWARD
from tests.integration.watch_support import add_hook, core_on, eventually, platform_hooks

OTHER_SYSTEM = "https://crm.example.com/hooks/pilot-status"


def closed_port() -> int:
    """A loopback port nothing listens on (an old tunnel address, now dead)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    platform = Sandbox(seed=3, numbers=2, time_scale=0.0)
    await platform.start()
    yield platform
    await platform.stop()


async def started(tmp_path: Path, sandbox: Sandbox, old: str, **settings: object) -> AppCore:
    core = core_on(
        tmp_path, settings={"public_url": old, **settings}, probe_interval_s=0.5, repoint_backoff=(0.5,)
    )
    await core.start()
    assert core.listening, core.receiver_error
    await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
    return core


async def test_with_auto_repoint_off_this_apps_webhooks_wait_in_the_preview_until_applied(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    old = f"http://127.0.0.1:{closed_port()}"
    core = await started(tmp_path, sandbox, old)
    try:
        token = core.config.state.value.token
        numbers = [n.id for n in sandbox.numbers]
        mine = {await add_hook(sandbox, n, f"{old}/hooks/{token}/{n}"): n for n in numbers}
        other = await add_hook(sandbox, numbers[0], OTHER_SYSTEM)
        told: list[list[Change]] = []
        core.repoint.subscribe(told.append)

        new = core.runtime.base_url  # the receiver itself: a probe through it reaches it
        core.webhooks.set_public_url(new)

        await eventually(lambda: len(core.repoint.pending) == 2, what="the pending re-points")
        assert {c.webhook.id for c in core.repoint.pending} == set(mine)
        assert told and {c.webhook.id for c in told[-1]} == set(mine)
        hooks = await platform_hooks(sandbox)
        assert {hooks[h]["url"] for h in mine} == {f"{old}/hooks/{token}/{n}" for n in numbers}, (
            "moved unasked"
        )
        assert hooks[other]["url"] == OTHER_SYSTEM
        assert TUNNEL in core.gaps.open_gaps  # the platform still delivers to the old address

        result = await core.repoint.apply(core.repoint.pending)

        assert {c.webhook.id for c in result.moved} == set(mine) and not result.failed
        assert result.probe is not None and result.probe.state == "reachable"
        hooks = await platform_hooks(sandbox)
        for hook_id, number in mine.items():
            assert hooks[hook_id]["url"] == f"{new}/hooks/{token}/{number}"
        assert hooks[other]["url"] == OTHER_SYSTEM
        assert core.repoint.pending == [] and told[-1] == []
        await eventually(lambda: TUNNEL not in core.gaps.open_gaps, what="the tunnel gap to close")
        assert core.reads is not None
        history = core.reads.url_history()
        registered = {
            (r.webhook_id, r.number_id, r.old_url, r.public_url, r.source)
            for r in history
            if r.kind == "registered"
        }
        assert registered == {(h, n, f"{old}/hooks/{token}/{n}", new, "preview") for h, n in mine.items()}
        seen = [r for r in history if r.kind == "seen"]
        assert seen[0].public_url == new and seen[0].source == "manual"
        gaps = [g for g in core.reads.gaps() if g.kind == TUNNEL]
        assert len(gaps) == 1 and gaps[0].ended_at is not None and new in gaps[0].reason
    finally:
        await core.stop()


async def test_with_auto_repoint_on_this_apps_webhooks_move_and_other_systems_never(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    old = f"http://127.0.0.1:{closed_port()}"
    core = await started(tmp_path, sandbox, old, **{"tunnel.auto_repoint": True})
    try:
        token = core.config.state.value.token
        numbers = [n.id for n in sandbox.numbers]
        mine = {await add_hook(sandbox, n, f"{old}/hooks/{token}/{n}"): n for n in numbers}
        # Another system, and another install of Pilot Desktop (another token): never moved.
        foreign = f"{old}/hooks/another-token/{numbers[1]}"
        others = {
            await add_hook(sandbox, numbers[0], OTHER_SYSTEM): OTHER_SYSTEM,
            await add_hook(sandbox, numbers[1], foreign): foreign,
        }

        results: list[RepointResult] = []
        core.repoint.follow(results.append)
        new = core.runtime.base_url
        core.webhooks.set_public_url(new)

        await eventually(
            lambda: all(sandbox.state.webhooks[h].url == f"{new}/hooks/{token}/{n}" for h, n in mine.items()),
            what="this app's webhooks to be re-pointed",
        )
        hooks = await platform_hooks(sandbox)
        assert all(hooks[h]["url"] == f"{new}/hooks/{token}/{n}" for h, n in mine.items())
        for hook_id, url in others.items():
            assert hooks[hook_id]["url"] == url, "a webhook of another system was moved"
        assert core.repoint.pending == []
        await eventually(lambda: TUNNEL not in core.gaps.open_gaps, what="the tunnel gap to close")
        assert core.reads is not None
        reads = core.reads
        registered = await eventually(
            lambda: [r for r in reads.url_history() if r.kind == "registered"][1:] and reads.url_history(),
            what="both moves in the history",
        )
        registered = [r for r in registered if r.kind == "registered"]
        assert {(r.webhook_id, r.source, r.public_url) for r in registered} == {
            (h, "auto", new) for h in mine
        }, registered
        # After the moves a probe through the new URL (one under way is shared) verified the path.
        moved = [r for r in results if r.moved]
        assert moved and all(r.probe is not None and r.probe.state == "reachable" for r in moved), moved
        assert all(r.probe.public_url == new for r in moved if r.probe is not None)
    finally:
        await core.stop()


async def test_a_failed_move_is_recorded_kept_pending_and_retried(tmp_path: Path, sandbox: Sandbox) -> None:
    old = f"http://127.0.0.1:{closed_port()}"
    core = await started(tmp_path, sandbox, old, **{"tunnel.auto_repoint": True})
    try:
        token = core.config.state.value.token
        numbers = [n.id for n in sandbox.numbers]
        mine = {await add_hook(sandbox, n, f"{old}/hooks/{token}/{n}"): n for n in numbers}
        refused = next(iter(mine))
        # The platform fails this move three times: at the URL change and at the next two looks.
        sandbox.faults.inject("PATCH", f"/v1/webhooks/{refused}", 500, count=3)

        new = core.runtime.base_url
        core.webhooks.set_public_url(new)

        assert core.reads is not None
        reads = core.reads
        failed = await eventually(
            lambda: [r for r in reads.url_history() if r.kind == "repoint_failed"], what="the failure"
        )
        assert failed[0].webhook_id == refused and failed[0].detail and failed[0].source == "auto"
        # Tried again later (here every 0.5 s, the backoff of this test) until it is moved.
        await eventually(
            lambda: any(r.kind == "registered" and r.webhook_id == refused for r in reads.url_history()),
            what="the retry",
        )
        hooks = await platform_hooks(sandbox)
        assert all(hooks[h]["url"] == f"{new}/hooks/{token}/{n}" for h, n in mine.items())
        assert sandbox.faults.requests("PATCH", f"/v1/webhooks/{refused}") == 4  # 3 failed, then moved
        failures = [r for r in reads.url_history() if r.kind == "repoint_failed"]
        assert len(failures) == 1, "a retry failing the same way was recorded again"
        await eventually(lambda: TUNNEL not in core.gaps.open_gaps, what="the tunnel gap to close")
    finally:
        await core.stop()


async def test_a_number_that_cannot_be_listed_does_not_hold_the_gap_open_nor_relist_at_every_probe(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The account still names a number the platform no longer has: its webhooks cannot be
    read. The readable numbers' webhooks move, a probe is ok: the `tunnel` gap closes; the
    unreadable number is recorded once and tried again later, not at every probe."""
    core = core_on(
        tmp_path,
        settings={"tunnel.mode": "command", "tunnel.command": FORWARD, "tunnel.auto_repoint": True},
        probe_interval_s=0.3,
        audit_interval_s=3600.0,
        tunnel_backoff=(0.2,),
    )
    await core.start()
    try:
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
        first = await eventually(lambda: core.tunnel.status.state == "up" and core.tunnel.status.public_url)
        for number in sandbox.numbers:
            await core.webhooks.create(number.id, ["*"])
        ghost = AccountNumber(id="num_gone_0000", name="old line")
        core.config.state.update(
            lambda s: {
                "accounts": [a.model_copy(update={"numbers": [*a.numbers, ghost]}) for a in s.accounts]
            }
        )
        pid = core.tunnel.status.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # a quick tunnel comes back on a new URL
        second = await eventually(
            lambda: (
                core.tunnel.status.state == "up"
                and core.tunnel.status.public_url not in (None, first)
                and core.tunnel.status.public_url
            ),
            what="the new URL",
        )
        await eventually(
            lambda: all(h.url.startswith(second) for h in sandbox.state.webhooks.values()), what="the moves"
        )
        await eventually(lambda: TUNNEL not in core.gaps.open_gaps, 15, "the tunnel gap to close")
        assert core.reads is not None
        reads = core.reads
        failed = [r for r in reads.url_history() if r.kind == "repoint_failed"]
        assert [(r.number_id, r.webhook_id) for r in failed] == [(ghost.id, None)], failed
        assert failed[0].detail

        listings = 0
        list_all = core.webhooks.list_all

        async def counted(number: str | None = None) -> Listing:  # the real listing, counted
            nonlocal listings
            listings += 1
            return await list_all(number)

        core.webhooks.list_all = counted  # type: ignore[method-assign]
        count = len(reads.probes())
        await eventually(lambda: len(reads.probes()) >= count + 10, what="ten more probes")
        assert listings == 0, "every number listed again at a probe"
        assert len([r for r in reads.url_history() if r.kind == "repoint_failed"]) == 1
    finally:
        await core.stop()


async def test_a_move_the_platform_keeps_refusing_does_not_hold_the_gap_open(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    old = f"http://127.0.0.1:{closed_port()}"
    core = await started(tmp_path, sandbox, old, **{"tunnel.auto_repoint": True})
    try:
        token = core.config.state.value.token
        numbers = [n.id for n in sandbox.numbers]
        mine = {await add_hook(sandbox, n, f"{old}/hooks/{token}/{n}"): n for n in numbers}
        refused = next(iter(mine))
        sandbox.faults.inject("PATCH", f"/v1/webhooks/{refused}", 500, count=1000)

        new = core.runtime.base_url
        core.webhooks.set_public_url(new)

        assert core.reads is not None
        reads = core.reads
        await eventually(
            lambda: {r.kind for r in reads.url_history()} >= {"registered", "repoint_failed"}, what="the look"
        )
        # The other webhook moved and a probe was ok: the gap closes, the refused one is said.
        await eventually(lambda: TUNNEL not in core.gaps.open_gaps, what="the tunnel gap to close")
        assert sandbox.state.webhooks[refused].url.startswith(old)
        assert [c.webhook.id for c in core.repoint.pending] == [refused]
        assert core.reads is not None
        failed = [r for r in core.reads.url_history() if r.kind == "repoint_failed"]
        assert [r.webhook_id for r in failed] == [refused]
    finally:
        await core.stop()

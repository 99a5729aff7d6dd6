"""The watch's gaps (tunnel down, unreachable): one open per kind, told to the catch-up when
they end, and ended by a clean stop."""

from __future__ import annotations

from pathlib import Path

from pilot_desktop.services.gaps import TUNNEL, UNREACHABLE
from pilot_desktop.store.records import Gap
from tests.integration.test_gaps import core_on, stored_gaps


async def test_open_and_close_a_watch_gap_tells_subscribers_once(tmp_path: Path) -> None:
    core = core_on(tmp_path / "data")
    told: list[Gap] = []
    await core.start()
    try:
        core.gaps.subscribe(told.append)
        first = await core.gaps.open_gap(UNREACHABLE, "The probe failed.")
        again = await core.gaps.open_gap(UNREACHABLE, "Still failing.")
        assert first is not None and again == first  # one open per kind
        tunnel = await core.gaps.open_gap(TUNNEL, "The tunnel stopped.")
        assert tunnel is not None and tunnel.id != first.id
        ended = await core.gaps.close_gap(UNREACHABLE)
        assert ended is not None and ended.ended_at is not None
        assert await core.gaps.close_gap(UNREACHABLE) is None
        assert [g.kind for g in told if g.kind in (TUNNEL, UNREACHABLE)] == [UNREACHABLE]
    finally:
        await core.stop()
    by_kind = {g.kind: g for g in stored_gaps(tmp_path / "data") if g.kind in (TUNNEL, UNREACHABLE)}
    assert by_kind[UNREACHABLE].reason == "The probe failed."
    assert by_kind[TUNNEL].ended_at is not None  # the clean stop ended the open one

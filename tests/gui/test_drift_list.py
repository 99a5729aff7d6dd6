"""The "Changes found" tab of the Webhooks pane over a real core and a real sandbox: webhooks
of this app changed on the platform behind its back are listed, and Accept / Restore act on
the platform and the store as they say."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from pilot_desktop.ui.panes.webhooks.drift_list import DriftList, FindingRow
from pilot_desktop.ui.panes.webhooks.sections import DRIFT_TAB
from tests.gui.watch_pane_support import WatchEnv, until, watch_env

FAST = {"probe_interval_s": 3600.0, "audit_interval_s": 3600.0}


def drift_of(env: WatchEnv) -> DriftList:
    env.sections.tabs.setCurrentIndex(DRIFT_TAB)
    drift = env.sections.drift_list
    assert drift is not None
    return drift


async def behind_the_back(
    env: WatchEnv, method: str, hook_id: str, body: dict[str, object] | None = None
) -> None:
    """A change made on the platform by someone else (the dashboard, another tool)."""
    async with httpx.AsyncClient(base_url=env.sandbox.base_url, timeout=10, trust_env=False) as api:
        resp = await api.request(
            method, f"/v1/webhooks/{hook_id}", json=body, headers={"x-api-key": env.sandbox.tenant_key}
        )
    assert resp.status_code in (200, 204), resp.text


def row_of(drift: DriftList, hook_id: str, kind: str) -> FindingRow:
    return next(r for r in drift.rows.values() if r.finding.webhook_id == hook_id and r.finding.kind == kind)


async def test_changes_behind_the_apps_back_are_listed_and_settled(tmp_path: Path) -> None:
    async with watch_env(tmp_path, numbers=3, **FAST) as env:
        made = [
            (await env.core.webhooks.create(number.id, ["*"], name="mine"))[0].id
            for _, number in env.core.accounts.numbers()
        ]
        drift = drift_of(env)
        drift.audit.click()
        await env.pane.settled()
        assert drift.empty.isVisibleTo(drift)
        audit = env.core.drift.last
        assert audit is not None
        hhmm = time.strftime("%H:%M", time.localtime(audit.at))
        assert drift.empty.text() == f"No changes found behind the app's back (last audit {hhmm})."
        assert env.sections.tabs.tabText(DRIFT_TAB) == "Changes found"

        paused, deleted, edited = made
        await behind_the_back(env, "PATCH", paused, {"active": False})
        await behind_the_back(env, "DELETE", deleted)
        await behind_the_back(env, "PATCH", edited, {"events": ["message.received"]})
        drift.audit.click()
        await env.pane.settled()
        await until(lambda: len(drift.rows) == 3)
        assert not drift.empty.isVisibleTo(drift)
        assert env.sections.tabs.tabText(DRIFT_TAB) == "Changes found (3)"
        gone = row_of(drift, deleted, "deleted")
        assert deleted in gone.sentence.text() and "Deleted" in gone.meta.text()
        assert not gone.restore.isVisibleTo(gone) and gone.note.isVisibleTo(gone)  # explained instead
        assert "new id" in gone.note.text()
        # The GUI names its button, not the CLI; the audit's strip is not green with findings open.
        assert "pilot-desktop" not in gone.sentence.text() + gone.note.text()
        assert "Subscribe all… (Webhooks tab)" in gone.sentence.text(), gone.sentence.text()
        assert "#c6f6d5" not in drift.strip.message.styleSheet()
        pause = row_of(drift, paused, "paused")
        assert pause.restore.isVisibleTo(pause) and "found " in pause.meta.text()

        # Accept: the platform's form becomes the expected one; nothing changes on the platform.
        pause.accept.click()
        await env.pane.settled()
        await until(lambda: paused not in {r.finding.webhook_id for r in drift.rows.values()})
        assert env.core.reads is not None
        assert paused not in {f.webhook_id for f in env.core.reads.drift(open_only=True)}
        assert (await env.platform())[paused]["active"] is False
        # Restore: the app's form is put back on the platform.
        row_of(drift, edited, "events_changed").restore.click()
        await env.pane.settled()
        assert (await env.platform())[edited]["events"] == ["*"]
        await until(lambda: set(drift.rows) == {gone.finding.id})
        assert env.sections.tabs.tabText(DRIFT_TAB) == "Changes found (1)"
        # The next audit finds nothing new about what was settled.
        drift.audit.click()
        await env.pane.settled()
        assert [r.finding.webhook_id for r in drift.rows.values()] == [deleted]

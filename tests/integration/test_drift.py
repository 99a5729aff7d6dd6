"""The drift audit (services/drift.py) against a real sandbox platform and a real store: this
app's webhooks deleted, paused, re-pointed or edited behind its back, and events the platform
dropped, each reported within one audit period, told once, resolved when put back."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from pilot_desktop.core.catalogue import ALL_EVENTS, META, PILOT_STATUS
from pilot_desktop.services.drift import DriftAudit
from pilot_desktop.services.webhook_admin import AdminError
from pilot_desktop.store.watch_records import DriftRow
from tests.integration.drift_support import App, app_on_sandbox, eventually

PERIOD_S = 0.3
CALLS = ["call.ringing", "call.connected", "call.ended", "call.missed"]


def audit_of(app: App, period: float = PERIOD_S) -> DriftAudit:
    return DriftAudit(app.admin, app.writer.submit, lambda: app.reads, interval_s=lambda: period)


async def next_audits(audit: DriftAudit, count: int) -> None:
    """Wait until `count` more audits have finished."""
    for _ in range(count):
        before = audit.last
        await eventually(lambda b=before: audit.last is not b, 10, "the next audit")  # type: ignore[misc]


def open_keys(app: App) -> set[str]:
    return {r.key for r in app.reads.drift(open_only=True)}


async def test_changes_behind_the_apps_back_are_reported_once_and_resolved_when_put_back(
    tmp_path: Path,
) -> None:
    async with app_on_sandbox(tmp_path, numbers=3) as app:
        await app.admin.accounts.add(app.sandbox.tenant_key, base_url=app.sandbox.base_url)
        web, meta = app.number(PILOT_STATUS), app.number(META)
        deleted, _ = await app.admin.create(web, [ALL_EVENTS])
        paused, _ = await app.admin.create(meta, ["message.received", "message.sent"])
        moved, _ = await app.admin.create(meta, [ALL_EVENTS])
        edited, _ = await app.admin.create(web, ["message.received", "message.read"])
        tunnel_moved, _ = await app.admin.create(web, ["message.sent"])
        told: list[DriftRow] = []
        audit = audit_of(app)
        audit.subscribe(told.append)
        audit.start()
        try:
            await next_audits(audit, 1)
            assert told == [] and open_keys(app) == set()  # as the app made them

            # Behind the app's back, through the platform's API with the tenant key.
            await app.behind("DELETE", f"/v1/webhooks/{deleted.id}")
            await app.behind("PATCH", f"/v1/webhooks/{paused.id}", active=False)
            await app.behind("PATCH", f"/v1/webhooks/{moved.id}", url="https://crm.example.org/hooks/in")
            await app.behind("PATCH", f"/v1/webhooks/{edited.id}", events=["message.sent"])
            # An older URL of this app (its token on another base) is the re-pointing's business.
            old = f"https://old-tunnel.example.test/hooks/{app.token}/{web}"
            await app.behind("PATCH", f"/v1/webhooks/{tunnel_moved.id}", url=old)
            # Through the app: a web (QR) number subscribed to calls; the platform drops them.
            dropped, notes = await app.admin.create(web, [*CALLS, "message.received"])
            assert app.platform(dropped.id).events == ["message.received"]
            assert any("web (QR) number cannot emit" in n for n in notes), notes

            # Within one audit period: the audit that started after the changes reports them.
            await next_audits(audit, 2)
            want = {
                f"deleted:{deleted.id}",
                f"paused:{paused.id}",
                f"repointed:{moved.id}",
                f"events_changed:{edited.id}",
                f"events_dropped:{dropped.id}",
            }
            assert open_keys(app) == want
            assert {r.key for r in told} == want
            by_kind = {r.kind: r for r in told}
            assert "deleted on the platform" in by_kind["deleted"].sentence
            assert "https://crm.example.org/hooks/in" in by_kind["repointed"].sentence
            assert "removed message.read" in by_kind["events_changed"].sentence
            drop = by_kind["events_dropped"]
            assert drop.detail is not None and drop.detail["provider"] == PILOT_STATUS
            assert set(drop.detail["dropped"]) == set(CALLS)
            assert "web (QR) number cannot emit it" in drop.sentence
            assert app.token not in str([(r.sentence, r.detail) for r in told])  # masked
            assert app.admin.expected.get(tunnel_moved.id).url == old  # type: ignore[union-attr]

            # Several audits later: each finding was told exactly once.
            await next_audits(audit, 3)
            assert Counter(r.key for r in told) == dict.fromkeys(want, 1)

            # Put back: by hand on the platform, through restore, and by accepting.
            await app.behind("PATCH", f"/v1/webhooks/{paused.id}", active=True)
            rows = {r.kind: r for r in app.reads.drift(open_only=True)}
            with pytest.raises(AdminError, match="cannot be put back"):
                await audit.restore(rows["deleted"])
            await audit.restore(rows["repointed"])
            await audit.restore(rows["events_changed"])
            assert app.platform(moved.id).url == app.admin.target().url_for(meta)  # type: ignore[union-attr]
            assert set(app.platform(edited.id).events) == {"message.received", "message.read"}
            await audit.accept(rows["deleted"])
            await audit.accept(rows["events_dropped"])
            await next_audits(audit, 2)
            assert open_keys(app) == set()
            resolved = app.reads.drift()
            assert {r.key for r in resolved} == want and all(r.resolved_at for r in resolved)
            assert Counter(r.key for r in told) == dict.fromkeys(want, 1)
        finally:
            await audit.stop()

        # A new run (the app restarted) tells nothing already known.
        await app.behind("PATCH", f"/v1/webhooks/{paused.id}", active=False)
        first = audit_of(app)
        await first.run_once()
        again: list[DriftRow] = []
        restarted = audit_of(app)
        restarted.subscribe(again.append)
        result = await restarted.run_once()
        assert again == [] and [r.key for r in result.open] == [f"paused:{paused.id}"]


async def test_a_listing_that_fails_neither_resolves_nor_invents_findings(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=2) as app:
        await app.admin.accounts.add(app.sandbox.tenant_key, base_url=app.sandbox.base_url)
        web = app.number(PILOT_STATUS)
        hook, _ = await app.admin.create(web, [ALL_EVENTS])
        kept, _ = await app.admin.create(web, ["message.sent"])
        audit = audit_of(app)
        await app.behind("PATCH", f"/v1/webhooks/{hook.id}", active=False)
        assert [r.key for r in (await audit.run_once()).new] == [f"paused:{hook.id}"]

        await app.sandbox.stop(drain_timeout=0)  # the platform unreachable: every list fails
        result = await audit.run_once()
        assert {n for n, _ in result.failures} == {n.id for n in app.sandbox.numbers}
        assert result.new == [] and result.resolved == [] and result.checked == []
        assert "Could not reach Pilot Status" in result.failures[0][1]
        assert open_keys(app) == {f"paused:{hook.id}"}  # not resolved, nothing invented
        assert app.admin.expected.get(kept.id) is not None


async def test_a_webhook_of_this_app_never_seen_is_adopted_without_a_finding(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=2) as app:
        await app.admin.accounts.add(app.sandbox.tenant_key, base_url=app.sandbox.base_url)
        meta = app.number(META)
        url = app.admin.default_url(meta)
        made = await app.behind("POST", "/v1/webhooks", url=url, events=CALLS, whatsappNumberId=meta)
        other = await app.behind(
            "POST", "/v1/webhooks", url="https://crm.example.org/in", events=["*"], whatsappNumberId=meta
        )
        audit = audit_of(app)
        result = await audit.run_once()
        assert result.adopted == [made["id"]] and result.new == []
        assert app.admin.expected.get(other["id"]) is None  # another system's: never expected
        await app.behind("PATCH", f"/v1/webhooks/{made['id']}", events=["call.missed"])
        assert [r.key for r in (await audit.run_once()).new] == [f"events_changed:{made['id']}"]


async def test_every_change_through_the_admin_keeps_the_expectation(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=2) as app:
        await app.admin.accounts.add(app.sandbox.tenant_key, base_url=app.sandbox.base_url)
        admin, web = app.admin, app.number(PILOT_STATUS)
        hook, _ = await admin.create(web, ["call.ended", "message.read"])
        exp = admin.expected.get(hook.id)
        assert (
            exp is not None and exp.asked == ["call.ended", "message.read"] and exp.events == ["message.read"]
        )
        located = await admin.locate(hook.id)
        await admin.set_active(located, False)
        assert admin.expected.get(hook.id).active is False  # type: ignore[union-attr]
        await admin.set_active(await admin.locate(hook.id), True)
        assert admin.expected.get(hook.id).active is True  # type: ignore[union-attr]
        # The public URL moved: the Repointer moves webhooks through retarget.
        admin.set_public_url("https://new-tunnel.example.test")
        [change] = await admin.plan_point_all()
        await admin.retarget(change)
        assert admin.expected.get(hook.id).url == change.new_url  # type: ignore[union-attr]
        assert (await audit_of(app).run_once()).open == [
            r for r in app.reads.drift(open_only=True) if r.kind == "events_dropped"
        ]
        # Moved to another system on purpose: no longer this app's.
        await admin.update(await admin.locate(hook.id), url="https://crm.example.org/in")
        assert admin.expected.get(hook.id) is None
        second, _ = await admin.create(web, [ALL_EVENTS])
        await admin.delete(await admin.locate(second.id))
        assert admin.expected.get(second.id) is None
        assert (await audit_of(app).run_once()).open == []


async def test_the_audit_runs_at_start_and_stops_cleanly(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=1) as app:
        await app.admin.accounts.add(app.sandbox.tenant_key, base_url=app.sandbox.base_url)
        audit = audit_of(app, period=3600.0)
        audit.start()
        await eventually(lambda: audit.last is not None, 10, "the audit at start")
        await asyncio.wait_for(audit.stop(), 5)
        assert audit.last is not None and audit.last.checked == [app.sandbox.numbers[0].id]


async def test_a_number_in_no_account_any_more_makes_its_findings_moot(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=2) as app:
        account = await app.admin.accounts.add(app.sandbox.tenant_key, base_url=app.sandbox.base_url)
        meta = app.number(META)
        paused, _ = await app.admin.create(meta, ["message.received"])
        changed, _ = await app.admin.create(meta, ["message.sent"])
        audit = audit_of(app)
        await app.behind("PATCH", f"/v1/webhooks/{paused.id}", active=False)
        await app.behind("PATCH", f"/v1/webhooks/{changed.id}", events=["message.received"])
        rows = {r.key: r for r in (await audit.run_once()).open}
        assert set(rows) == {f"paused:{paused.id}", f"events_changed:{changed.id}"}

        app.admin.accounts.remove(account.id)  # the number is in no account any more
        await app.sandbox.stop(drain_timeout=0)  # and nothing could be read anyway
        # Accepting needs no API: there is nothing to read for a number in no account.
        await audit.accept(rows[f"events_changed:{changed.id}"])
        assert app.admin.expected.get(changed.id) is None
        assert open_keys(app) == {f"paused:{paused.id}"}

        result = await audit.run_once()  # the next audit: its findings are moot
        assert [r.key for r in result.resolved] == [f"paused:{paused.id}"] and result.open == []
        assert open_keys(app) == set() and dict(app.admin.expected.all()) == {}
        await audit.accept(rows[f"paused:{paused.id}"])  # an old row: still no API, no error


async def test_a_webhook_the_app_changes_while_the_audit_lists_is_not_judged_on_that_listing(
    tmp_path: Path,
) -> None:
    async with app_on_sandbox(tmp_path, numbers=2) as app:
        await app.admin.accounts.add(app.sandbox.tenant_key, base_url=app.sandbox.base_url)
        meta = app.number(META)
        hook, _ = await app.admin.create(meta, ["message.received"])
        audit = audit_of(app)
        told: list[DriftRow] = []
        audit.subscribe(told.append)
        listed = app.admin.list_all
        made: list[str] = []

        async def list_then_change(*args: object, **kwargs: object) -> object:
            """The listing is read; before the audit compares, the operator adds an event in
            the Webhooks pane and creates another webhook (both after the listing began)."""
            listing = await listed(*args, **kwargs)  # type: ignore[arg-type]
            located = await app.admin.locate(hook.id, meta)
            await app.admin.update(located, events=["message.received", "message.sent"])
            made.append((await app.admin.create(meta, ["message.sent"]))[0].id)
            return listing

        app.admin.list_all = list_then_change  # type: ignore[method-assign]
        result = await audit.run_once()
        assert told == [] and result.open == [] and open_keys(app) == set()
        app.admin.list_all = listed  # type: ignore[method-assign]
        result = await audit.run_once()  # the next audit judges both, as they are: nothing wrong
        assert told == [] and result.open == [] and result.resolved == []
        assert app.admin.expected.get(made[0]) is not None

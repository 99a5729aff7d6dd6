""" "Subscribe all numbers to this app" (services/subscribe_all.py) against a real sandbox
platform with several accounts (the tenant key and a number-scoped key) and several numbers:
one with another system's webhook, one with this app's webhook on an old public URL, one
already subscribed, one with none."""

from __future__ import annotations

from pathlib import Path

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.catalogue import ALL_EVENTS
from pilot_desktop.services.drift import DriftAudit
from pilot_desktop.services.subscribe_all import apply_subscribe_all, plan_subscribe_all
from tests.integration.drift_support import PUBLIC, App, app_on_sandbox

CRM = "https://crm.example.org/hooks/whatsapp"


async def setup(app: App) -> dict[str, str]:
    """Four numbers: `other` (another system's webhook), `old` (this app's webhook on an old
    public URL, its own number-scoped account), `done` (already subscribed), `bare`."""
    sb = app.sandbox
    other, old, done, bare = (n.id for n in sb.numbers)
    await app.admin.accounts.add(sb.tenant_key, base_url=sb.base_url, label="Tenant")
    await app.admin.accounts.add(sb.number_keys[old], base_url=sb.base_url, label="Old number's key")
    await app.behind("POST", "/v1/webhooks", url=CRM, events=["message.received"], whatsappNumberId=other)
    stale = f"https://old-tunnel.example.test/hooks/{app.token}/{old}"
    await app.behind("POST", "/v1/webhooks", url=stale, events=["*"], whatsappNumberId=old)
    await app.admin.create(done, [ALL_EVENTS])
    return {"other": other, "old": old, "done": done, "bare": bare}


def platform_hooks(app: App, number_id: str) -> list[tuple[str, list[str], bool]]:
    return sorted(
        (h.url, list(h.events), h.active)
        for h in app.sandbox.state.webhooks.values()
        if h.number_id == number_id
    )


async def test_every_number_of_every_account_gets_one_all_events_webhook_here(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=4) as app:
        n = await setup(app)
        target = app.admin.target()
        assert target is not None
        before = {k: platform_hooks(app, v) for k, v in n.items()}

        plan = await plan_subscribe_all(app.admin)
        assert plan.failures == []
        actions = {(s.number.id, s.action) for s in plan.steps}
        assert actions == {
            (n["other"], "create"),
            (n["old"], "repoint"),
            (n["done"], "keep"),
            (n["bare"], "create"),
        }
        step = {s.number.id: s for s in plan.steps}
        assert step[n["old"]].account.label == "Old number's key"  # its own key acts on it
        assert step[n["other"]].account.label == "Tenant"
        assert CRM in step[n["other"]].reason and "left alone" in step[n["other"]].reason
        assert step[n["old"]].new_url == target.url_for(n["old"])
        assert {k: platform_hooks(app, v) for k, v in n.items()} == before  # a preview changes nothing

        asked: list[str] = []

        async def secret_for(hook: Webhook) -> str | None:
            asked.append(hook.id)  # the operator copies it from the dashboard; not for `bare`
            return app.sandbox.webhook_secret(hook.id) if hook.number_id == n["other"] else None

        result = await apply_subscribe_all(app.admin, plan.steps, secret_for, app.writer.submit)
        assert result.failed == []
        created = {h.number_id: h for _, h in result.created}
        assert set(created) == {n["other"], n["bare"]} and sorted(asked) == sorted(
            h.id for h in created.values()
        )
        assert [h.id for h in result.unsigned] == [created[n["bare"]].id]
        assert any("accepts their deliveries unsigned" in note for note in result.notes)
        signing = app.admin.signing
        assert signing.has(created[n["other"]].id) and not signing.has(created[n["bare"]].id)

        for key, number in n.items():  # one "*" webhook here per number; the CRM's untouched
            here = [h for h in platform_hooks(app, number) if target.points_here(h[0])]
            assert here == [(target.url_for(number), [ALL_EVENTS], True)], key
        assert (CRM, ["message.received"], True) in platform_hooks(app, n["other"])
        assert {e.number_id for e in app.admin.expected.all().values()} == set(n.values())
        history = app.reads.url_history()
        assert {(u.number_id, u.kind, u.source, u.public_url) for u in history} == {
            (n[k], "registered", "subscribe_all", PUBLIC) for k in ("other", "old", "bare")
        }
        assert [u.old_url for u in history if u.number_id == n["old"]] == ["https://old-tunnel.example.test"]
        # What it made is what the drift audit expects: nothing to report.
        audit = DriftAudit(app.admin, app.writer.submit, lambda: app.reads, interval_s=lambda: 60.0)
        assert (await audit.run_once()).open == []

        again = await plan_subscribe_all(app.admin)
        assert {s.action for s in again.steps} == {"keep"}


async def test_one_numbers_failure_never_stops_the_others(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=4) as app:
        n = await setup(app)
        plan = await plan_subscribe_all(app.admin)
        # Between the preview and applying, the old webhook is deleted on the platform.
        stale = next(s.webhook for s in plan.steps if s.action == "repoint")
        assert stale is not None
        await app.behind("DELETE", f"/v1/webhooks/{stale.id}")
        result = await apply_subscribe_all(app.admin, plan.steps)
        [(failed, why)] = result.failed
        assert failed.number.id == n["old"] and "no longer exists" in why
        assert {h.number_id for _, h in result.created} == {n["other"], n["bare"]}
        assert [o.error is not None for o in result.outcomes].count(True) == 1
        assert len(result.unsigned) == 2  # no secret_for: said, accepted unsigned


async def test_a_number_whose_key_is_gone_is_reported_and_the_rest_planned(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=4) as app:
        n = await setup(app)
        account = next(a for a in app.admin.accounts.all if a.label == "Old number's key")
        app.admin.accounts.secrets.delete(account.key_ref)
        plan = await plan_subscribe_all(app.admin)
        assert [num.id for num, _ in plan.failures] == [n["old"]]
        assert "is missing" in plan.failures[0][1]
        assert {s.number.id for s in plan.steps} == {n["other"], n["done"], n["bare"]}


async def test_the_demo_console_gives_the_secret(tmp_path: Path) -> None:
    async with app_on_sandbox(tmp_path, numbers=1) as app:
        await app.admin.accounts.add(app.sandbox.tenant_key, base_url=app.sandbox.base_url)
        app.admin.demo_secret = app.sandbox.webhook_secret
        result = await apply_subscribe_all(app.admin, (await plan_subscribe_all(app.admin)).steps)
        [(_, hook)] = result.created
        assert app.admin.signing.has(hook.id) and result.unsigned == [] and result.notes == []

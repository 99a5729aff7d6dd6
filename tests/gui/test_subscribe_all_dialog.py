""" "Subscribe all numbers to this app…" in the Webhooks pane over a real core and two real
sandboxes (two accounts, several numbers): the preview, the ticks, the webhooks made on the
platform, and each signing secret asked for (prefilled where the demo's console knows it)."""

from __future__ import annotations

from pathlib import Path

import httpx
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.ui.panes.webhooks.subscribe_all_dialog import COLUMNS, RESULT, SubscribeAllDialog
from tests.gui.watch_pane_support import WatchEnv, until, watch_env

FAST = {"probe_interval_s": 3600.0, "audit_interval_s": 3600.0}
ACTION = COLUMNS.index("Action")
ACCOUNT = COLUMNS.index("Account")
NUMBER = COLUMNS.index("Number")


async def hooks_on(sandbox: Sandbox) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10, trust_env=False) as api:
        resp = await api.get("/v1/webhooks", headers={"x-api-key": sandbox.tenant_key})
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def open_dialog(env: WatchEnv) -> SubscribeAllDialog:
    env.sections.subscribe_all.click()
    dialog = env.pane.dialog
    assert isinstance(dialog, SubscribeAllDialog) and dialog.isVisible()
    await dialog.settled()
    return dialog


def cell(dialog: SubscribeAllDialog, row: int, col: int) -> str:
    item = dialog.table.item(row, col)
    assert item is not None
    return item.text()


async def test_subscribe_all_makes_one_webhook_per_ticked_number_and_asks_each_secret(tmp_path: Path) -> None:
    second = Sandbox(seed=9, numbers=2, time_scale=0.0, retry_window=0.0)
    await second.start()
    try:
        async with watch_env(tmp_path, numbers=2, **FAST) as env:
            first = env.sandbox
            await env.core.accounts.add(second.tenant_key, base_url=second.base_url, label="Second")
            # The demo's console knows the first sandbox's secrets: those are stored without asking.
            env.core.webhooks.demo_secret = lambda hid: (
                first.state.webhooks[hid].secret if hid in first.state.webhooks else None
            )
            dialog = await open_dialog(env)
            assert dialog.table.rowCount() == 4
            assert [cell(dialog, r, ACTION) for r in range(4)] == ["create"] * 4
            assert {cell(dialog, r, ACCOUNT) for r in range(4)} == {"Tenant", "Second"}
            assert env.core.runtime.base_url in dialog.target.text()
            left_alone = next(r for r in range(4) if cell(dialog, r, ACCOUNT) == "Tenant")
            tick = dialog.table.item(left_alone, 0)
            assert tick is not None
            tick.setCheckState(Qt.CheckState.Unchecked)
            assert len(dialog.selected()) == 3
            shown = next(r for r in range(4) if cell(dialog, r, ACCOUNT) == "Tenant" and r != left_alone)
            assert env.pane.select_number(dialog.steps[shown].number.id)  # its table: empty so far
            await env.pane.settled()
            assert env.pane.table.rowCount() == 0

            dialog.apply_button.click()
            answered: dict[str, str | None] = {}
            while True:
                await until(lambda: dialog.outcome is not None or len(dialog.asked) > len(answered), 30)
                if dialog.outcome is not None:
                    break
                await until(dialog.prompt.isVisible)
                field = dialog.prompt.field
                assert field.echoMode() == QLineEdit.EchoMode.Password and field.text() == ""
                if not answered:  # the first: typed and stored; the next: skipped
                    field.setText("whsec_typed_by_hand")
                    answered[dialog.asked[-1]] = field.text()
                    dialog.prompt.store.click()
                else:
                    answered[dialog.asked[-1]] = None
                    dialog.prompt.skip.click()
            await dialog.settled()
            # The pane's table shows the shown number's new webhook without a Refresh.
            await until(lambda: env.pane.table.rowCount() == 1, 10)

            # On the platform: one "*" webhook per ticked number, pointing at this app's route.
            target = env.core.webhooks.target()
            assert target is not None
            on_first, on_second = await hooks_on(first), await hooks_on(second)
            made = on_first + on_second
            assert len(on_first) == 1 and len(on_second) == 2
            assert all(h["events"] == ["*"] for h in made)
            for hook in made:
                number = hook["whatsappNumberIds"][0]  # type: ignore[index]
                assert hook["url"] == target.url_for(str(number))
            skipped_number = dialog.steps[left_alone].number.id
            assert skipped_number not in {h["whatsappNumberIds"][0] for h in made}  # type: ignore[index]
            # The second account's webhooks asked for their secret (the platform never returns
            # it); the one the console knows was stored without asking.
            assert sorted(dialog.asked) == sorted(str(h["id"]) for h in on_second)
            stored = env.core.signing
            assert stored.has(str(on_first[0]["id"]))
            for hook_id, secret in answered.items():
                assert stored.has(hook_id) == (secret is not None)
            results = [cell(dialog, r, RESULT) for r in range(4)]
            assert results.count("created · secret stored") == 2
            assert results.count("created · no signing secret") == 1
            assert results[left_alone] == ""
            skipped = next(hook_id for hook_id, secret in answered.items() if secret is None)
            summary = dialog.strip.message.text()
            assert dialog.strip.message.isVisibleTo(dialog) and summary.startswith("3 webhook(s) created")
            assert f"No signing secret stored for {skipped}" in summary and "Edit…" in summary

            # Again: the three are kept (nothing to tick), the one left alone is offered.
            dialog.close()
            again = await open_dialog(env)
            actions = {cell(again, r, NUMBER): cell(again, r, ACTION) for r in range(again.table.rowCount())}
            assert sorted(actions.values()) == ["create", "keep", "keep", "keep"]
            assert len(again.selected()) == 1
    finally:
        await second.stop()

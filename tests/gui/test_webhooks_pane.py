"""The Webhooks pane against the real sandbox and the real receiver, on the Qt loop.

Every action goes through the pane's buttons and dialogs; what happened is checked on
the sandbox (the platform's side), never on the pane's own state alone.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from pilot_desktop.core.signature import HEADER, sign
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.sandbox.state import Webhook as SandboxWebhook
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.services.settings import ReceiverSettings, Settings
from pilot_desktop.services.signing import SigningSecrets
from pilot_desktop.services.state import State
from pilot_desktop.services.webhooks import EMPTY_WARNING, HEALTH_NOTE, Target
from pilot_desktop.store.db import connect
from pilot_desktop.ui.app import make_app
from pilot_desktop.ui.panes.webhooks.editor import WebhookEditor
from pilot_desktop.ui.panes.webhooks.hooks_table import COLUMNS, URL_COLUMN
from pilot_desktop.ui.panes.webhooks.logs_dialog import LogsDialog
from pilot_desktop.ui.panes.webhooks.pane import WebhooksPane
from pilot_desktop.ui.panes.webhooks.retarget_dialog import RetargetDialog
from tests.gui.support import memory_core, until
from tests.sandbox.conftest import body


@dataclass
class Env:
    pane: WebhooksPane
    sandbox: Sandbox
    core: AppCore

    @property
    def signing(self) -> SigningSecrets:
        return self.core.signing

    @property
    def settings(self) -> Settings:
        return self.core.config.settings.value

    @property
    def token(self) -> str:
        return self.core.config.state.value.token

    @property
    def number_id(self) -> str:
        assert self.pane.number_id is not None
        return self.pane.number_id

    @property
    def target(self) -> Target:
        assert self.settings.public_url is not None
        return Target(self.settings.public_url, self.token)

    def hooks(self) -> list[SandboxWebhook]:
        return [h for h in self.sandbox.state.webhooks.values() if h.number_id == self.number_id]

    def editor(self) -> WebhookEditor:
        assert isinstance(self.pane.dialog, WebhookEditor)
        return self.pane.dialog

    async def save(self, editor: WebhookEditor) -> None:
        editor.buttons.button(QDialogButtonBox.StandardButton.Save).click()
        await self.pane.settled()

    def select(self, name: str) -> None:
        row = next(i for i, h in enumerate(self.pane.webhooks) if h.name == name)
        self.pane.table.selectRow(row)

    def emit(self, i: int) -> int:
        return self.sandbox.emit(
            self.number_id, "message.received", body("message.received", self.number_id, f"in_{i}")
        )

    def delivered(self, webhook_id: str) -> int:
        return len(self.sandbox.delivered_log(webhook_id))


@asynccontextmanager
async def pane_env(data_dir: Path) -> AsyncIterator[Env]:
    make_app()
    core = memory_core(data_dir)
    await core.start()
    sandbox = Sandbox(seed=5, numbers=2, time_scale=0.0, retry_window=0.0)
    await sandbox.start()
    core.config.settings.update({"public_url": core.runtime.base_url})  # local sandbox: no tunnel
    await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
    pane = WebhooksPane(core.webhooks, local_base=core.runtime.base_url, instance=core.options.instance)
    pane.resize(1200, 700)
    pane.show()
    await pane.settled()
    try:
        yield Env(pane, sandbox, core)
    finally:
        pane.shutdown()
        if pane.dialog is not None:
            pane.dialog.close()
        pane.close()
        pane.deleteLater()
        await sandbox.stop()
        await core.stop()
        await asyncio.sleep(0.05)
        gc.collect()


async def create(env: Env, name: str, events: list[str] | None, secret: str = "") -> WebhookEditor:
    env.pane.new.click()
    editor = env.editor()
    editor.name.setText(name)
    if events is not None:
        editor.all_events.setChecked(False)
        for event, box in editor.boxes.items():
            box.setChecked(event in events)
    editor.secret.setText(secret)
    await env.save(editor)
    return editor


async def test_create_with_chosen_events_reaches_the_platform_exactly(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        assert env.pane.numbers.count() == 2
        assert env.hooks() == []
        editor = await create(
            env, "Status only", ["message.sent", "message.failed"], secret="whsec_pane_test"
        )
        assert not editor.isVisible()  # closed on success
        (hook,) = env.hooks()
        assert hook.name == "Status only"
        assert sorted(hook.events) == ["message.failed", "message.sent"]
        assert hook.url == env.target.url_for(env.number_id)  # this app's URL, route = number
        assert hook.active
        # The pane lists it, marked as pointing here, with its secret stored.
        assert [h.id for h in env.pane.webhooks] == [hook.id]
        url_cell = env.pane.table.item(0, URL_COLUMN)
        assert url_cell is not None and url_cell.text().startswith("→ this app")
        assert env.signing.has(hook.id)
        assert env.signing.stored(env.number_id) == ["whsec_pane_test"]  # for its route


async def test_all_events_sends_the_star(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        await create(env, "Everything", None)
        (hook,) = env.hooks()
        assert hook.events == ["*"]


async def test_edit_replaces_the_event_list(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        await create(env, "Hook", ["message.sent", "message.delivered"])
        env.select("Hook")
        env.pane.edit.click()
        editor = env.editor()
        assert editor.boxes["message.sent"].isChecked() and editor.boxes["message.delivered"].isChecked()
        editor.boxes["message.sent"].setChecked(False)
        editor.boxes["message.delivered"].setChecked(False)
        editor.boxes["number.disconnected"].setChecked(True)
        await env.save(editor)
        (hook,) = env.hooks()
        assert hook.events == ["number.disconnected"]  # replaced, not merged


async def test_pause_stops_deliveries_and_resume_restarts_them(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        await create(env, "Live", None)
        (hook,) = env.hooks()
        env.emit(1)
        await until(lambda: env.delivered(hook.id) == 1)
        env.select("Live")
        assert env.pane.pause.text() == "Pause"
        env.pane.pause.click()
        await env.pane.settled()
        assert not hook.active
        assert env.pane.table.item(0, COLUMNS.index("Active")).text() == "paused"  # type: ignore[union-attr]
        assert env.emit(2) == 0  # the platform has no active webhook to deliver to
        await asyncio.sleep(0.3)
        assert env.delivered(hook.id) == 1  # the sandbox's logs show no delivery while paused
        env.select("Live")
        assert env.pane.pause.text() == "Resume"
        env.pane.pause.click()
        await env.pane.settled()
        assert hook.active
        env.emit(3)
        await until(lambda: env.delivered(hook.id) == 2)


async def test_delete_only_after_confirmation(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        await create(env, "Doomed", ["message.read"], secret="whsec_doomed")
        (hook,) = env.hooks()
        env.select("Doomed")
        env.pane.delete.click()
        box = env.pane.dialog
        assert isinstance(box, QMessageBox) and "Doomed" in box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()
        await env.pane.settled()
        assert hook.id in env.sandbox.state.webhooks  # cancelled: nothing deleted
        env.select("Doomed")
        env.pane.delete.click()
        box = env.pane.dialog
        assert isinstance(box, QMessageBox)
        box.button(QMessageBox.StandardButton.Yes).click()
        await env.pane.settled()
        assert hook.id not in env.sandbox.state.webhooks
        assert env.pane.webhooks == []
        assert not env.signing.has(hook.id)  # its secret is forgotten too


async def test_empty_event_list_warns_and_health_note_shows_for_picked_lists(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        env.pane.new.click()
        editor = env.editor()
        assert editor.all_events.isChecked() and editor.events_warning.isHidden()
        editor.all_events.setChecked(False)
        for box in editor.boxes.values():
            box.setChecked(False)
        assert editor.events() == []
        assert not editor.events_warning.isHidden()
        assert EMPTY_WARNING in editor.events_warning.text()
        editor.boxes["message.failed"].setChecked(True)
        assert editor.events_warning.isHidden()
        editor.boxes["number.disconnected"].setChecked(True)
        assert EMPTY_WARNING not in editor.events_warning.text()
        assert HEALTH_NOTE in editor.events_warning.text()
        editor.reject()


async def test_platform_error_is_shown_in_place_with_its_code(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        env.pane.new.click()
        editor = env.editor()
        editor.url.setText("ftp://not-a-webhook-target")
        await env.save(editor)
        assert editor.isVisible()  # stays open, the input kept for correction
        assert editor.strip.code == "VALIDATION_ERROR"
        assert "url" in editor.strip.message.text() and "VALIDATION_ERROR" in editor.strip.message.text()
        assert env.hooks() == []
        editor.reject()
        # A webhook deleted elsewhere: pausing it shows the platform's 404 in the pane.
        await create(env, "Gone", ["message.sent"])
        (hook,) = env.hooks()
        env.sandbox.state.remove_webhook(hook.id)
        env.select("Gone")
        env.pane.pause.click()
        await env.pane.settled()
        assert env.pane.strip.code == "WEBHOOK_NOT_FOUND"
        assert not env.pane.strip.message.isHidden()


async def test_logs_are_set_beside_what_the_receiver_stored(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        await create(env, "Logged", None)
        (hook,) = env.hooks()
        for i in range(3):
            env.emit(i)
        await until(lambda: env.delivered(hook.id) == 3)
        env.select("Logged")
        env.pane.logs.click()
        dialog = env.pane.dialog
        assert isinstance(dialog, LogsDialog)
        await env.pane.settled()
        assert dialog.comparison is not None
        assert dialog.comparison.counts == {"received": 3, "missing": 0, "failed": 0, "extra": 0}
        assert dialog.table.rowCount() == 3
        assert {dialog.table.item(r, 5).text() for r in range(3)} == {"received"}  # type: ignore[union-attr]
        dialog.table.selectRow(0)
        assert "message.received" in dialog.payload.toPlainText()
        dialog.accept()


async def test_point_all_previews_then_moves_only_the_ticked_webhooks(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        token = env.token
        number_id = env.number_id
        state = env.sandbox.state
        old = state.add_webhook(
            number_id, "Old tunnel", f"https://old.example/hooks/{token}/{number_id}", ["*"]
        )
        other = state.add_webhook(number_id, "CRM", "https://crm.example/in", ["message.received"])
        env.pane.accounts_row.point_all.click()
        await env.pane.settled()
        dialog = env.pane.dialog
        assert isinstance(dialog, RetargetDialog)
        by_id = {c.webhook.id: c for c in dialog.changes}
        assert set(by_id) == {old.id, other.id}  # the preview lists every change first
        assert by_id[old.id].new_url == env.target.url_for(number_id)
        assert old.url.startswith("https://old.example")  # nothing changed before Apply
        assert [dialog.changes[r].webhook.id for r in dialog.selected()] == [old.id]
        dialog.apply_button.click()
        await dialog.settled()
        assert old.url == env.target.url_for(number_id)
        assert other.url == "https://crm.example/in"  # unticked: left alone
        dialog.reject()
        await env.pane.settled()


async def test_public_url_test_reaches_this_receiver(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        env.pane.public_url.setText(env.core.runtime.base_url)
        env.pane.where.test_url.click()
        await env.pane.settled()
        assert "ms" in env.pane.url_strip.message.text()
        assert env.pane.url_strip.code == ""
        env.pane.public_url.setText("not a url")
        env.pane.where.save_url.click()
        assert "public_url" in env.pane.url_strip.message.text()
        assert env.settings.public_url == env.core.runtime.base_url  # the bad value was not saved


def _secret_cell(env: Env, name: str) -> str:
    row = next(i for i, h in enumerate(env.pane.webhooks) if h.name == name)
    item = env.pane.table.item(row, COLUMNS.index("Signing secret"))
    assert item is not None
    return item.text()


async def _post(env: Env, route: str, secret: str | None = None) -> int:
    raw = json.dumps(body("message.received", route, f"direct-{route}-{secret}")).encode()
    headers = {HEADER: sign(raw, secret)} if secret else {}
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        resp = await client.post(f"{env.core.runtime.hook_url}/{route}", content=raw, headers=headers)
    return resp.status_code


def _stored(env: Env) -> dict[str, str]:
    """route -> signature status of the stored deliveries (one per route in these tests)."""
    assert env.core.runtime.db_path is not None
    conn = connect(env.core.runtime.db_path, readonly=True)
    try:
        return dict(conn.execute("SELECT route, signature FROM events").fetchall())
    finally:
        conn.close()


async def test_a_webhook_without_secret_is_accepted_while_another_number_has_one(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        first = env.number_id
        await create(env, "Signed", ["message.received"])
        (signed,) = env.hooks()
        # Its secret, copied from the platform's dashboard into Edit….
        env.select("Signed")
        env.pane.edit.click()
        editor = env.editor()
        editor.secret.setText(signed.secret)
        await env.save(editor)
        assert _secret_cell(env, "Signed") == "stored"

        env.pane.numbers.setCurrentRow(1)
        await env.pane.settled()
        second = env.number_id
        assert second != first
        await create(env, "Plain", ["message.received"])
        (plain,) = env.hooks()
        # Pointing here without a secret: accepted unverified, said quietly in its cell.
        assert _secret_cell(env, "Plain") == "none: unverified"
        assert env.pane.strip.message.isHidden() or "401" not in env.pane.strip.message.text()

        for number_id, hook in ((first, signed), (second, plain)):
            env.sandbox.emit(number_id, "message.received", body("message.received", number_id, number_id))
            await until(lambda h=hook: bool(env.sandbox.delivered_log(h.id)))
            [attempt] = env.sandbox.delivered_log(hook.id)
            assert (attempt.status, attempt.status_code) == ("SUCCESS", 200)
        assert _stored(env) == {first: "valid", second: "unverified"}
        assert await _post(env, first) == 401  # the first number's route is still checked
        assert await _post(env, second) == 200
        assert env.signing.stored(first) == [signed.secret]
        assert env.signing.stored(second) == []


async def test_webhooks_sharing_a_route_are_checked_together_and_the_pane_says_so(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        route = env.number_id
        await create(env, "Status", ["message.sent"], secret="whsec_status")
        await create(env, "Inbound", ["message.received"])
        # Same number, same URL: the status webhook's secret checks the inbound one's too.
        assert _secret_cell(env, "Inbound") == "missing (401)"
        assert env.pane.strip.message.isVisible()
        assert "Inbound" in env.pane.strip.message.text() and "401" in env.pane.strip.message.text()
        assert await _post(env, route) == 401
        assert await _post(env, route, "whsec_status") == 200

        # Moving the status webhook to another route moves its secret: Inbound is unchecked.
        env.select("Status")
        env.pane.edit.click()
        editor = env.editor()
        moved = f"{env.target.url_for(route)}-status"
        editor.url.setText(moved)
        await env.save(editor)
        status = next(h for h in env.hooks() if h.name == "Status")
        assert status.url == moved
        assert env.signing.stored(route) == []
        assert env.signing.stored(f"{route}-status") == ["whsec_status"]
        assert _secret_cell(env, "Inbound") == "none: unverified"
        assert "401" not in env.pane.strip.message.text()
        assert await _post(env, route) == 200
        assert await _post(env, f"{route}-status") == 401


async def test_point_all_moves_a_stored_secret_with_its_webhook(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        number_id = env.number_id
        crm = env.sandbox.state.add_webhook(number_id, "CRM", "https://crm.example/in", ["*"])
        env.signing.set(crm.id, "whsec_crm", None)  # another system's: unused here
        assert env.signing.stored(number_id) == []
        env.pane.accounts_row.point_all.click()
        await env.pane.settled()
        dialog = env.pane.dialog
        assert isinstance(dialog, RetargetDialog)
        [row] = [r for r, c in enumerate(dialog.changes) if c.webhook.id == crm.id]
        tick = dialog.table.item(row, 0)
        assert tick is not None
        tick.setCheckState(Qt.CheckState.Checked)  # not recommended (another system): ticked by hand
        dialog.apply_button.click()
        await dialog.settled()
        assert crm.url == env.target.url_for(number_id)
        dialog.reject()
        await env.pane.settled()
        assert env.signing.stored(number_id) == ["whsec_crm"]  # it checks this route now
        assert await _post(env, number_id) == 401


async def test_secrets_stored_before_routes_get_them_from_the_webhook_lists(data_dir: Path) -> None:
    """A profile from before routes: on opening, the pane reads every number's webhooks once,
    so each secret checks its own webhook's route and no longer every route."""
    make_app()
    sandbox = Sandbox(seed=5, numbers=2, time_scale=0.0, retry_window=0.0)
    await sandbox.start()
    try:
        first, second = (n.id for n in sandbox.numbers)
        token = State().token
        target = Target("https://tunnel.example", token)
        hook = sandbox.state.add_webhook(second, "Old", target.url_for(second), ["*"])
        secrets = MemorySecrets()
        secrets.set(f"signing-secret:{hook.id}", "whsec_v2")  # as v2 stored it: an id, no route
        config = Config.memory(
            Settings(receiver=ReceiverSettings(port=0), public_url=target.public_url),
            State(token=token, signing_secret_webhooks=[hook.id]),
        )
        core = AppCore(resolve(data_dir), config, secrets=secrets)
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
        assert core.signing.stored(first) == ["whsec_v2"]  # checks every route meanwhile
        pane = WebhooksPane(core.webhooks, local_base=core.runtime.base_url, instance=None)
        try:
            await pane.settled()
            assert pane.number_id == first  # the second number was never shown
            assert config.state.value.signing_secret_routes == {hook.id: second}
            assert core.signing.stored(first) == []
            assert core.signing.stored(second) == ["whsec_v2"]
        finally:
            pane.shutdown()
            pane.close()
            pane.deleteLater()
            core.signing.close()
    finally:
        await sandbox.stop()
        await asyncio.sleep(0.05)
        gc.collect()

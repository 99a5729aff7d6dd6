"""The Tunnel tab of the Webhooks pane over a real core, a real sandbox and a real tunnel
program (tests/tunnel_forwarder.py as the custom command).

What is checked is what the operator relies on: the settings file on disk, the tunnel
process and its URL as the state line shows them, the platform's webhooks, the secret store.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit

from pilot_desktop.tunnel.ngrok_sdk import AUTHTOKEN_SECRET
from pilot_desktop.ui.panes.webhooks.retarget_dialog import RetargetDialog
from pilot_desktop.ui.panes.webhooks.sections import TUNNEL_TAB
from pilot_desktop.ui.panes.webhooks.tunnel_box import TunnelBox
from tests.gui.watch_pane_support import WatchEnv, until, watch_env

FORWARDER = Path(__file__).resolve().parent.parent / "tunnel_forwarder.py"
FORWARD = f"{sys.executable} {FORWARDER} --to 127.0.0.1:{{port}}"
FAST = {"probe_interval_s": 3600.0, "audit_interval_s": 3600.0, "tunnel_backoff": (0.2, 0.5)}


def on_disk(env: WatchEnv) -> dict[str, object]:
    path = env.core.paths.config_dir / "settings.json"
    return dict(json.loads(path.read_text())["tunnel"])


def box_of(env: WatchEnv) -> TunnelBox:
    env.sections.tabs.setCurrentIndex(TUNNEL_TAB)
    box = env.sections.tunnel_box
    assert box is not None
    return box


def choose(box: TunnelBox, mode: str) -> None:
    box.mode.setCurrentIndex(box.mode.findData(mode))  # as a click in the list does


async def test_a_custom_command_is_saved_started_and_its_url_shown(tmp_path: Path) -> None:
    async with watch_env(tmp_path, **FAST) as env:
        box = box_of(env)
        assert "manual" in box.state_line.text() and not box.restart.isVisibleTo(box)
        choose(box, "command")  # no command saved yet: nothing saved, the field asks for one
        assert on_disk(env)["mode"] == "manual"
        assert box.command_row.isVisibleTo(box) and "Save" in box.strip.message.text()
        box.template.setText(FORWARD)
        box.save_template.click()
        assert on_disk(env)["mode"] == "command"
        assert on_disk(env)["command"] == FORWARD
        await until(lambda: box.status.state == "up" and box.status.public_url is not None, 30)
        url = box.status.public_url
        assert url is not None and url != env.core.runtime.base_url
        assert "up" in box.state_line.text() and url in box.state_line.text()
        assert f"pid {box.status.pid}" in box.state_line.text()
        assert env.sections.tabs.tabText(TUNNEL_TAB) == "Tunnel: up"
        assert url in box.output.toPlainText()  # the program's own lines, as it printed them
        # The public URL box shows the tunnel's URL, read-only, and says it is managed.
        where = env.pane.where
        await until(lambda: where.public_url.text() == url)
        assert where.public_url.isReadOnly() and "Managed by the tunnel" in where.managed.text()
        # Check now probes through the tunnel back to this receiver.
        box.check.click()  # a probe of the URL just seen may be under way: its answer shows too
        await env.pane.settled()
        await until(lambda: box.reach_line.text().startswith("Reachable"), 30)
        assert url in box.reach_line.text()
        # The history lists the URL seen.
        await until(lambda: url in _column(box, 1))
        # Back to manual: saved, the program stopped, the typed URL is editable again.
        pid = box.status.pid
        choose(box, "manual")
        assert on_disk(env)["mode"] == "manual"
        await until(lambda: box.status.mode == "manual")
        assert pid is not None and not _alive(pid)
        assert not where.public_url.isReadOnly() and where.public_url.text() == env.core.runtime.base_url


def _column(box: TunnelBox, col: int) -> list[str]:
    return [item.text() for r in range(box.history.rowCount()) if (item := box.history.item(r, col))]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" not in f.read()
    except FileNotFoundError:
        return False


async def test_a_bad_template_is_refused_by_name_and_nothing_is_saved(tmp_path: Path) -> None:
    async with watch_env(tmp_path, **FAST) as env:
        box = box_of(env)
        before = (env.core.paths.config_dir / "settings.json").read_text()
        choose(box, "command")
        for bad in ("mytunnel --fast", "mytunnel --to '{local_url}"):  # no placeholder; a quote left open
            box.template.setText(bad)
            box.save_template.click()
            assert box.strip.message.isVisibleTo(box)
            assert "tunnel.command" in box.strip.message.text(), box.strip.message.text()
            assert (env.core.paths.config_dir / "settings.json").read_text() == before
        assert env.core.config.settings.value.tunnel.mode == "manual"
        assert box.status.mode == "manual"  # no tunnel was started
        assert box.mode.currentData() == "command"  # the operator's choice stays on screen to fix


async def test_a_missing_program_is_said_in_red_and_restart_tries_again(tmp_path: Path) -> None:
    program = tmp_path / "mytunnel"
    async with watch_env(tmp_path / "data", **FAST) as env:
        box = box_of(env)
        choose(box, "command")
        box.template.setText(f"{program} --to 127.0.0.1:{{port}}")
        box.save_template.click()
        await until(lambda: box.status.state == "failed", 30)
        assert box.error.isVisibleTo(box)
        assert "mytunnel is not installed" in box.error.text(), box.error.text()
        assert "color: #c53030" in box.error.styleSheet()
        assert env.sections.tabs.tabText(TUNNEL_TAB) == "Tunnel: failed"
        # Installed meanwhile (a wrapper of the forwarder): Restart starts it.
        program.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FORWARDER}" "$@"\n')
        program.chmod(0o755)
        box.restart.click()
        await until(lambda: box.status.state == "up", 30)
        assert not box.error.isVisibleTo(box) and "up" in box.state_line.text()


async def test_the_ngrok_authtoken_goes_to_the_secret_store_and_is_never_shown(tmp_path: Path) -> None:
    token = "2abcDEFghiJKLmnoPQRstu_16fakeToken"
    async with watch_env(tmp_path, **FAST) as env:
        box = box_of(env)
        choose(box, "ngrok-sdk")
        assert on_disk(env)["mode"] == "ngrok-sdk"
        row = box.token_row
        await until(lambda: box.status.mode == "ngrok-sdk" and box.status.state == "failed", 30)
        assert "needs your ngrok authtoken" in box.error.text()  # and where to set it, here
        assert "authtoken field above" in box.error.text() and "pilot-desktop" not in box.error.text()
        assert "[hidden]" not in box.output.toPlainText()  # nothing to mask: the lines read as printed
        assert row.field.isVisibleTo(box) and row.field.echoMode() == QLineEdit.EchoMode.Password
        row.field.setText(token)
        row.store_button.click()
        assert env.secrets.get(AUTHTOKEN_SECRET) == token
        assert token not in json.dumps(on_disk(env))
        assert row.state.isVisibleTo(box) and "authtoken stored ✓" in row.state.text()
        assert env.secrets.backend in row.state.text()  # where it is kept
        assert not row.field.isVisibleTo(box) and row.field.text() == ""
        await env.pane.settled()  # restarted with it (ngrok's service is out of reach here)
        await until(
            lambda: box.status.mode == "ngrok-sdk" and box.status.state in ("failed", "restarting"), 30
        )
        shown = [w.text() for w in box.findChildren(QLabel)] + [w.text() for w in box.findChildren(QLineEdit)]
        shown += [w.toPlainText() for w in box.findChildren(QPlainTextEdit)]
        assert not any(token in text for text in shown)
        assert "needs your ngrok authtoken" not in box.error.text()  # restarted with the one stored
        row.change.click()  # a new one: an empty field, the old one not shown
        assert row.field.isVisibleTo(box) and row.field.text() == ""


async def test_a_url_change_waits_in_a_banner_and_review_moves_the_webhooks(tmp_path: Path) -> None:
    async with watch_env(tmp_path, numbers=2, **FAST) as env:
        for _, number in env.core.accounts.numbers():
            await env.core.webhooks.create(number.id, ["*"], name="mine")
        old = env.core.runtime.base_url
        box = box_of(env)
        choose(box, "command")
        box.template.setText(FORWARD)
        box.save_template.click()
        await until(lambda: box.status.state == "up", 30)
        new = box.status.public_url
        assert new is not None
        banner = env.sections.banner
        await until(lambda: banner.isVisibleTo(env.pane), 30)
        assert banner.text.text() == f"2 webhooks still point at the old address {old}."
        banner.review.click()
        dialog = env.pane.dialog
        assert isinstance(dialog, RetargetDialog) and dialog.table.rowCount() == 2
        dialog.apply_button.click()
        await env.pane.settled()
        hooks = await env.platform()
        assert sorted(h["url"].split("/hooks/")[0] for h in hooks.values()) == [new, new]
        assert not banner.isVisibleTo(env.pane)
        rows = env.core.reads.url_history() if env.core.reads else []
        assert sum(r.kind == "registered" and r.source == "preview" for r in rows) == 2


async def test_a_failed_tunnel_advertises_no_dead_url_and_offers_no_move(tmp_path: Path) -> None:
    program = tmp_path / "mytunnel"
    async with watch_env(tmp_path / "data", numbers=2, **FAST) as env:
        for _, number in env.core.accounts.numbers():
            await env.core.webhooks.create(number.id, ["*"], name="mine")
        box = box_of(env)
        choose(box, "command")
        box.template.setText(FORWARD)
        box.save_template.click()
        await until(lambda: box.status.state == "up", 30)
        url = box.status.public_url
        assert url is not None
        banner, where = env.sections.banner, env.pane.where
        await until(lambda: banner.isVisibleTo(env.pane) and banner.review.isVisibleTo(env.pane), 30)
        await until(lambda: where.public_url.text() == url)
        # The tunnel fails (another program, not installed): its old URL is dead.
        box.template.setText(f"{program} --to 127.0.0.1:{{port}}")
        box.save_template.click()
        await until(lambda: box.status.state == "failed", 30)
        await until(lambda: where.public_url.text() == "")
        assert "no public URL while the tunnel has failed" in where.managed.text(), where.managed.text()
        assert url not in where.hook_line.text()
        assert "waiting for the tunnel's new URL" in banner.text.text(), banner.text.text()
        assert not banner.review.isVisibleTo(env.pane)
        assert not box.strip.message.isVisibleTo(box) or "saved" not in box.strip.message.text()
        assert "is failed" not in box.state_line.text() + box.error.text()


async def test_the_review_shows_the_new_address_at_900_px(tmp_path: Path) -> None:
    async with watch_env(tmp_path, numbers=2, **FAST) as env:
        for _, number in env.core.accounts.numbers():
            await env.core.webhooks.create(number.id, ["*"], name="mine")
        box = box_of(env)
        choose(box, "command")
        box.template.setText(FORWARD)
        box.save_template.click()
        await until(lambda: box.status.state == "up", 30)
        new = box.status.public_url
        assert new is not None
        banner = env.sections.banner
        await until(lambda: banner.review.isVisibleTo(env.pane), 30)
        banner.review.click()
        dialog = env.pane.dialog
        assert isinstance(dialog, RetargetDialog)
        for width in (900, 1100):
            dialog.resize(width, 420)
            dialog.show()
            table = dialog.table
            view = table.viewport().width()
            to = dialog.column("Will point at")
            assert table.columnViewportPosition(to) + table.columnWidth(to) <= view, width
            item = table.item(0, to)
            assert item is not None and new.split("//")[1] in item.text()
            assert item.toolTip().startswith(new + "/hooks/")
            tick = table.item(0, 0)
            assert tick is not None and table.columnWidth(0) <= 90

"""`pilot-desktop webhooks subscribe-all` and `webhooks drift` as scripts and people use them:
real CLI processes against a real sandbox platform on loopback, a temporary --data-dir."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from pilot_desktop.core.catalogue import ALL_EVENTS, PILOT_STATUS
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import BIN, CLI_TIMEOUT_S, cli_env, state_of
from tests.integration.test_cli_webhooks import add_tenant, hooks_of, ok, ok_json, pd

PUBLIC = "https://tunnel.example.test"
CRM = "https://crm.example.org/in"


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox(numbers=3) as thread:
        yield thread


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def behind(platform: SandboxThread, method: str, path: str, **body: object) -> dict[str, object]:
    """The platform's REST API with the tenant key, behind the app's back."""
    sb = platform.sandbox
    with httpx.Client(base_url=sb.base_url, headers={"x-api-key": sb.tenant_key}, trust_env=False) as api:
        r = api.request(method, path, json=body or None)
    assert r.status_code in (200, 201), r.text
    result: dict[str, object] = r.json()
    return result


def prepared(platform: SandboxThread, data: Path) -> tuple[str, str, str]:
    """Two accounts (the tenant key, the second number's own key); the first number has another
    system's webhook, the second this app's webhook on an old public URL, the third none."""
    sb = platform.sandbox
    add_tenant(data, sb)
    first, second, third = (n.id for n in sb.numbers)
    ok(
        pd(
            data,
            "accounts",
            "add",
            "--base-url",
            sb.base_url,
            "--label",
            "Second",
            stdin=sb.number_keys[second],
        )
    )
    ok(pd(data, "public-url", PUBLIC))
    token = state_of(data)["token"]
    behind(platform, "POST", "/v1/webhooks", url=CRM, events=["message.sent"], whatsappNumberId=first)
    old = f"https://old.example.test/hooks/{token}/{second}"
    behind(platform, "POST", "/v1/webhooks", url=old, events=["*"], whatsappNumberId=second)
    return first, second, third


def test_the_preview_changes_nothing_and_yes_applies_it(platform: SandboxThread, data: Path) -> None:
    first, second, third = prepared(platform, data)
    before = hooks_of(platform)
    preview = ok(pd(data, "webhooks", "subscribe-all"))
    assert "add --yes to apply" in preview.stdout and CRM in preview.stdout
    assert hooks_of(platform) == before
    plan = ok_json(pd(data, "webhooks", "subscribe-all", "--json"))
    assert plan["applied"] is False and plan["failures"] == []
    assert {(s["numberId"], s["action"]) for s in plan["steps"]} == {
        (first, "create"),
        (second, "repoint"),
        (third, "create"),
    }
    assert hooks_of(platform) == before

    secrets = data.parent / "secrets.txt"
    secrets.write_text(f"# from the dashboard\n{first}=whsec_from_file_1\n")
    done = pd(data, "webhooks", "subscribe-all", "--yes", "--json", "--secrets-file", str(secrets))
    result = json.loads(ok(done).stdout)
    assert "whsec_from_file_1" not in done.stdout + done.stderr  # never printed
    by_number = {o["numberId"]: o for o in result["outcomes"]}
    assert by_number[first]["secretStored"] is True and by_number[third]["secretStored"] is False
    assert "accepts their deliveries unsigned" in done.stderr
    here = f"{PUBLIC}/hooks/{state_of(data)['token']}"
    mine = sorted(
        (h["number_id"], h["url"], h["events"]) for h in hooks_of(platform).values() if here in h["url"]
    )
    assert mine == sorted((n, f"{here}/{n}", [ALL_EVENTS]) for n in (first, second, third))
    assert any(h["url"] == CRM for h in hooks_of(platform).values())
    again = ok_json(pd(data, "webhooks", "subscribe-all", "--json"))
    assert {s["action"] for s in again["steps"]} == {"keep"}


def test_a_bad_secrets_file_changes_nothing(platform: SandboxThread, data: Path) -> None:
    prepared(platform, data)
    before = hooks_of(platform)
    bad = data.parent / "bad.txt"
    bad.write_text("wh_1=ok\nthis line has no equals sign\n")
    r = pd(data, "webhooks", "subscribe-all", "--yes", "--secrets-file", str(bad))
    assert r.returncode == 2 and "line 2" in r.stderr and "no equals" not in r.stderr
    missing = pd(data, "webhooks", "subscribe-all", "--yes", "--secrets-file", str(data.parent / "none"))
    assert missing.returncode == 2 and "cannot be read" in missing.stderr
    assert hooks_of(platform) == before


def _on_terminal(args: list[str], answer: Callable[[str], str]) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its controlling terminal (getpass reads
    /dev/tty); `answer(prompt)` gives what to type to each hidden prompt."""
    leader, follower = pty.openpty()

    def controlling() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [str(BIN), *args],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=cli_env(),
        start_new_session=True,
        preexec_fn=controlling,  # noqa: PLW1509 - only makes the pty its terminal
    )
    os.close(follower)
    seen, deadline = "", time.monotonic() + CLI_TIMEOUT_S
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 4096).decode(errors="replace")
            except OSError:
                break
            seen += chunk
            if "input hidden" in chunk:
                os.write(leader, (answer(seen) + "\n").encode())
        out = proc.communicate(timeout=CLI_TIMEOUT_S)[0].decode()
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, seen + out


def test_on_a_terminal_each_new_webhooks_secret_is_asked(platform: SandboxThread, data: Path) -> None:
    first, _, third = prepared(platform, data)
    sb = platform.sandbox

    def from_dashboard(prompt: str) -> str:  # the operator copies the secret the prompt names
        hook_id = re.findall(r"new webhook (\S+) of", prompt)[-1]
        return "" if third in prompt.rsplit("new webhook", 1)[-1] else sb.webhook_secret(hook_id)

    code, shown = _on_terminal(
        ["webhooks", "subscribe-all", "--yes", "--data-dir", str(data)], from_dashboard
    )
    assert code == 0, shown
    assert shown.count("input hidden") == 2  # the two created webhooks
    listed = {h["numberId"]: h for h in ok_json(pd(data, "webhooks", "list", "--json")) if h["pointsHere"]}
    assert listed[first]["secretStored"] is True and listed[third]["secretStored"] is False
    assert sb.webhook_secret(listed[first]["id"]) not in shown


def test_drift_lists_and_audits(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    data.mkdir()  # a data folder without a database yet (a missing folder is an error)
    nothing = ok(pd(data, "webhooks", "drift"))
    assert "No drift" in nothing.stdout and "no audit has run" in nothing.stderr
    add_tenant(data, sb)
    ok(pd(data, "public-url", PUBLIC))
    web = next(n.id for n in sb.numbers if n.provider == PILOT_STATUS)
    hook = ok_json(pd(data, "webhooks", "create", "-n", web, "--all-events", "--json"))
    calls = ok_json(
        pd(data, "webhooks", "create", "-n", web, "--events", "call.ringing,message.sent", "--json")
    )
    assert calls["events"] == ["message.sent"]
    behind(platform, "PATCH", f"/v1/webhooks/{hook['id']}", active=False)

    audited = ok_json(pd(data, "webhooks", "drift", "--audit", "--json"))
    keys = {f["key"] for f in audited["open"]}
    assert keys == {f"paused:{hook['id']}", f"events_dropped:{calls['id']}"}
    assert len(audited["new"]) == 2 and audited["failures"] == []
    listed = ok(pd(data, "webhooks", "drift"))
    assert "paused" in listed.stdout and "web (QR) number cannot emit it" in listed.stdout
    assert {f["key"] for f in ok_json(pd(data, "webhooks", "drift", "--json"))["open"]} == keys

    behind(platform, "PATCH", f"/v1/webhooks/{hook['id']}", active=True)
    again = ok_json(pd(data, "webhooks", "drift", "--audit", "--json"))
    assert again["new"] == [] and [f["key"] for f in again["resolved"]] == [f"paused:{hook['id']}"]
    assert [f["key"] for f in again["open"]] == [f"events_dropped:{calls['id']}"]


def _schema_1_store(data: Path) -> Path:
    """A data folder whose database an older Pilot Desktop wrote (schema 1: no drift table)."""
    import sqlite3

    from pilot_desktop.store.db import APPLICATION_ID, DB_NAME, MIGRATIONS

    data.mkdir(parents=True)
    db = data / DB_NAME
    old = sqlite3.connect(db, isolation_level=None)
    try:
        for statement in MIGRATIONS[0]:
            old.execute(statement)
        old.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        old.execute("PRAGMA user_version = 1")
    finally:
        old.close()
    return db


@pytest.mark.parametrize(
    "command",
    [["webhooks", "drift"], ["tunnel", "history"], ["tunnel", "probes"], ["status"]],
    ids=["drift", "history", "probes", "status"],
)
def test_read_commands_on_an_old_store_ask_for_the_upgrade_and_change_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "old"
    db = _schema_1_store(data)
    before = db.read_bytes()
    res = subprocess.run(
        [str(BIN), *command, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=cli_env(),
        check=False,
    )
    assert res.returncode == 1, res.stderr
    said = res.stderr + res.stdout
    assert "older Pilot Desktop (schema 1)" in said and "pilot-desktop rebuild" in said, said
    assert "Database error" not in said and "Traceback" not in said
    assert db.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == [db.name]  # no logs/, settings or state


@pytest.mark.parametrize(
    "command",
    [
        ["webhooks", "drift"],
        ["webhooks", "drift", "--json"],
        ["webhooks", "drift", "--audit"],
        ["tunnel", "history"],
        ["tunnel", "probes"],
        ["tunnel", "show"],
        ["status"],
    ],
    ids=["drift", "drift-json", "drift-audit", "history", "probes", "show", "status"],
)
def test_read_commands_on_a_missing_data_folder_say_so_and_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "nowhere" / "data"
    res = subprocess.run(
        [str(BIN), *command, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=cli_env(),
        check=False,
    )
    said = res.stderr + res.stdout
    assert str(data) in said and "Traceback" not in said, said
    if command != ["tunnel", "show"]:  # show prints the settings (defaults) and the store's state
        assert res.returncode == 1, said
    assert not (tmp_path / "nowhere").exists()

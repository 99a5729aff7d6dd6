"""`pilot-desktop accounts|public-url|webhooks` as scripts use them: real CLI processes
against a real sandbox platform on loopback, a temporary --data-dir each."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilot_desktop.core.signature import HEADER as SIGNATURE
from pilot_desktop.sandbox.server import Sandbox
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import (
    BIN,
    CLI_TIMEOUT_S,
    Server,
    cli_env,
    open_ro,
    settings_of,
    sign,
    state_of,
    token_of,
)
from tests.sandbox.conftest import body

NO_KEYRING = "No system keyring is available"
UNAUTHORIZED = "The API key was refused"
HOOK_FIELDS = {
    "id",
    "numberId",
    "numberName",
    "name",
    "url",
    "active",
    "events",
    "pointsHere",
    "secretStored",
    "lastTriggered",
    "createdAt",
    "updatedAt",
}


def pd(
    data: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`pilot-desktop ARGS --data-dir DATA`; stdin is empty (not a terminal) unless given."""
    return subprocess.run(
        [str(BIN), *args, "--data-dir", str(data)],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env={**cli_env(), **(env or {})},
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def add_tenant(data: Path, sb: Sandbox) -> dict[str, Any]:
    account: dict[str, Any] = ok_json(
        pd(data, "accounts", "add", "--base-url", sb.base_url, "--json", stdin=sb.tenant_key)
    )
    return account


def hooks_of(platform: SandboxThread) -> dict[str, dict[str, Any]]:
    """The platform's own view of its webhooks (secrets included), read on its loop."""
    return platform.call(
        lambda: {
            h.id: {"number_id": h.number_id, "url": h.url, "events": list(h.events), "active": h.active}
            for h in platform.sandbox.state.webhooks.values()
        }
    )


# -- accounts ------------------------------------------------------------------------------
def test_accounts_add_detects_the_scope_and_numbers_of_each_key(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    first = sb.numbers[0]
    added = pd(data, "accounts", "add", "--base-url", sb.base_url, stdin=sb.tenant_key + "\n")
    ok(added)
    assert "tenant key" in added.stdout
    assert all(n.id in added.stdout for n in sb.numbers)
    assert NO_KEYRING in added.stderr  # no keyring in the tests: the 0600 file, said aloud
    # The number key from the environment, as a script would pass it.
    number = ok_json(
        pd(
            data,
            "accounts", "add", "--base-url", sb.base_url, "--label", "Shop", "--json",
            env={"PILOT_DESKTOP_API_KEY": sb.number_keys[first.id]},
        )
    )  # fmt: skip
    assert number["scope"] == "number" and number["label"] == "Shop"
    assert [n["id"] for n in number["numbers"]] == [first.id]

    listed = ok_json(pd(data, "accounts", "list", "--json"))
    assert [a["scope"] for a in listed] == ["tenant", "number"]
    assert {n["id"] for n in listed[0]["numbers"]} == {n.id for n in sb.numbers}
    assert listed[1] == number
    assert set(listed[0]) == {"id", "label", "scope", "baseUrl", "numbers"}
    assert all(a["baseUrl"] == sb.base_url for a in listed)
    text = ok(pd(data, "accounts", "list")).stdout
    for key in (sb.tenant_key, sb.number_keys[first.id]):
        assert key not in text and key not in json.dumps(listed)

    refreshed = ok_json(pd(data, "accounts", "refresh", "--json"))
    assert refreshed == listed  # the numbers re-read from the platform are the same
    # The same key twice is refused; remove deletes the account.
    again = pd(data, "accounts", "add", "--base-url", sb.base_url, stdin=sb.tenant_key)
    assert again.returncode == 1 and "already added" in again.stderr
    ok(pd(data, "accounts", "remove", listed[1]["id"]))
    assert [a["id"] for a in ok_json(pd(data, "accounts", "list", "--json"))] == [listed[0]["id"]]
    gone = pd(data, "accounts", "remove", listed[1]["id"])
    assert gone.returncode == 1 and listed[1]["id"] in gone.stderr


def test_a_refused_key_exits_1_with_the_401_sentence(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    bad = pd(data, "accounts", "add", "--base-url", sb.base_url, stdin="ps_live_not_a_real_key")
    assert bad.returncode == 1
    assert UNAUTHORIZED in bad.stderr and "UNAUTHORIZED" in bad.stderr and "HTTP 401" in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stdout == ""
    assert ok_json(pd(data, "accounts", "list", "--json")) == []


def test_the_api_key_is_never_taken_from_the_command_line(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    r = pd(data, "accounts", "add", sb.tenant_key, "--base-url", sb.base_url)
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr
    empty = pd(data, "accounts", "add", "--base-url", sb.base_url, stdin="")
    assert empty.returncode == 2 and "No API key on stdin" in empty.stderr
    bad_url = pd(data, "accounts", "add", "--base-url", "ftp://x", stdin=sb.tenant_key)
    assert bad_url.returncode == 2 and "--base-url" in bad_url.stderr
    assert ok_json(pd(data, "accounts", "list", "--json")) == []


# -- public URL ----------------------------------------------------------------------------
def test_public_url_is_normalized_and_a_bad_one_names_the_field(data: Path) -> None:
    shown = pd(data, "public-url")
    assert shown.returncode == 0 and shown.stdout == "" and "No public URL set" in shown.stderr
    assert (
        ok(pd(data, "public-url", "HTTPS://Tunnel.Example.COM:443/")).stdout == "https://tunnel.example.com\n"
    )
    token = token_of(data)
    assert ok_json(pd(data, "public-url", "--json")) == {
        "publicUrl": "https://tunnel.example.com",
        "hookUrl": f"https://tunnel.example.com/hooks/{token}",
    }
    for bad in ("ftp://tunnel.example.com", "https://x.example.com/hooks/abc/def", "not a url", ""):
        r = pd(data, "public-url", bad)
        assert r.returncode == 2, r.stderr
        assert "public_url" in r.stderr and "Public URL" in r.stderr and "Traceback" not in r.stderr
    assert settings_of(data)["public_url"] == "https://tunnel.example.com"
    ok(pd(data, "public-url", "--clear"))
    assert settings_of(data)["public_url"] is None


# -- webhooks ------------------------------------------------------------------------------
def test_create_update_pause_list_delete(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    number, other = sb.numbers[0], sb.numbers[1]

    no_public = pd(data, "webhooks", "create", "--number", number.id, "--events", "message.received")
    assert no_public.returncode == 2
    assert "pilot-desktop public-url https://" in no_public.stderr
    assert hooks_of(platform) == {}

    ok(pd(data, "public-url", "https://tunnel.example.com/"))
    token = token_of(data)
    created = pd(
        data, "webhooks", "create", "--number", number.id,
        "--events", "message.received,message.sent", "--json",
    )  # fmt: skip
    hook = ok_json(created)
    assert "health alerts" not in created.stderr  # only noted when number.* events are picked
    want_url = f"https://tunnel.example.com/hooks/{token}/{number.id}"
    assert hooks_of(platform) == {
        hook["id"]: {
            "number_id": number.id,
            "url": want_url,
            "events": ["message.received", "message.sent"],
            "active": True,
        }
    }
    assert set(hook) == HOOK_FIELDS
    assert hook["url"] == want_url and hook["pointsHere"] is True and hook["numberId"] == number.id
    assert hook["secretStored"] is False

    # Another system's webhook on another number, picked by the number's name.
    elsewhere = ok_json(
        pd(
            data, "webhooks", "create", "--number", other.name, "--all-events",
            "--url", "https://elsewhere.example.com/in", "--paused", "--json",
        )
    )  # fmt: skip
    assert hooks_of(platform)[elsewhere["id"]] == {
        "number_id": other.id,
        "url": "https://elsewhere.example.com/in",
        "events": ["*"],
        "active": False,
    }

    # --events replaces the whole list; --pause stops deliveries.
    ok(pd(data, "webhooks", "update", hook["id"], "--events", "message.read"))
    assert hooks_of(platform)[hook["id"]]["events"] == ["message.read"]
    ok(pd(data, "webhooks", "update", hook["id"], "--pause"))
    assert hooks_of(platform)[hook["id"]]["active"] is False
    assert hooks_of(platform)[hook["id"]]["events"] == ["message.read"]
    ok(pd(data, "webhooks", "update", hook["id"], "--resume", "--no-events", "--number", number.id))
    assert hooks_of(platform)[hook["id"]] | {"url": ""} == {
        "number_id": number.id,
        "url": "",
        "events": [],
        "active": True,
    }
    ok(pd(data, "webhooks", "update", hook["id"], "--url", "https://moved.example.com/x"))
    assert hooks_of(platform)[hook["id"]]["url"] == "https://moved.example.com/x"
    back = ok_json(pd(data, "webhooks", "update", hook["id"], "--here", "--json"))
    assert hooks_of(platform)[hook["id"]]["url"] == want_url == back["url"] and back["pointsHere"] is True
    nothing = pd(data, "webhooks", "update", hook["id"])
    assert nothing.returncode == 2 and "Nothing to change" in nothing.stderr

    listed = {h["id"]: h for h in ok_json(pd(data, "webhooks", "list", "--json"))}
    assert set(listed) == {hook["id"], elsewhere["id"]}
    assert listed[hook["id"]]["pointsHere"] is True and listed[elsewhere["id"]]["pointsHere"] is False
    assert listed[elsewhere["id"]]["active"] is False and listed[elsewhere["id"]]["events"] == ["*"]
    only = ok_json(pd(data, "webhooks", "list", "--number", other.id, "--json"))
    assert [h["id"] for h in only] == [elsewhere["id"]]
    table = ok(pd(data, "webhooks", "list")).stdout
    here_line = next(line for line in table.splitlines() if line.startswith(hook["id"]))
    other_line = next(line for line in table.splitlines() if line.startswith(elsewhere["id"]))
    assert f"* {want_url}" in here_line and "* " not in other_line

    refused = pd(data, "webhooks", "delete", hook["id"])  # stdin is not a terminal
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert hook["id"] in hooks_of(platform)
    ok(pd(data, "webhooks", "delete", hook["id"], "--yes"))
    assert set(hooks_of(platform)) == {elsewhere["id"]}
    assert [h["id"] for h in ok_json(pd(data, "webhooks", "list", "--json"))] == [elsewhere["id"]]


def test_a_number_key_acts_on_its_own_number_only(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    mine, theirs = sb.numbers[0], sb.numbers[1]
    ok(pd(data, "accounts", "add", "--base-url", sb.base_url, stdin=sb.number_keys[mine.id]))
    ok(pd(data, "public-url", "https://t.example.com"))
    hook = ok_json(pd(data, "webhooks", "create", "-n", mine.phone, "--all-events", "--json"))
    assert hooks_of(platform)[hook["id"]]["number_id"] == mine.id
    r = pd(data, "webhooks", "create", "--number", theirs.id, "--all-events")
    assert r.returncode == 1 and "No account can act on number" in r.stderr
    assert len(hooks_of(platform)) == 1


def test_platform_errors_exit_1_with_the_sentence_and_code(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    for extra in ([], ["--number", sb.numbers[0].id]):  # searched, or asked of that number
        r = pd(data, "webhooks", "update", "wh_does_not_exist", "--pause", *extra)
        assert r.returncode == 1, r.stderr
        assert "WEBHOOK_NOT_FOUND" in r.stderr and "That webhook no longer exists" in r.stderr
        assert "Traceback" not in r.stderr and r.stdout == ""
    # A value the platform refuses: its field is named.
    ok(pd(data, "public-url", "https://t.example.com"))
    r = pd(
        data, "webhooks", "create", "-n", sb.numbers[0].id, "--all-events", "--url", "mailto:x@y", "--json"
    )
    assert r.returncode == 1 and "'url'" in r.stderr and "VALIDATION_ERROR" in r.stderr and r.stdout == ""
    # No accounts at all: said, not traced.
    empty = pd(data.parent / "empty", "webhooks", "list")
    assert empty.returncode == 1 and "accounts add" in empty.stderr


def test_delete_asks_on_a_terminal(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    ok(pd(data, "public-url", "https://t.example.com"))
    hook = ok_json(pd(data, "webhooks", "create", "-n", sb.numbers[0].id, "--all-events", "--json"))

    def answer(reply: str) -> subprocess.CompletedProcess[str]:
        leader, follower = pty.openpty()
        try:
            os.write(leader, reply.encode())  # typed ahead: the terminal keeps it for the read
            return subprocess.run(
                [str(BIN), "webhooks", "delete", hook["id"], "--data-dir", str(data)],
                stdin=follower,
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT_S,
                env=cli_env(),
                check=False,
            )
        finally:
            os.close(follower)
            os.close(leader)

    no = answer("n\n")
    assert no.returncode == 1 and "Delete webhook" in no.stderr and "Not deleted" in no.stderr
    assert hook["id"] in hooks_of(platform)
    yes = answer("y\n")
    assert yes.returncode == 0, yes.stderr
    assert hook["id"] not in hooks_of(platform)


def test_logs_show_what_the_receiver_stored(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    sb = platform.sandbox
    number = sb.numbers[0]
    add_tenant(data, sb)
    server = serve(data_dir=data)
    ok(pd(data, "public-url", server.base))  # the loopback receiver stands in for the tunnel
    hook = ok_json(pd(data, "webhooks", "create", "-n", number.id, "--events", "message.received", "--json"))
    assert hook["url"] == server.hook(number.id)
    # A second webhook whose URL the receiver refuses (a wrong token): deliveries fail.
    broken = ok_json(
        pd(
            data, "webhooks", "create", "-n", number.id, "--events", "message.sent",
            "--url", server.hook(number.id, token="wrong-token-wrong-token"), "--json",
        )
    )  # fmt: skip

    assert (
        platform.call(
            lambda: sb.emit(number.id, "message.received", body("message.received", number.id, "m-1"))
        )
        == 1
    )
    sent = body("message.sent", number.id, "m-2")
    assert platform.call(lambda: sb.emit(number.id, "message.sent", sent)) == 1
    platform.wait_for(lambda s: s.delivered_log(hook["id"]), what="the delivery to serve")
    platform.wait_for(lambda s: s.delivered_log(broken["id"]), what="the refused delivery")
    # Stored by the receiver but not delivered by the platform: "extra".
    direct = server.post(body("message.received", number.id, "m-direct"), route=number.id)
    assert direct.status_code == 200, direct.text

    logs = ok_json(pd(data, "webhooks", "logs", hook["id"], "--json"))
    assert logs["webhook"]["id"] == hook["id"] and logs["route"] == number.id
    [delivery] = logs["deliveries"]
    assert delivery["event"] == "message.received" and delivery["status"] == "SUCCESS"
    assert delivery["statusCode"] == 200 and isinstance(delivery["durationMs"], int | float)
    assert delivery["stored"] is True and delivery["verdict"] == "received"
    assert set(delivery) == {
        "createdAt", "event", "status", "statusCode", "durationMs", "dedupeKey", "stored", "verdict",
    }  # fmt: skip
    assert logs["counts"] == {"received": 1, "missing": 0, "failed": 0, "extra": 1}
    assert [x["event"] for x in logs["extra"]] == ["message.received"]
    conn = open_ro(server.db)
    try:
        stored = {
            row[0] for row in conn.execute("SELECT dedupe_key FROM events WHERE route = ?", (number.id,))
        }
    finally:
        conn.close()
    assert delivery["dedupeKey"] in stored and len(stored) == 2  # the delivery and the direct post

    failed = ok_json(pd(data, "webhooks", "logs", broken["id"], "--json"))
    assert failed["deliveries"], failed
    assert all(d["status"] == "FAILED" and d["statusCode"] == 404 for d in failed["deliveries"])
    assert all(
        not d["stored"] and d["verdict"] == "not stored (delivery failed)" for d in failed["deliveries"]
    )
    assert failed["counts"]["failed"] == len(failed["deliveries"]) and failed["counts"]["received"] == 0

    text = ok(pd(data, "webhooks", "logs", hook["id"], "--event", "message.received")).stdout
    assert "SUCCESS" in text and "received" in text and "received 1, missing 0, failed 0, extra 1" in text
    none = ok_json(pd(data, "webhooks", "logs", hook["id"], "--event", "message.sent", "--json"))
    assert none["deliveries"] == [] and none["counts"]["received"] == 0
    bad_limit = pd(data, "webhooks", "logs", hook["id"], "--limit", "500")
    assert bad_limit.returncode == 2 and "--limit" in bad_limit.stderr


def test_a_stored_signing_secret_is_marked_and_forgotten(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    ok(pd(data, "public-url", "https://t.example.com"))
    hook = ok_json(pd(data, "webhooks", "create", "-n", sb.numbers[0].id, "--all-events", "--json"))
    secret = platform.call(lambda: sb.webhook_secret(hook["id"]))
    updated = ok_json(pd(data, "webhooks", "update", hook["id"], "--secret-stdin", "--json", stdin=secret))
    assert updated["secretStored"] is True
    assert ok_json(pd(data, "webhooks", "list", "--json"))[0]["secretStored"] is True
    assert secret not in (data / "settings.json").read_text()
    assert secret not in (data / "state.json").read_text()
    assert state_of(data)["signing_secret_webhooks"] == [hook["id"]]  # the id only
    forgot = ok_json(pd(data, "webhooks", "update", hook["id"], "--forget-secret", "--json"))
    assert forgot == {"id": hook["id"], "secretStored": False}
    assert ok_json(pd(data, "webhooks", "list", "--json"))[0]["secretStored"] is False
    assert secret not in (data / "secrets.json").read_text()


def test_the_default_hook_url_reaches_this_apps_receiver(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    """The URL `create` picks is one the receiver answers (not just a string that looks right)."""
    sb = platform.sandbox
    add_tenant(data, sb)
    server = serve(data_dir=data)
    ok(pd(data, "public-url", server.base))
    hook = ok_json(pd(data, "webhooks", "create", "-n", sb.numbers[1].id, "--all-events", "--json"))
    with httpx.Client(timeout=10) as client:
        resp = client.post(hook["url"], json=body("message.received", sb.numbers[1].id, "probe-1"))
    assert resp.status_code == 200, resp.text
    assert [r["route"] for r in server.export()] == [sb.numbers[1].id]


def test_a_secret_stored_while_serve_runs_applies_at_once(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    sb = platform.sandbox
    number = sb.numbers[2]
    add_tenant(data, sb)
    server = serve(data_dir=data)
    assert server.wait_for_line("Signature check: ", 10).startswith("Signature check: off"), server.output()
    ok(pd(data, "public-url", server.base))
    hook = ok_json(pd(data, "webhooks", "create", "-n", number.id, "--all-events", "--json"))
    secret = platform.call(lambda: sb.webhook_secret(hook["id"]))
    raw = json.dumps(body("message.received", number.id, "before")).encode()
    with httpx.Client(timeout=10) as client:
        assert client.post(hook["url"], content=raw, headers={SIGNATURE: sign(raw, "x")}).status_code == 200

        stored = pd(data, "webhooks", "update", hook["id"], "--secret-stdin", stdin=secret)
        ok(stored)
        assert "401" in stored.stderr  # says what storing a secret changes

        raw = json.dumps(body("message.received", number.id, "after")).encode()
        wrong = client.post(hook["url"], content=raw, headers={SIGNATURE: sign(raw, "x")})
        assert wrong.status_code == 401, wrong.text
    platform.call(
        lambda: sb.emit(number.id, "message.received", body("message.received", number.id, "signed"))
    )
    platform.wait_for(lambda s: s.delivered_log(hook["id"]), what="the signed delivery")
    by_marker = {r["payload"]["data"]["id"]: r["signature"] for r in server.export()}
    assert by_marker == {"before": "unverified", "signed": "valid"}

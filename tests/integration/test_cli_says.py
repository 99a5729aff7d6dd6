"""What the CLI says when things are not as asked, as real `pilot-desktop` processes against
a real sandbox platform on loopback, a temporary --data-dir each: the data of every command
as --json, a webhook looked for on the wrong number, reconcile's problems bounded and said
once, and no window gestures in what a headless user reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pilot_desktop.cli.watch_lines import MOVE_BY_HAND
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import Server, cli
from tests.integration.test_cli_webhooks import add_tenant, ok, ok_json, pd
from tests.sandbox.conftest import body

PUBLIC = "https://tunnel.example.com"


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_rebuild_tunnel_set_and_the_authtoken_print_their_data_as_json(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = serve(data_dir=data)
    assert server.post(body("message.received", "num_a", "m-1"), route="num_a").status_code == 200
    server.stop()
    rebuilt = ok_json(pd(data, "rebuild", "--json"))
    assert rebuilt["messages"] == 1 and rebuilt["numbers"] >= 0 and rebuilt["steps"] >= 1
    assert set(rebuilt) == {"messages", "steps", "numbers", "seconds", "upgradedFrom"}
    said = ok_json(pd(data, "tunnel", "set", "manual", "--auto-repoint", "--json"))
    assert said["mode"] == "manual" and said["autoRepoint"] is True
    assert said == ok_json(pd(data, "tunnel", "show", "--json"))["settings"]
    stored = ok_json(pd(data, "tunnel", "authtoken", "--json", stdin="2abcdefghij_klmnopqrstuvwxyz\n"))
    assert stored["authtokenStored"] is True
    gone = ok_json(pd(data, "tunnel", "forget-authtoken", "--json"))
    assert gone == {"authtokenStored": False, "deleted": True}
    assert ok_json(pd(data, "tunnel", "forget-authtoken", "--json")) == {
        "authtokenStored": False,
        "deleted": False,
    }


def test_export_json_is_its_ndjson_and_refuses_csv(serve: Callable[..., Server], tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = serve(data_dir=data)
    assert server.post(body("message.received", "num_a", "m-1"), route="num_a").status_code == 200
    as_json = ok(pd(data, "export", "--json")).stdout
    assert as_json == ok(pd(data, "export", "--format", "ndjson")).stdout
    assert [json.loads(line)["payload"]["data"]["id"] for line in as_json.splitlines()] == ["m-1"]
    both = pd(data, "export", "--json", "--format", "csv")
    assert both.returncode == 2 and "--json" in both.stderr and both.stdout == ""


def test_a_webhook_asked_of_the_wrong_number_is_said_to_be_on_its_own(
    platform: SandboxThread, data: Path
) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    ok(pd(data, "public-url", PUBLIC))
    mine, other = sb.numbers[0], sb.numbers[1]
    hook = ok_json(pd(data, "webhooks", "create", "-n", mine.id, "--all-events", "--json"))
    for args in (["logs", hook["id"]], ["delete", hook["id"], "--yes"], ["update", hook["id"], "--pause"]):
        res = pd(data, "webhooks", *args, "-n", other.name)
        assert res.returncode == 2, (args, res.stderr)
        assert "no longer exists" not in res.stderr, res.stderr
        assert hook["id"] in res.stderr and mine.name in res.stderr and other.name in res.stderr, res.stderr
    assert ok_json(pd(data, "webhooks", "logs", hook["id"], "-n", mine.name, "--json"))["webhook"]["active"]
    # Really gone: the platform's own sentence still.
    gone = pd(data, "webhooks", "logs", "wh_not_there", "-n", other.name)
    assert gone.returncode == 1 and "WEBHOOK_NOT_FOUND" in gone.stderr


def test_reconcile_problems_are_bounded_grouped_and_said_once(
    platform: SandboxThread, serve: Callable[..., Server], data: Path
) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    number = sb.numbers[0].id
    server = serve(data_dir=data)
    ids = [f"msg_unknown_{i:02d}" for i in range(25)]  # sent, never finished, unknown to the platform
    for msg_id in ids:
        sent = body("message.sent", number, msg_id)
        sent["data"] |= {"fromMe": True, "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        assert server.post(sent, route=number).status_code == 200
    res = pd(data, "reconcile", "--since", "30m")
    assert res.returncode == 0, res.stderr
    problems = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(problems) <= 11, res.stderr
    said = "\n".join(problems)
    assert said.count("MESSAGE_NOT_FOUND") == 1, said  # one line for the 25 of the same reason
    assert "25 messages" in said and "was not found" not in said, said
    shown = [i for i in ids if i in said]
    assert 1 <= len(shown) <= 10 and "15 more" in said, said
    doc = ok_json(pd(data, "reconcile", "--since", "30m", "--json"))
    assert len(doc["errors"]) == 1 and "25 messages" in doc["errors"][0]


def test_what_serve_says_to_move_webhooks_is_the_cli_way() -> None:
    assert "tunnel set" in MOVE_BY_HAND and "--auto-repoint" in MOVE_BY_HAND
    assert "pane" not in MOVE_BY_HAND and "window" not in MOVE_BY_HAND


def test_demo_without_a_demo_store_says_what_a_headless_user_can_do(tmp_path: Path) -> None:
    res = cli("--demo", "messages", "--data-dir", tmp_path / "data")
    assert res.returncode == 1 and "No demo store" in res.stderr
    assert "opens the window" not in res.stderr and "only the demo window" in res.stderr, res.stderr
    assert "without --demo" in res.stderr

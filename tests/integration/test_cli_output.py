"""What the CLI prints, as scripts and terminals use it: real `pilot-desktop` processes, a
real sandbox platform on loopback, a temporary --data-dir each.

One JSON key style (camelCase) at every level of every command's --json, --json on every
command that prints data, tables fitted to the terminal, the keyring warning once per data
folder, an empty --events refused, --demo reading the demo's store.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.cli.main import DEMO_READERS, build_parser
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import BIN, CLI_TIMEOUT_S, Server, cli, cli_env, token_of
from tests.integration.test_cli_webhooks import NO_KEYRING, add_tenant, hooks_of, ok, ok_json, pd
from tests.sandbox.conftest import body

SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
PUBLIC = "https://tunnel.example.com"
# Long-running processes: what they print is a log of what happens, not a document (serve's
# state is `status --json`, the sandbox's its API). Every other command takes --json, export
# too (its NDJSON; --format csv is the other).
NOT_DATA = {"serve", "sandbox"}


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def snake_keys(doc: Any, where: str = "$") -> list[str]:
    """Every snake_case key anywhere in `doc`, with its path."""
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if SNAKE.fullmatch(key):
                found.append(f"{where}.{key}")
            found += snake_keys(value, f"{where}.{key}")
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += snake_keys(value, f"{where}[{i}]")
    return found


def leaf_commands() -> dict[str, Any]:
    """Every runnable command of the real parser ("webhooks list", "gaps", ...)."""
    out: dict[str, Any] = {}

    def walk(parser: Any, prefix: str) -> None:
        subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subs:
            out[prefix] = parser
        for action in subs:
            for name, child in action.choices.items():
                walk(child, f"{prefix} {name}".strip())

    walk(build_parser(), "")
    return out


def test_every_command_that_prints_data_takes_json() -> None:
    commands = leaf_commands()
    assert "hook-url" in commands and "webhooks list" in commands
    missing = [
        name
        for name, parser in commands.items()
        if name not in NOT_DATA and "--json" not in parser._option_string_actions
    ]
    assert missing == []


def test_hook_url_json(data: Path) -> None:
    local = ok(pd(data, "hook-url")).stdout.strip()
    doc = ok_json(pd(data, "hook-url", "--json"))
    assert doc == {"hookUrl": local, "public": False, "localHookUrl": local}
    ok(pd(data, "public-url", PUBLIC))
    doc = ok_json(pd(data, "hook-url", "--json"))
    assert doc == {"hookUrl": f"{PUBLIC}/hooks/{token_of(data)}", "public": True, "localHookUrl": local}
    assert ok(pd(data, "hook-url")).stdout.strip() == doc["hookUrl"]


def test_json_keys_are_camel_case_at_every_level_of_every_command(
    platform: SandboxThread, data: Path
) -> None:
    sb = platform.sandbox
    docs: dict[str, Any] = {"accounts add": add_tenant(data, sb)}
    ok(pd(data, "public-url", PUBLIC))
    number = sb.numbers[0]
    hook = ok_json(pd(data, "webhooks", "create", "-n", number.id, "--events", "message.received", "--json"))
    assert {"numberId", "pointsHere", "secretStored", "createdAt"} <= set(hook)
    runs = {
        "accounts list": ["accounts", "list"],
        "accounts refresh": ["accounts", "refresh"],
        "public-url": ["public-url"],
        "hook-url": ["hook-url"],
        "webhooks list": ["webhooks", "list"],
        "webhooks update": ["webhooks", "update", hook["id"], "--name", "renamed"],
        "webhooks logs": ["webhooks", "logs", hook["id"]],
        "webhooks subscribe-all": ["webhooks", "subscribe-all"],
        "webhooks drift": ["webhooks", "drift"],
        "tunnel show": ["tunnel", "show"],
        "status": ["status"],
    }
    for name, args in runs.items():
        res = pd(data, *args, "--json")
        assert res.returncode in (0, 1), f"{name}: {res.returncode} {res.stderr}"  # status: 1 = not running
        docs[name] = json.loads(res.stdout)
    docs["webhooks delete"] = ok_json(pd(data, "webhooks", "delete", hook["id"], "--yes", "--json"))
    assert docs["webhooks delete"] == {"id": hook["id"], "numberId": number.id, "deleted": True}
    assert docs["webhooks subscribe-all"]["steps"][0]["numberId"]
    found = {name: snake_keys(doc) for name, doc in docs.items()}
    assert {name: keys for name, keys in found.items() if keys} == {}


def test_an_empty_event_list_is_refused_and_nothing_changes(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    ok(pd(data, "public-url", PUBLIC))
    number = sb.numbers[0]
    for empty in ("", " , ", ","):
        res = pd(data, "webhooks", "create", "-n", number.id, "--events", empty)
        assert res.returncode == 2, res.stderr
        assert "--events names no event" in res.stderr and "--all-events" in res.stderr
        assert hooks_of(platform) == {}
    hook = ok_json(pd(data, "webhooks", "create", "-n", number.id, "--events", "message.read", "--json"))
    res = pd(data, "webhooks", "update", hook["id"], "--events", "")
    assert res.returncode == 2 and "--no-events" in res.stderr, res.stderr
    assert hooks_of(platform)[hook["id"]]["events"] == ["message.read"]


def test_the_keyring_warning_is_said_once_per_data_folder(platform: SandboxThread, tmp_path: Path) -> None:
    sb = platform.sandbox
    first, second = tmp_path / "one", tmp_path / "two"
    added = pd(first, "accounts", "add", "--base-url", sb.base_url, stdin=sb.tenant_key)
    assert ok(added).stderr.count(NO_KEYRING) == 1
    for args in (("webhooks", "list"), ("accounts", "refresh"), ("webhooks", "list", "--json")):
        assert NO_KEYRING not in ok(pd(first, *args)).stderr, args
    # Another data folder has its own secrets file: said there too, once.
    assert (
        NO_KEYRING in ok(pd(second, "accounts", "add", "--base-url", sb.base_url, stdin=sb.tenant_key)).stderr
    )
    assert NO_KEYRING not in ok(pd(second, "webhooks", "list")).stderr
    # What remembers it is as private as the secrets beside it.
    assert [p for p in first.iterdir() if p.is_file() and p.stat().st_mode & 0o077] == []


def test_wide_tables_fit_the_terminal(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    long_url = "https://receiver.example.com/very/long/path/" + "segment/" * 12 + "end"
    hook = ok_json(
        pd(
            data, "webhooks", "create", "-n", sb.numbers[0].id, "--url", long_url, "--json",
            "--name", "The webhook of the customer relationship system, production",
            "--events", "message.received,message.sent,message.delivered,message.read,message.failed",
        )
    )  # fmt: skip
    for columns in (80, 100, 120):
        out = ok(pd(data, "webhooks", "list", env={"COLUMNS": str(columns)})).stdout
        lines = [line for line in out.splitlines() if line]
        assert max(len(line) for line in lines) <= columns, out
        assert "…" in out and hook["id"] in out, out  # the URL elided, never the id
    wide = ok(pd(data, "webhooks", "list", env={"COLUMNS": "1000"})).stdout
    assert long_url in wide and "…" not in wide
    # A real terminal of 80 columns (no COLUMNS): fitted to it.
    on_terminal = on_a_terminal(["webhooks", "list", "--data-dir", str(data)], columns=80)
    assert on_terminal.splitlines()[0].startswith("ID ") and "…" in on_terminal, on_terminal
    assert max(len(line) for line in on_terminal.splitlines()) <= 80, on_terminal
    # Not a terminal (a file, `| grep`) and no COLUMNS: every cell whole.
    piped = pd(data, "webhooks", "list", env={"COLUMNS": ""})
    assert long_url in ok(piped).stdout and "…" not in piped.stdout


def on_a_terminal(args: list[str], *, columns: int) -> str:
    """stdout of the CLI on a pseudo-terminal `columns` wide (COLUMNS unset)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in cli_env().items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([str(BIN), *args], stdin=subprocess.DEVNULL, stdout=follower,
                            stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the program closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(CLI_TIMEOUT_S) == 0
    finally:
        os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_demo_with_a_data_command_reads_the_demo_store(serve: Callable[..., Server], tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = serve(data_dir=data / "demo")  # what the demo window writes: <data-dir>/demo/
    assert demo.post(body("message.received", "num_demo", "m-demo-1"), route="num_demo").status_code == 200
    for args in (("--demo", "export"), ("export", "--demo")):
        res = cli(*args, "--data-dir", data)
        assert res.returncode == 0, res.stderr
        assert [e["payload"]["data"]["id"] for e in map(json.loads, res.stdout.splitlines())] == ["m-demo-1"]
    for name in DEMO_READERS:
        extra = ["m-demo-1"] if name == "timeline" else []
        res = cli(*name.split(), *extra, "--demo", "--data-dir", data)
        assert res.returncode == 0 and "Traceback" not in res.stderr, (name, res.stderr)
    gaps = cli("gaps", "--demo", "--json", "--data-dir", data)
    assert gaps.returncode == 0 and "gaps" in json.loads(gaps.stdout)
    profile = cli("export", "--data-dir", data)  # without --demo: the profile's store (none here)
    assert profile.returncode == 1
    refused = cli("--demo", "webhooks", "list", "--data-dir", data)
    assert (
        refused.returncode == 2 and "--demo goes with" in refused.stderr and "webhooks list" in refused.stderr
    )
    assert sorted(p.name for p in data.iterdir()) == ["demo"]  # reading the demo wrote nothing beside it


def test_demo_without_a_demo_store_says_so(tmp_path: Path) -> None:
    res = cli("--demo", "messages", "--data-dir", tmp_path / "data")
    assert res.returncode == 1 and "No demo store" in res.stderr

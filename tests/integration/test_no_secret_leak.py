"""API keys and signing secrets never reach the database, the logs, the settings or the state file.

A realistic session on a temporary data dir, with real processes against the sandbox
platform: add two API keys, create a webhook, store its signing secret, run `serve`
with it, receive signed, wrongly signed and unsigned deliveries, run the scripting
commands (JSON output and errors). Then every file of the data dir except the secret
store itself, and everything the processes printed, is searched for each secret in
the encodings a careless write would produce.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from pilot_desktop.services.secrets import FILE_NAME
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import Server, cli, sign
from tests.integration.test_cli_webhooks import NO_KEYRING, ok, ok_json, pd
from tests.sandbox.conftest import body


def encodings(secret: str) -> dict[str, bytes]:
    """The secret as raw bytes, hex, base64 (standard and URL-safe, padded or not), UTF-16
    and JSON-escaped; plus its random middle, which still gives a truncated copy away."""
    raw = secret.encode()
    forms = {
        "raw": raw,
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "base64": base64.b64encode(raw),
        "base64 unpadded": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "utf-16-le": secret.encode("utf-16-le"),
        "json": json.dumps(secret).encode()[1:-1],
        "upper": secret.upper().encode(),
    }
    if len(secret) >= 24:
        middle = len(secret) // 2
        forms["middle 16 chars"] = raw[middle - 8 : middle + 8]
    return forms


def leaks(blob: bytes, secrets: dict[str, str]) -> list[str]:
    return [
        f"{name} ({form})"
        for name, secret in secrets.items()
        for form, needle in encodings(secret).items()
        if needle in blob
    ]


def scan_dir(root: Path, secrets: dict[str, str]) -> tuple[list[str], list[Path]]:
    """(what was found where, the files read): every file under root but the secret store."""
    found, read = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path == root / FILE_NAME:
            continue
        read.append(path)
        found += [f"{path.relative_to(root)}: {hit}" for hit in leaks(path.read_bytes(), secrets)]
    return found, read


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


def test_the_scanner_finds_each_encoding(tmp_path: Path) -> None:
    secret = "whsec_0123456789abcdef0123456789abcdef"
    for form, needle in encodings(secret).items():
        (tmp_path / "f").write_bytes(b"prefix " + needle + b" suffix")
        found, _ = scan_dir(tmp_path, {"s": secret})
        assert f"f: s ({form})" in found, form
    (tmp_path / FILE_NAME).write_text(secret)  # the secret store itself is not searched
    (tmp_path / "f").write_text("nothing here")
    assert scan_dir(tmp_path, {"s": secret})[0] == []


def test_no_secret_reaches_the_data_dir_or_the_output(
    platform: SandboxThread, tmp_path: Path, serve: Callable[..., Server]
) -> None:
    sb = platform.sandbox
    data = tmp_path / "data"
    number = sb.numbers[0]
    outputs: list[subprocess.CompletedProcess[str]] = []

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, code: int = 0) -> str:
        result = pd(data, *args, stdin=stdin, env=env)
        outputs.append(result)
        assert result.returncode == code, f"{args}: exit {result.returncode}\n{result.stderr}"
        assert "Traceback" not in result.stderr
        return result.stdout

    # Two API keys: the tenant key on stdin, a number key in the environment.
    run("accounts", "add", "--base-url", sb.base_url, stdin=sb.tenant_key)
    run(
        "accounts", "add", "--base-url", sb.base_url,
        env={"PILOT_DESKTOP_API_KEY": sb.number_keys[number.id]},
    )  # fmt: skip
    run("accounts", "add", "--base-url", sb.base_url, stdin="ps_live_" + "0" * 40, code=1)  # refused
    first = serve(data_dir=data)
    port = int(first.base.rsplit(":", 1)[1])
    run("public-url", first.base)
    hook = json.loads(run("webhooks", "create", "-n", number.id, "--events", "message.received", "--json"))
    signing = platform.call(lambda: sb.webhook_secret(hook["id"]))
    run("webhooks", "update", hook["id"], "--secret-stdin", "--json", stdin=signing + "\n")
    assert first.stop() == 0

    # serve again on the same address: it now checks the stored secret.
    server = serve(data_dir=data, port=port)
    line = server.wait_for_line("Signature check: ", 10)
    assert line.startswith(f"Signature check: on for route {number.id} (1 stored for route {number.id})")
    assert NO_KEYRING in server.stderr()

    assert (
        platform.call(
            lambda: sb.emit(number.id, "message.received", body("message.received", number.id, "signed"))
        )
        == 1
    )
    platform.wait_for(lambda s: s.delivered_log(hook["id"]), what="the signed delivery")
    raw = json.dumps(body("message.received", number.id, "by-hand")).encode()
    with httpx.Client(timeout=10) as client:
        good = client.post(hook["url"], content=raw, headers={"x-pilot-status-signature": sign(raw, signing)})
        wrong = client.post(
            hook["url"], content=raw, headers={"x-pilot-status-signature": sign(raw, signing + "x")}
        )
        unsigned = client.post(hook["url"], content=raw)
    assert good.status_code == 200 and wrong.status_code == 401 and unsigned.status_code == 401
    stored = server.export()
    assert {r["signature"] for r in stored} == {"valid"}, stored
    assert len(stored) == 2

    # The scripting commands, JSON and errors included.
    run("accounts", "list", "--json")
    run("accounts", "list")
    run("webhooks", "list", "--json")
    run("webhooks", "list")
    logs = json.loads(run("webhooks", "logs", hook["id"], "--json"))
    assert logs["counts"]["received"] == 1
    run("webhooks", "update", "wh_missing", "--pause", code=1)
    run("webhooks", "delete", hook["id"], code=2)  # not a terminal, no --yes
    run("public-url", "--json")
    run("hook-url")
    outputs.append(cli("export", "--data-dir", data))

    secrets = {
        "tenant key": sb.tenant_key,
        "number key": sb.number_keys[number.id],
        "signing secret": signing,
    }
    # While serve runs (the -wal and -shm files exist), then after it stopped.
    found, read = scan_dir(data, secrets)
    assert not found, "secrets found in the data dir:\n" + "\n".join(found)
    names = {p.name for p in read}
    assert {"settings.json", "state.json", "pilot-desktop.sqlite3", "pilot-desktop.log"} <= names, names
    assert any(n.endswith("-wal") for n in names), names
    assert server.stop() == 0
    found, _ = scan_dir(data, secrets)
    assert not found, "secrets found in the data dir after serve stopped:\n" + "\n".join(found)

    printed = [(r.args, r.stdout + r.stderr) for r in outputs]
    printed += [("serve 1", first.output()), ("serve 2", server.output())]
    hits = [f"{args}: {hit}" for args, text in printed for hit in leaks(text.encode(), secrets)]
    assert not hits, "secrets printed:\n" + "\n".join(hits)

    # They are in the secret store: the 0600 file, since the tests have no keyring.
    store = data / FILE_NAME
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    kept = store.read_text()
    assert all(secret in kept for secret in secrets.values())
    assert NO_KEYRING in outputs[0].stderr
    ok(pd(data, "accounts", "list"))  # still usable: nothing above damaged the profile
    assert ok_json(pd(data, "webhooks", "list", "--json"))[0]["secretStored"] is True

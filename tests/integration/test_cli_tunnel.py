"""`pilot-desktop tunnel`: set (validated by the settings model, a bad value named and the file
left untouched), show, the ngrok authtoken in the secret store (from stdin, never printed),
and the URL history and probes a real `serve` recorded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pilot_desktop.services.secrets import open_secrets
from pilot_desktop.tunnel.ngrok_sdk import AUTHTOKEN_SECRET
from tests.integration.serving import BIN, DB_NAME, Server, cli, cli_env, settings_of


def tunnel(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("tunnel", *args, "--data-dir", data_dir)


def with_stdin(data_dir: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "tunnel", *args, "--data-dir", str(data_dir)],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
        check=False,
    )


def test_set_writes_the_tunnel_settings_and_show_reads_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    res = tunnel(data, "set", "command", "--command", "mytunnel --to {local_url}", "--probe-interval", "30")
    assert res.returncode == 0, res.stderr
    res = tunnel(data, "set", "command", "--auto-repoint")  # the command stays
    assert res.returncode == 0, res.stderr
    t = settings_of(data)["tunnel"]
    assert (t["mode"], t["command"], t["probe_interval_s"], t["auto_repoint"]) == (
        "command",
        "mytunnel --to {local_url}",
        30,
        True,
    )
    shown = tunnel(data, "show", "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["settings"]["mode"] == "command" and doc["settings"]["probeIntervalSeconds"] == 30
    assert doc["settings"]["autoRepoint"] is True and doc["tunnel"] is None and doc["history"] == []
    assert "No database" in doc["storeError"] and not (data / DB_NAME).exists()
    human = tunnel(data, "show")
    assert human.returncode == 0 and "Mode: command" in human.stdout and "mytunnel" in human.stdout


def test_a_bad_value_is_named_by_its_field_and_the_file_is_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert tunnel(data, "set", "manual").returncode == 0
    before = (data / "settings.json").read_bytes()
    cases = [
        (("set", "bogus"), "tunnel.mode"),
        (("set", "manual", "--probe-interval", "2"), "tunnel.probe_interval_s"),
        (("set", "command", "--command", "mytunnel"), "tunnel.command"),  # no {port} / {local_url}
        (("set", "command"), "tunnel.command"),  # mode command needs a command
        (("set", "command", "--command", "x 'unclosed {port}"), "tunnel.command"),
        (("set", "cloudflared", "--command", "x {port}"), "--command"),
    ]
    for args, field in cases:
        res = tunnel(data, *args)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert field in res.stderr, (args, res.stderr)
        assert (data / "settings.json").read_bytes() == before, args


def test_authtoken_is_kept_in_the_secret_store_and_never_printed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    secret = "2abcDEFghiJKL_ngrok-authtoken-value"
    res = with_stdin(data, secret + "\n", "authtoken")
    assert res.returncode == 0, res.stderr
    assert secret not in res.stdout + res.stderr
    assert open_secrets(data).get(AUTHTOKEN_SECRET) == secret
    assert tunnel(data, "set", "ngrok-sdk").returncode == 0
    shown = tunnel(data, "show", "--json")
    assert secret not in shown.stdout + shown.stderr
    assert json.loads(shown.stdout)["authtokenStored"] is True
    assert with_stdin(data, "", "authtoken").returncode == 2  # nothing on stdin: nothing stored
    assert with_stdin(data, "two words", "authtoken").returncode == 2
    assert open_secrets(data).get(AUTHTOKEN_SECRET) == secret
    res = tunnel(data, "forget-authtoken")
    assert res.returncode == 0 and "deleted" in res.stdout
    assert open_secrets(data).get(AUTHTOKEN_SECRET) is None
    assert json.loads(tunnel(data, "show", "--json").stdout)["authtokenStored"] is False
    assert "No ngrok authtoken" in tunnel(data, "forget-authtoken").stdout


def test_history_and_probes_list_what_serve_recorded(tmp_path: Path, serve: Callable[..., Server]) -> None:
    data = tmp_path / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    assert tunnel(data, "set", "manual", "--probe-interval", "5").returncode == 0
    assert cli("public-url", f"http://127.0.0.1:{port}", "--data-dir", data).returncode == 0
    server = serve(data_dir=data, port=port)
    deadline = time.monotonic() + 30
    while True:
        res = tunnel(data, "probes", "--json")
        probes = json.loads(res.stdout) if res.returncode == 0 else []
        if len(probes) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(probes) >= 2, res.stderr
    assert all(p["ok"] and p["publicUrl"] == f"http://127.0.0.1:{port}" for p in probes)
    assert probes[0]["atEpoch"] >= probes[1]["atEpoch"]  # newest first
    assert len(json.loads(tunnel(data, "probes", "--json", "--limit", "1").stdout)) == 1
    assert server.stop() == 0

    history = json.loads(tunnel(data, "history", "--json").stdout)
    assert [(h["kind"], h["publicUrl"], h["source"]) for h in history] == [
        ("seen", f"http://127.0.0.1:{port}", "manual")
    ]
    shown = json.loads(tunnel(data, "show", "--json").stdout)
    assert shown["tunnel"]["mode"] == "manual" and shown["tunnel"]["state"] == "stopped"
    human = tunnel(data, "probes")
    assert human.returncode == 0 and "RESULT" in human.stdout and " ok " in human.stdout
    assert tunnel(data, "probes", "--limit", "0").returncode == 2


def test_reads_without_a_store_fail_and_create_nothing(tmp_path: Path) -> None:
    data = tmp_path / "none"
    data.mkdir()
    for action in ("history", "probes"):
        res = tunnel(data, action)
        assert res.returncode == 1 and "No database" in res.stderr
    assert os.listdir(data) == []


def test_secrets_in_the_command_template_are_masked_wherever_it_is_shown(tmp_path: Path) -> None:
    data = tmp_path / "data"
    template = "mytunnel --to {local_url} --api-key k-9f8e7d6c --password=hunter2222"
    res = tunnel(data, "set", "command", "--command", template)
    assert res.returncode == 0, res.stderr
    shown = [res, tunnel(data, "show"), tunnel(data, "show", "--json")]
    assert all(r.returncode == 0 for r in shown), [r.stderr for r in shown]
    assert json.loads(shown[2].stdout)["settings"]["command"] == (
        "mytunnel --to {local_url} --api-key [hidden] --password=[hidden]"
    )
    assert "mytunnel --to {local_url} --api-key [hidden]" in shown[0].stdout + shown[1].stdout
    # serve's usage error names the bad template, masked too.
    bad = cli("serve", "--data-dir", data, "--tunnel-command", "mytunnel {host} --token zq9-private-77")
    assert bad.returncode == 2 and "{host}" in bad.stderr and "[hidden]" in bad.stderr
    for r in [*shown, bad]:
        assert not any(s in r.stdout + r.stderr for s in ("k-9f8e7d6c", "hunter2222", "zq9-private-77"))
    assert settings_of(data)["tunnel"]["command"] == template  # the file keeps the real value

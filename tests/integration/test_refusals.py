"""Refused deliveries are recorded with their route, number and why, and said where the
operator looks: `/healthz`, `pilot-desktop rejections`, serve's console. Real `serve`
processes on loopback, a temporary data dir, the CLI in a subprocess."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilot_desktop.core.format import iso
from pilot_desktop.core.signature import HEADER, fingerprint
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import Server, cli, sign
from tests.integration.test_secret_routes import two_webhooks

RIGHT, WRONG = "whsec_right_one", "whsec_wrong_one"
EVENT = {
    "event": "message.delivered",
    "data": {"numberId": "num_x", "id": "msg_1", "content": "olá", "createdAt": "2025-03-01T10:00:00.000Z"},
}
COMPACT = json.dumps(EVENT, separators=(",", ":"), ensure_ascii=False).encode()  # what the platform signs


def refused(server: Server, body: bytes, route: str | None, signature: str | None) -> dict[str, Any]:
    """Post, expect 401, and return the one rejection row it left."""
    before = server.last_rejection_id()
    headers = {HEADER: signature} if signature is not None else {}
    r = server.post(body, route=route, headers=headers)
    assert r.status_code == 401, r.text
    [row] = server.rejections(before)
    return row


def health(server: Server) -> httpx.Response:
    return httpx.get(f"{server.base}/healthz", timeout=10)


def test_a_wrong_secret_is_recorded_with_route_number_and_a_different_secret_diagnosis(
    serve: Callable[..., Server],
) -> None:
    server = serve("--signing-secret", RIGHT)
    row = refused(server, COMPACT, "num_x", sign(COMPACT, WRONG))
    assert (row["route"], row["number_id"], row["delivery"]) == ("num_x", "num_x", 1)
    found = json.loads(row["diagnosis"])
    assert found["verdict"] == "signed with a different secret"
    assert found["header_present"] is True and found["received_prefix"] == sign(COMPACT, WRONG)[:8]
    assert found["tried"] == [
        {"index": 1, "fingerprint": fingerprint(RIGHT), "computed_prefix": sign(COMPACT, RIGHT)[:8]}
    ]
    assert found["re_encoded"] is False and found["hint"]
    assert RIGHT not in row["diagnosis"] and WRONG not in row["diagnosis"]

    # On the bare hook URL the number comes from the body; without a header, it says so.
    row = refused(server, COMPACT, None, None)
    assert (row["route"], row["number_id"], row["delivery"]) == (None, "num_x", 1)
    assert json.loads(row["diagnosis"])["verdict"] == "no signature header"


def test_a_body_re_serialised_on_the_way_is_diagnosed_as_re_encoded(serve: Callable[..., Server]) -> None:
    server = serve("--signing-secret", RIGHT)
    spaced = json.dumps(EVENT, ensure_ascii=False).encode()  # a proxy re-wrote ", " and ": "
    row = refused(server, spaced, "num_x", sign(COMPACT, RIGHT))
    found = json.loads(row["diagnosis"])
    assert found["verdict"] == "re-encoded on the way"
    assert found["re_encoded"] is True
    assert found["signed_form"] == "compact JSON (JSON.stringify)"
    assert found["matched"]["fingerprint"] == fingerprint(RIGHT)
    # The same bytes as signed are accepted: only the re-encoding was wrong.
    assert server.post(COMPACT, route="num_x", headers={HEADER: sign(COMPACT, RIGHT)}).status_code == 200


def test_healthz_says_refusing_after_a_refused_delivery_but_not_after_a_scanner(server: Server) -> None:
    assert httpx.get(f"{server.base}/wp-admin", timeout=10).status_code == 404
    assert httpx.post(f"{server.base}/xmlrpc.php", content=b"x", timeout=10).status_code == 404
    h = health(server)
    assert h.status_code == 200
    body = h.json()
    assert body["ok"] is True and body["status"] == "ok", body
    assert body["refused"]["deliveries_5min"] == 0 and body["refused"]["other_5min"] >= 2
    assert body["refused"]["latest"] is None

    # A delivery to another install's URL (anyone can send one) is said, but is not "not ok".
    assert server.post(b"{}", route="num_x", token="zzzz" + server.token[4:][::-1]).status_code == 404
    body = health(server).json()
    assert body["ok"] is True and body["status"] == "refusing deliveries", body
    assert body["refused"]["deliveries_5min"] == 1 and body["refused"]["own_deliveries_5min"] == 0

    assert server.post(b"not json", route="num_x").status_code == 400  # a refused delivery
    h = health(server)
    assert h.status_code == 200  # probes and tunnels keep working
    body = h.json()
    assert body["ok"] is False and body["status"] == "refusing deliveries", body
    assert body["refused"]["deliveries_5min"] == 2 and body["refused"]["own_deliveries_5min"] == 1
    latest = body["refused"]["latest"]
    assert latest["status"] == 400 and latest["reason"].startswith("body is not valid JSON")
    # /healthz needs no token: no route, number or hint (the secrets' fingerprints) in it
    assert "num_x" not in h.text and "route" not in latest and "hint" not in latest


def _cli_json(server: Server, *args: str) -> Any:
    res = cli("rejections", "--data-dir", server.data_dir, "--json", *args)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_the_rejections_command_lists_deliveries_with_why_and_never_the_token(
    serve: Callable[..., Server],
) -> None:
    server = serve("--signing-secret", RIGHT)
    token = server.token
    refused(server, COMPACT, "num_x", sign(COMPACT, WRONG))
    foreign = "zzzz" + token[4:][::-1]  # another install's token
    assert server.post(COMPACT, route="num_y", token=foreign).status_code == 404
    assert httpx.get(f"{server.base}/wp-admin", timeout=10).status_code == 404
    between = time.time()
    assert server.post(COMPACT + b"}", route="num_z").status_code == 400

    listed = _cli_json(server)
    assert [(r["status"], r["route"], r["numberId"]) for r in listed] == [
        (400, "num_z", "num_z"),
        (404, "num_y", "num_y"),
        (401, "num_x", "num_x"),
    ]
    assert all(r["delivery"] for r in listed)
    signature = listed[2]
    assert signature["diagnosis"]["verdict"] == "signed with a different secret"
    assert signature["hint"] == signature["diagnosis"]["hint"]
    assert signature["path"] == "/hooks/<token>/num_x"
    assert listed[1]["path"] == "/hooks/zzzz… (not this receiver's token)/num_y"
    assert signature["bodyPreview"] == COMPACT.decode() and signature["bodySize"] == len(COMPACT)
    assert [k.lower() for k, _ in signature["headers"]].count(HEADER) == 1

    everything = _cli_json(server, "--all")
    assert [r["path"] for r in everything if not r["delivery"]] == ["/wp-admin"]
    since = _cli_json(server, "--since", iso(between))
    assert [r["route"] for r in since] == ["num_z"]

    table = cli("rejections", "--data-dir", server.data_dir, "--all")
    assert table.returncode == 0, table.stderr
    assert "No secret checking this route matches" in table.stdout
    assert "/hooks/<token>/num_x" in table.stdout and "/wp-admin" in table.stdout
    one = cli("rejections", "--data-dir", server.data_dir, "--id", str(signature["id"]))
    assert one.returncode == 0, one.stderr
    assert f"secret #1 {fingerprint(RIGHT)} computes {sign(COMPACT, RIGHT)[:8]}…" in one.stdout
    assert f"digest {sign(COMPACT, WRONG)[:8]}…" in one.stdout
    assert "verdict:  signed with a different secret" in one.stdout
    for out in (table.stdout, one.stdout, json.dumps(everything)):
        assert token not in out and foreign not in out
        assert RIGHT not in out and WRONG not in out
    missing = cli("rejections", "--data-dir", server.data_dir, "--id", "999999")
    assert missing.returncode == 1 and "No refusal #999999" in missing.stderr


def test_serve_says_a_burst_of_refused_deliveries_in_one_line(serve: Callable[..., Server]) -> None:
    server = serve("--signing-secret", RIGHT)
    with httpx.Client(timeout=30) as client:
        for _ in range(20):
            r = server.post(COMPACT, client=client, route="num_x", headers={HEADER: sign(COMPACT, WRONG)})
            assert r.status_code == 401
    assert server.stop() == 0  # its output is complete once it said "Stopped."
    said = [line for line in server.lines if line.startswith("Refused")]
    line = "Refused a delivery: 401 on route num_x — signed with a different secret."
    assert said == [f"{line} See pilot-desktop rejections."], server.output()


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


def test_an_event_naming_a_protected_number_is_diagnosed_with_that_numbers_secret(
    platform: SandboxThread, serve: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = serve(data_dir=data)
    hooks = two_webhooks(platform, data, server.base)
    about_a = json.dumps({"event": "number.disconnected", "data": {"numberId": hooks.r1}}).encode()
    # Posted to B's route (no secret there): A's secret protects A everywhere.
    row = refused(server, about_a, hooks.r2, sign(about_a, "whsec_guessed"))
    assert (row["route"], row["number_id"], row["delivery"]) == (hooks.r2, hooks.r2, 1)
    found = json.loads(row["diagnosis"])
    assert found["verdict"] == "signed with a different secret"
    assert [t["fingerprint"] for t in found["tried"]] == [fingerprint(hooks.secret_a)]
    row = refused(server, about_a, hooks.r2, None)
    assert json.loads(row["diagnosis"])["verdict"] == "no signature header"
    # A's webhook's secret over a re-encoded body, to A's own route: re-encoded on the way.
    spaced = json.dumps(json.loads(about_a), indent=2).encode()
    row = refused(server, spaced, hooks.r1, sign(about_a, hooks.secret_a))
    found = json.loads(row["diagnosis"])
    assert (
        found["re_encoded"] is True
        and found["signed_form"] == "JSON with spaces after ',' and ':' (Python json.dumps)"
    )


def test_a_route_carrying_terminal_codes_is_shown_escaped(server: Server) -> None:
    r = httpx.post(f"{server.hook()}/%1B%5B31mred%E2%80%AE", content=b"{", timeout=10)
    assert r.status_code == 400
    [row] = _cli_json(server)
    assert row["route"] == "\x1b[31mred\u202e"  # the data as it came, in strict JSON
    for args in ((), ("--all",), ("--id", str(row["id"]))):
        out = cli("rejections", "--data-dir", server.data_dir, *args)
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout and "\u202e" not in out.stdout
        assert "\\x1b[31mred\\u202e" in out.stdout

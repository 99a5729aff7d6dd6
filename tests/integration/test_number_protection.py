"""A signing secret protects its number on every route: real `serve`, real CLI processes, the
sandbox platform on loopback (the setup of test_secret_routes.py).

Number A's webhook has its secret stored (route R1 = A's number id); number B's has none
(route R2). An event about A, or about one of A's messages, that is not signed with A's
secret is refused with 401 and a JSON reason, recorded in `rejections`, and stored nowhere,
whatever URL it is posted to and however it names A. It changes nothing about A, and the
genuine signed delivery afterwards is stored as new and becomes the truth. B's unsigned
deliveries are still accepted.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.core.signature import HEADER
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import Server, cli, sign
from tests.integration.test_secret_routes import Hooks, two_webhooks

T0 = "2025-03-01T10:00:00.000Z"
T1 = "2025-03-01T10:01:00.000Z"
T2 = "2025-03-01T10:02:00.000Z"


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


def outbound(event: str, number: str, mid: str, when: str, **extra: Any) -> dict[str, Any]:
    data = {
        "numberId": number,
        "id": mid,
        "messageId": f"wamid.{mid}",
        "correlationId": f"corr_{mid}",
        "type": "text",
        "fromMe": True,
        "createdAt": when,
        "to": "+5511955556666",
        "content": f"text of {mid}",
        **extra,
    }
    return {"event": event, "data": {k: v for k, v in data.items() if v is not None}}


def inbound(event: str, number: str, mid: str, **extra: Any) -> dict[str, Any]:
    data = {
        "numberId": number,
        "id": mid,
        "messageId": f"wamid.{mid}",
        "type": "text",
        "fromMe": False,
        "createdAt": T1,
        "from": "+5511977778888",
        "to": "+5511911112222",
        "content": f"text of {mid}",
        **extra,
    }
    return {"event": event, "data": {k: v for k, v in data.items() if v is not None}}


def number_event(event: str, number: str, when: str, **extra: Any) -> dict[str, Any]:
    data = {"numberId": number, "phone": "+5511911112222", "displayName": "Shop", "createdAt": when}
    return {"event": event, "data": {**data, **extra}}


class Client:
    def __init__(self, server: Server, hooks: Hooks) -> None:
        self.server, self.hooks = server, hooks

    def post(
        self, obj: dict[str, Any], route: str | None, secret: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        raw = json.dumps(obj).encode()
        headers = {HEADER: sign(raw, secret)} if secret is not None else {}
        r = self.server.post(raw, route=route, headers=headers)
        return r.status_code, r.json()

    def genuine(self, obj: dict[str, Any], route: str | None = None) -> dict[str, Any]:
        """A's webhook's delivery: signed with A's secret, to A's route unless told."""
        code, answer = self.post(obj, self.hooks.r1 if route is None else route, self.hooks.secret_a)
        assert code == 200, answer
        return answer

    def forged(self, obj: dict[str, Any], route: str | None, secret: str | None = None) -> str:
        """Must be refused: 401 with a JSON reason, recorded in `rejections`."""
        before = self.server.last_rejection_id()
        code, answer = self.post(obj, route, secret)
        assert code == 401, (route, obj, answer)
        [rejection] = self.server.rejections(before)
        assert rejection["status"] == 401 and rejection["reason"] == answer["error"]
        reason: str = answer["error"]
        return reason


def cli_json(data: Path, *args: str) -> Any:
    res: subprocess.CompletedProcess[str] = cli(*args, "--json", "--data-dir", data)
    assert res.returncode == 0, res.stderr
    return (
        json.loads(res.stdout)
        if res.stdout.startswith("[")
        else [json.loads(x) for x in res.stdout.split("\n") if x]
    )


def numbers(data: Path) -> dict[str, dict[str, Any]]:
    return {n["numberId"]: n for n in cli_json(data, "numbers", "--history", "20")}


def webhook_history(data: Path, number: str) -> list[tuple[str, str | None]]:
    """A's transitions that came from webhooks (the account's polls add their own), newest first."""
    history = numbers(data)[number]["history"]
    return [(t["event"], t["error"]) for t in history if t["source"] == "webhook"]


def messages(data: Path) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {(m["numberId"], m["id"]): m for m in cli_json(data, "messages", "--limit", "1000")}


@pytest.fixture
def setup(platform: SandboxThread, tmp_path: Path, serve: Callable[..., Server]) -> tuple[Client, Path]:
    data = tmp_path / "data"
    server = serve(data_dir=data)
    hooks = two_webhooks(platform, data, server.base)
    return Client(server, hooks), data


def test_an_event_naming_a_protected_number_is_refused_on_every_route(setup: tuple[Client, Path]) -> None:
    client, data = setup
    a, b = client.hooks.r1, client.hooks.r2
    client.genuine(number_event("number.connected", a, T0))
    assert webhook_history(data, a) == [("number.connected", None)]
    stored_before = len(client.server.export())

    routes = [None, b, "not-a-number", a.upper(), f"%20{a}%20"]
    bodies = [
        number_event("number.disconnected", a, T1, error="forged"),
        number_event("number.removed", a, T1),
        number_event("number.health_blocked", a, T1),
        outbound("message.sent", a, "forged-1", T1),
        inbound("message.received", a, "forged-2"),
        inbound("message.group", a, "forged-3", groupId="123@g.us", groupName="G"),
        inbound("message.newsletter", a, "forged-4", newsletterId="9@newsletter"),
        # The number named in another field, in another case, with spaces around it.
        number_event("number.disconnected", b, T1) | {"numberId": a},
        {"event": "number.disconnected", "data": {"whatsappNumberId": a, "createdAt": T1}},
        number_event("number.disconnected", f"  {a}\t", T1),
        number_event("number.disconnected", a.upper(), T1),
        {"event": "lead.received", "data": {"leadId": "l1", "leadgenId": "g1", "whatsappNumberId": a}},
        {"event": "future.event", "instance": a, "data": {}},
    ]
    reasons = set()
    for route in routes:
        for obj in bodies:
            reasons.add(client.forged(obj, route))
            reasons.add(client.forged(obj, route, "whsec_guessed"))  # wrongly signed
    assert all(f"number {a}" in r and "signed" in r for r in reasons), reasons
    # A's own route refuses unsigned bodies as before.
    client.forged(number_event("number.disconnected", a, T1), a)

    assert len(client.server.export()) == stored_before  # nothing refused was stored
    assert webhook_history(data, a) == [("number.connected", None)]
    assert not [m for m in messages(data) if m[1].startswith("forged")]

    # B's unsigned deliveries are accepted as ever, and A's webhook's delivery reaches any
    # route: it is checked with A's secret and stored as valid.
    code, answer = client.post(inbound("message.received", b, "b-unsigned"), b)
    assert code == 200, answer
    disconnected = client.genuine(number_event("number.disconnected", a, T2, error="real"), route=None)
    assert disconnected["duplicate"] is False
    stored = {(r["event"], r["payload"]["data"].get("createdAt")): r for r in client.server.export()}
    assert stored[("number.disconnected", T2)]["signature"] == "valid"
    assert webhook_history(data, a) == [("number.disconnected", "real"), ("number.connected", None)]


def test_an_event_naming_a_protected_message_is_refused_and_the_genuine_one_is_new(
    setup: tuple[Client, Path],
) -> None:
    client, data = setup
    a, b = client.hooks.r1, client.hooks.r2
    client.genuine(outbound("message.sent", a, "m1", T0))
    # The same message named by each of its ids, the number left out or another one named.
    forged = [
        outbound("message.delivered", b, "m1", T1),  # data.id
        outbound("message.read", None, "m1", T1),
        outbound("message.failed", b, "other", T1, error="forged") | {"data": {
            "numberId": b, "id": "x1", "messageId": "wamid.m1", "fromMe": True, "createdAt": T1,
            "to": "+5511955556666", "error": "forged"}},  # the provider id
        {"event": "message.read", "data": {"correlationId": "corr_m1", "createdAt": T1, "fromMe": True}},
        {"event": "message.delivered", "data": {"internalMessageId": "m1", "createdAt": T1}},
        inbound("message.reply", b, "r1", quotedMessageId="wamid.m1"),  # a reply quoting it
    ]  # fmt: skip
    for obj in forged:
        for route in (None, b, "elsewhere"):
            reason = client.forged(obj, route)
            assert "m1" in reason and f"number {a}" in reason, reason
    # A forged copy of the genuine delivery, sent first, to the bare URL.
    delivered = outbound("message.delivered", a, "m1", T1)
    client.forged(delivered, None)
    [m1] = [m for k, m in messages(data).items() if k[1] == "m1"]
    assert (m1["status"], m1["numberId"]) == ("SENT", a)

    answer = client.genuine(delivered)
    assert (answer["duplicate"], answer["deliveries"]) == (False, 1)
    [m1] = [m for k, m in messages(data).items() if k[1] == "m1"]
    assert (m1["status"], m1["numberId"]) == ("DELIVERED", a)
    assert not [k for k in messages(data) if k[1] in ("r1", "x1")]


def test_a_forged_copy_naming_another_number_does_not_pre_empt_the_genuine_delivery(
    setup: tuple[Client, Path],
) -> None:
    """The message is not known yet, so nothing can tell the forgery is about A: it is
    stored as B's (B accepts unsigned deliveries). It must not make A's delivery a
    duplicate, nor become A's message."""
    client, data = setup
    a, b = client.hooks.r1, client.hooks.r2
    genuine_sent = outbound("message.sent", a, "m2", T0)
    genuine_read = outbound("message.read", a, "m2", T2)
    for obj in (outbound("message.read", b, "m2", T2), outbound("message.sent", b, "m2", T0)):
        code, answer = client.post(obj, b)
        assert (code, answer["duplicate"]) == (200, False)
    assert client.genuine(genuine_sent)["duplicate"] is False
    assert client.genuine(genuine_read)["duplicate"] is False
    again = client.genuine(genuine_read)  # the platform's retry is a redelivery
    assert (again["duplicate"], again["deliveries"]) == (True, 2)
    by_number = messages(data)
    assert by_number[(a, "m2")]["status"] == "READ"
    assert by_number[(a, "m2")]["statusAt"].startswith("2025-03-01T10:02")


def replies_of(data: Path, number: str, mid: str) -> int:
    count: int = messages(data)[(number, mid)]["replies"]
    return count


def test_a_forged_reply_naming_no_number_does_not_attach_to_a_protected_message(
    setup: tuple[Client, Path],
) -> None:
    """An inbound message without a quote is linked to the send its correlationId names; an
    unsigned one naming no number must not reach A's message that way, whether it comes
    after the message (refused) or before it (stored, but never adopted by A's message)."""
    client, data = setup
    a, b = client.hooks.r1, client.hooks.r2
    client.genuine(outbound("message.sent", a, "m3", T0))
    forged_after = [
        {"event": "message.received", "data": {"id": "cm_forged", "correlationId": "corr_m3"}},
        inbound("message.received", None, "cm_forged2", correlationId="corr_m3"),
    ]
    for obj in forged_after:
        for route in (None, b, "elsewhere"):
            reason = client.forged(obj, route)
            assert "corr_m3" in reason and f"number {a}" in reason, reason
    assert replies_of(data, a, "m3") == 0

    # Before A's message exists nothing tells these are about A: stored, as B accepts
    # unsigned deliveries, but A's genuine message must not take them as its replies.
    early = [
        {"event": "message.received", "data": {"id": "cm_early", "correlationId": "corr_m4"}},
        inbound("message.reply", None, "cm_early_quote", quotedMessageId="wamid.m4"),
        inbound("message.received", b, "cm_early_b", correlationId="corr_m4"),
    ]
    for obj in early:
        code, answer = client.post(obj, b)
        assert (code, answer["duplicate"]) == (200, False), answer
    assert client.genuine(outbound("message.sent", a, "m4", T0))["duplicate"] is False
    assert replies_of(data, a, "m4") == 0
    assert not [m for m in messages(data).values() if m["id"].startswith("cm_forged")]

    # A's own replies, signed, are linked whichever way and whichever comes first.
    client.genuine(inbound("message.received", a, "in_a1", correlationId="corr_m3"))
    client.genuine(inbound("message.reply", a, "in_a2", quotedMessageId="wamid.m5"))
    client.genuine(outbound("message.sent", a, "m5", T0))
    assert (replies_of(data, a, "m3"), replies_of(data, a, "m5")) == (1, 1)

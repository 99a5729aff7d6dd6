"""`POST /v1/messages/send` and `GET /v1/messages/{id}`: scope, validation, Idempotency-Key,
and the lifecycle webhooks that follow an accepted send."""

from __future__ import annotations

import asyncio

import httpx

from pilot_desktop.sandbox.server import Sandbox
from tests.sandbox.conftest import SandboxFactory, Target, assert_error, auth, wait_for

SEND = "/v1/messages/send"
MSG = {"destinationNumber": "+5511987654321", "text": "Olá from the tests"}
STATUS_EVENTS = ["message.sent", "message.delivered", "message.read", "message.failed"]
DETAIL_FIELDS = {
    "id",
    "externalMessageId",
    "status",
    "correlationId",
    "destinationNumber",
    "createdAt",
    "sentAt",
    "deliveredAt",
    "readAt",
    "errorCode",
    "errorMessage",
    "origin",
    "metaPricing",
}


async def test_send_scope(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a = sandbox.numbers[0]
    assert_error(await api.post(SEND, json=MSG), 401, "UNAUTHORIZED")
    assert_error(
        await api.post(SEND, headers=auth(sandbox.tenant_key), json=MSG), 403, "TENANT_SCOPE_NOT_ALLOWED"
    )
    assert_error(
        await api.post(SEND, headers=auth(sandbox.tenant_key, "num_zz"), json=MSG), 404, "NUMBER_NOT_FOUND"
    )
    # A number-scoped key ignores the header: the send leaves from the key's number.
    other = sandbox.numbers[1].id
    for headers in (
        auth(sandbox.number_keys[a.id]),
        auth(sandbox.tenant_key, a.id),
        auth(sandbox.number_keys[a.id], other),
    ):
        r = await api.post(SEND, headers=headers, json=MSG)
        assert r.status_code == 202, r.text
        body = r.json()
        assert set(body) == {"id", "correlationId", "status", "createdAt", "origin", "sourceNumber"}
        assert body["id"].startswith("msg_") and body["correlationId"].startswith("corr_")
        assert (body["status"], body["origin"]) == ("QUEUED", "API")
        assert body["sourceNumber"] == a.phone.lstrip("+")


async def test_send_validation(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = auth(sandbox.number_keys[sandbox.numbers[0].id])
    for bad in ("5511987654321", "+0551198", "+55 11 98765-4321", "", 5511987654321):
        r = await api.post(SEND, headers=headers, json=MSG | {"destinationNumber": bad})
        assert assert_error(r, 400, "VALIDATION_ERROR")["field"] == "destinationNumber"
    assert assert_error(await api.post(SEND, headers=headers, json={"text": "hi"}), 400, "VALIDATION_ERROR")
    for text in (None, "", "   ", 42):
        r = await api.post(
            SEND, headers=headers, json={"destinationNumber": MSG["destinationNumber"], "text": text}
        )
        assert assert_error(r, 400, "VALIDATION_ERROR")["field"] == "text"
    r = await api.post(SEND, headers=headers, json=MSG | {"groupId": "1203630001@g.us"})
    assert_error(r, 400, "VALIDATION_ERROR")
    for extra in ({"media": "https://x/y.png", "mediaType": "image"}, {"deliverAt": "2030-01-01T00:00:00Z"}):
        body = {"destinationNumber": MSG["destinationNumber"], **extra}
        err = assert_error(await api.post(SEND, headers=headers, json=body), 400, "FEATURE_NOT_SUPPORTED")
        assert "sandbox" in err["error"]
    r = await api.post(
        SEND, headers=headers, json={"destinationNumber": "+5511987654321", "templateId": "welcome"}
    )
    assert_error(r, 400, "FEATURE_NOT_SUPPORTED")
    assert sandbox.state.messages == {}  # nothing was queued by a rejected send


async def test_idempotency_key(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a, b = sandbox.numbers[0].id, sandbox.numbers[1].id
    headers = auth(sandbox.number_keys[a]) | {"Idempotency-Key": "order-42"}
    first = await api.post(SEND, headers=headers, json=MSG)
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = await api.post(SEND, headers=headers, json=dict(reversed(MSG.items())))  # same body, other order
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(sandbox.state.messages) == 1  # the repeat did not send again
    r = await api.post(SEND, headers=headers, json=MSG | {"text": "something else"})
    assert_error(r, 409, "IDEMPOTENCY_KEY_REUSED")
    # Keys are per number: the same key on another number is a new send.
    other = await api.post(
        SEND, headers=auth(sandbox.number_keys[b]) | {"Idempotency-Key": "order-42"}, json=MSG
    )
    assert other.status_code == 202 and "Idempotent-Replayed" not in other.headers
    # Only 2xx answers are remembered: a rejected body can be corrected under the same key.
    fix_headers = auth(sandbox.number_keys[a]) | {"Idempotency-Key": "order-43"}
    assert_error(await api.post(SEND, headers=fix_headers, json={"text": "x"}), 400, "VALIDATION_ERROR")
    assert (await api.post(SEND, headers=fix_headers, json=MSG)).status_code == 202
    for bad in ("", "k" * 256, "tab\tinside"):
        r = await api.post(SEND, headers=auth(sandbox.number_keys[a]) | {"Idempotency-Key": bad}, json=MSG)
        assert_error(r, 400, "IDEMPOTENCY_KEY_INVALID")
    assert (
        await api.post(SEND, headers=auth(sandbox.number_keys[a]) | {"Idempotency-Key": "k" * 255}, json=MSG)
    ).status_code == 202


async def test_lifecycle_webhooks_and_get_by_each_id(make_sandbox: SandboxFactory, target: Target) -> None:
    sandbox = await make_sandbox(time_scale=30.0)
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as api:
        number = sandbox.numbers[0]
        headers = auth(sandbox.number_keys[number.id])

        async def is_open() -> bool:
            r = await api.get(f"/v1/numbers/{number.id}/status", headers=headers)
            return bool(r.json()["isFullyConnected"])

        # Numbers start CONNECTING (number.created, then number.connected a few seconds later).
        for _ in range(200):
            if await is_open():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the number never connected")
        hook = {"url": target.url("life"), "events": STATUS_EVENTS}
        assert (await api.post("/v1/webhooks", headers=headers, json=hook)).status_code == 201
        # Three sends, so one slow lifecycle (recipient offline for minutes) can't stall the test.
        accepted = [(await api.post(SEND, headers=headers, json=MSG)).json() for _ in range(3)]
        by_id = {a["id"]: a for a in accepted}

        def progressed() -> str | None:
            later = [r.json["data"]["id"] for r in target.got("life") if r.event != "message.sent"]
            return next((i for i in later if i in by_id), None)

        msg_id = await wait_for(progressed, 20, "a lifecycle to progress past message.sent")
        corr = by_id[msg_id]["correlationId"]
        events = [r.json for r in target.got("life") if r.json["data"]["id"] == msg_id]
        assert {e["event"] for e in events} <= set(STATUS_EVENTS)
        for body in events:
            data = body["data"]
            assert data["correlationId"] == corr and data["numberId"] == number.id
            assert data["to"] == MSG["destinationNumber"] and data["fromMe"] is True
        provider_ids = {e["data"]["messageId"] for e in events if e["data"].get("messageId")}
        for key in (msg_id, corr, *provider_ids):
            r = await api.get(f"/v1/messages/{key}", headers=headers)
            assert r.status_code == 200, (key, r.text)
            d = r.json()
            assert set(d) == DETAIL_FIELDS
            assert (d["id"], d["correlationId"], d["origin"]) == (msg_id, corr, "API")
            assert d["destinationNumber"] == MSG["destinationNumber"] and d["metaPricing"] is None
            assert d["status"] in ("SENT", "DELIVERED", "READ", "FAILED")
            assert d["createdAt"] == by_id[msg_id]["createdAt"]
            assert d["externalMessageId"] in provider_ids | {None}
        # Out of scope: another number's key, the tenant key without the header, unknown ids.
        other = sandbox.number_keys[sandbox.numbers[1].id]
        assert_error(await api.get(f"/v1/messages/{msg_id}", headers=auth(other)), 404, "MESSAGE_NOT_FOUND")
        r = await api.get(f"/v1/messages/{msg_id}", headers=auth(sandbox.tenant_key))
        assert_error(r, 403, "TENANT_SCOPE_NOT_ALLOWED")
        r = await api.get(f"/v1/messages/{msg_id}", headers=auth(sandbox.tenant_key, number.id))
        assert r.status_code == 200
        assert_error(await api.get("/v1/messages/msg_nope", headers=headers), 404, "MESSAGE_NOT_FOUND")


async def test_send_refuses_text_that_is_not_unicode(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = auth(sandbox.number_keys[sandbox.numbers[0].id]) | {"content-type": "application/json"}
    raw = b'{"destinationNumber": "+5511987654321", "text": "broken \\ud800 surrogate"}'
    r = await api.post(SEND, headers=headers | {"Idempotency-Key": "u-1"}, content=raw)
    assert assert_error(r, 400, "VALIDATION_ERROR")["field"] == "text"

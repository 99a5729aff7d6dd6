"""`/v1/webhooks` CRUD against a running sandbox: auth, scoping and the documented errors."""

from __future__ import annotations

import httpx

from pilot_desktop.sandbox.server import Sandbox
from tests.sandbox.conftest import Target, assert_error, auth, wait_for

WEBHOOK_FIELDS = {
    "id",
    "tenantId",
    "name",
    "url",
    "environment",
    "active",
    "events",
    "whatsappNumberIds",
    "whatsappInstanceIds",
    "apiKeys",
    "lastTriggered",
    "createdAt",
    "updatedAt",
}
URL = "https://example.com/hooks/a"


def _ids(sandbox: Sandbox) -> tuple[str, str]:
    return sandbox.numbers[0].id, sandbox.numbers[1].id


async def test_auth_missing_or_invalid_key_is_401(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/v1/webhooks"),
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks/wh_x"),
        ("PATCH", "/v1/webhooks/wh_x"),
        ("DELETE", "/v1/webhooks/wh_x"),
        ("GET", "/v1/webhooks/wh_x/logs"),
        ("GET", "/v1/numbers"),
        ("POST", "/v1/messages/send"),
        ("GET", "/v1/messages/msg_x"),
    ):
        assert_error(await api.request(method, path, json={}), 401, "UNAUTHORIZED")
        assert_error(
            await api.request(method, path, json={}, headers=auth("ps_live_nope")), 401, "UNAUTHORIZED"
        )


async def test_key_id_header_authenticates(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    key_id = sandbox.state.tenant_key.id
    assert (await api.get("/v1/webhooks", headers={"x-api-key-id": key_id})).status_code == 200


async def test_create_with_number_key(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a, _ = _ids(sandbox)
    r = await api.post(
        "/v1/webhooks", headers=auth(sandbox.number_keys[a]), json={"url": URL, "events": ["*"]}
    )
    assert r.status_code == 201, r.text
    hook = r.json()
    assert set(hook) == WEBHOOK_FIELDS
    assert hook["id"].startswith("wh_")
    assert hook["name"] == "example.com"  # defaults to the URL's hostname
    assert hook["whatsappNumberIds"] == [a]
    assert hook["whatsappInstanceIds"] == [] and hook["apiKeys"] == []
    assert (hook["environment"], hook["active"], hook["events"]) == ("LIVE", True, ["*"])
    assert hook["lastTriggered"] is None
    assert sandbox.webhook_secret(hook["id"]).startswith("whsec_")


async def test_create_number_resolution_errors(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a, b = _ids(sandbox)
    key_a, tenant = sandbox.number_keys[a], sandbox.tenant_key
    body = {"url": URL, "events": ["message.received"]}
    assert_error(
        await api.post("/v1/webhooks", headers=auth(key_a), json=body | {"whatsappNumberId": b}),
        400,
        "NUMBER_MISMATCH",
    )
    r = await api.post("/v1/webhooks", headers=auth(key_a), json=body | {"whatsappNumberId": a})
    assert r.status_code == 201
    # A number-scoped key ignores the x-whatsapp-number-id header (SDK README).
    r = await api.post("/v1/webhooks", headers=auth(key_a, b), json=body)
    assert r.json()["whatsappNumberIds"] == [a]
    assert [
        h["whatsappNumberIds"] for h in (await api.get("/v1/webhooks", headers=auth(key_a, b))).json()
    ] == [
        [a],
        [a],
    ]
    assert_error(await api.post("/v1/webhooks", headers=auth(tenant), json=body), 400, "NUMBER_REQUIRED")
    assert_error(
        await api.post("/v1/webhooks", headers=auth(tenant), json=body | {"whatsappNumberId": "num_zz"}),
        404,
        "NUMBER_NOT_FOUND",
    )
    assert_error(
        await api.post("/v1/webhooks", headers=auth(tenant, "num_zz"), json=body), 404, "NUMBER_NOT_FOUND"
    )
    assert_error(
        await api.post("/v1/webhooks", headers=auth(tenant, a), json=body | {"whatsappNumberId": b}),
        400,
        "NUMBER_MISMATCH",
    )
    by_body = await api.post("/v1/webhooks", headers=auth(tenant), json=body | {"whatsappNumberId": b})
    by_header = await api.post("/v1/webhooks", headers=auth(tenant, b), json=body)
    assert by_body.json()["whatsappNumberIds"] == by_header.json()["whatsappNumberIds"] == [b]


async def test_create_validation(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = auth(sandbox.number_keys[sandbox.numbers[0].id])
    for bad in (
        {},
        {"url": "ftp://example.com/x"},
        {"url": "not a url"},
        {"url": 5},
        {"url": "http://[::1"},
        {"url": "http://h:99999/x"},
        {"url": "http://a_b..c/"},  # parses, but the host can't be IDNA-encoded to resolve it
        {"url": f"http://{'a' * 64}.example.com/"},  # a label over 63 characters
        {"url": "http://ex\x01ample.com/"},
        {"url": "http://example.com/a\nb"},
        {"url": "http://exa mple.com/"},
        {"url": "http:///no-host"},
        {"url": "http://h:0/x"},
    ):
        err = assert_error(await api.post("/v1/webhooks", headers=headers, json=bad), 400, "VALIDATION_ERROR")
        assert err["field"] == "url" and "url" in err["error"]
    for bad_events in ("*", [1], [""], {"a": 1}):
        r = await api.post("/v1/webhooks", headers=headers, json={"url": URL, "events": bad_events})
        assert assert_error(r, 400, "VALIDATION_ERROR")["field"] == "events"
    r = await api.post("/v1/webhooks", headers=headers, content=b"{nope")
    assert_error(r, 400, "VALIDATION_ERROR")
    # http:// is accepted (local receivers); omitted events = subscribed to nothing.
    r = await api.post("/v1/webhooks", headers=headers, json={"url": "http://127.0.0.1:9/x", "name": "Mine"})
    assert r.status_code == 201 and r.json()["events"] == [] and r.json()["name"] == "Mine"
    # Health events can't be picked individually: they are dropped from a hand-picked list.
    events = ["message.sent", "number.health_blocked", "number.recovered", "message.sent"]
    r = await api.post("/v1/webhooks", headers=headers, json={"url": URL, "events": events})
    assert r.json()["events"] == ["message.sent"]


async def test_list_and_get_scoping(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a, b = _ids(sandbox)
    key_a, key_b, tenant = sandbox.number_keys[a], sandbox.number_keys[b], sandbox.tenant_key
    hook_a = (await api.post("/v1/webhooks", headers=auth(key_a), json={"url": URL})).json()
    hook_b = (await api.post("/v1/webhooks", headers=auth(key_b), json={"url": URL})).json()
    assert [h["id"] for h in (await api.get("/v1/webhooks", headers=auth(key_a))).json()] == [hook_a["id"]]
    everything = (await api.get("/v1/webhooks", headers=auth(tenant))).json()
    assert [h["id"] for h in everything] == [hook_a["id"], hook_b["id"]]
    only_b = (await api.get("/v1/webhooks", headers=auth(tenant, b))).json()
    assert [h["id"] for h in only_b] == [hook_b["id"]]
    assert_error(await api.get("/v1/webhooks", headers=auth(tenant, "num_zz")), 404, "NUMBER_NOT_FOUND")
    assert (await api.get(f"/v1/webhooks/{hook_a['id']}", headers=auth(key_a))).json() == hook_a
    assert (await api.get(f"/v1/webhooks/{hook_a['id']}", headers=auth(tenant))).json() == hook_a
    for method in ("GET", "PATCH", "DELETE"):
        r = await api.request(method, f"/v1/webhooks/{hook_a['id']}", headers=auth(key_b), json={"name": "x"})
        assert_error(r, 404, "WEBHOOK_NOT_FOUND")
        r = await api.request(
            method, f"/v1/webhooks/{hook_a['id']}", headers=auth(tenant, b), json={"name": "x"}
        )
        assert_error(r, 404, "WEBHOOK_NOT_FOUND")
    assert_error(
        await api.get(f"/v1/webhooks/{hook_a['id']}/logs", headers=auth(key_b)), 404, "WEBHOOK_NOT_FOUND"
    )
    assert_error(await api.get("/v1/webhooks/wh_missing", headers=auth(tenant)), 404, "WEBHOOK_NOT_FOUND")


async def test_patch(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a, b = _ids(sandbox)
    headers = auth(sandbox.number_keys[a])
    hook = (
        await api.post("/v1/webhooks", headers=headers, json={"url": URL, "events": ["message.sent"]})
    ).json()
    path = f"/v1/webhooks/{hook['id']}"
    r = await api.patch(path, headers=headers, json={"events": ["message.read", "message.failed"]})
    assert r.status_code == 200 and r.json()["events"] == ["message.read", "message.failed"]  # replaced
    r = await api.patch(
        path, headers=headers, json={"name": "New", "url": "https://b.example/x", "active": False}
    )
    changed = r.json()
    assert (changed["name"], changed["url"], changed["active"]) == ("New", "https://b.example/x", False)
    assert changed["events"] == ["message.read", "message.failed"]
    assert changed["updatedAt"] >= hook["updatedAt"] and changed["createdAt"] == hook["createdAt"]
    assert_error(await api.patch(path, headers=headers, json={}), 400, "EMPTY_PATCH")
    assert_error(await api.patch(path, headers=headers), 400, "EMPTY_PATCH")
    err = assert_error(
        await api.patch(path, headers=headers, json={"whatsappNumberId": b}), 400, "VALIDATION_ERROR"
    )
    assert "can't be changed" in err["error"]
    # A rejected PATCH changes nothing, not even its valid fields.
    r = await api.patch(path, headers=headers, json={"name": "Other", "url": "gopher://x"})
    assert_error(r, 400, "VALIDATION_ERROR")
    assert (await api.get(path, headers=headers)).json() == changed
    assert_error(await api.patch(path, headers=headers, json={"active": "yes"}), 400, "VALIDATION_ERROR")


async def test_delete(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = auth(sandbox.number_keys[sandbox.numbers[0].id])
    hook = (await api.post("/v1/webhooks", headers=headers, json={"url": URL})).json()
    r = await api.delete(f"/v1/webhooks/{hook['id']}", headers=headers)
    assert r.status_code == 200 and r.json()["ok"] is True
    assert_error(await api.get(f"/v1/webhooks/{hook['id']}", headers=headers), 404, "WEBHOOK_NOT_FOUND")
    assert_error(await api.get(f"/v1/webhooks/{hook['id']}/logs", headers=headers), 404, "WEBHOOK_NOT_FOUND")
    assert_error(await api.delete(f"/v1/webhooks/{hook['id']}", headers=headers), 404, "WEBHOOK_NOT_FOUND")
    assert (await api.get("/v1/webhooks", headers=headers)).json() == []
    assert hook["id"] not in sandbox.state.logs


async def test_unknown_paths_and_methods_answer_json(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/v1/nope", headers=auth(sandbox.tenant_key)), 404, "NOT_FOUND")
    r = await api.put("/v1/webhooks", headers=auth(sandbox.tenant_key))
    assert_error(r, 405, "METHOD_NOT_ALLOWED")


async def test_secret_never_returned(sandbox: Sandbox, api: httpx.AsyncClient, target: Target) -> None:
    """The `api` fixture checks every response of every test; this one walks every
    endpoint that shows a webhook, its logs included, and checks directly."""
    a = sandbox.numbers[0].id
    headers = auth(sandbox.number_keys[a])
    created = await api.post("/v1/webhooks", headers=headers, json={"url": target.url("s"), "events": ["*"]})
    hook_id = created.json()["id"]
    secret = sandbox.webhook_secret(hook_id)
    sandbox.emit(a, "message.received", {"event": "message.received", "data": {"numberId": a, "id": "x"}})
    await wait_for(lambda: target.got("s"), what="a delivery")
    await wait_for(lambda: sandbox.state.logs[hook_id], what="its log")
    responses = [
        created,
        await api.get("/v1/webhooks", headers=headers),
        await api.get("/v1/webhooks", headers=auth(sandbox.tenant_key)),
        await api.get(f"/v1/webhooks/{hook_id}", headers=headers),
        await api.patch(f"/v1/webhooks/{hook_id}", headers=headers, json={"name": "renamed"}),
        await api.get(f"/v1/webhooks/{hook_id}/logs", headers=headers),
        await api.get("/v1/numbers", headers=auth(sandbox.tenant_key)),
        await api.get(f"/v1/numbers/{a}", headers=auth(sandbox.tenant_key)),
        await api.delete(f"/v1/webhooks/{hook_id}", headers=headers),
    ]
    for r in responses:
        assert r.status_code < 300, r.text
        assert secret not in r.text and "whsec_" not in r.text and "secret" not in r.text.lower()
    assert (await api.patch("/v1/webhooks/x", headers=headers, json={"events": None})).status_code == 404


async def test_patch_events_null_is_rejected(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = auth(sandbox.number_keys[sandbox.numbers[0].id])
    hook = (await api.post("/v1/webhooks", headers=headers, json={"url": URL, "events": ["*"]})).json()
    r = await api.patch(f"/v1/webhooks/{hook['id']}", headers=headers, json={"events": None})
    assert assert_error(r, 400, "VALIDATION_ERROR")["field"] == "events"
    r = await api.patch(f"/v1/webhooks/{hook['id']}", headers=headers, json={"events": []})
    assert r.json()["events"] == []  # an explicit empty list subscribes to nothing


async def test_url_checks_apply_to_patch(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = auth(sandbox.number_keys[sandbox.numbers[0].id])
    hook = (await api.post("/v1/webhooks", headers=headers, json={"url": URL})).json()
    for bad in ("http://a_b..c/", "http://ex\x7fample.com/", "mailto:x@example.com"):
        r = await api.patch(f"/v1/webhooks/{hook['id']}", headers=headers, json={"url": bad})
        assert assert_error(r, 400, "VALIDATION_ERROR")["field"] == "url"
    # International names are fine: they encode (bücher.de → xn--bcher-kva.de).
    r = await api.patch(f"/v1/webhooks/{hook['id']}", headers=headers, json={"url": "https://bücher.de/h"})
    assert r.status_code == 200 and r.json()["url"] == "https://bücher.de/h"


async def test_rejected_create_leaves_no_webhook(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = auth(sandbox.number_keys[sandbox.numbers[0].id])
    before = (await api.get("/v1/webhooks", headers=auth(sandbox.tenant_key))).json()
    for bad in ({"active": "false"}, {"active": None}, {"name": ""}, {"events": "*"}):
        r = await api.post("/v1/webhooks", headers=headers, json={"url": URL, **bad})
        assert assert_error(r, 400, "VALIDATION_ERROR")["field"] == next(iter(bad))
    assert (await api.get("/v1/webhooks", headers=auth(sandbox.tenant_key))).json() == before
    assert sandbox.state.webhooks == {} and sandbox.state.logs == {}
    paused = await api.post("/v1/webhooks", headers=headers, json={"url": URL, "active": False})
    assert paused.status_code == 201 and paused.json()["active"] is False


async def test_deeply_nested_json_is_a_400(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a = sandbox.numbers[0].id
    headers = auth(sandbox.number_keys[a]) | {"content-type": "application/json"}
    for depth in (10_000, 400_000):  # 800 kB at most: under the 1 MB body limit
        for path in ("/v1/webhooks", "/v1/messages/send"):
            nested = b'{"url":' + b"[" * depth + b"]" * depth + b"}"
            err = assert_error(await api.post(path, headers=headers, content=nested), 400, "VALIDATION_ERROR")
            assert "nested" in err["error"]
            assert_error(await api.post(path, headers=headers, content=b"[" * depth), 400, "VALIDATION_ERROR")

"""`/v1/numbers` read endpoints: list, detail, live status, key scope (C5)."""

from __future__ import annotations

import httpx

from pilot_desktop.sandbox.server import Sandbox
from tests.sandbox.conftest import assert_error, auth

LIST_FIELDS = {
    "id",
    "instanceName",
    "number",
    "name",
    "provider",
    "state",
    "isFullyConnected",
    "primaryLink",
    "secondaryLink",
    "apiKeys",
    "extraChargeUnpaidSince",
    "extraChargeDisconnectAt",
    "createdAt",
    "updatedAt",
}
DETAIL_FIELDS = {
    "id",
    "number",
    "name",
    "provider",
    "state",
    "isFullyConnected",
    "piiMode",
    "piiRetentionDays",
    "settings",
    "createdAt",
    "updatedAt",
    "health",
    "meta",
    "coexistence",
    "extraChargeUnpaidSince",
    "extraChargeDisconnectAt",
}
STATES = {"OPEN", "CONNECTING", "CLOSED"}


async def test_list_with_tenant_key(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/numbers", headers=auth(sandbox.tenant_key))
    assert r.status_code == 200
    items = r.json()
    assert [i["id"] for i in items] == [n.id for n in sandbox.numbers]
    for item, number in zip(items, sandbox.numbers, strict=True):
        assert set(item) - {"coexistence"} == LIST_FIELDS
        assert item["number"] == number.phone.lstrip("+") and item["number"].isdigit()
        assert item["provider"] == number.provider in ("PILOT_STATUS", "META")
        assert item["state"] in STATES
        assert item["isFullyConnected"] == (item["state"] == "OPEN")
        assert item["primaryLink"]["state"] == item["state"] and item["secondaryLink"] is None
        assert (item["primaryLink"]["connectedAt"] is None) == (item["state"] != "OPEN")
        key = sandbox.number_keys[number.id]
        assert item["apiKeys"] == [
            {"name": item["apiKeys"][0]["name"], "keyPrefix": key[:8], "keyLast4": key[-4:]}
        ]
        assert key not in r.text  # only prefix and last four are shown
        assert ("coexistence" in item) == (number.provider == "META")


async def test_number_key_sees_only_its_number(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a, b = sandbox.numbers[0].id, sandbox.numbers[1].id
    key_a = sandbox.number_keys[a]
    assert [i["id"] for i in (await api.get("/v1/numbers", headers=auth(key_a))).json()] == [a]
    assert (await api.get(f"/v1/numbers/{a}", headers=auth(key_a))).status_code == 200
    assert (await api.get(f"/v1/numbers/{a}/status", headers=auth(key_a))).status_code == 200
    assert_error(await api.get(f"/v1/numbers/{b}", headers=auth(key_a)), 404, "NUMBER_NOT_FOUND")
    # The status endpoint's 404 is deliberately without a code (§4.4); the others have one.
    for key, wanted in ((key_a, b), (sandbox.tenant_key, "num_zz")):
        r = await api.get(f"/v1/numbers/{wanted}/status", headers=auth(key))
        assert r.status_code == 404 and set(r.json()) == {"error"} and r.json()["error"]
    assert_error(await api.get(f"/v1/numbers/{a}/status"), 401, "UNAUTHORIZED")
    assert_error(
        await api.get("/v1/numbers/num_zz", headers=auth(sandbox.tenant_key)), 404, "NUMBER_NOT_FOUND"
    )
    assert_error(await api.get(f"/v1/numbers/{a}"), 401, "UNAUTHORIZED")


async def test_detail(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    for number in sandbox.numbers:
        body = (await api.get(f"/v1/numbers/{number.id}", headers=auth(sandbox.tenant_key))).json()
        assert set(body) == DETAIL_FIELDS
        assert body["piiMode"] in ("RELAY_ONLY", "STORE_X_DAYS", "STORE_INDEFINITE")
        assert {"historyImportEnabled", "webhookHistoricalMessages", "appliesTo"} <= set(body["settings"])
        assert {"qualityRating", "messagingLimitTier", "sendable"} <= set(body["health"])
        if number.provider == "META":
            assert body["meta"] is not None and body["coexistence"]["status"]
        else:
            assert body["meta"] is None and body["coexistence"] is None


async def test_status_follows_the_scenario(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    for number in sandbox.numbers:
        r = await api.get(f"/v1/numbers/{number.id}/status", headers=auth(sandbox.tenant_key))
        body = r.json()
        expected = {"id", "state", "isFullyConnected", "stale"} | (
            set() if number.provider == "META" else {"checkedAt"}
        )
        assert set(body) == expected
        assert body["id"] == number.id and body["stale"] is False
        assert body["state"] == sandbox.scenario.number_state(number.id)
        assert body["isFullyConnected"] == (body["state"] == "OPEN")
    number_id = sandbox.numbers[0].id
    r = await api.get(f"/v1/numbers/{number_id}/status?link=secondary", headers=auth(sandbox.tenant_key))
    assert_error(r, 400, "VALIDATION_ERROR")

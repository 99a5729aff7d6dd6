"""`GET /v1/messages/history` (api §5.4): number-scoped, newest first by `providerTimestamp`,
`startDate`/`endDate`, `page`/`pageSize` (at most 100); rows agree with `GET /v1/messages/{id}`.
The API client's `message_history` reads the same rows."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pilot_desktop.api.client import PilotClient
from pilot_desktop.core.format import parse_time
from pilot_desktop.sandbox.server import TICK_S, Sandbox
from tests.sandbox.conftest import SandboxFactory, assert_error, auth, wait_for

HISTORY = "/v1/messages/history"
ROW_FIELDS = {
    "id",
    "conversationId",
    "direction",
    "providerKind",
    "externalMessageId",
    "status",
    "messageType",
    "origin",
    "text",
    "participantName",
    "participantPhone",
    "participantUserId",
    "repliedToExternalId",
    "media",
    "sentAt",
    "deliveredAt",
    "readAt",
    "providerTimestamp",
    "createdAt",
    "referral",
}


async def _with_traffic(make_sandbox: SandboxFactory) -> Sandbox:
    """A sandbox whose first number sent messages that moved on (some SENT or further),
    then paused, so every read below sees the same records."""
    sandbox = await make_sandbox(time_scale=40.0, rate=3.0)
    number = sandbox.numbers[0]
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as api:
        headers = auth(sandbox.number_keys[number.id])
        for _ in range(4):
            body = {"destinationNumber": "+5511987654321", "text": "history test"}
            assert (await api.post("/v1/messages/send", headers=headers, json=body)).status_code == 202

    def moved_on() -> bool:
        records = sandbox.scenario.messages_of(number.id)
        return len(records) >= 6 and sum(r.status != "QUEUED" for r in records) >= 3

    await wait_for(moved_on, 20, "messages of the first number to move on")
    sandbox.time_scale = 0.0
    # The next tick still plays what was due up to the pause; after it nothing changes.
    await asyncio.sleep(3 * TICK_S)
    return sandbox


async def _all_rows(
    api: httpx.AsyncClient, headers: dict[str, str], **params: object
) -> list[dict[str, object]]:
    r = await api.get(HISTORY, headers=headers, params={"pageSize": 100, **params})
    assert r.status_code == 200, r.text
    rows: list[dict[str, object]] = r.json()["data"]
    assert len(rows) < 100
    return rows


async def test_history_lists_the_numbers_outbound_messages_newest_first(make_sandbox: SandboxFactory) -> None:
    sandbox = await _with_traffic(make_sandbox)
    number = sandbox.numbers[0]
    headers = auth(sandbox.number_keys[number.id])
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as api:
        rows = await _all_rows(api, headers)
        known = {r.id for r in sandbox.scenario.messages_of(number.id)}
        assert {row["id"] for row in rows} == known and len(rows) == len(known)
        times = [parse_time(str(row["providerTimestamp"])) for row in rows]
        assert all(t is not None for t in times)
        assert times == sorted(times, reverse=True)  # type: ignore[type-var]
        for row in rows:
            assert set(row) == ROW_FIELDS
            assert row["direction"] == "OUTBOUND"
            detail = (await api.get(f"/v1/messages/{row['id']}", headers=headers)).json()
            for field in ("status", "externalMessageId", "sentAt", "deliveredAt", "readAt", "createdAt"):
                assert row[field] == detail[field], (field, row, detail)
            assert row["participantPhone"] == detail["destinationNumber"]
            assert row["providerTimestamp"] == (detail["sentAt"] or detail["createdAt"])
        # Another number's key sees only its own messages.
        other = sandbox.numbers[1]
        theirs = await _all_rows(api, auth(sandbox.number_keys[other.id]))
        assert {row["id"] for row in theirs} == {r.id for r in sandbox.scenario.messages_of(other.id)}
        assert not {row["id"] for row in theirs} & known


async def test_history_pages_and_dates(make_sandbox: SandboxFactory) -> None:
    sandbox = await _with_traffic(make_sandbox)
    number = sandbox.numbers[0]
    headers = auth(sandbox.number_keys[number.id])
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as api:
        everything = await _all_rows(api, headers)
        paged: list[dict[str, object]] = []
        for page in range(1, 100):
            r = await api.get(HISTORY, headers=headers, params={"page": page, "pageSize": 2})
            assert r.status_code == 200
            body = r.json()
            assert (body["page"], body["pageSize"], body["total"]) == (page, 2, len(everything))
            paged += body["data"]
            if len(body["data"]) < 2:
                break
        assert paged == everything
        # A window holding exactly one row's providerTimestamp returns that row (bounds inclusive).
        middle = everything[len(everything) // 2]
        stamp = middle["providerTimestamp"]
        inside = await _all_rows(api, headers, startDate=stamp, endDate=stamp)
        assert middle["id"] in {row["id"] for row in inside}
        assert all(row["providerTimestamp"] == stamp for row in inside)
        newest = everything[0]["providerTimestamp"]
        assert await _all_rows(api, headers, startDate="2099-01-01T00:00:00Z") == []
        older = await _all_rows(api, headers, endDate=newest)
        assert older == everything
        # Refused as documented: a reversed range, a bad date, a page size over 100.
        r = await api.get(HISTORY, headers=headers, params={"startDate": newest, "endDate": "2000-01-01"})
        assert_error(r, 400, "INVALID_DATE_RANGE")
        r = await api.get(HISTORY, headers=headers, params={"startDate": "yesterday"})
        assert assert_error(r, 400, "VALIDATION_ERROR")["field"] == "startDate"
        for params in ({"pageSize": 101}, {"pageSize": 0}, {"page": 0}, {"page": "x"}):
            r = await api.get(HISTORY, headers=headers, params=params)
            assert assert_error(r, 400, "VALIDATION_ERROR")["field"] in params


async def test_history_is_number_scoped(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    number = sandbox.numbers[0]
    assert_error(await api.get(HISTORY), 401, "UNAUTHORIZED")
    assert_error(await api.get(HISTORY, headers=auth(sandbox.tenant_key)), 403, "TENANT_SCOPE_NOT_ALLOWED")
    r = await api.get(HISTORY, headers=auth(sandbox.tenant_key, number.id))
    assert r.status_code == 200 and r.json()["data"] == []
    # "history" is not read as a message id.
    assert (await api.get(HISTORY, headers=auth(sandbox.number_keys[number.id]))).status_code == 200


async def test_client_reads_history_pages(make_sandbox: SandboxFactory) -> None:
    sandbox = await _with_traffic(make_sandbox)
    number = sandbox.numbers[0]
    async with PilotClient(sandbox.tenant_key, base_url=sandbox.base_url, number_id=number.id) as client:
        first = await client.message_history(page_size=3)
        second = await client.message_history(page=2, page_size=3)
        every = await client.message_history(page_size=100)
        with pytest.raises(ValueError, match="page_size"):
            await client.message_history(page_size=101)
    assert [m.id for m in first + second] == [m.id for m in every[:6]]
    assert all(m.outbound for m in every)
    by_id = {m.id: m for m in every}
    for record in sandbox.scenario.messages_of(number.id):
        row = by_id[record.id]
        assert (row.status, row.sent_at, row.delivered_at, row.read_at) == (
            record.status,
            record.sent_at,
            record.delivered_at,
            record.read_at,
        )
        assert row.external_message_id == record.external_message_id

"""The official Python SDK (`pilot-status` 1.15.0) against the sandbox: what the SDK does
against the real platform must work here too. The SDK's base URL is fixed, so a
transport re-points its requests at the sandbox; it is synchronous, so it runs in a thread
while the sandbox serves on the test's loop."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pilot_status import PilotStatusClient
from pilot_status.errors import AuthenticationError, ForbiddenError, ValidationError

from pilot_desktop.sandbox.server import Sandbox

Transport = Callable[[urllib.request.Request, float], tuple[int, Mapping[str, str], str]]


def to_sandbox(sandbox: Sandbox) -> Transport:
    def transport(req: urllib.request.Request, timeout: float) -> tuple[int, Mapping[str, str], str]:
        url = req.full_url.replace("https://pilotstatus.com.br", sandbox.base_url, 1)
        local = urllib.request.Request(
            url, data=req.data, method=req.get_method(), headers=dict(req.header_items())
        )
        with urllib.request.urlopen(local, timeout=timeout) as res:
            headers = {k.lower(): v for k, v in res.headers.items()}
            return int(res.status), headers, res.read().decode("utf-8", "replace")

    return transport


def client(sandbox: Sandbox, key: str, number_id: str | None = None) -> PilotStatusClient:
    return PilotStatusClient(
        api_key=key, transport=to_sandbox(sandbox), whatsapp_number_id=number_id, get_retries=0
    )


async def test_numbers_through_the_sdk(sandbox: Sandbox) -> None:
    tenant = client(sandbox, sandbox.tenant_key)
    listed = await asyncio.to_thread(tenant.numbers.list)
    assert [n["id"] for n in listed] == [n.id for n in sandbox.numbers]
    number_id = sandbox.numbers[0].id
    detail: Any = await asyncio.to_thread(tenant.numbers.get, number_id)
    assert detail["id"] == number_id and "coexistence" in detail
    status: Any = await asyncio.to_thread(tenant.numbers.get_status, number_id)
    assert status["id"] == number_id and status["stale"] is False and "checkedAt" in status
    with pytest.raises(AuthenticationError):
        await asyncio.to_thread(client(sandbox, "ps_live_wrong").numbers.list)


async def test_send_and_get_through_the_sdk(sandbox: Sandbox) -> None:
    number_id = sandbox.numbers[0].id
    own = client(sandbox, sandbox.number_keys[number_id])
    message: Any = {"destinationNumber": "+5511987654321", "text": "via the SDK"}
    accepted: Any = await asyncio.to_thread(lambda: own.messages.send(message, idempotency_key="sdk-1"))
    assert accepted["status"] == "QUEUED" and accepted["origin"] == "API"
    replay: Any = await asyncio.to_thread(lambda: own.messages.send(message, idempotency_key="sdk-1"))
    assert replay == accepted
    for key in (accepted["id"], accepted["correlationId"]):
        details: Any = await asyncio.to_thread(own.messages.get, key)
        assert details["id"] == accepted["id"] and details["createdAt"] == accepted["createdAt"]
    # The tenant key needs the number; the SDK's `with_number` sends the header.
    tenant = client(sandbox, sandbox.tenant_key)
    with pytest.raises(ForbiddenError) as forbidden:
        await asyncio.to_thread(tenant.messages.get, accepted["id"])
    assert forbidden.value.body["code"] == "TENANT_SCOPE_NOT_ALLOWED"
    details = await asyncio.to_thread(tenant.with_number(number_id).messages.get, accepted["id"])
    assert details["correlationId"] == accepted["correlationId"]
    with pytest.raises(ValidationError) as invalid:
        await asyncio.to_thread(lambda: own.messages.send({"destinationNumber": "11987654321", "text": "x"}))
    assert invalid.value.body["code"] == "VALIDATION_ERROR"

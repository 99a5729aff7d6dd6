"""The sandbox's fault injection, per-key rate limit and request counts (`faults.py`),
exercised over real HTTP on loopback."""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
import pytest

from pilot_desktop.sandbox.console import describe, rate_limit_arg
from pilot_desktop.sandbox.faults import Faults, parse_rate_limit
from pilot_desktop.sandbox.server import Sandbox
from tests.sandbox.conftest import SandboxFactory, assert_error, auth, wait_for

URL = "https://example.com/hooks/a"


def number_key(sandbox: Sandbox, index: int = 0) -> dict[str, str]:
    return auth(sandbox.number_keys[sandbox.numbers[index].id])


async def test_status_fault_answers_count_times_then_the_real_answer(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    headers = number_key(sandbox)
    sandbox.faults.inject("GET", "/v1/webhooks", 503, count=2)
    for _ in range(2):
        r = await api.get("/v1/webhooks", headers=headers)
        assert_error(r, 503, "SERVICE_UNAVAILABLE")
        assert "retryAfterSeconds" not in r.json() and "retry-after" not in r.headers
    assert (await api.get("/v1/webhooks", headers=headers)).status_code == 200
    assert sandbox.faults.pending() == []
    # Every request counts, faulted or not; other paths and methods are counted apart.
    assert sandbox.faults.requests("GET", "/v1/webhooks") == 3
    assert (await api.get("/v1/numbers", headers=auth(sandbox.tenant_key))).status_code == 200
    assert sandbox.faults.requests("GET", "/v1/numbers") == 1
    assert sandbox.faults.requests("POST", "/v1/webhooks") == 0
    assert sandbox.faults.requests() == 4
    sandbox.faults.reset_counts()
    assert sandbox.faults.requests() == 0


async def test_fault_matches_method_and_path_prefix_in_injection_order(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    headers = number_key(sandbox)
    sandbox.faults.inject("POST", "/v1/webhooks", 500)
    sandbox.faults.inject("*", "/v1/webhooks", 502, code="UPSTREAM_ERROR")
    # A GET does not match the POST fault; it takes the any-method one.
    assert_error(await api.get("/v1/webhooks/wh_x", headers=headers), 502, "UPSTREAM_ERROR")
    # Another path prefix is untouched while the POST fault is still pending.
    assert (await api.get("/v1/numbers", headers=headers)).status_code == 200
    assert len(sandbox.faults.pending()) == 1
    assert_error(await api.post("/v1/webhooks", headers=headers, json={"url": URL}), 500, "INTERNAL_ERROR")
    assert sandbox.state.webhooks == {}  # a plain fault answers before the handler runs
    assert (await api.post("/v1/webhooks", headers=headers, json={"url": URL})).status_code == 201
    sandbox.faults.inject("GET", "/v1/", 500, count=5)
    sandbox.faults.clear()
    assert (await api.get("/v1/webhooks", headers=headers)).status_code == 200


async def test_injected_429_carries_retry_after_in_body_and_header(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    headers = number_key(sandbox)
    sandbox.faults.inject("GET", "/v1/numbers", 429, retry_after=2.5)
    sandbox.faults.inject("GET", "/v1/numbers", 429)
    first = await api.get("/v1/numbers", headers=headers)
    assert assert_error(first, 429, "RATE_LIMITED")["retryAfterSeconds"] == 2.5
    assert first.headers["retry-after"] == "3"  # whole seconds, rounded up
    second = await api.get("/v1/numbers", headers=headers)
    assert assert_error(second, 429, "RATE_LIMITED")["retryAfterSeconds"] == 1.0
    assert second.headers["retry-after"] == "1"


async def test_after_handler_fault_applies_the_change_and_loses_the_answer(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    headers = number_key(sandbox)
    sandbox.faults.inject("POST", "/v1/webhooks", 500, after_handler=True)
    r = await api.post("/v1/webhooks", headers=headers, json={"url": URL, "name": "lost"})
    assert_error(r, 500, "INTERNAL_ERROR")
    listed = (await api.get("/v1/webhooks", headers=headers)).json()
    assert [h["name"] for h in listed] == ["lost"]


async def test_drop_closes_the_connection_without_an_answer(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = number_key(sandbox)
    sandbox.faults.inject("GET", "/v1/webhooks", None, drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        await api.get("/v1/webhooks", headers=headers)
    # The next request (a new connection) is answered normally.
    assert (await api.get("/v1/webhooks", headers=headers)).status_code == 200
    # Before the handler: the change never happens.
    sandbox.faults.inject("POST", "/v1/webhooks", None, drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        await api.post("/v1/webhooks", headers=headers, json={"url": URL, "name": "never"})
    assert sandbox.state.webhooks == {}
    # After the handler: the webhook exists although the client saw only a network error.
    sandbox.faults.inject("POST", "/v1/webhooks", None, drop=True, after_handler=True)
    with pytest.raises(httpx.RemoteProtocolError):
        await api.post("/v1/webhooks", headers=headers, json={"url": URL, "name": "dropped"})
    assert [h.name for h in sandbox.state.webhooks.values()] == ["dropped"]
    assert sandbox.faults.requests("POST", "/v1/webhooks") == 2


async def test_delay_holds_the_answer(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    headers = number_key(sandbox)
    sandbox.faults.inject("GET", "/v1/numbers", None, delay=0.3)  # the real answer, late
    started = time.monotonic()
    r = await api.get("/v1/numbers", headers=headers)
    assert r.status_code == 200 and len(r.json()) == 1
    assert time.monotonic() - started >= 0.3
    sandbox.faults.inject("GET", "/v1/numbers", 504, delay=30)
    with pytest.raises(httpx.ReadTimeout):
        await api.get("/v1/numbers", headers=headers, timeout=0.2)


async def test_a_slow_change_happens_although_the_client_gave_up(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    sandbox.faults.inject("POST", "/v1/webhooks", None, delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await api.post(
            "/v1/webhooks", headers=number_key(sandbox), json={"url": URL, "name": "late"}, timeout=0.1
        )
    assert sandbox.state.webhooks == {}
    await wait_for(lambda: sandbox.state.webhooks, what="the late webhook")
    assert [h.name for h in sandbox.state.webhooks.values()] == ["late"]


async def test_stop_ends_a_pending_delay(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(time_scale=0.0)
    sandbox.faults.inject("GET", "/v1/numbers", 503, delay=60)
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=30) as client:
        pending = asyncio.create_task(client.get("/v1/numbers", headers=auth(sandbox.tenant_key)))
        await wait_for(lambda: sandbox.faults.requests() == 1, what="the request to arrive")
        started = time.monotonic()
        await sandbox.stop(drain_timeout=0)
        assert time.monotonic() - started < 5
        response = await asyncio.wait_for(pending, 5)
        assert response.status_code == 503


async def test_inject_refuses_nonsense(sandbox: Sandbox) -> None:
    for kwargs in (
        {"status": 99},
        {"status": 600},
        {"status": None},  # nothing to do
        {"status": 500, "count": 0},
        {"status": 500, "delay": -1},
        {"status": 429, "retry_after": -1},
    ):
        with pytest.raises(ValueError):
            sandbox.faults.inject("GET", "/v1/numbers", **kwargs)
    with pytest.raises(ValueError, match="path_prefix"):
        sandbox.faults.inject("GET", "v1/numbers", 500)
    assert sandbox.faults.pending() == []


async def test_rate_limit_per_key(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(time_scale=0.0, rate_limit=(3, 0.5))
    a, b = sandbox.numbers[0].id, sandbox.numbers[1].id
    key_a = sandbox.number_keys[a]
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as api:
        for _ in range(3):
            assert (await api.get("/v1/webhooks", headers=auth(key_a))).status_code == 200
        refused = await api.get(f"/v1/numbers/{a}", headers=auth(key_a))
        body = assert_error(refused, 429, "RATE_LIMITED")
        assert 0 < body["retryAfterSeconds"] <= 0.5
        assert refused.headers["retry-after"] == "1"
        # The key's id names the same key, so it shares the window.
        key_a_id = sandbox.state.number_keys[a].id
        assert (await api.get("/v1/webhooks", headers={"x-api-key-id": key_a_id})).status_code == 429
        # Another key has its own window; a wrong key is the routes' 401, never a 429.
        assert (await api.get("/v1/webhooks", headers=auth(sandbox.number_keys[b]))).status_code == 200
        for _ in range(5):
            assert_error(await api.get("/v1/webhooks", headers=auth("ps_live_nope")), 401, "UNAUTHORIZED")
        assert (await api.get("/healthz")).status_code == 200  # outside /v1: not limited
        # Waiting as told frees a slot (refused requests did not use one).
        await asyncio.sleep(body["retryAfterSeconds"])
        assert (await api.get("/v1/webhooks", headers=auth(key_a))).status_code == 200
        # Every request reached the sandbox and was counted, limited or not.
        assert sandbox.faults.requests("GET", "/v1/") == 3 + 1 + 1 + 1 + 5 + 1
        # Turned off at run time: no more 429.
        sandbox.faults.rate_limit = None
        statuses = {(await api.get("/v1/webhooks", headers=auth(key_a))).status_code for _ in range(10)}
        assert statuses == {200}


async def test_rate_limit_window_slides() -> None:
    """The window is sliding: a slot frees exactly S seconds after the request that used it."""
    now = [100.0]
    sandbox = Sandbox(seed=1, numbers=1, time_scale=0.0)
    sandbox.faults = Faults((3, 10.0), clock=lambda: now[0])
    await sandbox.start()
    try:
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as api:
            headers = auth(sandbox.tenant_key)

            async def status_at(t: float) -> int:
                now[0] = 100.0 + t
                return (await api.get("/v1/numbers", headers=headers)).status_code

            assert [await status_at(t) for t in (0, 1, 2)] == [200, 200, 200]
            now[0] = 103.0
            refused = await api.get("/v1/numbers", headers=headers)
            assert refused.json()["retryAfterSeconds"] == 7.0 and refused.headers["retry-after"] == "7"
            assert await status_at(9.999) == 429
            assert await status_at(10.0) == 200  # the t=0 slot is free again
            assert await status_at(10.5) == 429  # t=1 and t=2 still in the window, plus t=10
            assert await status_at(11.0) == 200
    finally:
        await sandbox.stop(drain_timeout=0)


def test_parse_rate_limit() -> None:
    assert parse_rate_limit("10/1") == (10, 1.0)
    assert parse_rate_limit(" 100 / 60s ") == (100, 60.0)
    assert parse_rate_limit("5/0.5") == (5, 0.5)
    for bad in ("", "10", "10/", "/1", "0/1", "10/0", "-1/1", "a/b", "10/1/2", "1.5/1"):
        with pytest.raises(ValueError):
            parse_rate_limit(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="N/S"):
        rate_limit_arg("ten per second")
    with pytest.raises(ValueError):
        Sandbox(rate_limit=(0, 1.0))


def test_console_shows_the_rate_limit() -> None:
    assert not any("Rate limit" in line for line in describe(Sandbox(numbers=1)))
    lines = describe(Sandbox(numbers=1, rate_limit=rate_limit_arg("20/60")))
    assert "Rate limit: 20 requests per 60 s per API key (then 429 RATE_LIMITED)" in lines

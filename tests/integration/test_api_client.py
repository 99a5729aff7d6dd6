"""`PilotClient` against a real sandbox on loopback: every endpoint the client uses, every
documented error the sandbox produces, and the retry rules (client.py's docstring) played
with the sandbox's injected faults and rate limit.

Waits go through a recording `sleep`, so a test can assert how long the client chose to
wait without waiting it; `sb.faults.requests(...)` tells how many attempts reached the
platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from pilot_desktop.api import ApiError, PilotClient
from pilot_desktop.api.models import Webhook
from pilot_desktop.sandbox.server import Sandbox
from tests.sandbox.conftest import Target, free_port, serve_target, wait_for

TO = "+5511988887777"
HOOK_URL = "https://example.com/hooks/a"


class Sleeps:
    """The client's `sleep`: records each wait; `real=True` also waits it."""

    def __init__(self, *, real: bool = False) -> None:
        self.waits: list[float] = []
        self.real = real

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds if self.real else 0)


MakeClient = Callable[..., PilotClient]


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    """A paused sandbox (no organic traffic) with short delivery retries."""
    sandbox = Sandbox(seed=7, numbers=3, time_scale=0.0, retry_window=2.0, retry_base=0.2)
    await sandbox.start()
    yield sandbox
    await sandbox.stop(drain_timeout=0)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_client(sb: Sandbox, sleeps: Sleeps) -> AsyncIterator[MakeClient]:
    """`make_client(key, number_id=None, **options)`: a client of `sb` using `sleeps`."""
    made: list[PilotClient] = []

    def make(key: str, number_id: str | None = None, **options: Any) -> PilotClient:
        options.setdefault("base_url", sb.base_url)
        options.setdefault("sleep", sleeps)
        options.setdefault("timeout", 10.0)
        client = PilotClient(key, number_id=number_id, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    """A real aiohttp webhook receiver on loopback (answers 200 unless scripted)."""
    t = Target()
    runner = await serve_target(t)
    yield t
    await runner.cleanup()


def ids(sb: Sandbox) -> tuple[str, str]:
    return sb.numbers[0].id, sb.numbers[1].id


def number_client(make_client: MakeClient, sb: Sandbox, index: int = 0, **options: Any) -> PilotClient:
    return make_client(sb.number_keys[sb.numbers[index].id], **options)


async def raises(call: Awaitable[Any]) -> ApiError:
    with pytest.raises(ApiError) as info:
        await call
    return info.value


def ping(number_id: str, marker: str) -> dict[str, Any]:
    return {
        "event": "test.ping",
        "data": {"numberId": number_id, "id": marker, "createdAt": "2025-01-01T00:00:00Z"},
    }


# -- webhooks: happy paths -----------------------------------------------------------------


async def test_create_then_get_and_list_show_exactly_those_events(
    sb: Sandbox, make_client: MakeClient
) -> None:
    a, b = ids(sb)
    client = number_client(make_client, sb)
    created = await client.create_webhook(HOOK_URL, ["message.sent", "message.read"], name="Orders")
    assert isinstance(created, Webhook) and created.id.startswith("wh_")
    assert (created.name, created.url, created.events, created.active) == (
        "Orders",
        HOOK_URL,
        ["message.sent", "message.read"],
        True,
    )
    assert created.number_id == a
    assert await client.get_webhook(created.id) == created
    assert await client.list_webhooks() == [created]
    paused = await client.create_webhook(HOOK_URL, [], active=False)
    assert (paused.active, paused.events, paused.name) == (False, [], "example.com")
    # The tenant key sees every webhook, or one number's when it names the number.
    tenant = make_client(sb.tenant_key)
    assert [h.id for h in await tenant.list_webhooks()] == [created.id, paused.id]
    assert await tenant.for_number(b).list_webhooks() == []
    on_b = await tenant.for_number(b).create_webhook(HOOK_URL, ["*"])
    assert on_b.number_id == b and on_b.events == ["*"]
    assert [h.id for h in await tenant.for_number(b).list_webhooks()] == [on_b.id]
    assert [h.id for h in await client.list_webhooks()] == [created.id, paused.id]


async def test_update_replaces_the_event_list_and_keeps_the_rest(
    sb: Sandbox, make_client: MakeClient
) -> None:
    client = number_client(make_client, sb)
    hook = await client.create_webhook(HOOK_URL, ["message.sent", "message.read"], name="Orders")
    changed = await client.update_webhook(hook.id, events=["message.failed"])
    assert changed.events == ["message.failed"]  # replaced, not merged
    assert (changed.name, changed.url, changed.active) == ("Orders", HOOK_URL, True)
    moved = await client.update_webhook(hook.id, name="Renamed", url="https://b.example/x", active=False)
    assert (moved.name, moved.url, moved.active, moved.events) == (
        "Renamed",
        "https://b.example/x",
        False,
        ["message.failed"],
    )
    assert await client.get_webhook(hook.id) == moved
    emptied = await client.update_webhook(hook.id, events=[])
    assert emptied.events == []


async def test_delete_removes_the_webhook(sb: Sandbox, make_client: MakeClient) -> None:
    client = number_client(make_client, sb)
    keep = await client.create_webhook(HOOK_URL, ["*"])
    gone = await client.create_webhook(HOOK_URL, ["*"])
    await client.delete_webhook(gone.id)
    assert [h.id for h in await client.list_webhooks()] == [keep.id]
    assert (await raises(client.get_webhook(gone.id))).code == "WEBHOOK_NOT_FOUND"
    assert (await raises(client.delete_webhook(gone.id))).code == "WEBHOOK_NOT_FOUND"


async def test_logs_show_deliveries_newest_first(
    sb: Sandbox, make_client: MakeClient, target: Target
) -> None:
    a, _ = ids(sb)
    client = number_client(make_client, sb)
    hook = await client.create_webhook(target.url("ok"), ["*"])
    assert await client.webhook_logs(hook.id) == []
    sb.emit(a, "test.ping", ping(a, "p-1"))
    await wait_for(lambda: len(target.got("ok")) == 1, what="first delivery")
    sb.emit(a, "test.pong", {"event": "test.pong", "data": {"numberId": a, "id": "p-2"}})
    await wait_for(lambda: len(sb.delivered_log(hook.id)) == 2, what="two logged deliveries")
    logs = await client.webhook_logs(hook.id)
    assert [(e.event, e.status, e.status_code) for e in logs] == [
        ("test.pong", "SUCCESS", 200),
        ("test.ping", "SUCCESS", 200),
    ]
    assert logs[1].payload == ping(a, "p-1")
    assert logs[0].duration_ms is not None and logs[0].created_at
    assert [e.event for e in await client.webhook_logs(hook.id, event="test.ping")] == ["test.ping"]
    assert [e.event for e in await client.webhook_logs(hook.id, limit=1)] == ["test.pong"]
    # A receiver answering 500 is logged as a failed attempt with its status code.
    target.script["bad"] = [500, 500, 500, 500, 500, 500, 500, 500]
    failing = await client.create_webhook(target.url("bad"), ["test.ping"])
    sb.emit(a, "test.ping", ping(a, "p-3"))
    await wait_for(lambda: sb.delivered_log(failing.id), what="a failed attempt")
    first = (await client.webhook_logs(failing.id))[-1]
    assert (first.event, first.status, first.status_code) == ("test.ping", "FAILED", 500)


# -- numbers -------------------------------------------------------------------------------


async def test_numbers_list_detail_and_status(sb: Sandbox, make_client: MakeClient) -> None:
    tenant = make_client(sb.tenant_key)
    listed = await tenant.list_numbers()
    assert [(n.id, n.phone, n.provider) for n in listed] == [(n.id, n.phone, n.provider) for n in sb.numbers]
    for number in listed:
        assert number.state == sb.scenario.number_state(number.id) == "CONNECTING"
        assert number.is_fully_connected is False
        assert number.primary_link is not None and number.primary_link.state == "CONNECTING"
    # A number-scoped key sees only its own number.
    assert [n.id for n in await number_client(make_client, sb, 1).list_numbers()] == [sb.numbers[1].id]
    meta = next(n for n in sb.numbers if n.provider == "META")
    web_number = next(n for n in sb.numbers if n.provider == "PILOT_STATUS")
    detail = await tenant.get_number(meta.id)
    assert (detail.id, detail.name, detail.phone, detail.provider) == (meta.id, meta.name, meta.phone, "META")
    assert detail.pii_mode == "STORE_INDEFINITE"
    assert detail.health is not None and detail.health.quality_rating in ("GREEN", "YELLOW")
    status = await tenant.number_status(web_number.id)
    assert (status.id, status.state, status.is_fully_connected, status.stale) == (
        web_number.id,
        "CONNECTING",
        False,
        False,
    )
    assert status.checked_at  # a live reading
    assert (await tenant.number_status(meta.id)).checked_at is None  # Meta: no timestamp
    # Let the scenario connect every number, then freeze it: the client sees OPEN.
    sb.time_scale = 60.0
    await wait_for(lambda: all(sb.scenario.number_state(n.id) == "OPEN" for n in sb.numbers), what="OPEN")
    sb.time_scale = 0.0
    status = await tenant.number_status(web_number.id)
    assert (status.state, status.is_fully_connected) == ("OPEN", True)
    opened = await tenant.get_number(web_number.id)
    assert (opened.state, opened.is_fully_connected) == ("OPEN", True)
    item = next(n for n in await tenant.list_numbers() if n.id == web_number.id)
    assert item.primary_link is not None and item.primary_link.connected_at


# -- messages ------------------------------------------------------------------------------


async def test_send_then_get_and_idempotent_repeat(sb: Sandbox, make_client: MakeClient) -> None:
    a, _ = ids(sb)
    client = number_client(make_client, sb)
    accepted = await client.send_text(TO, "Olá", idempotency_key="order-1")
    assert accepted.id.startswith("msg_") and accepted.correlation_id
    assert (accepted.status, accepted.origin, accepted.replayed) == ("QUEUED", "API", False)
    assert accepted.source_number == sb.numbers[0].phone.lstrip("+")
    details = await client.get_message(accepted.id)
    assert (details.id, details.status, details.destination_number) == (accepted.id, "QUEUED", TO)
    assert details.correlation_id == accepted.correlation_id
    assert (await client.get_message(accepted.correlation_id or "")).id == accepted.id
    again = await client.send_text(TO, "Olá", idempotency_key="order-1")
    assert (again.id, again.replayed) == (accepted.id, True)
    other = await client.send_text(TO, "Olá")  # a fresh key each call: a second message
    assert other.id != accepted.id and not other.replayed
    assert [m.id for m in sb.state.messages.values()] == [accepted.id, other.id]
    # The tenant key naming the number reads it too.
    assert (await make_client(sb.tenant_key, a).get_message(accepted.id)).id == accepted.id


# -- documented errors ---------------------------------------------------------------------


async def test_missing_or_invalid_key_is_401_naming_the_api_key(sb: Sandbox, make_client: MakeClient) -> None:
    for key in ("", "ps_live_wrong"):
        client = make_client(key)
        for call in (
            client.list_webhooks(),
            client.create_webhook(HOOK_URL, ["*"]),
            client.list_numbers(),
            client.send_text(TO, "x"),
        ):
            err = await raises(call)
            assert (err.status, err.code, err.maybe_applied) == (401, "UNAUTHORIZED", False)
            assert "API key" in err.sentence and "API key" in str(err)
    assert sb.state.webhooks == {} and sb.state.messages == {}


async def test_scope_and_number_errors(sb: Sandbox, make_client: MakeClient) -> None:
    a, b = ids(sb)
    tenant = make_client(sb.tenant_key)
    err = await raises(tenant.send_text(TO, "x"))
    assert (err.status, err.code) == (403, "TENANT_SCOPE_NOT_ALLOWED")
    assert "number" in err.sentence
    assert (await raises(tenant.get_message("msg_x"))).code == "TENANT_SCOPE_NOT_ALLOWED"
    err = await raises(tenant.create_webhook(HOOK_URL, ["*"]))
    assert (err.status, err.code) == (400, "NUMBER_REQUIRED")
    err = await raises(number_client(make_client, sb, 0, number_id=b).create_webhook(HOOK_URL, ["*"]))
    assert (err.status, err.code) == (400, "NUMBER_MISMATCH")
    for call in (
        tenant.for_number("num_zz").list_webhooks(),
        tenant.for_number("num_zz").create_webhook(HOOK_URL, ["*"]),
        tenant.get_number("num_zz"),
        number_client(make_client, sb, 0).get_number(b),  # another number's: not visible
    ):
        err = await raises(call)
        assert (err.status, err.code) == (404, "NUMBER_NOT_FOUND")
        assert "number" in err.sentence.lower()
    assert sb.state.webhooks == {}
    # /status answers its 404 without a code (§4.4); the client still names the problem.
    err = await raises(tenant.number_status("num_zz"))
    assert (err.status, err.code) == (404, "NUMBER_NOT_FOUND")
    assert isinstance(err.body, dict) and "code" not in err.body and err.detail
    assert (await tenant.number_status(a)).id == a


async def test_webhook_not_found_for_every_webhook_call(sb: Sandbox, make_client: MakeClient) -> None:
    hook = await number_client(make_client, sb, 0).create_webhook(HOOK_URL, ["*"])
    other = number_client(make_client, sb, 1)  # another number's key can't see it
    for client, webhook_id in ((other, hook.id), (make_client(sb.tenant_key), "wh_missing")):
        for call in (
            client.get_webhook(webhook_id),
            client.update_webhook(webhook_id, name="x"),
            client.delete_webhook(webhook_id),
            client.webhook_logs(webhook_id),
        ):
            err = await raises(call)
            assert (err.status, err.code) == (404, "WEBHOOK_NOT_FOUND")
            assert "webhook" in err.sentence.lower()
    assert list(sb.state.webhooks) == [hook.id]


async def test_validation_errors_name_the_field(sb: Sandbox, make_client: MakeClient) -> None:
    client = number_client(make_client, sb)
    err = await raises(client.create_webhook("ftp://example.com/x", ["*"]))
    assert (err.status, err.code, err.field) == (400, "VALIDATION_ERROR", "url")
    assert "'url'" in err.sentence and err.detail
    hook = await client.create_webhook(HOOK_URL, ["*"])
    assert (await raises(client.update_webhook(hook.id, url="not a url"))).field == "url"
    assert (await raises(client.webhook_logs(hook.id, limit=0))).field == "limit"
    err = await raises(client.send_text("11 98888-7777", "x"))
    assert (err.code, err.field) == ("VALIDATION_ERROR", "destinationNumber")
    err = await raises(client.update_webhook(hook.id))
    assert (err.status, err.code) == (400, "EMPTY_PATCH")
    assert err.sentence == "There was nothing to change."
    assert await client.get_webhook(hook.id) == hook  # nothing changed
    assert sb.state.messages == {}


# -- 429 -----------------------------------------------------------------------------------


async def test_short_429_is_waited_and_retried(sb: Sandbox, make_client: MakeClient, sleeps: Sleeps) -> None:
    client = number_client(make_client, sb)
    sb.faults.inject("GET", "/v1/webhooks", 429, retry_after=2.5)
    assert await client.list_webhooks() == []
    assert sb.faults.requests("GET", "/v1/webhooks") == 2
    assert sleeps.waits == [2.5]  # the body's retryAfterSeconds, not the header's rounded 3
    # A change is retried too: the platform refused it before acting.
    sb.faults.inject("POST", "/v1/webhooks", 429, retry_after=1)
    hook = await client.create_webhook(HOOK_URL, ["*"])
    assert sb.faults.requests("POST", "/v1/webhooks") == 2
    assert sleeps.waits == [2.5, 1.0]
    assert list(sb.state.webhooks) == [hook.id]


async def test_long_or_repeated_429_is_raised_with_the_wait(
    sb: Sandbox, make_client: MakeClient, sleeps: Sleeps
) -> None:
    client = number_client(make_client, sb)
    sb.faults.inject("POST", "/v1/webhooks", 429, retry_after=60)
    err = await raises(client.create_webhook(HOOK_URL, ["*"]))
    assert (err.status, err.code, err.retry_after, err.maybe_applied) == (429, "RATE_LIMITED", 60.0, False)
    assert "Try again in 60 s" in str(err)
    assert sleeps.waits == [] and sb.faults.requests("POST", "/v1/webhooks") == 1
    assert sb.state.webhooks == {}
    # Short waits, but more 429s than retries (2): three attempts, then the error.
    sb.faults.inject("GET", "/v1/numbers", 429, retry_after=0.5, count=3)
    err = await raises(client.list_numbers())
    assert (err.code, err.retry_after) == ("RATE_LIMITED", 0.5)
    assert sleeps.waits == [0.5, 0.5] and sb.faults.requests("GET", "/v1/numbers") == 3


async def test_sandbox_rate_limit_is_waited_out(sb: Sandbox, make_client: MakeClient) -> None:
    real = Sleeps(real=True)
    sb.faults.rate_limit = (2, 0.3)
    client = number_client(make_client, sb, sleep=real)
    for _ in range(5):
        assert await client.list_webhooks() == []
    refused = sb.faults.requests("GET", "/v1/webhooks") - 5
    assert refused >= 1 and len(real.waits) == refused
    assert all(0 < wait <= 0.3 for wait in real.waits)
    # Another key has its own allowance: no wait at all.
    other = number_client(make_client, sb, 1, sleep=real)
    before = len(real.waits)
    await other.list_webhooks()
    await other.list_webhooks()
    assert len(real.waits) == before
    # A window longer than the client will wait: raised at once, with the wait.
    sb.faults.rate_limit = (1, 30.0)
    await client.list_numbers()
    err = await raises(client.list_numbers())
    assert err.code == "RATE_LIMITED" and err.retry_after is not None and 29 < err.retry_after <= 30
    assert len(real.waits) == before


# -- retries on 5xx, dropped connections and timeouts --------------------------------------


async def test_get_is_retried_on_5xx_with_backoff(
    sb: Sandbox, make_client: MakeClient, sleeps: Sleeps
) -> None:
    client = number_client(make_client, sb)
    sb.faults.inject("GET", "/v1/webhooks", 503, count=2)
    assert await client.list_webhooks() == []
    assert sb.faults.requests("GET", "/v1/webhooks") == 3
    assert sleeps.waits == [0.25, 0.5]
    sb.faults.inject("GET", "/v1/numbers", 500, count=3)
    err = await raises(client.list_numbers())
    assert (err.status, err.code, err.maybe_applied) == (500, "INTERNAL_ERROR", False)
    assert sb.faults.requests("GET", "/v1/numbers") == 3
    assert "server error" in err.sentence


async def test_get_is_retried_on_dropped_connections(
    sb: Sandbox, make_client: MakeClient, sleeps: Sleeps
) -> None:
    a, _ = ids(sb)
    client = number_client(make_client, sb)
    sb.faults.inject("GET", f"/v1/numbers/{a}/status", None, drop=True, count=2)
    assert (await client.number_status(a)).id == a
    assert sb.faults.requests("GET", f"/v1/numbers/{a}/status") == 3
    sb.faults.inject("GET", "/v1/webhooks", None, drop=True, count=3)
    err = await raises(client.list_webhooks())
    assert (err.status, err.code, err.maybe_applied) == (0, "NETWORK", False)
    assert sb.base_url in err.detail
    assert sb.faults.requests("GET", "/v1/webhooks") == 3
    assert sleeps.waits == [0.25, 0.5, 0.25, 0.5]


async def test_changes_are_not_retried_on_5xx_or_drops(
    sb: Sandbox, make_client: MakeClient, sleeps: Sleeps
) -> None:
    client = number_client(make_client, sb)
    hook = await client.create_webhook(HOOK_URL, ["message.sent"])
    cases: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = [
        ("POST", "/v1/webhooks", lambda: client.create_webhook(HOOK_URL, ["*"])),
        ("PATCH", f"/v1/webhooks/{hook.id}", lambda: client.update_webhook(hook.id, events=["*"])),
        ("DELETE", f"/v1/webhooks/{hook.id}", lambda: client.delete_webhook(hook.id)),
    ]
    for method, path, call in cases:
        for fault in ({"status": 500}, {"status": None, "drop": True}):
            sb.faults.reset_counts()
            sb.faults.inject(method, path, **fault)
            err = await raises(call())
            assert err.maybe_applied, (method, fault)
            assert "may have been applied" in str(err)
            assert err.code == ("INTERNAL_ERROR" if fault["status"] else "NETWORK")
            assert sb.faults.requests(method, path) == 1, (method, fault)
    assert sleeps.waits == []
    # The faults answered before the handlers: nothing changed.
    assert list(sb.state.webhooks) == [hook.id]
    assert sb.state.webhooks[hook.id].events == ["message.sent"]


async def test_lost_answer_of_a_change_is_reported_as_maybe_applied(
    sb: Sandbox, make_client: MakeClient
) -> None:
    client = number_client(make_client, sb)
    hook = await client.create_webhook(HOOK_URL, ["*"])
    sb.faults.inject("DELETE", f"/v1/webhooks/{hook.id}", None, drop=True, after_handler=True)
    err = await raises(client.delete_webhook(hook.id))
    assert err.maybe_applied and err.code == "NETWORK"
    assert sb.state.webhooks == {}  # it was applied: the warning was due
    assert sb.faults.requests("DELETE", "/v1/webhooks") == 1


async def test_send_is_retried_with_the_same_key_and_sends_once(
    sb: Sandbox, make_client: MakeClient, sleeps: Sleeps
) -> None:
    client = number_client(make_client, sb)
    for fault in ({"status": 500}, {"status": None, "drop": True}):
        before = set(sb.state.messages)
        sb.faults.reset_counts()
        # The platform accepts the send, but the answer is lost on the way back.
        sb.faults.inject("POST", "/v1/messages/send", after_handler=True, **fault)
        accepted = await client.send_text(TO, f"once {fault}")
        assert accepted.replayed  # the retry got the first attempt's answer
        new = [m for m in sb.state.messages.values() if m.id not in before]
        assert [m.id for m in new] == [accepted.id] and new[0].text == f"once {fault}"
        assert sb.faults.requests("POST", "/v1/messages/send") == 2
        assert (await client.get_message(accepted.id)).status == "QUEUED"
    assert sleeps.waits == [0.25, 0.25]


async def test_send_failing_every_attempt_says_it_may_have_gone_out(
    sb: Sandbox, make_client: MakeClient, sleeps: Sleeps
) -> None:
    client = number_client(make_client, sb)
    sb.faults.inject("POST", "/v1/messages/send", 503, count=3, after_handler=True)
    err = await raises(client.send_text(TO, "maybe"))
    assert (err.status, err.maybe_applied) == (503, True)
    assert sb.faults.requests("POST", "/v1/messages/send") == 3
    assert len(sb.state.messages) == 1  # three attempts, one message
    assert sleeps.waits == [0.25, 0.5]


async def test_timeouts(sb: Sandbox, make_client: MakeClient, sleeps: Sleeps) -> None:
    client = number_client(make_client, sb, timeout=0.2)
    sb.faults.inject("GET", "/v1/webhooks", 503, delay=30, count=3)
    err = await raises(client.list_webhooks())
    assert (err.status, err.code, err.maybe_applied) == (0, "TIMEOUT", False)
    assert "did not answer in time" in err.sentence
    assert sb.faults.requests("GET", "/v1/webhooks") == 3 and sleeps.waits == [0.25, 0.5]
    # A slow answer once, then a prompt one: the GET succeeds on its retry.
    sb.faults.inject("GET", "/v1/numbers", None, delay=30)
    assert len(await client.list_numbers()) == 1
    assert sb.faults.requests("GET", "/v1/numbers") == 2
    # A change that times out is not repeated, and may have been applied.
    sb.faults.inject("POST", "/v1/webhooks", None, delay=30)
    err = await raises(client.create_webhook(HOOK_URL, ["*"]))
    assert (err.code, err.maybe_applied) == ("TIMEOUT", True)
    assert sb.faults.requests("POST", "/v1/webhooks") == 1


async def test_unreachable_platform(make_client: MakeClient, sleeps: Sleeps) -> None:
    client = make_client("ps_live_any", base_url=f"http://127.0.0.1:{free_port()}")
    err = await raises(client.list_webhooks())
    assert (err.status, err.code, err.maybe_applied) == (0, "NETWORK", False)
    assert sleeps.waits == [0.25, 0.5]  # a GET is retried
    err = await raises(client.create_webhook(HOOK_URL, ["*"]))
    # Refused before anything was sent: not retried, and certainly not applied.
    assert (err.code, err.maybe_applied) == ("NETWORK", False)
    assert "may have been applied" not in str(err)
    assert sleeps.waits == [0.25, 0.5]


# -- answers the client can't read (not something the sandbox does: a tiny real server) -----


async def test_unreadable_answers_are_a_clear_bad_response(make_client: MakeClient) -> None:
    async def webhook_without_url(_: web.Request) -> web.Response:
        return web.json_response({"id": "wh_1", "name": "x"})

    async def not_json(_: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async def object_not_list(_: web.Request) -> web.Response:
        return web.json_response({"items": []})

    app = web.Application()
    app.router.add_get("/v1/webhooks/wh_1", webhook_without_url)
    app.router.add_get("/v1/numbers", not_json)
    app.router.add_get("/v1/webhooks", object_not_list)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        client = make_client("ps_live_any", base_url=f"http://127.0.0.1:{port}")
        err = await raises(client.get_webhook("wh_1"))
        assert err.code == "BAD_RESPONSE" and "Webhook.url" in err.detail and "required" in err.detail
        err = await raises(client.list_numbers())
        assert err.code == "BAD_RESPONSE" and "not JSON" in err.detail
        err = await raises(client.list_webhooks())
        assert err.code == "BAD_RESPONSE" and "list" in err.detail
    finally:
        await runner.cleanup()

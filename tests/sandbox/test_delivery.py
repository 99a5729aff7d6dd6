"""Webhook deliveries from a running sandbox to a real aiohttp target: event gating, pause,
signatures, delivery logs, retries, injected duplicates and reordering."""

from __future__ import annotations

import time
from typing import Any

import httpx

from pilot_desktop.core.signature import HEADER, verify
from pilot_desktop.sandbox.server import Sandbox
from tests.sandbox.conftest import (
    SandboxFactory,
    Target,
    assert_error,
    auth,
    body,
    free_port,
    serve_target,
    wait_for,
)

LOG_FIELDS = {"event", "status", "statusCode", "payload", "response", "durationMs", "createdAt"}
PING = "test.ping"  # an event the scenario never emits: only the test's own emissions count


async def create(api: httpx.AsyncClient, sandbox: Sandbox, number_id: str, **fields: Any) -> dict[str, Any]:
    r = await api.post("/v1/webhooks", headers=auth(sandbox.number_keys[number_id]), json=fields)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def logs(api: httpx.AsyncClient, sandbox: Sandbox, hook_id: str, query: str = "") -> Any:
    r = await api.get(f"/v1/webhooks/{hook_id}/logs{query}", headers=auth(sandbox.tenant_key))
    assert r.status_code == 200, r.text
    return r.json()


def markers(target: Target, name: str) -> list[str]:
    return [r.json["data"].get("id", "") for r in target.got(name)]


async def test_event_gating(sandbox: Sandbox, api: httpx.AsyncClient, target: Target) -> None:
    a, b = sandbox.numbers[0].id, sandbox.numbers[1].id
    star = await create(api, sandbox, a, url=target.url("star"), events=["*"])
    picked = await create(
        api, sandbox, a, url=target.url("picked"), events=["message.received", "number.recovered"]
    )
    empty = await create(api, sandbox, a, url=target.url("empty"), events=[])
    paused = await create(api, sandbox, a, url=target.url("paused"), events=["*"], active=False)
    await create(api, sandbox, b, url=target.url("other"), events=["*"])
    assert sandbox.emit(a, "message.received", body("message.received", a, "m-1")) == 2  # star + picked
    for health in (
        "number.health_blocked",
        "number.health_degraded",
        "number.health_shadowban",
        "number.recovered",
    ):
        assert sandbox.emit(a, health, {"event": health, "data": {"numberId": a, "createdAt": "x"}}) == 1
    await wait_for(
        lambda: (
            {"m-1", "number.recovered"} <= {*markers(target, "star"), *[r.event for r in target.got("star")]}
        ),
        what="star deliveries",
    )
    await wait_for(lambda: "m-1" in markers(target, "picked"), what="picked delivery")
    star_events = {r.event for r in target.got("star")}
    assert {"number.health_blocked", "number.health_degraded", "number.health_shadowban"} <= star_events
    assert not [r for r in target.got("picked") if r.event.startswith("number.")]  # never health events
    assert target.got("empty") == [] and target.got("paused") == []
    assert "m-1" not in markers(target, "other")  # another number's webhook
    assert await logs(api, sandbox, empty["id"]) == [] and await logs(api, sandbox, paused["id"]) == []
    assert (await api.get(f"/v1/webhooks/{star['id']}", headers=auth(sandbox.tenant_key))).json()[
        "lastTriggered"
    ]
    assert picked["events"] == ["message.received"]


async def test_star_gets_all_scenario_traffic(
    make_sandbox: SandboxFactory, target: Target, monkeypatch: Any
) -> None:
    sandbox = await make_sandbox(rate=20.0, time_scale=5.0)
    emitted: list[tuple[str, str, dict[str, Any]]] = []
    submit = sandbox.dispatcher.submit

    def recording(number_id: str, event: str, payload: dict[str, Any]) -> int:
        emitted.append((number_id, event, payload))
        return submit(number_id, event, payload)

    async with httpx.AsyncClient(base_url=sandbox.base_url) as api:
        for number in sandbox.numbers:
            await create(api, sandbox, number.id, url=target.url(number.id), events=["*"])
    # Only what is emitted once every number has its webhook must arrive.
    monkeypatch.setattr(sandbox.dispatcher, "submit", recording)
    await wait_for(lambda: len(emitted) >= 20, 15, "scenario traffic")
    expected = list(emitted)

    def all_arrived() -> bool:
        got = {n.id: [r.json for r in target.got(n.id)] for n in sandbox.numbers}
        return all(payload in got[number_id] for number_id, _, payload in expected)

    await wait_for(all_arrived, 10, "every emission at its number's '*' webhook")
    for number in sandbox.numbers:
        for r in target.got(number.id):
            data = r.json.get("data")
            if isinstance(data, dict) and "numberId" in data:
                assert data["numberId"] == number.id


async def test_patch_replaces_events(sandbox: Sandbox, api: httpx.AsyncClient, target: Target) -> None:
    a = sandbox.numbers[0].id
    hook = await create(api, sandbox, a, url=target.url("h"), events=[PING])
    r = await api.patch(
        f"/v1/webhooks/{hook['id']}", headers=auth(sandbox.tenant_key), json={"events": ["test.pong"]}
    )
    assert r.json()["events"] == ["test.pong"]
    assert sandbox.emit(a, PING, body(PING, a, "old")) == 0
    assert sandbox.emit(a, "test.pong", body("test.pong", a, "new")) == 1
    await wait_for(lambda: markers(target, "h") == ["new"], what="the pong")


async def test_pause_drops_events_and_resume_delivers(
    sandbox: Sandbox, api: httpx.AsyncClient, target: Target
) -> None:
    a = sandbox.numbers[0].id
    hook = await create(api, sandbox, a, url=target.url("p"), events=["*"], active=False)
    path = f"/v1/webhooks/{hook['id']}"
    assert sandbox.emit(a, PING, body(PING, a, "while-paused")) == 0
    assert await logs(api, sandbox, hook["id"]) == []  # nothing while paused
    await api.patch(path, headers=auth(sandbox.tenant_key), json={"active": True})
    sandbox.emit(a, PING, body(PING, a, "resumed"))
    await wait_for(lambda: "resumed" in markers(target, "p"), what="delivery after resume")
    assert "while-paused" not in markers(target, "p")  # not queued for later
    assert all(e["payload"]["data"].get("id") != "while-paused" for e in await logs(api, sandbox, hook["id"]))


async def test_signature_and_headers(sandbox: Sandbox, api: httpx.AsyncClient, target: Target) -> None:
    a = sandbox.numbers[0].id
    hook = await create(api, sandbox, a, url=target.url("sig"), events=[PING])
    payload = body(PING, a, "signed é")
    sandbox.emit(a, PING, payload)
    got = (await wait_for(lambda: target.got("sig"), what="the delivery"))[0]
    assert got.json == payload
    assert verify(got.body, got.headers[HEADER], [sandbox.webhook_secret(hook["id"])]).status == "valid"
    assert verify(got.body, got.headers[HEADER], ["whsec_wrong"]).status == "invalid"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"] == "PilotStatus-Sandbox/1"


async def test_logs_keep_last_50_with_documented_fields(
    sandbox: Sandbox, api: httpx.AsyncClient, target: Target
) -> None:
    a = sandbox.numbers[0].id
    hook = await create(api, sandbox, a, url=target.url("many"), events=[PING, "test.other"])
    for i in range(60):
        sandbox.emit(a, PING, body(PING, a, f"n{i}"))
    await wait_for(lambda: len(target.got("many")) == 60, what="60 deliveries")
    sandbox.emit(a, "test.other", body("test.other", a, "other"))
    await wait_for(
        lambda: (
            len(sandbox.state.logs[hook["id"]]) == 50
            and sandbox.state.logs[hook["id"]][-1].event == "test.other"
        ),
        what="the last log",
    )
    entries = await logs(api, sandbox, hook["id"])
    assert len(entries) == 50
    for e in entries:
        assert set(e) == LOG_FIELDS
        assert e["status"] == "SUCCESS" and e["statusCode"] == 200
        assert isinstance(e["durationMs"], int) and e["durationMs"] >= 0
        assert isinstance(e["response"], str) and e["createdAt"].endswith("Z")
    assert entries[0]["event"] == "test.other"  # newest first
    assert len(await logs(api, sandbox, hook["id"], "?limit=5")) == 5
    only = await logs(api, sandbox, hook["id"], "?event=test.other")
    assert [e["payload"]["data"]["id"] for e in only] == ["other"]
    for bad in ("0", "51", "x"):
        r = await api.get(f"/v1/webhooks/{hook['id']}/logs?limit={bad}", headers=auth(sandbox.tenant_key))
        assert_error(r, 400, "VALIDATION_ERROR")


async def test_retry_after_500(sandbox: Sandbox, api: httpx.AsyncClient, target: Target) -> None:
    a = sandbox.numbers[0].id
    hook = await create(api, sandbox, a, url=target.url("flaky"), events=[PING])
    target.script["flaky"] = [500]
    sandbox.emit(a, PING, body(PING, a, "retry-me"))
    await wait_for(lambda: len(target.got("flaky")) == 2, 5, "the retry")
    first, second = target.got("flaky")
    assert first.body == second.body and first.headers[HEADER] == second.headers[HEADER]
    await wait_for(lambda: len(sandbox.state.logs[hook["id"]]) == 2, what="two logs")
    entries = await logs(api, sandbox, hook["id"])
    assert [(e["status"], e["statusCode"]) for e in entries] == [("SUCCESS", 200), ("FAILED", 500)]


async def test_retry_when_target_down_then_up(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    a = sandbox.numbers[0].id
    port = free_port()
    late = Target()
    hook = await create(api, sandbox, a, url=f"http://127.0.0.1:{port}/hook/late", events=[PING])
    sandbox.emit(a, PING, body(PING, a, "patient"))
    await wait_for(lambda: sandbox.state.logs[hook["id"]], what="the failed attempt")
    runner = await serve_target(late, port)
    try:
        await wait_for(lambda: late.got("late"), 5, "the retry to reach the target once it is up")
        entries = await logs(api, sandbox, hook["id"])
        assert [(e["status"], e["statusCode"]) for e in entries] == [("SUCCESS", 200), ("FAILED", None)]
        assert "connect" in entries[1]["response"].lower()
    finally:
        await runner.cleanup()


async def test_retries_stop_after_the_window(make_sandbox: SandboxFactory, target: Target) -> None:
    sandbox = await make_sandbox(retry_window=1.5, retry_base=0.4)
    a = sandbox.numbers[0].id
    async with httpx.AsyncClient(base_url=sandbox.base_url) as api:
        hook = await create(api, sandbox, a, url=target.url("down"), events=[PING])
        target.script["down"] = [503] * 20
        started = time.monotonic()
        sandbox.emit(a, PING, body(PING, a, "doomed"))
        await wait_for(lambda: sandbox.dispatcher.pending == 0 and target.got("down"), 5, "giving up")
        # Backoffs count from the end of each attempt: attempts at 0, 0.4 and 1.2 s (plus
        # the attempts' own few ms); the next (2.8 s) would be past the window.
        assert len(target.got("down")) == 3 and time.monotonic() - started < 2.5
        assert [e["status"] for e in await logs(api, sandbox, hook["id"])] == ["FAILED"] * 3


async def test_injected_duplicates(make_sandbox: SandboxFactory, target: Target) -> None:
    sandbox = await make_sandbox(duplicate_rate=1.0, retry_base=0.2)
    a = sandbox.numbers[0].id
    async with httpx.AsyncClient(base_url=sandbox.base_url) as api:
        hook = await create(api, sandbox, a, url=target.url("dup"), events=[PING])
        sandbox.emit(a, PING, body(PING, a, "twice"))
        await wait_for(lambda: len(target.got("dup")) == 2, what="the duplicate")
        assert target.got("dup")[0].body == target.got("dup")[1].body
        await wait_for(lambda: len(sandbox.state.logs[hook["id"]]) == 2, what="two logs")
        assert [(e["status"], e["statusCode"]) for e in await logs(api, sandbox, hook["id"])] == [
            ("SUCCESS", 200),
            ("FAILED", None),
        ]


async def test_reorder_jitter(make_sandbox: SandboxFactory, target: Target) -> None:
    sandbox = await make_sandbox(reorder_jitter=0.5)
    a = sandbox.numbers[0].id
    async with httpx.AsyncClient(base_url=sandbox.base_url) as api:
        await create(api, sandbox, a, url=target.url("jit"), events=[PING])
    sent = [f"j{i:02d}" for i in range(20)]
    for marker in sent:
        sandbox.emit(a, PING, body(PING, a, marker))
    await wait_for(lambda: len(target.got("jit")) == 20, 5, "all jittered deliveries")
    arrived = markers(target, "jit")
    assert sorted(arrived) == sent and arrived != sent  # all arrive, not in emission order


async def test_stop_cancels_pending_retries(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(retry_window=60.0)
    a = sandbox.numbers[0].id
    async with httpx.AsyncClient(base_url=sandbox.base_url) as api:
        hook = await create(api, sandbox, a, url=f"http://127.0.0.1:{free_port()}/x", events=[PING])
    sandbox.emit(a, PING, body(PING, a, "never"))
    await wait_for(lambda: sandbox.state.logs[hook["id"]], what="the first attempt")
    assert sandbox.dispatcher.pending == 1
    started = time.monotonic()
    await sandbox.stop()
    assert time.monotonic() - started < 2 and sandbox.dispatcher.pending == 0
    await sandbox.stop()  # idempotent

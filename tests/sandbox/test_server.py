"""`Sandbox` lifecycle: start errors, the scenario clock, the console helpers."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from pilot_desktop.sandbox.scenario import Emission
from pilot_desktop.sandbox.server import MAX_TICK_GAP_S, Sandbox
from tests.sandbox.conftest import SandboxFactory, Target, auth, wait_for


async def test_port_in_use_raises_oserror_and_leaves_nothing(make_sandbox: SandboxFactory) -> None:
    first = await make_sandbox()
    assert first.bound is not None
    second = Sandbox(port=first.bound[1])
    with pytest.raises(OSError):
        await second.start()
    await second.stop()  # safe after a failed start


async def test_clock_follows_time_scale_and_never_runs_back(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(time_scale=10.0)
    await wait_for(lambda: sandbox.scenario_time() > 1.0, 2, "scenario time to run 10x")
    before = sandbox.scenario_time()
    sandbox.time_scale = 0.0  # paused clock
    paused_at = sandbox.scenario_time()
    assert paused_at >= before
    await asyncio.sleep(0.05)
    assert sandbox.scenario_time() == paused_at
    sandbox.time_scale = 1.0
    await wait_for(lambda: sandbox.scenario_time() > paused_at, 1, "the clock to resume")


async def test_scenario_traffic_flows_and_number_state_is_live(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(time_scale=20.0)
    # Numbers are created CONNECTING and connect within seconds of scenario time.
    await wait_for(
        lambda: all(sandbox.scenario.number_state(n.id) != "CONNECTING" for n in sandbox.numbers),
        3,
        "numbers to connect",
    )
    assert sandbox.state.connected_at  # remembered from number.connected for primaryLink


def test_console_helpers() -> None:
    sandbox = Sandbox(seed=1, numbers=2)
    assert all(key.startswith("ps_live_") for key in sandbox.number_keys.values())
    assert len(set(sandbox.number_keys.values()) | {sandbox.tenant_key}) == 3
    with pytest.raises(KeyError):
        sandbox.webhook_secret("wh_unknown")
    assert [n.id for n in Sandbox(seed=1, numbers=2).numbers] == [n.id for n in sandbox.numbers]


async def test_a_long_stall_is_skipped_not_replayed(
    make_sandbox: SandboxFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = await make_sandbox(rate=50.0)
    loop = asyncio.get_running_loop()
    jump = [0.0]
    monkeypatch.setattr(sandbox, "_loop_time", lambda: loop.time() + jump[0])
    played: list[Emission] = []
    on_emission = sandbox._on_emission
    monkeypatch.setattr(sandbox, "_on_emission", lambda e: (played.append(e), on_emission(e)))
    await wait_for(lambda: sandbox.scenario_time() > 0.3, 2, "the clock to run")
    before = sandbox.scenario_time()
    jump[0] = 2 * 3600.0  # a suspended laptop, as the loop sees it
    # Between the jump and the next tick, the stall already counts for MAX_TICK_GAP_S at most.
    assert before < sandbox.scenario_time() <= before + MAX_TICK_GAP_S
    with caplog.at_level(logging.WARNING, logger="pilot_desktop.sandbox.server"):
        await wait_for(lambda: "skipped, not replayed" in caplog.text, 2, "the tick after the stall")
    after = sandbox.scenario_time()
    assert before + MAX_TICK_GAP_S - 0.5 < after < before + MAX_TICK_GAP_S + 1.0
    assert max(e.at for e in played) < after  # a few seconds of traffic, not two hours of it
    assert len(played) < 50 * (after + 1)
    await wait_for(lambda: sandbox.scenario_time() > after + 0.2, 2, "the clock to run on normally")
    assert caplog.text.count("skipped, not replayed") == 1


async def test_paused_start_loses_nothing_and_resumes_from_zero(
    make_sandbox: SandboxFactory, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's order: start paused, create webhooks through the API, then run."""
    sandbox = await make_sandbox(time_scale=0.0)
    ticks = [0]
    tick = sandbox._tick
    monkeypatch.setattr(sandbox, "_tick", lambda: (ticks.__setitem__(0, ticks[0] + 1), tick())[1])
    await wait_for(lambda: ticks[0] >= 3, 2, "the paused clock to tick")  # webhooks come late
    assert sandbox.scenario_time() == 0.0
    async with httpx.AsyncClient(base_url=sandbox.base_url) as api:
        for number in sandbox.numbers:
            headers = auth(sandbox.number_keys[number.id])
            r = await api.post(
                "/v1/webhooks", headers=headers, json={"url": target.url(number.id), "events": ["*"]}
            )
            assert r.status_code == 201, r.text
    assert not any(target.received.values())  # paused: nothing emitted, not even second 0
    sandbox.time_scale = 1.0
    assert sandbox.scenario_time() < 0.1  # resumes from zero, no jump

    def created_first() -> bool:
        return all(
            target.got(n.id) and target.got(n.id)[0].event == "number.created" for n in sandbox.numbers
        )

    await wait_for(created_first, 2, "number.created at every webhook")
    for number in sandbox.numbers:
        assert [r.json["data"]["numberId"] for r in target.got(number.id, "number.created")] == [number.id]
    # Not bunched: connecting takes seconds of scenario time (CONNECT_AFTER), so not yet.
    assert not any(target.got(n.id, "number.connected") for n in sandbox.numbers)

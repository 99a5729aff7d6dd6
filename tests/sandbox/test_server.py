"""`Sandbox` lifecycle: start errors, the scenario clock, the console helpers."""

from __future__ import annotations

import asyncio

import pytest

from pilot_desktop.sandbox.server import Sandbox
from tests.sandbox.conftest import SandboxFactory, wait_for


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

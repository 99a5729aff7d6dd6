"""`pilot-desktop numbers` as a script uses it: a real CLI process on a real store, and
`--refresh` polling a real sandbox platform on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pilot_desktop.core.events import classify
from pilot_desktop.core.signature import verify
from pilot_desktop.store.db import open_store
from pilot_desktop.store.records import IncomingEvent
from pilot_desktop.store.writer import Writer
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.test_cli_webhooks import add_tenant, ok, ok_json, pd


def store_events(data: Path, bodies: list[dict[str, object]]) -> None:
    async def run() -> None:
        w = Writer(open_store(data), asyncio.get_running_loop())
        w.start()
        for obj in bodies:
            raw = json.dumps(obj).encode()
            await w.submit(IncomingEvent(time.time(), None, [], raw, classify(obj), verify(raw, None, [])))
        await w.stop()

    asyncio.run(run())


def number_event(event: str, ago: float, **extra: str) -> dict[str, object]:
    when = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - ago))
    data = {"numberId": "num_cli", "phone": "+5511988887777", "displayName": "Padaria", "createdAt": when}
    return {"event": event, "data": {**data, **extra}}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_numbers_shows_state_uptime_flaps_and_history(data: Path) -> None:
    store_events(
        data,
        [
            number_event("number.connected", 7200),
            number_event("number.disconnected", 3600, error="Connection lost", errorCode="CONNECTION_LOST"),
            number_event("number.connected", 3540),
            number_event("number.disconnected", 1800, error="Logged out"),
        ],
    )
    (entry,) = ok_json(pd(data, "numbers", "--json", "--history", "10"))
    assert (entry["numberId"], entry["state"], entry["name"]) == ("num_cli", "CLOSED", "Padaria")
    assert entry["lastError"] == "Logged out"
    assert entry["flaps24h"] == 1  # the 60 s drop; the last one is an outage
    assert entry["uptime24h"] == pytest.approx((3600 + 1740) / 7200, abs=0.01)
    assert [(h["from"], h["to"]) for h in entry["history"]][:2] == [("OPEN", "CLOSED"), ("CLOSED", "OPEN")]

    text = ok(pd(data, "numbers", "--history", "2", env={"COLUMNS": "250"})).stdout
    assert "Padaria" in text and "Disconnected" in text and "Logged out" in text  # the window's words
    assert "Connection: Connected → Disconnected via webhook — Logged out" in text


def test_numbers_on_an_empty_folder_says_what_will_appear(data: Path) -> None:
    store_events(data, [])
    assert "No numbers known yet" in ok(pd(data, "numbers")).stdout


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


def test_refresh_polls_the_platform(data: Path, platform: SandboxThread) -> None:
    add_tenant(data, platform.sandbox)
    found = ok_json(pd(data, "numbers", "--refresh", "--json"))
    expected = platform.call(
        lambda: {n: platform.sandbox.scenario.number_state(n) for n in platform.sandbox.state.numbers}
    )
    assert {e["numberId"]: e["state"] for e in found} == expected
    assert all(e["phone"] and e["provider"] and e["lastPollAt"] for e in found)

"""`pilot-desktop rebuild` reproduces the incremental projection row for row.

The history is the sandbox's own: a deterministic `Scenario` (12 numbers, ~17 scenario
minutes at 40 webhooks/s) whose emissions are serialised and signed exactly as the
sandbox dispatcher does, then POSTed to a real `pilot-desktop serve` over loopback, so
every event takes the receiver's path (`classify`, `observe`, signature check) into the
real writer. The dispatcher itself is not used: it paces deliveries by the scenario clock
and four connections per webhook, and its injected duplicates and delays are random per
run; ~41,000 deliveries would take minutes and not be reproducible. Instead the
platform's delivery behaviour is reproduced on the emissions, deterministically: they are shuffled within
windows of 64 (no ordering promise: statuses overtake each other, replies arrive before
their original's `message.sent`), 4 % are delivered again one to three windows later (a
retry after a lost answer) and 16 connections post concurrently (so commit order is not
even the shuffled order). Whatever order the writer committed, `rebuild` replays the
events in id order, so the projections (`messages`, `message_steps`, and the number state
it recomputes too) must come out identical, every column, ids included.

A second phase posts the rest of the history while `rebuild` runs beside the busy serve:
it must finish (or give up with a message) without losing or corrupting anything.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from random import Random
from typing import Any

import aiohttp
import pytest

from pilot_desktop.core.signature import HEADER, sign
from pilot_desktop.sandbox.dispatcher import USER_AGENT
from pilot_desktop.sandbox.scenario import Scenario, make_numbers
from tests.integration.serving import Server, cli, open_ro

SEED = 20250602
NUMBERS = 12
RATE = 40.0  # webhooks per scenario second, all numbers
SCENARIO_S = 1020.0  # enough for > 10,000 outbound messages with this seed
WINDOW = 64
DUPLICATES = 0.04
CONNECTIONS = 16
SECRET = "rebuild-test-secret"
MIN_OUTBOUND = 10_000


def deliveries() -> list[bytes]:
    """The scenario's webhook bodies in a realistic delivery order, with retries."""
    scenario = Scenario(SEED, make_numbers(SEED, NUMBERS), rate=RATE)
    raws = [
        json.dumps(e.body, separators=(",", ":"), ensure_ascii=False).encode()  # as the dispatcher
        for e in scenario.next_batch(SCENARIO_S)
    ]
    rng = Random(SEED)
    windows = [raws[i : i + WINDOW] for i in range(0, len(raws), WINDOW)]
    for window in windows:
        rng.shuffle(window)
    retries: list[list[bytes]] = [[] for _ in windows]
    for i, window in enumerate(windows):
        for raw in window:
            if rng.random() < DUPLICATES:
                retries[min(i + rng.randint(1, 3), len(windows) - 1)].append(raw)
    out: list[bytes] = []
    for window, again in zip(windows, retries, strict=True):
        mixed = window + again
        rng.shuffle(mixed)
        out += mixed
    return out


async def _post_all(url: str, bodies: list[bytes]) -> dict[str, int]:
    """POST every body (16 at a time), retrying 503s like the platform; returns counts."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    counts = {"ok": 0, "duplicate": 0, "retried": 0}
    deadline = time.monotonic() + 180

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                HEADER: sign(body, SECRET),
            }
            while True:
                async with session.post(url, data=body, headers=headers) as resp:
                    answer = await resp.read()
                    if resp.status == 503 and time.monotonic() < deadline:
                        counts["retried"] += 1
                        await asyncio.sleep(0.2)
                        continue
                    assert resp.status == 200, f"{resp.status}: {answer[:300]!r}"
                    counts["ok"] += 1
                    counts["duplicate"] += json.loads(answer)["duplicate"]
                    break

    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONNECTIONS)))
    counts["finished_at"] = round(time.monotonic() * 1000)
    return counts


def post_all(url: str, bodies: list[bytes]) -> dict[str, int]:
    return asyncio.run(_post_all(url, bodies))


# The projections `rebuild` recomputes, each in a fixed order, every column.
PROJECTIONS = {
    "messages": "id",
    "message_steps": "event_id",
    "number_state": "number_id",
    "number_transitions": "id",
}
Dump = dict[str, list[tuple[Any, ...]]]


def dump(db: Path) -> Dump:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("BEGIN")  # one snapshot for all the tables
        tables = {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY {key}").fetchall() for t, key in PROJECTIONS.items()
        }
        conn.execute("COMMIT")
    finally:
        conn.close()
    return tables


def assert_same(before: Dump, after: Dump) -> None:
    for name in PROJECTIONS:
        a, b = before[name], after[name]
        assert len(a) == len(b), f"{name}: {len(a)} rows incrementally, {len(b)} after rebuild"
        for row_a, row_b in zip(a, b, strict=True):
            assert row_a == row_b, f"{name} differs first at\n incremental {row_a}\n rebuilt     {row_b}"


def rebuild(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("rebuild", "--data-dir", data_dir, *extra, timeout=120)


def history_facts(db: Path) -> dict[str, int]:
    conn = open_ro(db)
    try:
        one: Callable[[str], int] = lambda q: int(conn.execute(q).fetchone()[0])  # noqa: E731
        return {
            "outbound": one("SELECT count(*) FROM messages WHERE outbound = 1"),
            "messages": one("SELECT count(*) FROM messages"),
            "late_steps": one("SELECT count(*) FROM message_steps WHERE late = 1"),
            "redelivered_events": one("SELECT count(*) FROM events WHERE deliveries > 1"),
            "failed": one("SELECT count(*) FROM messages WHERE status = 'FAILED'"),
            "replies": one("SELECT count(*) FROM messages WHERE reply_to IS NOT NULL"),
            "deliveries": one("SELECT coalesce(sum(deliveries), 0) FROM events"),
            "events": one("SELECT count(*) FROM events"),
        }
    finally:
        conn.close()


def tamper(db: Path) -> None:
    """Damage the projection the way a rule bug would: a rebuild that does nothing fails."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        with conn:
            conn.execute("UPDATE messages SET status = 'QUEUED', late = late + 1 WHERE id % 97 = 0")
            conn.execute("DELETE FROM message_steps WHERE event_id % 89 = 0")
            conn.execute("DELETE FROM messages WHERE id = (SELECT max(id) FROM messages)")
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_rebuild_equals_the_incremental_projection(serve: Callable[..., Server], tmp_path: Path) -> None:
    bodies = deliveries()
    unique = len(set(bodies))
    cut = len(bodies) * 2 // 3
    server = serve("--signing-secret", SECRET, data_dir=tmp_path / "data")

    # Phase 1: most of the history, through the real receiver and writer.
    counts = post_all(server.url, bodies[:cut])
    before = dump(server.db)
    facts = history_facts(server.db)
    assert facts["deliveries"] == counts["ok"] == cut, (facts, counts)
    # Not vacuous: the history has what makes a projection order-sensitive.
    assert facts["outbound"] >= 5000, facts
    assert facts["late_steps"] >= 100, facts
    assert facts["redelivered_events"] >= 100 and counts["duplicate"] >= 100, (facts, counts)
    assert facts["failed"] >= 50, facts
    assert facts["replies"] >= 50, facts
    numbers = (len(before["number_state"]), len(before["number_transitions"]))
    assert numbers[0] == NUMBERS and numbers[1] >= 24, numbers

    res = rebuild(server.data_dir)  # serve still running (idle) on the same folder
    assert res.returncode == 0, res.stderr
    assert f"Rebuilt {facts['messages']:,} messages ({len(before['message_steps']):,} steps)" in res.stdout
    assert "rebuilding: 10,000 / " in res.stderr, res.stderr  # progress
    assert_same(before, dump(server.db))

    # Phase 2: the rest arrives while a rebuild runs beside the busy receiver.
    posted: dict[str, Any] = {}
    poster = threading.Thread(target=lambda: posted.update(post_all(server.url, bodies[cut:])))
    poster.start()
    while history_facts(server.db)["deliveries"] < cut + 2000:  # the receiver is busy writing now
        time.sleep(0.05)
    busy = rebuild(server.data_dir)
    rebuild_done = time.monotonic()
    poster.join(200)
    assert not poster.is_alive()
    assert busy.returncode == 0 or (busy.returncode == 1 and "busy" in busy.stderr), busy.stderr
    assert "Traceback" not in busy.stderr
    assert posted["finished_at"] > rebuild_done * 1000, "the deliveries ended before the rebuild: no overlap"

    facts = history_facts(server.db)
    assert posted["ok"] == len(bodies) - cut
    assert facts["deliveries"] == len(bodies) and facts["events"] == unique, facts  # nothing lost
    assert facts["outbound"] >= MIN_OUTBOUND, facts
    assert server.stop() == 0
    conn = sqlite3.connect(server.db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    incremental = dump(server.db)  # projected partly by that rebuild, partly by the writer
    tamper(server.db)
    res = rebuild(server.data_dir)
    assert res.returncode == 0, res.stderr
    assert_same(incremental, dump(server.db))

"""The Delivery tab's pure side (ui/panes/funnel/stats.py, no Qt), its figures read from
the store (store/funnel_queries.py) and the stuck deadlines in the settings
(services/deadlines.py)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.core.events import classify
from pilot_desktop.core.format import percent
from pilot_desktop.core.lifecycle import observe
from pilot_desktop.core.signature import verify
from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.deadlines import set_deadlines, stuck_rules
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.settings import Settings
from pilot_desktop.store.db import connect, open_store
from pilot_desktop.store.funnel_queries import snapshot
from pilot_desktop.store.read_models import Funnel, StuckRules
from pilot_desktop.store.records import IncomingEvent
from pilot_desktop.store.writer import Writer
from pilot_desktop.ui.panes.funnel import stats
from pilot_desktop.ui.panes.funnel.stats import (
    BUCKETS,
    axis_position,
    bucket_index,
    histogram,
    latencies,
    steps,
)

# -- buckets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "label"),
    [
        (0.0, "<1 s"),
        (0.999, "<1 s"),
        (1.0, "1–5 s"),  # a bucket holds its lower bound
        (4.999, "1–5 s"),
        (5.0, "5–30 s"),
        (29.9, "5–30 s"),
        (30.0, "30 s–2 min"),
        (119.0, "30 s–2 min"),
        (120.0, "2–10 min"),
        (599.0, "2–10 min"),
        (600.0, "10 min–1 h"),
        (3599.0, "10 min–1 h"),
        (3600.0, "> 1 h"),
        (40 * 86400.0, "> 1 h"),
    ],
)
def test_each_latency_lands_in_its_log_bucket(seconds: float, label: str) -> None:
    assert BUCKETS[bucket_index(seconds)].label == label


def test_histogram_counts_every_value_once() -> None:
    values = [0.2, 0.9, 1.0, 3.0, 12.0, 45.0, 45.0, 300.0, 1200.0, 7200.0, 90000.0]
    assert histogram(values) == [2, 2, 1, 2, 1, 1, 2]
    assert histogram([]) == [0] * len(BUCKETS)


def test_marks_sit_inside_their_bucket_and_keep_the_order() -> None:
    samples = [0.0, 0.5, 1.0, 2.0, 4.9, 5.0, 10.0, 60.0, 200.0, 900.0, 3600.0, 20000.0, 10**7]
    positions = [axis_position(s) for s in samples]
    assert positions == sorted(positions)
    for s, x in zip(samples, positions, strict=True):
        assert int(x) == bucket_index(s)
    # Log scale inside a bucket: 5**0.25 s is a quarter of the way through 1–5 s,
    # 30 * 4**0.75 s three quarters through 30 s–2 min.
    assert axis_position(5**0.25) == pytest.approx(1.25)
    assert axis_position(30 * 4**0.75) == pytest.approx(3.75)
    assert axis_position(0.25) == pytest.approx(0.25)  # the first bucket is linear
    assert axis_position(10**7) < len(BUCKETS)  # past a day, the mark stays at the right end


# -- rates and percentiles -------------------------------------------------------------------


def make_funnel(**kw: Any) -> Funnel:
    base: dict[str, Any] = {
        "total": 0,
        "sent": 0,
        "delivered": 0,
        "read": 0,
        "failed": 0,
        "to_delivered": [],
        "to_read": [],
    }
    return Funnel(**{**base, **kw})


def test_steps_are_shares_of_all_the_periods_outbound_messages() -> None:
    f = make_funnel(total=8, sent=7, delivered=6, read=3, failed=1)
    got = [(s.label, s.count, percent(s.rate), s.failure) for s in steps(f)]
    assert got == [
        ("Sent", 7, "87.5%", False),
        ("Delivered", 6, "75.0%", False),
        ("Read", 3, "37.5%", False),
        ("Failed", 1, "12.5%", True),
    ]


def test_no_messages_gives_no_rate_rather_than_zero_percent() -> None:
    assert [percent(s.rate) for s in steps(make_funnel())] == ["–"] * 4


def test_median_and_p90_are_nearest_rank() -> None:
    # ten latencies: the median is the 5th smallest, p90 the 9th (not interpolated)
    values = [float(v) for v in (9, 1, 8, 2, 7, 3, 6, 4, 5, 100)]
    delivered, read = latencies(make_funnel(total=10, to_delivered=values, to_read=[40.0]))
    assert (delivered.median, delivered.p90, delivered.measured) == (5.0, 9.0, 10)
    assert delivered.counts == histogram(values)
    assert (read.median, read.p90) == (40.0, 40.0)
    empty, _ = latencies(make_funnel())
    assert (empty.median, empty.p90, empty.measured) == (None, None, 0)


# -- settings --------------------------------------------------------------------------------


def test_default_deadlines_are_15_and_10_minutes() -> None:
    s = Settings()
    assert (s.messages.stuck_queued_minutes, s.messages.stuck_sent_minutes) == (15, 10)
    assert stuck_rules(s) == StuckRules(queued_after=900.0, sent_after=600.0)


def test_deadlines_round_trip_through_the_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    config = Config.open(resolve(tmp_path))
    changed = set_deadlines(config.settings, 30, 120)
    assert changed == config.settings.value
    again = Config.open(resolve(tmp_path)).settings.value
    assert stuck_rules(again) == StuckRules(queued_after=1800.0, sent_after=7200.0)
    assert json.loads(path.read_text())["messages"] == {"stuck_queued_minutes": 30, "stuck_sent_minutes": 120}


def test_a_settings_file_without_deadlines_gets_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"receiver": {"port": 0}}))
    assert stuck_rules(Config.open(resolve(tmp_path)).settings.value) == StuckRules()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stuck_sent_minutes", 0),
        ("stuck_sent_minutes", 10_081),
        ("stuck_queued_minutes", -5),
        ("stuck_queued_minutes", "soon"),
        ("stuck_queued_minutes", 2.5),
    ],
)
def test_a_bad_deadline_in_the_file_names_the_field(tmp_path: Path, field: str, value: Any) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"messages": {field: value}}))
    before = path.read_bytes()
    with pytest.raises(SettingsError) as info:
        Config.open(resolve(tmp_path))
    assert f"messages.{field}" in str(info.value)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def test_an_unknown_deadline_key_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"messages": {"stuck_delivered_minutes": 5}}))
    with pytest.raises(SettingsError, match=r"messages\.stuck_delivered_minutes"):
        Config.open(resolve(tmp_path))


def test_changing_deadlines_is_all_or_nothing_and_names_the_field(tmp_path: Path) -> None:
    config = Config.open(resolve(tmp_path))
    before = (tmp_path / "settings.json").read_bytes()
    with pytest.raises(SettingsError, match=r"messages\.stuck_sent_minutes") as info:
        set_deadlines(config.settings, 30, 20_000)
    assert "stuck_queued_minutes" not in str(info.value)  # only the bad one is named
    m = config.settings.value.messages
    assert (m.stuck_queued_minutes, m.stuck_sent_minutes) == (15, 10)
    assert (tmp_path / "settings.json").read_bytes() == before  # nothing written
    set_deadlines(config.settings, 1, 10_080)  # both bounds are allowed
    assert stuck_rules(config.settings.value) == StuckRules(queued_after=60.0, sent_after=604_800.0)


# -- the snapshot read from a real store -----------------------------------------------------

NOW = time.time()


def iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body(event: str, msg: str, number: str, at: float) -> dict[str, Any]:
    return {
        "event": event,
        "data": {
            "numberId": number,
            "id": msg,
            "messageId": f"wamid.{msg}",
            "fromMe": event != "message.received",
            "createdAt": iso(at),
            "to": "+5511912345678",
            "from": "+5511900000001",
        },
    }


def feed(folder: Path, bodies: list[dict[str, Any]]) -> Path:
    path = open_store(folder)

    async def run() -> None:
        w = Writer(path, asyncio.get_running_loop())
        w.start()
        try:
            for obj in bodies:
                raw = json.dumps(obj).encode()
                await w.submit(
                    IncomingEvent(
                        received_at=time.time(),
                        route=None,
                        headers=[],
                        body=raw,
                        classified=classify(obj),
                        verdict=verify(raw, None, []),
                        observation=observe(obj),
                    )
                )
        finally:
            await w.stop()

    asyncio.run(run())
    return path


def test_snapshot_per_number_and_all(tmp_path: Path) -> None:
    t = NOW - 600
    path = feed(
        tmp_path,
        [
            body("message.sent", "a1", "num_A", t),
            body("message.delivered", "a1", "num_A", t + 2),
            body("message.read", "a1", "num_A", t + 62),
            body("message.sent", "a2", "num_A", t),
            body("message.delivered", "a2", "num_A", t + 10),
            body("message.sent", "a3", "num_A", t),
            body("message.failed", "a3", "num_A", t + 700),
            body("message.sent", "b1", "num_B", t),
            body("message.sent", "old", "num_B", NOW - 3 * 86400),  # outside 24 h
            body("message.received", "in1", "num_C", t),  # inbound: not in the funnel
        ],
    )
    conn = connect(path, readonly=True)
    try:
        day = snapshot(conn, None, stats.DAY, NOW)
        a = snapshot(conn, "num_A", stats.HOUR, NOW)
        week = snapshot(conn, "num_B", 7 * stats.DAY, NOW)
    finally:
        conn.close()
    assert day.numbers == ["num_A", "num_B", "num_C"]
    f = day.funnel
    assert (f.total, f.sent, f.delivered, f.read, f.failed) == (4, 4, 2, 1, 1)
    assert [(r.number, r.total, r.sent, r.delivered, r.read, r.failed) for r in day.per_number] == [
        ("num_A", 3, 3, 2 / 3, 1 / 3, 1 / 3),
        ("num_B", 1, 1, 0.0, 0.0, 0.0),  # num_C sent nothing: no row
    ]
    assert day.per_number[0].median_delivery == 2.0
    assert (a.funnel.total, sorted(a.funnel.to_delivered), a.funnel.to_read) == (3, [2.0, 10.0], [60.0])
    assert a.per_number == []  # the table is for "All numbers" only
    assert week.funnel.total == 2

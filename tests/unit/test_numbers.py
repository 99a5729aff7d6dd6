"""Number connection state: webhooks and polls interleaved, out of order and repeated, into
a real store through the real writer; and the notification rules on a controllable clock."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilot_desktop.core.events import classify
from pilot_desktop.core.lifecycle import observe
from pilot_desktop.core.notify import Notifier, NotifyRules
from pilot_desktop.core.numbers import (
    CLOSED,
    OPEN,
    NumberState,
    Transition,
    flaps,
    overall,
    strip,
    uptime,
)
from pilot_desktop.core.signature import verify
from pilot_desktop.store import number_queries as nq
from pilot_desktop.store.db import connect, open_store
from pilot_desktop.store.number_projection import rebuild_numbers
from pilot_desktop.store.records import IncomingEvent, NumberPoll
from pilot_desktop.store.writer import Writer

NUM = "num_A"
T0 = 1_780_000_000.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hook(event: str, at: float, number: str = NUM, **extra: Any) -> dict[str, Any]:
    data = {"numberId": number, "phone": "+5511900000001", "displayName": "Loja Centro", "createdAt": iso(at)}
    return {"event": event, "data": {**data, **extra}}


def status_poll(state: str, at: float, number: str = NUM, **extra: Any) -> NumberPoll:
    answer = {"id": number, "state": state, "stale": False, "checkedAt": iso(at), **extra}
    return NumberPoll(polled_at=at + 0.5, answers=[(number, "status", answer)])


Item = dict[str, Any] | NumberPoll


class Store:
    def __init__(self, folder: Path) -> None:
        self.path = open_store(folder)
        self.transitions: list[Transition] = []

    def send(self, items: list[Item]) -> None:
        async def run() -> None:
            w = Writer(self.path, asyncio.get_running_loop())
            w.subscribe(lambda ch: self.transitions.extend(ch.transitions))
            w.start()
            try:
                for it in items:
                    if isinstance(it, NumberPoll):  # polled now: arrival order is list order
                        await w.submit(NumberPoll(time.time(), it.answers))
                        continue
                    body = json.dumps(it).encode()
                    await w.submit(
                        IncomingEvent(
                            received_at=time.time(),
                            route=None,
                            headers=[],
                            body=body,
                            classified=classify(it),
                            verdict=verify(body, None, []),
                            observation=observe(it),
                        )
                    )
            finally:
                await w.stop()
                await asyncio.sleep(0)

        asyncio.run(run())

    def state(self, number: str = NUM) -> NumberState:
        with connect(self.path, readonly=True) as c:
            found = [s for s in nq.states(c) if s.number_id == number]
        assert found, f"no state for {number}"
        return found[0]

    def history(self, number: str = NUM) -> list[nq.TransitionRow]:
        with connect(self.path, readonly=True) as c:
            return nq.transitions(c, number)

    def dump(self) -> list[Any]:
        with sqlite3.connect(self.path) as c:
            return [
                c.execute("SELECT * FROM number_state ORDER BY number_id").fetchall(),
                c.execute("SELECT * FROM number_transitions ORDER BY id").fetchall(),
            ]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


# -- the state machine -------------------------------------------------------------------------

# (source, state, seconds after T0); distinct times, so "the newest" is well defined.
HISTORY = [
    ("webhook", "number.created", 0),
    ("webhook", "number.connected", 10),
    ("poll", "OPEN", 20),
    ("webhook", "number.disconnected", 30),
    ("poll", "CLOSE", 40),  # the .md spelling (api §4.4)
    ("webhook", "number.connected", 50),
    ("webhook", "number.health_degraded", 55),
    ("poll", "CLOSED", 60),  # a drop the webhooks never told (brief blips are not reported)
    ("webhook", "number.recovered", 65),
]


def _item(i: int) -> Item:
    source, what, at = HISTORY[i]
    return status_poll(what, T0 + at) if source == "poll" else hook(what, T0 + at)


def _expected(chosen: list[int]) -> tuple[str, str]:
    conn = [(HISTORY[i][2], HISTORY[i][1]) for i in chosen if not HISTORY[i][1].startswith("number.health")]
    conn = [(t, w) for t, w in conn if w != "number.recovered"]
    health = [
        (HISTORY[i][2], HISTORY[i][1])
        for i in chosen
        if HISTORY[i][1] in ("number.health_degraded", "number.recovered")
    ]
    names = {
        "number.created": "CONNECTING",
        "number.connected": OPEN,
        "number.disconnected": CLOSED,
        "CLOSE": CLOSED,
    }
    c = names.get(max(conn)[1], max(conn)[1]) if conn else "UNKNOWN"
    h = (
        {"number.health_degraded": "degraded", "number.recovered": "healthy"}[max(health)[1]]
        if health
        else "healthy"
    )
    return c, h


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    chosen = draw(st.lists(st.integers(0, len(HISTORY) - 1), min_size=1, unique=True))
    arrivals = chosen + draw(st.lists(st.sampled_from(chosen), max_size=4))
    return chosen, draw(st.permutations(arrivals))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(interleavings())
def test_webhooks_and_polls_in_any_order_give_the_newest_state(case: tuple[list[int], list[int]]) -> None:
    chosen, arrivals = case
    with tempfile.TemporaryDirectory() as d:
        s = Store(Path(d))
        s.send([_item(i) for i in arrivals])
        state = s.state()
        assert (state.connection, state.health) == _expected(chosen)
        # What was applied moved forward in time, whatever the arrival order (ids are
        # arrival order); what came too late is kept, flagged.
        applied = [
            t.at for t in sorted(s.history(), key=lambda t: t.id) if not t.late and t.kind == "connection"
        ]
        assert applied == sorted(applied)
        # Repeats never make a transition of their own.
        assert len({(t.kind, t.after, t.at) for t in s.history()}) == len(s.history())


def test_a_late_webhook_is_recorded_but_never_applied(store: Store) -> None:
    store.send([hook("number.connected", T0 + 100), hook("number.disconnected", T0 + 50, error="timeout")])
    assert store.state().connection == OPEN
    late = [t for t in store.history() if t.late]
    assert [(t.after, t.at, t.error) for t in late] == [(CLOSED, T0 + 50, "timeout")]
    assert store.transitions[-1].late  # the notifier gets it, and ignores it


def test_a_poll_newer_than_the_last_webhook_wins(store: Store) -> None:
    store.send([hook("number.connected", T0), status_poll("CLOSED", T0 + 60)])
    state = store.state()
    assert (state.connection, state.connection_source, state.connection_at) == (CLOSED, "poll", T0 + 60)


def test_a_stale_reading_only_fills_in_the_unknown(store: Store) -> None:
    stale = {"id": NUM, "state": "CLOSED", "stale": True, "lastKnownAt": iso(T0 + 500)}
    store.send([NumberPoll(T0 + 600, [(NUM, "status", stale)])])
    assert store.state().connection == CLOSED  # better than nothing
    store.send([hook("number.connected", T0 + 800)])
    assert store.state().connection == OPEN
    # The provider did not answer; the platform remembers CLOSED as of T0 + 900, after the
    # webhook. A remembered reading never overrides a live one: OPEN stays.
    later = {**stale, "lastKnownAt": iso(T0 + 900)}
    store.send([NumberPoll(T0 + 1000, [(NUM, "status", later)])])
    assert store.state().connection == OPEN


def test_the_list_fills_names_and_the_billing_block(store: Store) -> None:
    item = {"id": NUM, "number": "5511900000001", "name": "Loja Centro", "provider": "PILOT_STATUS",
            "state": "OPEN", "extraChargeUnpaidSince": None}  # fmt: skip
    store.send([NumberPoll(T0, [(NUM, "list", item)])])
    store.send([NumberPoll(T0 + 60, [(NUM, "list", {**item, "extraChargeUnpaidSince": iso(T0 + 30)})])])
    with connect(store.path, readonly=True) as c:
        (summary,) = nq.summaries(c, T0 + 120)
    assert summary.state.phone == "+5511900000001" and summary.provider == "PILOT_STATUS"
    assert summary.billing_blocked_since == iso(T0 + 30)
    assert [(t.kind, t.after) for t in store.history() if t.kind == "billing"] == [("billing", "blocked")]


def test_rebuild_gives_the_incremental_result(store: Store) -> None:
    rng = random.Random(7)
    items: list[Item] = []
    for n in range(200):
        i = rng.randrange(len(HISTORY))
        source, what, at = HISTORY[i]
        number = f"num_{n % 5}"
        t = T0 + at + n * 100
        items.append(status_poll(what, t, number) if source == "poll" else hook(what, t, number))
    rng.shuffle(items)
    store.send(items)
    before = store.dump()
    with sqlite3.connect(store.path, isolation_level=None) as c:
        c.execute("BEGIN IMMEDIATE")
        rebuild_numbers(c)
        c.execute("COMMIT")
    after = store.dump()
    assert before[1] and any(row[9] for row in before[1])  # transitions, some late
    assert after == before


# -- uptime, flaps, the strip, the tray colour -------------------------------------------------


def test_uptime_counts_only_the_known_time() -> None:
    history = [(100.0, OPEN), (160.0, CLOSED), (190.0, OPEN)]
    assert uptime(history, 0, 220) == pytest.approx(90 / 120)
    assert uptime([], 0, 100) is None
    assert uptime([(0.0, OPEN)], 0, 100) == 1.0


def test_a_flap_is_a_short_drop() -> None:
    history = [(0.0, OPEN), (100.0, CLOSED), (160.0, OPEN), (1000.0, CLOSED), (3000.0, OPEN)]
    assert flaps(history, 0, 4000) == 1  # the second drop lasted over 10 min: an outage


def test_the_strip_shows_the_worst_state_of_each_slot() -> None:
    history = [(0.0, OPEN), (35.0, CLOSED), (36.0, OPEN)]
    assert strip(history, 0, 100, slots=4) == [OPEN, CLOSED, OPEN, OPEN]


def test_the_tray_colour_follows_the_worst_number() -> None:
    up = NumberState("a", connection=OPEN, name="A")
    down = NumberState("b", connection=CLOSED, name="Loja B")
    sick = NumberState("c", connection=OPEN, health="degraded")
    assert overall([up])[0] == "ok"
    assert overall([up, sick])[0] == "warn"
    level, text = overall([up, sick, down])
    assert level == "down" and "Loja B" in text and "2 of 3" in text
    assert overall([])[0] == "none"


# -- notifications, on a controllable clock ----------------------------------------------------


def tr(after: str, before: str = OPEN, kind: str = "connection", number: str = NUM, **kw: Any) -> Transition:
    return Transition(
        number, kind, before, after, 0.0, "webhook", "number.x", late=kw.pop("late", False), **kw
    )


class Clock:
    def __init__(self, notifier: Notifier) -> None:
        self.now = T0
        self.n = notifier
        self.shown: list[tuple[float, str, str]] = []

    def feed(self, t: Transition) -> None:
        self.n.feed(t, self.now)

    def run(self, seconds: float, step: float = 1.0) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += step
            self.shown += [(self.now, x.number_id, x.kind) for x in self.n.due(self.now)]


def test_a_blip_shorter_than_the_delay_is_never_told() -> None:
    c = Clock(Notifier(NotifyRules(disconnect_delay=60)))
    c.feed(tr(CLOSED))
    c.run(30)
    c.feed(tr(OPEN, CLOSED))
    c.run(600)
    assert c.shown == []


def test_a_disconnect_still_down_after_the_delay_is_told_once_then_its_reconnect() -> None:
    c = Clock(Notifier(NotifyRules(disconnect_delay=60)))
    c.feed(tr(CLOSED, error="Connection lost"))
    c.run(59)
    assert c.shown == []
    c.run(300)
    assert [k for _, _, k in c.shown] == ["disconnected"]
    c.feed(tr(OPEN, CLOSED))
    c.run(5)
    assert [k for _, _, k in c.shown] == ["disconnected", "reconnected"]


def test_flaps_fold_into_one_message_then_stable_again() -> None:
    c = Clock(Notifier(NotifyRules(disconnect_delay=60, flap_window=600, flap_threshold=3)))
    for _ in range(6):  # six 20 s drops, a minute apart
        c.feed(tr(CLOSED))
        c.run(20)
        c.feed(tr(OPEN, CLOSED))
        c.run(40)
    c.run(1200)
    kinds = [k for _, _, k in c.shown]
    assert kinds == ["flapping", "stable"]


def test_quiet_hours_and_mute_hold_messages_back() -> None:
    now = datetime.fromtimestamp(T0)
    minute = now.hour * 60 + now.minute
    quiet = NotifyRules(disconnect_delay=10, quiet_start=minute, quiet_end=(minute + 120) % 1440)
    c = Clock(Notifier(quiet))
    c.feed(tr(CLOSED))
    c.run(60)
    assert c.shown == [] and c.n.suppressed == 1
    muted = Clock(Notifier(NotifyRules(disconnect_delay=10, muted=frozenset({NUM}))))
    muted.feed(tr(CLOSED))
    muted.feed(tr(CLOSED, number="num_B"))
    muted.run(60)
    assert [(n, k) for _, n, k in muted.shown] == [("num_B", "disconnected")]


def test_health_changes_are_told_and_late_transitions_never() -> None:
    c = Clock(Notifier(NotifyRules()))
    c.feed(tr("blocked", "healthy", kind="health", error="Too many reports"))
    c.feed(tr(CLOSED, late=True))
    c.run(300)
    assert [k for _, _, k in c.shown] == ["health"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(1, 400), st.booleans()), min_size=1, max_size=60))
def test_never_more_than_one_message_per_number_per_debounce_window(
    steps: list[tuple[int, float, bool]],
) -> None:
    rules = NotifyRules(disconnect_delay=60)
    c = Clock(Notifier(rules))
    down: set[str] = set()
    sick: set[str] = set()
    for number_index, wait, health in steps:
        number = f"num_{number_index}"
        if health:  # health changes interleave with the connection ones
            after = "healthy" if number in sick else "degraded"
            c.feed(tr(after, "degraded" if number in sick else "healthy", kind="health", number=number))
            sick ^= {number}
        else:
            c.feed(tr(OPEN, CLOSED, number=number) if number in down else tr(CLOSED, number=number))
            down ^= {number}
        c.run(wait, step=5)
    c.run(3000, step=5)
    for number in {n for _, n, _ in c.shown}:
        times = [t for t, n, _ in c.shown if n == number]
        assert all(b - a >= rules.disconnect_delay for a, b in itertools.pairwise(times)), c.shown

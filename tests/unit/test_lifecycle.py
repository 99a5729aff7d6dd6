"""Message lifecycle: what an operator trusts on a timeline, whatever order webhooks come in.

Every check goes through the real writer into a real SQLite file (`Feed`), so the dedupe
key, the projection and the read queries are all the production ones.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilot_desktop.core.events import classify
from pilot_desktop.core.format import parse_time
from pilot_desktop.core.lifecycle import RANK, error_meaning, observe
from pilot_desktop.core.signature import verify
from pilot_desktop.store import message_queries as mq
from pilot_desktop.store import read_models
from pilot_desktop.store.db import connect, open_store
from pilot_desktop.store.records import IncomingEvent
from pilot_desktop.store.timelines import timeline
from pilot_desktop.store.writer import Writer

NUMBER = "num_life"
T0 = parse_time("2026-03-01T12:00:00.000Z") or 0.0


def iso(offset_s: float) -> str:
    from datetime import UTC, datetime

    return (
        datetime.fromtimestamp(T0 + offset_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def status(
    event: str,
    msg: str = "msg_1",
    at: float = 0.0,
    *,
    provider: str | None = "wamid.1",
    corr: str | None = "corr_1",
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "numberId": NUMBER,
        "id": msg,
        "messageId": provider,
        "type": "text",
        "fromMe": True,
        "createdAt": iso(at),
        "to": "+5511912345678",
        "content": "Seu pedido saiu para entrega",
    }
    if corr is not None:
        data["correlationId"] = corr
    data.update(extra)
    return {"event": event, "data": data}


def reply(quoted: str | None, msg: str = "in_1", at: float = 30.0, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "numberId": NUMBER,
        "id": msg,
        "messageId": f"wamid.in.{msg}",
        "type": "text",
        "fromMe": False,
        "createdAt": iso(at),
        "from": "+5511912345678",
        "to": "+5511900000001",
        "content": "Obrigado!",
        "quotedMessageId": quoted,
    }
    data.update(extra)
    return {"event": "message.reply", "data": data}


T = TypeVar("T")


class Feed:
    """A temporary store fed through the real writer, one batch per call."""

    def __init__(self, folder: Path) -> None:
        self.path = open_store(folder)
        self.changed: list[set[int]] = []  # Changes.messages of each committed batch

    def send(self, bodies: list[dict[str, Any]], after: Callable[[], T] | None = None) -> list[T]:
        """One writer for the whole list (a writer is a process: one per body made the
        property tests slow enough to time out on a busy machine); `after` is called once
        each body is committed, its results returned."""
        results: list[T] = []

        async def run() -> None:
            w = Writer(self.path, asyncio.get_running_loop())
            w.subscribe(lambda ch: self.changed.append(set(ch.messages)))
            w.start()
            try:
                for obj in bodies:  # one at a time: arrival order is the list order
                    body = json.dumps(obj).encode()
                    item = IncomingEvent(
                        received_at=time.time(),
                        route=None,
                        headers=[],
                        body=body,
                        classified=classify(obj),
                        verdict=verify(body, None, []),
                        observation=observe(obj),
                    )
                    await w.submit(item)
                    if after is not None:
                        results.append(after())
            finally:
                await w.stop()

        asyncio.run(run())
        return results

    def conn(self) -> sqlite3.Connection:
        return connect(self.path, readonly=True)

    def message(self, text: str) -> read_models.MessageRow:
        with self.conn() as c:
            found = mq.find_message(c, text)
            assert found is not None, f"no message for {text}"
            row = mq.get_message(c, found)
            assert row is not None
            return row

    def timeline(self, text: str, now: float | None = None) -> read_models.Timeline:
        with self.conn() as c:
            found = mq.find_message(c, text)
            assert found is not None
            t = timeline(c, found, T0 + 60 if now is None else now)
            assert t is not None
            return t

    def count(self) -> int:
        with self.conn() as c:
            return int(c.execute("SELECT count(*) FROM messages").fetchone()[0])


@pytest.fixture
def feed(tmp_path: Path) -> Feed:
    return Feed(tmp_path)


# -- properties ------------------------------------------------------------------------------

# One message's possible deliveries: each (event, seconds after the send). Two delivered
# confirmations (multi-device) are distinct events with distinct times.
STEPS = [
    ("message.sent", 0.0),
    ("message.delivered", 2.0),
    ("message.delivered", 2.5),
    ("message.read", 40.0),
    ("message.failed", 600.0),
    ("message.failed", 900.0),  # a second failure (rare): the earliest must keep the reason
]
CODES = {600.0: "DELIVERED_NOT_CONFIRMED", 900.0: "EXPIRED_AFTER_ATTEMPTS"}


def _bodies(chosen: list[int]) -> list[dict[str, Any]]:
    out = []
    for i in chosen:
        event, at = STEPS[i]
        extra = {"error": f"failed at {at}", "errorCode": CODES[at]} if event == "message.failed" else {}
        out.append(status(event, at=at, **extra))
    return out


def _outcome(feed: Feed) -> tuple[Any, ...]:
    row = feed.message("msg_1")
    t = feed.timeline("msg_1")
    steps = sorted((s.event, s.event_time) for s in t.steps)
    return (
        row.status,
        row.sent_at,
        row.delivered_at,
        row.read_at,
        row.failed_at,
        row.error,
        row.error_code,
        row.provider_id,
        steps,
        feed.count(),
    )


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """A non-empty set of steps, and an arrival order of them with some retried."""
    chosen = draw(st.lists(st.integers(0, len(STEPS) - 1), min_size=1, max_size=len(STEPS), unique=True))
    arrivals = chosen + draw(st.lists(st.sampled_from(chosen), max_size=4))
    return sorted(chosen), draw(st.permutations(arrivals))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_any_order_and_any_retries_give_the_same_message(case: tuple[list[int], list[int]]) -> None:
    chosen, arrivals = case
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        in_order, shuffled = Feed(Path(a)), Feed(Path(b))
        in_order.send(_bodies(chosen))
        shuffled.send(_bodies(arrivals))
        assert _outcome(shuffled) == _outcome(in_order)
        t = shuffled.timeline("msg_1")
        # Every delivery is counted on its step, none is lost or doubled.
        assert sum(s.deliveries for s in t.steps) == len(arrivals)
        assert t.duplicates == len(arrivals) - len(chosen)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_failed_and_read_are_never_downgraded(case: tuple[list[int], list[int]]) -> None:
    _, arrivals = case
    with tempfile.TemporaryDirectory() as d:
        feed = Feed(Path(d))
        seen = feed.send(_bodies(arrivals), after=lambda: feed.message("msg_1").status)
        for before, after in itertools.pairwise(seen):
            assert RANK[after] >= RANK[before], seen
            if before == "FAILED":
                assert after == "FAILED", seen
            if before == "READ":
                # Only a failure (terminal, api §1.6) outranks READ.
                assert after in ("READ", "FAILED"), seen
        # A step is late exactly when a step it should precede arrived before it: a later
        # status of the happy path, or a failure (terminal).
        expected: dict[str, bool] = {}
        arrived: list[str] = []
        for body in _bodies(arrivals):
            key, st_ = body["data"]["createdAt"], body["event"].split(".")[1].upper()
            if key not in expected:
                expected[key] = any(RANK[a] > RANK[st_] or (a == "FAILED" != st_) for a in arrived)
                arrived.append(st_)
        got = {s.event_time: s.late for s in feed.timeline("msg_1").steps}
        assert got == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(["sent", "reply", "delivered", "other"]))
def test_a_reply_links_to_its_message_whichever_arrives_first(order: list[str]) -> None:
    bodies = {
        "sent": status("message.sent", provider="wamid.ORIG"),
        "delivered": status("message.delivered", at=2, provider="wamid.ORIG"),
        "reply": reply("wamid.ORIG"),
        "other": status("message.sent", msg="msg_2", provider="wamid.OTHER", corr="corr_2"),
    }
    with tempfile.TemporaryDirectory() as d:
        feed = Feed(Path(d))
        feed.send([bodies[k] for k in order])
        original, answer, other = feed.message("msg_1"), feed.message("in_1"), feed.message("msg_2")
        assert answer.reply_to == original.id
        assert original.replies == 1 and other.replies == 0
        t = feed.timeline("msg_1")
        assert [r.msg_id for r in t.replies] == ["in_1"]
        assert feed.timeline("in_1").reply_to is not None


# -- documented failure paths (api §1.6, §1.7) -------------------------------------------------


def test_a_failure_before_the_provider_gave_an_id(feed: Feed) -> None:
    feed.send(
        [status("message.failed", provider=None, error="Número inválido", errorCode="INVALID_DESTINATION")]
    )
    row = feed.message("msg_1")
    assert (row.status, row.provider_id, row.error_code) == ("FAILED", None, "INVALID_DESTINATION")
    t = feed.timeline("corr_1")  # found by its correlationId too
    assert t.error_documented and "E.164" in (t.error_meaning or "")
    assert t.pending == []  # a failed message waits for nothing


def test_failed_after_sent_because_delivery_was_not_confirmed(feed: Feed) -> None:
    feed.send(
        [
            status("message.sent"),
            status("message.failed", at=3600, error="not confirmed", errorCode="DELIVERED_NOT_CONFIRMED"),
        ]
    )
    t = feed.timeline("wamid.1")
    assert t.message.status == "FAILED"
    assert t.message.sent_at == T0 and t.message.failed_at == T0 + 3600
    assert [s.status for s in t.steps] == ["SENT", "FAILED"]
    assert "deadline" in (t.error_meaning or "")
    assert any("was sent" in h for h in t.hints)


def test_a_delivery_after_a_failure_is_kept_but_the_status_stays_failed(feed: Feed) -> None:
    feed.send(
        [
            status("message.sent"),
            status("message.failed", at=60, error="timeout", errorCode="DELIVERY_TIMEOUT"),
            status("message.delivered", at=90),  # multi-device: confirmation after failure
        ]
    )
    t = feed.timeline("msg_1")
    assert t.message.status == "FAILED"
    assert [(s.status, s.late) for s in t.steps] == [("SENT", False), ("FAILED", False), ("DELIVERED", True)]
    assert any("multi-device" in h for h in t.hints)


def test_no_read_when_read_receipts_are_off(feed: Feed) -> None:
    feed.send([status("message.sent"), status("message.delivered", at=5)])
    soon = feed.timeline("msg_1", now=T0 + 5 + 600)
    assert soon.pending == ["READ"] and soon.hints == []
    later = feed.timeline("msg_1", now=T0 + 5 + read_models.READ_RECEIPTS_HINT_AFTER + 1)
    assert later.pending == ["READ"]
    assert any("read receipts may be off" in h for h in later.hints)
    assert later.message.to_delivered == 5.0 and later.message.to_read is None


def test_an_unknown_error_code_needs_review(feed: Feed) -> None:
    feed.send([status("message.failed", error="Rate limited by Meta", errorCode="META_RATE_LIMITED")])
    t = feed.timeline("msg_1")
    assert not t.error_documented and "needs review" in (t.error_meaning or "")
    assert t.message.error == "Rate limited by Meta"
    assert error_meaning(None)[1] and error_meaning("WHATSAPP_NOT_EXIST") == (
        "The destination is not registered on WhatsApp.",
        True,
    )


def test_a_late_status_is_flagged_and_never_downgrades(feed: Feed) -> None:
    feed.send([status("message.read", at=40), status("message.delivered", at=2), status("message.sent")])
    t = feed.timeline("msg_1")
    assert t.message.status == "READ"
    assert [(s.status, s.late) for s in t.steps] == [("SENT", True), ("DELIVERED", True), ("READ", False)]
    assert (t.message.late, t.message.steps) == (2, 3)
    assert t.message.to_delivered == 2.0 and t.message.to_read == 38.0


def test_ids_correlate_across_id_correlation_and_provider(feed: Feed) -> None:
    pre_v3 = status("message.delivered", at=2)
    pre_v3["data"]["internalMessageId"] = pre_v3["data"].pop("id")  # conflict C2
    feed.send([status("message.sent", corr="corr_X", provider="wamid.X"), pre_v3])
    assert feed.count() == 1
    for key in ("msg_1", "corr_X", "wamid.X", "+55 11 91234-5678", "5511912345678"):
        assert feed.message(key).status == "DELIVERED", key


def test_inbound_messages_are_entries_of_their_own(feed: Feed) -> None:
    feed.send([status("message.sent"), reply(None, msg="in_9", correlationId="corr_1")])
    inbound = feed.message("in_9")
    assert (inbound.outbound, inbound.status, inbound.peer) == (False, "RECEIVED", "+5511912345678")
    # Without a quote, the correlationId ties the inbound to the send it answers.
    assert inbound.reply_to == feed.message("msg_1").id
    assert feed.count() == 2


def test_upgrading_an_old_database_projects_what_it_holds(tmp_path: Path) -> None:
    feed = Feed(tmp_path)
    feed.send([status("message.sent"), status("message.delivered", at=3)])
    with sqlite3.connect(feed.path) as c:  # back to schema 1, as an older release left it
        c.executescript(
            "DROP TABLE messages; DROP TABLE message_steps; DROP TABLE number_polls; "
            "DROP TABLE number_state; DROP TABLE number_transitions; DROP TABLE gaps; "
            "DROP TABLE heartbeat; DROP INDEX rejections_received; DROP INDEX events_received_webhooks; "
            "DROP TABLE probes; DROP TABLE tunnel; DROP TABLE public_urls; DROP TABLE drift; "
            "ALTER TABLE rejections DROP COLUMN route; "
            "ALTER TABLE rejections DROP COLUMN number_id; ALTER TABLE rejections DROP COLUMN delivery; "
            "ALTER TABLE rejections DROP COLUMN diagnosis; PRAGMA user_version = 1;"
        )
    open_store(tmp_path)
    assert feed.message("msg_1").status == "DELIVERED"
    assert len(feed.timeline("msg_1").steps) == 2


@pytest.mark.parametrize("first", ["original", "reply"])
def test_a_link_reports_both_messages_as_changed(feed: Feed, first: str) -> None:
    """Open views re-read what the change descriptor names: a new link changes the
    original's reply count and the reply's "answers" line, whichever came first."""
    bodies = {"original": status("message.sent", provider="wamid.ORIG"), "reply": reply("wamid.ORIG")}
    second = "reply" if first == "original" else "original"
    feed.send([bodies[first]])
    feed.send([bodies[second]])
    assert feed.changed[-1] == {feed.message("msg_1").id, feed.message("in_1").id}

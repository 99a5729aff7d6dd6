"""Payload fidelity (issue 15, docs/pilot-status-api.md §1.1-1.4, §1.7 C7, §2.8, §4.3, §4.6):
schema-v3 conventions flagged as schema issues, `errorMessage` read as the failure reason,
`contentReplied` shown, absent content shown as "content not retained", Meta health read
onto the number, the raw `calls` envelope offered in the picker, and removed / restored
numbers, through a real store where a store is involved."""

from __future__ import annotations

import copy
import itertools
import json
import re
import sqlite3
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pilot_status.webhooks import parse_customer_webhook

from pilot_desktop.core import numbers
from pilot_desktop.core.catalogue import KNOWN_EVENTS, PICKER_GROUPS
from pilot_desktop.core.events import classify, summarize
from pilot_desktop.core.lifecycle import observe
from pilot_desktop.core.numbers import CLOSED, OPEN, REMOVED
from pilot_desktop.store import message_queries as mq
from pilot_desktop.store import number_queries as nq
from pilot_desktop.store.db import connect
from pilot_desktop.store.number_projection import rebuild_numbers
from pilot_desktop.store.read_models import MessageFilter
from pilot_desktop.store.records import NumberPoll
from tests.strategies import valid_payload
from tests.unit.test_numbers import NUM, T0, Store, hook, iso, status_poll

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def changed(name: str, *, flat: bool = False, **fields: Any) -> dict[str, Any]:
    body = copy.deepcopy(sample(name))
    (body if flat else body["data"]).update(fields)
    return body


def issues(body: dict[str, Any]) -> dict[str, str]:
    c = classify(body)
    assert c.kind == "schema_issues", f"{c.kind}: {body}"
    return {i.path: i.message for i in c.issues}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


# -- 1. schema-v3 conventions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field", "value", "words"),
    [
        ("message.received", "from", "5521998877665", "without the leading '+'"),
        ("message.received", "from", "5521998877665@s.whatsapp.net", "JID (@s.whatsapp.net)"),
        ("message.reply", "from", "123456789012345@lid", "JID (@lid)"),
        ("message.sent", "to", "5521998877665@c.us", "JID (@c.us)"),
        ("message.group", "from", "5511976543210:12@s.whatsapp.net", "device suffix"),
        ("message.delivered", "to", "(21) 99887-7665", "not an E.164 phone"),
        ("message.sent", "to", "+0521998877665", "not an E.164 phone"),  # no country code 0
        ("message.sent", "to", "+55219", "not an E.164 phone"),  # too short
        ("number.connected", "phone", "5511987654321", "without the leading '+'"),
        ("number.removed", "phone", "5511987654321@s.whatsapp.net", "JID"),
        ("lead.received", "phone", "5511912345678", "without the leading '+'"),
        ("lead.received", "phone", "+55 11 91234-5678", "not an E.164 phone"),
    ],
)
def test_a_phone_not_in_e164_with_plus_is_a_schema_issue(
    name: str, field: str, value: str, words: str
) -> None:
    found = issues(changed(name, **{field: value}))
    assert words in found[f"$.data.{field}"]
    assert "E.164" in found[f"$.data.{field}"]


@pytest.mark.parametrize(("field", "value"), [("from", "5521998877665@s.whatsapp.net"), ("to", "+55 21")])
def test_a_call_phone_is_checked_on_its_flat_fields(field: str, value: str) -> None:
    found = issues(changed("call.ringing", flat=True, **{field: value}))
    assert set(found) == {f"$.{field}"}


@pytest.mark.parametrize(
    "body",
    [
        changed("message.sent", to="120363025246125486@g.us"),  # a group send names the group
        changed("message.sent", to="120363198765432101@newsletter"),  # a channel post
        sample("message.group"),  # groupId is a JID by definition
        sample("message.newsletter"),  # so is newsletterId
        changed("lead.received", phone="não informado"),  # a raw answer, not a phone
        changed("lead.received", phone="11 9"),  # too few digits to be one
        changed("message.sent", createdAt="2025-06-03T14:02:11+00:00"),
        changed("message.sent", createdAt="2025-06-03T14:02:11.418-03:00"),
        changed("message.sent", createdAt="2025-06-03T14:02:11"),
        changed("call.ringing", flat=True, **{"from": None, "to": None}),  # nullable
        changed("message.received", from_="x", X_Y=1, _id=2),  # not snake_case
    ],
    ids=lambda b: f"{b['event']}",
)
def test_what_schema_v3_allows_stays_valid(body: dict[str, Any]) -> None:
    c = classify(body)
    assert (c.kind, c.issues) == ("valid", ())


@pytest.mark.parametrize(
    "value", ["03/06/2025 14:02", "1717423331", "2025-13-03T14:02:11Z", "2025-06-03", "yesterday"]
)
def test_created_at_not_iso_8601_is_a_schema_issue(value: str) -> None:
    for name in ("message.read", "number.created", "lead.received"):
        assert "ISO 8601" in issues(changed(name, createdAt=value))["$.data.createdAt"]


def test_a_call_timestamp_not_iso_8601_is_a_schema_issue() -> None:
    found = issues(changed("call.ended", flat=True, timestamp="1717423331"))
    assert "ISO 8601" in found["$.timestamp"]


def test_snake_case_keys_are_flagged_at_any_depth_of_data() -> None:
    body = changed(
        "message.received",
        number_id="num_1",
        media={"file_name": "a.jpg", "sizes": [{"max_width": 1}]},
    )
    found = issues(body)
    assert "camelCase ('numberId')" in found["$.data.number_id"]
    assert "'fileName'" in found["$.data.media.file_name"]
    assert "'maxWidth'" in found["$.data.media.sizes[0].max_width"]
    flat = issues(changed("call.missed", flat=True, call_id="call_1", created_at=iso(T0)))
    assert set(flat) == {"$.call_id", "$.created_at"}


def test_a_body_full_of_snake_case_keys_costs_little_and_lists_a_bounded_number() -> None:
    body = changed("message.received", **{f"bad_key_{i}": {"more_bad": i} for i in range(50_000)})
    started = time.perf_counter()
    c = classify(body)
    assert time.perf_counter() - started < 0.5
    assert c.kind == "schema_issues" and 1 <= len(c.issues) <= 20


def test_model_and_convention_issues_are_listed_together() -> None:
    body = changed("message.received", fromMe="no", createdAt="03/06/2025")
    found = issues(body)
    assert "$.data.fromMe" in found and "ISO 8601" in found["$.data.createdAt"]


# -- 2. C7: errorMessage -----------------------------------------------------------------------


def failed_with(**fields: Any) -> dict[str, Any]:
    body = sample("message.failed")
    del body["data"]["error"]
    body["data"].update(fields)
    return body


def test_error_message_is_the_failure_reason_when_error_is_absent() -> None:
    body = failed_with(errorMessage="Outside the 24h window")
    assert summarize(body) == "META_OUTSIDE_24H_WINDOW: Outside the 24h window"
    obs = observe(body)
    assert obs is not None and obs.error == "Outside the 24h window"
    # Still a drift from the SDK's types (it rejects it), flagged softly: it says what was read.
    found = issues(body)
    assert "errorMessage" in found["$.data.error"] and "C7" in found["$.data.error"]


def test_error_wins_over_error_message() -> None:
    body = sample("message.failed")
    body["data"]["errorMessage"] = "the README's name"
    assert classify(body).kind == "valid"
    assert "the README's name" not in summarize(body)
    obs = observe(body)
    assert obs is not None and obs.error == sample("message.failed")["data"]["error"]


def test_the_failure_reason_from_error_message_reaches_the_stored_message(store: Store) -> None:
    store.send([failed_with(errorMessage="Outside the 24h window")])
    with connect(store.path, readonly=True) as c:
        (row,) = mq.messages_page(c, MessageFilter(), 10)
    assert (row.status, row.error, row.error_code) == (
        "FAILED",
        "Outside the 24h window",
        "META_OUTSIDE_24H_WINDOW",
    )


# -- 3. contentReplied, 4. absent content --------------------------------------------------------


def test_a_reply_summary_shows_the_quoted_text_then_the_reply() -> None:
    reply = sample("message.reply")
    summary = summarize(reply)
    assert summary.startswith('Mariana Costa: ↩ "Olá Mariana! Seu pedido')
    assert summary.endswith("→ Obrigada! Estarei em casa depois das 15h.")
    obs = observe(reply)
    assert obs is not None and obs.replied == reply["data"]["contentReplied"]


@pytest.mark.parametrize("content", ["", "   ", None])
def test_absent_content_is_content_not_retained_in_summaries(content: str | None) -> None:
    received = sample("message.received")
    sent = sample("message.sent")
    for body in (received, sent):
        if content is None:
            del body["data"]["content"]
        else:
            body["data"]["content"] = content
    assert summarize(received) == "Mariana Costa: content not retained"
    assert summarize(sent) == f"sent · content not retained · {sent['data']['id']}"
    reply = sample("message.reply")
    reply["data"]["content"] = ""
    assert summarize(reply).endswith("→ content not retained")


def test_media_without_a_caption_is_named_by_its_kind() -> None:
    body = sample("message.group")
    del body["data"]["mediaCaption"]
    assert summarize(body) == "Equipe Loja Centro · Carlos Almeida: [image]"


# -- 6. the raw calls envelope in the picker ----------------------------------------------------------


def test_the_raw_calls_envelope_is_offered_in_the_picker_under_calls() -> None:
    groups = dict(PICKER_GROUPS)
    names = [name for name, _ in groups["Calls"]]
    assert "calls" in names
    description = dict(groups["Calls"])["calls"]
    assert "Meta" in description and "raw" in description
    assert "calls" in KNOWN_EVENTS  # the CLI takes it without a "typo?" warning
    assert classify(sample("calls")).kind == "unknown"  # stored as received, not parsed


# -- 5. Meta health from the detail -----------------------------------------------------------------


def detail(number: str = NUM, **health: Any) -> dict[str, Any]:
    base = {"qualityRating": "GREEN", "messagingLimitTier": "TIER_1K", "sendable": True}
    return {
        "id": number,
        "number": "5511900000001",
        "name": "Loja Centro",
        "provider": "META",
        "state": "OPEN",
        "piiMode": "STORE_X_DAYS",
        "piiRetentionDays": 30,
        "health": {**base, **health},
        "extraChargeUnpaidSince": None,
        "extraChargeDisconnectAt": None,
    }


def summary(store: Store, now: float) -> nq.NumberSummary:
    with connect(store.path, readonly=True) as c:
        (found,) = nq.summaries(c, now)
    return found


def test_the_detail_puts_meta_health_and_the_pii_mode_on_the_number(store: Store) -> None:
    store.send([NumberPoll(T0, [(NUM, "detail", detail())])])
    s = summary(store, time.time())
    assert (s.quality_rating, s.messaging_tier, s.sendable, s.pii_mode) == (
        "GREEN",
        "TIER_1K",
        True,
        "STORE_X_DAYS",
    )
    assert s.detail_at is not None and s.state.name == "Loja Centro" and s.provider == "META"


def test_a_quality_drop_and_sending_stopped_are_transitions_and_rebuild_replays_them(store: Store) -> None:
    store.send([NumberPoll(T0, [(NUM, "detail", detail())])])
    store.send([NumberPoll(T0, [(NUM, "detail", detail(qualityRating="YELLOW", sendable=False))])])
    s = summary(store, time.time())
    assert (s.quality_rating, s.sendable) == ("YELLOW", False)
    history = reversed(store.history())  # oldest first
    changes = [(t.kind, t.before, t.after) for t in history if t.kind not in ("connection", "health")]
    assert changes == [("quality", "GREEN", "YELLOW"), ("sending", "sendable", "not sendable")]
    before = store.dump()
    with sqlite3.connect(store.path, isolation_level=None) as c:
        c.execute("BEGIN IMMEDIATE")
        rebuild_numbers(c)
        c.execute("COMMIT")
    assert store.dump() == before


def test_a_web_number_has_no_meta_health(store: Store) -> None:
    web = detail(qualityRating=None, messagingLimitTier=None, sendable=True) | {"provider": "PILOT_STATUS"}
    store.send([NumberPoll(T0, [(NUM, "detail", web)])])
    s = summary(store, time.time())
    assert (s.quality_rating, s.messaging_tier, s.sendable) == (None, None, True)


# -- 7. removed and restored ----------------------------------------------------------------------


def test_removed_then_restored_comes_back_disconnected(store: Store) -> None:
    store.send([hook("number.connected", T0), hook("number.removed", T0 + 60)])
    assert store.state().connection == REMOVED
    store.send([hook("number.restored", T0 + 120)])
    state = store.state()
    assert (state.connection, state.connection_at, state.connection_source) == (CLOSED, T0 + 120, "webhook")
    assert [(t.before, t.after) for t in reversed(store.history()) if not t.late] == [
        ("UNKNOWN", OPEN),
        (OPEN, REMOVED),
        (REMOVED, CLOSED),
    ]


def test_polls_of_a_removed_number_do_not_hide_the_removal(store: Store) -> None:
    # A removed number is logged out: its status polls say CLOSED. It stays removed
    # (restorable) until number.restored, or until it is seen connected again.
    store.send(
        [hook("number.connected", T0), hook("number.removed", T0 + 60), status_poll("CLOSED", T0 + 120)]
    )
    assert store.state().connection == REMOVED
    store.send([hook("number.restored", T0 + 180)])
    assert store.state().connection == CLOSED
    store.send([hook("number.removed", T0 + 240), status_poll("OPEN", T0 + 300)])
    assert store.state().connection == OPEN  # restored and reconnected: we missed a webhook


def test_a_removed_number_is_restorable_for_30_days(store: Store) -> None:
    store.send([hook("number.removed", T0)])
    assert numbers.restorable_until(store.state()) == T0 + 30 * 24 * 3600
    store.send([hook("number.restored", T0 + 60)])
    assert numbers.restorable_until(store.state()) is None


# -- no false alarms: any SDK-valid body that follows schema v3 stays valid --------------------------

_SNAKE_KEY = re.compile(r"[a-z]_[a-z]")


def _camel_only(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _camel_only(v) for k, v in value.items() if not _SNAKE_KEY.search(k)}
    if isinstance(value, list):
        return [_camel_only(v) for v in value]
    return value


@st.composite
def conforming_payload(draw: st.DrawFn) -> dict[str, Any]:
    """A body the SDK accepts, with schema v3's phones, times and camelCase keys."""
    body = draw(valid_payload())
    phone = st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True)
    when = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat(timespec="milliseconds"))
    when = when.map(lambda t: t.replace("+00:00", draw(st.sampled_from(["Z", "+00:00"]))))
    flat = body["event"].startswith("call.")
    fields = body if flat else body["data"]
    for key in ("from", "to", "phone"):
        if isinstance(fields.get(key), str):
            fields[key] = draw(phone)
    fields["timestamp" if flat else "createdAt"] = draw(when)
    if flat:
        return {k: _camel_only(v) for k, v in body.items() if not _SNAKE_KEY.search(k)}
    body["data"] = _camel_only(body["data"])
    return body


@settings(max_examples=300, deadline=None)
@given(conforming_payload())
def test_a_body_following_schema_v3_is_valid(body: dict[str, Any]) -> None:
    parse_customer_webhook(body)  # the SDK accepts it
    c = classify(body)
    assert (c.kind, c.issues) == ("valid", ()), [i.as_dict() for i in c.issues]


def _fold(items: list[numbers.NumberObservation]) -> str:
    state = None
    for obs in items:
        state, _ = numbers.apply(state, obs)
    assert state is not None
    return state.connection


def _seen_hook(event: str, at: float) -> numbers.NumberObservation:
    obs = numbers.observe_event(hook(event, T0 + at), T0 + at + 1)
    assert obs is not None
    return obs


@pytest.mark.parametrize(
    ("story", "final"),
    [
        ((("connected", 0), ("removed", 60), ("poll", 120)), REMOVED),
        ((("connected", 0), ("removed", 60), ("poll", 120), ("restored", 180)), CLOSED),
        ((("removed", 60), ("poll", 120), ("restored", 180), ("poll", 240)), CLOSED),
        ((("removed", 60), ("poll", 120), ("restored", 180), ("poll", 240), ("connected", 300)), OPEN),
        ((("restored", 30), ("removed", 60), ("poll", 120)), REMOVED),
        ((("connected", 0), ("disconnected", 30), ("removed", 60), ("poll", 120)), REMOVED),
        (
            (
                ("connected", 0),
                ("open", 30),
                ("removed", 60),
                ("poll", 120),
                ("restored", 180),
                ("open", 240),
            ),
            OPEN,
        ),
        ((("open", 30), ("removed", 60), ("poll", 90), ("poll", 120), ("restored", 180)), CLOSED),
    ],
    ids=[
        "removed, then polled",
        "removed, polled, restored",
        "restored, polled again",
        "then reconnected",
        "removed again",
        "disconnected first",
        "polled open",
        "polled twice",
    ],
)
def test_removal_and_restore_give_the_same_state_in_any_arrival_order(story: Any, final: str) -> None:
    seen = [
        numbers.observe_status(
            NUM, "OPEN" if what == "open" else "CLOSED", T0 + at + 1, checked_at=iso(T0 + at)
        )
        if what in ("poll", "open")
        else _seen_hook(f"number.{what}", at)
        for what, at in story
    ]
    for order in itertools.permutations(seen):
        assert _fold(list(order)) == final, [o.event for o in order]


def test_a_removal_redelivered_after_the_poller_saw_the_number_closed_still_shows(store: Store) -> None:
    # The app was down: at start the poller reads the logged-out number (CLOSED), then the
    # platform's retry of number.removed (older) comes in. The number shows removed.
    store.send([hook("number.connected", T0), status_poll("CLOSED", T0 + 600)])
    assert store.state().connection == CLOSED
    store.send([hook("number.removed", T0 + 60)])
    state = store.state()
    assert (state.connection, state.connection_at) == (REMOVED, T0 + 60)
    assert numbers.restorable_until(state) == T0 + 60 + 30 * 24 * 3600


@pytest.mark.parametrize(
    ("event", "field", "value"),
    [
        ("message.group", "from", "120363041234567890@g.us"),  # the group as sender
        ("message.newsletter", "from", "120363098765432100@newsletter"),  # the channel as sender
        ("message.received", "from", "+6834002"),  # Niue: a whole E.164 number of 7 digits
    ],
)
def test_valid_v3_addresses_are_not_flagged(event: str, field: str, value: str) -> None:
    body = {
        "event": event,
        "data": {
            "numberId": "num_1",
            "messageId": "wamid.X",
            "id": "in_1",
            "fromMe": False,
            "createdAt": "2026-12-04T10:00:00.000Z",
            "from": "+5511999990000",
            "to": "+5511988887777",
            field: value,
        },
    }
    assert all(issue.path != f"$.data.{field}" for issue in classify(body).issues), classify(body).issues

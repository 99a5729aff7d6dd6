"""Behaviour of the sandbox scenario: what its webhooks say, in what order, reproducibly."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from pilot_status.webhooks import parse_customer_webhook

from pilot_desktop.core.catalogue import HEALTH_EVENTS
from pilot_desktop.core.events import classify
from pilot_desktop.core.models import MODELS
from pilot_desktop.sandbox.scenario import (
    UNDOCUMENTED_ERROR_CODES,
    Emission,
    Scenario,
    make_numbers,
)

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
DOCUMENTED_CODES = {
    "INVALID_DESTINATION",
    "WHATSAPP_NOT_EXIST",
    "META_OUTSIDE_24H_WINDOW",
    "DELIVERED_NOT_CONFIRMED",
    "DELIVERY_TIMEOUT",
}
STATUS = ("message.sent", "message.delivered", "message.read", "message.failed")
LONG = 3900.0  # an hour and a bit: every read (tail clamped at an hour) has happened by then


def dump(emissions: Iterable[Emission]) -> str:
    return json.dumps([[e.at, e.number_id, e.event, e.body] for e in emissions], ensure_ascii=False)


@cache
def long_run() -> tuple[Emission, ...]:
    """One shared run, long and busy enough to show the rare behaviours (read-only)."""
    scenario = Scenario(11, make_numbers(11, 5), rate=5.0)
    return tuple(scenario.next_batch(LONG))


def by_message(emissions: Iterable[Emission]) -> dict[str, list[Emission]]:
    out: dict[str, list[Emission]] = defaultdict(list)
    for e in emissions:
        if e.event in STATUS:
            out[e.body["data"]["id"]].append(e)
    return out


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


# --- reproducibility -------------------------------------------------------------------


def test_same_seed_gives_the_same_emissions_byte_for_byte():
    first = Scenario(3, make_numbers(3, 4), rate=4.0).next_batch(600)
    again = Scenario(3, make_numbers(3, 4), rate=4.0).next_batch(600)
    other = Scenario(4, make_numbers(4, 4), rate=4.0).next_batch(600)
    assert len(first) > 1000
    assert dump(first) == dump(again)
    assert dump(first) != dump(other)


def test_output_does_not_depend_on_the_process_hash_seed():
    code = (
        "import hashlib, json; from pilot_desktop.sandbox.scenario import Scenario, make_numbers;"
        "em = Scenario(5, make_numbers(5, 3), rate=3.0).next_batch(120);"
        "print(hashlib.sha256(json.dumps([[e.at, e.event, e.body] for e in em]).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(result.stdout.strip())
    local = Scenario(5, make_numbers(5, 3), rate=3.0).next_batch(120)
    expected = hashlib.sha256(json.dumps([[e.at, e.event, e.body] for e in local]).encode()).hexdigest()
    assert digests == {expected}


def test_incremental_batches_equal_one_big_call_and_are_time_ordered():
    whole = Scenario(7, make_numbers(7, 3), rate=6.0).next_batch(900)
    sliced = Scenario(7, make_numbers(7, 3), rate=6.0)
    pieces: list[Emission] = []
    until = 0.0
    for step in [0.0, 0.001, 0.4, 1.7, 0.25, 3.0, 0.0, 60.0, 9.9] * 200:
        if until >= 900:
            break
        until = min(until + step, 900.0)
        batch = sliced.next_batch(until)
        assert all(e.at <= until for e in batch)
        assert not pieces or not batch or batch[0].at >= pieces[-1].at
        pieces.extend(batch)
    assert dump(pieces) == dump(whole)
    assert [e.at for e in whole] == sorted(e.at for e in whole)


def test_a_send_does_not_disturb_other_numbers():
    numbers = make_numbers(8, 3)
    quiet = Scenario(8, numbers, rate=3.0)
    busy = Scenario(8, numbers, rate=3.0)
    quiet_out = quiet.next_batch(30)
    busy_out = busy.next_batch(30)
    busy.send(numbers[0].id, "+5511912345678", "Oi!", at=30.0, message_id="msg_X", correlation_id="corr_X")
    quiet_out += quiet.next_batch(600)
    busy_out += busy.next_batch(600)
    others = {n.id for n in numbers[1:]}
    assert dump(e for e in quiet_out if e.number_id in others) == dump(
        e for e in busy_out if e.number_id in others
    )


# --- every emission is a well-formed webhook -------------------------------------------


def test_every_known_emission_is_valid_for_us_and_for_the_sdk():
    seen: set[str] = set()
    for e in long_run():
        assert e.body["event"] == e.event
        verdict = classify(e.body)
        if e.event in HEALTH_EVENTS:
            assert verdict.kind == "unknown"  # by design: not in the SDK's catalogue
        else:
            assert e.event in MODELS
            assert verdict.kind == "valid", (e.body, verdict.issues)
            parse_customer_webhook(e.body)  # raises on anything the official parser refuses
        seen.add(e.event)
    assert seen >= {
        *STATUS,
        "message.received",
        "message.reply",
        "message.group",
        "message.newsletter",
        "number.created",
        "number.connected",
        "number.disconnected",
        "call.ringing",
        "call.connected",
        "call.ended",
        "call.missed",
        "number.health_degraded",
        "number.recovered",
    }


def test_dedupe_keys_are_unique():
    keys = [classify(e.body).dedupe_key for e in long_run()]
    assert len(set(keys)) == len(keys)


def test_emissions_carry_their_numbers_identity_and_iso_utc_times():
    numbers = {n.id: n for n in make_numbers(11, 5)}
    for e in long_run():
        number = numbers[e.number_id]
        if e.event.startswith("call."):
            assert number.phone in (e.body["from"], e.body["to"])
            stamp = e.body["timestamp"]
        else:
            assert e.body["data"]["numberId"] == number.id
            stamp = e.body["data"]["createdAt"]
        assert len(stamp) == 24 and stamp.endswith("Z") and stamp[19] == "."


def test_field_sets_match_the_reference_samples():
    """Our bodies have the same keys as the hand-written samples of resources/samples."""
    first: dict[str, dict[str, Any]] = {}
    for e in long_run():
        if e.event == "message.failed" and e.body["data"]["messageId"] is None:
            first.setdefault("message.failed.before-sent", e.body)
        elif e.event in ("message.received", "message.group") and "content" not in e.body["data"]:
            continue  # a photo; the samples show a text 1:1 message and a photo in a group
        elif e.event == "message.reply" and e.body["data"]["participantName"] is None:
            continue
        else:
            first.setdefault(e.event, e.body)
    names = [
        "message.sent",
        "message.delivered",
        "message.read",
        "message.failed",
        "message.failed.before-sent",
        "message.received",
        "message.reply",
        "message.newsletter",
        "number.created",
        "number.connected",
        "number.disconnected",
        "call.ringing",
        "call.connected",
        "call.ended",
        "call.missed",
        "number.health_degraded",
    ]
    for name in names:
        ours, reference = first[name], sample(name)
        assert ours.keys() == reference.keys(), name
        if "data" in reference:
            assert ours["data"].keys() == reference["data"].keys(), name


# --- outbound lifecycle ----------------------------------------------------------------

ALLOWED_PATHS = {
    ("message.sent",),
    ("message.sent", "message.delivered"),
    ("message.sent", "message.delivered", "message.read"),
    ("message.sent", "message.failed"),
    ("message.failed",),
}


def test_each_message_follows_the_lifecycle_in_order():
    numbers = {n.id: n for n in make_numbers(11, 5)}
    messages = by_message(long_run())
    assert len(messages) > 2000
    paths = set()
    for events in messages.values():
        path = tuple(e.event for e in events)
        assert path in ALLOWED_PATHS, path
        paths.add(path)
        stamps = [e.body["data"]["createdAt"] for e in events]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert [e.at for e in events] == sorted(e.at for e in events)
        datas = [e.body["data"] for e in events]
        for key in ("id", "messageId", "to", "content", "correlationId", "numberId"):
            assert len({d[key] for d in datas}) == 1, key
        for d in datas:
            assert d["fromMe"] is True and d["type"] == "text"
            if d["messageId"] is not None:
                assert d["from"] == numbers[d["numberId"]].phone
    assert paths == ALLOWED_PATHS


def test_status_latencies_are_plausible():
    delivered_gap, read_gap = [], []
    for events in by_message(long_run()).values():
        at = {e.event: e.at for e in events}
        if "message.delivered" in at:
            delivered_gap.append(round(at["message.delivered"] - at["message.sent"], 3))
        if "message.read" in at:
            read_gap.append(round(at["message.read"] - at["message.delivered"], 3))
    # Delivery within seconds; reading takes longer, 3 s at the least, with a long tail.
    assert 0.5 <= median(delivered_gap) <= 5 and min(delivered_gap) >= 0.5
    assert 8 <= median(read_gap) <= 60
    assert min(read_gap) >= 3 and max(read_gap) > 180


def test_some_messages_stop_at_delivered_for_good():
    messages = by_message(long_run())
    # Delivered in the first five minutes: any read would have come within the hour.
    early = [
        events
        for events in messages.values()
        if any(e.event == "message.delivered" and e.at < 300 for e in events)
    ]
    never_read = [events for events in early if events[-1].event == "message.delivered"]
    share = len(never_read) / len(early)
    # ~25 % of recipients have read receipts off, a few more never open the message.
    assert 0.2 <= share <= 0.55, share
    assert len(early) > 100


def test_failures_happen_before_and_after_sent_with_documented_codes():
    numbers = {n.id: n for n in make_numbers(11, 5)}
    before, after = defaultdict(int), defaultdict(int)
    for events in by_message(long_run()).values():
        failed = events[-1]
        if failed.event != "message.failed":
            continue
        data = failed.body["data"]
        assert data["error"] and data["error"][0].isupper()  # a human sentence, not a code
        if len(events) == 1:
            # Failed before SENT: no provider id, except Meta's asynchronous 24 h refusal.
            if data["errorCode"] == "META_OUTSIDE_24H_WINDOW":
                assert data["messageId"].startswith("wamid.")
            else:
                assert data["messageId"] is None and "from" not in data
            before[data["errorCode"]] += 1
        else:
            assert events[0].body["data"]["messageId"] == data["messageId"] is not None
            after[data["errorCode"]] += 1
        if data["errorCode"].startswith("META_"):
            assert numbers[data["numberId"]].provider == "META"
    assert set(after) == {"DELIVERED_NOT_CONFIRMED"}
    assert {"INVALID_DESTINATION", "WHATSAPP_NOT_EXIST", "META_OUTSIDE_24H_WINDOW"} <= set(before)
    assert set(before) <= DOCUMENTED_CODES | set(UNDOCUMENTED_ERROR_CODES)
    assert any(code in before for code in UNDOCUMENTED_ERROR_CODES)  # the "needs review" case


def test_replies_quote_a_message_sent_earlier():
    sent: dict[str, dict[str, Any]] = {}
    replies = 0
    for e in long_run():
        data = e.body.get("data", {})
        if e.event == "message.sent":
            sent[data["messageId"]] = data
        elif e.event == "message.reply":
            quoted = sent[data["quotedMessageId"]]  # KeyError: quotes something never sent
            assert data["contentReplied"] == quoted["content"]
            assert data["from"] == quoted["to"] and data["to"] == quoted["from"]
            assert data["correlationId"] == quoted["correlationId"]
            assert data["fromMe"] is False and data["numberId"] == quoted["numberId"]
            replies += 1
    assert replies > 50


def test_inbound_messages_look_like_the_platform():
    kinds = defaultdict(int)
    for e in long_run():
        data = e.body.get("data", {})
        if e.event == "message.group":
            assert data["groupId"].endswith("@g.us") and data["groupName"]
        elif e.event == "message.newsletter":
            assert data["newsletterId"].endswith("@newsletter") and data["participantName"] is None
        elif e.event != "message.received":
            continue
        assert data["fromMe"] is False and data["from"].startswith("+55") and data["id"].startswith("cm")
        kinds["photo" if data["type"] == "image" else "text"] += 1
    assert kinds["photo"] > 0 and kinds["text"] > kinds["photo"]


def test_calls_share_ids_and_end_one_way_or_another():
    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in long_run():
        if e.event.startswith("call."):
            assert "data" not in e.body  # flat envelope
            calls[e.body["callId"]].append(e.body)
    assert calls
    endings = set()
    for bodies in calls.values():
        path = tuple(b["event"] for b in bodies)
        assert path in {
            ("call.ringing", "call.connected", "call.ended"),
            ("call.ringing", "call.missed"),
            ("call.ringing", "call.ended"),
        }, path
        assert len({b["externalCallId"] for b in bodies}) == 1
        last = bodies[-1]
        if path[1] == "call.connected":
            assert last["status"] == "COMPLETED" and isinstance(last["duration"], int)
        endings.add(path[-1])
    assert endings == {"call.ended", "call.missed"}


# --- numbers ---------------------------------------------------------------------------


def test_number_state_follows_connection_events_and_nothing_flows_while_closed():
    numbers = make_numbers(11, 5)
    scenario = Scenario(11, numbers, rate=5.0)
    assert {scenario.number_state(n.id) for n in numbers} == {"CONNECTING"}
    state = {n.id: "CONNECTING" for n in numbers}
    implied = {"number.created": "CONNECTING", "number.connected": "OPEN", "number.disconnected": "CLOSED"}
    quiet_while_closed = {*STATUS[:3], "message.received", "message.reply", "message.group", "call.ringing"}
    disconnects: dict[str, list[float]] = defaultdict(list)
    until = 0.0
    while until < LONG:
        until += 7.5
        for e in scenario.next_batch(until):
            if e.event in implied:
                state[e.number_id] = implied[e.event]
            if e.event == "number.disconnected":
                disconnects[e.number_id].append(e.at)
                assert e.body["data"]["error"] and e.body["data"]["errorCode"]
            assert not (state[e.number_id] != "OPEN" and e.event in quiet_while_closed), e
        assert {n.id: scenario.number_state(n.id) for n in numbers} == state
    assert sum(map(len, disconnects.values())) >= 3
    # Flaps: some number dropped again within five minutes of a drop.
    assert any(b - a < 300 for ats in disconnects.values() for a, b in itertools.pairwise(ats))


def test_make_numbers_is_deterministic_and_realistic():
    numbers = make_numbers(42, 8)
    assert numbers == make_numbers(42, 8)
    assert numbers != make_numbers(43, 8)
    assert make_numbers(42, 3) == numbers[:3]
    assert (
        len({n.id for n in numbers}) == len({n.phone for n in numbers}) == len({n.name for n in numbers}) == 8
    )
    for n in numbers:
        assert n.id.startswith("num_") and len(n.id) == 30
        assert n.phone.startswith("+55") and n.phone[1:].isdigit() and len(n.phone) == 14
    assert {n.provider for n in make_numbers(1, 2)} == {"PILOT_STATUS", "META"}
    assert len({n.name for n in make_numbers(1, 30)}) == 30


# --- the API's sends -------------------------------------------------------------------


def test_send_plays_the_lifecycle_and_message_finds_it_by_every_id():
    numbers = make_numbers(21, 2)
    scenario = Scenario(21, numbers, rate=0.0)  # only our sends
    scenario.next_batch(10)
    recipients = [f"+55119{7000_0000 + i * 7919:08d}" for i in range(60)]
    for i, to in enumerate(recipients):
        scenario.send(
            numbers[i % 2].id, to, f"Pedido {i}", at=10.0, message_id=f"msg_{i}", correlation_id=f"corr_{i}"
        )
        assert scenario.message(f"msg_{i}").status == "QUEUED"
    out = scenario.next_batch(LONG)
    messages = by_message(out)
    assert set(messages) == {f"msg_{i}" for i in range(60)}
    finals = defaultdict(int)
    for i in range(60):
        events = messages[f"msg_{i}"]
        assert tuple(e.event for e in events) in ALLOWED_PATHS
        assert all(e.at > 10 for e in events)
        data = events[-1].body["data"]
        assert (data["correlationId"], data["to"], data["content"]) == (
            f"corr_{i}",
            recipients[i],
            f"Pedido {i}",
        )
        record = scenario.message(f"msg_{i}")
        assert record is not None and scenario.message(f"corr_{i}") == record
        assert record.status == events[-1].event.split(".")[1].upper()
        if data["messageId"] is not None:
            assert scenario.message(data["messageId"]) == record == scenario.message(f"msg_{i}")
            assert record.external_message_id == data["messageId"]
        stamps = {e.event: e.body["data"]["createdAt"] for e in events}
        assert record.sent_at == stamps.get("message.sent")
        assert record.delivered_at == stamps.get("message.delivered")
        assert record.read_at == stamps.get("message.read")
        if record.status == "FAILED":
            assert record.error_code == data["errorCode"] and record.error_message == data["error"]
        finals[record.status] += 1
    assert finals["READ"] > 20 and finals["DELIVERED"] > 5
    assert scenario.message("msg_unknown") is None


def test_a_send_to_a_malformed_number_fails_without_a_provider_id():
    numbers = make_numbers(21, 1)
    scenario = Scenario(21, numbers, rate=0.0)
    scenario.send(numbers[0].id, "+55119", "Oi", at=2.0, message_id="msg_bad", correlation_id="corr_bad")
    failed = [e for e in scenario.next_batch(60) if e.event == "message.failed"]
    assert len(failed) == 1
    assert failed[0].body["data"]["errorCode"] == "INVALID_DESTINATION"
    assert failed[0].body["data"]["messageId"] is None
    assert scenario.message("corr_bad").status == "FAILED"


def test_sends_wait_for_the_number_to_connect():
    numbers = make_numbers(21, 1)
    scenario = Scenario(21, numbers, rate=0.0)
    scenario.send(
        numbers[0].id, "+5511987654321", "Oi", at=0.0, message_id="msg_early", correlation_id="corr_e"
    )
    out = scenario.next_batch(120)
    connected = next(e.at for e in out if e.event == "number.connected")
    sent = [e for e in out if e.body.get("data", {}).get("id") == "msg_early"]
    assert sent and sent[0].at > connected


def test_a_send_in_the_past_is_not_emitted_before_what_was_already_returned():
    numbers = make_numbers(21, 1)
    scenario = Scenario(21, numbers, rate=2.0)
    returned = scenario.next_batch(100)
    scenario.send(
        numbers[0].id, "+5511987654321", "Oi", at=50.0, message_id="msg_late", correlation_id="corr_l"
    )
    later = scenario.next_batch(200)
    assert later and min(e.at for e in later) > 100 >= max(e.at for e in returned)
    assert any(e.body.get("data", {}).get("id") == "msg_late" for e in later)


def test_duplicate_ids_and_unknown_numbers_are_refused():
    numbers = make_numbers(21, 1)
    scenario = Scenario(21, numbers)
    scenario.send(numbers[0].id, "+5511987654321", "Oi", at=1.0, message_id="msg_1", correlation_id="corr_1")
    with pytest.raises(ValueError, match="must be new"):
        scenario.send(
            numbers[0].id, "+5511987654321", "Oi", at=1.0, message_id="msg_1", correlation_id="corr_2"
        )
    with pytest.raises(KeyError):
        scenario.send("num_nope", "+5511987654321", "Oi", at=1.0, message_id="msg_2", correlation_id="corr_3")
    with pytest.raises(ValueError, match="rate"):
        Scenario(1, numbers, rate=-1)


# --- rate ------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "numbers", "window"), [(2.0, 3, 1800.0), (20.0, 6, 600.0)])
def test_the_rate_is_roughly_respected(rate, numbers, window):
    count = len(Scenario(9, make_numbers(9, numbers), rate=rate).next_batch(window))
    assert 0.8 * rate <= count / window <= 1.2 * rate


def test_rate_zero_leaves_only_number_events():
    out = Scenario(9, make_numbers(9, 3), rate=0.0).next_batch(1800)
    assert out and all(e.event.startswith("number.") for e in out)

"""Steps read back from the API after a gap (services/reconstruct.py): which ones are stored,
and what the stored event looks like."""

from __future__ import annotations

import json
from typing import Any

from pilot_desktop.api.models import HistoryMessage, MessageDetails
from pilot_desktop.core.events import dedupe_key
from pilot_desktop.core.format import parse_time
from pilot_desktop.services.reconstruct import HEADER, lacks, missing_steps, reconstructed_event
from pilot_desktop.store.catch_up_queries import StoredOutbound

T_SENT, T_DELIVERED, T_READ = (
    "2026-03-01T12:00:01.000Z",
    "2026-03-01T12:00:03.500Z",
    "2026-03-01T12:01:00.000Z",
)


def details(status: str, **fields: Any) -> MessageDetails:
    base = {
        "id": "msg_1",
        "externalMessageId": "3EB0AA",
        "correlationId": "corr_1",
        "destinationNumber": "+5511987654321",
        "createdAt": "2026-03-01T12:00:00.000Z",
        "status": status,
    }
    return MessageDetails.model_validate(base | fields)


def stored(status: str, *steps: str) -> StoredOutbound:
    return StoredOutbound("msg_1", "num_1", status, frozenset(steps), 0.0)


def statuses(known: Any, in_store: StoredOutbound | None) -> list[str]:
    return [s.status for s in missing_steps(known, in_store)]


def test_only_the_steps_the_store_lacks_are_filled() -> None:
    read = details("READ", sentAt=T_SENT, deliveredAt=T_DELIVERED, readAt=T_READ)
    assert statuses(read, None) == ["SENT", "DELIVERED", "READ"]
    assert statuses(read, stored("SENT", "SENT")) == ["DELIVERED", "READ"]
    assert statuses(read, stored("READ", "SENT", "DELIVERED", "READ")) == []
    # A DELIVERED lost in the gap while READ arrived later: filled in (it has its time, it is
    # its webhook's event); the status stays READ.
    assert statuses(read, stored("READ", "SENT", "READ")) == ["DELIVERED"]


def test_a_step_without_a_time_only_when_it_is_ahead() -> None:
    # The API says DELIVERED but gives no time: worth storing ahead of SENT, not behind READ.
    bare = details("DELIVERED", sentAt=T_SENT)
    assert statuses(bare, stored("SENT", "SENT")) == ["DELIVERED"]
    assert statuses(bare, stored("READ", "SENT", "READ")) == []
    failed = details("FAILED", sentAt=T_SENT, errorCode="DELIVERED_NOT_CONFIRMED", errorMessage="no receipt")
    assert statuses(failed, stored("SENT", "SENT")) == ["FAILED"]
    assert statuses(failed, stored("FAILED", "SENT", "FAILED")) == []  # never a second failure
    assert statuses(details("QUEUED"), None) == []  # nothing happened yet: no event exists
    assert statuses(details("CANCELED"), None) == []  # no event exists for a cancellation


def test_history_rows_are_read_the_same_way() -> None:
    row = HistoryMessage.model_validate(
        {
            "id": "msg_1",
            "direction": "OUTBOUND",
            "status": "DELIVERED",
            "sentAt": T_SENT,
            "deliveredAt": T_DELIVERED,
        }
    )
    assert lacks(row, None) and lacks(row, stored("SENT", "SENT"))
    assert not lacks(row, stored("DELIVERED", "SENT", "DELIVERED"))


def test_a_restored_step_is_its_webhooks_event_marked_reconstructed() -> None:
    known = details("DELIVERED", sentAt=T_SENT, deliveredAt=T_DELIVERED)
    (step,) = missing_steps(known, stored("SENT", "SENT"))
    item = reconstructed_event(known, "num_1", step, 1_772_366_500.0, now=1_772_366_500.5)
    body = json.loads(item.body)
    # The webhook the platform sends for that step (api §1): same event, ids and time.
    webhook = {
        "event": "message.delivered",
        "data": {
            "numberId": "num_1",
            "messageId": "3EB0AA",
            "id": "msg_1",
            "type": "text",
            "fromMe": True,
            "createdAt": T_DELIVERED,
            "from": "+5511900000000",
            "to": "+5511987654321",
            "content": "Olá",
            "correlationId": "corr_1",
        },
    }
    assert item.classified.dedupe_key == dedupe_key(webhook)  # a later webhook is a redelivery
    assert item.classified.kind == "valid"
    assert item.verdict.status == "reconstructed" and item.route is None
    source = "GET /v1/messages/msg_1"
    assert item.headers == [(HEADER, f"{source} at 2026-03-01T12:01:40.000Z")]
    assert body["reconstructed"] == {"source": source, "at": "2026-03-01T12:01:40.000Z"}
    obs = item.observation
    assert obs is not None and (obs.status, obs.msg_id, obs.outbound) == ("DELIVERED", "msg_1", True)
    assert obs.at == parse_time(T_DELIVERED)  # the step's own time, not when it was read


def test_a_restored_failure_has_the_apis_reason_and_no_invented_time() -> None:
    known = details(
        "FAILED", errorCode="WHATSAPP_NOT_EXIST", errorMessage="not on WhatsApp", externalMessageId=None
    )
    (step,) = missing_steps(known, None)
    item = reconstructed_event(known, "num_1", step, 1_772_366_500.0, now=1_772_366_500.5)
    data = json.loads(item.body)["data"]
    assert "createdAt" not in data  # the API gives no failure time: none is made up
    assert (data["error"], data["errorCode"], data["messageId"]) == (
        "not on WhatsApp",
        "WHATSAPP_NOT_EXIST",
        None,
    )
    # Said as what it is: a body without its time (a schema issue), failed with the reason.
    assert item.classified.kind == "schema_issues"
    assert [i.path for i in item.classified.issues] == ["$.data.createdAt"]
    obs = item.observation
    assert obs is not None and (obs.status, obs.error_code, obs.at) == ("FAILED", "WHATSAPP_NOT_EXIST", None)


def test_a_failure_read_back_twice_is_one_event() -> None:
    """A failure has no time in the API: its key must not depend on when it was read, or two
    catch-ups (or `reconcile` after one) would store it twice."""
    from pilot_desktop.api.models import MessageDetails
    from pilot_desktop.services.reconstruct import Step, reconstructed_event

    details = MessageDetails.model_validate(
        {
            "id": "msg_f1",
            "status": "FAILED",
            "externalMessageId": None,
            "correlationId": "corr_f1",
            "destinationNumber": "+5511988887777",
            "createdAt": "2026-12-04T10:00:00.000Z",
            "errorCode": "WHATSAPP_NOT_EXIST",
            "errorMessage": "not on WhatsApp",
        }
    )
    step = Step("FAILED", "message.failed", None)
    first = reconstructed_event(details, "num_1", step, 1000.0, now=1000.0)
    second = reconstructed_event(details, "num_1", step, 2000.0, now=2000.0)
    assert first.body != second.body  # each says when it was read
    assert first.classified.dedupe_key == second.classified.dedupe_key

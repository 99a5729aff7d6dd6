"""The API client's typed answers read every shape the sources document (conflicts C1-C3
of docs/pilot-status-api.md), keep fields they don't know, and name a missing required field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from pilot_desktop.api.client import _is_loopback
from pilot_desktop.api.models import (
    CancelResult,
    DeliveryLog,
    MessageDetails,
    Number,
    NumberStatus,
    SendAccepted,
    Webhook,
    normalize_state,
)

CHECKED = "2025-01-01T10:00:00.000Z"

# -- C1: /v1/numbers/{id}/status -----------------------------------------------------------


def test_status_html_shape_state_and_flag() -> None:
    status = NumberStatus.model_validate({"state": "OPEN", "isFullyConnected": True})
    assert (status.id, status.state, status.is_fully_connected, status.stale) == (None, "OPEN", True, False)
    # The flag is the ready-to-send signal on this shape: OPEN but not fully connected stays so.
    status = NumberStatus.model_validate({"state": "OPEN", "isFullyConnected": False})
    assert (status.state, status.is_fully_connected) == ("OPEN", False)


def test_status_md_shape_id_and_state_only() -> None:
    status = NumberStatus.model_validate({"id": "num_1", "state": "OPEN"})
    assert (status.id, status.state, status.is_fully_connected) == ("num_1", "OPEN", True)  # OPEN = ready
    status = NumberStatus.model_validate({"id": "num_1", "state": "CONNECTING"})
    assert (status.state, status.is_fully_connected) == ("CONNECTING", False)


@pytest.mark.parametrize("spelling", ["CLOSE", "CLOSED", "close", "closed"])
def test_close_and_closed_are_one_state(spelling: str) -> None:
    status = NumberStatus.model_validate({"id": "num_1", "state": spelling})
    assert (status.state, status.is_fully_connected) == ("CLOSED", False)
    assert normalize_state(spelling) == "CLOSED"


def test_status_sdk_shape_live_and_stale() -> None:
    live = NumberStatus.model_validate({"id": "num_1", "state": "OPEN", "stale": False, "checkedAt": CHECKED})
    assert (live.stale, live.checked_at, live.last_known_at) == (False, CHECKED, None)
    stale = NumberStatus.model_validate(
        {"id": "num_1", "state": "CLOSE", "stale": True, "lastKnownAt": CHECKED}
    )
    assert (stale.state, stale.stale, stale.checked_at, stale.last_known_at) == (
        "CLOSED",
        True,
        None,
        CHECKED,
    )
    # Meta numbers answer stale:false with neither timestamp.
    meta = NumberStatus.model_validate({"id": "num_1", "state": "OPEN", "stale": False})
    assert (meta.checked_at, meta.last_known_at) == (None, None)


@pytest.mark.parametrize("raw", ["SOMETHING_NEW", "", "open-ish"])
def test_unknown_state_is_unknown_not_an_error(raw: object) -> None:
    status = NumberStatus.model_validate({"id": "num_1", "state": raw})
    assert (status.state, status.is_fully_connected) == ("UNKNOWN", False)
    assert NumberStatus.model_validate({"id": "num_1"}).state == "UNKNOWN"


# -- /v1/numbers items ---------------------------------------------------------------------


def test_list_item_with_only_primary_link_state() -> None:
    item = Number.model_validate(
        {
            "id": "num_1",
            "number": "5511999999999",
            "name": "Loja",
            "isFullyConnected": True,
            "primaryLink": {"state": "OPEN", "connectedAt": CHECKED},
            "secondaryLink": None,
        }
    )
    assert (item.state, item.is_fully_connected) == ("OPEN", True)
    assert item.primary_link is not None and item.primary_link.connected_at == CHECKED
    assert item.phone == "+5511999999999"  # digits in the list, E.164 for the app
    closed = Number.model_validate({"id": "num_2", "primaryLink": {"state": "CLOSE", "connectedAt": None}})
    assert (closed.state, closed.is_fully_connected) == ("CLOSED", False)


def test_flat_state_wins_over_the_link_and_no_state_is_unknown() -> None:
    item = Number.model_validate({"id": "num_1", "state": "CONNECTING", "primaryLink": {"state": "OPEN"}})
    assert item.state == "CONNECTING"
    bare = Number.model_validate({"id": "num_1"})
    assert (bare.state, bare.is_fully_connected, bare.phone, bare.primary_link) == (
        "UNKNOWN",
        False,
        "",
        None,
    )


def test_extra_fields_are_kept() -> None:
    item = Number.model_validate(
        {
            "id": "num_1",
            "state": "OPEN",
            "instanceName": "tenant-5511",
            "coexistence": {"status": "NO", "evidence": None},
            "somethingShippedLater": [1, 2],
        }
    )
    assert item.model_extra == {
        "instanceName": "tenant-5511",
        "coexistence": {"status": "NO", "evidence": None},
        "somethingShippedLater": [1, 2],
    }
    hook = Webhook.model_validate(
        {
            "id": "wh_1",
            "url": "https://x.example/h",
            "tenantId": "tenant_1",
            "apiKeys": [{"id": "k", "name": "n"}],
            "whatsappNumberIds": ["num_1"],
            "lastTriggered": None,
        }
    )
    assert hook.number_id == "num_1" and hook.model_extra is not None
    assert hook.model_extra["tenantId"] == "tenant_1"
    assert (hook.events, hook.active, hook.name) == ([], True, "")  # documented defaults


# -- C2: internal message id ---------------------------------------------------------------


def test_message_internal_id_under_either_name() -> None:
    old = MessageDetails.model_validate({"internalMessageId": "msg_1", "status": "SENT"})
    assert (old.id, old.status) == ("msg_1", "SENT")
    both = MessageDetails.model_validate({"id": "msg_2", "internalMessageId": "msg_old", "status": "READ"})
    assert both.id == "msg_2"  # schema v3's `id` wins
    full = MessageDetails.model_validate(
        {
            "id": "msg_3",
            "externalMessageId": None,
            "status": "FAILED",
            "errorCode": "WHATSAPP_NOT_EXIST",
            "errorMessage": "not on WhatsApp",
            "metaPricing": None,
        }
    )
    assert (full.error_code, full.external_message_id) == ("WHATSAPP_NOT_EXIST", None)


# -- C3: cancel ----------------------------------------------------------------------------


def test_cancel_answer_with_id_lists() -> None:
    result = CancelResult.model_validate(
        {"cancelled": ["msg_1", "msg_2"], "failed": [{"id": "msg_3", "reason": "NOT_QUEUED"}]}
    )
    assert (result.cancelled_ids, result.cancelled_count, result.not_found) == (["msg_1", "msg_2"], 2, 0)
    assert [(f.id, f.reason) for f in result.failed] == [("msg_3", "NOT_QUEUED")]


def test_cancel_answer_with_counts() -> None:
    result = CancelResult.model_validate({"cancelled": 2, "notFound": 1})
    assert (result.cancelled_ids, result.cancelled_count, result.not_found, result.failed) == ([], 2, 1, [])
    nothing = CancelResult.model_validate({"cancelled": [], "failed": []})
    assert (nothing.cancelled_count, nothing.cancelled_ids) == (0, [])


# -- required fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "missing"),
    [
        (Webhook, {"id": "wh_1"}, "url"),
        (Webhook, {"url": "https://x.example/h"}, "id"),
        (Number, {"state": "OPEN"}, "id"),
        (MessageDetails, {"id": "msg_1"}, "status"),
        (MessageDetails, {"status": "SENT"}, "id"),
        (SendAccepted, {"status": "QUEUED"}, "id"),
        (DeliveryLog, {"event": "message.sent"}, "status"),
    ],
)
def test_missing_required_field_is_named(
    model: type[BaseModel], data: dict[str, object], missing: str
) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    errors = info.value.errors(include_url=False)
    assert [(e["loc"], e["type"]) for e in errors] == [((missing,), "missing")]


def test_wrong_type_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValidationError, match="events"):
        Webhook.model_validate({"id": "wh_1", "url": "https://x", "events": "*"})
    with pytest.raises(ValidationError, match="failed"):
        CancelResult.model_validate({"cancelled": [], "failed": [{"reason": "no id"}]})


def test_a_local_sandbox_is_reached_without_the_environment_proxy() -> None:
    assert _is_loopback("http://127.0.0.1:8790") and _is_loopback("http://localhost:1")
    assert _is_loopback("http://[::1]:8790")
    assert not _is_loopback("https://pilotstatus.com.br")

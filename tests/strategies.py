"""Hypothesis strategies for Pilot Status customer webhook bodies (docs/pilot-status-api.md §1).

The field rules copy the official SDK's validator (``pilot_status.webhooks.parse``)
exactly as it is written, not the TypedDicts beside it. Where the two differ, the
validator wins. For example ``messageId`` or ``callId`` are typed as required-but-nullable,
yet ``_require_nullable_str`` accepts a missing key, so here they are optional and nullable.
The field rules never come from ``pilot_desktop``: a test that compares our models with
the SDK must not get its payloads from our models. Only the event names come from
``core.catalogue`` (checked against the SDK's own list in tests/unit/test_catalogue.py).

- ``valid_payload(event=None)``: a body the SDK accepts as that (known) event.
- ``mutated_payload(event=None)``: a valid body with one deliberate break the SDK rejects.
- ``any_json_object_with_event()``: any JSON object whose ``event`` is a string.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from pilot_desktop.core.catalogue import (
    CALL_EVENTS,
    EVENTS,
    MODELLED_EVENTS,
    NUMBER_EVENTS,
)

# --- event names ---------------------------------------------------------------------

SDK_EVENTS = MODELLED_EVENTS
"""The 19 event names ``parse_customer_webhook`` knows (api §1.2); test_catalogue checks
the catalogue's list against the SDK's own."""

OTHER_DOCUMENTED_EVENTS = tuple(name for name in EVENTS if name not in MODELLED_EVENTS)
"""Names the platform sends that the SDK does not model: parsed as ``unknown``."""

MESSAGE_TYPES = (
    "text",
    "image",
    "audio",
    "video",
    "document",
    "location",
    "contacts",
    "sticker",
    "reaction",
)

# --- JSON values, by JSON type ---------------------------------------------------------

_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "bool": st.booleans(),
    "int": st.integers(),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "str": st.text(max_size=20),
}

json_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(*_SCALARS.values()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def json_value_except(*excluded: str) -> st.SearchStrategy[Any]:
    """A JSON value whose type is none of `excluded` ("null", "bool", "int", "float",
    "str", "list", "object")."""
    options = [s for name, s in _SCALARS.items() if name not in excluded]
    if "list" not in excluded:
        options.append(st.lists(json_values, max_size=3))
    if "object" not in excluded:
        options.append(st.dictionaries(st.text(max_size=8), json_values, max_size=3))
    return st.one_of(*options)


# --- field rules, as parse.py enforces them ----------------------------------------------

STR, BOOL, INT, MESSAGE_TYPE, LEAD_FIELDS = "str", "bool", "int", "message type", "lead fields"


@dataclass(frozen=True)
class Field:
    kind: str
    required: bool = True  # the key must be present
    nullable: bool = False  # `null` is accepted as its value


def _opt(kind: str = STR, *, nullable: bool = False) -> Field:
    return Field(kind, required=False, nullable=nullable)


_MESSAGE_BASE = {
    "numberId": Field(STR),
    "messageId": _opt(nullable=True),  # typed required; parse.py accepts it missing
    "id": Field(STR),
    "type": _opt(MESSAGE_TYPE),
    "fromMe": Field(BOOL),
    "createdAt": Field(STR),
    "content": _opt(),
    "correlationId": _opt(),
    "mediaLink": _opt(),
    "mediaType": _opt(),
    "mediaCaption": _opt(),
    "mediaFilename": _opt(),
}
_OUTBOUND = {**_MESSAGE_BASE, "from": _opt(), "to": Field(STR)}
_INBOUND = {
    **_MESSAGE_BASE,
    "from": Field(STR),
    "to": Field(STR),
    "participantName": _opt(nullable=True),
}
_NUMBER = {
    "numberId": Field(STR),
    "phone": Field(STR),
    "displayName": Field(STR),
    "createdAt": Field(STR),
    "profileName": _opt(),
    "error": _opt(),
    "errorCode": _opt(),
}
_LEAD = {
    **{k: Field(STR) for k in ("leadId", "leadgenId", "whatsappNumberId", "pageId", "formId")},
    "createdAt": Field(STR),
    "fields": Field(LEAD_FIELDS),
    **{
        k: _opt(nullable=True)
        for k in (
            "pageName",
            "formName",
            "adId",
            "adsetId",
            "campaignId",
            "adName",
            "adsetName",
            "campaignName",
            "platform",
            "fullName",
            "email",
            "phone",
            "conversationId",
        )
    },
    "isOrganic": _opt(BOOL, nullable=True),
    "consentGiven": _opt(BOOL, nullable=True),
}
_CALL = {  # flat: these sit next to `event`
    "callId": _opt(nullable=True),  # typed required; parse.py accepts it missing
    "externalCallId": _opt(nullable=True),
    "direction": _opt(nullable=True),  # idem
    "status": Field(STR),
    "from": _opt(nullable=True),  # idem
    "to": _opt(nullable=True),  # idem
    "timestamp": Field(STR),
    "duration": _opt(INT),
}

SPECS: dict[str, dict[str, Field]] = {
    "message.sent": _OUTBOUND,
    "message.delivered": _OUTBOUND,
    "message.read": _OUTBOUND,
    "message.failed": {**_OUTBOUND, "error": Field(STR), "errorCode": _opt()},
    "message.received": _INBOUND,
    "message.reply": {**_INBOUND, "contentReplied": _opt(), "quotedMessageId": _opt(nullable=True)},
    "message.group": {**_INBOUND, "groupId": _opt(), "groupName": _opt(nullable=True)},
    "message.newsletter": {
        **_INBOUND,
        "newsletterId": _opt(),
        "newsletterName": _opt(nullable=True),
    },
    **dict.fromkeys(NUMBER_EVENTS, _NUMBER),
    "lead.received": _LEAD,
    **dict.fromkeys(CALL_EVENTS, _CALL),
}
assert set(SPECS) == set(SDK_EVENTS)


def is_flat(event: str) -> bool:
    return event in CALL_EVENTS


# Keys a real body might carry beyond the contract (pre-v3 names, provider leftovers).
# The SDK ignores unknown keys whatever their value, so valid payloads include them.
PLAUSIBLE_EXTRA_KEYS = (
    "internalMessageId",
    "projectSlug",
    "lastMessageId",
    "instance",
    "pushName",
    "status",
    "timestamp",
)

_PHONES = st.from_regex(r"\+[1-9][0-9]{9,13}", fullmatch=True)
_strings = st.text(max_size=24) | _PHONES

_lead_field = st.fixed_dictionaries(
    {"key": _strings, "values": st.lists(_strings, max_size=3)},
    optional={"label": _strings},
)

_VALUES: dict[str, st.SearchStrategy[Any]] = {
    STR: _strings,
    BOOL: st.booleans(),
    # parse.py checks isinstance(duration, int), which a bool passes.
    INT: st.integers() | st.booleans(),
    MESSAGE_TYPE: st.sampled_from(MESSAGE_TYPES),
    LEAD_FIELDS: st.lists(_lead_field, max_size=3),
}


def _value(field: Field) -> st.SearchStrategy[Any]:
    values = _VALUES[field.kind]
    return (values | st.none()) if field.nullable else values


def _object(spec: dict[str, Field]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {k: _value(f) for k, f in spec.items() if f.required},
        optional={k: _value(f) for k, f in spec.items() if not f.required},
    )


def _extras(reserved: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    keys = (st.sampled_from(PLAUSIBLE_EXTRA_KEYS) | st.text(max_size=12)).filter(lambda k: k not in reserved)
    return st.dictionaries(keys, json_values, max_size=3)


@st.composite
def valid_payload(draw: st.DrawFn, event: str | None = None) -> dict[str, Any]:
    """A body the SDK accepts as `event` (a random SDK-known event when None),
    with random extra keys next to `event` and inside `data`."""
    event = event or draw(st.sampled_from(SDK_EVENTS))
    spec = SPECS[event]
    fields = draw(_object(spec))
    if is_flat(event):
        return {**draw(_extras({"event", *spec})), "event": event, **fields}
    data = {**draw(_extras(set(spec))), **fields}
    return {**draw(_extras({"event", "data"})), "event": event, "data": data}


# --- breaking a valid body ---------------------------------------------------------------


def _wrong_value(field: Field) -> st.SearchStrategy[Any]:
    allowed = {
        STR: {"str"},
        BOOL: {"bool"},
        INT: {"int", "bool"},
        MESSAGE_TYPE: set(),  # any non-string, or a string outside the enum (below)
        LEAD_FIELDS: {"list"},
    }[field.kind]
    if field.nullable:
        allowed.add("null")
    wrong = json_value_except(*allowed) if allowed else json_value_except("str")
    if field.kind == MESSAGE_TYPE:
        wrong |= st.text(max_size=10).filter(lambda s: s not in MESSAGE_TYPES)
    return wrong


_broken_lead_fields = st.one_of(
    # an entry that is not an object
    st.builds(lambda fs, bad: [*fs, bad], st.lists(_lead_field, max_size=2), json_value_except("object")),
    # an entry without `key`
    st.builds(lambda f: [{k: v for k, v in f.items() if k != "key"}], _lead_field),
    # `values` holding a non-string
    st.builds(lambda f, bad: [{**f, "values": [*f["values"], bad]}], _lead_field, json_value_except("str")),
    # `values` not a list
    st.builds(lambda f, bad: [{**f, "values": bad}], _lead_field, json_value_except("list")),
    # `label` present but not a string (null included)
    st.builds(lambda f, bad: [{**f, "label": bad}], _lead_field, json_value_except("str")),
)


@st.composite
def mutated_payload(draw: st.DrawFn, event: str | None = None) -> dict[str, Any]:
    """A valid body of a known event with one break the SDK rejects: a required key
    dropped, a wrong type, `null` where not nullable, a list where a string belongs,
    a `type` outside the enum, a non-object `data`, or a malformed lead `fields`."""
    event = event or draw(st.sampled_from(SDK_EVENTS))
    payload = copy.deepcopy(draw(valid_payload(event)))
    spec = SPECS[event]
    target = payload if is_flat(event) else payload["data"]

    mutations = ["drop required key", "wrong type", "list for string"]
    if any(not f.nullable for f in spec.values()):
        mutations.append("null where not nullable")
    if not is_flat(event):
        mutations += ["non-object data", "no data"]
    if event == "lead.received":
        mutations.append("broken lead fields")
    mutation = draw(st.sampled_from(mutations))

    if mutation == "drop required key":
        del target[draw(st.sampled_from([k for k, f in spec.items() if f.required]))]
    elif mutation == "wrong type":
        key = draw(st.sampled_from(sorted(spec)))
        target[key] = draw(_wrong_value(spec[key]))
    elif mutation == "list for string":
        key = draw(st.sampled_from([k for k, f in spec.items() if f.kind == STR]))
        target[key] = draw(st.lists(_strings, max_size=2))
    elif mutation == "null where not nullable":
        target[draw(st.sampled_from([k for k, f in spec.items() if not f.nullable]))] = None
    elif mutation == "non-object data":
        payload["data"] = draw(json_value_except("object"))
    elif mutation == "no data":
        del payload["data"]
    else:  # broken lead fields
        target["fields"] = draw(_broken_lead_fields)
    return payload


# --- anything the receiver lets through ----------------------------------------------------

event_names = st.sampled_from(SDK_EVENTS) | st.sampled_from(OTHER_DOCUMENTED_EVENTS) | st.text(max_size=24)


def any_json_object_with_event() -> st.SearchStrategy[dict[str, Any]]:
    """Any JSON object with a string `event`: what the receiver's cheap checks accept."""
    keys = st.sampled_from(["data", "callId", "timestamp", "status", "from", "to"]) | st.text(max_size=10)
    return st.builds(
        lambda rest, name: {**rest, "event": name},
        st.dictionaries(keys, json_values, max_size=6),
        event_names,
    )

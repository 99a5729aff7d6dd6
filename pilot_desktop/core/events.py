"""Classify an accepted webhook body and derive what the store and the views need.

Every body that passed the receiver's cheap checks (a JSON object with a string
``event``) is stored; classification only says how much we understood of it:
``valid`` (a known event matching its model), ``schema_issues`` (a known event whose
fields drift from the contract; which fields and why) or ``unknown`` (an event name we
do not model, such as the health events that only ``"*"`` delivers).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from pilot_desktop.core import conventions
from pilot_desktop.core.catalogue import (
    CALL_EVENTS,
    EVOLUTION_CALL_EVENTS,
    NUMBER_EVENTS,
    group_of,
)
from pilot_desktop.core.content import NOT_RETAINED, shown_content
from pilot_desktop.core.format import short
from pilot_desktop.core.models import MODELS
from pilot_desktop.core.wire import compact_pickle

Kind = Literal["valid", "schema_issues", "unknown"]

# Native Evolution GO call events (api §1.1): PascalCase fields inside `data`.
_EVOLUTION_CALLS = frozenset(EVOLUTION_CALL_EVENTS)


@compact_pickle
@dataclass(frozen=True, slots=True)
class SchemaIssue:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@compact_pickle
@dataclass(frozen=True, slots=True)
class Classified:
    event: str
    group: str
    kind: Kind
    issues: tuple[SchemaIssue, ...]
    dedupe_key: str
    number_id: str | None
    from_addr: str | None
    to_addr: str | None
    summary: str
    event_time: str | None


def canonical_hash(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# A hostile body can hold thousands of bad fields; an operator needs the first few and a
# count, and the row must stay small (review: 1 MiB once produced 44 MB of issues).
MAX_ISSUES = 20
# Event names, ids and phones are shown in tables; the raw body keeps the full values.
MAX_FIELD = 200


def _issues_from(error: ValidationError) -> list[SchemaIssue]:
    out = []
    errors = error.errors(include_url=False, include_input=False, include_context=False)
    for err in errors[:MAX_ISSUES]:
        path = "$"
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required field is missing"
        out.append(SchemaIssue(path, msg))
    if len(errors) > MAX_ISSUES:
        out.append(SchemaIssue("$", f"... and {len(errors) - MAX_ISSUES} more issues"))
    return out


def validate(obj: dict[str, Any]) -> tuple[Kind, list[SchemaIssue]]:
    """The model's verdict (the SDK's contract), then the schema-v3 conventions the SDK
    does not check (core/conventions.py): a break of either is a schema issue."""
    model = MODELS.get(obj["event"])
    if model is None:
        return "unknown", []
    issues: list[SchemaIssue] = []
    try:
        model.model_validate(obj)
    except ValidationError as exc:
        issues = [_renamed(i, obj) for i in _issues_from(exc)]
    room = MAX_ISSUES - len(issues)
    if room > 0:
        issues += [SchemaIssue(path, message) for path, message in conventions.check(obj, room)]
    return ("schema_issues", issues) if issues else ("valid", [])


def _renamed(issue: SchemaIssue, obj: dict[str, Any]) -> SchemaIssue:
    """A missing field the platform sent under an older or other documented name: still a
    drift from schema v3, but we know the value and use it (the message says which)."""
    if issue.message != "required field is missing":
        return issue
    data = obj.get("data")
    d: dict[str, Any] = data if isinstance(data, dict) else {}
    if issue.path == "$.data.id" and isinstance(d.get("internalMessageId"), str):
        # Conflict C2: the send guide's older name.
        return SchemaIssue(issue.path, "missing; data.internalMessageId (pre-v3 name) used instead")
    if issue.path == "$.data.error" and obj.get("event") == "message.failed" and _s(d.get("errorMessage")):
        # Conflict C7: the SDK README's example reads `errorMessage`.
        return SchemaIssue(issue.path, "missing; data.errorMessage (the SDK README's name, C7) is the reason")
    return issue


def _s(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value if len(value) <= MAX_FIELD else value[: MAX_FIELD - 1] + "\u2026"


def message_id_of(data: dict[str, Any]) -> str | None:
    """Pilot Status internal message id: `data.id`, else `data.internalMessageId` (C2)."""
    return _s(data.get("id")) or _s(data.get("internalMessageId"))


def failure_reason(data: dict[str, Any], limit: int = MAX_FIELD) -> str | None:
    """Why a `message.failed` failed: `error` (the SDK's types), else `errorMessage` (the
    SDK README's example, conflict C7). `error` wins when both are there."""
    for key in ("error", "errorMessage"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value[:limit]
    return None


def replied_text(data: dict[str, Any]) -> str | None:
    """The quoted message's text a `message.reply` carries (`contentReplied`), if any."""
    value = data.get("contentReplied")
    return value if isinstance(value, str) and value.strip() else None


def message_text(data: dict[str, Any]) -> str:
    """`shown_content` of a message event's `data`."""
    return shown_content(_s(data.get("content")) or _s(data.get("mediaCaption")), _s(data.get("type")))


def _key(*parts: Any) -> str:
    # sort_keys: a drifted field holding an object must key the same whatever its key order.
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def dedupe_key(obj: dict[str, Any]) -> str:
    """Same event delivered again -> same key (docs/architecture.md, state rules).

    `data.id` alone is not a key: sent/delivered/read of one message share it. Key on
    the event name plus the event's ids and time; fall back to the canonical body hash.
    """
    event = obj["event"]
    data = obj.get("data")
    data = data if isinstance(data, dict) else {}
    if event.startswith("message."):
        mid, created = message_id_of(data), _s(data.get("createdAt"))
        if mid and created:
            return _key(event, mid, data.get("messageId"), created)
    elif event in NUMBER_EVENTS:
        nid, created = _s(data.get("numberId")), _s(data.get("createdAt"))
        if nid and created:
            return _key(event, nid, created)
    elif event == "lead.received":
        if lead := _s(data.get("leadgenId")):
            return _key(event, lead)
    elif event in CALL_EVENTS:
        call = _s(obj.get("callId")) or _s(obj.get("externalCallId"))
        when = _s(obj.get("timestamp"))
        if call and when:
            return _key(event, call, obj.get("status"), when)
    return canonical_hash(obj)


SUMMARY_WIDTH = 120


def _clip(text: str) -> str:
    return short(text, SUMMARY_WIDTH)


def summarize(obj: dict[str, Any]) -> str:
    event = obj["event"]
    data = obj.get("data")
    d: dict[str, Any] = data if isinstance(data, dict) else {}
    group = group_of(event)
    if event == "message.failed":
        code = _s(d.get("errorCode"))
        err = failure_reason(d) or ""
        return _clip(": ".join(p for p in (code, err) if p) or "failed")
    if group == "status":
        # What the message said tells an operator which one it is; the id when it says
        # nothing (content not retained), so the row still leads to its message.
        what = message_text(d)
        if what == NOT_RETAINED and (mid := message_id_of(d)):
            what = f"{what} · {mid}"
        return _clip(f"{event.split('.', 1)[1]} · {what}")
    if group == "inbound":
        who = _s(d.get("participantName"))
        where = _s(d.get("groupName")) or _s(d.get("newsletterName"))
        text = message_text(d)
        if event == "message.reply" and (quoted := replied_text(d)) is not None:
            text = f'↩ "{short(quoted, 40)}" → {text}'
        prefix = " · ".join(p for p in (where, who) if p)
        return _clip(f"{prefix}: {text}" if prefix else text)
    if group == "number" and event in NUMBER_EVENTS:
        parts = [_s(d.get("displayName")), _s(d.get("phone")), _s(d.get("error"))]
        return _clip(" · ".join(p for p in parts if p))
    if group == "call" and event in CALL_EVENTS:
        status = _s(obj.get("status"))
        if event == "call.permission_updated" and status:
            status = f"call permission {status}"
        parts = [_s(obj.get("direction")), status]
        duration = obj.get("duration")
        if isinstance(duration, int) and not isinstance(duration, bool):
            parts.append(f"{duration} s")
        return _clip(" · ".join(p for p in parts if p))
    if event == "lead.received":
        parts = [_s(d.get("fullName")), _s(d.get("email")), _s(d.get("formName"))]
        return _clip(" · ".join(p for p in parts if p) or "lead")
    keys = sorted(d) if d else sorted(k for k in obj if k != "event")
    who = " · ".join(p for p in (_s(d.get("displayName")), _s(d.get("phone"))) if p)
    text = f"{who} · " if who else ""
    return _clip(f"{text}not in the documented catalogue; fields: {', '.join(keys) or '(none)'}")


def classify(obj: dict[str, Any]) -> Classified:
    """`obj` is a JSON object with a string `event` (the receiver checked that)."""
    event: str = obj["event"]
    kind, issues = validate(obj)
    data = obj.get("data")
    d: dict[str, Any] = data if isinstance(data, dict) else {}
    flat = group_of(event) == "call"
    src = obj if flat else d
    number_id = _s(d.get("numberId")) or _s(d.get("whatsappNumberId"))
    if event in _EVOLUTION_CALLS:  # native Evolution GO vocabulary: PascalCase inside data
        return Classified(
            event=_s(event) or event,
            group="call",
            kind=kind,
            issues=tuple(issues),
            dedupe_key=dedupe_key(obj),
            number_id=None,
            from_addr=_s(d.get("From")) or _s(d.get("CallCreator")),
            to_addr=None,
            summary=_clip(" · ".join(p for p in (event, _s(d.get("Reason"))) if p)),
            event_time=_s(d.get("Timestamp")),
        )
    return Classified(
        event=_s(event) or event,
        group=group_of(event),
        kind=kind,
        issues=tuple(issues),
        dedupe_key=dedupe_key(obj),
        number_id=number_id,
        from_addr=_s(src.get("from")) or (_s(d.get("phone")) if event in NUMBER_EVENTS else None),
        to_addr=_s(src.get("to")),
        summary=summarize(obj),
        event_time=_s(obj.get("timestamp")) if flat else _s(d.get("createdAt")),
    )

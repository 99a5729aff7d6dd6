"""Schema-v3 conventions the SDK's types do not check (docs/pilot-status-api.md §1.1).

The official SDK accepts any string where schema v3 promises a form: phones in E.164 with a
leading `+` (never a WhatsApp JID such as `…@s.whatsapp.net` / `…@lid`, nor a device suffix
`:12@`), `createdAt` (and a call's `timestamp`) in ISO 8601, camelCase keys in `data`. A
payload that breaks one of them is still stored and used; `check` names each break (a path
and a sentence) so the event is classified `schema_issues` and the operator sees why.

Runs on the receiver's loop for every known event: a few regular expressions on a handful of
fields, and one walk over the keys of `data` bounded by `MAX_NODES`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pilot_desktop.core.catalogue import CALL_EVENTS, NUMBER_EVENTS

# E.164: a `+`, a country code not starting with 0, at most 15 digits in all; some countries'
# whole numbers are short (Niue +683 4002: 7 digits), so 7 is the least held to.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_DEVICE = re.compile(r":[0-9]+@")
# ISO 8601 extended date and time (as the platform writes: 2025-06-03T14:02:11.418Z).
_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
_SNAKE = re.compile(r"[a-z]_[a-z]")  # an underscore between lowercase letters
# A lead's `phone` is the raw answer when the platform could not normalise it (api §1.4):
# only an answer made of phone characters with enough digits is held to E.164.
_PHONE_LIKE = re.compile(r"[+0-9 ().\-]{8,32}")
# `to` of a group or channel send names the group or channel, not a phone.
_CHAT_SUFFIXES = ("@g.us", "@newsletter")

_CONTAINERS = (dict, list)
MAX_NODES = 2000  # keys and items walked for snake_case per body: a hostile body costs no more
_PATH_KEY = 60

Issue = tuple[str, str]  # (path, message)


def phone_problem(value: str) -> str | None:
    """Why `value` is not a schema-v3 phone, or None when it is one."""
    if _E164.fullmatch(value):
        return None
    if _DEVICE.search(value):
        return "a JID with a device suffix (:N@), not a phone: schema v3 phones are E.164 with '+'"
    if "@" in value:
        domain = value.rsplit("@", 1)[1][:30]
        return f"a WhatsApp JID (@{domain}), not a phone: schema v3 phones are E.164 with '+'"
    if value.isascii() and value.isdigit() and 8 <= len(value) <= 15:
        return "digits without the leading '+': schema v3 phones are E.164 with '+'"
    return "not an E.164 phone: schema v3 phones are '+' and 7 to 15 digits"


def time_problem(value: str) -> str | None:
    """Why `value` is not an ISO 8601 date and time, or None."""
    if _ISO.fullmatch(value):
        try:
            datetime.fromisoformat(value)  # a real date and time: no 2025-13-03 (3.11 reads Z)
            return None
        except ValueError:
            pass
    return "not an ISO 8601 date and time (schema v3: e.g. 2025-06-03T14:02:11.418Z)"


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key if len(key) <= _PATH_KEY else key[: _PATH_KEY - 1] + '…'}"


def _snake_keys(value: Any, path: str, out: list[Issue], budget: list[int], limit: int) -> None:
    # Nesting is bounded by the receiver's JSON checks; the walk by `budget` (nodes left).
    if budget[0] <= 0 or len(out) >= limit:
        return
    if isinstance(value, dict):
        budget[0] -= len(value)
        # One search over all the keys (JSON keys are strings; NUL never joins two letters),
        # and a key by key look only when it finds one: the common body costs one regex.
        joined = "\0".join(value)
        if "_" in joined and _SNAKE.search(joined):
            for key in value:
                if _SNAKE.search(key) and len(out) < limit:
                    out.append(
                        (
                            _key_path(path, key),
                            f"snake_case key: schema v3 keys are camelCase ({_camel(key)!r})",
                        )
                    )
        for key, item in value.items():
            if type(item) in _CONTAINERS and item:  # parsed JSON: exactly dict or list
                _snake_keys(item, _key_path(path, key), out, budget, limit)
    elif isinstance(value, list):
        budget[0] -= len(value)
        for i, item in enumerate(value):
            if budget[0] <= 0 or len(out) >= limit:
                return
            if type(item) in _CONTAINERS and item:
                _snake_keys(item, f"{path}[{i}]", out, budget, limit)


def _phone(out: list[Issue], path: str, value: Any, *, chat_ok: bool = False) -> None:
    if not isinstance(value, str):
        return  # absent, null or the wrong type: the model's business
    if chat_ok and value.endswith(_CHAT_SUFFIXES):
        return
    if (problem := phone_problem(value)) is not None:
        out.append((path, problem))


def _time(out: list[Issue], path: str, value: Any) -> None:
    if isinstance(value, str) and (problem := time_problem(value)) is not None:
        out.append((path, problem))


def check(obj: dict[str, Any], limit: int = 20) -> list[Issue]:
    """The schema-v3 conventions `obj` (a known event) breaks, at most `limit`."""
    event = obj.get("event")
    out: list[Issue] = []
    if event in CALL_EVENTS:  # flat: the fields sit next to `event`
        _phone(out, "$.from", obj.get("from"))
        _phone(out, "$.to", obj.get("to"))
        _time(out, "$.timestamp", obj.get("timestamp"))
        _snake_keys(obj, "$", out, [MAX_NODES], limit)
        return out[:limit]
    data = obj.get("data")
    if not isinstance(data, dict):
        return out
    if isinstance(event, str) and event.startswith("message."):
        # In a group or a channel the sender field may name the chat itself (not documented
        # either way): a group's or channel's address is no phone, on either side.
        _phone(out, "$.data.from", data.get("from"), chat_ok=event in ("message.group", "message.newsletter"))
        _phone(out, "$.data.to", data.get("to"), chat_ok=True)
    elif event in NUMBER_EVENTS:
        _phone(out, "$.data.phone", data.get("phone"))
    elif event == "lead.received":
        phone = data.get("phone")
        if isinstance(phone, str) and ("@" in phone or _PHONE_LIKE.fullmatch(phone)):
            digits = sum(c.isdigit() for c in phone)
            if "@" in phone or 7 <= digits <= 15:
                _phone(out, "$.data.phone", phone)
    _time(out, "$.data.createdAt", data.get("createdAt"))
    _snake_keys(data, "$.data", out, [MAX_NODES], limit)
    return out[:limit]

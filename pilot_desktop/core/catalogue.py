"""The webhook event catalogue: every event name Pilot Status documents, once.

For each name: the group it is shown under, one line on what it means, which number
providers can emit it, whether it is only delivered to webhooks subscribed to ``"*"``
(the health events), and whether its payload is modelled (the official SDK's 19 known
events, mirrored by ``core.models``). Source: docs/pilot-status-api.md §1.1-1.2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

ALL_EVENTS = "*"
PILOT_STATUS, META = "PILOT_STATUS", "META"  # `provider` of /v1/numbers (api §4.5)
PROVIDERS: tuple[str, ...] = (PILOT_STATUS, META)
_BOTH = frozenset(PROVIDERS)

GROUP_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "status": "Message status",
        "inbound": "Inbound messages",
        "number": "Number lifecycle",
        "call": "Calls",
        "lead": "Leads",
        "other": "Other",
    }
)


@dataclass(frozen=True, slots=True)
class EventInfo:
    name: str
    group: str  # a key of GROUP_LABELS
    description: str
    providers: frozenset[str] = _BOTH
    only_all: bool = False  # delivered only to webhooks subscribed to "*"
    modelled: bool = True  # a documented payload: the SDK parses it, core.models validates it
    raw: bool = False  # a provider's own envelope, forwarded as is: offered in the picker, not parsed


_e = EventInfo
_WEB, _META = frozenset({PILOT_STATUS}), frozenset({META})


def _health(name: str, description: str) -> EventInfo:
    # Undocumented payload, and never delivered to a hand-picked list.
    return EventInfo(name, "number", f"health alert: {description}", only_all=True, modelled=False)


_TABLE: tuple[EventInfo, ...] = (
    _e("message.sent", "status", "your message was handed to WhatsApp"),
    _e("message.delivered", "status", "it reached the recipient's phone"),
    _e("message.read", "status", "the recipient read it (only with their read receipts on)"),
    _e("message.failed", "status", "the send failed, with the reason and error code"),
    _e("message.received", "inbound", "a contact wrote to the number"),
    _e("message.reply", "inbound", "a contact quoted one of your messages"),
    _e("message.group", "inbound", "a message in a group the number is in"),
    # Channels are not on the Cloud API (a newsletterId send is NOT_SUPPORTED_FOR_META).
    _e("message.newsletter", "inbound", "a post from a WhatsApp Channel", _WEB),
    _e("number.created", "number", "the number was created in Pilot Status"),
    _e("number.connected", "number", "the number connected to WhatsApp"),
    _e("number.disconnected", "number", "a disconnection confirmed by the health check"),
    _e("number.removed", "number", "the number was removed (30-day soft delete)"),
    _e("number.restored", "number", "a removed number was restored (comes back disconnected)"),
    _health("number.health_blocked", "the number is blocked and cannot send"),
    _health("number.health_degraded", "delivery or quality problems"),
    _health("number.health_shadowban", "messages may be accepted but not delivered"),
    _health("number.recovered", "the number recovered"),
    # Calls are Meta Cloud API only (conflict C4 of api §8 settled that way, as the platform's
    # concepts page says): a web (QR) number's subscription loses them.
    _e("call.ringing", "call", "a call is ringing", _META),
    _e("call.connected", "call", "a call was answered", _META),
    _e("call.ended", "call", "a call ended (completed, failed or rejected)", _META),
    _e("call.missed", "call", "an inbound call went unanswered", _META),
    _e("call.permission_updated", "call", "a contact answered a call-permission request (Meta)", _META),
    # api §1.1: Meta's own calling body (entry[].changes[].value, with SDPs), for custom WebRTC
    # signalling. Subscribable by name; stored and shown as received.
    _e("calls", "call", "Meta's raw calling webhook, forwarded as is", _META, modelled=False, raw=True),
    # Native Evolution GO call events: numbers migrated from an Evolution GO server (web only).
    _e("CallOffer", "call", "Evolution GO: an incoming call", _WEB, modelled=False),
    _e("CallAccept", "call", "Evolution GO: a call was accepted", _WEB, modelled=False),
    _e("CallTerminate", "call", "Evolution GO: a call ended", _WEB, modelled=False),
    _e("lead.received", "lead", "a Meta Lead Ads form was submitted"),
    _e("flow.response_received", "other", "an answer to a WhatsApp Flow", modelled=False),
)

EVENTS: Mapping[str, EventInfo] = MappingProxyType({e.name: e for e in _TABLE})


def _names(group: str, *, modelled: bool = True, only_all: bool = False) -> tuple[str, ...]:
    return tuple(
        e.name for e in _TABLE if e.group == group and e.modelled == modelled and e.only_all == only_all
    )


STATUS_EVENTS = _names("status")
INBOUND_EVENTS = _names("inbound")
NUMBER_EVENTS = _names("number")  # the lifecycle; the health events are apart
CALL_EVENTS = _names("call")  # the normalized, flat call.* events
HEALTH_EVENTS = _names("number", modelled=False, only_all=True)
# The unmodelled web-only call events: Evolution GO's own vocabulary (PascalCase `data`).
EVOLUTION_CALL_EVENTS = tuple(
    e.name for e in _TABLE if e.group == "call" and not e.modelled and e.providers == _WEB
)
MODELLED_EVENTS: tuple[str, ...] = tuple(e.name for e in _TABLE if e.modelled)

# The event picker: the events with a documented payload and the raw provider envelopes,
# by group. The rest come with "*".
PICKER_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = tuple(
    (label, picked)
    for key, label in GROUP_LABELS.items()
    if (picked := tuple((e.name, e.description) for e in _TABLE if e.group == key and (e.modelled or e.raw)))
)
RAW_EVENTS: frozenset[str] = frozenset(e.name for e in _TABLE if e.raw)
RAW_NOTE = "Meta's own shape, not Pilot Status's schema: stored and shown as received, not parsed."
# The names the picker and the CLI accept in a webhook's `events` without a "typo?" warning.
KNOWN_EVENTS: frozenset[str] = frozenset(MODELLED_EVENTS) | RAW_EVENTS | {ALL_EVENTS}


def is_health(name: str) -> bool:
    """A health event: only ``"*"`` delivers it. Any ``number.health_*`` counts, so one
    the platform adds later is gated like the documented ones."""
    return name in HEALTH_EVENTS or name.startswith("number.health_")


def group_of(name: str) -> str:
    """The group key of an event; names not in the catalogue go by their prefix."""
    info = EVENTS.get(name)
    if info is not None:
        return info.group
    for prefix, group in (("number.", "number"), ("call.", "call"), ("lead.", "lead")):
        if name.startswith(prefix):
            return group
    return "other"


PROVIDER_NAMES: Mapping[str, str] = MappingProxyType({PILOT_STATUS: "web (QR)", META: "Meta Cloud API"})


def not_emitted_by(provider: str) -> frozenset[str]:
    """Events a number of this provider never emits: the platform silently drops them
    from a subscription (api §1.2). Nothing for a provider we do not know."""
    if provider not in PROVIDERS:
        return frozenset()
    return frozenset(e.name for e in _TABLE if provider not in e.providers)


def drop_reason(name: str, provider: str | None) -> str | None:
    """Why the platform drops `name` from a hand-picked subscription of a number of
    `provider` (api §1.2), or None when it keeps it."""
    if name == ALL_EVENTS:
        return None
    if is_health(name):
        return 'health alerts come only with all events ("*")'
    if provider is not None and name in not_emitted_by(provider):
        return f"a {PROVIDER_NAMES[provider]} number cannot emit it"
    return None


def provider_dropping(names: frozenset[str] | set[str]) -> str | None:
    """The one provider whose numbers cannot emit any of `names`, or None: tells which kind of
    number a subscription was made for when the platform dropped exactly these."""
    found = [p for p in PROVIDERS if names and names <= not_emitted_by(p)]
    return found[0] if len(found) == 1 else None

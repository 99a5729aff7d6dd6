"""The event catalogue (core/catalogue.py) against what uses it and what it describes:
the event picker, the Live pane's groups, our models, the official SDK, the sandbox's
subscription rules and the Numbers pane's health states."""

from __future__ import annotations

import typing

import httpx
import pytest
from pilot_status.webhooks import CustomerWebhookEvent, UnknownCustomerWebhookEvent
from pilot_status.webhooks.types import EvolutionGoCallEvent

from pilot_desktop.core import catalogue
from pilot_desktop.core.catalogue import (
    ALL_EVENTS,
    EVENTS,
    EVOLUTION_CALL_EVENTS,
    GROUP_LABELS,
    HEALTH_EVENTS,
    KNOWN_EVENTS,
    MODELLED_EVENTS,
    PICKER_GROUPS,
    group_of,
    is_health,
    not_emitted_by,
)
from pilot_desktop.core.events import classify
from pilot_desktop.core.models import MODELS
from pilot_desktop.core.numbers import HEALTH, observe_event
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.sandbox.state import Webhook

# api §1.2: what each provider cannot emit (Meta has no Channels and no Evolution GO
# vocabulary; a web number has no calls: conflict C4 settled as Meta Cloud API only).
DOCUMENTED_NOT_EMITTED = {
    "PILOT_STATUS": {
        "call.ringing",
        "call.connected",
        "call.ended",
        "call.missed",
        "call.permission_updated",
        "calls",
    },
    "META": {"message.newsletter", "CallOffer", "CallAccept", "CallTerminate"},
}
PREFIX_OF_GROUP = {"status": "message.", "inbound": "message.", "number": "number.", "call": "call."}


def _literal_events(union: object) -> set[str]:
    """The `event` literals of a union of the SDK's TypedDicts (public types only)."""
    names: set[str] = set()
    for member in typing.get_args(union):
        if member is UnknownCustomerWebhookEvent:
            continue
        names.update(typing.get_args(typing.get_type_hints(member)["event"]))
    return names


def test_the_picker_shows_each_event_under_the_group_the_live_pane_files_it_in() -> None:
    shown = [name for _, events in PICKER_GROUPS for name, _ in events]
    assert len(shown) == len(set(shown))
    for label, events in PICKER_GROUPS:
        for name, description in events:
            assert description and description == EVENTS[name].description
            # What the Live pane files a delivery of it under (group column and filter).
            assert GROUP_LABELS[classify({"event": name, "data": {}}).group] == label, name


def test_events_are_grouped_by_their_name() -> None:
    for name, info in EVENTS.items():
        assert info.group in GROUP_LABELS
        if info.modelled:
            assert name.startswith(PREFIX_OF_GROUP.get(info.group, f"{info.group}.")), name
    assert {group_of(n) for n in EVOLUTION_CALL_EVENTS} == {"call"}
    # A name the platform adds later lands by its prefix, not in "Other".
    assert [group_of(n) for n in ("number.paused", "call.held", "lead.updated", "x.y")] == [
        "number",
        "call",
        "lead",
        "other",
    ]


def test_every_modelled_event_is_in_the_catalogue_and_only_those_are() -> None:
    assert set(MODELS) == set(MODELLED_EVENTS)
    for name, info in EVENTS.items():
        verdict = classify({"event": name, "data": {}}).kind
        # A modelled event with no fields is a broken known event; the others are unknown.
        assert verdict == ("schema_issues" if info.modelled else "unknown"), name


def test_the_official_sdk_knows_exactly_the_modelled_events() -> None:
    assert _literal_events(CustomerWebhookEvent) == set(MODELLED_EVENTS)
    assert _literal_events(EvolutionGoCallEvent) == set(EVOLUTION_CALL_EVENTS)


def test_health_events_come_only_through_all_events() -> None:
    assert set(HEALTH_EVENTS) == {
        "number.health_blocked",
        "number.health_degraded",
        "number.health_shadowban",
        "number.recovered",
    }
    picked = {name for _, events in PICKER_GROUPS for name, _ in events}
    assert not picked & set(HEALTH_EVENTS)
    assert all(is_health(n) and EVENTS[n].only_all for n in HEALTH_EVENTS)
    assert is_health("number.health_frozen")  # a later one is gated the same way
    assert [n for n, info in EVENTS.items() if info.only_all] == list(HEALTH_EVENTS)
    for name in HEALTH_EVENTS:
        hand_picked = Webhook("wh_1", "num_A", "n", "https://x.example", [name, "message.sent"], "s")
        everything = Webhook("wh_2", "num_A", "n", "https://x.example", [ALL_EVENTS], "s")
        assert not hand_picked.wants(name) and everything.wants(name)
        assert hand_picked.wants("message.sent")


def test_every_health_event_moves_the_numbers_health() -> None:
    for name in HEALTH_EVENTS:
        body = {"event": name, "data": {"numberId": "num_A", "createdAt": "2026-03-01T12:00:00Z"}}
        seen = observe_event(body, 0.0)
        assert seen is not None and seen.kind == HEALTH, name


def test_the_cli_warns_about_a_hand_picked_event_that_will_never_arrive() -> None:
    # cli_webhooks warns "a typo?" for any name outside KNOWN_EVENTS.
    assert {name for _, events in PICKER_GROUPS for name, _ in events} | {ALL_EVENTS} == KNOWN_EVENTS
    assert not KNOWN_EVENTS & set(HEALTH_EVENTS)


@pytest.mark.parametrize("provider", sorted(DOCUMENTED_NOT_EMITTED))
def test_not_emitted_by_is_what_the_docs_say(provider: str) -> None:
    assert not_emitted_by(provider) == DOCUMENTED_NOT_EMITTED[provider]
    assert not_emitted_by("SOMETHING_NEW") == frozenset()  # unknown provider: drop nothing
    assert set(catalogue.PROVIDERS) == set(DOCUMENTED_NOT_EMITTED)


async def test_the_sandbox_keeps_exactly_what_the_numbers_provider_can_deliver() -> None:
    sandbox = Sandbox(seed=7, numbers=2, rate=0.01)
    await sandbox.start()
    try:
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as api:
            kept = {}
            for number in sandbox.numbers:
                body = {"url": "https://example.com/h", "events": [*EVENTS, "number.health_new"]}
                headers = {"x-api-key": sandbox.number_keys[number.id]}
                r = await api.post("/v1/webhooks", headers=headers, json=body)
                assert r.status_code == 201, r.text
                kept[number.provider] = set(r.json()["events"])
    finally:
        await sandbox.stop(drain_timeout=0)
    assert set(kept) == set(DOCUMENTED_NOT_EMITTED)  # one number of each provider
    for provider, events in kept.items():
        dropped = set(EVENTS) - events
        assert dropped == DOCUMENTED_NOT_EMITTED[provider] | set(HEALTH_EVENTS), provider

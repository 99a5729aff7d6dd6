"""What is wrong with one expected webhook as the platform has it now (services/drift.py's
rules: deleted, paused, repointed, events_changed, events_dropped), one sentence each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import Names, number_line
from pilot_desktop.services.expected import drop_explained, dropped, is_mine
from pilot_desktop.services.state import ExpectedWebhook
from pilot_desktop.services.webhooks import describe_events


@dataclass(frozen=True)
class Finding:
    kind: str
    webhook_id: str
    number_id: str
    sentence: str
    detail: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.webhook_id}"


def _form(hook: Webhook | ExpectedWebhook) -> dict[str, Any]:
    return {"url": hook.url, "active": hook.active, "events": list(hook.events)}


def judge(
    webhook_id: str, exp: ExpectedWebhook, found: Webhook | None, token: str, names: Names
) -> list[Finding]:
    """What is wrong with one expected webhook, as the platform has it now (None: not listed)."""
    hook_of = f"webhook {webhook_id} of number {number_line(exp.number_id, names)}"
    who = hook_of[0].upper() + hook_of[1:]
    expected = {**_form(exp), "asked": list(exp.asked)}
    out: list[Finding] = []

    def add(kind: str, sentence: str, **detail: Any) -> None:
        out.append(Finding(kind, webhook_id, exp.number_id, sentence, {"expected": expected, **detail}))

    if found is None:
        add(
            "deleted",
            f"{who} was deleted on the platform; this app expected it delivering "
            f"{describe_events(exp.events)} to {exp.url}. Create it again with `pilot-desktop webhooks "
            "subscribe-all` (and store its new signing secret), or accept the finding.",
            found=None,
        )
        return out
    now = _form(found)
    if exp.active and not found.active:
        add(
            "paused",
            f"{who} was paused on the platform: nothing is delivered to this app until it is "
            "resumed. This app expected it active.",
            found=now,
        )
    if is_mine(exp.url, token) and not is_mine(found.url, token):
        add(
            "repointed",
            f"{who} now delivers to {found.url}, no longer to this app (expected {exp.url}).",
            found=now,
        )
    if set(found.events) != set(exp.events):
        added = sorted(set(found.events) - set(exp.events))
        removed = sorted(set(exp.events) - set(found.events))
        change = "; ".join(
            part
            for part in (
                f"added {', '.join(added)}" if added else "",
                f"removed {', '.join(removed)}" if removed else "",
            )
            if part
        )
        add(
            "events_changed",
            f"The events of {hook_of} were changed on the platform: "
            f"expected {describe_events(exp.events)}, found {describe_events(found.events)} ({change}).",
            found=now,
        )
    if names_dropped := dropped(exp.asked, exp.events):
        provider, why = drop_explained(names_dropped)
        reasons = "; ".join(f"{n}: {r}" for n, r in why.items())
        add(
            "events_dropped",
            f"Pilot Status dropped {', '.join(names_dropped)} from {hook_of}, "
            f"so {'it is' if len(names_dropped) == 1 else 'they are'} never delivered: {reasons}.",
            found=now,
            dropped=why,
            provider=provider,
        )
    return out

""" "Subscribe all numbers to this app": one `"*"` webhook per number of every account.

For each number: a webhook of this app already delivering every event here is kept; this
app's webhooks on an older public URL (same token) are re-pointed; otherwise one webhook is
created with all events at this app's URL for the number. Webhooks pointing at other
systems are left alone (the step's reason names them). Planned first (the preview), then
applied: each change is recorded as expected (the drift audit), in the URL history
(`UrlMark` kind "registered", source "subscribe_all"), and each created webhook's signing
secret, which the platform never returns, is asked for (`secret_for`). One number's failure
never stops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Webhook
from pilot_desktop.core.catalogue import ALL_EVENTS
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.config import SettingsError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.state import Account, AccountNumber
from pilot_desktop.services.webhook_admin import NO_ACCOUNTS, AdminError, WebhookAdmin
from pilot_desktop.services.webhooks import Change, Target, route_of
from pilot_desktop.store.watch_records import UrlMark
from pilot_desktop.tunnel.public_url import hook_url

log = logging.getLogger(__name__)

NAME = "Pilot Desktop"
Action = Literal["create", "repoint", "keep"]
SecretFor = Callable[[Webhook], Awaitable[str | None]]
Submit = Callable[[Any], Awaitable[object]]
# What one number's step can fail with; anything else is a bug and goes up.
STEP_ERRORS = (ApiError, AccountError, AdminError, SecretsError, SettingsError, ValueError)
UNSIGNED = (
    "no signing secret stored for {ids}: this app accepts their deliveries unsigned (unless another "
    "stored secret protects their number); store each with `pilot-desktop webhooks update ID --secret-stdin`"
)


@dataclass(frozen=True)
class SubscribeStep:
    account: Account
    number: AccountNumber
    action: Action
    webhook: Webhook | None  # the webhook kept or re-pointed; None for create
    new_url: str
    reason: str


@dataclass(frozen=True)
class SubscribePlan:
    target: Target
    steps: list[SubscribeStep]
    failures: list[tuple[AccountNumber, str]]  # numbers whose webhooks could not be listed


@dataclass(frozen=True)
class Outcome:
    """What became of one step, in the order applied."""

    step: SubscribeStep
    webhook: Webhook | None
    sentence: str
    error: str | None = None
    secret_stored: bool | None = None  # created: whether its signing secret is stored


@dataclass
class SubscribeResult:
    outcomes: list[Outcome] = field(default_factory=list)
    created: list[tuple[SubscribeStep, Webhook]] = field(default_factory=list)
    repointed: list[tuple[SubscribeStep, Webhook]] = field(default_factory=list)
    kept: list[SubscribeStep] = field(default_factory=list)
    failed: list[tuple[SubscribeStep, str]] = field(default_factory=list)
    unsigned: list[Webhook] = field(default_factory=list)  # created, no secret stored
    notes: list[str] = field(default_factory=list)


def _others(hooks: Sequence[Webhook], token: str) -> str:
    others = [h for h in hooks if route_of(h.url, token) is None]
    if not others:
        return ""
    where = ", ".join(sorted({h.url for h in others}))
    return f"; {len(others)} webhook(s) of other systems left alone ({where})"


def plan_number(
    account: Account, number: AccountNumber, hooks: Sequence[Webhook], target: Target
) -> list[SubscribeStep]:
    """The steps for one number, from its webhooks as listed now."""
    token = target.token
    here = [h for h in hooks if target.points_here(h.url)]
    old = [h for h in hooks if route_of(h.url, token) is not None and not target.points_here(h.url)]
    others = _others(hooks, token)
    steps = [
        SubscribeStep(
            account,
            number,
            "repoint",
            h,
            hook_url(target.public_url, token, route)
            if (route := route_of(h.url, token))
            else target.bare_url,
            f"an old address of this app (the public URL changed){others}",
        )
        for h in old
    ]
    if here:
        hook = next((h for h in here if ALL_EVENTS in h.events), here[0])
        reason = (
            "already delivers every event to this app"
            if ALL_EVENTS in hook.events
            else (
                f"already delivers {', '.join(hook.events) or 'nothing'} to this app; left as chosen "
                f"(all events: `pilot-desktop webhooks update {hook.id} --all-events`)"
            )
        )
        steps.insert(0, SubscribeStep(account, number, "keep", hook, hook.url, reason + others))
    elif not old:
        reason = "no webhook of this app" + others
        steps.append(SubscribeStep(account, number, "create", None, target.url_for(number.id), reason))
    return steps


async def plan_subscribe_all(admin: WebhookAdmin) -> SubscribePlan:
    """The preview: every number of every account, each listed with its best account."""
    target = admin.target()
    if target is None:
        raise AdminError(
            "Set the public URL first (or start the tunnel): webhooks are pointed at it.", usage=True
        )
    pairs = admin.accounts.numbers()
    if not pairs:
        raise AdminError(NO_ACCOUNTS)
    steps: list[SubscribeStep] = []
    failures: list[tuple[AccountNumber, str]] = []
    for account, number in pairs:
        try:
            async with admin.accounts.client(account, number.id) as client:
                listed = await client.list_webhooks()
        except (ApiError, AccountError) as exc:
            failures.append((number, str(exc)))
            continue
        hooks = [h for h in listed if h.number_id in (None, number.id)]
        admin.note_routes(hooks)
        steps.extend(plan_number(account, number, hooks, target))
    return SubscribePlan(target, steps, failures)


async def apply_subscribe_all(
    admin: WebhookAdmin,
    steps: Sequence[SubscribeStep],
    secret_for: SecretFor | None = None,
    submit: Submit | None = None,
) -> SubscribeResult:
    """Carry out the preview's steps; each number's failure is collected, never stops the rest.
    `secret_for(webhook)`: the signing secret of a webhook just created (None: none stored)."""
    result = SubscribeResult()
    for step in steps:
        try:
            outcome = await _apply(admin, step, secret_for, submit, result)
        except STEP_ERRORS as exc:
            result.failed.append((step, str(exc)))
            outcome = Outcome(step, None, f"failed: {exc}", error=str(exc))
        result.outcomes.append(outcome)
    if result.unsigned:
        result.notes.append(UNSIGNED.format(ids=", ".join(h.id for h in result.unsigned)))
    return result


async def _apply(
    admin: WebhookAdmin,
    step: SubscribeStep,
    secret_for: SecretFor | None,
    submit: Submit | None,
    result: SubscribeResult,
) -> Outcome:
    if step.action == "keep":
        assert step.webhook is not None
        if admin.expected.get(step.webhook.id) is None:
            admin.expected.record(step.webhook, step.number.id)
        result.kept.append(step)
        return Outcome(step, step.webhook, "kept: " + step.reason)
    old_url: str | None = None
    stored: bool | None = None
    if step.action == "repoint":
        assert step.webhook is not None
        old_url = step.webhook.url.split("/hooks/", 1)[0]  # the public URL it was registered at
        hook = await admin.retarget(Change(step.number.id, step.webhook, step.new_url, True, step.reason))
        result.repointed.append((step, hook))
        sentence = f"re-pointed {hook.id} to this app"
    else:
        hook, notes = await admin.create(step.number.id, [ALL_EVENTS], url=step.new_url, name=NAME)
        result.created.append((step, hook))
        result.notes.extend(n for n in notes if not n.startswith("signing secret stored"))
        if not admin.signing.has(hook.id):  # the demo's console already gave it
            secret = await secret_for(hook) if secret_for is not None else None
            if secret:
                admin.store_secret(hook, secret)
            else:
                result.unsigned.append(hook)
        stored = admin.signing.has(hook.id)
        sentence = f"created {hook.id}, all events" + ("" if stored else "; no signing secret stored")
    await _record(admin, step, hook, old_url, submit)
    return Outcome(step, hook, sentence, secret_stored=stored)


async def _record(
    admin: WebhookAdmin, step: SubscribeStep, hook: Webhook, old_url: str | None, submit: Submit | None
) -> None:
    """The URL history's line for a webhook registered at this app's public URL."""
    target = admin.target()
    if submit is None:
        return
    mark = UrlMark(
        at=time.time(),
        kind="registered",
        public_url=target.public_url if target is not None else None,
        source="subscribe_all",
        webhook_id=hook.id,
        number_id=step.number.id,
        old_url=old_url,
        detail=step.reason,
    )
    try:
        await submit(mark)
    except Exception as exc:  # the history misses a line; the webhook is made all the same
        log.warning("URL history not recorded for webhook %s: %s", hook.id, exc)

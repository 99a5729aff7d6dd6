"""The webhooks this app expects on the platform (state `expected_webhooks`).

Every change made through WebhookAdmin (create, update, pause/resume, delete, retarget) and
"subscribe all" records the webhook as the platform returned it, with the events the app
asked for (the platform may drop some, api §1.2). The drift audit (services/drift.py)
compares the platform's webhooks with these. Only webhooks of this app are expected: their
URL carries this receiver's token (`/hooks/<token>/...`), on the current public URL or an
older one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from pilot_desktop.api.models import Webhook
from pilot_desktop.core.catalogue import PROVIDER_NAMES, drop_reason, provider_dropping
from pilot_desktop.services.config import Config
from pilot_desktop.services.state import ExpectedWebhook
from pilot_desktop.services.webhooks import route_of


def is_mine(url: str, token: str) -> bool:
    """A hook URL of this app: its token, on the current public URL or an older one."""
    return route_of(url, token) is not None


def dropped(asked: Sequence[str], returned: Sequence[str]) -> list[str]:
    """The names asked for that the platform did not keep, in the order asked."""
    kept = set(returned)
    return [name for name in dict.fromkeys(asked) if name not in kept]


def drop_explained(names: Sequence[str], provider: str | None = None) -> tuple[str | None, dict[str, str]]:
    """The provider the drop names (given, else the one whose numbers cannot emit any of
    them) and, per dropped name, why the platform dropped it."""
    provider = provider or provider_dropping({n for n in names if drop_reason(n, None) is None})
    why = {n: drop_reason(n, provider) or "for a reason the platform does not document" for n in names}
    return provider, why


def drop_note(asked: Sequence[str], returned: Sequence[str]) -> str | None:
    """One sentence for the operator when the platform dropped asked-for events."""
    names = dropped(asked, returned)
    if not names:
        return None
    provider, why = drop_explained(names)
    kind = f" (the number is {PROVIDER_NAMES[provider]})" if provider else ""
    reasons = "; ".join(f"{n}: {r}" for n, r in why.items())
    return f"Pilot Status dropped {len(names)} of the events asked for{kind}: {reasons}."


class Expectations:
    """The expected webhooks in the profile's state document (shared by every process of
    the profile: each change re-reads the file under the config lock)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @property
    def token(self) -> str:
        return self.config.state.value.token

    def all(self) -> Mapping[str, ExpectedWebhook]:
        return self.config.state.value.expected_webhooks

    def get(self, webhook_id: str) -> ExpectedWebhook | None:
        return self.config.state.value.expected_webhooks.get(webhook_id)

    def form(self, hook: Webhook, number_id: str, asked: Sequence[str] | None = None) -> ExpectedWebhook:
        """The expectation for `hook` as the platform returned it; `asked` None keeps what
        was asked before when the returned events did not change, else takes them."""
        before = self.get(hook.id)
        if asked is None:
            same = before is not None and sorted(before.events) == sorted(hook.events)
            asked = before.asked if same and before is not None else hook.events
        return ExpectedWebhook(
            number_id=number_id,
            url=hook.url,
            active=hook.active,
            events=list(hook.events),
            asked=list(asked),
            at=time.time(),
        )

    def record(self, hook: Webhook, number_id: str | None, asked: Sequence[str] | None = None) -> None:
        """After the app made or changed `hook`: expect it as returned; a webhook no longer
        pointing at this app is no longer expected."""
        number = hook.number_id or number_id
        if number is None or not is_mine(hook.url, self.token):
            self.forget([hook.id])
            return
        self.put({hook.id: self.form(hook, number, asked)})

    def put(self, forms: Mapping[str, ExpectedWebhook]) -> None:
        if forms:
            self.config.state.update(lambda s: {"expected_webhooks": {**s.expected_webhooks, **forms}})

    def forget(self, webhook_ids: Iterable[str]) -> None:
        gone = set(webhook_ids)
        if gone & set(self.all()):
            self.config.state.update(
                lambda s: {
                    "expected_webhooks": {k: v for k, v in s.expected_webhooks.items() if k not in gone}
                }
            )

"""Webhook administration: the use cases the Webhooks pane and the CLI both call.

List, create, update, pause/resume, delete, retarget and compare delivery logs, with the
signing-secret and route bookkeeping each implies and the warnings an operator needs
("deliveries would be refused"). Each returns what happened; the caller shows it (the CLI
prints, the pane draws). Errors: ApiError (the platform's sentence and code), AccountError,
SecretsError, SettingsError, and AdminError for a request that cannot be carried out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pilot_desktop.api.client import PilotClient
from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Webhook
from pilot_desktop.core.format import Names, number_line
from pilot_desktop.services import number_lookup
from pilot_desktop.services.accounts import AccountError, Accounts
from pilot_desktop.services.config import Config
from pilot_desktop.services.expected import Expectations, drop_note
from pilot_desktop.services.signing import SigningSecrets, where
from pilot_desktop.services.state import Account, AccountNumber
from pilot_desktop.services.webhook_logs import LogComparison, compare_logs
from pilot_desktop.services.webhooks import Change, Target, plan_retarget, route_of, set_public_url, target_of
from pilot_desktop.store.reads import Reads

log = logging.getLogger(__name__)

SET_PUBLIC_URL = "pilot-desktop public-url https://your-tunnel.example.com"
NO_ACCOUNTS = "No accounts yet: add an API key with `pilot-desktop accounts add` (the key on stdin)."
MAX_LOGS = 50  # the platform's limit per request (docs/pilot-status-api.md §2.7)


class AdminError(Exception):
    """The request cannot be carried out as asked; `usage` when the asker must change it."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Located:
    """A webhook and the account able to act on it."""

    account: Account
    number_id: str | None
    hook: Webhook


@dataclass
class Listing:
    hooks: list[tuple[Webhook, str]] = field(default_factory=list)  # with its number id
    failures: list[tuple[AccountNumber, ApiError | AccountError]] = field(default_factory=list)


class WebhookAdmin:
    def __init__(
        self,
        config: Config,
        accounts: Accounts,
        signing: SigningSecrets,
        reads: Callable[[], Reads | None] = lambda: None,
        *,
        demo_secret: Callable[[str], str | None] | None = None,
    ) -> None:
        """`demo_secret(webhook_id)`: the demo sandbox's console, standing in for copying a
        new webhook's secret from the dashboard."""
        self.config = config
        self.accounts = accounts
        self.signing = signing
        self._reads = reads
        self.demo_secret = demo_secret
        self.expected = Expectations(config)  # what the drift audit compares the platform with
        # This run's tunnel mode when it overrides the settings' (serve --tunnel; the core sets it).
        self.tunnel_mode: Callable[[], str | None] = lambda: None

    # -- where this app receives ---------------------------------------------------------------
    @property
    def token(self) -> str:
        return self.config.state.value.token

    def target(self) -> Target | None:
        return target_of(self.config, self.tunnel_mode())

    def route(self, hook: Webhook) -> str | None:
        """The route the webhook's URL names on this app's receiver ("" bare, None elsewhere)."""
        return route_of(hook.url, self.token)

    def points_here(self, url: str) -> bool:
        target = self.target()
        return target is not None and target.points_here(url)

    def set_public_url(self, text: str | None) -> str | None:
        """Save the tunnel's public base URL (None or "" forgets it). ValueError names the problem."""
        return set_public_url(self.config, text)

    def default_url(self, number_id: str | None) -> str:
        target = self.target()
        if target is None:
            raise AdminError(
                "No public URL set, so this app's hook URL is unknown. Set the tunnel's address first: "
                f"{SET_PUBLIC_URL} (or give --url).",
                usage=True,
            )
        if not number_id:
            raise AdminError(
                "This webhook has no number, so it has no hook URL of this app; give --url.", usage=True
            )
        return target.url_for(number_id)

    # -- numbers -----------------------------------------------------------------------------------
    def names(self) -> Names:
        """(name, phone) of every number the accounts know, for core.format's labels."""
        return {n.id: (n.name or None, n.phone or None) for _, n in self.accounts.numbers()}

    def find_number(self, text: str) -> tuple[Account, AccountNumber]:
        """By id, phone (national too) or unique name among the numbers the accounts can act
        on (services/number_lookup.py: the one reading of `-n`)."""
        pairs = self.accounts.numbers()
        if not self.accounts.all:
            raise AdminError(NO_ACCOUNTS)
        known = [number_lookup.KnownNumber(n.id, n.name or None, n.phone or None) for _, n in pairs]
        try:
            found = number_lookup.find(text, known)
        except number_lookup.NumberLookupError as exc:
            if exc.usage:  # ambiguous or empty: the text is wrong, not the accounts
                raise AdminError(str(exc), usage=True) from None
            names = self.names()
            listed = ", ".join(number_line(n.id, names) for _, n in pairs) or "none"
            raise AdminError(
                f"No account can act on number '{text}' (known: {listed}). Add its API key or the tenant "
                "key (pilot-desktop accounts add), or re-read the numbers (pilot-desktop accounts refresh)."
            ) from None
        return next((a, n) for a, n in pairs if n.id == found.id)

    def client(self, located: Located) -> PilotClient:
        return self.accounts.client(located.account, located.number_id)

    # -- reading ------------------------------------------------------------------------------------
    async def list_number(self, number_id: str) -> list[Webhook]:
        async with self.accounts.client_for_number(number_id) as client:
            hooks = [h for h in await client.list_webhooks() if h.number_id in (None, number_id)]
        self.note_routes(hooks)
        return hooks

    async def list_all(self, number: str | None = None) -> Listing:
        """Every number's webhooks (or one number's), each once; a number whose list fails
        is reported, the others still listed."""
        if not self.accounts.all:
            raise AdminError(NO_ACCOUNTS)
        pairs = [self.find_number(number)] if number is not None else self.accounts.numbers()
        out, seen = Listing(), set[str]()
        for account, num in pairs:
            try:
                async with self.accounts.client(account, num.id) as client:
                    hooks = await client.list_webhooks()
            except (ApiError, AccountError) as exc:  # one number's failure: the others still listed
                out.failures.append((num, exc))
                continue
            for hook in hooks:
                if hook.number_id in (None, num.id) and hook.id not in seen:
                    seen.add(hook.id)
                    out.hooks.append((hook, hook.number_id or num.id))
        self.note_routes(h for h, _ in out.hooks)  # a secret stored before v3 gets its route
        return out

    async def fill_routes(self) -> None:
        """Read every number's webhooks once, to give each stored secret its webhook's route."""
        for _, number in self.accounts.numbers():
            try:
                await self.list_number(number.id)
            except Exception as exc:  # a number we cannot read keeps its secret checking everywhere
                log.info("routes of the signing secrets of number %s not read: %s", number.id, exc)

    async def locate(self, webhook_id: str, number: str | None = None) -> Located:
        """The webhook and an account able to act on it: on the given number, else searched
        in every account's list (the tenant key's first: one request sees every number)."""
        if number is not None:
            account, num = self.find_number(number)
            try:
                async with self.accounts.client(account, num.id) as client:
                    return Located(account, num.id, await client.get_webhook(webhook_id))
            except ApiError as exc:
                if exc.code != "WEBHOOK_NOT_FOUND":
                    raise
                # Not on that number: on another one, the asker named the wrong number.
                found, _ = await self._search(webhook_id)
                if found is None or found.number_id in (None, num.id):
                    raise
                names = self.names()
                raise AdminError(
                    f"Webhook {webhook_id} is on number {number_line(found.number_id, names)}, not on "
                    f"{number_line(num.id, names)}: name that number, or none to have it searched.",
                    usage=True,
                ) from None
        found, failures = await self._search(webhook_id)
        if found is not None:
            return found
        if failures:
            raise failures[0]  # the search was incomplete: that is the error to show
        # In no list: ask the platform, so the error is its own (WEBHOOK_NOT_FOUND).
        first = self._accounts()[0]
        async with self.accounts.client(first) as client:
            hook = await client.get_webhook(webhook_id)
        return Located(first, hook.number_id, hook)

    def _accounts(self) -> list[Account]:
        """Every account, the tenant keys first (one request sees every number)."""
        accounts = sorted(self.accounts.all, key=lambda a: a.scope != "tenant")
        if not accounts:
            raise AdminError(NO_ACCOUNTS)
        return accounts

    async def _search(self, webhook_id: str) -> tuple[Located | None, list[ApiError]]:
        """The webhook as found in the accounts' lists, and the lists that could not be read."""
        failures: list[ApiError] = []
        for account in self._accounts():
            try:
                async with self.accounts.client(account) as client:
                    hooks = await client.list_webhooks()
            except ApiError as exc:
                failures.append(exc)
                continue
            for hook in hooks:
                if hook.id == webhook_id:
                    return Located(account, hook.number_id, hook), failures
        return None, failures

    async def logs(
        self, located: Located, *, limit: int = MAX_LOGS, event: str | None = None
    ) -> LogComparison:
        """The platform's last deliveries beside what this app stored for the webhook's route."""
        if not 1 <= limit <= MAX_LOGS:
            raise AdminError(f"--limit must be 1-{MAX_LOGS}, got {limit}", usage=True)
        async with self.client(located) as client:
            entries = await client.webhook_logs(located.hook.id, limit=limit, event=event)
        self.note_routes([located.hook])
        return await compare_logs(self._reads(), entries, self.route(located.hook) or None)

    # -- changing --------------------------------------------------------------------------------------
    async def create(
        self,
        number_id: str,
        events: list[str],
        *,
        url: str | None = None,
        name: str | None = None,
        active: bool = True,
        secret: str | None = None,
    ) -> tuple[Webhook, list[str]]:
        """A webhook (default URL: this app's for the number); its secret stored. Returns it
        and notes for the operator."""
        url = url or self.default_url(number_id)
        here = self.points_here(url)
        if name is None and here:
            number = self.accounts.number(number_id)
            name = f"Pilot Desktop ({(number.name if number else '') or number_id})"
        async with self.accounts.client_for_number(number_id) as client:
            hook = await client.create_webhook(url, events, name=name, active=active)
        self.expected.record(hook, number_id, events)
        if secret is None and self.demo_secret is not None:
            secret = self.demo_secret(hook.id)
        notes = self.store_secret(hook, secret) if secret else []
        if here:
            self.config.mark_real_receiver()
        dropped = drop_note(events, hook.events)
        return hook, notes + ([dropped] if dropped else []) + self.refused_notes([hook])

    async def update(
        self,
        located: Located,
        *,
        name: str | None = None,
        url: str | None = None,
        here: bool = False,
        events: list[str] | None = None,
        active: bool | None = None,
        secret: str | None = None,
        forget_secret: bool = False,
    ) -> tuple[Webhook, list[str]]:
        """Change what is given (events replace the whole list) and the secret bookkeeping:
        a new secret is stored, a forgotten one deleted, a moved URL moves its secret's route."""
        if here:
            url = self.default_url(located.number_id)
        hook = located.hook
        if name is not None or url or events is not None or active is not None:
            async with self.client(located) as client:
                hook = await client.update_webhook(hook.id, name=name, url=url, events=events, active=active)
            self.expected.record(hook, located.number_id, events)
        notes: list[str] = [note] if events is not None and (note := drop_note(events, hook.events)) else []
        if secret:
            notes += self.store_secret(hook, secret)
        elif forget_secret:
            self.signing.forget(hook.id)
        else:
            self.note_routes([hook])
        if url and self.points_here(url):
            self.config.mark_real_receiver()
        return hook, notes + self.refused_notes([hook])

    async def set_active(self, located: Located, active: bool) -> Webhook:
        return (await self.update(located, active=active))[0]

    async def delete(self, located: Located) -> None:
        async with self.client(located) as client:
            await client.delete_webhook(located.hook.id)
        self.expected.forget([located.hook.id])
        if self.signing.has(located.hook.id):
            self.signing.forget(located.hook.id)

    def forget_secret(self, webhook_id: str) -> None:
        """Local only: the webhook may already be gone from the platform."""
        self.signing.forget(webhook_id)

    async def plan_point_all(self) -> list[Change]:
        """The preview of "point all my webhooks at this app" (every number's webhooks)."""
        target = self.target()
        if target is None:
            raise AdminError("Set and save the public URL first: webhooks are pointed at it.", usage=True)
        hooks: list[Webhook] = []
        for _, number in self.accounts.numbers():
            hooks.extend(await self.list_number(number.id))
        return plan_retarget(hooks, target)

    async def retarget(self, change: Change) -> Webhook:
        async with self.accounts.client_for_number(change.number_id) as client:
            updated = await client.update_webhook(change.webhook.id, url=change.new_url)
        self.expected.record(updated, change.number_id)  # the Repointer moves webhooks through here
        self.note_routes([updated])  # its stored secret now checks the new route
        return updated

    # -- secrets and warnings ------------------------------------------------------------------------
    def note_routes(self, hooks: Iterable[Webhook]) -> None:
        """Keep the route of each stored secret in step with its webhook's URL as read now."""
        self.signing.note_routes({h.id: self.route(h) for h in hooks})

    def store_secret(self, hook: Webhook, secret: str) -> list[str]:
        route = self.route(hook)
        self.signing.set(hook.id, secret, route)
        if route is None:
            return [
                "signing secret stored, but this webhook does not point at this app, so this app's "
                "receiver does not check it (until the webhook is pointed here)"
            ]
        return [
            f"signing secret stored; this app's receiver (a running serve too) now checks deliveries "
            f"to {where(route)} and refuses with 401 those unsigned or signed with another secret. "
            "Deliveries to routes without a stored secret are still accepted unsigned, unless they "
            "name a number (or its messages) that a stored secret protects."
        ]

    def checked(self, hook: Webhook) -> bool:
        """This webhook's deliveries are checked (and refused without the right signature)."""
        route = self.route(hook)
        return route is not None and self.signing.checks(route or None)

    def refused(self, hooks: Sequence[Webhook]) -> list[Webhook]:
        """Webhooks pointing here (their deliveries arrive here) without a stored secret, at a
        route another secret checks (two webhooks sharing a route, or a secret for every
        route): their deliveries get 401."""
        return [
            h for h in hooks if self.points_here(h.url) and not self.signing.has(h.id) and self.checked(h)
        ]

    def refused_notes(self, hooks: Sequence[Webhook]) -> list[str]:
        return [
            f"webhook {h.id} ({h.name}) has no stored signing secret, but another webhook's secret "
            f"checks {where(self.route(h) or '')}, so this app refuses its deliveries with 401. "
            f"Store its secret: pilot-desktop webhooks update {h.id} --secret-stdin"
            for h in self.refused(hooks)
        ]

    def unrouted_note(self) -> str | None:
        unrouted = self.signing.unrouted()
        if not unrouted:
            return None
        # Read everything, and still unknown: webhooks deleted on the platform (or of a removed
        # account). Their secrets keep checking every route until forgotten.
        return (
            f"the stored signing secret(s) of {', '.join(unrouted)} belong to no webhook listed "
            "here, so they check every route of this app; forget each with: "
            "pilot-desktop webhooks update ID --forget-secret"
        )

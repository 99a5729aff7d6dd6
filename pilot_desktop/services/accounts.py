"""Accounts: API keys the operator added, their scope and numbers, and signing secrets.

Adding a key detects what it is. A number-scoped key is bound to one number; the tenant
key sees every number. The probe is a read that both accept and answer differently:
`GET /v1/messages/<nonexistent>` is per-number, so the tenant key gets 403
`TENANT_SCOPE_NOT_ALLOWED` and a number key 404 (api §6). Nothing is created.
"""

from __future__ import annotations

import logging
import secrets as pysecrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pilot_desktop.api.client import DEFAULT_BASE_URL, PilotClient
from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Number
from pilot_desktop.services.secrets import SecretStore
from pilot_desktop.services.settings import Account, AccountNumber, Settings

log = logging.getLogger(__name__)

SCOPE_PROBE_ID = "pilot-desktop-scope-probe"


class AccountError(Exception):
    """Adding or using an account failed; the message is for the operator."""


@dataclass(frozen=True)
class Detected:
    scope: str  # tenant | number
    numbers: list[Number]


async def detect(client: PilotClient) -> Detected:
    """Scope and numbers of the client's key. Raises ApiError (401 for a bad key)."""
    try:
        await client.get_message(SCOPE_PROBE_ID)
        scope = "number"  # a message with that id would be odd, but it proves a number scope
    except ApiError as exc:
        if exc.status == 403:
            scope = "tenant"
        elif exc.status == 404:
            scope = "number"
        else:
            raise
    try:
        numbers = await client.list_numbers()
    except ApiError as exc:
        if exc.status != 403:  # C5: some backends keep /v1/numbers for the tenant key
            raise
        hooks = await client.list_webhooks()
        ids = sorted({h.number_id for h in hooks if h.number_id})
        numbers = [Number(id=i) for i in ids]
    return Detected(scope, numbers)


def _account_numbers(numbers: Sequence[Number]) -> list[AccountNumber]:
    return [AccountNumber(id=n.id, name=n.name, phone=n.phone) for n in numbers]


ClientFactory = Callable[..., PilotClient]


class Accounts:
    """The accounts of one profile. Settings changes are saved through `save`."""

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        save: Callable[[Settings], None],
        *,
        client_factory: ClientFactory = PilotClient,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self._save = save
        self._client_factory = client_factory
        self._signing: tuple[dict[str, list[str]], list[str]] | None = None

    def save(self) -> None:
        self._save(self.settings)

    # -- accounts ---------------------------------------------------------------------------
    @property
    def all(self) -> list[Account]:
        return list(self.settings.accounts)

    def client(self, account: Account, number_id: str | None = None) -> PilotClient:
        key = self.secrets.get(account.key_ref)
        if not key:
            raise AccountError(
                f"The API key of account '{account.label or account.id}' is missing from "
                f"{self.secrets.backend}; remove the account and add the key again."
            )
        # A number-scoped key already names its number; the header is for the tenant key.
        scoped = number_id if account.scope == "tenant" else None
        return self._client_factory(key, base_url=account.base_url, number_id=scoped)

    async def add(self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, label: str = "") -> Account:
        api_key = api_key.strip()
        if not api_key:
            raise AccountError("Paste an API key (it starts with ps_).")
        base = Account(id="probe", scope="tenant", base_url=base_url).base_url  # validates the URL
        async with self._client_factory(api_key, base_url=base) as client:
            found = await detect(client)
        for existing in self.settings.accounts:
            if existing.base_url == base and self.secrets.get(existing.key_ref) == api_key:
                raise AccountError(f"This key is already added as '{existing.label or existing.id}'.")
        account = Account(
            id=f"acc_{pysecrets.token_hex(6)}",
            label=label.strip() or _default_label(found),
            base_url=base,
            scope=found.scope,
            numbers=_account_numbers(found.numbers),
        )
        self.secrets.set(account.key_ref, api_key)
        self.settings.accounts = [*self.settings.accounts, account]
        self.settings.real_receiver = True  # an account means real traffic: no demo next launch
        self._save(self.settings)
        log.info("account %s added (%s key, %d numbers)", account.id, account.scope, len(account.numbers))
        return account

    async def refresh(self, account: Account) -> Account:
        """Re-read the account's numbers (a number may have been added or removed)."""
        async with self.client(account) as client:
            found = await detect(client)
        numbers = _account_numbers(found.numbers)
        updated = account.model_copy(update={"numbers": numbers, "scope": found.scope})
        self.settings.accounts = [updated if a.id == account.id else a for a in self.settings.accounts]
        self._save(self.settings)
        return updated

    def remove(self, account_id: str) -> None:
        account = next((a for a in self.settings.accounts if a.id == account_id), None)
        if account is None:
            return
        self.secrets.delete(account.key_ref)
        self.settings.accounts = [a for a in self.settings.accounts if a.id != account_id]
        self._save(self.settings)

    def numbers(self) -> list[tuple[Account, AccountNumber]]:
        """Every number once, with the account best placed to act on it: its own
        number-scoped key first, else a tenant key (with the number header)."""
        chosen: dict[str, tuple[Account, AccountNumber]] = {}
        for account in self.settings.accounts:
            for number in account.numbers:
                current = chosen.get(number.id)
                if current is None or (current[0].scope == "tenant" and account.scope == "number"):
                    chosen[number.id] = (account, number)
        return sorted(chosen.values(), key=lambda pair: (pair[1].name.lower(), pair[1].id))

    def client_for_number(self, number_id: str) -> PilotClient:
        for account, number in self.numbers():
            if number.id == number_id:
                return self.client(account, number_id)
        raise AccountError(f"No account can act on number {number_id}; add its API key or the tenant key.")

    # -- signing secrets ---------------------------------------------------------------------
    # Each webhook's secret checks the deliveries of the route its URL names (managed webhooks
    # point at <public>/hooks/<token>/<number id>). A route without one accepts unsigned
    # deliveries, so a webhook stored without a secret is never refused because another has
    # one, unless they share a route.
    def signing_secrets(self, route: str | None) -> list[str]:
        """The stored secrets checking a delivery to `route` (None: the bare hook URL): those
        of the webhooks whose URL names it, and those whose route is not known yet (stored
        before settings v3), in the order they were stored. Read once, then from memory (the
        receiver asks on every request, and keyrings are slow)."""
        by_route, everywhere = self._signing_map()
        return by_route.get(route or "", everywhere)

    def signing_routes(self) -> SigningRoutes:
        """Which routes the stored secrets check, for messages (never the secrets)."""
        by_route, everywhere = self._signing_map()
        routes = {route: len(values) - len(everywhere) for route, values in by_route.items()}
        return SigningRoutes(routes, len(everywhere))

    def _signing_map(self) -> tuple[dict[str, list[str]], list[str]]:
        # Keyed by the routes of stored secrets only: a request's route picks a list, it never
        # adds an entry (the route comes from whoever sends the request).
        if self._signing is None:
            routes = self.settings.signing_secret_routes
            stored: list[tuple[bool, str | None, str]] = []
            for webhook_id in self.settings.signing_secret_webhooks:
                value = self.secrets.get(_secret_ref(webhook_id))
                if value:
                    stored.append((webhook_id in routes, routes.get(webhook_id), value))
            everywhere = [value for known, _, value in stored if not known]
            by_route = {
                route: [value for known, r, value in stored if not known or r == route]
                for known, route, _ in stored
                if known and route is not None
            }
            self._signing = (by_route, everywhere)
        return self._signing

    def has_signing_secret(self, webhook_id: str) -> bool:
        return webhook_id in self.settings.signing_secret_webhooks

    def unrouted_signing_secrets(self) -> list[str]:
        """Webhooks whose secret was stored without its route (before settings v3)."""
        routes = self.settings.signing_secret_routes
        return [i for i in self.settings.signing_secret_webhooks if i not in routes]

    def set_signing_secret(self, webhook_id: str, secret: str, route: str | None) -> None:
        """Store the secret of one webhook with the route its URL names (`route_of(url, token)`:
        "" for the bare hook URL, None when it points elsewhere); a blank secret forgets it."""
        if not secret.strip():
            self.forget_signing_secret(webhook_id)
            return
        self.secrets.set(_secret_ref(webhook_id), secret.strip())
        ids = [i for i in self.settings.signing_secret_webhooks if i != webhook_id]
        self.settings.signing_secret_webhooks = [*ids, webhook_id]
        self.settings.signing_secret_routes = {**self.settings.signing_secret_routes, webhook_id: route}
        self._signing = None
        self._save(self.settings)

    def forget_signing_secret(self, webhook_id: str) -> None:
        self.secrets.delete(_secret_ref(webhook_id))
        self.settings.signing_secret_webhooks = [
            i for i in self.settings.signing_secret_webhooks if i != webhook_id
        ]
        self.settings.signing_secret_routes = {
            i: r for i, r in self.settings.signing_secret_routes.items() if i != webhook_id
        }
        self._signing = None
        self._save(self.settings)

    def note_routes(self, routes: Mapping[str, str | None]) -> bool:
        """Webhook id -> the route its URL names now, from a fresh read of the platform (a
        list, an edit, a retarget). Updates the webhooks with a stored secret whose route
        changed or was not known; saves only then. True when something changed."""
        current = self.settings.signing_secret_routes
        changed = {
            webhook_id: route
            for webhook_id, route in routes.items()
            if webhook_id in self.settings.signing_secret_webhooks
            and (webhook_id not in current or current[webhook_id] != route)
        }
        if not changed:
            return False
        self.settings.signing_secret_routes = {**current, **changed}
        self._signing = None
        self._save(self.settings)
        log.info("signing secrets: route of %d webhook(s) updated", len(changed))
        return True


@dataclass(frozen=True)
class SigningRoutes:
    """How many stored secrets check each route ("" is the bare hook URL), and how many check
    every route because their webhook's route is not known yet."""

    routes: dict[str, int]
    everywhere: int = 0


def _secret_ref(webhook_id: str) -> str:
    return f"signing-secret:{webhook_id}"


def _default_label(found: Detected) -> str:
    if found.scope == "tenant":
        return f"Tenant key ({len(found.numbers)} numbers)"
    if found.numbers:
        n = found.numbers[0]
        return f"{n.name or n.id} key"
    return "Number key"

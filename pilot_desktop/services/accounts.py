"""Accounts: API keys the operator added, their scope and numbers (signing secrets: signing.py).

Adding a key detects what it is. A number-scoped key is bound to one number; the tenant
key sees every number. The probe is a read that both accept and answer differently:
`GET /v1/messages/<nonexistent>` is per-number, so the tenant key gets 403
`TENANT_SCOPE_NOT_ALLOWED` and a number key 404 (api §6). Nothing is created.
"""

from __future__ import annotations

import logging
import secrets as pysecrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pilot_desktop.api.client import DEFAULT_BASE_URL, PilotClient
from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import Number
from pilot_desktop.services.config import Document
from pilot_desktop.services.secrets import SecretStore
from pilot_desktop.services.state import Account, AccountNumber, State

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
    """The accounts of one profile (or of the demo): API keys in the secret store, their
    public side in the state document."""

    def __init__(
        self, state: Document[State], secrets: SecretStore, *, client_factory: ClientFactory = PilotClient
    ) -> None:
        self._state = state
        self.secrets = secrets
        self._client_factory = client_factory

    # -- accounts ---------------------------------------------------------------------------
    @property
    def all(self) -> list[Account]:
        return list(self._state.value.accounts)

    def get(self, account_id: str) -> Account | None:
        return next((a for a in self._state.value.accounts if a.id == account_id), None)

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
        for existing in self.all:
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
        # An account means real traffic: no demo next launch.
        self._state.update(lambda s: {"accounts": [*s.accounts, account], "real_receiver": True})
        log.info("account %s added (%s key, %d numbers)", account.id, account.scope, len(account.numbers))
        return account

    async def refresh(self, account: Account) -> Account:
        """Re-read the account's numbers (a number may have been added or removed)."""
        async with self.client(account) as client:
            found = await detect(client)
        updated = account.model_copy(
            update={"numbers": _account_numbers(found.numbers), "scope": found.scope}
        )
        self._state.update(lambda s: {"accounts": [updated if a.id == account.id else a for a in s.accounts]})
        return updated

    def remove(self, account_id: str) -> None:
        account = self.get(account_id)
        if account is None:
            return
        self.secrets.delete(account.key_ref)
        self._state.update(lambda s: {"accounts": [a for a in s.accounts if a.id != account_id]})

    def numbers(self) -> list[tuple[Account, AccountNumber]]:
        """Every number once, with the account best placed to act on it: its own
        number-scoped key first, else a tenant key (with the number header)."""
        chosen: dict[str, tuple[Account, AccountNumber]] = {}
        for account in self.all:
            for number in account.numbers:
                current = chosen.get(number.id)
                if current is None or (current[0].scope == "tenant" and account.scope == "number"):
                    chosen[number.id] = (account, number)
        return sorted(chosen.values(), key=lambda pair: (pair[1].name.lower(), pair[1].id))

    def number(self, number_id: str | None) -> AccountNumber | None:
        return next((n for _, n in self.numbers() if n.id == number_id), None)

    def client_for_number(self, number_id: str) -> PilotClient:
        for account, number in self.numbers():
            if number.id == number_id:
                return self.client(account, number_id)
        raise AccountError(f"No account can act on number {number_id}; add its API key or the tenant key.")


def _default_label(found: Detected) -> str:
    if found.scope == "tenant":
        return f"Tenant key ({len(found.numbers)} numbers)"
    if found.numbers:
        n = found.numbers[0]
        return f"{n.name or n.id} key"
    return "Number key"

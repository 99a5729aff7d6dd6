"""The one signing-secret provider: which secrets check a delivery to a route.

Each webhook's secret checks the deliveries of the route its URL names (managed webhooks
point at <public>/hooks/<token>/<number id>). A route without one accepts unsigned
deliveries, so a webhook stored without a secret is never refused because another has one,
unless they share a route. The route names the webhook's number, so its secrets also
protect that number on every route: an event naming it, or one of its messages, is accepted
only when signed with one of them (`protection()`, core/protection.py, store/guard.py).
Secrets given at start (`--signing-secret`, the environment) check every route and come
first, so their `#index` in a stored verdict is stable.

The state file lists the webhooks that have a secret, their routes and a revision bumped
on every change; the values are in the secret store. The receiver asks on every request:
the file is stat'ed then, and the map is rebuilt only when the state changed (here or in
another process), never read per request. A failed re-read keeps the previous map.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pilot_desktop.core.protection import NO_PROTECTION, Protection
from pilot_desktop.services.config import Document
from pilot_desktop.services.secrets import SecretsError, SecretStore
from pilot_desktop.services.state import State

log = logging.getLogger(__name__)

RETRY_S = 5.0
_INDEX = frozenset({"signing_secret_webhooks", "signing_secret_routes", "signing_secrets_revision"})


@dataclass(frozen=True)
class SigningRoutes:
    """How many stored secrets check each route ("" is the bare hook URL), and how many check
    every route because their webhook's route is not known yet."""

    routes: dict[str, int] = field(default_factory=dict)
    everywhere: int = 0


def where(route: str) -> str:
    """A route for messages; the token stays out of them."""
    return f"route {route}" if route else "the bare hook URL"


def _secret_ref(webhook_id: str) -> str:
    return f"signing-secret:{webhook_id}"


class SigningSecrets:
    def __init__(self, state: Document[State], store: SecretStore, given: Sequence[str] = ()) -> None:
        """Reads the stored secrets now: raises SecretsError when the store cannot be read
        (serving without them would accept deliveries nobody can verify)."""
        self._state = state
        self.store = store
        self.given = list(given)
        self._by_route: dict[str, list[str]] = {}
        self._everywhere: list[str] = []
        self._protection = NO_PROTECTION
        self._retry_at: float | None = None  # when to re-read after a failure
        self._build()
        state.subscribe(self._state_changed)

    def close(self) -> None:
        self._state.unsubscribe(self._state_changed)

    # -- the receiver's side ---------------------------------------------------------------
    def __call__(self, route: str | None) -> list[str]:
        """Every secret checking a delivery to `route` (None: the bare hook URL). A secret
        another process stored a moment ago applies to the next request: the state file is
        looked at (one `stat`) on every request."""
        self._state.reload()
        if self._retry_at is not None and time.monotonic() >= self._retry_at:
            self._rebuild()  # the last re-read failed (a locked keyring): try again
        return [*self.given, *self.stored(route)]

    def stored(self, route: str | None) -> list[str]:
        """The stored secrets for `route`: its webhooks', then those whose route is not known
        yet, in the order they were stored. A request's route picks a list; it never adds an
        entry (the route comes from whoever sends the request)."""
        return self._by_route.get(route or "", self._everywhere)

    def protection(self) -> Protection:
        """The numbers the stored secrets protect on every route (core/protection.py). Asked
        right after `__call__` on each request, so it does not look at the state again."""
        return self._protection

    def checks(self, route: str | None) -> bool:
        """Deliveries to `route` are refused unless signed with one of its secrets."""
        return bool(self(route))

    # -- the index ----------------------------------------------------------------------------
    def has(self, webhook_id: str) -> bool:
        return webhook_id in self._state.value.signing_secret_webhooks

    def unrouted(self) -> list[str]:
        """Webhooks whose secret was stored without its route (before settings v3)."""
        state = self._state.value
        return [i for i in state.signing_secret_webhooks if i not in state.signing_secret_routes]

    def routes(self) -> SigningRoutes:
        """Which routes the stored secrets check, for messages (never the secrets)."""
        every = len(self._everywhere)
        return SigningRoutes({r: len(v) - every for r, v in self._by_route.items()}, every)

    def set(self, webhook_id: str, secret: str, route: str | None) -> None:
        """Store the secret of one webhook with the route its URL names (`route_of(url, token)`:
        "" for the bare hook URL, None when it points elsewhere); a blank secret forgets it."""
        if not secret.strip():
            self.forget(webhook_id)
            return
        self.store.set(_secret_ref(webhook_id), secret.strip())

        def change(s: State) -> dict[str, object]:
            ids = [i for i in s.signing_secret_webhooks if i != webhook_id]
            return {
                "signing_secret_webhooks": [*ids, webhook_id],
                "signing_secret_routes": {**s.signing_secret_routes, webhook_id: route},
                "signing_secrets_revision": s.signing_secrets_revision + 1,
            }

        self._state.update(change)

    def forget(self, webhook_id: str) -> None:
        self.store.delete(_secret_ref(webhook_id))
        self._state.update(
            lambda s: {
                "signing_secret_webhooks": [i for i in s.signing_secret_webhooks if i != webhook_id],
                "signing_secret_routes": {
                    i: r for i, r in s.signing_secret_routes.items() if i != webhook_id
                },
                "signing_secrets_revision": s.signing_secrets_revision + 1,
            }
        )

    def note_routes(self, routes: Mapping[str, str | None]) -> bool:
        """Webhook id -> the route its URL names now, from a fresh read of the platform (a
        list, an edit, a retarget). Updates the webhooks with a stored secret whose route
        changed or was not known; writes only then. True when something changed."""

        def changed(s: State) -> dict[str, str | None]:
            return {
                i: r
                for i, r in routes.items()
                if i in s.signing_secret_webhooks
                and (i not in s.signing_secret_routes or s.signing_secret_routes[i] != r)
            }

        if not changed(self._state.value):
            return False
        after = self._state.update(
            lambda s: {"signing_secret_routes": {**s.signing_secret_routes, **changed(s)}}
        )
        log.info("signing secrets: routes now %d known", len(after.signing_secret_routes))
        return True

    # -- messages -----------------------------------------------------------------------------
    def describe(self) -> str:
        """serve's `Signature check:` line."""
        routes, given = self.routes(), len(self.given)
        names = ", ".join(where(r) for r in sorted(routes.routes))
        parts = [f"{given} given"] if given else []
        if routes.routes:
            parts.append(f"{sum(routes.routes.values())} stored for {names}")
        if routes.everywhere:
            parts.append(
                f"{routes.everywhere} stored whose route is not known yet; "
                "`pilot-desktop webhooks list` fills it in"
            )
        if not parts:
            return "off (no --signing-secret, none stored); deliveries are stored as unsigned"
        if given or routes.everywhere:
            return f"on for every route ({'; '.join(parts)})"
        return (
            f"on for {names} ({'; '.join(parts)}); deliveries to other routes are accepted unsigned "
            "unless they name a number a stored secret protects"
        )

    def log_routes(self) -> None:
        """Say in the log which routes the stored secrets check now (at start)."""
        self._log_changes(SigningRoutes(), self.routes())

    # -- building the map -----------------------------------------------------------------------
    def _state_changed(self, changed: frozenset[str]) -> None:
        if changed & _INDEX or "accounts" in changed:  # the accounts say which routes are numbers
            self._rebuild()

    def _rebuild(self) -> None:
        before = self.routes()
        try:
            self._build()
        except SecretsError as exc:
            # The state already says what it says: keep the previous secrets meanwhile and
            # try again soon, on a request (a failure is never left standing until restart).
            self._retry_at = time.monotonic() + RETRY_S
            log.warning("stored signing secrets not re-read, the previous ones stay for now: %s", exc)
            return
        self._retry_at = None
        self._log_changes(before, self.routes())
        log.info("signing secrets re-read (revision %d)", self._state.value.signing_secrets_revision)

    def _build(self) -> None:
        state = self._state.value
        stored: list[tuple[bool, str | None, str]] = []
        for webhook_id in state.signing_secret_webhooks:
            value = self.store.get(_secret_ref(webhook_id))
            if not value:  # listed, yet gone from the store (deleted by hand?): say so
                log.warning(
                    "the signing secret of webhook %s is listed but missing from %s: its route is "
                    "not checked (store it again or forget it)",
                    webhook_id,
                    self.store.backend,
                )
                continue
            known = webhook_id in state.signing_secret_routes
            stored.append((known, state.signing_secret_routes.get(webhook_id), value))
        everywhere = [value for known, _, value in stored if not known]
        by_route = {
            route: [value for known, r, value in stored if not known or r == route]
            for known, route, _ in stored
            if known and route is not None
        }
        # A route that is one of the accounts' numbers is its webhook's number (managed
        # webhooks point at <token>/<number id>): its secrets protect that number's events on
        # every route. Any other route (a name of the operator's) protects only itself; the
        # bare URL's secrets vouch for every number, as its webhook may carry any of them.
        numbers = {n.id for account in state.accounts for n in account.numbers}
        protection = Protection(
            {r: (*self.given, *values) for r, values in by_route.items() if r in numbers},
            frozenset((*self.given, *everywhere, *by_route.get("", ()))),
        )
        # Swapped whole: requests never wait.
        self._by_route, self._everywhere, self._protection = by_route, everywhere, protection

    def _log_changes(self, old: SigningRoutes, new: SigningRoutes) -> None:
        for route in sorted(new.routes.keys() - old.routes.keys()):
            log.info("signature check on for %s: %d stored secret(s)", where(route), new.routes[route])
        for route in sorted(old.routes.keys() - new.routes.keys()):
            if self.given or new.everywhere:
                log.info(
                    "no stored secret for %s any more (the secrets for every route still check it)",
                    where(route),
                )
            else:
                log.info(
                    "signature check off for %s: no stored secret, its deliveries are accepted unsigned",
                    where(route),
                )
        if new.everywhere and not old.everywhere:
            log.info(
                "signature check on for every route: %d stored secret(s) whose webhook's route is not "
                "known yet (`pilot-desktop webhooks list` fills it in)",
                new.everywhere,
            )
        elif old.everywhere and not new.everywhere:
            log.info("no stored secret checks every route any more: each checks its own webhook's route")

"""`pilot-desktop accounts|public-url|webhooks`: API keys and webhooks from scripts.

Secrets never come from argv (shell history, `ps`): an API key is read from stdin (a
hidden prompt on a terminal) or PILOT_DESKTOP_API_KEY, a signing secret from stdin.
`--json` prints one stable JSON document on stdout; messages and warnings go to stderr.
Exit codes: 0 done, 1 failed (the platform refused, no account for that number ...),
2 the command cannot run as given (bad value, refused without --yes).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from pilot_desktop.api.client import DEFAULT_BASE_URL, PilotClient
from pilot_desktop.api.errors import ApiError
from pilot_desktop.api.models import DeliveryLog, Webhook
from pilot_desktop.services.accounts import AccountError, Accounts, SigningRoutes
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.secrets import SecretsError, SecretStore, open_secrets
from pilot_desktop.services.settings import Account, AccountNumber, Settings, SettingsError, load, save
from pilot_desktop.services.webhooks import (
    ALL_EVENTS,
    EVENT_GROUPS,
    LogCheck,
    LogComparison,
    Target,
    compare_logs,
    describe_events,
    events_warnings,
    route_of,
)
from pilot_desktop.store.db import DB_NAME
from pilot_desktop.tunnel.public_url import normalize_public_url

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
ENV_API_KEY = "PILOT_DESKTOP_API_KEY"
COMMANDS = frozenset({"accounts", "public-url", "webhooks"})
KNOWN_EVENTS = frozenset(name for _, events in EVENT_GROUPS for name, _ in events) | {ALL_EVENTS}
MAX_LOGS = 50  # the platform's limit per request (api §3.6)
SET_PUBLIC_URL = "pilot-desktop public-url https://your-tunnel.example.com"
_NO_ACCOUNTS = "No accounts yet: add an API key with `pilot-desktop accounts add` (the key on stdin)."

log = logging.getLogger(__name__)


class CliError(Exception):
    """A failure with a message for the operator and an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# -- parsers -------------------------------------------------------------------------------
def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the commands on the top-level subparsers (`common` carries --data-dir)."""
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    leaf = [common, as_json]

    accounts = sub.add_parser(
        "accounts", parents=[common], help="API keys: add (key from stdin), list, refresh, remove"
    )
    acc = accounts.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = acc.add_parser(
        "add",
        parents=leaf,
        help=f"add an API key read from stdin (or env {ENV_API_KEY}); detects its scope and numbers",
        description=f"Reads the API key from stdin (a hidden prompt on a terminal) or from env "
        f"{ENV_API_KEY}, never from the command line, so it stays out of shell history and ps.",
    )
    add.add_argument(
        "--base-url", default=DEFAULT_BASE_URL, help=f"API base URL (default {DEFAULT_BASE_URL})"
    )
    add.add_argument("--label", default="", help="a name for the account (default: derived from the key)")
    acc.add_parser("list", parents=leaf, help="the accounts, their scope and numbers (never the keys)")
    refresh = acc.add_parser("refresh", parents=leaf, help="re-read the numbers of the accounts")
    refresh.add_argument("id", nargs="?", help="one account (default: all)")
    remove = acc.add_parser("remove", parents=leaf, help="remove an account and delete its stored key")
    remove.add_argument("id")

    public = sub.add_parser(
        "public-url",
        parents=leaf,
        help="show or set the tunnel's public base URL that webhooks point at",
    )
    public.add_argument("url", nargs="?", help="the new public base URL, e.g. https://name.example.com")
    public.add_argument("--clear", action="store_true", help="forget the public URL")

    webhooks = sub.add_parser(
        "webhooks", parents=[common], help="list, create, update, delete webhooks; logs"
    )
    wh = webhooks.add_subparsers(dest="action", metavar="ACTION", required=True)

    lst = wh.add_parser("list", parents=leaf, help="webhooks of every number (or one)")
    lst.add_argument("--number", "-n", metavar="N", help="only this number (id, phone or name)")

    create = wh.add_parser("create", parents=leaf, help="create a webhook (default URL: this app)")
    create.add_argument("--number", "-n", metavar="N", required=True, help="the number (id, phone or name)")
    _events_group(create, required=True, allow_none=False)
    create.add_argument("--url", help="where to deliver (default: this app's hook URL for the number)")
    create.add_argument("--name", help="a name for the webhook")
    create.add_argument("--paused", action="store_true", help="create it inactive")
    create.add_argument(
        "--secret-stdin", action="store_true", help="store its signing secret, read from stdin"
    )

    update = wh.add_parser("update", parents=leaf, help="change a webhook (events replace the list)")
    update.add_argument("id")
    update.add_argument("--number", "-n", metavar="N", help="the webhook's number (default: searched)")
    _events_group(update, required=False, allow_none=True)
    where = update.add_mutually_exclusive_group()
    where.add_argument("--url", help="deliver to this URL")
    where.add_argument("--here", action="store_true", help="deliver to this app's hook URL for the number")
    update.add_argument("--name", help="rename the webhook")
    state = update.add_mutually_exclusive_group()
    state.add_argument("--pause", dest="active", action="store_false", default=None, help="stop deliveries")
    state.add_argument("--resume", dest="active", action="store_true", help="restart deliveries")
    secret = update.add_mutually_exclusive_group()
    secret.add_argument(
        "--secret-stdin", action="store_true", help="store its signing secret, read from stdin"
    )
    secret.add_argument("--forget-secret", action="store_true", help="delete its stored signing secret")

    delete = wh.add_parser("delete", parents=leaf, help="delete a webhook (asks unless --yes)")
    delete.add_argument("id")
    delete.add_argument("--number", "-n", metavar="N", help="the webhook's number (default: searched)")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    logs = wh.add_parser(
        "logs", parents=leaf, help="recent deliveries of a webhook, beside what this app stored"
    )
    logs.add_argument("id")
    logs.add_argument("--number", "-n", metavar="N", help="the webhook's number (default: searched)")
    logs.add_argument(
        "--limit", type=int, default=MAX_LOGS, help=f"how many (1-{MAX_LOGS}, default {MAX_LOGS})"
    )
    logs.add_argument("--event", help="only this event")


def _events_group(parser: argparse.ArgumentParser, *, required: bool, allow_none: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--events",
        action="append",
        metavar="E1,E2",
        help="events to deliver, comma-separated (repeatable); replaces the whole list",
    )
    group.add_argument("--all-events", action="store_true", help='every event ("*"), health alerts included')
    if allow_none:
        group.add_argument("--no-events", action="store_true", help="subscribe to nothing")


# -- shared plumbing -----------------------------------------------------------------------
@dataclass
class Ctx:
    paths: AppPaths
    settings: Settings
    args: argparse.Namespace
    _accounts: Accounts | None = field(default=None, repr=False)

    def save(self, settings: Settings) -> None:
        save(self.paths.settings_file, settings)

    @property
    def accounts(self) -> Accounts:
        """Opens the secret store on first use; says so when it is the 0600 file."""
        if self._accounts is None:
            store: SecretStore = open_secrets(self.paths.data_dir)
            if store.warning:
                _err(f"warning: {store.warning}")
            self._accounts = Accounts(self.settings, store, self.save)
        return self._accounts

    @property
    def as_json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def target(self) -> Target | None:
        if not self.settings.public_url:
            return None
        return Target(self.settings.public_url, self.settings.receiver.token)

    def points_here(self, url: str) -> bool:
        target = self.target
        return target is not None and target.points_here(url)

    def mark_real_receiver(self) -> None:
        """The window then starts the real receiver, not the demo (see cli._use_real_receiver)."""
        if not self.settings.real_receiver:
            self.settings.real_receiver = True
            self.save(self.settings)


def _err(message: str) -> None:
    print(f"pilot-desktop: {message}", file=sys.stderr, flush=True)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [headers, *rows]
    ]
    return "\n".join(lines)


def _read_secret(what: str) -> str:
    """One secret from stdin: a hidden prompt on a terminal, else the whole input (one line)."""
    if sys.stdin is None:
        raise CliError(f"No {what} given: pipe it on stdin.", EXIT_USAGE)
    if sys.stdin.isatty():
        value = getpass.getpass(f"{what[0].upper()}{what[1:]} (input hidden): ", stream=sys.stderr)
    else:
        value = sys.stdin.read()
    value = value.strip()
    if not value:
        raise CliError(f"No {what} on stdin.", EXIT_USAGE)
    if any(c.isspace() for c in value):
        raise CliError(f"The {what} on stdin must be one line without spaces.", EXIT_USAGE)
    return value


def _read_api_key() -> str:
    from_env = os.environ.get(ENV_API_KEY, "").strip()
    return from_env or _read_secret("API key")


def _parse_events(args: argparse.Namespace) -> list[str] | None:
    """The events asked for, or None when the command does not change them."""
    if getattr(args, "all_events", False):
        return [ALL_EVENTS]
    if getattr(args, "no_events", False):
        return []
    if args.events is None:
        return None
    events: list[str] = []
    for chunk in args.events:
        for name in (e.strip() for e in chunk.split(",")):
            if name and name not in events:
                events.append(name)
    unknown = [e for e in events if e not in KNOWN_EVENTS]
    if unknown:
        _err(
            f"warning: unknown event name(s): {', '.join(unknown)}; Pilot Status keeps them, "
            "but they may never be delivered (a typo?)"
        )
    return events


def _route(ctx: Ctx, hook: Webhook) -> str | None:
    """The route the webhook's URL names on this app's receiver ("" bare, None elsewhere)."""
    return route_of(hook.url, ctx.settings.receiver.token)


def _where(route: str) -> str:
    """A route for messages; the token stays out of them."""
    return f"route {route}" if route else "the bare hook URL"


def _store_secret(ctx: Ctx, hook: Webhook, secret: str) -> None:
    route = _route(ctx, hook)
    ctx.accounts.set_signing_secret(hook.id, secret, route)
    if route is None:
        _err(
            "note: signing secret stored, but this webhook does not point at this app, so this app's "
            "receiver does not check it (until the webhook is pointed here)"
        )
        return
    _err(
        f"note: signing secret stored; this app's receiver (a running serve too) now checks deliveries "
        f"to {_where(route)} and refuses with 401 those unsigned or signed with another secret. Deliveries "
        "to routes without a stored secret are still accepted unsigned."
    )


def _note_routes(ctx: Ctx, hooks: Sequence[Webhook]) -> None:
    """Keep the route of each stored secret in step with its webhook's URL as read now."""
    ctx.accounts.note_routes({hook.id: _route(ctx, hook) for hook in hooks})


def _warn_events(events: list[str]) -> None:
    for warning in events_warnings(events):
        _err(f"note: {warning}")


def _number_label(number: AccountNumber | None, number_id: str | None) -> str:
    if number is not None and number.name:
        return f"{number.name} ({number.id})"
    return number_id or "-"


def _find_number(ctx: Ctx, text: str) -> tuple[Account, AccountNumber]:
    """By id, then phone, then (unique) name, among the numbers the accounts can act on."""
    if not ctx.settings.accounts:
        raise CliError(_NO_ACCOUNTS)
    pairs = ctx.accounts.numbers()
    wanted = text.strip()
    digits = wanted.lstrip("+")
    for match in (
        lambda n: n.id == wanted,
        lambda n: bool(digits) and n.phone.lstrip("+") == digits,
        lambda n: n.name.casefold() == wanted.casefold(),
    ):
        found = [(a, n) for a, n in pairs if match(n)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(n.id for _, n in found)
            raise CliError(f"Several numbers match '{text}' ({ids}); give the number id.", EXIT_USAGE)
    known = ", ".join(_number_label(n, n.id) for _, n in pairs) or "none"
    raise CliError(
        f"No account can act on number '{text}' (known: {known}). Add its API key or the tenant key "
        "(pilot-desktop accounts add), or re-read the numbers (pilot-desktop accounts refresh)."
    )


def _number_of(ctx: Ctx, number_id: str | None) -> AccountNumber | None:
    for account in ctx.settings.accounts:
        for number in account.numbers:
            if number.id == number_id:
                return number
    return None


@dataclass(frozen=True)
class Located:
    account: Account
    number_id: str | None
    hook: Webhook

    def client(self, ctx: Ctx) -> PilotClient:
        return ctx.accounts.client(self.account, self.number_id)


async def _locate(ctx: Ctx, webhook_id: str, number: str | None) -> Located:
    """The webhook and an account able to act on it: on the given number, else searched
    in every account's list (the tenant key's first: one request sees every number)."""
    if number is not None:
        account, num = _find_number(ctx, number)
        async with ctx.accounts.client(account, num.id) as client:
            return Located(account, num.id, await client.get_webhook(webhook_id))
    accounts = sorted(ctx.accounts.all, key=lambda a: a.scope != "tenant")
    if not accounts:
        raise CliError(_NO_ACCOUNTS)
    failures: list[ApiError] = []
    for account in accounts:
        try:
            async with ctx.accounts.client(account) as client:
                hooks = await client.list_webhooks()
        except ApiError as exc:
            failures.append(exc)
            continue
        for hook in hooks:
            if hook.id == webhook_id:
                return Located(account, hook.number_id, hook)
    if failures:
        raise failures[0]  # the search was incomplete: that is the error to show
    # In no list: ask the platform, so the error is its own (WEBHOOK_NOT_FOUND).
    async with ctx.accounts.client(accounts[0]) as client:
        hook = await client.get_webhook(webhook_id)
    return Located(accounts[0], hook.number_id, hook)


def _hook_json(ctx: Ctx, hook: Webhook, number_id: str | None) -> dict[str, Any]:
    number = _number_of(ctx, number_id)
    return {
        "id": hook.id,
        "number_id": number_id,
        "number_name": number.name if number is not None else None,
        "name": hook.name,
        "url": hook.url,
        "active": hook.active,
        "events": list(hook.events),
        "points_here": ctx.points_here(hook.url),
        "secret_stored": ctx.accounts.has_signing_secret(hook.id),
        "last_triggered": hook.last_triggered,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    }


def _show_hook(ctx: Ctx, hook: Webhook, number_id: str | None, verb: str) -> None:
    data = _hook_json(ctx, hook, number_id)
    if ctx.as_json:
        _print_json(data)
        return
    here = "  (this app)" if data["points_here"] else ""
    print(f"{verb} webhook {hook.id}")
    print(f"  number:  {_number_label(_number_of(ctx, number_id), number_id)}")
    print(f"  name:    {hook.name}")
    print(f"  url:     {hook.url}{here}")
    print(f"  active:  {'yes' if hook.active else 'no (paused)'}")
    print(f"  events:  {describe_events(hook.events)}")
    print(f"  secret:  {'stored' if data['secret_stored'] else 'not stored'}")


# -- accounts ------------------------------------------------------------------------------
def _account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "label": account.label,
        "scope": account.scope,
        "base_url": account.base_url,
        "numbers": [{"id": n.id, "name": n.name, "phone": n.phone} for n in account.numbers],
    }


def _show_accounts(ctx: Ctx, accounts: list[Account], verb: str = "") -> None:
    if ctx.as_json:
        _print_json([_account_json(a) for a in accounts])
        return
    for account in accounts:
        print(f"{verb}{account.id}  {account.label}  ({account.scope} key, {account.base_url})")
        rows = [[n.id, n.name, n.phone] for n in account.numbers]
        if rows:
            print("\n".join("  " + line for line in _table(["NUMBER", "NAME", "PHONE"], rows).splitlines()))
        else:
            print("  no numbers")


async def _accounts_add(ctx: Ctx) -> int:
    try:
        base_url = Account(id="new", scope="tenant", base_url=ctx.args.base_url).base_url
    except ValidationError as exc:
        raise CliError(f"--base-url {ctx.args.base_url!r}: {exc.errors()[0]['msg']}", EXIT_USAGE) from exc
    key = _read_api_key()
    account = await ctx.accounts.add(key, base_url=base_url, label=ctx.args.label)
    ctx.mark_real_receiver()
    if ctx.as_json:
        _print_json(_account_json(account))
    else:
        _show_accounts(ctx, [account], verb="Added ")
    return EXIT_OK


def _accounts_list(ctx: Ctx) -> int:
    accounts = list(ctx.settings.accounts)
    if not accounts and not ctx.as_json:
        _err(_NO_ACCOUNTS)
    _show_accounts(ctx, accounts)
    return EXIT_OK


def _account(ctx: Ctx, account_id: str) -> Account:
    for account in ctx.settings.accounts:
        if account.id == account_id:
            return account
    known = ", ".join(a.id for a in ctx.settings.accounts) or "none"
    raise CliError(f"No account {account_id!r} (known: {known}).")


async def _accounts_refresh(ctx: Ctx) -> int:
    chosen = [_account(ctx, ctx.args.id)] if ctx.args.id else ctx.accounts.all
    if not chosen:
        raise CliError(_NO_ACCOUNTS)
    refreshed = [await ctx.accounts.refresh(account) for account in chosen]
    _show_accounts(ctx, refreshed, verb="Refreshed ")
    return EXIT_OK


def _accounts_remove(ctx: Ctx) -> int:
    account = _account(ctx, ctx.args.id)
    ctx.accounts.remove(account.id)
    if ctx.as_json:
        _print_json({"id": account.id, "removed": True})
    else:
        print(f"Removed account {account.id} ({account.label}); its API key was deleted.")
    return EXIT_OK


# -- public URL ----------------------------------------------------------------------------
def _public_url(ctx: Ctx) -> int:
    args = ctx.args
    if args.clear and args.url:
        raise CliError("Give a URL or --clear, not both.", EXIT_USAGE)
    if args.url is not None:
        try:
            value = normalize_public_url(args.url)
        except ValueError as exc:
            raise CliError(f"public_url: {exc} (got {args.url!r})", EXIT_USAGE) from exc
        ctx.settings.public_url = value
        ctx.settings.real_receiver = True  # the tunnel forwards to the real receiver
        ctx.save(ctx.settings)
    elif args.clear:
        ctx.settings.public_url = None
        ctx.save(ctx.settings)
    target = ctx.target
    if ctx.as_json:
        hooks = f"{target.public_url}/hooks/{target.token}" if target else None
        _print_json({"public_url": ctx.settings.public_url, "hook_url": hooks})
    elif target is None:
        _err(f"No public URL set. Set the tunnel's address with: {SET_PUBLIC_URL}")
    else:
        print(target.public_url)
        if args.url is not None:
            _err(f"Webhooks created here will point at {target.public_url}/hooks/{target.token}/<number id>")
    return EXIT_OK


# -- webhooks ------------------------------------------------------------------------------
async def _webhooks_list(ctx: Ctx) -> int:
    if not ctx.settings.accounts:
        raise CliError(_NO_ACCOUNTS)
    pairs = [_find_number(ctx, ctx.args.number)] if ctx.args.number else ctx.accounts.numbers()
    seen: set[str] = set()
    listed: list[tuple[Webhook, str]] = []
    failed = 0
    for account, number in pairs:
        try:
            async with ctx.accounts.client(account, number.id) as client:
                hooks = await client.list_webhooks()
        except ApiError as exc:
            _err(f"number {_number_label(number, number.id)}: {exc}")
            failed += 1
            continue
        for hook in hooks:
            if hook.number_id in (None, number.id) and hook.id not in seen:
                seen.add(hook.id)
                listed.append((hook, hook.number_id or number.id))
    _note_routes(ctx, [hook for hook, _ in listed])  # a secret stored before v3 gets its route
    rows = [_hook_json(ctx, hook, number_id) for hook, number_id in listed]
    if ctx.as_json:
        _print_json(rows)
    else:
        table = [
            [
                r["id"],
                _number_label(_number_of(ctx, r["number_id"]), r["number_id"]),
                r["name"],
                "yes" if r["active"] else "paused",
                describe_events(r["events"]),
                "yes" if r["secret_stored"] else "no",
                ("* " if r["points_here"] else "  ") + r["url"],
            ]
            for r in rows
        ]
        if table:
            print(_table(["ID", "NUMBER", "NAME", "ACTIVE", "EVENTS", "SECRET", "  URL"], table))
            if any(r["points_here"] for r in rows):
                print("* points at this app")
        else:
            print("No webhooks.")
    _warn_refused(ctx, [hook for hook, _ in listed])
    unrouted = ctx.accounts.unrouted_signing_secrets()
    if unrouted and not failed and not ctx.args.number:
        # Read everything, and still unknown: webhooks deleted on the platform (or of a removed
        # account). Their secrets keep checking every route until forgotten.
        _err(
            f"note: the stored signing secret(s) of {', '.join(unrouted)} belong to no webhook listed "
            "here, so they check every route of this app; forget each with: "
            "pilot-desktop webhooks update ID --forget-secret"
        )
    if ctx.target is None:
        _err(f"note: no public URL set, so no webhook is marked as this app's ({SET_PUBLIC_URL})")
    return EXIT_ERROR if failed else EXIT_OK


def _warn_refused(ctx: Ctx, hooks: Sequence[Webhook]) -> None:
    """A webhook without a stored secret is accepted unsigned, unless it shares its route with
    one that has a secret: then the receiver checks it against that one and refuses it."""
    for hook in hooks:
        route = _route(ctx, hook)
        if route is None or ctx.accounts.has_signing_secret(hook.id):
            continue
        if ctx.accounts.signing_secrets(route or None):
            _err(
                f"note: webhook {hook.id} ({hook.name}) has no stored signing secret, but another "
                f"webhook's secret checks {_where(route)}, so this app refuses its deliveries with 401. "
                f"Store its secret: pilot-desktop webhooks update {hook.id} --secret-stdin"
            )


def _default_url(ctx: Ctx, number_id: str | None) -> str:
    target = ctx.target
    if target is None:
        raise CliError(
            "No public URL set, so this app's hook URL is unknown. Set the tunnel's address first: "
            f"{SET_PUBLIC_URL} (or give --url).",
            EXIT_USAGE,
        )
    if not number_id:
        raise CliError(
            "This webhook has no number, so it has no hook URL of this app; give --url.", EXIT_USAGE
        )
    return target.url_for(number_id)


async def _webhooks_create(ctx: Ctx) -> int:
    args = ctx.args
    events = _parse_events(args)
    assert events is not None  # the group is required
    account, number = _find_number(ctx, args.number)
    url = args.url if args.url else _default_url(ctx, number.id)
    secret = _read_secret("signing secret") if args.secret_stdin else None
    here = ctx.points_here(url)
    name = args.name or (f"Pilot Desktop ({number.name or number.id})" if here else None)
    async with ctx.accounts.client(account, number.id) as client:
        hook = await client.create_webhook(url, events, name=name, active=not args.paused)
    if secret:
        _store_secret(ctx, hook, secret)
    if here:
        ctx.mark_real_receiver()
    _warn_events(hook.events)
    _show_hook(ctx, hook, hook.number_id or number.id, "Created")
    return EXIT_OK


async def _webhooks_update(ctx: Ctx) -> int:
    args = ctx.args
    events = _parse_events(args)
    changing = bool(
        events is not None or args.url or args.here or args.name is not None or args.active is not None
    )
    if not changing and not args.secret_stdin and not args.forget_secret:
        raise CliError(
            "Nothing to change: give --events/--all-events/--no-events, --url/--here, --name, "
            "--pause/--resume, --secret-stdin or --forget-secret.",
            EXIT_USAGE,
        )
    if args.forget_secret and not changing:
        # Local only: the webhook may already be gone from the platform.
        ctx.accounts.forget_signing_secret(args.id)
        if ctx.as_json:
            _print_json({"id": args.id, "secret_stored": False})
        else:
            print(f"Forgot the signing secret of webhook {args.id}.")
        return EXIT_OK
    secret = _read_secret("signing secret") if args.secret_stdin else None
    located = await _locate(ctx, args.id, args.number)
    hook = located.hook
    url = _default_url(ctx, located.number_id) if args.here else args.url
    if changing:
        async with located.client(ctx) as client:
            hook = await client.update_webhook(
                args.id, name=args.name, url=url, events=events, active=args.active
            )
    if secret:
        _store_secret(ctx, hook, secret)
    elif args.forget_secret:
        ctx.accounts.forget_signing_secret(hook.id)
    else:
        _note_routes(ctx, [hook])  # --url / --here move its stored secret to the new route
    if url and ctx.points_here(url):
        ctx.mark_real_receiver()
    if events is not None:
        _warn_events(hook.events)
    _show_hook(ctx, hook, hook.number_id or located.number_id, "Updated")
    return EXIT_OK


def _confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (EOFError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


async def _webhooks_delete(ctx: Ctx) -> int:
    args = ctx.args
    interactive = sys.stdin is not None and sys.stdin.isatty()
    if not args.yes and not interactive:
        raise CliError(
            f"Refusing to delete webhook {args.id} without confirmation: stdin is not a terminal. "
            "Add --yes to delete it.",
            EXIT_USAGE,
        )
    located = await _locate(ctx, args.id, args.number)
    hook = located.hook
    if not args.yes:
        number = _number_label(_number_of(ctx, located.number_id), located.number_id)
        if not _confirm(f"Delete webhook {hook.id} '{hook.name}' of number {number} ({hook.url})?"):
            _err("Not deleted.")
            return EXIT_ERROR
    async with located.client(ctx) as client:
        await client.delete_webhook(hook.id)
    if ctx.accounts.has_signing_secret(hook.id):
        ctx.accounts.forget_signing_secret(hook.id)
    if ctx.as_json:
        _print_json({"id": hook.id, "number_id": located.number_id, "deleted": True})
    else:
        print(f"Deleted webhook {hook.id} ({hook.name}).")
    return EXIT_OK


def _delivery_json(check: LogCheck) -> dict[str, Any]:
    entry: DeliveryLog = check.log
    return {
        "created_at": entry.created_at,
        "event": entry.event,
        "status": entry.status,
        "status_code": entry.status_code,
        "duration_ms": entry.duration_ms,
        "dedupe_key": check.key,
        "stored": check.stored,
        "verdict": check.verdict,
    }


async def _webhooks_logs(ctx: Ctx) -> int:
    args = ctx.args
    if not 1 <= args.limit <= MAX_LOGS:
        raise CliError(f"--limit must be 1-{MAX_LOGS}, got {args.limit}", EXIT_USAGE)
    located = await _locate(ctx, args.id, args.number)
    hook = located.hook
    async with located.client(ctx) as client:
        entries = await client.webhook_logs(hook.id, limit=args.limit, event=args.event)
    _note_routes(ctx, [hook])
    route = _route(ctx, hook) or None
    db = ctx.paths.data_dir / DB_NAME
    if db.exists():
        comparison = compare_logs(db, entries, route)
    else:
        _err(f"note: no database in {ctx.paths.data_dir}: nothing has been received here yet")
        comparison = LogComparison([LogCheck(e, None, False) for e in entries])
    if route is None:
        _err("note: this webhook does not point at this app; 'missing' means this app did not store it")
    if ctx.as_json:
        _print_json(
            {
                "webhook": _hook_json(ctx, hook, hook.number_id or located.number_id),
                "route": route,
                "deliveries": [_delivery_json(c) for c in comparison.checks],
                "counts": comparison.counts,
                "extra": [
                    {"id": x["id"], "event": x["event"], "received_at": x["receivedAt"]}
                    for x in comparison.extra
                ],
            }
        )
        return EXIT_OK
    print(f"Webhook {hook.id} ({hook.name}) → {hook.url}")
    rows = [
        [
            c.log.created_at or "-",
            c.log.event,
            c.log.status,
            "-" if c.log.status_code is None else str(c.log.status_code),
            "-" if c.log.duration_ms is None else f"{c.log.duration_ms:.0f}",
            c.verdict,
        ]
        for c in comparison.checks
    ]
    if rows:
        print(_table(["TIME", "EVENT", "STATUS", "CODE", "MS", "THIS APP"], rows))
    else:
        print("No deliveries logged.")
    counts = comparison.counts
    print(
        f"received {counts['received']}, missing {counts['missing']}, failed {counts['failed']}, "
        f"extra {counts['extra']} (stored here, not in these logs)"
    )
    return EXIT_OK


# -- serve: the stored signing secrets -------------------------------------------------------
class StoredSecrets:
    """The signing secrets stored with `webhooks create/update --secret-stdin` (or the window),
    for `serve`'s receiver, which asks on every request for the secrets of its route. Each
    secret checks the route its webhook's URL names; a route without one accepts unsigned
    deliveries. settings.json lists the webhooks that have one and their routes; when another
    process changes it, they and the secrets are re-read, so a secret stored while serve runs
    applies at once, and the log says for which route checking turned on or off. The secret
    store is opened only once there is a secret, and says on stderr when it is the 0600 file.

    Construction raises SecretsError or SettingsError (serve refuses to start); a failed
    re-read later keeps the secrets it had and is logged."""

    def __init__(self, paths: AppPaths, *, given: int = 0) -> None:
        self.paths = paths
        self.given = given  # --signing-secret / env secrets: they check every route anyway
        self._store: SecretStore | None = None
        self._stamp = self._mtime()
        self._key: tuple[object, ...] | None = None
        self._accounts: Accounts | None = None
        self.routes = SigningRoutes({})
        self._reload(load(paths.settings_file))

    def _mtime(self) -> tuple[int, int, int] | None:
        # The inode too: settings are saved by replacing the file, and two saves within one
        # tick of a coarse file-system clock have the same mtime.
        try:
            st = self.paths.settings_file.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _reload(self, settings: Settings) -> None:
        key = (tuple(settings.signing_secret_webhooks), tuple(sorted(settings.signing_secret_routes.items())))
        if key == self._key:
            return
        if settings.signing_secret_webhooks and self._store is None:
            self._store = open_secrets(self.paths.data_dir)
            if self._store.warning:
                _err(f"warning: {self._store.warning}")
        accounts = Accounts(settings, self._store, lambda _: None) if self._store else None
        # Read the secrets now: a failure keeps the previous ones, and requests never wait.
        routes = accounts.signing_routes() if accounts else SigningRoutes({})
        self._log_changes(self.routes, routes)
        self._key, self._accounts, self.routes = key, accounts, routes

    def _log_changes(self, old: SigningRoutes, new: SigningRoutes) -> None:
        for route in sorted(new.routes.keys() - old.routes.keys()):
            count = new.routes[route]
            log.info("signature check on for %s: %d stored secret(s)", _where(route), count)
        for route in sorted(old.routes.keys() - new.routes.keys()):
            if self.given or new.everywhere:
                log.info(
                    "no stored secret for %s any more (the secrets for every route still check it)",
                    _where(route),
                )
            else:
                log.info(
                    "signature check off for %s: no stored secret, its deliveries are accepted unsigned",
                    _where(route),
                )
        if new.everywhere and not old.everywhere:
            log.info(
                "signature check on for every route: %d stored secret(s) whose webhook's route is not "
                "known yet (`pilot-desktop webhooks list` fills it in)",
                new.everywhere,
            )
        elif old.everywhere and not new.everywhere:
            log.info("no stored secret checks every route any more: each checks its own webhook's route")

    def __call__(self, route: str | None) -> list[str]:
        stamp = self._mtime()
        if stamp is not None and stamp != self._stamp:  # a missing file is not recreated here
            self._stamp = stamp
            try:
                self._reload(load(self.paths.settings_file))
            except (SettingsError, SecretsError) as exc:
                log.warning("stored signing secrets not re-read, the previous ones stay: %s", exc)
        return self._accounts.signing_secrets(route) if self._accounts is not None else []

    def describe(self) -> str:
        """serve's `Signature check:` line."""
        routes, given = self.routes, self.given
        names = ", ".join(_where(r) for r in sorted(routes.routes))
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
        return f"on for {names} ({'; '.join(parts)}); deliveries to other routes are accepted unsigned"


# -- entry ---------------------------------------------------------------------------------
Handler = Callable[[Ctx], int | Coroutine[Any, Any, int]]
HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("accounts", "add"): _accounts_add,
    ("accounts", "list"): _accounts_list,
    ("accounts", "refresh"): _accounts_refresh,
    ("accounts", "remove"): _accounts_remove,
    ("public-url", None): _public_url,
    ("webhooks", "list"): _webhooks_list,
    ("webhooks", "create"): _webhooks_create,
    ("webhooks", "update"): _webhooks_update,
    ("webhooks", "delete"): _webhooks_delete,
    ("webhooks", "logs"): _webhooks_logs,
}


def run(paths: AppPaths, settings: Settings, args: argparse.Namespace) -> int:
    ctx = Ctx(paths, settings, args)
    handler = HANDLERS[(args.command, getattr(args, "action", None))]
    try:
        result = handler(ctx)
        if not isinstance(result, int):
            result = asyncio.run(result)
        return result
    except CliError as exc:
        _err(str(exc))
        return exc.code
    except (ApiError, AccountError, SecretsError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130

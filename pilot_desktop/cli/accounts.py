"""`pilot-desktop accounts` (API keys) and `public-url` (where webhooks point).

An API key is never taken from argv (shell history, `ps`): it is read from stdin (a hidden
prompt on a terminal) or PILOT_DESKTOP_API_KEY.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from pydantic import ValidationError

from pilot_desktop.api.client import DEFAULT_BASE_URL
from pilot_desktop.cli.common import EXIT_OK, EXIT_USAGE, CliError, Ctx, err, print_json, read_secret, table
from pilot_desktop.cli.output import say
from pilot_desktop.services.state import Account
from pilot_desktop.services.webhook_admin import NO_ACCOUNTS, SET_PUBLIC_URL
from pilot_desktop.services.webhooks import set_public_url, target_of
from pilot_desktop.tunnel.public_url import normalize_public_url

ENV_API_KEY = "PILOT_DESKTOP_API_KEY"


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    leaf = [common, as_json]
    accounts = sub.add_parser(
        "accounts", parents=[common], help="API keys: add (key from stdin), list, refresh, remove"
    )
    accounts.set_defaults(log_file=True)
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
    add.set_defaults(handler=add_account)
    acc.add_parser(
        "list", parents=leaf, help="the accounts, their scope and numbers (never the keys)"
    ).set_defaults(handler=list_accounts)
    refresh = acc.add_parser("refresh", parents=leaf, help="re-read the numbers of the accounts")
    refresh.add_argument("id", nargs="?", help="one account (default: all)")
    refresh.set_defaults(handler=refresh_accounts)
    remove = acc.add_parser("remove", parents=leaf, help="remove an account and delete its stored key")
    remove.add_argument("id")
    remove.set_defaults(handler=remove_account)

    public = sub.add_parser(
        "public-url", parents=leaf, help="show or set the tunnel's public base URL that webhooks point at"
    )
    public.set_defaults(log_file=True)
    public.add_argument("url", nargs="?", help="the new public base URL, e.g. https://name.example.com")
    public.add_argument("--clear", action="store_true", help="forget the public URL")
    public.set_defaults(handler=public_url)


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "label": account.label,
        "scope": account.scope,
        "base_url": account.base_url,
        "numbers": [{"id": n.id, "name": n.name, "phone": n.phone} for n in account.numbers],
    }


def _show(ctx: Ctx, accounts: list[Account], verb: str = "") -> None:
    if ctx.as_json:
        print_json([account_json(a) for a in accounts])
        return
    for account in accounts:
        say(f"{verb}{account.id}  {account.label}  ({account.scope} key, {account.base_url})")
        rows = [[n.id, n.name, n.phone] for n in account.numbers]
        if rows:
            print(table(["NUMBER", "NAME", "PHONE"], rows, wide=(1,), keep=(0, 2), margin=2))
        else:
            print("  no numbers")


async def add_account(ctx: Ctx) -> int:
    try:
        base_url = Account(id="new", scope="tenant", base_url=ctx.args.base_url).base_url
    except ValidationError as exc:
        raise CliError(f"--base-url {ctx.args.base_url!r}: {exc.errors()[0]['msg']}", EXIT_USAGE) from exc
    key = os.environ.get(ENV_API_KEY, "").strip() or read_secret("API key")
    account = await ctx.accounts.add(key, base_url=base_url, label=ctx.args.label)
    if ctx.as_json:
        print_json(account_json(account))
    else:
        _show(ctx, [account], verb="Added ")
    return EXIT_OK


def list_accounts(ctx: Ctx) -> int:
    accounts = ctx.config.state.value.accounts
    if not accounts and not ctx.as_json:
        err(NO_ACCOUNTS)
    _show(ctx, accounts)
    return EXIT_OK


def _account(ctx: Ctx, account_id: str) -> Account:
    account = ctx.accounts.get(account_id)
    if account is None:
        known = ", ".join(a.id for a in ctx.accounts.all) or "none"
        raise CliError(f"No account {account_id!r} (known: {known}).")
    return account


async def refresh_accounts(ctx: Ctx) -> int:
    chosen = [_account(ctx, ctx.args.id)] if ctx.args.id else ctx.accounts.all
    if not chosen:
        raise CliError(NO_ACCOUNTS)
    refreshed = [await ctx.accounts.refresh(account) for account in chosen]
    _show(ctx, refreshed, verb="Refreshed ")
    return EXIT_OK


def remove_account(ctx: Ctx) -> int:
    account = _account(ctx, ctx.args.id)
    ctx.accounts.remove(account.id)
    if ctx.as_json:
        print_json({"id": account.id, "removed": True})
    else:
        print(f"Removed account {account.id} ({account.label}); its API key was deleted.")
    return EXIT_OK


def public_url(ctx: Ctx) -> int:
    args = ctx.args
    if args.clear and args.url:
        raise CliError("Give a URL or --clear, not both.", EXIT_USAGE)
    if args.url is not None:
        try:
            set_public_url(ctx.config, normalize_public_url(args.url))  # "" is an error, not --clear
        except ValueError as exc:
            raise CliError(f"public_url: {exc} (got {args.url!r})", EXIT_USAGE) from exc
    elif args.clear:
        set_public_url(ctx.config, None)
    target = target_of(ctx.config)
    if ctx.as_json:
        hooks = target.bare_url if target else None
        print_json({"public_url": ctx.config.settings.value.public_url, "hook_url": hooks})
    elif target is None:
        err(f"No public URL set. Set the tunnel's address with: {SET_PUBLIC_URL}")
    else:
        print(target.public_url)
        if args.url is not None:
            err(f"Webhooks created here will point at {target.bare_url}/<number id>")
    return EXIT_OK

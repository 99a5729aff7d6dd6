"""`pilot-desktop webhooks list|create|update|delete|logs`: the Webhooks pane's use cases
(services/webhook_admin.py) from scripts; `subscribe-all` and `drift` in cli/webhook_audit.py.

A signing secret is read from stdin, never from argv. Notes and warnings go to stderr;
`--json` prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pilot_desktop.api.models import Webhook
from pilot_desktop.cli import webhook_audit
from pilot_desktop.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Ctx,
    confirm,
    err,
    print_json,
    read_secret,
    table,
)
from pilot_desktop.core.catalogue import ALL_EVENTS, KNOWN_EVENTS
from pilot_desktop.core.format import number_line
from pilot_desktop.services.webhook_admin import MAX_LOGS, SET_PUBLIC_URL
from pilot_desktop.services.webhook_logs import LogCheck
from pilot_desktop.services.webhooks import describe_events, events_warnings


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    leaf = [common, as_json]
    webhooks = sub.add_parser(
        "webhooks", parents=[common], help="list, create, update, delete webhooks; logs; subscribe-all; drift"
    )
    webhooks.set_defaults(log_file=True)
    wh = webhooks.add_subparsers(dest="action", metavar="ACTION", required=True)

    lst = wh.add_parser("list", parents=leaf, help="webhooks of every number (or one)")
    lst.add_argument("--number", "-n", metavar="N", help="only this number (id, phone or name)")
    lst.set_defaults(handler=list_hooks)

    create = wh.add_parser("create", parents=leaf, help="create a webhook (default URL: this app)")
    create.add_argument("--number", "-n", metavar="N", required=True, help="the number (id, phone or name)")
    _events(create, required=True, allow_none=False)
    create.add_argument("--url", help="where to deliver (default: this app's hook URL for the number)")
    create.add_argument("--name", help="a name for the webhook")
    create.add_argument("--paused", action="store_true", help="create it inactive")
    create.add_argument(
        "--secret-stdin", action="store_true", help="store its signing secret, read from stdin"
    )
    create.set_defaults(handler=create_hook)

    update = wh.add_parser("update", parents=leaf, help="change a webhook (events replace the list)")
    update.add_argument("id")
    update.add_argument("--number", "-n", metavar="N", help="the webhook's number (default: searched)")
    _events(update, required=False, allow_none=True)
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
    update.set_defaults(handler=update_hook)

    delete = wh.add_parser("delete", parents=leaf, help="delete a webhook (asks unless --yes)")
    delete.add_argument("id")
    delete.add_argument("--number", "-n", metavar="N", help="the webhook's number (default: searched)")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(handler=delete_hook)

    logs = wh.add_parser(
        "logs", parents=leaf, help="recent deliveries of a webhook, beside what this app stored"
    )
    logs.add_argument("id")
    logs.add_argument("--number", "-n", metavar="N", help="the webhook's number (default: searched)")
    logs.add_argument(
        "--limit", type=int, default=MAX_LOGS, help=f"how many (1-{MAX_LOGS}, default {MAX_LOGS})"
    )
    logs.add_argument("--event", help="only this event")
    logs.set_defaults(handler=hook_logs)
    webhook_audit.add_parsers(wh, leaf)  # subscribe-all, drift


def _events(parser: argparse.ArgumentParser, *, required: bool, allow_none: bool) -> None:
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
    parser.set_defaults(allow_no_events=allow_none)


_NO_EVENT_NAMED = "--events names no event. "
_EMPTY_CHOICES = {
    False: "A webhook needs at least one: give the event names (E1,E2) or --all-events.",
    True: "Give the event names (E1,E2), --all-events, or --no-events to subscribe to nothing.",
}


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
    if not events:  # `--events ""` (an unset shell variable): never read as "no events"
        raise CliError(
            _NO_EVENT_NAMED + _EMPTY_CHOICES[bool(getattr(args, "allow_no_events", False))], EXIT_USAGE
        )
    unknown = [e for e in events if e not in KNOWN_EVENTS]
    if unknown:
        err(
            f"warning: unknown event name(s): {', '.join(unknown)}; Pilot Status keeps them, "
            "but they may never be delivered (a typo?)"
        )
    return events


def _notes(notes: list[str]) -> None:
    for note in notes:
        err(f"note: {note}")


def hook_json(ctx: Ctx, hook: Webhook, number_id: str | None) -> dict[str, Any]:
    number = ctx.accounts.number(number_id)
    return {
        "id": hook.id,
        "number_id": number_id,
        "number_name": number.name if number is not None else None,
        "name": hook.name,
        "url": hook.url,
        "active": hook.active,
        "events": list(hook.events),
        "points_here": ctx.admin.points_here(hook.url),
        "secret_stored": ctx.signing.has(hook.id),
        "last_triggered": hook.last_triggered,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    }


def _label(ctx: Ctx, number_id: str | None) -> str:
    return number_line(number_id, ctx.admin.names()) if number_id else "-"


def _show(ctx: Ctx, hook: Webhook, number_id: str | None, verb: str) -> None:
    data = hook_json(ctx, hook, number_id)
    if ctx.as_json:
        print_json(data)
        return
    here = "  (this app)" if data["points_here"] else ""
    print(f"{verb} webhook {hook.id}")
    print(f"  number:  {_label(ctx, number_id)}")
    print(f"  name:    {hook.name}")
    print(f"  url:     {hook.url}{here}")
    print(f"  active:  {'yes' if hook.active else 'no (paused)'}")
    print(f"  events:  {describe_events(hook.events)}")
    print(f"  secret:  {'stored' if data['secret_stored'] else 'not stored'}")


# -- commands ------------------------------------------------------------------------------
async def list_hooks(ctx: Ctx) -> int:
    listing = await ctx.admin.list_all(ctx.args.number)
    for number, exc in listing.failures:
        err(f"number {_label(ctx, number.id)}: {exc}")
    rows = [hook_json(ctx, hook, number_id) for hook, number_id in listing.hooks]
    if ctx.as_json:
        print_json(rows)
    elif rows:
        cells = [
            [
                r["id"],
                _label(ctx, r["number_id"]),
                r["name"],
                "yes" if r["active"] else "paused",
                describe_events(r["events"]),
                "yes" if r["secret_stored"] else "no",
                ("* " if r["points_here"] else "  ") + r["url"],
            ]
            for r in rows
        ]
        print(
            table(  # the id is typed back, the URL read whole: on its own line when short of room
                ["ID", "NUMBER", "NAME", "ACTIVE", "EVENTS", "SECRET", "  URL"],
                cells,
                wide=(1, 2, 4),
                keep=(0, 6),
                stack=(6,),
            )
        )
        if any(r["points_here"] for r in rows):
            print("* points at this app")
    else:
        print("No webhooks.")
    _notes(ctx.admin.refused_notes([hook for hook, _ in listing.hooks]))
    unrouted = ctx.admin.unrouted_note()
    if unrouted and not listing.failures and ctx.args.number is None:
        err(f"note: {unrouted}")
    if ctx.admin.target() is None:
        err(f"note: no public URL set, so no webhook is marked as this app's ({SET_PUBLIC_URL})")
    return EXIT_ERROR if listing.failures else EXIT_OK


async def create_hook(ctx: Ctx) -> int:
    args = ctx.args
    events = _parse_events(args)
    assert events is not None  # the group is required
    _, number = ctx.admin.find_number(args.number)
    url = args.url or ctx.admin.default_url(number.id)
    secret = read_secret("signing secret") if args.secret_stdin else None
    hook, notes = await ctx.admin.create(
        number.id, events, url=url, name=args.name, active=not args.paused, secret=secret
    )
    _notes(notes + events_warnings(hook.events))
    _show(ctx, hook, hook.number_id or number.id, "Created")
    return EXIT_OK


async def update_hook(ctx: Ctx) -> int:
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
        ctx.admin.forget_secret(args.id)  # local only: the webhook may be gone from the platform
        if ctx.as_json:
            print_json({"id": args.id, "secret_stored": False})
        else:
            print(f"Forgot the signing secret of webhook {args.id}.")
        return EXIT_OK
    secret = read_secret("signing secret") if args.secret_stdin else None
    located = await ctx.admin.locate(args.id, args.number)
    hook, notes = await ctx.admin.update(
        located,
        name=args.name,
        url=args.url,
        here=args.here,
        events=events,
        active=args.active,
        secret=secret,
        forget_secret=args.forget_secret,
    )
    _notes(notes + (events_warnings(hook.events) if events is not None else []))
    _show(ctx, hook, hook.number_id or located.number_id, "Updated")
    return EXIT_OK


async def delete_hook(ctx: Ctx) -> int:
    args = ctx.args
    if not args.yes and not (sys.stdin is not None and sys.stdin.isatty()):
        raise CliError(
            f"Refusing to delete webhook {args.id} without confirmation: stdin is not a terminal. "
            "Add --yes to delete it.",
            EXIT_USAGE,
        )
    located = await ctx.admin.locate(args.id, args.number)
    hook = located.hook
    question = (
        f"Delete webhook {hook.id} '{hook.name}' of number {_label(ctx, located.number_id)} ({hook.url})?"
    )
    if not args.yes and not confirm(question):
        err("Not deleted.")
        return EXIT_ERROR
    await ctx.admin.delete(located)
    if ctx.as_json:
        print_json({"id": hook.id, "number_id": located.number_id, "deleted": True})
    else:
        print(f"Deleted webhook {hook.id} ({hook.name}).")
    return EXIT_OK


def _delivery_json(check: LogCheck) -> dict[str, Any]:
    entry = check.log
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


async def hook_logs(ctx: Ctx) -> int:
    args = ctx.args
    if not 1 <= args.limit <= MAX_LOGS:
        raise CliError(f"--limit must be 1-{MAX_LOGS}, got {args.limit}", EXIT_USAGE)
    located = await ctx.admin.locate(args.id, args.number)
    hook = located.hook
    if ctx.reads() is None:
        err(f"note: no database in {ctx.paths.data_dir}: nothing has been received here yet")
    comparison = await ctx.admin.logs(located, limit=args.limit, event=args.event)
    route = ctx.admin.route(hook) or None
    if route is None:
        err("note: this webhook does not point at this app; 'missing' means this app did not store it")
    if ctx.as_json:
        extra = [
            {"id": x["id"], "event": x["event"], "received_at": x["receivedAt"]} for x in comparison.extra
        ]
        print_json(
            {
                "webhook": hook_json(ctx, hook, hook.number_id or located.number_id),
                "route": route,
                "deliveries": [_delivery_json(c) for c in comparison.checks],
                "counts": comparison.counts,
                "extra": extra,
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
    print(
        table(["TIME", "EVENT", "STATUS", "CODE", "MS", "THIS APP"], rows, wide=(1, 5), keep=(0,))
        if rows
        else "No deliveries logged."
    )
    counts = comparison.counts
    print(
        f"received {counts['received']}, missing {counts['missing']}, failed {counts['failed']}, "
        f"extra {counts['extra']} (stored here, not in these logs)"
    )
    return EXIT_OK

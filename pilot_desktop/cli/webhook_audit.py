"""`pilot-desktop webhooks subscribe-all|drift`: one `"*"` webhook per number to this app
(services/subscribe_all.py) and the drift audit's findings (services/drift.py).

`subscribe-all` prints its preview and changes nothing without `--yes`. The signing secrets
of the webhooks it creates (the platform never returns them) come from `--secrets-file`
(lines `WEBHOOK_ID=SECRET` or `NUMBER_ID=SECRET`), else a hidden prompt on a terminal, else
none: said in the result. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pilot_desktop.api.models import Webhook
from pilot_desktop.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliError, Ctx, err, print_json, table
from pilot_desktop.core.format import cli_time, iso, number_line, number_short
from pilot_desktop.services import logs
from pilot_desktop.services.drift import AuditResult, DriftAudit, Submit
from pilot_desktop.services.subscribe_all import (
    SubscribePlan,
    SubscribeResult,
    SubscribeStep,
    apply_subscribe_all,
    plan_subscribe_all,
)
from pilot_desktop.store.db import DB_NAME, open_store
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.watch_records import DriftRow
from pilot_desktop.store.writer import Writer

MAX_SECRETS_FILE = 1 << 20


def add_parsers(wh: Any, leaf: list[argparse.ArgumentParser]) -> None:
    """Under `webhooks` (cli/webhooks.py)."""
    sa = wh.add_parser(
        "subscribe-all",
        parents=leaf,
        help='one "*" webhook per number of every account to this app (a preview; --yes applies)',
        description="For every number of every account: keeps this app's webhook that already delivers "
        "every event here, re-points this app's webhooks on an older public URL, else creates one webhook "
        'with all events ("*") at this app\'s URL for the number. Webhooks of other systems are left '
        "alone. Without --yes only the preview is printed.",
    )
    sa.add_argument("--yes", "-y", action="store_true", help="apply the preview")
    sa.add_argument(
        "--secrets-file",
        metavar="F",
        type=Path,
        help="signing secrets of the created webhooks, lines WEBHOOK_ID=SECRET or NUMBER_ID=SECRET "
        "(default: asked on the terminal; none stored otherwise)",
    )
    sa.set_defaults(handler=subscribe_all)

    dr = wh.add_parser(
        "drift",
        parents=leaf,
        help="this app's webhooks changed on the platform behind its back (open findings)",
    )
    dr.add_argument("--audit", action="store_true", help="run one audit now (lists every number's webhooks)")
    # Not in the profile's log up front (a read must create nothing); --audit opens it itself.
    dr.set_defaults(handler=drift, log_file=False)


# -- the store, written by this command ---------------------------------------------------------
@asynccontextmanager
async def _writing(ctx: Ctx) -> AsyncIterator[tuple[Submit, Reads]]:
    """A writer of this command's own on the store (as `reconcile`): SQLite serialises it with
    a window or serve running on the same folder."""
    path = await asyncio.to_thread(open_store, ctx.paths.data_dir)
    writer = Writer(path, asyncio.get_running_loop())
    writer.start()
    reads = Reads(path)
    try:
        yield writer.submit, reads
    finally:
        reads.close()
        await writer.stop()


# -- subscribe-all -----------------------------------------------------------------------------
def read_secrets_file(path: Path) -> dict[str, str]:
    """`ID=SECRET` lines (blank lines and # comments skipped); a bad line is a usage error
    naming its line number, never its content."""
    try:
        with path.open(encoding="utf-8") as f:
            text = f.read(MAX_SECRETS_FILE + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--secrets-file {path}: cannot be read ({exc})", EXIT_USAGE) from None
    if len(text) > MAX_SECRETS_FILE:
        raise CliError(f"--secrets-file {path}: over {MAX_SECRETS_FILE} bytes", EXIT_USAGE)
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        ident, sep, secret = (part.strip() for part in line.partition("="))
        if not sep or not ident or not secret or any(c.isspace() for c in ident + secret):
            raise CliError(
                f"--secrets-file {path}, line {n}: expected WEBHOOK_ID=SECRET or NUMBER_ID=SECRET "
                "(one per line, no spaces)",
                EXIT_USAGE,
            )
        out[ident] = secret
    return out


def _secret_asker(ctx: Ctx, given: dict[str, str] | None) -> Callable[[Webhook], Any]:
    tty = sys.stdin is not None and sys.stdin.isatty()

    async def secret_for(hook: Webhook) -> str | None:
        if given is not None:
            return given.get(hook.id) or (given.get(hook.number_id) if hook.number_id else None)
        if not tty:
            return None
        where = number_line(hook.number_id, ctx.admin.names()) if hook.number_id else "its number"
        prompt = (
            f"Signing secret of the new webhook {hook.id} of {where}, from the dashboard "
            "(input hidden; empty: none): "
        )
        value = await asyncio.to_thread(getpass.getpass, prompt, sys.stderr)
        return value.strip() or None

    return secret_for


def _step_json(ctx: Ctx, step: SubscribeStep) -> dict[str, Any]:
    return {
        "number_id": step.number.id,
        "number_name": step.number.name or None,
        "account": step.account.label or step.account.id,
        "action": step.action,
        "webhook_id": step.webhook.id if step.webhook is not None else None,
        "url": step.webhook.url if step.webhook is not None else None,
        "new_url": step.new_url,
        "reason": step.reason,
    }


def _print_plan(ctx: Ctx, plan: SubscribePlan) -> None:
    names = ctx.admin.names()
    rows = [
        [
            number_short(s.number.id, names),
            s.number.id,
            s.action,
            s.webhook.id if s.webhook is not None else "(new)",
            s.new_url,
            s.reason,
        ]
        for s in plan.steps
    ]
    print(f"Subscribe all numbers to this app ({plan.target.public_url}):")
    headers = ["NUMBER", "NUMBER ID", "ACTION", "WEBHOOK", "URL", "WHY"]
    fitted = table(headers, rows, wide=(0, 5), keep=(1, 3, 4), stack=(4, 5))  # ids and URLs whole
    print(fitted if rows else "No number to subscribe.")


async def subscribe_all(ctx: Ctx) -> int:
    args = ctx.args
    given = read_secrets_file(args.secrets_file) if args.secrets_file is not None else None
    plan = await plan_subscribe_all(ctx.admin)
    failures = [{"number_id": n.id, "error": why} for n, why in plan.failures]
    for number, why in plan.failures:
        err(f"number {number_line(number.id, ctx.admin.names())}: not listed, left out: {why}")
    if not args.yes:
        if ctx.as_json:
            steps = [_step_json(ctx, s) for s in plan.steps]
            print_json(
                {"applied": False, "public_url": plan.target.public_url, "steps": steps, "failures": failures}
            )
        else:
            _print_plan(ctx, plan)
            changes = sum(s.action != "keep" for s in plan.steps)
            print(f"Nothing changed ({changes} to create or re-point): add --yes to apply.")
        return EXIT_ERROR if plan.failures else EXIT_OK
    async with _writing(ctx) as (submit, _):
        result = await apply_subscribe_all(ctx.admin, plan.steps, _secret_asker(ctx, given), submit)
    _print_result(ctx, plan, result, failures)
    return EXIT_ERROR if result.failed or plan.failures else EXIT_OK


def _print_result(ctx: Ctx, plan: SubscribePlan, result: SubscribeResult, failures: list[Any]) -> None:
    if ctx.as_json:
        outcomes = [
            {
                **_step_json(ctx, o.step),
                "webhook_id": o.webhook.id if o.webhook is not None else None,
                "result": o.sentence,
                "error": o.error,
                "secret_stored": ctx.signing.has(o.webhook.id) if o.webhook is not None else False,
            }
            for o in result.outcomes
        ]
        print_json(
            {
                "applied": True,
                "public_url": plan.target.public_url,
                "outcomes": outcomes,
                "failures": failures,
                "notes": result.notes,
            }
        )
    else:
        names = ctx.admin.names()
        rows = [
            [number_short(o.step.number.id, names), o.step.number.id, o.step.action, o.sentence]
            for o in result.outcomes
        ]
        fitted = table(["NUMBER", "NUMBER ID", "ACTION", "RESULT"], rows, wide=(0, 3), keep=(1,), stack=(3,))
        print(fitted if rows else "No number to subscribe.")
        print(
            f"created {len(result.created)}, re-pointed {len(result.repointed)}, kept {len(result.kept)}, "
            f"failed {len(result.failed)}"
        )
    for note in result.notes:
        err(f"note: {note}")


# -- drift -----------------------------------------------------------------------------------------
def finding_json(row: DriftRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "found_at": iso(row.found_at),
        "kind": row.kind,
        "key": row.key,
        "webhook_id": row.webhook_id,
        "number_id": row.number_id,
        "sentence": row.sentence,
        "detail": row.detail,
        "resolved_at": iso(row.resolved_at) if row.resolved_at is not None else None,
    }


def _print_findings(rows: list[DriftRow]) -> None:
    if not rows:
        print("No drift: this app's webhooks are as it left them.")
        return
    for row in rows:
        print(f"#{row.id}  {cli_time(row.found_at)} UTC  {row.kind}")
        print(f"  {row.sentence}")


async def drift(ctx: Ctx) -> int:
    if not ctx.paths.data_dir.is_dir():  # never created by a command that only reads or audits
        raise CliError(f"No data folder at {ctx.paths.data_dir}: nothing to audit there.", EXIT_ERROR)
    if not ctx.args.audit:
        db = ctx.paths.data_dir / DB_NAME
        reads = Reads.open(ctx.paths.data_dir) if db.exists() else None  # refuses an old schema
        try:
            rows = reads.drift(open_only=True) if reads is not None else []
        finally:
            if reads is not None:
                reads.close()
        if ctx.as_json:
            print_json({"open": [finding_json(r) for r in rows]})
        else:
            if reads is None:
                err(f"note: no database in {ctx.paths.data_dir}: no audit has run here yet")
            _print_findings(rows)
        return EXIT_OK
    logs.setup(ctx.paths, console=False)
    async with _writing(ctx) as (submit, reads):
        audit = DriftAudit(ctx.admin, submit, lambda: reads, interval_s=lambda: 0.0)
        result = await audit.run_once()
    _print_audit(ctx, result)
    return EXIT_ERROR if result.failures or result.error else EXIT_OK


def _print_audit(ctx: Ctx, result: AuditResult) -> None:
    names = ctx.admin.names()
    if ctx.as_json:
        print_json(
            {
                "at": iso(result.at),
                "checked": result.checked,
                "open": [finding_json(r) for r in result.open],
                "new": [r.id for r in result.new],
                "resolved": [finding_json(r) for r in result.resolved],
                "adopted": result.adopted,
                "failures": [{"number_id": n, "error": why} for n, why in result.failures],
                "error": result.error,
            }
        )
    else:
        print(f"Audited {len(result.checked)} number(s) at {cli_time(result.at)} UTC.")
        _print_findings(result.open)
        if result.resolved:
            print(f"Resolved: {', '.join(f'#{r.id} {r.kind}' for r in result.resolved)}")
        if result.adopted:
            print(f"Adopted (this app's, first seen): {', '.join(result.adopted)}")
    for number_id, why in result.failures:
        err(f"number {number_line(number_id, names)}: not audited: {why}")
    if result.error:
        err(result.error)

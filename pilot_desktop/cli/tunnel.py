"""`pilot-desktop tunnel`: how the platform reaches this receiver (settings `tunnel.*`), the
tunnel the running app keeps, its public URL history and its reachability probes.

`set` writes the settings through the settings document (validated by its model: a bad
value is refused naming its field, exit 2, and the file is left untouched); a running
window or `serve` applies the change within about a second. The ngrok authtoken (mode
ngrok-sdk) is read from stdin, never from argv, and kept in the secret store.
Reads open the store read-only (never created or upgraded). Times are UTC.
"""

from __future__ import annotations

import argparse
from typing import Any

from pilot_desktop.cli.common import EXIT_OK, EXIT_USAGE, CliError, Ctx, err, print_json, read_secret, table
from pilot_desktop.cli.status import probe_json
from pilot_desktop.cli.watch_lines import start_again
from pilot_desktop.core.format import cli_time, iso
from pilot_desktop.services.config import SettingsError, peek_settings
from pilot_desktop.services.settings import TUNNEL_MODES, Settings
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.watch_records import TunnelRow, UrlRow
from pilot_desktop.tunnel.ngrok_sdk import AUTHTOKEN_SECRET
from pilot_desktop.tunnel.ngrok_sdk import MODE as NGROK_SDK
from pilot_desktop.tunnel.providers import COMMAND, TunnelError, command_line, shown_command

HISTORY_SHOWN = 20  # URL history lines in `show`
MAX_LIMIT = 20_000


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    leaf = [common, as_json]
    tunnel = sub.add_parser(
        "tunnel",
        parents=[common],
        help="the tunnel to this receiver: show, set the mode, the ngrok authtoken, URL history, probes",
    )
    act = tunnel.add_subparsers(dest="action", metavar="ACTION", required=True)
    act.add_parser(
        "show", parents=leaf, help="the tunnel settings, the tunnel the app runs and the recent public URLs"
    ).set_defaults(handler=show_tunnel)
    setp = act.add_parser(
        "set",
        parents=leaf,
        help="set the tunnel mode (and its command, probe interval, auto re-pointing)",
        description=f"MODE is one of {', '.join(TUNNEL_MODES)}. manual: the URL set with `public-url`; "
        "cloudflared / ngrok: that program is started with the receiver; command: the --command "
        "template ({port}, {local_url}); ngrok-sdk: ngrok in-process (`tunnel authtoken`). A running "
        "window or serve applies it within about a second.",
    )
    setp.add_argument("mode", metavar="MODE", help=" | ".join(TUNNEL_MODES))
    setp.add_argument(
        "--command",
        metavar="TEMPLATE",
        help="the program for mode command, e.g. 'cloudflared tunnel --url {local_url}'",
    )
    setp.add_argument("--probe-interval", type=int, metavar="S", help="seconds between two probes")
    setp.add_argument(
        "--auto-repoint",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="move this app's webhooks to a new public URL without asking",
    )
    setp.set_defaults(handler=set_tunnel, log_file=True)
    act.add_parser(
        "authtoken",
        parents=leaf,
        help="store the ngrok authtoken (mode ngrok-sdk), read from stdin, in the secret store",
    ).set_defaults(handler=set_authtoken, log_file=True)
    forget = act.add_parser("forget-authtoken", parents=leaf, help="delete the stored ngrok authtoken")
    forget.set_defaults(handler=forget_authtoken, log_file=True)
    history = act.add_parser(
        "history", parents=leaf, help="public URLs seen and webhooks moved, newest first"
    )
    history.add_argument("--limit", type=int, default=200, help="at most this many lines (default 200)")
    history.set_defaults(handler=url_history)
    probes = act.add_parser("probes", parents=leaf, help="probes through the public URL, newest first")
    probes.add_argument("--limit", type=int, default=50, help="at most this many probes (default 50)")
    probes.set_defaults(handler=list_probes)


def _limit(ctx: Ctx) -> int:
    limit = int(ctx.args.limit)
    if not 1 <= limit <= MAX_LIMIT:
        raise CliError(f"--limit must be 1-{MAX_LIMIT}, got {limit}", EXIT_USAGE)
    return limit


def _time(ts: float | None) -> str:
    return f"{cli_time(ts)} UTC" if ts is not None else "-"


def settings_json(s: Settings) -> dict[str, Any]:
    t = s.tunnel
    return {
        "mode": t.mode,
        "command": shown_command(t.command),  # secrets masked; the settings file keeps them
        "probeIntervalSeconds": t.probe_interval_s,
        "autoRepoint": t.auto_repoint,
        "auditIntervalSeconds": t.audit_interval_s,
        "manualPublicUrl": s.public_url,
    }


def row_json(row: TunnelRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "mode": row.mode,
        "publicUrl": row.public_url,
        "state": row.state,
        "pid": row.pid,
        "since": iso(row.since),
        "sinceEpoch": row.since,
        "error": row.error,
        "updatedAt": iso(row.at),
        "updatedAtEpoch": row.at,
        "output": row.output,
    }


def url_json(u: UrlRow) -> dict[str, Any]:
    return {
        "id": u.id,
        "at": iso(u.at),
        "atEpoch": u.at,
        "kind": u.kind,
        "publicUrl": u.public_url,
        "source": u.source,
        "webhookId": u.webhook_id,
        "numberId": u.number_id,
        "oldUrl": u.old_url,
        "detail": u.detail,
    }


def _url_rows(rows: list[UrlRow]) -> str:
    lines = [
        [
            _time(u.at),
            u.kind,
            u.public_url or "-",
            u.source,
            u.webhook_id or "",
            u.old_url or "",
            u.detail or "",
        ]
        for u in rows
    ]
    return table(
        ["AT", "KIND", "PUBLIC URL", "SOURCE", "WEBHOOK", "OLD URL", "DETAIL"], lines, wide=(2, 5, 6)
    )


def show_tunnel(ctx: Ctx) -> int:
    settings = peek_settings(ctx.paths)
    row, urls, store_note = None, [], None
    try:
        reads = Reads.open(ctx.paths.data_dir)
        try:
            row, urls = reads.tunnel(), reads.url_history(HISTORY_SHOWN)
        finally:
            reads.close()
    except StoreError as exc:
        store_note = str(exc)
    # Asked only where it is used: a keyring may prompt, and no other mode needs it.
    authtoken = ctx.secrets.get(AUTHTOKEN_SECRET) is not None if settings.tunnel.mode == NGROK_SDK else None
    if ctx.as_json:
        print_json(
            {
                "settings": settings_json(settings),
                "tunnel": row_json(row),
                "history": [url_json(u) for u in urls],
                "authtokenStored": authtoken,
                "storeError": store_note,
            }
        )
        return EXIT_OK
    t = settings.tunnel
    print(f"Mode: {t.mode}")
    if t.mode == COMMAND:
        print(f"Command: {shown_command(t.command) or '(none set)'}")
    if authtoken is not None:
        print(f"ngrok authtoken: {'stored' if authtoken else 'not stored (`tunnel authtoken` sets it)'}")
    if t.mode == "manual":
        print(f"Public URL: {settings.public_url or '(none set: `pilot-desktop public-url URL`)'}")
    print(
        f"Probe every {t.probe_interval_s} s; auto re-point {'on' if t.auto_repoint else 'off'}; "
        f"drift audit every {t.audit_interval_s} s"
    )
    if store_note:
        print(f"Store: {store_note}")
    elif row is None:
        print("No tunnel recorded yet (no Pilot Desktop ran this version on this data folder).")
    else:
        pid = f", pid {row.pid}" if row.pid else ""
        error = f": {row.error}" if row.error else ""
        error += start_again(row.mode, row.state, row.error, in_serve=False)
        print(f"Tunnel ({row.mode}): {row.state}{pid} since {_time(row.since)}{error}")
        print(f"  Public URL: {row.public_url or '-'} (recorded {_time(row.at)})")
        for line in row.output[-5:]:
            print(f"  | {line}")
    if urls:
        print("Public URLs, newest first:")
        print(_url_rows(urls))
    return EXIT_OK


def set_tunnel(ctx: Ctx) -> int:
    args = ctx.args
    patch: dict[str, Any] = {"tunnel.mode": args.mode}
    if args.command is not None:
        if args.mode != COMMAND:
            raise CliError(f"--command is for mode command, not {args.mode}", EXIT_USAGE)
        patch["tunnel.command"] = args.command
    if args.probe_interval is not None:
        patch["tunnel.probe_interval_s"] = args.probe_interval
    if args.auto_repoint is not None:
        patch["tunnel.auto_repoint"] = args.auto_repoint

    def change(s: Settings) -> dict[str, Any]:
        if args.mode == COMMAND:  # what would run must be runnable: checked before writing
            template = args.command if args.command is not None else s.tunnel.command
            try:
                if not template.strip():
                    raise TunnelError("mode command needs --command TEMPLATE")
                command_line(COMMAND, template, port=1, local_url="http://127.0.0.1:1")
            except TunnelError as exc:
                raise SettingsError(f"tunnel.command: {exc}", [f"tunnel.command: {exc}"]) from None
        return patch

    try:
        saved = ctx.config.settings.update(change)
    except SettingsError as exc:
        raise CliError(f"{exc} Nothing was changed.", EXIT_USAGE) from None
    no_url = saved.tunnel.mode == "manual" and not saved.public_url
    if ctx.as_json:
        print_json(settings_json(saved))  # the same document as `tunnel show --json`'s "settings"
        if no_url:
            err("note: no public URL yet: set it with `pilot-desktop public-url URL`.")
        return EXIT_OK
    t = saved.tunnel
    command = f" ({shown_command(t.command)})" if t.mode == COMMAND else ""
    print(
        f"Tunnel mode: {t.mode}{command}; probe every {t.probe_interval_s} s; "
        f"auto re-point {'on' if t.auto_repoint else 'off'}."
    )
    if no_url:
        print("No public URL yet: set it with `pilot-desktop public-url URL`.")
    return EXIT_OK


def set_authtoken(ctx: Ctx) -> int:
    token = read_secret("ngrok authtoken")
    ctx.secrets.set(AUTHTOKEN_SECRET, token)
    if ctx.as_json:
        print_json({"authtokenStored": True, "secretStore": ctx.secrets.backend})
        return EXIT_OK
    print(f"ngrok authtoken stored ({ctx.secrets.backend}); used by tunnel mode ngrok-sdk.")
    return EXIT_OK


def forget_authtoken(ctx: Ctx) -> int:
    stored = ctx.secrets.get(AUTHTOKEN_SECRET) is not None
    if stored:
        ctx.secrets.delete(AUTHTOKEN_SECRET)
    if ctx.as_json:
        print_json({"authtokenStored": False, "deleted": stored})
    else:
        print("ngrok authtoken deleted." if stored else "No ngrok authtoken was stored.")
    return EXIT_OK


def _open(ctx: Ctx) -> Reads:
    return Reads.open(ctx.paths.data_dir)


def url_history(ctx: Ctx) -> int:
    limit = _limit(ctx)
    reads = _open(ctx)
    try:
        rows = reads.url_history(limit)
    finally:
        reads.close()
    if ctx.as_json:
        print_json([url_json(u) for u in rows])
    elif rows:
        print(_url_rows(rows))
    else:
        print("No public URL recorded yet.")
    return EXIT_OK


def list_probes(ctx: Ctx) -> int:
    limit = _limit(ctx)
    reads = _open(ctx)
    try:
        rows = reads.probes(limit)
    finally:
        reads.close()
    if ctx.as_json:
        print_json([probe_json(p) for p in rows])
        return EXIT_OK
    if not rows:
        print("No probe recorded yet.")
        return EXIT_OK
    lines = [
        [
            _time(p.at),
            "ok" if p.ok else "FAILED",
            "-" if p.latency_ms is None else f"{p.latency_ms:.0f} ms",
            p.diagnosis,
            p.trigger,
            p.public_url,
            "" if p.ok else p.sentence,
        ]
        for p in rows
    ]
    print(
        table(["AT", "RESULT", "LATENCY", "DIAGNOSIS", "TRIGGER", "PUBLIC URL", "WHY"], lines, wide=(3, 5, 6))
    )
    return EXIT_OK

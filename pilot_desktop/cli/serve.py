"""`pilot-desktop serve` (the core, headless) and `hook-url`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from pydantic import ValidationError

from pilot_desktop.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliError, Ctx, print_json
from pilot_desktop.cli.refusals import RefusalLines
from pilot_desktop.cli.watch_lines import WatchLines
from pilot_desktop.cli.window import ENV_SECRETS, given_secrets
from pilot_desktop.services import logs
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.gaps import sentence as gap_sentence
from pilot_desktop.services.settings import TUNNEL_MODES, TunnelSettings
from pilot_desktop.services.webhooks import local_hook_url, target_of
from pilot_desktop.tunnel.providers import TunnelError, command_line, shown_command

HEALTH_EVERY_S = 0.5


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the receiver, store and number polling headless",
        description="Runs what the window runs, without the window: the receiver, the store, "
        "number polling through the accounts. SIGINT/SIGTERM drain and exit 0. Settings, "
        "accounts and signing secrets changed meanwhile (by the CLI) apply without a restart. A busy "
        "port is tried again every few seconds; the times nothing was received are recorded "
        "(`pilot-desktop gaps`) and said here.",
    )
    serve.add_argument("--host", help="listen address (default from settings: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default from settings; 0 = any free)")
    serve.add_argument(
        "--signing-secret",
        action="append",
        default=[],
        metavar="S",
        help=f"webhook signing secret checking every route; repeat for several (also env {ENV_SECRETS}, "
        "comma-separated). A secret stored with `webhooks update ID --secret-stdin` checks only the "
        "route of that webhook's URL. Deliveries to a route with a secret get 401 when unsigned or "
        "wrongly signed; a route without one accepts them unsigned.",
    )
    serve.add_argument(
        "--tunnel",
        choices=TUNNEL_MODES,
        help="for this run, instead of the setting tunnel.mode: manual (the public URL set with "
        "`public-url`), cloudflared (a quick tunnel), ngrok (the agent), command (--tunnel-command), "
        "ngrok-sdk (in-process; the `ngrok` extra and an authtoken). A tunnel program is restarted when "
        "it dies; a new public URL moves this app's webhooks when tunnel.auto_repoint is on.",
    )
    serve.add_argument(
        "--tunnel-command",
        metavar="TEMPLATE",
        help="the tunnel program for --tunnel command (implied), with {port} and/or {local_url}; its "
        "public URL is read from what it prints",
    )
    serve.set_defaults(handler=serve_command, warn_each_start=True)
    hook = sub.add_parser(
        "hook-url", parents=[common, as_json], help="print the URL webhooks should be sent to"
    )
    hook.set_defaults(handler=hook_url)


def serve_command(ctx: Ctx) -> int:
    port = ctx.args.port
    if port is not None and not 0 <= port <= 65535:
        raise CliError(f"--port must be 0-65535, got {port}", EXIT_USAGE)
    mode, command = _tunnel_args(ctx.args.tunnel, ctx.args.tunnel_command)
    logs.setup(ctx.paths, console=True)
    ctx.config.mark_real_receiver()
    options = CoreOptions(
        given_secrets=tuple(given_secrets(ctx.args.signing_secret)),
        host=ctx.args.host,
        port=port,
        tunnel=mode,
        tunnel_command=command,
    )
    # Raises SecretsError when the stored secrets cannot be read: serving without them would
    # accept deliveries nobody can verify, so serve refuses instead.
    core = AppCore(ctx.paths, ctx.config, options, secrets=ctx.secrets if _uses_secrets(ctx) else None)
    return asyncio.run(_serve(core))


def _tunnel_args(mode: str | None, command: str | None) -> tuple[str | None, str | None]:
    """--tunnel / --tunnel-command checked like the settings are (exit 2 naming the problem)."""
    if command is None:
        return mode, None
    if mode not in (None, "command"):
        raise CliError(f"--tunnel-command is for --tunnel command, not --tunnel {mode}", EXIT_USAGE)
    if not command.strip():
        raise CliError("--tunnel-command is empty: give the tunnel program's command line", EXIT_USAGE)
    try:
        checked = TunnelSettings(command=command).command
        command_line("command", checked, port=1, local_url="http://127.0.0.1:1")
    except ValidationError as exc:
        why = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise CliError(f"--tunnel-command {shown_command(command)!r}: {why}", EXIT_USAGE) from None
    except TunnelError as exc:
        raise CliError(f"--tunnel-command {shown_command(command)!r}: {exc}", EXIT_USAGE) from None
    return "command", checked


def _uses_secrets(ctx: Ctx) -> bool:
    """Open the store (and say when it is the 0600 file) only when something is in it."""
    state = ctx.config.state.value
    return bool(state.accounts or state.signing_secret_webhooks)


async def _serve(core: AppCore) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await core.start()
    # A busy port is no reason to exit: the core records the gap and tries it again.
    problem = core.store_error or (None if core.port_in_use else core.receiver_error)
    if problem:
        await core.stop()
        print(f"pilot-desktop: {problem}", file=sys.stderr)
        return EXIT_ERROR
    _say_gaps(core)
    print(f"Database: {core.runtime.db_path}", flush=True)
    print(f"Signature check: {core.signing.describe()}", flush=True)
    if core.polling is not None and core.polling.running:
        print(f"Number polling: every {core.polling.poller.interval:.0f} s through the accounts", flush=True)
    _say_watch(core)
    health = asyncio.ensure_future(_say_storing(core))
    refused = RefusalLines(lambda line: print(line, flush=True))  # at most a line a minute per kind
    refused.follow(core.refusals)
    refusing = asyncio.ensure_future(refused.run())
    await stop.wait()
    health.cancel()
    refusing.cancel()
    print("Stopping: draining pending writes…", flush=True)
    await core.stop()
    print("Stopped.", flush=True)
    return EXIT_OK


def _say_gaps(core: AppCore) -> None:
    """The time nothing ran before this start, whether the receiver listens, and from then on
    each gap as it opens or ends (services/gaps.py)."""
    if core.gaps.started_with is not None:
        print(gap_sentence(core.gaps.started_with), flush=True)
    if core.listening:
        _say_listening(core)
    elif core.port_shared:
        print(
            f"Not listening: {core.receiver_error}. Another Pilot Desktop on this data folder receives "
            f"on that port; trying again every {core.options.listen_retry_s:g} s.",
            flush=True,
        )
    else:
        gap = core.gaps.current
        said = gap_sentence(gap) if gap else f"Not listening: {core.receiver_error}."
        print(f"{said} Trying again every {core.options.listen_retry_s:g} s.", flush=True)
    core.gaps.follow(lambda gap: print(gap_sentence(gap), flush=True))
    if core.catch_ups is not None:  # what the API gave back after a gap (services/catch_up.py)
        core.catch_ups.on_done.append(
            lambda _gap, done: print(f"Caught up after the gap: {done.get('summary', done)}", flush=True)
        )
    core.on_listening.append(lambda: _say_listening(core))


def _say_watch(core: AppCore) -> None:
    """The tunnel's state and public URL, re-pointing and reachability, as they change."""
    watch = WatchLines(lambda line: print(line, flush=True))
    watch.follow(core)


def _say_listening(core: AppCore) -> None:
    print(f"Listening: {core.hook_url}", flush=True)
    for base in core.runtime.listening_urls[1:]:  # on all interfaces: the machine's addresses
        print(f"Also listening: {base}/hooks/{core.runtime.token}", flush=True)


async def _say_storing(core: AppCore) -> None:
    """Whether webhooks are stored, said when it changes: a damaged, read-only, locked or
    full store is answered 503 (the platform retries), and the operator must know why."""
    said: tuple[str, str | None] = ("ok", None)
    while core.reads is not None:
        health = core.reads.health()
        if (health.state, health.reason) != said:
            if health.state == "stopped":
                print(f"Not storing: {health.reason}", flush=True)
            elif health.state == "problem":
                print(f"Storing problem (answered 503, retried by the platform): {health.reason}", flush=True)
            else:
                print("Storing again.", flush=True)
            said = (health.state, health.reason)
        await asyncio.sleep(HEALTH_EVERY_S)


def hook_url(ctx: Ctx) -> int:
    config = ctx.config
    config.mark_real_receiver()
    target = target_of(config)
    local = local_hook_url(config)
    url = target.bare_url if target is not None else local  # what Pilot Status must call
    if ctx.as_json:
        # public false: the local address, which Pilot Status cannot reach
        print_json({"hookUrl": url, "public": target is not None, "localHookUrl": local})
    else:
        print(url)
    if target is None:
        print("(local address; set the tunnel's with `pilot-desktop public-url URL`)", file=sys.stderr)
    return EXIT_OK

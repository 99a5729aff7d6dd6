"""Command line: `pilot-desktop` opens the GUI; subcommands run headless on the same core."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pilot_desktop import __version__, cli_messages, cli_numbers, cli_webhooks
from pilot_desktop.services import logs
from pilot_desktop.services.paths import ENV_DATA_DIR, AppPaths, resolve
from pilot_desktop.services.settings import Settings, SettingsError, load, save
from pilot_desktop.store.db import StoreError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
ENV_SECRETS = "PILOT_DESKTOP_SIGNING_SECRETS"


def _common(*, top: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        # Accepted before and after the command. A subcommand's own default would overwrite
        # a value given before it (`pilot-desktop --data-dir D export`), so only the top
        # level has a default.
        default=None if top else argparse.SUPPRESS,
        help=f"folder for the database, settings and logs (env {ENV_DATA_DIR}; "
        "default: the platform's usual places)",
    )
    return p


def console_rate_limit(text: str) -> tuple[int, float]:
    from pilot_desktop.sandbox.console import rate_limit_arg  # the sandbox loads only when asked

    return rate_limit_arg(text)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="pilot-desktop",
        description="Monitor Pilot Status WhatsApp webhooks. Without a command, opens the window.",
        parents=[_common(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"pilot-desktop {__version__}")
    demo = parser.add_mutually_exclusive_group()
    demo.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="run against the built-in sandbox (the default until an account is connected "
        "and while nothing real has been received)",
    )
    demo.add_argument("--no-demo", dest="demo", action="store_false", help="never start the demo")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the receiver and store headless")
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

    sub.add_parser("hook-url", parents=[common], help="print the URL webhooks should be sent to")

    sandbox = sub.add_parser(
        "sandbox", parents=[common], help="run the local Pilot Status sandbox (REST API + webhook deliveries)"
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8790, help="listen port (default 8790; 0 = any free)")
    sandbox.add_argument("--seed", type=int, default=1, help="scenario seed: the same seed, the same traffic")
    sandbox.add_argument("--rate", type=float, default=2.0, help="organic webhooks per second (all numbers)")
    sandbox.add_argument("--numbers", type=int, default=3, help="how many simulated numbers")
    sandbox.add_argument(
        "--retry-window", type=float, default=300.0, metavar="S", help="retry failed deliveries for S seconds"
    )
    sandbox.add_argument(
        "--duplicates", type=float, default=0.0, metavar="F", help="share of deliveries sent twice (0-1)"
    )
    sandbox.add_argument(
        "--reorder", type=float, default=0.0, metavar="S", help="random delivery delay up to S seconds"
    )
    sandbox.add_argument(
        "--rate-limit",
        type=console_rate_limit,
        default=None,
        metavar="N/S",
        help="answer 429 past N API requests per S seconds per key (e.g. 10/1)",
    )
    sandbox.add_argument("--verbose", "-v", action="store_true", help="print every delivery attempt")

    export = sub.add_parser("export", parents=[common], help="write every stored event")
    export.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    export.add_argument("--output", "-o", metavar="FILE", help="file to write (default: stdout)")

    cli_webhooks.add_parsers(sub, common)  # accounts, public-url, webhooks
    cli_messages.add_parsers(sub, common)  # timeline, messages, rebuild
    cli_numbers.add_parsers(sub, common)  # numbers
    return parser


def _settings(paths: AppPaths) -> Settings:
    paths.ensure()
    return load(paths.settings_file)


def _use_real_receiver(paths: AppPaths, settings: Settings) -> None:
    if not settings.real_receiver:
        settings.real_receiver = True
        save(paths.settings_file, settings)


def _secrets(cli: Sequence[str]) -> list[str]:
    env = [s for s in os.environ.get(ENV_SECRETS, "").split(",") if s.strip()]
    return [s.strip() for s in [*cli, *env] if s.strip()]


async def _serve(paths: AppPaths, settings: Settings, args: argparse.Namespace) -> int:
    from pilot_desktop.services.runtime import ReceiverStartError, Runtime

    if args.port is not None and not 0 <= args.port <= 65535:
        print(f"pilot-desktop: --port must be 0-65535, got {args.port}", file=sys.stderr)
        return EXIT_USAGE
    from pilot_desktop.services.secrets import SecretsError

    given = _secrets(args.signing_secret)
    try:
        # Re-read when settings.json changes: a secret stored while serving applies at once.
        stored = cli_webhooks.StoredSecrets(paths, given=len(given))
    except (SecretsError, SettingsError) as exc:
        # Serving without them would accept deliveries nobody can verify: refuse instead.
        print(f"pilot-desktop: {exc}", file=sys.stderr)
        return EXIT_ERROR
    rt = Runtime(paths, settings, given, host=args.host, port=args.port, extra_secrets=stored)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await rt.start()
    except (StoreError, ReceiverStartError) as exc:
        print(f"pilot-desktop: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"Listening: {rt.hook_url}", flush=True)
    print(f"Database: {rt.db_path}", flush=True)
    print(f"Signature check: {stored.describe()}", flush=True)
    await stop.wait()
    print("Stopping: draining pending writes…", flush=True)
    await rt.stop()
    print("Stopped.", flush=True)
    return EXIT_OK


def _export(paths: AppPaths, args: argparse.Namespace) -> int:
    from pilot_desktop.services.export import open_for_export, write_events

    conn = open_for_export(paths.data_dir)  # checked before any output file is touched
    try:
        if not args.output:
            count = write_events(conn, sys.stdout, args.format)
        else:
            # Written beside the target and renamed at the end: a failure never leaves
            # a truncated export in place of a good one.
            target = Path(args.output)
            tmp = target.with_name(f".{target.name}.partial")
            try:
                with tmp.open("w", encoding="utf-8", newline="") as out:
                    count = write_events(conn, out, args.format)
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
    finally:
        conn.close()
    print(f"exported {count} events", file=sys.stderr)
    return EXIT_OK


def _sandbox(args: argparse.Namespace) -> int:
    from pilot_desktop.sandbox import console
    from pilot_desktop.sandbox.server import Sandbox

    problems = [
        f"--{name} {value}"
        for name, value, ok in (
            ("port", args.port, 0 <= args.port <= 65535),
            ("numbers", args.numbers, 1 <= args.numbers <= 500),
            ("rate", args.rate, 0 <= args.rate <= 10_000),
            ("duplicates", args.duplicates, 0 <= args.duplicates <= 1),
            ("reorder", args.reorder, 0 <= args.reorder <= 3600),
            ("retry-window", args.retry_window, 0 <= args.retry_window <= 7 * 86400),
        )
        if not ok
    ]
    if problems:
        print(f"pilot-desktop sandbox: out of range: {', '.join(problems)}", file=sys.stderr)
        return EXIT_USAGE

    def make(on_attempt: object) -> Sandbox:
        return Sandbox(
            seed=args.seed, numbers=args.numbers, rate=args.rate, host=args.host, port=args.port,
            retry_window=args.retry_window, duplicate_rate=args.duplicates, reorder_jitter=args.reorder,
            rate_limit=args.rate_limit, on_attempt=on_attempt,  # type: ignore[arg-type]
        )  # fmt: skip

    return asyncio.run(console.main(make, sys.stdout, args.verbose))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    paths = resolve(args.data_dir)
    try:
        if args.command == "sandbox":
            return _sandbox(args)  # the sandbox has nothing to do with this app's settings
        if args.command == "export":
            return _export(paths, args)
        if args.command in cli_messages.COMMANDS:
            return cli_messages.run(paths, args)  # reads create nothing; no settings needed
        settings = _settings(paths)
        if args.command in cli_numbers.COMMANDS:
            logs.setup(paths, console=False)
            return cli_numbers.run(paths, settings, args)
        if args.command in cli_webhooks.COMMANDS:
            logs.setup(paths, console=False)  # the log file only; messages are printed
            return cli_webhooks.run(paths, settings, args)
        if args.command is None:
            logs.setup(paths, console=True)
            from pilot_desktop.ui.app import run_gui

            # No account can be connected yet, so the window starts in demo mode until the
            # real receiver has been asked for once: `serve`, `hook-url` (the user is setting
            # up real webhooks) or `--no-demo`. From then on it starts the real receiver.
            if args.demo is False:
                _use_real_receiver(paths, settings)
            demo = args.demo if args.demo is not None else not settings.real_receiver
            return run_gui(paths, settings, demo=demo, signing_secrets=_secrets([]))
        _use_real_receiver(paths, settings)
        if args.command == "serve":
            logs.setup(paths, console=True)
            return asyncio.run(_serve(paths, settings, args))
        if args.command == "hook-url":
            from pilot_desktop.services.runtime import Runtime

            if settings.public_url:  # what Pilot Status must call: through the tunnel
                from pilot_desktop.tunnel.public_url import normalize_public_url

                print(f"{normalize_public_url(settings.public_url)}/hooks/{settings.receiver.token}")
            else:
                print(Runtime(paths, settings).hook_url)
                print(
                    "(local address; set the tunnel's with `pilot-desktop public-url URL`)", file=sys.stderr
                )
            return EXIT_OK
    except (SettingsError, StoreError) as exc:
        print(f"pilot-desktop: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # e.g. the data dir is a file, an unwritable export path
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"pilot-desktop: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `export | head`
        sys.stderr.close()
        return EXIT_OK
    logging.getLogger(__name__).error("unknown command %s", args.command)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

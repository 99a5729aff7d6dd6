"""`pilot-desktop`: the parser and the dispatch. Without a command, opens the window."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pilot_desktop import __version__
from pilot_desktop.cli import (
    accounts,
    export,
    gaps,
    messages,
    numbers,
    reconcile,
    refusals,
    sandbox,
    send,
    serve,
    status,
    timeline,
    tunnel,
    webhooks,
    window,
)
from pilot_desktop.cli.common import EXIT_USAGE, CliError, Ctx, add_json, err, guard_pipe, run, safe_streams
from pilot_desktop.services.demo import demo_paths
from pilot_desktop.services.paths import ENV_DATA_DIR, AppPaths, resolve
from pilot_desktop.store.db import DB_NAME

EPILOG = (
    "Every command takes --data-dir DIR (also before the command). Exit codes: 0 done, 1 failed, "
    "2 the command cannot run as given, 130 interrupted. Commands that print data take --json."
)


# The commands that only read the store, so `--demo` can point them at the demo's store;
# the others work on the profile itself (its accounts, webhooks, settings). The action
# (`tunnel history`), if any, is given after a space.
DEMO_READERS = (
    "messages",
    "timeline",
    "numbers",
    "export",
    "gaps",
    "rejections",
    "tunnel history",
    "tunnel probes",
)


def _demo_paths(args: argparse.Namespace, paths: AppPaths) -> AppPaths:
    """`paths` with the demo's data folder when `--demo` goes with a command that reads the
    store (the operator's preferences still come from the profile, as in the demo window);
    `--demo` with any other command is refused rather than silently ignored."""
    if args.command is None or args.demo is not True:
        return paths
    name = " ".join(filter(None, (args.command, getattr(args, "action", None))))
    if name not in DEMO_READERS and args.command not in DEMO_READERS:
        raise CliError(
            f"--demo goes with the window or a command that reads the store ({', '.join(DEMO_READERS)}); "
            f"`{name}` works on the profile itself: run it without --demo.",
            EXIT_USAGE,
        )
    if getattr(args, "refresh", False):
        raise CliError(
            "--demo reads the demo's store only: --refresh (a poll of your accounts) goes without it.",
            EXIT_USAGE,
        )
    demo = demo_paths(paths).data_dir
    if not (demo / DB_NAME).exists():
        raise CliError(
            f"No demo store in {demo}: only the demo window creates one (`pilot-desktop --demo` on a "
            "desktop, with this data folder); there is no headless demo. Run the command without "
            "--demo to read this data folder's own store.",
        )
    return AppPaths(demo, paths.config_dir, paths.log_dir)


def _data_dir(*, top: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    if not top:  # also after the command (`messages --demo`); the window's flag is the top level's
        p.add_argument(
            "--demo",
            action="store_true",
            default=argparse.SUPPRESS,
            help="read the demo's store (commands that read the store)",
        )
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pilot-desktop",
        description="Monitor Pilot Status WhatsApp webhooks. Without a command, opens the window.",
        epilog=EPILOG,
        parents=[_data_dir(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"pilot-desktop {__version__}")
    window.add_options(parser)
    parser.set_defaults(handler=window.run)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _data_dir()
    as_json = argparse.ArgumentParser(add_help=False)
    add_json(as_json)
    for group in (
        serve,
        sandbox,
        export,
        timeline,
        messages,
        numbers,
        accounts,
        webhooks,
        refusals,
        gaps,
        reconcile,
        send,
        status,
        tunnel,
    ):
        group.add_parsers(sub, common, as_json)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    safe_streams()

    def command() -> int:
        args = build_parser().parse_args(argv)
        try:
            paths = _demo_paths(args, resolve(args.data_dir))
        except CliError as exc:
            err(str(exc))
            return exc.code
        return run(Ctx(paths, args), args.handler)

    return guard_pipe(command)


if __name__ == "__main__":
    sys.exit(main())

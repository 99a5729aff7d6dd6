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
from pilot_desktop.cli.common import Ctx, guard_pipe, run, safe_streams
from pilot_desktop.services.paths import ENV_DATA_DIR, resolve

EPILOG = (
    "Every command takes --data-dir DIR (also before the command). Exit codes: 0 done, 1 failed, "
    "2 the command cannot run as given, 130 interrupted. Commands that print data take --json."
)


def _data_dir(*, top: bool = False) -> argparse.ArgumentParser:
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
    as_json.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
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
        return run(Ctx(resolve(args.data_dir), args), args.handler)

    return guard_pipe(command)


if __name__ == "__main__":
    sys.exit(main())

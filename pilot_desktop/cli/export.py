"""`pilot-desktop export`: every stored event as NDJSON or CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pilot_desktop.cli.common import EXIT_OK, EXIT_USAGE, CliError, Ctx, add_json, data_stdout
from pilot_desktop.services.export import open_for_export, write_events


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    export = sub.add_parser(
        "export",
        parents=[common],
        help="write every stored event",
        description="Writes every stored event, oldest first. Reads the database only: a read-only "
        "data folder is enough, and it is safe beside a running serve or window.",
        epilog="ndjson: one strict JSON object per line; a NaN or infinite number in a payload "
        '(stored by an older version) is written as the string "NaN", "Infinity" or "-Infinity". '
        "csv: every cell quoted; a cell starting with = + - @, a tab, CR, LF or NUL (also after "
        "spaces, and the full-width ＝ ＋ － ＠) gets a leading ' so a spreadsheet shows it as text "
        "instead of running it as a formula (phone numbers read '+5511...); a program reading the "
        "file removes that one '. The payload column is the body as text, decoded from UTF-8, "
        "UTF-16 or UTF-32 as JSON allows.",
    )
    export.add_argument("--format", choices=("ndjson", "csv"), default=None, help="ndjson (default) or csv")
    # Every data command takes --json; export's JSON is its NDJSON (one event per line, like
    # `messages --json`), so --json names that format rather than adding a third.
    add_json(export, help="the same as --format ndjson")
    export.add_argument("--output", "-o", metavar="FILE", help="file to write (default: stdout)")
    export.set_defaults(handler=run)


def run(ctx: Ctx) -> int:
    args = ctx.args
    if args.json and args.format == "csv":
        raise CliError("--json is the NDJSON format: give it or --format csv, not both.", EXIT_USAGE)
    fmt = args.format or "ndjson"
    conn = open_for_export(ctx.paths.data_dir)  # checked before any output file is touched
    try:
        if not args.output:
            out = data_stdout()
            count = write_events(conn, out, fmt)
            out.flush()  # a reader gone (`| head`) is found here, before "exported" is said
        else:
            # Written beside the target and renamed at the end: a failure never leaves
            # a truncated export in place of a good one.
            target = Path(args.output)
            tmp = target.with_name(f".{target.name}.partial")
            try:
                with tmp.open("w", encoding="utf-8", newline="") as out:
                    count = write_events(conn, out, fmt)
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
    finally:
        conn.close()
    print(f"exported {count} events", file=sys.stderr)
    return EXIT_OK

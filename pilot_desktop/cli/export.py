"""`pilot-desktop export`: every stored event as NDJSON or CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pilot_desktop.cli.common import EXIT_OK, Ctx
from pilot_desktop.services.export import open_for_export, write_events


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    export = sub.add_parser("export", parents=[common], help="write every stored event")
    export.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    export.add_argument("--output", "-o", metavar="FILE", help="file to write (default: stdout)")
    export.set_defaults(handler=run)


def run(ctx: Ctx) -> int:
    args = ctx.args
    conn = open_for_export(ctx.paths.data_dir)  # checked before any output file is touched
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

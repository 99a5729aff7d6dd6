"""What the CLI prints data with: the `--json` flag, JSON in one key style (camelCase), and
tables fitted to the terminal."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

from pilot_desktop.core.format import terminal_safe
from pilot_desktop.core.interchange import json_text


def add_json(parser: argparse.ArgumentParser, help: str = "print machine-readable JSON on stdout") -> None:
    """The standard `--json` flag of a command that prints data."""
    parser.add_argument("--json", action="store_true", help=help)


def print_json(value: Any, *, indent: int | None = 2) -> None:
    """One JSON document on stdout, its keys in camelCase (see `camel_keys`)."""
    sys.stdout.write(json_text(camel_keys(value), indent=indent) + "\n")
    sys.stdout.flush()


class Verbatim(dict[str, Any]):
    """A mapping printed as it is (a stored payload, a map keyed by data): `camel_keys`
    leaves its keys and everything below it alone."""


_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def camel_key(key: str) -> str:
    """`public_url` -> `publicUrl`; anything that is not a snake_case name (`hookUrl`, a
    phone, `+55 11`, `_x`) unchanged."""
    if not _SNAKE.fullmatch(key):
        return key
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_keys(value: Any) -> Any:
    """`value` with every snake_case dict key in camelCase, recursively (values untouched;
    a `Verbatim` mapping kept as it is): one key style for every `--json` of the CLI."""
    if isinstance(value, Verbatim):
        return dict(value)
    if isinstance(value, dict):
        return {camel_key(k) if isinstance(k, str) else k: camel_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [camel_keys(v) for v in value]
    return value


# -- tables ----------------------------------------------------------------------------------
_GAP = 2  # spaces between columns
_MIN_WIDE = 6  # a `wide` column is elided down to this many cells (or its header's), no further
_MIN_ANY = 4  # as a last resort, any column down to this


def _cell_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """How many terminal cells `text` takes (wide East Asian characters count two)."""
    return sum(_cell_width(ch) for ch in text)


def elide(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells, ending in "…" when cut."""
    if text_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = _cell_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def terminal_width() -> int | None:
    """The columns to fit: `COLUMNS` when set, else the terminal's (80 when it says none);
    None when stdout is not a terminal: a file or a `| grep` gets every cell whole."""
    if os.environ.get("COLUMNS", "").strip().isdigit():
        return int(os.environ["COLUMNS"])
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((80, 24)).columns


def _fit(natural: list[int], floors: list[int], order: Sequence[int], excess: int) -> int:
    """Narrow the columns of `order`, widest first, each not below its floor, until
    `excess` cells are gained or none can give more; returns what is still in excess."""
    while excess > 0:
        candidates = [i for i in order if natural[i] > floors[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: natural[i])
        others = [natural[i] for i in candidates if i != widest]
        # down to the next widest column (or the floor), at least one cell per step
        target = max(floors[widest], max(others, default=0), natural[widest] - excess)
        if target >= natural[widest]:
            target = natural[widest] - 1
        excess -= natural[widest] - target
        natural[widest] = target
    return excess


def _share(widths: list[int], floors: list[int], cols: Sequence[int], excess: int) -> int:
    """Narrow the columns `cols` together, each giving up cells in proportion to what it has
    above its floor (a long URL keeps more room than a short name); returns what is still
    in excess once all are at their floors."""
    slack = {i: widths[i] - floors[i] for i in cols if widths[i] > floors[i]}
    total = sum(slack.values())
    if total <= 0:
        return excess
    take = min(excess, total)
    cuts = {i: take * s // total for i, s in slack.items()}
    left = take - sum(cuts.values())  # the rounding: one more cell from the widest first
    for i in sorted(slack, key=lambda i: -widths[i]):
        if left and cuts[i] < slack[i]:
            cuts[i] += 1
            left -= 1
    for i, cut in cuts.items():
        widths[i] -= cut
    return excess - take


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, wide: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell (each cell on one line, terminal-safe), fitted
    to the terminal's width (`terminal_width`): the columns in `wide` (URLs, texts, event
    lists) are elided first with "…", together and in proportion to their length, down to
    their header's width; then, if still too wide, every column, widest first; a row never
    wraps. Trailing spaces trimmed."""
    cells = [[terminal_safe(str(c)) for c in r] for r in [headers, *rows]]
    count = len(headers)
    widths = [max(text_width(r[i]) for r in cells) for i in range(count)]
    width = terminal_width()
    excess = 0 if width is None else sum(widths) + _GAP * (count - 1) - width
    if excess > 0:
        wide_cols = [i for i in wide if 0 <= i < count]
        header = [text_width(h) for h in cells[0]]
        excess = _share(
            widths, [min(widths[i], max(header[i], _MIN_WIDE)) for i in range(count)], wide_cols, excess
        )
        if excess > 0:
            _fit(widths, [min(widths[i], _MIN_ANY) for i in range(count)], range(count), excess)
    lines = []
    for r in cells:
        shown = [elide(c, w) for c, w in zip(r, widths, strict=True)]
        lines.append(
            "  ".join(c + " " * (w - text_width(c)) for c, w in zip(shown, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)

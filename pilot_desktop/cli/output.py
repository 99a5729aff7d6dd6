"""What the CLI prints data with: the `--json` flag, JSON in one key style (camelCase), and
tables fitted to the terminal."""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import sys
import textwrap
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
# A table fits the terminal in three moves, each taken only when the one before is not enough:
# 1. columns with nothing in them are left out;
# 2. the `wide` columns (names, texts, event lists) give up cells together, in proportion, each
#    down to its floor: its header, a readable minimum, and the width below which two different
#    cells of the column would look alike once cut ("Imobiliária Horizont…" beside
#    "Imobiliária Horizonte");
# 3. columns leave the grid, one at a time (`stack` first, then the wide ones, then the rest
#    from the right), onto an indented line under each row, where they are shown whole
#    ("id: …  text: …"), wrapped at the width.
# A `keep` column (ids, times, phones, URLs: read whole or typed back) is never cut.
_GAP = 2  # spaces between columns
_READABLE = 12  # a wide column is not cut below this many cells (or its header, if wider)
_DETAIL = "    "  # the indent of a row's detail line


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


def fit_text(line: str, *, hang: str = "    ") -> str:
    """A line of free text (not a table) wrapped at the terminal's width, its own indent before
    the first line and `hang` more before the others. Words (ids, phones, URLs) are never
    split unless longer than a line. Unchanged when the output is not a terminal
    (`terminal_width` None) or it fits."""
    width = terminal_width()
    if width is None or text_width(line) <= width:
        return line
    indent = line[: len(line) - len(line.lstrip(" "))]
    wrapped = textwrap.wrap(
        line.strip(" "),
        width=max(20, width),
        initial_indent=indent,
        subsequent_indent=indent + hang,
        break_on_hyphens=False,
    )
    return "\n".join(wrapped) or line


def say(line: str) -> None:
    """`print` for a line of free text: fitted to the terminal (`fit_text`)."""
    print(fit_text(line))


def _looks_alike_at(values: list[str], width: int) -> bool:
    """Whether two of the different `values`, cut to `width`, look alike: the same shown text,
    or a cut one showing nothing beyond another (sorted, neighbours suffice: anything sorted
    between a text and one that starts with it starts with it too)."""
    shown = []
    for v in values:
        cut = text_width(v) > width
        shown.append((elide(v, width)[:-1].rstrip() if cut else v, cut))
    shown.sort()
    for (a, cut_a), (b, cut_b) in itertools.pairwise(shown):
        if (a == b and (cut_a or cut_b)) or (cut_a and b.startswith(a)):
            return True
    return False


def _floor(values: list[str], low: int, natural: int) -> int:
    """The narrowest width, from `low` up to `natural`, at which no two different values look
    alike once cut (binary search: showing more never makes them look more alike)."""
    distinct = sorted(set(values))
    if low >= natural or len(distinct) < 2 or not _looks_alike_at(distinct, low):
        return min(low, natural)
    lo, hi = low, natural  # alike at lo, not at hi (nothing is cut there)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _looks_alike_at(distinct, mid) else (lo, mid)
    return hi


def _share(widths: list[int], floors: list[int], cols: Sequence[int], excess: int) -> int:
    """Narrow the columns `cols` together, each giving up cells in proportion to what it has
    above its floor (a long name keeps more room than a short one); returns what is still
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


def _detail(header: str, value: str, limit: int | None) -> str:
    """`label: value` for a detail line; the label kept with the value's first word (a no-break
    space while wrapping) unless the two would not fit on one line together."""
    label, value = header.strip().lower() + ":", value.strip()
    first = value.split(" ", 1)[0]
    joint = "\xa0" if limit is None or text_width(f"{label} {first}") <= limit - len(_DETAIL) - 2 else " "
    return f"{label}{joint}{value}"


def _leaving_order(grid: list[int], natural: list[int], wide: set[int], keep: set[int],
                   stack: Sequence[int]) -> list[int]:  # fmt: skip
    """Which grid column goes onto the detail line next: the caller's `stack` order, then the
    wide columns (widest first), then the others from the right, `keep` ones last; never the
    first column (the row's anchor)."""
    rest = [i for i in grid[1:] if i not in stack]
    order = [i for i in stack if i in grid[1:]]
    order += sorted((i for i in rest if i in wide and i not in keep), key=lambda i: -natural[i])
    order += [i for i in reversed(rest) if i not in wide and i not in keep]
    order += [i for i in reversed(rest) if i in keep and i not in order]
    return order


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    wide: Sequence[int] = (),
    keep: Sequence[int] = (),
    stack: Sequence[int] = (),
    margin: int = 0,
) -> str:
    """Columns padded to their widest cell (each cell terminal-safe), fitted to the terminal's
    width (`terminal_width`) as the comment above says: empty columns left out, `wide` ones
    cut first (never into look-alikes), then columns moved onto an indented detail line under
    each row, whole; `keep` columns never cut. `margin`: spaces before every line (a table
    inside a block). Not a terminal: every column whole, in the grid. Trailing spaces trimmed."""
    cells = [[terminal_safe(str(c)) for c in r] for r in [headers, *rows]]
    count = len(headers)
    grid = [i for i in range(count) if not rows or any(r[i].strip() for r in cells[1:])] or [0]
    natural = [max(text_width(r[i]) for r in cells) for i in range(count)]
    widths = list(natural)
    keep_set, wide_set = set(keep), set(wide) - set(keep)
    floors = list(natural)
    stacked: list[int] = []
    width = terminal_width()
    limit = None if width is None else max(20, width - margin)
    if limit is not None and sum(natural[i] for i in grid) + _GAP * (len(grid) - 1) > limit:
        for i in wide_set & set(grid):
            low = max(text_width(cells[0][i]), min(natural[i], _READABLE))
            floors[i] = _floor([r[i] for r in cells[1:]], low, natural[i])
    while limit is not None:
        widths = list(natural)
        excess = sum(widths[i] for i in grid) + _GAP * (len(grid) - 1) - limit
        if excess > 0:
            excess = _share(widths, floors, [i for i in grid if i in wide_set], excess)
        if excess <= 0:
            break
        order = _leaving_order(grid, natural, wide_set, keep_set, stack)
        if not order:  # one column left: cut it unless it must stay whole
            if grid[0] not in keep_set:
                widths[grid[0]] = limit
            break
        grid.remove(order[0])
        stacked.append(order[0])
    pad = " " * margin
    lines = []
    for n, r in enumerate(cells):
        shown = [(elide(r[i], widths[i]), widths[i]) for i in grid]
        lines.append(pad + "  ".join(c + " " * (w - text_width(c)) for c, w in shown).rstrip())
        details = [_detail(cells[0][i], r[i], limit) for i in sorted(stacked) if r[i].strip()]
        if n and details and limit is not None:
            lines += (
                line.replace("\xa0", " ")
                for line in textwrap.wrap(
                    "  ".join(details),
                    width=limit + margin,
                    initial_indent=pad + _DETAIL,
                    subsequent_indent=pad + _DETAIL + "  ",
                    break_on_hyphens=False,
                )
            )
    return "\n".join(lines)

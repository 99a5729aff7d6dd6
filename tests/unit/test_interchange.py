"""Properties of what the CLI writes for terminals, spreadsheets and JSON parsers."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pilot_desktop.core.format import terminal_safe
from pilot_desktop.core.interchange import body_text, csv_cell, json_text

BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
UNSAFE = {*range(0x20), *range(0x7F, 0xA0), *BIDI, 0x2028, 0x2029, *range(0xD800, 0xE000)}
FORMULA = set("=+-@\t\r\n\0＝＋－＠")

# Any text, lone surrogates and control characters included.
texts = st.text(st.characters(codec=None, categories=None), max_size=60)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def _strict(name: str) -> Any:
    raise ValueError(name)


@given(texts)
def test_terminal_safe_text_carries_nothing_a_terminal_acts_on(text: str) -> None:
    cell, report = terminal_safe(text), terminal_safe(text, lines=True)
    assert not {ord(c) for c in cell} & UNSAFE
    assert not {ord(c) for c in report} & (UNSAFE - {0x09, 0x0A})
    assert terminal_safe(cell) == cell  # idempotent
    cell.encode("utf-8")  # printable whatever the input held
    if not {ord(c) for c in text} & UNSAFE:
        assert cell == text  # ordinary text (accents, emoji, CJK) is untouched


def test_escapes_are_visible() -> None:
    assert terminal_safe("a\x1b[31mb\u202ec\x9bd\r") == "a\\x1b[31mb\\u202ec\\x9bd\\x0d"
    assert terminal_safe("x\ny\tz", lines=True) == "x\ny\tz"


@given(values)
def test_json_text_is_strict_json_of_the_same_value(value: Any) -> None:
    text = json_text(value)
    assert not {ord(c) for c in text} & UNSAFE
    assert json.loads(text, parse_constant=_strict) == finite(value)


@given(texts)
def test_csv_cells_never_start_like_a_formula(text: str) -> None:
    cell = csv_cell(text)
    assert isinstance(cell, str)
    assert cell.lstrip(" ")[:1] not in FORMULA or cell.strip(" ") == ""
    assert cell in (text, "'" + text)
    assert csv_cell(5) == 5


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


@given(values.filter(lambda v: isinstance(v, dict)), st.sampled_from(ENCODINGS))
def test_a_body_reads_as_the_text_it_was_written_in(obj: dict[str, Any], encoding: str) -> None:
    raw = json_text(obj)
    assert body_text(raw.encode(encoding)) == raw

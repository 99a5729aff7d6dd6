"""Data written for other programs: strict JSON, CSV cells a spreadsheet cannot run, and a
webhook body as text.

- `json_text`: strict JSON (RFC 8259) whatever the value holds. A NaN or ±Infinity (in
  a body stored before the receiver refused them, or a number like 1e999 that Python reads
  as infinite) is written as the string "NaN", "Infinity" or "-Infinity", as the protobuf
  JSON mapping does; a strict parser (jq, JavaScript, Go) reads every line. Characters a
  terminal would act on (C1 controls, DEL, bidi overrides, U+2028/9, lone surrogates) are
  written as \\u escapes: the same string to a parser, inert on a screen.
- `csv_cell`: a cell a spreadsheet would run as a formula (OWASP's CSV injection list:
  a first character among = + - @, tab, CR, LF, NUL, or their full-width forms, also after
  leading spaces) gets a leading apostrophe; spreadsheets show the text, and a program
  reading the CSV removes one leading `'` where the rest starts with such a character.
- `body_text`: a body as text in the encoding JSON allows (UTF-8, -16 or -32, detected as
  `json.loads` does), so a UTF-16 body is exported as what it says, not as NUL bytes.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pilot_desktop.core.format import TERMINAL_UNSAFE

# json.dumps already escapes the C0 controls; the rest of the terminal-unsafe set.
_JSON_ESCAPES = {cp: f"\\u{cp:04x}" for cp in TERMINAL_UNSAFE if cp >= 0x20}
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
FORMULA_STARTS = frozenset("=+-@\t\r\n\0＝＋－＠")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[repr(value)]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_text(value: Any, *, indent: int | None = None) -> str:
    """`value` as strict JSON, safe to show on a terminal (see the module's note)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=indent)
    except ValueError:  # a non-finite float somewhere: the rare path walks the value
        text = json.dumps(_finite(value), ensure_ascii=False, allow_nan=False, indent=indent)
    return text.translate(_JSON_ESCAPES)


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text, never runs (see the module's note)."""
    if isinstance(value, str) and value.lstrip(" ")[:1] in FORMULA_STARTS and value.strip(" "):
        return "'" + value
    return value


def body_text(body: bytes) -> str:
    """A JSON body as text: UTF-8 (a BOM dropped), UTF-16 or UTF-32, told apart as
    `json.loads` does; bytes that do not decode become U+FFFD."""
    encoding = json.detect_encoding(body)
    return body.decode(encoding, "replace")

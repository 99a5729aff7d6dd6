"""Content-Encoding of webhook bodies, decoded here rather than by aiohttp.

aiohttp's own decompression fails inside its parser, before any handler: a text 400 or,
for bad deflate, no answer at all, and nothing recorded. Decoding here gives every case
a JSON answer and a rejection row, and bounds the decoded size (a gzip bomb is a 413).
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any


class BodyEncodingError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _inflate(raw: bytes, wbits: int, limit: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(raw, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise BodyEncodingError(413, f"decoded body over the {limit} byte limit")
    out += d.flush()
    if len(out) > limit:
        raise BodyEncodingError(413, f"decoded body over the {limit} byte limit")
    if not d.eof:
        raise BodyEncodingError(400, "compressed body is truncated")
    return out


def decode(raw: bytes, coding: str, limit: int) -> bytes:
    """The body as the sender meant it; raises BodyEncodingError with a status and reason."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return raw
    try:
        if coding in ("gzip", "x-gzip"):
            return _inflate(raw, 16 + zlib.MAX_WBITS, limit)
        if coding == "deflate":
            # RFC 9110 deflate is zlib-wrapped; some senders send raw deflate.
            try:
                return _inflate(raw, zlib.MAX_WBITS, limit)
            except zlib.error:
                return _inflate(raw, -zlib.MAX_WBITS, limit)
    except zlib.error as exc:
        raise BodyEncodingError(400, f"body is not valid {coding} data ({exc})") from None
    raise BodyEncodingError(415, f"Content-Encoding {coding!r} is not supported; send gzip or no encoding")


# In a UTF-8 body: a `\uD800`-`\uDFFF` escape, or a surrogate's raw bytes (ED A0-BF: json
# decodes bytes with "surrogatepass"). Bodies in other encodings are always walked.
# Two patterns: one alternation of both is ten times slower (no literal prefix to scan for).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_RAW = re.compile(rb"\xed[\xa0-\xbf]")
_UTF8 = frozenset({"utf-8", "utf-8-sig"})
_LONE = re.compile("[\ud800-\udfff]")


def mend_surrogates(body: bytes, obj: Any) -> Any:
    """`obj` with each lone UTF-16 surrogate (JSON allows `"\\ud800"`, Unicode text does not)
    replaced by U+FFFD, in keys and values. JavaScript strings can hold one (a preview cut
    inside an emoji); left in, every text derived from the event would fail to store and the
    delivery be answered 503 on every retry. The body itself is stored as received."""
    # json.loads decodes bytes by the same detection (UTF-16/32 by BOM or NULs).
    if (
        json.detect_encoding(body) in _UTF8
        and not _SURROGATE_ESCAPE.search(body)
        and not (b"\xed" in body and _SURROGATE_RAW.search(body))
    ):
        return obj  # the usual case: two scans of the bytes, nothing to walk
    return _mend(obj)


def _mend(value: Any) -> Any:
    if isinstance(value, str):
        if value.isascii() or not _LONE.search(value):
            return value
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, dict):
        return {_mend(k): _mend(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mend(v) for v in value]
    return value

"""A body JSON allows but Unicode does not: a lone UTF-16 surrogate escape (`\\ud800`).

JavaScript strings can hold one (a preview cut in the middle of an emoji), so the platform
may send it. Refusing it would lose the event for good; storing the body but failing the
projection answered 503 on every retry. It is stored byte for byte, and the text derived
from it (message content, names) carries U+FFFD where the lone half was.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.serving import Server, cli, read_ndjson

NUM = "num_sur"


def _body(msg: str, content: str) -> bytes:
    # Spliced in by hand: json.dumps would escape the backslash, and the escapes must reach
    # the receiver exactly as a JavaScript serializer sends them.
    data = {
        "numberId": NUM,
        "id": msg,
        "messageId": f"wamid.{msg}",
        "type": "text",
        "fromMe": False,
        "createdAt": "2026-03-01T12:00:00.000Z",
        "from": "+5511911112222",
        "to": "+5511988887777",
        "content": "CONTENT",
    }
    text = json.dumps({"event": "message.received", "data": data})
    return text.replace('"CONTENT"', f'"{content}"').encode()


def test_a_lone_surrogate_is_stored_not_refused_forever(server: Server, tmp_path: Path) -> None:
    cases = {
        "cut": "preview cut \\ud83d",  # the high half of an emoji, its low half cut off
        "low": "\\udc00 alone",
        "pair": "whole \\ud83d\\ude00",  # a proper pair stays the emoji
    }
    for msg, content in cases.items():
        r = server.post(_body(msg, content))
        assert r.status_code == 200, (msg, r.status_code, r.text)

    shown = {}
    for msg in cases:
        out = cli("timeline", msg, "--json", "--data-dir", server.data_dir)
        assert out.returncode == 0, out.stderr
        shown[msg] = json.loads(out.stdout)["text"]
    assert shown == {"cut": "preview cut \ufffd", "low": "\ufffd alone", "pair": "whole \U0001f600"}

    exported = cli("export", "--data-dir", server.data_dir)
    assert exported.returncode == 0, exported.stderr
    bodies = {rec["payload"]["data"]["id"]: rec for rec in read_ndjson(exported.stdout)}
    assert set(bodies) == set(cases)


def test_a_lone_surrogate_in_other_encodings_is_mended(server: Server, tmp_path: Path) -> None:
    # The same JSON text, not UTF-8: JSON parsers pick the encoding from a BOM or NUL bytes.
    # And a UTF-8 body holding a surrogate's own bytes (ED A0 BD), which json decodes too.
    cases = {
        "u16bom": _body("u16bom", "cut \\ud83d").decode().encode("utf-16"),
        "u16le": _body("u16le", "cut \\ud83d").decode().encode("utf-16-le"),
        "u32": _body("u32", "cut \\ud83d").decode().encode("utf-32"),
        "raw8": _body("raw8", "cut RAW").replace(b"RAW", b"\xed\xa0\xbd"),
    }
    for msg, body in cases.items():
        r = server.post(body)
        assert r.status_code == 200, (msg, r.status_code, r.text)
    for msg in cases:
        out = cli("timeline", msg, "--json", "--data-dir", server.data_dir)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["text"] == "cut \ufffd", msg

"""Why a delivery's signature was refused, said so an operator can act on it; and hook paths
as they are shown (the token never readable).

`diagnose(body, wire, header, tried, others)` looks at a refused delivery: the header, what
each secret tried computes over the raw body, and whether some secret's HMAC over a
re-serialised form of the parsed JSON matches the received digest (a proxy that parses and
re-writes the body on the way). It returns a JSON-serialisable dict, stored as the
rejection's `diagnosis` (receiver/app.py) and shown by the CLI and the window:

- `header_present` (bool): the `x-pilot-status-signature` header was there and not blank.
- `header_form` (str | None): "hex", "sha256=hex", "not a hex digest"; None when missing.
- `received_prefix` (str | None): the first 8 hex digits of the received digest.
- `tried` (list): each secret that checks the delivery, in order: `index` (1-based, as in a
  stored verdict's `#index`), `fingerprint` (core/signature.py), `computed_prefix` (the
  first 8 hex digits of its HMAC over the raw body).
- `re_encoded` (bool): some secret matches a re-serialised form while the raw bytes do not.
- `signed_form` (str | None): that form, in words ("compact JSON (JSON.stringify)", ...).
- `matched` (dict | None): the secret that matched some form: `index`, `fingerprint`, and
  `route` when it is another route's secret (`others`), else None.
- `forms_checked` (int): how many re-serialised forms were tried (0 for a body over
  FORMS_MAX_BODY, not JSON, or without a usable header).
- `body_size` (int): bytes of the raw body.
- `verdict` (str): short: "no signature header", "not a hex digest", "re-encoded on the way",
  "signed with another route's secret", "signed with a different secret", "signature matches".
- `hint` (str): one line the operator can act on.

The cost is bounded: re-serialised forms only for bodies up to FORMS_MAX_BODY, and at most
MAX_SECRETS secrets in all (tried first). The receiver computes a diagnosis only for a
refusal whose record is kept (receiver/limits.py), so a flood costs no more than the records.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from pilot_desktop.core.signature import HEADER, fingerprint

FORMS_MAX_BODY = 64 * 1024
MAX_SECRETS = 8
PREFIX = 8  # hex digits shown of a digest: enough to compare, nothing to forge with
TOKEN_SHOWN = 4  # characters shown of a hook token that is not this receiver's
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_UNSET: Any = object()

Dumps = Callable[[Any], str]


def _dumps(**options: Any) -> Dumps:
    return lambda obj: json.dumps(obj, **options)


# Re-serialisations a proxy, a framework or a debugging tool commonly applies to a JSON body.
_FORMS: tuple[tuple[str, Dumps], ...] = (
    ("compact JSON (JSON.stringify)", _dumps(separators=(",", ":"), ensure_ascii=False)),
    ("compact JSON with \\u escapes", _dumps(separators=(",", ":"))),
    ("JSON with spaces after ',' and ':' (Python json.dumps)", _dumps()),
    ("JSON with spaces, non-ASCII kept", _dumps(ensure_ascii=False)),
    ("compact JSON, keys sorted", _dumps(separators=(",", ":"), ensure_ascii=False, sort_keys=True)),
    ("compact JSON with \\u escapes, keys sorted", _dumps(separators=(",", ":"), sort_keys=True)),
    ("JSON with spaces, keys sorted", _dumps(sort_keys=True)),
    ("JSON with spaces, non-ASCII kept, keys sorted", _dumps(ensure_ascii=False, sort_keys=True)),
)
# Not indented forms: `indent` runs the pure-Python encoder, whose output and time grow with
# the nesting depth (a 64 KiB body nested 900 deep took 3 s, on the receiver's loop). Forms
# that outgrow the body by FORM_GROWTH are dropped too: nothing a proxy does grows a body so.
FORM_GROWTH = 4


def _hmac(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def parse_header(header: str | None) -> tuple[str | None, str | None]:
    """(form, digest in lowercase hex or None) of a signature header value, as `verify` reads it."""
    if header is None or not header.strip():
        return None, None
    given, form = header.strip(), "hex"
    if given.lower().startswith("sha256="):
        given, form = given[7:], "sha256=hex"
    if not _HEX.fullmatch(given):
        return "not a hex digest", None
    return form, given.lower()


def _forms(body: bytes, wire: bytes | None, parsed: Any) -> list[tuple[str, bytes]]:
    """The re-serialised forms of a body to test, each different from the raw bytes."""
    found: list[tuple[str, bytes]] = []
    seen = {body}

    def add(name: str, data: bytes) -> None:
        if data not in seen:
            seen.add(data)
            found.append((name, data))

    if parsed is not _UNSET:
        for name, dumps in _FORMS:
            try:
                text = dumps(parsed)
            except (ValueError, TypeError, RecursionError):  # NaN or nesting: no such form
                continue
            if len(text) > FORM_GROWTH * len(body) + 64:
                continue
            add(name, text.encode("utf-8", "surrogatepass"))
            if dumps is _FORMS[0][1]:  # a body written as a line (a log, a queue) and replayed
                add(f"{name} with a trailing newline", (text + "\n").encode("utf-8", "surrogatepass"))
    add("the body with a trailing newline", body + b"\n")
    add("the body without its trailing whitespace", body.rstrip())
    add("the body with CRLF line ends", body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    if wire is not None:
        add("the bytes on the wire (before Content-Encoding)", wire)
    return found


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _UNSET


def diagnose(
    body: bytes,
    wire: bytes | None,
    header: str | None,
    tried: Sequence[str],
    others: Sequence[tuple[str, str]] = (),
    *,
    parsed: Any = _UNSET,
) -> dict[str, Any]:
    """See the module's note. `tried`: the secrets that check this delivery, in order;
    `others`: (route, secret) stored for other routes, to name the one the body was signed
    with; `parsed`: the body's JSON when the caller already has it."""
    form, digest = parse_header(header)
    size = len(body)
    tried = list(tried)[:MAX_SECRETS]
    extra = [(r, s) for r, s in others if s not in tried][: MAX_SECRETS - len(tried)]
    rows: list[dict[str, Any]] = [
        {"index": i, "fingerprint": fingerprint(s), "computed_prefix": _hmac(s, body)[:PREFIX]}
        for i, s in enumerate(tried, start=1)
    ]
    out: dict[str, Any] = {
        "header_present": form is not None,
        "header_form": form,
        "received_prefix": digest[:PREFIX] if digest else None,
        "tried": rows,
        "re_encoded": False,
        "signed_form": None,
        "matched": None,
        "forms_checked": 0,
        "body_size": size,
    }
    if form is None:
        return _said(
            out,
            "no signature header",
            f"The delivery has no {HEADER} header: the webhook on the platform has no signing "
            "secret, or a proxy on the way drops the header; set the webhook's secret or let the "
            "header through.",
        )
    if digest is None:
        return _said(
            out,
            "not a hex digest",
            f"The {HEADER} value is not an HMAC-SHA256 hex digest: the sender is not Pilot "
            "Status, or a proxy rewrote the header.",
        )
    candidates: list[tuple[str | None, int | None, str]] = [
        (None, i, s) for i, s in enumerate(tried, start=1)
    ]
    candidates += [(route, None, s) for route, s in extra]
    forms = (
        _forms(body, wire, parsed if parsed is not _UNSET else _parse(body)) if size <= FORMS_MAX_BODY else []
    )
    out["forms_checked"] = len(forms)
    for name, data in [("the raw body", body), *forms]:
        for route, index, secret in candidates:
            if not hmac.compare_digest(_hmac(secret, data), digest):
                continue
            out["matched"] = {"index": index, "fingerprint": fingerprint(secret), "route": route}
            if data is not body:
                out["re_encoded"], out["signed_form"] = True, name
            return _matched(out, route, name, data is not body)
    fps = ", ".join(r["fingerprint"] for r in rows) or "none"
    return _said(
        out,
        "signed with a different secret",
        f"No secret checking this route matches (tried {fps}): the webhook on the platform signs "
        "with another secret; store its current secret here (`pilot-desktop webhooks update ID "
        "--secret-stdin`) or set the same one on both sides.",
    )


def _matched(out: dict[str, Any], route: str | None, form: str, re_encoded: bool) -> dict[str, Any]:
    fp = out["matched"]["fingerprint"]
    if route is not None:
        how = f" over {form}" if re_encoded else ""
        where = f"route {route}" if route else "the bare hook URL"
        return _said(
            out,
            "signed with another route's secret",
            f"The body is signed{how} with the secret of {where} ({fp}), not one "
            "checking this delivery: the webhook posts to the wrong route, or the secrets were "
            "swapped; point it at its own route or store its secret for this one.",
        )
    if re_encoded:
        return _said(
            out,
            "re-encoded on the way",
            f"Secret {fp} signed this body as {form}, but it arrived re-serialised: a proxy or "
            "middleware on the way parses and re-writes the JSON; pass the body through byte for byte.",
        )
    return _said(
        out,
        "signature matches",
        f"Secret {fp} matches the raw body: the refusal is about what the event names, not the signature.",
    )


def _said(out: dict[str, Any], verdict: str, hint: str) -> dict[str, Any]:
    out["verdict"], out["hint"] = verdict, hint
    return out


# -- hook paths as shown -------------------------------------------------------------------------
OWN_TOKEN = "<token>"  # noqa: S105 - how this receiver's token is shown, not a token
_HOOK_IN_TEXT = re.compile(r"/hooks/([^/?#\s\"'<>]+)")


def shown_token(token: str, own: str | None) -> str:
    """A hook token as shown: `<token>` for this receiver's (`own`), else its first
    characters (when `own` is not known, nothing more is said about it)."""
    if own is not None and hmac.compare_digest(token.encode(), own.encode()):
        return OWN_TOKEN
    if token == OWN_TOKEN or token.endswith("…"):  # already shown so
        return token
    return f"{token[:TOKEN_SHOWN]}…" + (" (not this receiver's token)" if own is not None else "")


def shown_path(path: str, own: str | None) -> str:
    """A request path with its hook token masked (see `shown_token`)."""
    head, sep, rest = path.partition("/hooks/")
    if not sep or head:
        return path
    token, slash, tail = rest.partition("/")
    return f"/hooks/{shown_token(token, own)}{slash}{tail}" if token else path


def shown_text(text: str, own: str | None) -> str:
    """`text` (a header value: a forwarded URL, a Referer) with its hook tokens masked."""
    if "/hooks/" in text:
        text = _HOOK_IN_TEXT.sub(lambda m: f"/hooks/{shown_token(m.group(1), own)}", text)
    return text.replace(own, OWN_TOKEN) if own and own in text else text

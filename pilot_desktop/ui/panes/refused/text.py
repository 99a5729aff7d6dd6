"""A refused request in words: the lines the Refused view and Live show (no Qt here).

Everything a request brought (path, headers, body) is shown terminal-safe (controls and bidi
overrides as visible escapes) and, in rich text, escaped. The store masks hook tokens in
paths and headers (core/diagnosis.py); `shown_path` masks one still there all the same.
"""

from __future__ import annotations

import html
from typing import Any

from pilot_desktop.core.diagnosis import shown_path as masked_path
from pilot_desktop.core.format import size, terminal_safe
from pilot_desktop.core.interchange import body_text
from pilot_desktop.store.records import RejectionRow


def shown_path(path: str) -> str:
    """The request path, its hook token masked (`/hooks/<token>/...`, another's `abcd…`)."""
    return terminal_safe(masked_path(path, None))


def hint(row: RejectionRow) -> str | None:
    value = (row.diagnosis or {}).get("hint")
    return terminal_safe(str(value)) if value else None


def reason_line(row: RejectionRow) -> str:
    """The diagnosis's verdict first (what a narrow column keeps), then the reason and the
    one-line hint."""
    reason = terminal_safe(row.reason)
    tip = hint(row)
    verdict = (row.diagnosis or {}).get("verdict")
    lead = f"{terminal_safe(verdict)}: " if isinstance(verdict, str) and verdict else ""
    return f"{lead}{reason} — {tip}" if tip else f"{lead}{reason}"


def route_label(row: RejectionRow) -> str:
    """The hook route it was sent to; without one, the path (a wrong token shows there)."""
    return terminal_safe(row.route) if row.route else shown_path(row.path)


def body_label(row: RejectionRow) -> str:
    return "" if row.body_size is None else size(row.body_size)


def preview_text(body: bytes, body_size: int | None) -> str:
    """The kept head of the body as text; says so when the body was longer."""
    if not body and not body_size:
        return "(empty body)"
    text = terminal_safe(body_text(body), lines=True)
    if body_size is not None and body_size > len(body):
        return f"(the first {len(body):,} of {body_size:,} bytes were kept)\n{text}"
    return text


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def diagnosis_rows(diag: dict[str, Any]) -> list[tuple[str, str]]:
    """The signature diagnosis as (label, value) lines, in the order a person checks them."""
    rows: list[tuple[str, str]] = []
    if "header_present" in diag:
        form = diag.get("header_form")
        said = ("present" + (f" ({form})" if form else "")) if diag["header_present"] else "missing"
        rows.append(("Signature header", said))
    if diag.get("received_prefix"):
        rows.append(("Received digest", f"{diag['received_prefix']}…"))
    tried = diag.get("tried")
    if isinstance(tried, list):
        if not tried:
            rows.append(("Secrets tried", "none (no secret checks this route)"))
        for entry in tried:
            if isinstance(entry, dict):
                label = f"Secret #{entry.get('index', '?')}"
                fingerprint = entry.get("fingerprint") or "?"
                computed = entry.get("computed_prefix") or "?"
                rows.append((label, f"fingerprint {fingerprint} computes {computed}…"))
    if "re_encoded" in diag:
        form, said = diag.get("signed_form"), _yes(diag["re_encoded"])
        if form and diag["re_encoded"]:
            said = f"{said}: the platform signed the {form} form; the bytes received differ"
        rows.append(("Body re-encoded", said))
    matched = diag.get("matched")
    if isinstance(matched, dict):
        route = f" (the secret of route {matched['route']})" if matched.get("route") else ""
        rows.append(
            ("Matched by", f"secret #{matched.get('index', '?')} {matched.get('fingerprint', '')}{route}")
        )
    if diag.get("verdict"):
        rows.append(("Verdict", str(diag["verdict"]).replace("_", " ")))
    return [(label, terminal_safe(value)) for label, value in rows]


def diagnosis_text(diag: dict[str, Any] | None, *, with_hint: bool = False) -> str:
    """Plain text (Live's detail): the lines (then the hint, `with_hint`)."""
    if not diag:
        return ""
    width = max((len(label) for label, _ in diagnosis_rows(diag)), default=0) + 2
    lines = [f"{label + ':':<{width}}{value}" for label, value in diagnosis_rows(diag)]
    if with_hint and diag.get("hint"):
        lines += ["", f"Hint: {terminal_safe(str(diag['hint']))}"]
    return "\n".join(lines)


def diagnosis_html(diag: dict[str, Any] | None) -> str:
    """Rich text (the Refused view): a two-column table, the hint in bold under it."""
    if not diag:
        return ""
    cells = "".join(
        f"<tr><td style='padding-right:14px; color:#4a5568'>{html.escape(label)}</td>"
        f"<td><code>{html.escape(value)}</code></td></tr>"
        for label, value in diagnosis_rows(diag)
    )
    tip = f"<p><b>{html.escape(terminal_safe(str(diag['hint'])))}</b></p>" if diag.get("hint") else ""
    return f"{tip}<table cellspacing='2'>{cells}</table>"

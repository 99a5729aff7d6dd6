"""`pilot-desktop rejections`: the requests the receiver refused, newest first, with why.

Webhook deliveries only (POSTs to /hooks/...) unless `--all` (scanners, wrong paths, bad
Host). A signature refusal carries its diagnosis (core/diagnosis.py): the header, the
secrets tried by fingerprint, the digests' prefixes, whether the body was re-encoded on the
way, and a hint. The hook token is never shown: this receiver's reads `<token>`, another
one its first 4 characters. Opens the database read-only: safe beside a running serve or
window. `--json` prints one JSON array (one object with `--id`).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pilot_desktop.cli.common import EXIT_OK, EXIT_USAGE, CliError, Ctx, print_json, table
from pilot_desktop.cli.messages import limit_arg, since_arg
from pilot_desktop.cli.output import say
from pilot_desktop.core.format import cli_time, iso, short, size
from pilot_desktop.core.interchange import body_text
from pilot_desktop.receiver.refusals import Refusal, RefusalMonitor
from pilot_desktop.services.config import STATE, SettingsError, read_json
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import RejectionDetail, RejectionRow

PREVIEW_BYTES = 2048  # of a kept body, in what is printed


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    rj = sub.add_parser(
        "rejections",
        parents=[common, as_json],
        help="refused webhook deliveries, newest first, with the reason and a diagnosis",
        description="Lists the requests the receiver refused, newest first: time, status, route, "
        "number, reason (with the signature diagnosis's hint) and body size. Only webhook "
        "deliveries (POSTs to /hooks/...) unless --all. --id N shows one in full: headers, a "
        "bounded body preview and, for a signature refusal, the secrets tried by fingerprint, the "
        "digests' prefixes and whether the body was re-encoded on the way. The hook token is "
        "never shown whole. Opens the database read-only.",
    )
    rj.add_argument(
        "--since", type=since_arg, metavar="WHEN", help="refused after: 30m, 24h, 7d, 2w, or an ISO time"
    )
    rj.add_argument(
        "--all", action="store_true", help="also other refused requests (wrong paths, scanners, bad Host)"
    )
    rj.add_argument("--limit", type=limit_arg, default=50, metavar="N", help="at most N rows (default 50)")
    rj.add_argument("--id", type=_id_arg, metavar="N", help="show refusal N in full (its id in --json)")
    rj.set_defaults(handler=run)


def _id_arg(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a refusal's id (a whole number from 1), got {text!r}")
    return int(text)


def own_token(paths: AppPaths) -> str | None:
    """This profile's hook token, read without creating or changing anything (None when
    there is none or the file is refused: then every token is shown by its first characters)."""
    try:
        raw = read_json(STATE, paths.state_file)
    except SettingsError:
        return None
    token = (raw or {}).get("token")
    return token if isinstance(token, str) and token else None


def run(ctx: Ctx) -> int:
    args = ctx.args
    if args.id is not None and (args.since is not None or args.all):
        raise CliError("--id shows one refusal: it takes no --since or --all", EXIT_USAGE)
    token = own_token(ctx.paths)
    reads = Reads.open(ctx.paths.data_dir)
    try:
        if args.id is not None:
            detail = reads.rejection_detail(args.id, token)
            if detail is None:
                raise CliError(f"No refusal #{args.id} in {reads.path} (the table keeps the newest 10,000).")
            if args.json:
                print_json(refusal_json(detail))
            else:
                print(full(detail))
            return EXIT_OK
        deliveries_only = not args.all
        if args.json:
            found = reads.rejection_details(args.limit, args.since, deliveries_only, token)
            print_json([refusal_json(d) for d in found])
            return EXIT_OK
        rows = reads.rejections(args.limit, args.since, deliveries_only, token)
    finally:
        reads.close()
    what = "refused deliveries" if deliveries_only else "refused requests"
    if not rows:
        since = f" since {cli_time(args.since)} UTC" if args.since is not None else ""
        print(f"No {what}{since}." + ("" if args.all else " (Other refused requests: --all.)"))
        return EXIT_OK
    headers = ["TIME (UTC)", "ID", "STATUS", "ROUTE", "NUMBER", "BODY", "REASON"]
    if args.all:
        headers.insert(3, "REQUEST")
    col = {h: i for i, h in enumerate(headers)}
    wide = [col[h] for h in ("REQUEST", "ROUTE") if h in col]
    # the time, id and number are typed back or read whole; the reason goes under its row, whole
    keep = [col["TIME (UTC)"], col["ID"], col["NUMBER"]]
    print(table(headers, [_cells(r, args.all) for r in rows], wide=wide, keep=keep, stack=[col["REASON"]]))
    say(f"{len(rows)} {what}, newest first. One in full: pilot-desktop rejections --id ID")
    return EXIT_OK


def _reason(r: RejectionRow) -> str:
    hint = (r.diagnosis or {}).get("hint")
    return f"{r.reason} — {hint}" if isinstance(hint, str) and hint else r.reason


def _cells(r: RejectionRow, requests: bool) -> list[str]:
    cells = [
        cli_time(r.received_at),
        str(r.id),
        str(r.status),
        r.route or "",
        r.number_id or "",
        "" if r.body_size is None else size(r.body_size),
        short(_reason(r), 220),
    ]
    if requests:
        cells.insert(3, f"{r.method} {short(r.path, 60)}")
    return cells


def preview(body: bytes) -> tuple[str, bool]:
    """The kept body as text, at most PREVIEW_BYTES of it (UTF-8), and whether it was cut."""
    text = body_text(body)
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= PREVIEW_BYTES:
        return text, False
    return encoded[:PREVIEW_BYTES].decode("utf-8", "ignore"), True


def refusal_json(d: RejectionDetail) -> dict[str, Any]:
    r = d.row
    text, cut = preview(d.body)
    return {
        "id": r.id,
        "at": iso(r.received_at),
        "status": r.status,
        "reason": r.reason,
        "hint": (r.diagnosis or {}).get("hint"),
        "method": r.method,
        "path": r.path,
        "remote": r.remote,
        "route": r.route,
        "numberId": r.number_id,
        "delivery": r.delivery,
        "bodySize": r.body_size,
        "headers": [[k, v] for k, v in d.headers],
        "bodyPreview": text,
        "bodyPreviewCut": cut or (r.body_size is not None and r.body_size > len(d.body)),
        "diagnosis": r.diagnosis,
    }


def full(d: RejectionDetail) -> str:
    """One refusal as a report (stdout is terminal-safe; each value is one line)."""
    r = d.row
    lines = [
        f"Refusal #{r.id} at {cli_time(r.received_at)} UTC: {r.status}",
        f"  reason:    {r.reason}",
        f"  request:   {r.method} {r.path} from {r.remote or '-'}",
        f"  route:     {r.route or '-'}    number: {r.number_id or '-'}    "
        f"delivery: {'yes' if r.delivery else 'no (not a webhook delivery)'}",
        f"  body size: {'-' if r.body_size is None else size(r.body_size)}",
    ]
    lines += diagnosis_lines(r.diagnosis)
    lines.append("  headers (as stored; credentials redacted):")
    lines += [f"    {_line(k)}: {_line(v)}" for k, v in d.headers] or ["    (none)"]
    text, cut = preview(d.body)
    cut = cut or (r.body_size is not None and r.body_size > len(d.body))
    lines.append(f"  body preview{' (cut)' if cut else ''}:")
    lines += [f"    {line}" for line in text.split("\n")] if text else ["    (none kept)"]
    return "\n".join(lines)


def diagnosis_lines(found: dict[str, Any] | None) -> list[str]:
    if not found:
        return []
    received = found.get("received_prefix")
    form = found.get("header_form")
    header = f"present, {form}, digest {received}…" if received else (form or "missing")
    lines = ["  signature diagnosis:", f"    header:   {header}"]
    for t in found.get("tried") or []:
        index, fp, computed = t.get("index"), t.get("fingerprint"), t.get("computed_prefix")
        lines.append(f"    tried:    secret #{index} {fp} computes {computed}…")
    if not found.get("tried"):
        lines.append("    tried:    no secret")
    if found.get("re_encoded"):
        lines.append(f"    re-encoded on the way: yes (signed form: {found.get('signed_form')})")
    elif found.get("forms_checked"):
        lines.append(f"    re-encoded on the way: no ({found['forms_checked']} re-serialised forms checked)")
    matched = found.get("matched")
    if isinstance(matched, dict) and matched.get("route") is not None:
        lines.append(
            f"    signed with: the secret of route {matched['route']} ({matched.get('fingerprint')})"
        )
    lines.append(f"    verdict:  {found.get('verdict')}")
    lines.append(f"    hint:     {found.get('hint')}")
    return [_line(x) for x in lines]


def _line(text: str) -> str:
    return " ".join(text.split("\n"))


# -- serve's console ---------------------------------------------------------------------------
SAY_EVERY_S = 60.0  # one line a minute per kind of refusal at most (the first one at once)
KINDS_KEPT = 8  # kinds told apart; more are said together
ROUTES_NAMED = 3


@dataclass
class _Kind:
    said_at: float
    pending: int = 0
    routes: Counter[str | None] = field(default_factory=Counter)


class RefusalLines:
    """serve's `Refused N deliveries in the last minute: ...` lines. `heard` runs for each
    refusal on the receiver's loop and only counts (O(1)); a line is printed for the first
    refused delivery of a kind (status and verdict) at once, then at most once a minute
    with what was counted meanwhile (`tick`, every second)."""

    def __init__(
        self,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        every_s: float = SAY_EVERY_S,
    ) -> None:
        self._say, self._clock, self.every_s = say, clock, every_s
        self._kinds: dict[tuple[int, str], _Kind] = {}
        self._what: dict[tuple[int, str], str] = {}

    def follow(self, monitor: RefusalMonitor) -> None:
        monitor.subscribe(self.heard)

    def heard(self, r: Refusal) -> None:
        if not r.delivery:  # scanners and wrong paths are not news
            return
        what = r.verdict or r.reason.split(":", 1)[0][:80]
        kind = (r.status, what)
        if kind not in self._kinds and len(self._kinds) >= KINDS_KEPT:
            kind = (0, "refused in other ways")
        now = self._clock()
        found = self._kinds.get(kind)
        if found is None:
            self._kinds[kind] = _Kind(now)
            self._what[kind] = what
            self._say(_console_line(1, kind[0], Counter([r.route]), what, first=True))
            return
        found.pending += 1
        if len(found.routes) < 16 or r.route in found.routes:
            found.routes[r.route] += 1
        if now - found.said_at >= self.every_s:
            self._flush(kind, found, now)

    def tick(self) -> None:
        """Say what was counted in each kind's minute; forget kinds quiet for two."""
        now = self._clock()
        for kind, found in list(self._kinds.items()):
            if now - found.said_at < self.every_s:
                continue
            if found.pending:
                self._flush(kind, found, now)
            elif now - found.said_at >= 2 * self.every_s:  # the next one is news again
                del self._kinds[kind]
                self._what.pop(kind, None)

    def _flush(self, kind: tuple[int, str], found: _Kind, now: float) -> None:
        self._say(_console_line(found.pending, kind[0], found.routes, self._what[kind]))
        found.said_at, found.pending, found.routes = now, 0, Counter()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.tick()


def _console_line(n: int, status: int, routes: Counter[str | None], what: str, first: bool = False) -> str:
    named = [r for r, _ in routes.most_common(ROUTES_NAMED)]
    if len(routes) == 1:
        where = f"on route {named[0]}" if named[0] else "on the bare hook URL"
    else:
        more = "…" if len(routes) > ROUTES_NAMED else ""
        where = f"on {len(routes)} routes ({', '.join(r or '(bare URL)' for r in named)}{more})"
    count = (
        "a delivery"
        if first
        else f"{n} deliveries in the last minute"
        if n != 1
        else "1 delivery in the last minute"
    )
    code = f"{status} " if status else ""
    return f"Refused {count}: {code}{where} — {what}. See pilot-desktop rejections."

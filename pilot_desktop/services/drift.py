"""The drift audit: this app's webhooks as the platform has them, against what the app expects.

On start and every `interval_s()`, every number's webhooks are listed through all accounts
(WebhookAdmin.list_all) and compared with the expected ones (services/expected.py):

- deleted: an expected webhook missing from its number's list (a list that was read);
- paused: expected active, found inactive;
- repointed: expected at this app, found at a URL without this receiver's token (a URL
  with the token on another base is an older address of this app: the Repointer's business);
- events_changed: the events found differ from the events the platform returned to the app;
- events_dropped: events the app asked for that the platform did not keep, with why (the
  number's provider cannot emit them, api §1.2; health alerts only come with "*").

Each finding is a DriftMark keyed "{kind}:{webhook id}"; one no longer true is resolved. A
number whose list fails is reported and its findings are left as they are. A number in no
account any more makes its findings moot: resolved, its expectations forgotten (and
`accept` needs no API for it). The expectations are read before the listing: a webhook the
app changed while the listing was under way (its expectation differs after, or is dated
after the audit began) is not judged by this audit, its findings left as they are. A
webhook of this app the app never saw is adopted (expected as found), without a finding.
Listeners hear each new finding once: the writer answers the open finding's id for a key
already open. The rules themselves: services/drift_rules.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pilot_desktop.api.models import Webhook
from pilot_desktop.services.drift_rules import Finding, judge
from pilot_desktop.services.expected import is_mine
from pilot_desktop.services.state import ExpectedWebhook
from pilot_desktop.services.webhook_admin import AdminError, WebhookAdmin
from pilot_desktop.services.webhooks import route_of
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.watch_records import DriftMark, DriftRow
from pilot_desktop.tunnel.public_url import hook_url

log = logging.getLogger(__name__)

KINDS = ("deleted", "paused", "repointed", "events_changed", "events_dropped")
Submit = Callable[[Any], Awaitable[object]]


@dataclass
class AuditResult:
    at: float
    open: list[DriftRow] = field(default_factory=list)  # the findings open after this audit
    new: list[DriftRow] = field(default_factory=list)  # opened by this audit
    resolved: list[DriftRow] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (number id, why its list failed)
    checked: list[str] = field(default_factory=list)  # number ids whose webhooks were read
    adopted: list[str] = field(default_factory=list)  # webhook ids of this app seen for the first time
    error: str | None = None  # the audit could not run or record (no account, the store closed)


class DriftAudit:
    def __init__(
        self,
        admin: WebhookAdmin,
        submit: Submit,
        reads: Callable[[], Reads | None],
        *,
        interval_s: Callable[[], float],
    ) -> None:
        self.admin = admin
        self.submit = submit
        self.reads = reads
        self.interval_s = interval_s
        self._listeners: list[Callable[[DriftRow], None]] = []
        self._known: dict[str, DriftRow] = {}  # open findings as this run last recorded them
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.last: AuditResult | None = None

    # -- listeners ------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[DriftRow], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[DriftRow], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _tell(self, row: DriftRow) -> None:
        for listener in list(self._listeners):
            try:
                listener(row)
            except Exception:
                log.exception("a drift listener failed")

    # -- running --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="drift-audit")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("drift audit failed")
            await asyncio.sleep(max(0.05, self.interval_s()))

    async def run_once(self) -> AuditResult:
        async with self._lock:
            result = await self._audit()
        self.last = result
        for row in result.new:
            self._tell(row)
        return result

    # -- the audit ------------------------------------------------------------------------------
    def _open_rows(self) -> dict[str, DriftRow]:
        """The open findings: the store's (another process may have opened or resolved some),
        else what this run recorded."""
        reads = self.reads()
        if reads is not None:
            try:
                return {r.key: r for r in reversed(reads.drift(open_only=True))}
            except StoreError as exc:
                log.info("open drift findings not read: %s", exc)
        return dict(self._known)

    async def _audit(self) -> AuditResult:
        result = AuditResult(at=time.time())
        admin, token = self.admin, self.admin.token
        names = admin.names()
        # The expectations as they were before the listing: one the app changes while the
        # listing is under way would be judged against a list read before the change.
        snapshot = dict(admin.expected.all())
        found: dict[str, tuple[Webhook, str]] = {}
        checked: set[str] = set()
        try:
            listing = await admin.list_all()
        except AdminError as exc:  # no account: nothing can be checked (numbers gone still are moot)
            result.error = str(exc)
        else:
            failed = {num.id for num, _ in listing.failures}
            result.failures = [(num.id, str(exc)) for num, exc in listing.failures]
            result.checked = [n.id for _, n in admin.accounts.numbers() if n.id not in failed]
            checked = set(result.checked)
            found = {hook.id: (hook, number_id) for hook, number_id in listing.hooks}
        now = dict(admin.expected.all())
        changed = {w for w in snapshot.keys() | now.keys() if snapshot.get(w) != now.get(w)}
        changed |= {w for w, e in now.items() if e.at >= result.at}  # not judged in this audit
        in_accounts = {n.id for _, n in admin.accounts.numbers()}
        gone = {w for w, e in now.items() if e.number_id not in in_accounts and w not in changed}
        admin.expected.forget(gone)  # a number in no account: nothing to compare with any more
        expected = {w: e for w, e in now.items() if w not in changed and w not in gone}
        forms: dict[str, ExpectedWebhook] = {}
        for wid, (hook, number_id) in found.items():
            if not is_mine(hook.url, token) or wid in changed:
                continue
            exp = expected.get(wid)
            if exp is None:  # this app's, never seen here: adopted as it is
                forms[wid] = admin.expected.form(hook, number_id)
                result.adopted.append(wid)
            elif hook.url != exp.url and is_mine(exp.url, token):  # moved between this app's URLs
                forms[wid] = exp.model_copy(update={"url": hook.url})
        admin.expected.put(forms)
        expected.update(forms)
        findings = [
            f
            for wid, exp in expected.items()
            if exp.number_id in checked
            for f in judge(wid, exp, found.get(wid, (None, ""))[0], token, names)
        ]
        before = self._open_rows()
        current: dict[str, DriftRow] = {}
        for finding in findings:
            row = await self._open(finding, result)
            if row is None:
                continue
            old = before.get(finding.key)
            if old is None or old.id != row.id:
                result.new.append(row)
            else:
                row = old  # open already (this run, an earlier one, another process): as first found
            current[finding.key] = row
        for key, row in before.items():
            if key in current:
                continue
            if row.webhook_id in changed:  # changed during the listing: judged next audit
                current[key] = row
                continue
            # The app forgot the webhook, or its number is in no account: nothing to compare with.
            moot = row.webhook_id not in expected or row.number_id not in in_accounts
            if (row.number_id in checked or moot) and await self._resolve(row, result):
                continue
            current[key] = row  # not checked this time: stays as it was
        self._known = current
        result.open = sorted(current.values(), key=lambda r: (-r.found_at, -r.id))
        return result

    def _mask(self, text: str) -> str:
        return text.replace(self.admin.token, "<token>")

    async def _open(self, finding: Finding, result: AuditResult) -> DriftRow | None:
        detail = self._mask(json.dumps(finding.detail, sort_keys=True))
        sentence = self._mask(finding.sentence)
        mark = DriftMark(
            found_at=result.at,
            kind=finding.kind,
            key=finding.key,
            webhook_id=finding.webhook_id,
            number_id=finding.number_id,
            sentence=sentence,
            detail=detail,
        )
        try:
            ident = await self.submit(mark)
        except Exception as exc:  # the store is closed or refusing: said, retried next audit
            result.error = f"drift findings not recorded: {exc}"
            return None
        if not isinstance(ident, int):
            result.error = f"drift finding not recorded (the store answered {ident!r})"
            return None
        known = self._known.get(finding.key)
        if known is not None and known.id == ident:
            return known
        return DriftRow(
            ident,
            result.at,
            finding.kind,
            finding.key,
            finding.webhook_id,
            finding.number_id,
            sentence,
            json.loads(detail),
            None,
        )

    async def _resolve(self, row: DriftRow, result: AuditResult) -> bool:
        try:
            await self.submit(DriftMark(finding_id=row.id, resolved_at=result.at))
        except Exception as exc:
            result.error = f"drift findings not recorded: {exc}"
            return False
        result.resolved.append(row)
        return True

    # -- the operator's answers -----------------------------------------------------------------
    async def accept(self, finding: DriftRow) -> None:
        """The platform's current form becomes the expected one; the finding is resolved."""
        wid, admin = finding.webhook_id, self.admin
        if wid is None:
            raise AdminError("This finding names no webhook.")
        async with self._lock:
            exp = admin.expected.get(wid)
            number = finding.number_id or (exp.number_id if exp is not None else None)
            in_accounts = {n.id for _, n in admin.accounts.numbers()}
            # Deleted, no longer expected, or its number in no account: nothing to read.
            if finding.kind == "deleted" or exp is None or number not in in_accounts:
                admin.expected.forget([wid])
                await self._settle(wid, [], finding)
            elif finding.kind == "events_dropped":
                admin.expected.put(
                    {wid: exp.model_copy(update={"asked": list(exp.events), "at": time.time()})}
                )
                await self._settle(wid, None, finding)
            else:
                located = await admin.locate(wid, finding.number_id)
                admin.expected.record(located.hook, finding.number_id or exp.number_id, located.hook.events)
                await self._settle(wid, located.hook, finding)

    async def restore(self, finding: DriftRow) -> None:
        """Put back the expected URL, state and events (not a deleted webhook: the platform
        would give a new one a new id and signing secret; nor dropped events)."""
        wid, admin = finding.webhook_id, self.admin
        if finding.kind == "deleted":
            raise AdminError(
                "A deleted webhook cannot be put back: a new one gets a new id and a new signing secret. "
                "Create it again with Subscribe all numbers (`pilot-desktop webhooks subscribe-all`), "
                "or accept the finding."
            )
        if finding.kind == "events_dropped":
            raise AdminError(
                "Pilot Status drops these events for this number, so asking again changes nothing; "
                "accept the finding."
            )
        exp = admin.expected.get(wid) if wid else None
        if wid is None or exp is None:
            raise AdminError(f"Webhook {wid} is no longer expected by this app; nothing to put back.")
        async with self._lock:
            located = await admin.locate(wid, finding.number_id or exp.number_id)
            hook = located.hook
            url = self._restored_url(exp) if not is_mine(hook.url, admin.token) else None
            events = list(exp.asked) if set(hook.events) != set(exp.events) else None
            active = exp.active if hook.active != exp.active else None
            if url or events is not None or active is not None:
                hook, _ = await admin.update(located, url=url, events=events, active=active)
            await self._settle(wid, hook, finding)

    def _restored_url(self, exp: ExpectedWebhook) -> str:
        """The expected URL, on today's public URL when the tunnel moved since."""
        target, route = self.admin.target(), route_of(exp.url, self.admin.token)
        if target is None or route is None:
            return exp.url
        return hook_url(target.public_url, target.token, route) if route else target.bare_url

    async def _settle(self, wid: str, hook: Webhook | list[Any] | None, finding: DriftRow) -> None:
        """Resolve `finding` and the webhook's other open findings the new expectation makes
        untrue (`hook`: the platform's form just read; [] gone; None not read)."""
        exp = self.admin.expected.get(wid)
        still: set[str] = set()
        if exp is not None and isinstance(hook, Webhook):
            still = {f.key for f in judge(wid, exp, hook, self.admin.token, self.admin.names())}
        rows = [r for r in self._open_rows().values() if r.webhook_id == wid]
        rows = rows if hook is not None else [r for r in rows if r.id == finding.id]
        if finding.id not in {r.id for r in rows}:
            rows.append(finding)
        result = AuditResult(at=time.time())
        for row in rows:
            if row.key not in still:
                await self._resolve(row, result)
                self._known.pop(row.key, None)
        if result.error:
            raise AdminError(result.error)

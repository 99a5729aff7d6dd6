"""Tray glue for what is watched beyond the numbers: reachability, storing, silence, webhook
drift and pending re-pointing.

- The tray's colour, tooltip and the window title follow the conditions now: unreachable
  (services/reachability.py, at once) and not storing are red, silent numbers and webhooks
  waiting to be re-pointed amber ("Pilot Desktop — unreachable").
- Alerts (services/alerts.py's `AlertWatch`) feed core/alerts.py's `AlertNotifier`, which
  decides what is told (one when an alert opens, one on recovery; quiet hours, muting); a
  timer asks it what is due, like the number notifier (ui/tray.py).
- Each new drift finding (services/drift.py) is told once; findings that arrive together
  are folded into one message ("3 webhook changes found").
- Webhooks left on an old public URL for the operator to re-point (services/repoint.py,
  automatic re-pointing off) are told once per webhook.

Everything is shown through the tray (a balloon, or the notice banner without a tray);
clicking it opens the Webhooks tab (a silence alert: its number). Quiet hours and muted
numbers hold notifications back; the colour still tells.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer

from pilot_desktop.core.alerts import Alert, AlertNotifier
from pilot_desktop.core.notify import Notification
from pilot_desktop.services.alerts import AlertWatch
from pilot_desktop.services.config import Document
from pilot_desktop.services.core import AppCore
from pilot_desktop.services.drift import DriftAudit
from pilot_desktop.services.notifications import FIELDS, notify_rules
from pilot_desktop.services.reachability import Reach, Reachability
from pilot_desktop.services.repoint import Repointer
from pilot_desktop.services.settings import Settings
from pilot_desktop.services.webhooks import Change
from pilot_desktop.store.watch_records import DriftRow
from pilot_desktop.ui.reach_segment import short_diagnosis
from pilot_desktop.ui.tray import DUE_INTERVAL_MS, NumbersTray

log = logging.getLogger(__name__)

SHOWN_LINES = 4  # of a folded message; "and N more" after


@dataclass(frozen=True)
class Condition:
    """Something wrong now: the tray's colour (warn | down), a tooltip line, title words."""

    level: str
    line: str
    title: str


class WatchAlerts(QObject):
    def __init__(
        self,
        tray: NumbersTray,
        prefs: Document[Settings],
        *,
        clock: Callable[[], float] = time.time,
        interval_ms: int = DUE_INTERVAL_MS,
    ) -> None:
        super().__init__()
        self.tray, self.prefs, self._clock = tray, prefs, clock
        self.notifier = AlertNotifier(notify_rules(prefs.value), tray.names)  # silence: the number's name
        self.reach: Reach | None = None
        self.active: list[Alert] = []
        self.pending: list[Change] = []
        self.new_findings: list[DriftRow] = []  # told at the next tick, folded
        self.told_pending: set[str] = set()  # webhook ids told as waiting for re-pointing
        self.repoint_due = False
        self._detach: list[Callable[[], None]] = []
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)
        self._timer.start()
        prefs.subscribe(self._prefs_changed)

    def attach(
        self,
        *,
        reachability: Reachability | None = None,
        alerts: AlertWatch | None = None,
        drift: DriftAudit | None = None,
        repoint: Repointer | None = None,
    ) -> None:
        """Follow these watchers from now on (services/watch.py builds them)."""
        if reachability is not None:
            reachability.subscribe(self.reach_changed)
            self._detach.append(lambda: reachability.unsubscribe(self.reach_changed))
            self.reach = reachability.reach
        if alerts is not None:
            alerts.subscribe(self.alerts_changed)
            self._detach.append(lambda: alerts.unsubscribe(self.alerts_changed))
            self.alerts_changed(list(alerts.active))
        if drift is not None:
            drift.subscribe(self.drift_found)
            self._detach.append(lambda: drift.unsubscribe(self.drift_found))
        if repoint is not None:
            repoint.subscribe(self.pending_changed)
            self._detach.append(lambda: repoint.unsubscribe(self.pending_changed))
            self.pending_changed(list(repoint.pending))
        self.show_conditions()

    def shutdown(self) -> None:
        self.prefs.unsubscribe(self._prefs_changed)
        for detach in self._detach:
            detach()
        self._detach.clear()
        self._timer.stop()
        self.tray.conditions = []

    def _prefs_changed(self, changed: frozenset[str]) -> None:
        if FIELDS in changed:
            self.notifier.rules = notify_rules(self.prefs.value)

    # -- what the watchers say ---------------------------------------------------------------

    def reach_changed(self, before: Reach, after: Reach) -> None:
        self.reach = after
        if "unreachable" in (before.state, after.state):  # its line names the diagnosis
            self.show_conditions()

    def alerts_changed(self, active: list[Alert]) -> None:
        self.active = list(active)
        self.notifier.feed(self.active, self._clock())
        self.show_conditions()

    def drift_found(self, finding: DriftRow) -> None:
        self.new_findings.append(finding)

    def pending_changed(self, pending: list[Change]) -> None:
        self.pending = list(pending)
        ids = {c.webhook.id for c in pending}
        self.told_pending &= ids  # re-pointed (or gone): told again if it is left behind again
        self.repoint_due = bool(ids - self.told_pending)
        self.show_conditions()

    # -- the tray's colour ---------------------------------------------------------------------

    def conditions(self) -> list[Condition]:
        found: list[Condition] = []
        reach = self.reach
        unreachable = next((a for a in self.active if a.kind == "unreachable"), None)
        if reach is not None and reach.state == "unreachable" and reach.last is not None:
            why = short_diagnosis(reach.last.diagnosis, reach.last.status)
            found.append(Condition("down", f"Unreachable through {reach.public_url}: {why}", "unreachable"))
        elif unreachable is not None:
            found.append(Condition("down", unreachable.sentence, "unreachable"))
        for alert in self.active:
            if alert.kind == "not_storing":
                found.append(Condition("down", alert.sentence, "not storing"))
        silent = [a for a in self.active if a.kind == "silence"]
        if silent:
            line = silent[0].sentence if len(silent) == 1 else f"{len(silent)} numbers unusually silent"
            found.append(Condition("warn", line, f"{len(silent)} silent"))
        if self.pending:
            n = len(self.pending)
            line = f"{n} webhook{'s' if n != 1 else ''} on an old public URL: re-point in the Webhooks tab"
            found.append(Condition("warn", line, "re-pointing pending"))
        return found

    def show_conditions(self) -> None:
        self.tray.conditions = [(c.level, c.line, c.title) for c in self.conditions()]
        self.tray.refresh()

    # -- notifications -------------------------------------------------------------------------

    def tick(self) -> None:
        """Tell what is due now (the timer; tests call it with their clock)."""
        now = self._clock()
        held = self.notifier.suppressed
        for n in self.notifier.due(now):
            self._tell_alert(n)
        if self.notifier.suppressed != held:  # one count of what was held back, in the tray's tooltip
            self.tray.notifier.suppressed += self.notifier.suppressed - held
            self.tray.refresh()
        if self.new_findings:
            findings, self.new_findings = self.new_findings, []
            self._tell_findings(findings, now)
        if self.repoint_due:
            self.repoint_due = False
            self._tell_pending(now)

    def _held(self, now: float, numbers: set[str], what: str) -> bool:
        """Quiet hours, or every number it concerns muted: counted in the tray's tooltip."""
        rules = self.notifier.rules
        if rules.quiet(now) or (numbers and all(rules.muted_at(n, now) for n in numbers)):
            self.tray.notifier.suppressed += 1
            log.info("notification kind=%s held back (quiet hours/muted)", what)
            return True
        return False

    def _tell_alert(self, n: Notification) -> None:
        number = n.number_id if n.kind.startswith("silence") and n.number_id else None
        opens = (lambda: self.tray.window.show_numbers(number)) if number else self._open_webhooks
        self._show(
            n.kind, n.title, n.text, n.severity, "Show number" if number else "Show webhooks", opens=opens
        )

    def _tell_findings(self, findings: Sequence[DriftRow], now: float) -> None:
        if self._held(now, {f.number_id for f in findings if f.number_id}, "drift"):
            return
        if len(findings) == 1:
            title, text = "Webhook changed outside Pilot Desktop", findings[0].sentence
        else:
            title = f"{len(findings)} webhook changes found"
            text = _folded([f.sentence for f in findings])
        self._show("drift", title, text, "warn", "Show webhooks", opens=self._open_webhooks)

    def _tell_pending(self, now: float) -> None:
        new = [c for c in self.pending if c.webhook.id not in self.told_pending]
        self.told_pending |= {c.webhook.id for c in new}
        if not new or self._held(now, {c.number_id for c in new}, "repoint"):
            return
        names = self.tray.names
        if len(new) == 1:
            c = new[0]
            title = "A webhook points at an old public URL"
            text = (
                f"The webhook of {names.get(c.number_id, c.number_id)} still goes to {c.webhook.url}: "
                f"open the Webhooks tab to move it to {c.new_url} (automatic re-pointing is off)."
            )
        else:
            title = f"{len(new)} webhooks point at an old public URL"
            text = _folded([f"{names.get(c.number_id, c.number_id)}: {c.webhook.url}" for c in new])
            text += "\nOpen the Webhooks tab to re-point them (automatic re-pointing is off)."
        self._show("repoint", title, text, "warn", "Show webhooks", opens=self._open_webhooks)

    def _show(
        self, kind: str, title: str, text: str, severity: str, action: str, *, opens: Callable[[], None]
    ) -> None:
        via = "tray" if self.tray.balloons else "banner"
        log.info("notification kind=%s via=%s: %s. %s", kind, via, title, text)
        self.tray.tell(title, text, severity, action, opens)

    def _open_webhooks(self) -> None:
        self.tray.window.bring_to_front()
        self.tray.window.show_webhooks()


def _folded(lines: Sequence[str]) -> str:
    shown = "\n".join(lines[:SHOWN_LINES])
    more = len(lines) - SHOWN_LINES
    return shown + (f"\nand {more} more" if more > 0 else "")


def attach_watch(tray: NumbersTray, core: AppCore, *, clock: Callable[[], float] = time.time) -> WatchAlerts:
    """The tray told about the core's watch (services/watch.py), with the operator's rules."""
    watch = WatchAlerts(tray, core.profile.settings, clock=clock)
    watch.attach(reachability=core.reachability, alerts=core.alerts, drift=core.drift, repoint=core.repoint)
    return watch

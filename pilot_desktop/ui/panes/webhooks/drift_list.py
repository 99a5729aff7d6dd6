"""Changes found behind the app's back (the drift audit, services/drift.py), each with what
can be done: Accept (the platform's form becomes what the app expects) or Restore (put back
the app's form; not for a deleted webhook nor for events the platform dropped, which say why
instead). Follows the store (`Changes.watch`) and the audit's new findings live."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.api.errors import ApiError
from pilot_desktop.core.format import Names, exact, number_label, when
from pilot_desktop.services.accounts import AccountError
from pilot_desktop.services.config import SettingsError
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.webhook_admin import AdminError
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.watch_records import DriftRow
from pilot_desktop.ui.panes.webhooks.widgets import StatusStrip
from pilot_desktop.ui.tasks import Tasks

if TYPE_CHECKING:
    from pilot_desktop.services.drift import AuditResult, DriftAudit
    from pilot_desktop.store.reads import Reads
    from pilot_desktop.store.records import Changes

EXPECTED = (ApiError, AccountError, AdminError, SecretsError, SettingsError, StoreError)
KIND_NAMES = {
    "deleted": "Deleted",
    "paused": "Paused",
    "repointed": "Re-pointed",
    "events_changed": "Events changed",
    "events_dropped": "Events dropped",
}
NO_RESTORE = {
    "deleted": "No Restore: a webhook made again gets a new id and signing secret. Make it with "
    "Subscribe all… (Webhooks tab), or Accept to stop expecting it.",
    "events_dropped": "Nothing to restore: the platform drops these events because this number's "
    "provider cannot emit them. Accept to expect the events it kept.",
}
ACCEPT_TIP = "Make the platform's current form what this app expects (nothing changes on the platform)."
RESTORE_TIP = "Put the webhook back on the platform as this app made it."
HINT = "color: #5a6472;"
NEUTRAL = "background: #edf2f7; color: #2d3748; border: 1px solid #cbd5e0; border-radius: 4px; padding: 6px;"
# The services' sentences name the CLI; in the GUI the button does the same.
CLI_SUBSCRIBE = re.compile(r"(?:Subscribe all numbers \()?`pilot-desktop webhooks subscribe-all`\)?")
BUTTON = "Subscribe all… (Webhooks tab)"


def gui_words(text: str) -> str:
    """A service's sentence as the GUI says it: the button, not the CLI command."""
    return CLI_SUBSCRIBE.sub(BUTTON, text).replace("….", "…")


ROW_STYLE = "QFrame#finding { border: 1px solid #f6ad55; border-radius: 4px; background: #fffaf0; }"


class FindingRow(QFrame):
    def __init__(self, finding: DriftRow, names: Names, act: Callable[[DriftRow, bool], None]) -> None:
        super().__init__()
        self.finding = finding
        self.setObjectName("finding")
        self.setStyleSheet(ROW_STYLE)
        self.sentence = QLabel(gui_words(finding.sentence))
        self.sentence.setWordWrap(True)
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        number = number_label(finding.number_id, names) if finding.number_id else "no number"
        self.meta = QLabel(
            f"{KIND_NAMES.get(finding.kind, finding.kind)} · {number} · found {when(finding.found_at)}"
        )
        self.meta.setStyleSheet(HINT)
        self.meta.setToolTip(_detail_tip(finding))
        self.accept = QPushButton("Accept")
        self.accept.setToolTip(ACCEPT_TIP)
        self.accept.clicked.connect(lambda: act(finding, True))
        self.restore = QPushButton("Restore")
        self.restore.setToolTip(RESTORE_TIP)
        self.restore.clicked.connect(lambda: act(finding, False))
        self.note = QLabel(NO_RESTORE.get(finding.kind, ""))
        self.note.setWordWrap(True)
        self.note.setStyleSheet(HINT)
        self.restore.setVisible(finding.kind not in NO_RESTORE)
        self.note.setVisible(finding.kind in NO_RESTORE)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.hide()
        text = QVBoxLayout()
        text.addWidget(self.sentence)
        text.addWidget(self.meta)
        text.addWidget(self.note)
        text.addWidget(self.result)
        buttons = QVBoxLayout()
        buttons.addWidget(self.accept)
        buttons.addWidget(self.restore)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.addLayout(text, 1)
        row.addLayout(buttons)

    def busy(self, on: bool) -> None:
        self.accept.setEnabled(not on)
        self.restore.setEnabled(not on)

    def failed(self, exc: Exception) -> None:
        self.busy(False)
        self.result.setStyleSheet("color: #c53030;")
        self.result.setText(gui_words(str(exc)))
        self.result.show()


def _detail_tip(finding: DriftRow) -> str:
    lines = [f"Found {exact(finding.found_at)}", f"Webhook {finding.webhook_id or '—'}"]
    for key, value in (finding.detail or {}).items():
        lines.append(f"{key}: {value if isinstance(value, str) else json.dumps(value)}")
    return "\n".join(lines)


class DriftList(QWidget):
    count_did_change = Signal(int)  # open findings (the pane's tab title shows it)

    def __init__(
        self,
        drift: DriftAudit,
        reads: Reads | None,
        names: Callable[[], Names],
        tasks: Tasks,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.drift, self.reads, self.names, self.tasks = drift, reads, names, tasks
        self.findings: list[DriftRow] = []
        self.rows: dict[int, FindingRow] = {}
        intro = QLabel(
            "Each connected number's webhooks are compared with what this app made, at start and "
            "periodically: a webhook of this app deleted, paused, moved or changed elsewhere is "
            "listed here."
        )
        intro.setWordWrap(True)
        intro.setStyleSheet(HINT)
        self.audit = QPushButton("Audit now")
        self.audit.clicked.connect(lambda: self.tasks.start(self.audit_now()))
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.strip = StatusStrip()
        self.holder = QWidget()
        self.list = QVBoxLayout(self.holder)
        self.list.setContentsMargins(0, 0, 0, 0)
        self.list.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.holder)
        head = QHBoxLayout()
        head.addWidget(intro, 1)
        head.addWidget(self.audit, 0, Qt.AlignmentFlag.AlignTop)
        col = QVBoxLayout(self)
        col.addLayout(head)
        col.addWidget(self.strip)
        col.addWidget(self.empty)
        col.addWidget(scroll, 1)
        self.refresh()
        drift.subscribe(self._found)
        if reads is not None:
            reads.subscribe(self._store_changed)

    # -- reading -------------------------------------------------------------------------------
    def _found(self, _finding: DriftRow) -> None:
        self.refresh()

    def _store_changed(self, changes: Changes) -> None:
        if changes.watch:
            self.refresh()

    def refresh(self) -> None:
        if self.reads is None:
            self._show([])
            return
        try:
            findings = self.reads.drift(open_only=True)
        except StoreError as exc:
            self.strip.error(exc)
            return
        self._show(findings)

    def _show(self, findings: list[DriftRow]) -> None:
        if [f.id for f in findings] == [f.id for f in self.findings] and self.rows:
            return  # unchanged: keep the rows (and what they say about a failed action)
        self.findings = findings
        for row in self.rows.values():
            row.setParent(None)
            row.deleteLater()
        self.rows = {}
        names = self.names()
        for i, finding in enumerate(findings):
            row = FindingRow(finding, names, self._act)
            self.rows[finding.id] = row
            self.list.insertWidget(i, row)
        self.say_empty()
        self.count_did_change.emit(len(findings))

    def say_empty(self) -> None:
        audit = self.drift.last
        last = f" (last audit {time.strftime('%H:%M', time.localtime(audit.at))})" if audit else ""
        self.empty.setText(f"No changes found behind the app's back{last}.")
        self.empty.setVisible(not self.findings)

    # -- actions --------------------------------------------------------------------------------
    async def audit_now(self) -> None:
        self.audit.setEnabled(False)
        self.strip.working("Reading every number's webhooks…")
        try:
            result = await self.drift.run_once()
        except EXPECTED as exc:
            self.strip.error(exc)
            return
        finally:
            self.audit.setEnabled(True)
        self.refresh()
        self.say_empty()
        if result.error or result.failures:
            self.strip.warn(audit_sentence(result))
        else:
            self.strip.ok(audit_sentence(result))
            if result.open:  # the audit ran fine, but findings wait: not a green "all well"
                self.strip.message.setStyleSheet(NEUTRAL)

    def _act(self, finding: DriftRow, accept: bool) -> None:
        self.tasks.start(self.settle(finding, accept=accept))

    async def settle(self, finding: DriftRow, *, accept: bool) -> None:
        row = self.rows.get(finding.id)
        if row is not None:
            row.busy(True)
        self.strip.working("Accepting…" if accept else "Restoring the webhook on the platform…")
        try:
            await (self.drift.accept(finding) if accept else self.drift.restore(finding))
        except EXPECTED as exc:
            self.strip.clear()
            if row is not None:
                row.failed(exc)
            return
        self.strip.ok("Accepted: the app now expects the platform's form." if accept else "Restored.")
        self.refresh()

    def shutdown(self) -> None:
        self.drift.unsubscribe(self._found)
        if self.reads is not None:
            self.reads.unsubscribe(self._store_changed)


def audit_sentence(result: AuditResult) -> str:
    """What one audit found, in a line."""
    if result.error:
        return f"The audit could not run: {result.error}"
    found, numbers = len(result.open), len(result.checked)
    text = (
        f"Audit done at {when(result.at)}: {numbers} number{'' if numbers == 1 else 's'} read, "
        f"{found} open finding{'' if found == 1 else 's'}"
    )
    if result.resolved:
        text += f", {len(result.resolved)} resolved"
    text += "."
    if result.failures:
        text += " Not read: " + "; ".join(f"{number}: {why}" for number, why in result.failures)
    return text

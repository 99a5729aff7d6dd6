"""The Settings dialog: every field of `Settings` (fields.py), by group, in a scroll area.

Saving goes through `Document.update` with only the fields changed here (a field changed
meanwhile by the tray or the CLI is not overwritten). A refused change names its field: the
field is marked and scrolled to, the dialog keeps what was typed, and nothing is written
(the Document's rule). What was saved applies at once through the document's listeners;
the few fields that only apply at launch say so.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from pilot_desktop.services.config import Document, SettingsError
from pilot_desktop.services.settings import Settings
from pilot_desktop.ui.settings_dialog.editors import Editor, Labels, editor_for
from pilot_desktop.ui.settings_dialog.fields import FieldSpec, field_of, groups, problem_words, value_at

_ERROR = "color: #9b2c2c;"
_NOTE = "color: palette(placeholder-text);"
_STRIP = {"error": "color: #9b2c2c;", "ok": "color: #276749;", "info": ""}


class FieldRow:
    """One field: its label, editor, description (with bounds) and error line."""

    def __init__(self, spec: FieldSpec, editor: Editor, note: str) -> None:
        self.spec, self.editor = spec, editor
        self.box = QFrame()
        self.box.setObjectName("field")
        col = QVBoxLayout(self.box)
        col.setContentsMargins(6, 2, 2, 4)
        col.setSpacing(2)
        col.addWidget(editor)
        words = [html.escape(spec.description)]
        if bounds := spec.bounds_text():
            words.append(f"({html.escape(bounds)})".replace(" ", "\u00a0"))  # never "24 / h"
        if spec.next_start:
            words.append("<b>Applies at the next start.</b>")
        if note:
            words.append(f"<i>{html.escape(note)}</i>")
        self.about = QLabel(" ".join(w for w in words if w))
        self.about.setTextFormat(Qt.TextFormat.RichText)
        self.about.setWordWrap(True)
        self.about.setStyleSheet(_NOTE)
        self.about.setToolTip(spec.path)
        col.addWidget(self.about)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(_ERROR)
        self.error.hide()
        col.addWidget(self.error)
        self.label = QLabel("" if spec.kind == "bool" else spec.label)
        self.label.setToolTip(spec.path)
        self.label.setBuddy(editor)

    def mark(self, problem: str | None) -> None:
        self.error.setText(problem or "")
        self.error.setVisible(bool(problem))
        style = "QFrame#field { border: none; border-left: 3px solid #c53030; }" if problem else ""
        self.box.setStyleSheet(style)


class SettingsDialog(QDialog):
    def __init__(
        self,
        prefs: Document[Settings],
        *,
        labels: Labels = dict,
        notes: Mapping[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`labels`: number id -> name, for list fields of ids; `notes`: a line added to a
        field's description (e.g. what the demo does with it)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.prefs = prefs
        self.rows: dict[str, FieldRow] = {}
        self.baseline: dict[str, Any] = {}
        where = f" in <code>{html.escape(str(prefs.path))}</code>" if prefs.path is not None else ""
        intro = QLabel(f"Your preferences{where}. Saved changes apply at once unless a field says otherwise.")
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.hide()

        body = QWidget()
        body.setMaximumWidth(1000)  # full screen: lines a reader can follow
        col = QVBoxLayout(body)
        boxes = [self._group(g.title, g.description, g.fields, labels, notes or {}) for g in groups()]
        widest = max(r.label.sizeHint().width() for r in self.rows.values())
        for box in boxes:  # one label column for every group
            grid = box.layout()
            assert isinstance(grid, QGridLayout)
            grid.setColumnMinimumWidth(0, widest)
            col.addWidget(box)
        col.addStretch(1)
        self.area = QScrollArea()
        self.area.setWidgetResizable(True)
        self.area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.area.setWidget(body)
        self.area.setAlignment(Qt.AlignmentFlag.AlignHCenter)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.clicked.connect(self._clicked)
        outer = QVBoxLayout(self)
        outer.addWidget(intro)
        outer.addWidget(self.area, 1)
        outer.addWidget(self.status)
        outer.addWidget(self.buttons)
        self.load(prefs.value)
        prefs.subscribe(self._changed_elsewhere)  # until detach()
        room = self.screen().availableGeometry()  # a small screen: the dialog scrolls, never cut
        self.resize(min(780, room.width()), min(680, room.height()))
        self.setMinimumSize(min(480, room.width()), min(320, room.height()))

    def _group(
        self, title: str, about: str, specs: tuple[FieldSpec, ...], labels: Labels, notes: Mapping[str, str]
    ) -> QGroupBox:
        box = QGroupBox(title)
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        top = 0
        if about:
            text = QLabel(about)
            text.setWordWrap(True)
            text.setStyleSheet(_NOTE)
            grid.addWidget(text, 0, 0, 1, 2)
            top = 1
        for i, spec in enumerate(specs):
            row = FieldRow(spec, editor_for(spec, labels), notes.get(spec.path, ""))
            row.editor.edited.connect(lambda r=row: r.mark(None))
            self.rows[spec.path] = row
            align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
            grid.addWidget(row.label, top + i, 0, align)
            grid.addWidget(row.box, top + i, 1)
        return box

    # -- values ----------------------------------------------------------------------------

    def load(self, settings: Settings) -> None:
        """Show `settings`; what is shown becomes what changes are measured against."""
        for path, row in self.rows.items():
            value = value_at(settings, path)
            row.editor.set_value(value)
            self.baseline[path] = row.editor.value()
            row.mark(None)

    def patch(self) -> dict[str, Any]:
        """The fields changed here, dotted path -> value."""
        return {p: r.editor.value() for p, r in self.rows.items() if r.editor.value() != self.baseline[p]}

    def _changed_elsewhere(self, changed: frozenset[str]) -> None:
        """Saved by the tray or the CLI meanwhile: shown, unless edited here."""
        value = self.prefs.value
        for path in changed & self.rows.keys():
            row = self.rows[path]
            if row.editor.value() == self.baseline[path]:
                row.editor.set_value(value_at(value, path))
                self.baseline[path] = row.editor.value()

    def apply(self) -> bool:
        """Save the changed fields; False (fields marked, nothing written) when refused."""
        for row in self.rows.values():
            row.mark(None)
        patch = self.patch()
        if not patch:
            self._say("info", "Nothing changed.")
            return True
        try:
            saved = self.prefs.update(patch)
        except SettingsError as exc:
            self._refused(exc)
            return False
        except OSError as exc:
            self._say("error", f"Could not save the settings: {exc}. Nothing was changed.")
            return False
        for path in patch:
            self.rows[path].editor.set_value(value_at(saved, path))  # as normalised ("7:00" -> "07:00")
        for path, row in self.rows.items():
            self.baseline[path] = row.editor.value()
        names = [self.rows[p].spec for p in patch]
        later = [s.label for s in names if s.next_start]
        text = "Saved and applied: " + ", ".join(s.label for s in names if not s.next_start) + "."
        if later:
            text = ("" if len(later) == len(names) else text + " ") + (
                f"Saved: {', '.join(later)} applies at the next start."
            )
        self._say("ok", text)
        return True

    def _refused(self, exc: SettingsError) -> None:
        marked: list[FieldRow] = []
        for problem in exc.fields:
            row = self.rows.get(field_of(problem))
            if row is not None:
                row.mark(problem_words(row.spec.path, problem))
                marked.append(row)
        if not marked:
            self._say("error", f"Not saved: {exc}")
            return
        first = marked[0]
        self.area.ensureWidgetVisible(first.box)
        first.editor.focus()
        which = ", ".join(r.spec.label for r in marked)
        self._say("error", f"Not saved, nothing was written: check {which}.")
        self.status.setToolTip("\n".join(exc.fields))  # the file's words, for settings.json

    def detach(self) -> None:
        """Stop following the file (the window shuts down)."""
        self.prefs.unsubscribe(self._changed_elsewhere)

    def clear_status(self) -> None:
        self._say("info", "")

    def _say(self, level: str, text: str) -> None:
        self.status.setStyleSheet(_STRIP[level])
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.status.setToolTip("")

    def _clicked(self, button: QAbstractButton) -> None:
        role = self.buttons.standardButton(button)
        if role == QDialogButtonBox.StandardButton.Ok:
            if self.apply():
                self.accept()
        elif role == QDialogButtonBox.StandardButton.Apply:
            self.apply()
        elif role == QDialogButtonBox.StandardButton.Cancel:
            self.reject()
        elif role == QDialogButtonBox.StandardButton.RestoreDefaults:
            for row in self.rows.values():
                row.editor.set_value(row.spec.default)
                row.mark(None)
            self._say("info", "Defaults filled in; not saved until OK or Apply.")

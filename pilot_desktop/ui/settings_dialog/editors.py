"""One editor per kind of field (fields.py's FieldSpec): a check box, a spin box within the
model's bounds, a combo of a Literal's choices, a line (empty is None for an optional
text), a checkable list (number ids shown by name), a read-only map with Clear. Each has
`value()`, `set_value()` and the `edited` signal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from pilot_desktop.ui.settings_dialog.fields import FieldSpec

# id -> how people know it ("Loja · +55 11 ..."): for list fields holding number ids.
Labels = Callable[[], Mapping[str, str]]
INT_MAX = 2**31 - 1  # QSpinBox's range


class Editor(QWidget):
    edited = Signal()

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def focus(self) -> None:
        self.setFocus()


class BoolEditor(Editor):
    def __init__(self, spec: FieldSpec) -> None:
        super().__init__(spec)
        self.box = QCheckBox(spec.label)
        self.box.toggled.connect(lambda _: self.edited.emit())
        self.row.addWidget(self.box)
        self.setFocusProxy(self.box)

    def value(self) -> bool:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.setChecked(bool(value))


class NumberEditor(Editor):
    def __init__(self, spec: FieldSpec) -> None:
        super().__init__(spec)
        self.spin: QSpinBox | QDoubleSpinBox
        if spec.kind == "float":
            self.spin = QDoubleSpinBox()
            self.spin.setDecimals(1)
            self.spin.setRange(spec.minimum or 0.0, spec.maximum if spec.maximum is not None else 1e12)
        else:
            self.spin = QSpinBox()
            low = int(spec.minimum) if spec.minimum is not None else -INT_MAX
            self.spin.setRange(low, int(spec.maximum) if spec.maximum is not None else INT_MAX)
        self.spin.setSuffix(spec.unit)
        self.spin.setKeyboardTracking(False)
        self.spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        self.spin.setMinimumWidth(120)
        self.spin.valueChanged.connect(lambda _: self.edited.emit())
        self.row.addWidget(self.spin)
        self.row.addStretch(1)
        self.setFocusProxy(self.spin)

    def value(self) -> int | float:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.setValue(value)


class ChoiceEditor(Editor):
    def __init__(self, spec: FieldSpec) -> None:
        super().__init__(spec)
        self.combo = QComboBox()
        for choice in spec.choices:
            self.combo.addItem(choice, choice)
        self.combo.currentIndexChanged.connect(lambda _: self.edited.emit())
        self.row.addWidget(self.combo)
        self.row.addStretch(1)
        self.setFocusProxy(self.combo)

    def value(self) -> str:
        return str(self.combo.currentData())

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(value)))


class TextEditor(Editor):
    """A line; for an optional field, empty means none (null in the file)."""

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__(spec)
        self.line = QLineEdit()
        if spec.max_length is not None:
            self.line.setMaxLength(spec.max_length)
        self.line.setPlaceholderText(spec.placeholder)
        self.line.setClearButtonEnabled(True)
        self.line.textEdited.connect(lambda _: self.edited.emit())
        self.row.addWidget(self.line)
        self.setFocusProxy(self.line)

    def value(self) -> str | None:
        text = self.line.text()
        return None if self.spec.optional and not text.strip() else text

    def set_value(self, value: Any) -> None:
        self.line.setText("" if value is None else str(value))
        self.line.setCursorPosition(0)


UNKNOWN = "Unknown number"  # an id in the file this window has never seen


def _item_text(number_id: str, known: Mapping[str, str]) -> tuple[str, str]:
    """(text, tooltip) of a number: its name, the id only in the tooltip."""
    label = known.get(number_id) or UNKNOWN
    return label, f"{label}\n{number_id}"


class ListEditor(Editor):
    """A list of ids (notifications.muted): every known one with a check box, by name; an
    id in the list that is no longer known stays listed, so it can be unticked."""

    def __init__(self, spec: FieldSpec, labels: Labels) -> None:
        super().__init__(spec)
        self.labels = labels
        self.items = QListWidget()
        self.items.setMaximumHeight(110)
        # A long name is elided (whole in its tooltip), never scrolled sideways.
        self.items.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.items.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.items.setMinimumWidth(0)
        self.items.itemChanged.connect(lambda _: self.edited.emit())
        self.row.addWidget(self.items)
        self.setFocusProxy(self.items)

    def value(self) -> list[str]:
        out = []
        for i in range(self.items.count()):
            item = self.items.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def set_value(self, value: Any) -> None:
        chosen = [str(v) for v in value or []]
        known = dict(self.labels())
        ids = sorted(known, key=lambda i: (known[i].lower(), i)) + [i for i in chosen if i not in known]
        self.items.blockSignals(True)
        self.items.clear()
        for number_id in ids:
            text, tip = _item_text(number_id, known)
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, number_id)
            item.setToolTip(tip)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if number_id in chosen else Qt.CheckState.Unchecked)
            self.items.addItem(item)
        if not ids:
            empty = QListWidgetItem("No numbers known yet.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.items.addItem(empty)
        self.items.blockSignals(False)
        rows = max(1, self.items.count())
        self.items.setFixedHeight(min(110, rows * (self.items.sizeHintForRow(0) + 2) + 6))


class MapEditor(Editor):
    """A map of number ids to a time, set elsewhere (the tray's snoozes): one line per
    number, by name, until when in clock words; cleared whole."""

    def __init__(self, spec: FieldSpec, labels: Labels) -> None:
        super().__init__(spec)
        self.labels = labels
        self._value: dict[str, Any] = {}
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.clear = QPushButton("Clear")
        self.clear.clicked.connect(self._clear)
        self.row.addWidget(self.text, 1)
        self.row.addWidget(self.clear, 0, Qt.AlignmentFlag.AlignTop)

    def _clear(self) -> None:
        self.set_value({})
        self.edited.emit()

    def value(self) -> dict[str, Any]:
        return dict(self._value)

    def set_value(self, value: Any) -> None:
        self._value = dict(value or {})
        known = dict(self.labels())
        now = datetime.now()
        lines, tips = [], []
        for number_id, until in sorted(self._value.items(), key=lambda kv: _item_text(kv[0], known)[0]):
            name = _item_text(number_id, known)[0]
            when = until_words(until, now).replace(" ", "\u00a0")  # wrapped whole, never "until / 08:00"
            lines.append(" — ".join(w for w in (name, when) if w))
            tips.append(f"{name}: {number_id}")
        self.text.setText("\n".join(lines) or "None")
        self.setToolTip("\n".join(tips))
        self.clear.setEnabled(bool(self._value))


def until_words(value: Any, now: datetime) -> str:
    """An epoch time as people say it from `now`: "until 15:00", "until tomorrow 08:00",
    "until Wed 9 Dec 08:00", "ended at 09:00"; anything else as nothing."""
    if not isinstance(value, (int, float)) or value <= 0:
        return ""
    try:
        at = datetime.fromtimestamp(value)
    except (OverflowError, OSError, ValueError):
        return ""
    clock = at.strftime("%H:%M")
    days = (at.date() - now.date()).days
    if at <= now:
        return f"ended at {clock}" if days == 0 else f"ended {at.strftime('%a')} {at.day} {at.strftime('%b')}"
    if days == 0:
        return f"until {clock}"
    if days == 1:
        return f"until tomorrow {clock}"
    return f"until {at.strftime('%a')} {at.day} {at.strftime('%b')} {clock}"


def editor_for(spec: FieldSpec, labels: Labels) -> Editor:
    if spec.kind == "bool":
        return BoolEditor(spec)
    if spec.kind in ("int", "float"):
        return NumberEditor(spec)
    if spec.kind == "choice":
        return ChoiceEditor(spec)
    if spec.kind == "list":
        return ListEditor(spec, labels)
    if spec.kind == "map":
        return MapEditor(spec, labels)
    return TextEditor(spec)

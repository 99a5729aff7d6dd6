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
        if spec.optional:
            self.line.setPlaceholderText("none")
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


class ListEditor(Editor):
    """A list of ids (notifications.muted): every known one with a check box, by name; an
    id in the list that is no longer known stays listed, so it can be unticked."""

    def __init__(self, spec: FieldSpec, labels: Labels) -> None:
        super().__init__(spec)
        self.labels = labels
        self.items = QListWidget()
        self.items.setMaximumHeight(110)
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
            label = known.get(number_id, number_id)
            item = QListWidgetItem(label if label == number_id else f"{label} ({number_id})")
            item.setData(Qt.ItemDataRole.UserRole, number_id)
            item.setToolTip(number_id)
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
    """A map set elsewhere (e.g. the tray's snoozes): shown, and cleared whole."""

    def __init__(self, spec: FieldSpec, labels: Labels) -> None:
        super().__init__(spec)
        self.labels = labels
        self._value: dict[str, Any] = {}
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.clear = QPushButton("Clear")
        self.clear.clicked.connect(self._clear)
        self.row.addWidget(self.text, 1)
        self.row.addWidget(self.clear)

    def _clear(self) -> None:
        self.set_value({})
        self.edited.emit()

    def value(self) -> dict[str, Any]:
        return dict(self._value)

    def set_value(self, value: Any) -> None:
        self._value = dict(value or {})
        known = self.labels()
        shown = ", ".join(f"{known.get(k, k)}{_until(v)}" for k, v in sorted(self._value.items()))
        self.text.setText(shown or "none")
        self.clear.setEnabled(bool(self._value))


def _until(value: Any) -> str:
    """An epoch time as " (until 05 Dec 18:00)"; anything else as nothing."""
    if isinstance(value, (int, float)) and value > 1e9:
        return f" (until {datetime.fromtimestamp(value).strftime('%d %b %H:%M')})"
    return ""


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

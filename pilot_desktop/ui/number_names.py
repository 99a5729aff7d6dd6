"""Numbers by name in the panes: reading the names, and the "All numbers" + one item per
number combo boxes of the Live, Messages and Delivery tabs."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from pilot_desktop.core.format import number_label
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import NumberNames
from pilot_desktop.store.reads import Reads

log = logging.getLogger(__name__)


def load_names(reads: Reads) -> NumberNames | None:
    """The known names (a few rows: fine on the GUI thread); None when the store cannot be
    read now, and the ids go on showing until the next try."""
    try:
        return reads.number_names()
    except StoreError as exc:
        log.warning("number names: %s", exc)
        return None


def fill_numbers(combo: QComboBox, numbers: Iterable[str], known: NumberNames) -> None:
    """Items after the first: the numbers by name (sorted as shown; the id is the item's
    data and tooltip). The chosen number stays chosen; refilling is not a user's choice,
    so no signal is emitted."""
    wanted = sorted(((number_label(n, known), n) for n in set(numbers)), key=lambda x: x[0].lower())
    if wanted == [(combo.itemText(i), combo.itemData(i)) for i in range(1, combo.count())]:
        return
    current = combo.currentData()
    combo.blockSignals(True)
    try:
        while combo.count() > 1:
            combo.removeItem(1)
        for label, n in wanted:
            combo.addItem(label, n)
            combo.setItemData(combo.count() - 1, n, Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(max(0, combo.findData(current)))
    finally:
        combo.blockSignals(False)

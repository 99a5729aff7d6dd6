"""How the Messages table spends its width: who and what the message says take the room;
the mostly empty columns (durations, Replies, Error, Notes) stay narrow, their whole values
in the tooltips; no column narrower than its header. The Contact cell names a group or
channel post first, so the elided end of a long name never hides it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

from pilot_desktop.store.read_models import MessageRow
from pilot_desktop.ui.panes.messages import style

WIDTHS = {
    "Status": 110, "Created": 112, "Number": 150, "Contact": 270, "Type": 48, "Sent→Delivered": 90,
    "Delivered→Read": 64, "Replies": 60, "Error": 96, "Notes": 80,
}  # fmt: skip
# Headers shown shorter than the column's name (the header's tooltip says what they measure).
HEADERS = {"Sent→Delivered": "Delivered in", "Delivered→Read": "Read in"}
HEADER_ROOM = 28  # the section's margins and the sort arrow
NAME_MAX = 240  # a number's name wider than this is elided (whole in the tooltip)
TEXT_MIN = 260  # the message's own words: below this the table scrolls sideways instead


def fit_headers(table: QTableView) -> None:
    """Widen any fixed column narrower than its header's words (the stretched one fits itself)."""
    header, model = table.horizontalHeader(), table.model()
    for i in range(model.columnCount()):
        if header.sectionResizeMode(i) != header.ResizeMode.Interactive:
            continue
        words = str(model.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole))
        room = header.fontMetrics().horizontalAdvance(words) + HEADER_ROOM
        if header.sectionSize(i) < room:
            header.resizeSection(i, room)


def fit_names(table: QTableView, column: int, names: Sequence[str]) -> None:
    """Widen the Number column to its longest name (up to NAME_MAX); never narrows it."""
    metrics, header = table.fontMetrics(), table.horizontalHeader()
    room = min(NAME_MAX, max((metrics.horizontalAdvance(n) for n in names), default=0) + 16)
    if header.sectionSize(column) < room:
        header.resizeSection(column, room)


def contact_cell(row: MessageRow, names: dict[str, str]) -> str:
    """'← group Equipe Loja Centro · Carlos Almeida · +5511…': where it was posted, then who."""
    text = style.contact(row, names)
    if row.chat is None or not row.chat_name or row.chat_name == row.peer:
        return text  # a direct message, or a send to the group itself ('→ group …')
    where = f"{style.CHAT_WORD[row.chat]} {row.chat_name}"
    return f"{text[:2]}{where} · {text[2:].removesuffix(f' · {where}')}"


class TextRoom(QObject):
    """The stretched column never narrower than TEXT_MIN: in a narrow window it keeps that
    width and the table scrolls sideways, the mostly empty columns (last) going off first."""

    def __init__(self, table: QTableView, column: int) -> None:
        super().__init__(table)
        self.table, self.column = table, column
        table.viewport().installEventFilter(self)
        table.horizontalHeader().sectionResized.connect(self._resized)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def _resized(self, index: int, _old: int, _new: int) -> None:
        if index != self.column:
            self.fit()

    def fit(self) -> None:
        header = self.table.horizontalHeader()
        others = sum(
            header.sectionSize(i)
            for i in range(header.count())
            if i != self.column and not header.isSectionHidden(i)
        )
        stretch = self.table.viewport().width() - others >= TEXT_MIN
        mode = QHeaderView.ResizeMode.Stretch if stretch else QHeaderView.ResizeMode.Interactive
        if header.sectionResizeMode(self.column) != mode:
            header.setSectionResizeMode(self.column, mode)
            if not stretch:
                header.resizeSection(self.column, TEXT_MIN)

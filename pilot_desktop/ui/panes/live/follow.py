"""Whether Live follows the stream, and why not: one explicit state, shown as it is.

Following is what the operator asked for, never read back from the scroll bar's geometry
(a range that changes on resize said "not at the bottom" and the view silently stopped).
It starts on; it stops when the operator moves the scroll bar off the bottom (wheel, drag,
a click on the bar) or jumps to the oldest row; it resumes with End, "Newest", the "N new"
badge, or moving the scroll bar back to the bottom.

Rows on screen never move while they are being pointed at or read: new rows are HELD (they
wait behind the "N new" badge, nothing is inserted) while Live is paused, a row is under
the pointer (not the empty list, not the space below the last row; decided again on every
move of the pointer and every tick), or a row is selected. Not held and not following
(scrolled up), new rows go in below the visible ones (the view does not move) and the badge
counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QWidget

_FOLLOWING = ("● Following", "The newest row stays in view. Scroll up to stop following.")
_PAUSED = ("‖ Paused", "Events are still received and stored; Resume (Space) shows them.")
_POINTER = (
    "Held: pointer on a row",
    "New rows wait while the pointer is over a row, so the rows there do not move; "
    "they appear when the pointer leaves the rows.",
)
_SELECTED = (
    "Held: row selected",
    "New rows wait while a row is selected, so it does not move; End or the badge shows them "
    "and follows the stream again.",
)
_SCROLLED = (
    "↑ Not following",
    "You scrolled away from the newest row: new rows go in below. End or the badge follows again.",
)
STATES = (_FOLLOWING, _PAUSED, _POINTER, _SELECTED, _SCROLLED)


@dataclass
class Follow:
    following: bool = True  # the operator's choice: the newest row in view
    paused: bool = False
    pointer: bool = False  # the pointer is over the rows
    selected: bool = False  # a row is picked
    unseen: int = 0  # rows that went in below the view while not following

    @property
    def held(self) -> bool:
        """New rows wait (nothing is inserted) so the rows shown do not move."""
        return self.paused or self.pointer or self.selected

    def words(self) -> tuple[str, str]:
        """The state label and its tooltip."""
        if self.paused:
            return _PAUSED
        if self.pointer:
            return _POINTER
        if self.selected:
            return _SELECTED
        return _FOLLOWING if self.following else _SCROLLED

    def badge(self, pending: int, overflowed: bool) -> str:
        """'N new' (rows held back, or gone in below unseen), '' when none. Rows not held go
        in at the next tick: they do not wait, so they are not counted (no flash while
        following)."""
        held = self.held
        n = (pending if held else 0) + (0 if self.following else self.unseen)
        overflowed = overflowed and held
        if n == 0 and not overflowed:
            return ""
        return f"{n:,}+ new" if overflowed else f"{n:,} new"


class StateLabel(QLabel):
    """The follow state in words, as wide as its longest wording (the bar never jumps)."""

    def __init__(self) -> None:
        super().__init__(_FOLLOWING[0])
        self.setObjectName("followState")
        metrics = self.fontMetrics()
        self.setMinimumWidth(max(metrics.horizontalAdvance(text) for text, _ in STATES) + 8)
        self.setText("")
        self.show_state(Follow())

    def show_state(self, follow: Follow) -> None:
        text, tip = follow.words()
        if text != self.text():
            self.setText(text)
            self.setToolTip(tip)
            colour = "#2f855a" if text == _FOLLOWING[0] else "#b7791f"
            self.setStyleSheet(f"#followState {{ color: {colour}; }}")


class Badge(QPushButton):
    """'N new ⇥': a click shows them and follows. Keeps its room when hidden."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("newBadge")
        self.setStyleSheet(
            "#newBadge { background: #dd6b20; color: white; border: none; border-radius: 8px;"
            " padding: 1px 8px; }"
        )
        self.setToolTip("New rows not shown yet: click (or End) to show them and follow the stream")
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        policy.setHorizontalPolicy(QSizePolicy.Policy.Fixed)
        self.setSizePolicy(policy)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("99,999+ new") + 18)
        self.hide()

    def say(self, text: str) -> None:
        if text:
            self.setText(text)
        self.setVisible(bool(text))

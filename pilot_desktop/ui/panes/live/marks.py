"""Refusals and gaps recorded while Live is shown: placed among its rows as they come.

The writer's change descriptors say that refusals were recorded (`Changes.rejections`) or a
gap opened, ended or was caught up (`Changes.gaps`); the pane's flush then reads the new
refusals' marks (those above the newest shown: a flood of them is one small read every
MARKS_S) and the gaps (a few rows). It also counts the deliveries refused lately, for the
empty state, and redraws an open gap's band as it lengthens.
"""

from __future__ import annotations

import logging
import time

from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui.panes.live.header import RECENT_S
from pilot_desktop.ui.panes.live.model import SHOW_DELIVERIES, LiveModel

log = logging.getLogger(__name__)

MARKS_S = 0.5  # new refusals are placed at most this often
RECENT_READ_S = 3.0  # the recent count is re-read at most this often (the window slides)
OPEN_GAP_S = 5.0  # an open gap's band says how long it has lasted: redrawn this often
REFUSALS_MAX = 11_000  # past this many refused rows, reload the newest 10,000 (the store's)


class MarkFeed:
    def __init__(self, reads: Reads) -> None:
        self.reads = reads
        self.refusals_stale = self.gaps_stale = False
        self._read_at = 0.0
        self._aged_at = 0.0
        self._recent: tuple[float, int] = (-RECENT_READ_S, 0)  # (read at, refused in RECENT_S)

    def heard(self, changes: Changes) -> None:
        self.refusals_stale = self.refusals_stale or bool(changes.rejections)
        self.gaps_stale = self.gaps_stale or changes.gaps

    def reset(self) -> None:
        """A new list was read: everything recorded before it is in it."""
        self._recent = (-RECENT_READ_S, 0)

    def place(self, model: LiveModel) -> int | None:
        """Put what was recorded since into `model`: how many rows it added, None when the
        list outgrew what the store keeps (read it again)."""
        clock = time.monotonic()
        if model.open_gap_marks() and clock - self._aged_at >= OPEN_GAP_S:
            self._aged_at = clock
            for mark in model.open_gap_marks():
                model.redraw_mark(mark)
        if not (self.refusals_stale or self.gaps_stale) or clock - self._read_at < MARKS_S:
            return 0
        self._read_at = clock
        added = 0
        try:
            if self.refusals_stale:
                self._recent = (-RECENT_READ_S, 0)  # count the recent ones again too
            if self.refusals_stale and model.mode != SHOW_DELIVERIES:
                new = self.reads.refusal_marks(model.last_refusal_id, model.filter.number_id)
                if model.refusal_count + len(new) > REFUSALS_MAX:
                    return None
                added += model.add_marks(new)
            self.refusals_stale = False
            if self.gaps_stale:
                before = model.gap_count
                model.set_gaps(self.reads.gap_marks())
                added += model.gap_count - before
            self.gaps_stale = False
        except StoreError as exc:
            log.warning("refusals and gaps: %s", exc)
        return added

    def recent(self) -> int:
        """Deliveries refused in the last RECENT_S."""
        read_at, count = self._recent
        if time.monotonic() - read_at >= RECENT_READ_S:
            try:
                count = self.reads.refusal_count(time.time() - RECENT_S)
            except StoreError as exc:
                log.warning("recent refusals: %s", exc)
            self._recent = (time.monotonic(), count)
        return count

"""The Live list's row order: the events' ids with refusals and gaps merged in by time.

The events stay a compact array of ids (8 bytes a row, model.py). Refusals (at most the
10,000 the store keeps) and gaps (a few) are `Mark`s: each sits just before the event
`anchor` (the first event received at or after it, store/live_queries.py), and marks with
the same anchor are in time order. So row `r` is found by bisecting the marks' rows, never
by reading an event's time, and a new filter of the events only re-bisects the anchors.
"""

from __future__ import annotations

import bisect
from array import array
from collections import Counter
from collections.abc import Iterator

from pilot_desktop.store.read_models import IdList, Mark


class MergedRows:
    def __init__(self, ids: IdList = range(1, 1), marks: list[Mark] | None = None) -> None:
        self.ids = ids
        self.marks: list[Mark] = sorted(marks or [])
        self._anchors = [m.anchor for m in self.marks]
        self.counts = Counter(m.kind for m in self.marks)
        # Row of each mark: events before it (bisect of its anchor) + marks before it.
        self._rows = [self._before(m.anchor) + j for j, m in enumerate(self.marks)]

    def _before(self, anchor: int) -> int:
        """How many events sit before `anchor` (all ids: a range, counted without a search)."""
        ids = self.ids
        if isinstance(ids, range) and ids.step == 1:
            return min(max(anchor - ids.start, 0), len(ids))
        return bisect.bisect_left(ids, anchor)

    def __len__(self) -> int:
        return len(self.ids) + len(self.marks)

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    def at(self, row: int) -> Mark | int | None:
        """What row `row` shows: a mark, or the index of an event in `ids`."""
        if not 0 <= row < len(self):
            return None
        k = bisect.bisect_left(self._rows, row)
        if k < len(self._rows) and self._rows[k] == row:
            return self.marks[k]
        return row - k

    def event_id(self, row: int) -> int | None:
        found = self.at(row)
        return self.ids[found] if isinstance(found, int) else None

    def row_of_event(self, event_id: int) -> int | None:
        i = bisect.bisect_left(self.ids, event_id)
        if i >= len(self.ids) or self.ids[i] != event_id:
            return None
        return i + bisect.bisect_right(self._anchors, event_id)

    def row_of_mark(self, mark: Mark) -> int | None:
        j = bisect.bisect_left(self.marks, mark)
        return self._rows[j] if j < len(self.marks) and self.marks[j] == mark else None

    def mark_rows(self, kind: str) -> Iterator[int]:
        return (row for row, m in zip(self._rows, self.marks, strict=True) if m.kind == kind)

    # -- growing: each step says where its rows go, then applies them ---------------------
    def event_runs(self, new: list[int]) -> Iterator[tuple[int, list[int]]]:
        """Split new event ids (ascending, above `last_id`) into runs that land together:
        a refusal recorded after the newest event but before these sits between them."""
        run: list[int] = []
        before = -1
        for ident in new:
            marks_before = bisect.bisect_right(self._anchors, ident)
            if run and marks_before != before:
                yield len(self.ids) + before, run
                run = []
            run.append(ident)
            before = marks_before
        if run:
            yield len(self.ids) + before, run

    def extend(self, run: list[int]) -> None:
        """Append one run from `event_runs` (its rows then exist)."""
        ids = self.ids
        first = bisect.bisect_right(self._anchors, run[0])
        if isinstance(ids, range) and run == list(range(ids.stop, ids.stop + len(run))):
            self.ids = range(ids.start, ids.stop + len(run))  # still dense: stay O(1)
        else:
            if isinstance(ids, range):
                self.ids = ids = array("q", ids)
            ids.extend(run)
        for j in range(first, len(self._rows)):  # the marks after the run: a few at the tail
            self._rows[j] += len(run)

    def row_for(self, mark: Mark) -> int:
        """Where `mark` would go."""
        j = bisect.bisect_left(self.marks, mark)
        return self._before(mark.anchor) + j

    def insert(self, mark: Mark) -> None:
        j = bisect.bisect_left(self.marks, mark)
        self.marks.insert(j, mark)
        self.counts[mark.kind] += 1
        self._anchors.insert(j, mark.anchor)
        self._rows.insert(j, self._before(mark.anchor) + j)
        for k in range(j + 1, len(self._rows)):
            self._rows[k] += 1

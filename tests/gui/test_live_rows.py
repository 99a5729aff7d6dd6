"""Live's row order (ui/panes/live/rows.py): built live, step by step, it is the order a fresh
read gives: events by id, each refusal or gap just before its anchor event, ties by time."""

from __future__ import annotations

import random

from pilot_desktop.store.read_models import Mark
from pilot_desktop.ui.panes.live.rows import MergedRows


def expected(ids: list[int], marks: list[Mark]) -> list[object]:
    # Brute force: an event sorts as (id, -inf); a mark as (anchor, time) before its anchor.
    keyed = [((i, 0, 0.0), i) for i in ids] + [((m.anchor, -1, m.at), m) for m in marks]
    return [item for _, item in sorted(keyed, key=lambda pair: (pair[0][0], pair[0][1], pair[0][2]))]


def shown(rows: MergedRows) -> list[object]:
    out: list[object] = []
    for r in range(len(rows)):
        found = rows.at(r)
        out.append(rows.ids[found] if isinstance(found, int) else found)
    return out


def test_rows_built_live_match_a_fresh_read() -> None:
    rng = random.Random(15)
    for _ in range(200):
        rows = MergedRows(range(1, 1), [])
        ids: list[int] = []
        marks: list[Mark] = []
        next_id = 1
        for step in range(rng.randint(1, 30)):
            if rng.random() < 0.5:  # a batch of events (some filtered out: gaps in the ids)
                new = []
                for _ in range(rng.randint(1, 4)):
                    next_id += rng.randint(1, 3)
                    new.append(next_id)
                for row, run in rows.event_runs(new):
                    rows.extend(run)  # the run's rows are where it said
                    assert [rows.event_id(r) for r in range(row, row + len(run))] == run
                ids += new
            else:  # a refusal or gap anchored anywhere up to the next event to come
                mark = Mark(rng.randint(1, next_id + 1), rng.random(), rng.choice(["gap", "refusal"]), step)
                row = rows.row_for(mark)
                rows.insert(mark)
                marks.append(mark)
                assert rows.at(row) == mark
            assert shown(rows) == expected(ids, marks)
            fresh = MergedRows(rows.ids, marks)
            assert shown(fresh) == shown(rows)
            for i in ids:
                assert rows.at(rows.row_of_event(i) or 0) == ids.index(i)

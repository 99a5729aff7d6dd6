"""The status bar's one layout rule (ui/segments.py fit): short forms first, then the
lowest-priority droppable segments leave; spare room buys longer forms, the cheapest first."""

from __future__ import annotations

from pilot_desktop.ui.segments import Slot, fit


def test_short_forms_before_dropping_and_lowest_priority_dropped_first() -> None:
    receiver = Slot(0, False, [300, 130])
    reach = Slot(3, False, [140, 90])
    rate = Slot(6, True, [110, 60])
    db = Slot(8, True, [80])
    fit([db, rate, reach, receiver], room=300, gap=6)
    assert (receiver.kept, reach.kept, rate.kept, db.kept) == (True, True, True, False)
    assert (receiver.chosen, reach.chosen, rate.chosen) == (1, 1, 1)  # all short: 280+18 fits
    fit([db, rate, reach, receiver], room=1000, gap=6)
    assert all(s.kept and s.chosen == 0 for s in (receiver, reach, rate, db))


def test_spare_room_goes_to_the_cheapest_longer_form() -> None:
    receiver = Slot(0, False, [300, 130])  # +170 for the address
    reach = Slot(3, False, [140, 90])  # +50 for the latency
    fit([receiver, reach], room=290, gap=6)  # 220 + 12 used, 58 spare
    assert (receiver.chosen, reach.chosen) == (1, 0)


def test_never_drops_what_may_not_be_dropped() -> None:
    receiver = Slot(0, False, [300, 130])
    fit([receiver], room=50, gap=6)
    assert receiver.kept and receiver.chosen == 1  # (drawn elided, the last resort)

"""The rule `message_queries.resolve` and `search` read a text by (the search box and the
CLI's `timeline`): "#123" is an event number, a bare number never is; phone-like text is a
phone, national formats read in the countries given."""

from __future__ import annotations

from pathlib import Path

from pilot_desktop.store import message_queries as mq
from pilot_desktop.store.db import connect
from tests.unit.test_lifecycle import Feed


def sent(i: int, to: str, msg_id: str | None = None) -> dict[str, object]:
    return {
        "event": "message.sent",
        "data": {
            "numberId": "num_A",
            "id": msg_id or f"msg_{i}",
            "messageId": f"wamid.{i}",
            "createdAt": f"2025-06-03T14:0{i}:00.000Z",
            "to": to,
            "type": "text",
            "content": f"hello {i}",
        },
    }


def test_bare_numbers_are_never_event_numbers(tmp_path: Path) -> None:
    feed = Feed(tmp_path)
    feed.send([sent(1, "+5511981870697"), sent(2, "+5521998877665"), sent(3, "+15550001111", msg_id="12345")])
    with connect(feed.path, readonly=True) as c:
        second = mq.find_message(c, "msg_2")
        assert second is not None
        assert mq.resolve(c, "#2") == (second, "event")  # event 2 is message 2's step
        assert mq.resolve(c, "2") is None  # a bare number: not an event, not an id, not a phone
        assert mq.search(c, "2") == []
        third = mq.find_message(c, "msg_3") or mq.find_message(c, "12345")
        assert mq.resolve(c, "12345") == (third, "id")  # digits that are an id stay an id
        # National formats, read in the account's country; without it, not found.
        first = mq.resolve(c, "(11) 98187-0697", regions=["BR"])
        assert first is not None and first[1] == "phone"
        assert mq.resolve(c, "(11) 98187-0697") is None
        assert [r.text for r in mq.search(c, "21 99887-7665", regions=["BR"])] == ["hello 2"]

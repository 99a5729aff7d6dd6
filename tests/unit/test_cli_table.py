"""The CLI's tables fit the terminal and its JSON has one key style (cli/common.py)."""

from __future__ import annotations

import pytest

from pilot_desktop.cli.common import Verbatim, camel_keys, table, text_width

HEADERS = ["ID", "NUMBER", "NAME", "ACTIVE", "EVENTS", "SECRET", "URL"]
ROW = [
    "wh_01M91N8Z2QK10FQ8KAGJ0E8TAB",
    "Imobiliária Horizonte (+55 11 98187-0697)",
    "The webhook of the customer relationship system, production",
    "yes",
    "message.received, message.sent, message.delivered",
    "no",
    "https://receiver.example.com/very/long/path/segment/segment/segment/end",
]


@pytest.mark.parametrize("columns", [80, 100, 120, 160])
def test_a_wide_table_fits_and_elides_its_wide_columns_first(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    lines = table(HEADERS, [ROW, ["wh_2", "Shop", "crm", "paused", "all events", "yes", "https://t.example"]],
                  wide=(1, 2, 4, 6)).splitlines()  # fmt: skip
    assert max(text_width(line) for line in lines) <= columns
    assert lines[0].split() == HEADERS  # headers whole
    assert lines[1].startswith(ROW[0] + "  ")  # the id (not wide) whole
    assert "…" in lines[1]
    url = lines[1].split()[-1]
    assert ROW[6].startswith(url.rstrip("…"))  # elided at the end


def test_a_table_that_fits_is_left_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    text = table(HEADERS, [ROW], wide=(6,))
    assert "…" not in text and ROW[6] in text


def test_wide_characters_count_two_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    lines = table(
        ["NAME", "TEXT"], [["客户服务中心", "你好，这是一条很长很长很长的消息内容"]], wide=(1,)
    ).splitlines()
    assert max(text_width(line) for line in lines) <= 30
    assert lines[1].startswith("客户服务中心  ")


def test_too_many_columns_still_never_wrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    lines = table(HEADERS, [ROW], wide=(6,)).splitlines()
    assert max(text_width(line) for line in lines) <= 40


def test_json_keys_become_camel_case_at_every_level_and_values_stay() -> None:
    doc = {
        "number_id": "num_01",
        "hookUrl": "x",
        "steps": [{"webhook_id": "wh_a_b", "new_url": None, "events": ["message.received"]}],
        "counts": {"received_in_logs": 1},
        "payload": Verbatim({"push_name": "kept", "data": {"from_me": True}}),
        "+55 11": 1,
        "_private": 2,
    }
    assert camel_keys(doc) == {
        "numberId": "num_01",
        "hookUrl": "x",
        "steps": [{"webhookId": "wh_a_b", "newUrl": None, "events": ["message.received"]}],
        "counts": {"receivedInLogs": 1},
        "payload": {"push_name": "kept", "data": {"from_me": True}},
        "+55 11": 1,
        "_private": 2,
    }

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
def test_a_wide_table_fits_cutting_only_its_wide_columns_and_moving_the_rest_under_the_row(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    other = ["wh_2", "Shop", "crm", "paused", "all events", "yes", "https://t.example"]
    text = table(HEADERS, [ROW, other], wide=(1, 2, 4), keep=(0, 6), stack=(6,))
    lines = text.splitlines()
    assert max(text_width(line) for line in lines) <= columns
    assert lines[1].startswith(ROW[0] + "  ")  # the id whole, first
    grid = lines[0].split()
    moved = [h for h in HEADERS if h not in grid]
    assert grid == [h for h in HEADERS if h in grid]  # the grid keeps the columns' order
    for header in moved:  # what left the grid is under each row, labelled
        assert f"{header.lower()}: " in text
    unwrapped = " ".join(text.split())
    assert ROW[6] in unwrapped and other[6] in unwrapped  # a kept column (the URL) is never cut
    if columns < 160:
        assert "URL" in moved


def test_cut_names_never_look_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    names = ["Imobiliária Horizonte", "Imobiliária Horizonte · Filial 2", "Imobiliária Central"]
    rows = [[name, f"num_{i:026d}", "Connected"] for i, name in enumerate(names)]
    lines = table(["NAME", "ID", "STATE"], rows, wide=(0,), keep=(1,)).splitlines()
    shown = [line.split("  ")[0].strip() for line in lines[1:]]
    assert max(text_width(line) for line in lines) <= 60
    for i, a in enumerate(shown):
        for b in shown[i + 1 :]:
            sa, sb = a.removesuffix("…").rstrip(), b.removesuffix("…").rstrip()
            assert not (a.endswith("…") and sb.startswith(sa)), (a, b)
            assert not (b.endswith("…") and sa.startswith(sb)), (a, b)


def test_an_empty_column_takes_no_room(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    lines = table(["TIME", "NOTES", "TEXT"], [["10:00:00", "", "hi"], ["10:00:01", " ", "yo"]]).splitlines()
    assert lines == ["TIME      TEXT", "10:00:00  hi", "10:00:01  yo"]


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
    lines = table(HEADERS, [ROW], wide=(6,), keep=(0,)).splitlines()
    assert max(text_width(line) for line in lines) <= 40
    assert lines[1] == ROW[0]  # the id whole, what had no room under it


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

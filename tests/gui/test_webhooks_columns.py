"""The Webhooks pane's table and its dialogs share their width by need (issue 17, point 7),
on a real pane over the real sandbox and receiver, on the Qt loop: a name the demo gives is
whole at 1440 px, "all events (*)" stays readable, and at 640 px every column's title is on
screen or deliberately hidden (never pushed off to the right); in Subscribe all the number,
account and webhook are whole and "Why" gets what remains."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QTableWidget

from pilot_desktop.ui.panes.webhooks.hooks_table import COLUMNS, URL_COLUMN
from pilot_desktop.ui.panes.webhooks.subscribe_all_dialog import COLUMNS as SUBSCRIBE_COLUMNS
from pilot_desktop.ui.panes.webhooks.subscribe_all_dialog import SubscribeAllDialog
from tests.gui.test_webhooks_pane import pane_env

DEMO_NAME = "Pilot Desktop demo (Imobiliária Horizonte)"
NAME, EVENTS_COLUMN = COLUMNS.index("Name"), COLUMNS.index("Events")


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0.02)


def _on_screen(table: QTableWidget, col: int) -> bool:
    left = table.columnViewportPosition(col)
    return left >= 0 and left + table.columnWidth(col) <= table.viewport().width()


def _whole(table: QTableWidget, col: int) -> bool:
    """Every cell of `col` drawn without elision (its widest content fits)."""
    return table.sizeHintForColumn(col) <= table.columnWidth(col)


@pytest.mark.parametrize(("width", "height"), [(640, 420), (1024, 700), (1440, 900)])
async def test_names_whole_when_there_is_room_and_no_title_off_screen_at_640(
    data_dir: Path, width: int, height: int
) -> None:
    async with pane_env(data_dir) as env:
        here = env.target.url_for(env.number_id)
        env.sandbox.state.add_webhook(env.number_id, DEMO_NAME, here, ["*"])
        env.pane.refresh.click()
        await env.pane.settled()
        table = env.pane.table
        env.pane.resize(width, height)
        await _settle()
        assert table.horizontalScrollBar().maximum() == 0  # nothing pushed off to the right
        for col in range(len(COLUMNS)):
            hidden = table.isColumnHidden(col)
            assert hidden or _on_screen(table, col), COLUMNS[col]
            assert not hidden or col not in (NAME, URL_COLUMN, EVENTS_COLUMN), COLUMNS[col]
        # "all events (*)" readable at every size; the URL the widest, 40 % of the table at least.
        assert table.columnWidth(EVENTS_COLUMN) >= table.fontMetrics().horizontalAdvance("all events (*)")
        assert max(range(len(COLUMNS)), key=table.columnWidth) == URL_COLUMN
        assert table.columnWidth(URL_COLUMN) >= table.viewport().width() * 2 // 5
        if width == 1440:  # room for everything: every column but the URL whole
            for col in range(len(COLUMNS)):
                if col != URL_COLUMN:
                    assert not table.isColumnHidden(col) and _whole(table, col), (
                        COLUMNS[col],
                        table.columnWidth(col),
                        table.sizeHintForColumn(col),
                    )


async def test_subscribe_all_shows_number_account_and_webhook_whole(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        env.sandbox.state.add_webhook(env.number_id, DEMO_NAME, "https://old.example/hooks/x", ["*"])
        dialog = SubscribeAllDialog(env.pane, env.core.webhooks)
        dialog.show()
        dialog.resize(800, 460)  # the size it opens at on an 800 px screen
        dialog.load()
        await dialog.settled()
        await _settle()
        table = dialog.table
        assert table.rowCount() == 2
        for name in ("Number", "Account", "Webhook", "Action", "Subscribe"):
            col = SUBSCRIBE_COLUMNS.index(name)
            assert _on_screen(table, col) and _whole(table, col), (name, table.columnWidth(col))
        why = SUBSCRIBE_COLUMNS.index("Why")
        assert _on_screen(table, why) and table.columnWidth(why) >= 120
        dialog.close()


async def test_the_demo_editor_says_its_secret_note_once(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        env.core.webhooks.demo_secret = lambda hook_id: None  # the demo's console is there
        env.pane.new.click()
        editor = env.editor()
        said = " ".join(label.text() for label in editor.findChildren(QLabel) if label.isVisibleTo(editor))
        assert said.count("filled in for you") == 1
        editor.secret.setText("whsec_typed")  # typed: the note no longer applies, not said at all
        said = " ".join(label.text() for label in editor.findChildren(QLabel) if label.isVisibleTo(editor))
        assert "filled in for you" not in said and "Save stores this secret" in said
        editor.reject()

"""The Webhooks pane as a desk (issue 17, point 9 and its part of point 7), against the
real sandbox and the real receiver on the Qt loop: Enter saves the public URL, the table
follows Point all… as soon as it is applied, a webhook at this receiver's address with
another token is warned about (and really refused), the secret field says what Save will
do, unticking "All events" gives the picks back, text is readable, and the pane and its
dialogs fit a 640x420 window with the URLs and results in view."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QTableWidget, QWidget

from pilot_desktop.core.catalogue import ALL_EVENTS
from pilot_desktop.ui.panes.webhooks.hooks_table import COLUMNS, URL_COLUMN
from pilot_desktop.ui.panes.webhooks.retarget_dialog import COLUMNS as RETARGET_COLUMNS
from pilot_desktop.ui.panes.webhooks.retarget_dialog import RetargetDialog
from tests.gui.test_webhooks_pane import Env, create, pane_env
from tests.sandbox.conftest import body


def _url_cell(env: Env, name: str) -> str:
    row = next(i for i, h in enumerate(env.pane.webhooks) if h.name == name)
    item = env.pane.table.item(row, URL_COLUMN)
    assert item is not None
    return item.text()


async def _reload(env: Env) -> None:
    env.pane.refresh.click()
    await env.pane.settled()


# -- Enter saves the public URL ---------------------------------------------------------------
async def test_enter_in_the_public_url_saves_it(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        field = env.pane.public_url
        field.setText("https://New-Tunnel.example/")
        QTest.keyClick(field, Qt.Key.Key_Return)
        assert env.settings.public_url == "https://new-tunnel.example"  # saved, normalised
        assert field.text() == "https://new-tunnel.example"
        assert env.pane.url_strip.message.text() == "Saved."
        # A bad value and Enter: said, naming the field, and nothing written.
        field.setText("not a url")
        QTest.keyClick(field, Qt.Key.Key_Enter)
        assert "public_url" in env.pane.url_strip.message.text()
        assert env.settings.public_url == "https://new-tunnel.example"


# -- the table follows Point all… ---------------------------------------------------------------
async def test_the_table_shows_point_all_s_changes_as_soon_as_they_are_applied(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        number_id = env.number_id
        env.sandbox.state.add_webhook(
            number_id, "Old tunnel", f"https://old.example/hooks/{env.token}/{number_id}", ["*"]
        )
        await _reload(env)
        assert _url_cell(env, "Old tunnel").startswith("https://old.example")
        env.pane.accounts_row.point_all.click()
        await env.pane.settled()
        dialog = env.pane.dialog
        assert isinstance(dialog, RetargetDialog)
        dialog.apply_button.click()
        await env.pane.settled()
        assert dialog.isVisible()  # still open: the operator reads the results there
        # The table behind it already shows the webhook where the platform now has it.
        assert _url_cell(env, "Old tunnel").startswith("→ this app")
        assert env.target.url_for(number_id) in _url_cell(env, "Old tunnel")
        dialog.reject()
        await env.pane.settled()


# -- another token at this receiver's address ------------------------------------------------
async def test_a_webhook_at_this_address_with_another_token_is_warned_about(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        number_id = env.number_id
        stale = f"{env.settings.public_url}/hooks/tok_of_another_install/{number_id}"
        env.sandbox.state.add_webhook(number_id, "Stale", stale, ["message.received"])
        await create(env, "Mine", ["message.sent"])
        await _reload(env)
        # The receiver really refuses what the platform sends there.
        raw = body("message.received", number_id, "other-token")
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            assert (await client.post(stale, json=raw)).status_code == 404
        # The pane says so: in the row, in its tooltip, and in the strip (with the way out).
        assert "other token" in _url_cell(env, "Stale")
        assert "other token" not in _url_cell(env, "Mine")
        assert env.pane.strip.message.isVisibleTo(env.pane)
        said = env.pane.strip.message.text()
        assert "Stale" in said and "another token" in said and "404" in said and "Mine" not in said
        # The editor warns as the URL is typed, and is quiet once it is this app's.
        env.select("Stale")
        env.pane.edit.click()
        editor = env.editor()
        assert editor.url_warning.isVisibleTo(editor) and "another token" in editor.url_warning.text()
        use_here = next(
            b for b in editor.findChildren(type(env.pane.new)) if b.text() == "Use this app's URL"
        )
        use_here.click()
        assert not editor.url_warning.isVisibleTo(editor)
        editor.url.setText(stale.replace("https://", "HTTPS://"))  # compared as the receiver does
        assert editor.url_warning.isVisibleTo(editor)
        editor.reject()


# -- the secret field tells the truth ----------------------------------------------------------
async def test_the_secret_field_says_what_save_does(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        await create(env, "Signed", ["message.sent"], secret="whsec_signed")
        await create(env, "Plain", ["message.sent"])
        (signed,) = [h for h in env.hooks() if h.name == "Signed"]

        env.select("Plain")  # nothing stored: no "stored", no "keep"
        env.pane.edit.click()
        editor = env.editor()
        assert not editor.forget.isVisibleTo(editor)
        assert "stored ✓" not in editor.secret.placeholderText()
        assert "keep" not in editor.secret.placeholderText()
        shown = " ".join(label.text() for label in editor.findChildren(QLabel) if label.isVisibleTo(editor))
        assert "keep the stored" not in shown and "unverified" in shown
        editor.reject()

        env.select("Signed")
        env.pane.edit.click()
        editor = env.editor()
        assert "stored" in editor.secret.placeholderText() and editor.secret.isEnabled()
        editor.secret.setText("whsec_typed_then_forgotten")
        editor.forget.setChecked(True)
        # Forget wins, and the field shows it: nothing typed kept, nothing said to be kept.
        assert not editor.secret.isEnabled() and editor.secret.text() == ""
        assert "stored ✓" not in editor.secret.placeholderText()
        assert "forgotten" in editor.secret.placeholderText()
        assert editor.secret_plan() == "forget" and "forgets" in editor.secret_state.text()
        await env.save(editor)
        assert not env.signing.has(signed.id)
        assert env.signing.stored(env.number_id) == []

        # Unticking "forget" gives the field back; a secret typed is stored.
        env.select("Signed")
        env.pane.edit.click()
        editor = env.editor()
        assert not editor.forget.isVisibleTo(editor) and editor.secret_plan() == "none"
        editor.secret.setText("whsec_again")
        assert editor.secret_plan() == "store"
        await env.save(editor)
        assert env.signing.stored(env.number_id) == ["whsec_again"]


# -- unticking "All events" ---------------------------------------------------------------------
async def test_unticking_all_events_gives_the_previous_selection_back(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        await create(env, "Picked", ["message.sent", "message.failed"])
        env.select("Picked")
        env.pane.edit.click()
        editor = env.editor()
        editor.all_events.click()
        assert editor.events() == [ALL_EVENTS]
        # All events shown as what they are: every box ticked (greyed).
        assert all(box.isChecked() and not box.isEnabled() for box in editor.boxes.values())
        editor.all_events.click()
        assert editor.events() == ["message.sent", "message.failed"]  # the picks, back
        await env.save(editor)
        (hook,) = env.hooks()
        assert hook.events == ["message.sent", "message.failed"]

        # A new webhook (All by default): unticking keeps every event, never silently none.
        env.pane.new.click()
        editor = env.editor()
        editor.all_events.click()
        assert set(editor.events()) == set(editor.boxes)
        assert editor.events_warning.isHidden() or "no events" not in editor.events_warning.text().lower()
        editor.reject()


# -- readable contrast ----------------------------------------------------------------------------
MIN_CONTRAST = 4.5  # WCAG 2, body text


def _luminance(color: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _text_colour(label: QLabel) -> QColor:
    """The colour a label's text is drawn in: its style sheet's `color`, else its palette's."""
    found = re.search(r"(?:^|[;\s])color:\s*([^;]+)", label.styleSheet())
    if found is None:
        return label.palette().color(QPalette.ColorRole.WindowText)
    value = found.group(1).strip()
    role = re.fullmatch(r"palette\((\w+)\)", value)
    if role is not None:
        name = role.group(1).replace("-", " ").title().replace(" ", "")
        return label.palette().color(getattr(QPalette.ColorRole, name))
    return QColor(value)


def _unreadable(root: QWidget) -> list[str]:
    window = root.palette().color(QPalette.ColorRole.Window)
    return [
        f"{label.text()[:40]!r}: {contrast(_text_colour(label), window):.1f}"
        for label in root.findChildren(QLabel)
        if label.text()
        and label.isEnabled()
        and "background" not in label.styleSheet()
        and contrast(_text_colour(label), window) < MIN_CONTRAST
    ]


def _unreadable_cells(table: QTableWidget) -> list[str]:
    base = table.palette().color(QPalette.ColorRole.Base)
    bad = []
    for row in range(table.rowCount()):
        for col in range(table.columnCount()):
            item = table.item(row, col)
            if item is None or item.foreground().style() == Qt.BrushStyle.NoBrush:
                continue
            ratio = contrast(item.foreground().color(), base)
            if ratio < MIN_CONTRAST:
                bad.append(f"{item.text()[:30]!r}: {ratio:.1f}")
    return bad


async def test_text_in_the_pane_and_the_editor_is_readable(data_dir: Path) -> None:
    async with pane_env(data_dir) as env:
        await create(env, "Paused", ["message.sent"])
        env.select("Paused")
        env.pane.pause.click()
        await env.pane.settled()
        assert _unreadable(env.pane) == []
        assert _unreadable_cells(env.pane.table) == []
        env.pane.new.click()
        editor = env.editor()
        assert _unreadable(editor) == []
        editor.reject()


# -- layout: 640x420 to large ---------------------------------------------------------------------
async def _settle_layout() -> None:
    """Let the Qt loop lay the widgets out (never a nested processEvents on the qasync loop)."""
    for _ in range(3):
        await asyncio.sleep(0.02)


def _column_in_view(table: QTableWidget, col: int) -> bool:
    left = table.columnViewportPosition(col)
    return left >= 0 and left + table.columnWidth(col) <= table.viewport().width()


async def test_the_pane_and_point_all_fit_a_small_window_with_urls_and_results_in_view(
    data_dir: Path,
) -> None:
    async with pane_env(data_dir) as env:
        number_id = env.number_id
        long_path = "/integrations/pilot-status/incoming/" + "x" * 80
        env.sandbox.state.add_webhook(number_id, "CRM", f"https://crm.example.com{long_path}", ["*"])
        many = ["message.sent", "message.delivered", "message.read", "message.failed", "message.received"]
        await create(env, "Many events", many)
        for width, height in ((640, 420), (1024, 700), (1440, 900)):
            env.pane.resize(width, height)
            await _settle_layout()
            assert env.pane.minimumSizeHint().width() <= 640
            table = env.pane.table
            assert _column_in_view(table, URL_COLUMN), (width, table.columnViewportPosition(URL_COLUMN))
            assert table.columnWidth(URL_COLUMN) >= min(220, table.viewport().width() * 2 // 5)
            if width >= 1024:  # every column on screen, the URL with the most room
                assert all(_column_in_view(table, c) for c in range(len(COLUMNS))), width
                widest = max(range(len(COLUMNS)), key=table.columnWidth)
                assert widest == URL_COLUMN and table.columnWidth(URL_COLUMN) >= 300, width
        # Each cell's whole text is in its tooltip (one elision rule: the end, "…").
        row = next(i for i, h in enumerate(env.pane.webhooks) if h.name == "Many events")
        events_item = env.pane.table.item(row, COLUMNS.index("Events"))
        assert events_item is not None and events_item.toolTip().split("\n") == many
        assert env.pane.table.textElideMode() == Qt.TextElideMode.ElideRight

        env.pane.resize(640, 420)
        await _settle_layout()
        env.pane.accounts_row.point_all.click()
        await env.pane.settled()
        dialog = env.pane.dialog
        assert isinstance(dialog, RetargetDialog)
        await _settle_layout()
        assert dialog.width() <= 640 and dialog.height() <= 420  # no larger than its window
        result = RETARGET_COLUMNS.index("Result")
        assert _column_in_view(dialog.table, result) and _column_in_view(dialog.table, 0)
        dialog.apply_button.click()
        await env.pane.settled()
        crm = next(r for r, c in enumerate(dialog.changes) if c.webhook.name == "CRM")
        assert _column_in_view(dialog.table, result)
        cell = dialog.table.item(crm, result)
        assert cell is not None and cell.text() == ""  # unticked: left alone
        dialog.reject()
        await env.pane.settled()

        env.pane.new.click()
        editor = env.editor()
        await _settle_layout()
        assert editor.width() <= 640 and editor.height() <= 420
        save = editor.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save.isVisibleTo(editor)
        corner = save.mapTo(editor, save.rect().bottomRight())
        assert editor.rect().contains(corner)  # the Save button is on screen, not cut
        editor.reject()

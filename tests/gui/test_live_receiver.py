"""Live's hints target this app's own receiver only while it listens (issue 17, point 4),
and ui.live_tail_rows applies at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from pilot_desktop.ui.panes.live.model import COLUMNS
from tests.gui.support import until
from tests.gui.test_live import message, running_app


async def test_no_curl_at_a_port_another_program_holds(data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    async with running_app(other) as first:  # another program listening on the port
        port = first.runtime.bound[1] if first.runtime.bound else 0
        async with running_app(data_dir, port=port) as second:
            hint = second.live.empty_hint
            assert hint.isVisibleTo(second.window)
            await until(lambda: "not listening" in hint.text())
            assert "curl" not in hint.text() and f"http://127.0.0.1:{port}" not in hint.text()
            assert "in use" in hint.text() or "used by another program" in hint.text()
        # This app's receiver listening: the hint's curl targets it.
        assert f"curl -X POST {first.runtime.hook_url}" in first.live.empty_hint.text()


async def test_set_receiver_switches_the_hint_and_copy_as_curl(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        live, url = app.live, app.runtime.hook_url
        live.set_receiver(None, "Cannot listen on 127.0.0.1:8787: address in use")
        assert "curl" not in live.empty_hint.text()
        assert "address in use" in live.empty_hint.text()
        await app.post(message(1))  # the pane does not read the receiver: a stored row shows
        await until(lambda: live.model.rowCount() == 1)
        live.table.selectRow(0)
        assert live.detail.copy_json.isEnabled() and not live.detail.copy_curl.isEnabled()
        live.set_receiver(url, None)
        assert live.detail.copy_curl.isEnabled()
        live.detail.copy_curl.click()
        from PySide6.QtGui import QGuiApplication

        assert url in QGuiApplication.clipboard().text()


async def test_tail_rows_apply_at_once(data_dir: Path, qtmodeltester: Any) -> None:
    async with running_app(data_dir) as app:
        live = app.live
        for i in range(130):
            await app.post(message(i))
        await until(lambda: live.model.rowCount() == 130)
        assert len(live.model._cache) == 130  # the live tail is kept built
        live.set_tail_rows(100)
        assert len(live.model._cache) == 100  # trimmed now, not at the next start
        col = COLUMNS.index("Summary")
        assert "hello 0" in live.model.data(live.model.index(0, col), Qt.ItemDataRole.DisplayRole)
        assert len(live.model._cache) <= 100
        qtmodeltester.check(live.model)

"""Live never looks healthy while deliveries are refused or nothing could be received:
refused deliveries are rows among the events, gaps are bands, reconstructed steps say so.

Real receiver, real writer process and SQLite file, the real window on the qasync loop.
Refusals and gaps are recorded through the writer as the receiver and the gap recorder do.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from pilot_desktop.core.events import classify
from pilot_desktop.core.signature import Verdict
from pilot_desktop.store.records import Gap, GapMark, IncomingEvent, Rejection
from pilot_desktop.ui.panes.live.cells import BAND, COLUMNS, RECONSTRUCTED_TIP, gap_text
from tests.gui.support import until
from tests.gui.test_live import App, message, running_app

HINT = "The body was signed with a different secret: copy the webhook's signing secret again."


def refusal(at: float, status: int = 401, number: str | None = "num_A", **kw: Any) -> Rejection:
    diagnosis = {
        "header_present": True,
        "received_prefix": "9f86d081",
        "tried": [{"index": 0, "fingerprint": "a1b2c3d4", "computed_prefix": "60303ae2"}],
        "re_encoded": False,
        "signed_form": None,
        "verdict": "signed with a different secret",
        "hint": HINT,
    }
    fields: dict[str, Any] = {
        "received_at": at,
        "status": status,
        "reason": "signature does not match",
        "method": "POST",
        "path": "/hooks/{token}/num_A",  # this receiver's token (record fills it in)
        "remote": "127.0.0.1",
        "headers": [("content-type", "application/json"), ("x-pilot-status-signature", "sha256=9f86d081")],
        "body": b'{"event": "message.received"}',
        "body_size": 29,
        "route": "num_A",
        "number_id": number,
        "delivery": True,
        "diagnosis": json.dumps(diagnosis),
    }
    fields.update(kw)
    return Rejection(**fields)


def token(app: App) -> str:
    return app.runtime.hook_url.rsplit("/", 1)[-1]


async def record(app: App, item: Rejection | GapMark | IncomingEvent) -> Any:
    writer = app.runtime.writer
    assert writer is not None
    if isinstance(item, Rejection):
        item = replace(item, path=item.path.replace("{token}", token(app)))
    return await writer.submit(item)


def column(app: App, name: str) -> list[Any]:
    return [app.cell(r, name) for r in range(app.live.model.rowCount())]


async def test_refused_rows_sit_among_events_by_time_and_the_filter_hides_them(
    data_dir: Path, qtmodeltester: Any
) -> None:
    async with running_app(data_dir) as app:
        await app.post(message(1))
        await until(lambda: app.live.model.rowCount() == 1)
        first = app.live.model.row_at(0)
        assert first is not None
        await record(app, refusal(time.time()))
        await app.post(message(2))
        # recorded last, but received before the first event: it goes above it, live
        await record(app, refusal(first.received_at - 1.0, status=404, reason="unknown token", number=None))
        await until(lambda: app.live.model.rowCount() == 4)
        assert column(app, "Event") == [
            "⊘ refused 404",
            "message.received",
            "⊘ refused 401",
            "message.received",
        ]
        assert "signature does not match" in app.cell(2, "Summary") and HINT in app.cell(2, "Summary")
        assert app.cell(2, "Number") == "num_A"
        assert app.cell(0, "Number") == "num_A"  # no number named: the route it was sent to
        model = app.live.model
        assert model.data(model.index(2, COLUMNS.index("Event")), Qt.ItemDataRole.ForegroundRole) is not None
        assert "1 refused" not in app.live.count_label.text()
        assert "2 events · 2 refused" in app.live.count_label.text()
        qtmodeltester.check(model, force_py=True)

        app.live.show_combo.setCurrentIndex(1)  # deliveries only
        await app.live.load()
        assert column(app, "Event") == ["message.received", "message.received"]
        app.live.show_combo.setCurrentIndex(2)  # refusals only
        await app.live.load()
        assert column(app, "Event") == ["⊘ refused 404", "⊘ refused 401"]
        app.live.show_combo.setCurrentIndex(0)  # both again: read from the store, same order
        await app.live.load()
        assert column(app, "Event") == [
            "⊘ refused 404",
            "message.received",
            "⊘ refused 401",
            "message.received",
        ]

        # Selecting a refused row says why in the detail area; double-click opens the Refused view.
        app.live.table.selectRow(2)
        assert "⊘ 401" in app.live.detail.title.text()
        assert "/hooks/&lt;token&gt;/num_A" in app.live.detail.title.text()
        assert token(app) not in app.live.detail.title.text()
        assert HINT in app.live.detail.info.toPlainText()
        assert "Secret #0" in app.live.detail.info.toPlainText()
        app.live.table.doubleClicked.emit(model.index(2, 0))
        refused = app.window.refused
        assert refused is not None and app.window.tabs.currentWidget() is refused
        await until(lambda: refused._selected_id() is not None)
        assert refused.model.rows[refused.table.currentIndex().row()].status == 401


async def test_gap_band_sits_at_its_time_and_follows_the_gap_to_its_catch_up(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(message(1))
        await app.post(message(2))
        await until(lambda: app.live.model.rowCount() == 2)
        e1, e2 = app.live.model.row_at(0), app.live.model.row_at(1)
        assert e1 is not None and e2 is not None
        start = (e1.received_at + e2.received_at) / 2
        gap_id = await record(
            app, GapMark(kind="not_running", started_at=start, reason="Pilot Desktop was not running.")
        )
        await until(lambda: app.live.model.rowCount() == 3)
        band = app.cell(1, "Time")
        assert "still not receiving" in band and "Pilot Desktop was not running" in band, band
        assert app.live.table.columnSpan(1, 0) == len(COLUMNS)
        model = app.live.model
        assert model.data(model.index(1, 0), Qt.ItemDataRole.BackgroundRole) == BAND
        assert app.live.model.event_id(1) is None

        await record(app, GapMark(gap_id=gap_id, ended_at=start + 449.0))
        await until(lambda: "→" in app.cell(1, "Time"))
        assert "(7 min 29 s) — Pilot Desktop was not running" in app.cell(1, "Time")
        caught = json.dumps({"messages_restored": 5, "steps": 12})
        await record(app, GapMark(gap_id=gap_id, caught_up_at=start + 460.0, catch_up=caught))
        await until(lambda: "caught up: 12 steps of 5 messages restored from the API" in app.cell(1, "Time"))
        # A new event goes after the band; the band keeps its place and its span.
        await app.post(message(3))
        await until(lambda: app.live.model.rowCount() == 4)
        assert app.live.model.event_id(1) is None and app.live.table.columnSpan(1, 0) == len(COLUMNS)
        assert app.cell(3, "Summary") == "hello 3"
        app.live.table.selectRow(1)
        assert "caught up" in app.live.detail.title.text()


def test_gap_text_reads_as_a_sentence() -> None:
    day = time.mktime((2026, 11, 24, 17, 2, 11, 0, 0, -1))
    ended = Gap(
        1,
        "not_running",
        day,
        day + 449,
        "Pilot Desktop was not running.",
        day + 460,
        {"messages_restored": 5, "steps": 12},
    )
    assert gap_text(ended, now=day + 500) == (
        "Not receiving 17:02:11 → 17:09:40 (7 min 29 s) — Pilot Desktop was not running · "
        "caught up: 12 steps of 5 messages restored from the API"
    )
    still = Gap(2, "receiver_stopped", day, None, "")
    assert gap_text(still, now=day + 120) == (
        "Not receiving since 17:02:11 (2 min), still not receiving — the receiver was stopped"
    )


async def test_empty_live_says_deliveries_are_refused_and_opens_refused(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        assert "Waiting for the first webhook" in app.live.empty_hint.text()
        now = time.time()
        for i in range(3):
            await record(app, refusal(now + i * 0.001, status=404, reason="unknown token"))
        await until(lambda: "3 deliveries were refused in the last 5 minutes" in app.live.empty_hint.text())
        text = app.live.empty_hint.text()
        assert "No webhook stored yet" in text
        assert "Waiting for the first webhook" not in text
        assert app.live.empty_hint.isVisibleTo(app.window)
        assert "0 events · 3 refused" in app.live.count_label.text()
        app.live.empty_hint.linkActivated.emit("refused")
        assert app.window.tabs.currentWidget() is app.window.refused


async def test_reconstructed_steps_say_they_came_from_the_api(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        body = json.dumps(message(7, "message.delivered")).encode()
        verdict = Verdict("reconstructed", reason="read back from GET /v1/messages/msg_7")
        await record(app, IncomingEvent(time.time(), None, [], body, classify(json.loads(body)), verdict))
        await until(lambda: app.live.model.rowCount() == 1)
        assert app.cell(0, "Signature") == "↺ from API"
        model = app.live.model
        tip = model.data(model.index(0, COLUMNS.index("Signature")), Qt.ItemDataRole.ToolTipRole)
        assert tip == RECONSTRUCTED_TIP
        app.live.table.selectRow(0)
        assert "reconstructed from the REST API" in app.live.detail.title.text()


async def test_wrong_token_deliveries_are_refused_rows_and_the_empty_state_says_so(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        other = app.runtime.hook_url.rsplit("/", 1)[0] + "/another-install-token-0123456789"
        for _ in range(3):
            async with app.session.post(other, data=json.dumps(message(1)).encode()) as resp:
                assert resp.status == 404
        await until(lambda: app.live.model.rowCount() == 3)
        assert column(app, "Event") == ["⊘ refused 404"] * 3
        await until(lambda: "3 deliveries were refused in the last 5 minutes" in app.live.empty_hint.text())
        assert "Waiting for the first webhook" not in app.live.empty_hint.text()
        app.live.table.selectRow(0)
        assert "another-install" not in app.live.detail.title.text()  # masked: its first characters


async def test_a_restart_leaves_a_band_where_nothing_was_received(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        await app.post(message(1))
        await until(lambda: app.live.model.rowCount() == 1)
    async with running_app(data_dir) as again:
        await again.post(message(2))
        await until(lambda: again.live.model.rowCount() == 3)
        assert again.cell(0, "Summary") == "hello 1" and again.cell(2, "Summary") == "hello 2"
        band = again.cell(1, "Time")
        assert band.startswith("‖  Not receiving ") and "Pilot Desktop was not running" in band, band
        assert again.live.table.columnSpan(1, 0) == len(COLUMNS)

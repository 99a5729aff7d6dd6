"""The timeline's marks, on a real store written by the real writer: a step reconstructed
from the API reads as such (never as a delivered webhook) and shows once when its webhook
comes too; a gap over the message's span is a band on the axis and a sentence; a message
whose content was not retained says so."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pilot_desktop.core.events import classify
from pilot_desktop.core.format import clock, iso
from pilot_desktop.core.lifecycle import observe
from pilot_desktop.core.signature import Verdict, verify
from pilot_desktop.store.db import open_store
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import GapMark, IncomingEvent
from pilot_desktop.store.writer import Writer
from pilot_desktop.ui.app import make_app
from pilot_desktop.ui.panes.messages.timeline import TimelineDialog
from tests.gui.support import until

MSG = "msg_marks_1"


def status_body(event: str, at: float, content: str = "hello") -> dict[str, Any]:
    return {
        "event": event,
        "data": {
            "numberId": "num_marks",
            "id": MSG,
            "messageId": "wamid.marks1",
            "correlationId": "corr_marks_1",
            "type": "text",
            "fromMe": True,
            "createdAt": iso(at),
            "from": "+5511900000001",
            "to": "+5511988887777",
            "content": content,
        },
    }


def webhook(obj: dict[str, Any]) -> IncomingEvent:
    raw = json.dumps(obj).encode()
    return IncomingEvent(time.time(), None, [], raw, classify(obj), verify(raw, None, []), observe(obj))


def reconstructed(obj: dict[str, Any], read_at: float) -> IncomingEvent:
    """What the catch-up stores for a step read back from the API (services/reconstruct.py)."""
    source = f"GET /v1/messages/{MSG}"
    obj = {**obj, "reconstructed": {"source": source, "at": iso(read_at)}}
    raw = json.dumps(obj).encode()
    headers = [("x-pilot-desktop-reconstructed", f"{source} at {iso(read_at)}")]
    return IncomingEvent(read_at, None, headers, raw, classify(obj), Verdict("reconstructed"), observe(obj))


@asynccontextmanager
async def timeline(tmp_path: Path) -> AsyncIterator[tuple[Writer, Reads, TimelineDialog]]:
    """A real store and writer (in a thread), and a timeline dialog following its changes."""
    make_app()
    db = open_store(tmp_path)
    writer = Writer(db, asyncio.get_running_loop(), process=False)
    writer.start()
    reads = Reads(db, writer)
    dialog = TimelineDialog(reads)
    reads.subscribe(dialog.note_changes)
    dialog.resize(1200, 800)
    try:
        yield writer, reads, dialog
    finally:
        dialog.close()
        reads.close()
        await writer.stop()


def show(reads: Reads, dialog: TimelineDialog) -> None:
    found = reads.resolve_message(MSG)
    assert found is not None
    dialog.show_message(found[0])
    dialog.grab()  # paint once: the bands are laid out with the axis


async def test_a_reconstructed_step_reads_as_such_and_shows_once_when_its_webhook_comes(
    tmp_path: Path,
) -> None:
    async with timeline(tmp_path) as (writer, reads, dialog):
        t0 = time.time() - 900
        await writer.submit(webhook(status_body("message.sent", t0)))
        await writer.submit(reconstructed(status_body("message.delivered", t0 + 120), t0 + 430))
        show(reads, dialog)

        assert [dialog.steps.item(r, 0).text() for r in range(dialog.steps.rowCount())] == [
            "Sent", "Delivered (API)", "Read",
        ]  # fmt: skip
        note = dialog.steps.item(1, 5).text()
        assert note == f"reconstructed from the API (GET /v1/messages/{MSG}, at {clock(t0 + 430)})"
        assert dialog.steps.item(1, 0).font().italic() and not dialog.steps.item(0, 0).font().italic()
        assert dialog.steps.item(1, 3).text() == "(read back from the API)"
        assert [p.reconstructed for p in dialog.axis.points] == [False, True, False]
        assert dialog.axis.points[1].note == "from the API"
        dialog.select_step(1)
        assert "not a delivered webhook" in dialog.payload.toPlainText().splitlines()[0]

        # Its webhook comes after all, the same event: a redelivery of the reconstructed one.
        await writer.submit(webhook(status_body("message.delivered", t0 + 120)))

        def note_of_delivered() -> str:
            dialog.flush()
            return dialog.steps.item(1, 5).text()

        await until(lambda: "its webhook came too" in note_of_delivered())
        assert dialog.steps.item(1, 0).text() == "Delivered (API)" and dialog.steps.item(1, 4).text() == "×2"
        # Or another event for the same status (another createdAt): one Delivered, the webhook's.
        await writer.submit(webhook(status_body("message.delivered", t0 + 121)))

        def delivered_rows() -> list[str]:
            dialog.flush()
            rows = [dialog.steps.item(r, 0).text() for r in range(dialog.steps.rowCount())]
            return [r for r in rows if r.startswith("Delivered")]

        await until(lambda: delivered_rows() == ["Delivered"])
        assert not any(p.reconstructed for p in dialog.axis.points)
        assert "shown once" in dialog.hints.text()


async def test_a_gap_over_the_message_is_a_band_on_the_axis_and_a_sentence(tmp_path: Path) -> None:
    async with timeline(tmp_path) as (writer, reads, dialog):
        t0 = time.time() - 900
        await writer.submit(webhook(status_body("message.sent", t0)))
        gap = await writer.submit(
            GapMark(kind="not_running", started_at=t0 + 60, reason="the app was not running")
        )
        assert isinstance(gap, int)
        await writer.submit(GapMark(gap_id=gap, ended_at=t0 + 420))
        await writer.submit(webhook(status_body("message.delivered", t0 + 600)))
        # A gap long before the message is not its business.
        old = await writer.submit(GapMark(kind="not_running", started_at=t0 - 7200, reason="earlier"))
        await writer.submit(GapMark(gap_id=old, ended_at=t0 - 3600))
        show(reads, dialog)

        [(rect, band)] = dialog.axis.band_rects()
        sent_x, delivered_x, _ = dialog.axis._xs
        assert sent_x < rect.left() < rect.right() < delivered_x  # within sent → delivered
        assert "the app was not running" in band.tip and "6 min" in band.tip
        assert dialog.gap_notes.isVisible()
        text = dialog.gap_notes.text()
        assert text.startswith("Not receiving ") and "the app was not running" in text
        assert "earlier" not in text and "not caught up from the API yet" in text


async def test_a_message_without_content_says_content_not_retained(tmp_path: Path) -> None:
    async with timeline(tmp_path) as (writer, reads, dialog):
        await writer.submit(webhook(status_body("message.sent", time.time() - 5, content="")))
        show(reads, dialog)
        assert "content not retained" in dialog.info.text()
        assert not dialog.gap_notes.isVisible() and not dialog.axis.bands

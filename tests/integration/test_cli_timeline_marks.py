"""`pilot-desktop timeline` says which steps were read back from the API after a gap and
which gaps lie over the message: a terminal user must not take them for webhooks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from pilot_desktop.core.format import cli_time
from pilot_desktop.store.db import open_store
from pilot_desktop.store.records import GapMark
from pilot_desktop.store.writer import Writer
from tests.gui.test_timeline_marks import reconstructed, status_body, webhook
from tests.integration.serving import cli


async def _store(folder: Path, now: float) -> None:
    writer = Writer(open_store(folder), asyncio.get_running_loop(), process=False)
    writer.start()
    try:
        await writer.submit(webhook(status_body("message.sent", now - 600)))
        await writer.submit(reconstructed(status_body("message.delivered", now - 300), now - 60))
        gap = await writer.submit(
            GapMark(
                kind="not_running",
                started_at=now - 400,
                ended_at=now - 120,
                reason="Pilot Desktop was not running.",
            )
        )
        await writer.submit(
            GapMark(gap_id=gap, caught_up_at=now - 60, catch_up='{"summary": "1 step restored"}')
        )
    finally:
        await writer.stop()


def test_timeline_marks_reconstructed_steps_and_gaps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # a terminal wide enough for the notes (tables fit the width)
    now = time.time()
    asyncio.run(_store(tmp_path, now))
    res = cli("timeline", "msg_marks_1", "--data-dir", tmp_path)
    assert res.returncode == 0, res.stderr
    [delivered] = [line for line in res.stdout.splitlines() if line.strip().startswith("DELIVERED")]
    assert "reconstructed from the API (GET /v1/messages/msg_marks_1, at " in delivered
    [sent] = [line for line in res.stdout.splitlines() if line.strip().startswith("SENT")]
    assert "reconstructed" not in sent  # the webhook stays a webhook
    assert "Gaps over this message (1)" in res.stdout
    gap_line = f"{cli_time(now - 400)} → {cli_time(now - 120)}: Pilot Desktop was not running; caught up"
    assert gap_line in res.stdout and "1 step restored" in res.stdout

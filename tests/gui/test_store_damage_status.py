"""The status bar says when the store was found damaged: red "Not storing" with the reason,
not a green "Listening" while every webhook is answered 503."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.gui.support import until
from tests.gui.test_live import message, running_app


async def test_status_bar_says_the_store_is_damaged(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        status = app.window.status
        await app.post(message(1))
        await until(lambda: status.receiver_label.text().startswith("● Listening"))
        db = app.runtime.db_path
        assert db is not None
        os.unlink(f"{db}-wal")  # removed under the running writer: what it writes is lost
        async with app.session.post(app.runtime.hook_url, data=json.dumps(message(2)).encode()) as resp:
            assert resp.status == 503, await resp.text()
        await until(lambda: status.receiver_label.text() == "● Not storing", seconds=10)
        tip = status.receiver_label.toolTip()
        assert "damaged" in tip and "removed or replaced" in tip and "answered 503" in tip, tip

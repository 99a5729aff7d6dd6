"""The Refused tab: every refused request, newest first, and why, laid out for a person.

Real receiver, writer process and SQLite file, the real window on the qasync loop.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pilot_desktop.ui.panes.refused.model import COLUMNS
from pilot_desktop.ui.panes.refused.pane import RefusedPane
from tests.gui.support import until
from tests.gui.test_live import App, running_app
from tests.gui.test_live_refused_gaps import HINT, record, refusal, token


def refused_of(app: App) -> RefusedPane:
    pane = app.window.refused
    assert pane is not None
    return pane


def cells(pane: RefusedPane, column: str) -> list[str]:
    model = pane.model
    return [model.data(model.index(r, COLUMNS.index(column))) for r in range(model.rowCount())]


async def test_a_signature_refusal_shows_its_diagnosis_and_hint(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        pane = refused_of(app)
        app.window.open_refused()
        await pane.settled()
        assert pane.empty_hint.isVisibleTo(app.window)
        assert "No refused requests" in pane.empty_hint.text()

        now = time.time()
        body = b'{"event": "message.received", "data": {"text": "\x1b[31mred\x1b[0m"}}'
        await record(app, refusal(now - 2, body=body, body_size=len(body) + 4000))
        await record(
            app,
            refusal(
                now - 1,
                status=404,
                reason="unknown token",
                diagnosis=None,
                route=None,
                number_id=None,
                path="/hooks/0ther-install-token-0123456789",
            ),
        )
        await until(lambda: pane.model.rowCount() == 2)
        assert cells(pane, "Status") == ["404", "401"]  # newest first
        assert not pane.empty_hint.isVisibleTo(app.window)
        assert HINT in cells(pane, "Reason")[1]
        assert cells(pane, "Route")[1] == "num_A" and cells(pane, "Number")[1] == "num_A"

        ident = pane.model.rows[1].id
        app.window.open_refused(ident)
        await until(lambda: pane._selected_id() == ident)
        why = pane.detail.why.toHtml()
        plain = pane.detail.why.toPlainText()
        assert "Signature header" in plain and "present" in plain
        assert "Received digest" in plain and "9f86d081…" in plain
        assert "Secret #0" in plain and "fingerprint a1b2c3d4 computes 60303ae2…" in plain
        assert "Body re-encoded" in plain
        assert HINT in plain and "font-weight:700" in why.split(HINT)[0].rsplit("<span", 1)[-1]
        title = pane.detail.title.text()
        assert "401" in title and "/hooks/&lt;token&gt;/num_A" in title and token(app) not in title
        assert "x-pilot-status-signature: sha256=9f86d081" in pane.detail.headers.toPlainText()
        preview = pane.detail.preview.toPlainText()
        assert "\\x1b[31mred" in preview and "\x1b" not in preview  # terminal-safe
        assert f"the first {len(body):,} of {len(body) + 4000:,} bytes" in preview

        # The wrong token of another install: masked too, with what to do.
        app.window.open_refused(pane.model.rows[0].id)
        await until(lambda: pane._selected_id() == pane.model.rows[0].id)
        assert "0ther-install" not in pane.detail.title.text()
        assert "/hooks/0the…" in pane.detail.title.text()
        assert "Copy this app's webhook URL" in pane.detail.why.toPlainText()


async def test_period_deliveries_only_and_live_updates(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        pane = refused_of(app)
        now = time.time()
        await record(app, refusal(now - 2 * 86400, reason="two days ago"))
        await record(
            app,
            refusal(
                now - 5,
                status=404,
                reason="scanner",
                delivery=False,
                method="GET",
                path="/wp-login.php",
                diagnosis=None,
            ),
        )
        app.window.open_refused()
        await pane.settled()
        await until(lambda: pane.model.rowCount() == 0 and pane.count_label.text() == "0 refused deliveries")
        assert "in the last 24 hours" in pane.empty_hint.text()
        pane.deliveries_box.setChecked(False)
        await until(lambda: cells(pane, "Reason") == ["scanner"])
        assert cells(pane, "Route") == ["GET /wp-login.php"]
        pane.period_combo.setCurrentIndex(2)  # all kept
        await until(
            lambda: (
                cells(pane, "Reason") == ["scanner", "signed with a different secret: two days ago — " + HINT]
            )
        )

        # While the tab is shown, a new refusal appears at the top.
        await record(app, refusal(time.time(), status=413, reason="body too large", diagnosis=None))
        await until(lambda: pane.model.rowCount() == 3)
        assert cells(pane, "Status")[0] == "413"


async def test_a_wrong_token_post_is_listed(data_dir: Path) -> None:
    async with running_app(data_dir) as app:
        pane = refused_of(app)
        pane.deliveries_box.setChecked(False)  # whatever the receiver calls it, it is listed
        app.window.open_refused()
        base = app.runtime.hook_url.rsplit("/", 1)[0]
        async with app.session.post(f"{base}/not-this-install", data=json.dumps({"event": "x"})) as resp:
            assert resp.status == 404
        await until(lambda: pane.model.rowCount() == 1)
        assert cells(pane, "Status") == ["404"]
        pane.table.selectRow(0)
        assert "not-this-install" not in pane.detail.title.text()

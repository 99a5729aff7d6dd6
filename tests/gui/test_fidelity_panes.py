"""Payload fidelity in the window (issue 15): a message without content reads "content not
retained", a failure reason given as `errorMessage` (C7) is the reason shown, a reply shows
the text it quotes (`contentReplied`), and the event picker offers Meta's raw `calls`.
Real bodies go through the in-process receiver into a temp store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel

from pilot_desktop.ui.panes.webhooks.editor import Edit, WebhookEditor
from tests.gui.support import until
from tests.gui.test_messages_pane import inbound, outbound, running_app


async def test_a_message_without_content_reads_content_not_retained(data_dir: Path) -> None:
    sent = outbound("message.sent", 1, 0)
    del sent["data"]["content"]  # a PII mode (api §2.8): ids and statuses, no content
    received = inbound(2, 30)
    received["data"]["content"] = ""
    async with running_app(data_dir) as app:
        await app.post(sent, received)
        await until(lambda: app.pane.model.rowCount() == 2)
        assert app.texts() == ["content not retained", "content not retained"]


async def test_the_reason_given_as_error_message_is_the_failure_reason(data_dir: Path) -> None:
    failed = outbound(
        "message.failed", 1, 60, errorCode="META_OUTSIDE_24H_WINDOW", errorMessage="Window closed"
    )
    async with running_app(data_dir) as app:
        await app.post(outbound("message.sent", 1, 0), failed)
        await until(lambda: app.pane.model.rowCount() == 1 and app.cell(0, "Status") != "Sent")
        dialog = app.pane.open_timeline(app.pane.model.ids()[0])
        assert dialog.failure.reason.text() == "Window closed"


async def test_a_reply_shows_the_text_it_quotes(data_dir: Path) -> None:
    reply: dict[str, Any] = inbound(7, 30, quoted="wamid.9")
    reply["data"]["contentReplied"] = "Your order #48213 is on its way"
    async with running_app(data_dir) as app:
        await app.post(reply)  # the quoted message is not in the store
        await until(lambda: app.pane.model.rowCount() == 1)
        dialog = app.pane.open_timeline(app.pane.model.ids()[0])
        body = dialog.reply_thread.body.text()
        assert "not in the stored history" in body and "Your order #48213 is on its way" in body
        await app.post(outbound("message.sent", 9, 0))  # now it is: the link, and the quote
        await until(lambda: "msg:" in dialog.reply_thread.body.text())
        assert "Your order #48213 is on its way" in dialog.reply_thread.body.text()


async def test_the_picker_offers_metas_raw_calls_envelope(qtbot: Any, tmp_path: Path) -> None:
    async def save(_: Edit) -> None:
        return None

    editor = WebhookEditor(None, title="New webhook", number_label="Loja", default_url=None,
                           save=save, store_name="memory")  # fmt: skip
    qtbot.addWidget(editor)
    box = editor.boxes["calls"]
    assert "raw Meta" in box.text()
    hint = editor.findChild(QLabel, "hint:calls")
    assert hint is not None and "Meta's own shape" in hint.text()
    editor.all_events.setChecked(False)  # a new webhook: every box stays ticked (nothing picked before)
    for other in editor.boxes.values():
        other.setChecked(other is box)
    assert editor.edit().events == ["calls"]
    assert not editor.events_warning.isVisible()  # a known name: no "typo?" warning
    editor.resize(720, 760)
    editor.grab().save(str(tmp_path / "picker.png"))

"""Send and watch from the window, against the real sandbox and the real core on the Qt loop:
the Send test message action, the dialog's checks, the 202's ids, and the timeline that
waits for the message's first webhook and then fills as the sandbox delivers its steps
(compared with the sandbox's own record). A send whose every answer was lost, sent again
from the dialog, is one message (the same Idempotency-Key)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pilot_desktop.api.client import PilotClient
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.core import AppCore
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.panes.messages import timeline_windows
from pilot_desktop.ui.send_dialog import SendDialog
from tests.gui.support import close_app, memory_core, open_window, until
from tests.integration.test_send_watch import SEED, reading_contact

SEND = "/v1/messages/send"


@dataclass
class Env:
    window: MainWindow
    core: AppCore
    sandbox: Sandbox

    def dialog(self) -> SendDialog:
        dialog = self.window.open_send()
        assert dialog is not None and dialog.isVisible()
        return dialog


@asynccontextmanager
async def send_env(data_dir: Path) -> AsyncIterator[Env]:
    core = memory_core(data_dir)
    window = await open_window(core)
    sandbox = Sandbox(seed=SEED, numbers=2, rate=0.0, time_scale=0.0)
    await sandbox.start()
    try:
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
        number = sandbox.numbers[0].id
        # The receiver's own URL (no tunnel on loopback), every event of the first number.
        async with PilotClient(sandbox.tenant_key, base_url=sandbox.base_url, number_id=number) as api:
            await api.create_webhook(core.hook_url, ["*"])
        window.resize(1000, 700)
        window.show()
        yield Env(window, core, sandbox)
    finally:
        if window.send_dialog is not None:
            await window.send_dialog.settled()
        await sandbox.stop()
        await close_app(window, core)


def reached(sandbox: Sandbox, msg_id: str) -> list[str]:
    """The steps the sandbox played for the message, as the timeline names them."""
    record = sandbox.scenario.message(msg_id)
    assert record is not None
    steps = [name for name, at in (("Sent", record.sent_at), ("Delivered", record.delivered_at),
                                   ("Read", record.read_at)) if at]  # fmt: skip
    return [*steps, "Failed"] if record.status == "FAILED" else steps


async def test_send_from_the_dialog_opens_the_timeline_which_fills_as_webhooks_arrive(tmp_path: Path) -> None:
    async with send_env(tmp_path) as env:
        assert env.window.send_button.isEnabled()
        dialog = env.dialog()
        number = env.sandbox.numbers[0]
        assert dialog.number.count() == 2 and dialog.number.findData(number.id) >= 0
        dialog.number.setCurrentIndex(dialog.number.findData(number.id))

        # Checked before anything leaves.
        dialog.to.setText("12125550123")  # not a phone of the number's country (BR)
        dialog.text.setPlainText("hello from the dialog")
        dialog.send_button.click()
        assert "add the '+'" in dialog.strip.message.text()
        assert env.sandbox.faults.requests("POST", SEND) == 0

        dialog.to.setText(reading_contact())
        dialog.send_button.click()  # the platform is paused: no step is played yet
        await dialog.settled()
        msg_id = dialog.message_id.text()
        record = env.sandbox.scenario.message(msg_id)
        assert record is not None and record.content == "hello from the dialog"
        assert dialog.correlation_id.text() == record.correlation_id
        assert "Accepted" in dialog.strip.message.text()

        messages = env.window.messages
        assert messages is not None
        timeline = messages.timelines.get(timeline_windows.SEND)  # its own window, not the pane's rows'
        assert timeline is not None and timeline.isVisible() and messages.timeline is None
        # Before the first webhook the store has no such message: the 202's answer is shown.
        assert timeline.awaiting is not None and timeline.timeline is None
        assert f"Waiting for the first webhook of {msg_id}" in timeline.title.text()
        assert "QUEUED" in timeline.title.text()
        assert [p.label for p in timeline.axis.points] == ["Queued", "Sent", "Delivered", "Read"]
        assert timeline.ids.fields["correlation_id"].text() == record.correlation_id
        env.sandbox.time_scale = 60.0  # the platform plays its steps, a minute per second

        def shown() -> list[str]:
            t = timeline.timeline
            return [s.status.title() for s in t.steps] if t is not None else []

        # It switches to the message with its first webhook, then follows the sandbox.
        await until(lambda: len(shown()) >= 2 and shown() == reached(env.sandbox, msg_id), 30)
        assert timeline.awaiting is None and timeline.timeline is not None
        assert timeline.timeline.message.msg_id == msg_id
        assert timeline.steps.item(0, 0).text() == "Sent"
        assert timeline.reply_thread.isVisible() and "Waiting" not in timeline.title.text()


async def test_a_send_retried_from_the_dialog_after_lost_answers_is_one_message(tmp_path: Path) -> None:
    async with send_env(tmp_path) as env:
        dialog = env.dialog()
        dialog.number.setCurrentIndex(dialog.number.findData(env.sandbox.numbers[0].id))
        dialog.to.setText("+5511987650009")
        dialog.text.setPlainText("only once")
        # Every answer lost after the platform accepted: the client's retries too.
        env.sandbox.faults.inject("POST", SEND, None, drop=True, after_handler=True, count=3)
        dialog.send_button.click()
        await dialog.settled()
        assert "may have been applied" in dialog.strip.message.text()
        assert dialog.message_id.text() == ""
        dialog.send_button.click()  # the operator tries again: the same key
        await dialog.settled()
        assert "earlier acceptance" in dialog.strip.message.text()
        assert [m.id for m in env.sandbox.state.messages.values()] == [dialog.message_id.text()]
        assert env.sandbox.faults.requests("POST", SEND) == 4

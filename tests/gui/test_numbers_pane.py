"""The Numbers tab against the real receiver, writer, store and number poller.

`number.*` webhook bodies go through the real aiohttp receiver into the real writer and
number projection in a temporary data dir; the poller asks a real sandbox (its answers
stored by the same writer). The window reads them back. Async tests run on the Qt loop
and poll with `until` (never qtbot.waitUntil: a nested Qt loop runs no asyncio task).
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QLabel

from pilot_desktop.core.format import when_iso
from pilot_desktop.sandbox.numbers_api import NumberRoutes
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.number_poller import NumberPolling
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.services.settings import NumberSettings, ReceiverSettings, Settings
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.panes.numbers import pane as pane_module
from pilot_desktop.ui.panes.numbers.card import NumberCard
from pilot_desktop.ui.panes.numbers.pane import NumbersPane
from pilot_desktop.ui.panes.webhooks.account_dialog import AccountDialog
from pilot_desktop.ui.panes.webhooks.pane import WebhooksPane
from tests.gui.support import close_app, memory_core, open_window, until

HOUR = 3600.0
GREEN, RED = QColor("#38a169"), QColor("#e53e3e")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def number_event(name: str, number: str, at: float, display: str = "", **extra: Any) -> dict[str, Any]:
    data = {
        "numberId": number,
        "phone": "+5511999990000",
        "displayName": display or number,
        "createdAt": iso(at),
    }
    return {"event": name, "data": {**data, **extra}}


def plain(label: QLabel) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", label.text()))


def near(a: QColor, b: QColor) -> bool:
    return max(abs(a.red() - b.red()), abs(a.green() - b.green()), abs(a.blue() - b.blue())) < 24


@dataclass
class App:
    runtime: Runtime
    window: MainWindow
    webhooks: WebhooksPane
    polling: NumberPolling | None
    accounts: Accounts
    session: aiohttp.ClientSession

    @property
    def pane(self) -> NumbersPane:
        assert self.window.numbers is not None
        return self.window.numbers

    def card(self, number_id: str) -> NumberCard:
        return self.pane.cards[number_id]

    async def post(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:  # one at a time: 2xx means committed and projected
            async with self.session.post(self.runtime.hook_url, data=json.dumps(body).encode()) as resp:
                assert resp.status == 200, await resp.text()

    async def shown(self, number_id: str, text: str) -> None:
        """Wait until the number's card says `text` in its state line."""
        await until(lambda: number_id in self.pane.cards and plain(self.card(number_id).state) == text)
        await self.pane.settled()


@asynccontextmanager
async def running_app(
    data_dir: Path, sandbox: Sandbox | None = None, settings: Settings | None = None
) -> AsyncIterator[App]:
    core = memory_core(data_dir, settings)
    if sandbox is not None:  # an account before the start: the core polls from the start
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
    window = await open_window(core)
    webhooks = window.webhooks
    assert isinstance(webhooks, WebhooksPane)
    window.show()
    assert window.numbers is not None
    window.tabs.setCurrentWidget(window.numbers)  # a hidden pane reads nothing
    try:
        async with aiohttp.ClientSession() as session:
            yield App(core.runtime, window, webhooks, core.polling, core.accounts, session)
    finally:
        await webhooks.settled()
        await window.numbers.settled()
        await close_app(window, core)


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pane_module, "THROTTLE_S", 0.1)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    # Paused: every number stays CONNECTING (created, not yet paired), as the poll reports.
    sb = Sandbox(seed=5, numbers=3, time_scale=0.0)
    await sb.start()
    try:
        yield sb
    finally:
        await sb.stop()


async def test_numbers_show_state_since_error_and_health_from_webhooks(data_dir: Path) -> None:
    now = time.time()
    async with running_app(data_dir) as app:
        pane = app.pane
        await until(lambda: pane.stack.currentIndex() == 0 and "first" in pane.empty_hint.text())
        assert "<code>number.*</code> webhook" in pane.empty_hint.text()
        assert "Webhooks tab" in pane.empty_hint.text()
        assert "no account yet" in pane.empty_hint.text()  # and why nothing is polled

        await app.post(
            number_event("number.created", "num_A", now - 3 * HOUR, "Loja Centro"),
            number_event("number.connected", "num_A", now - (2.5 * HOUR + 30), "Loja Centro"),
            number_event("number.connected", "num_A", now - 60, "Loja Centro"),  # a repeat: not "since"
            number_event("number.connected", "num_B", now - 5 * HOUR, "Loja Norte"),
            number_event(
                "number.disconnected", "num_B", now - 12 * 60 - 20, "Loja Norte",
                error="Lost connection to WhatsApp", errorCode="CONNECTION_LOST",
            ),
            number_event(
                "number.health_blocked", "num_B", now - 20 * 60, "Loja Norte", reason="Too many reports"
            ),
        )  # fmt: skip
        await app.shown("num_B", "Disconnected · 12 min")
        assert pane.stack.currentIndex() == 1
        a, b = app.card("num_A"), app.card("num_B")
        assert plain(a.state) == "Connected · 2 h 30 min"
        assert plain(a.name) == "Loja Centro" and plain(b.name) == "Loja Norte"
        assert (a.state_colour, b.state_colour) == (GREEN.name(), RED.name())
        assert "Lost connection to WhatsApp (CONNECTION_LOST)" in b.error.text()
        assert a.error.text() == ""
        assert (a.health.text(), b.health.text()) == ("healthy", "blocked")
        assert "Too many reports" in b.health.toolTip()
        assert not b.billing.isVisibleTo(b)  # no poll said anything about billing
        assert plain(pane.overall_label) == "1 of 2 numbers connected; disconnected: Loja Norte"
        assert [plain(c.name) for c in pane.cards.values()] == ["Loja Centro", "Loja Norte"]  # by name
        assert pane.selected == "num_B"  # the tab opens on the number that needs attention
        assert "no webhook" not in plain(a.last) and "last webhook" in plain(a.last)
        # Number A was seen 3 h ago, connected for 2.5 h of them: said over the known time.
        assert plain(a.uptime).startswith("up 83.") and "since first seen 3 h ago" in plain(a.uptime)


async def test_a_disconnect_turns_the_card_red_live_and_the_strip_shows_the_drop(data_dir: Path) -> None:
    now = time.time()
    drop = now - 6 * HOUR - 10 * 60  # a 5 minute drop six hours ago: a flap
    async with running_app(data_dir) as app:
        await app.post(
            number_event("number.connected", "num_A", now - 30 * HOUR, "Loja Centro"),
            number_event("number.disconnected", "num_A", drop, "Loja Centro", errorCode="CONNECTION_LOST"),
            number_event("number.connected", "num_A", drop + 5 * 60, "Loja Centro"),
        )
        await app.shown("num_A", "Connected · 6 h 5 min")
        card = app.card("num_A")
        strip = card.strip
        slot = int((drop - (now - 24 * HOUR)) // 1800)  # half-hour slots from 24 h ago
        assert strip.slots[slot] == "CLOSED"
        assert strip.slots[:slot] == ["OPEN"] * slot and strip.slots[slot + 1 :] == ["OPEN"] * (47 - slot)
        image = strip.grab().toImage()
        assert near(image.pixelColor(strip.slot_rect(slot).center()), RED)
        assert near(image.pixelColor(strip.slot_rect(slot - 1).center()), GREEN)
        assert near(image.pixelColor(strip.slot_rect(47).center()), GREEN)
        assert "1 flap in 24 h" in plain(card.uptime)
        assert plain(card.uptime).startswith("up 99.7% in 24 h")  # 5 min down of 24 h: 99.65%

        # Live: the number drops now; its card turns red without any click.
        await app.post(number_event("number.disconnected", "num_A", time.time(), "Loja Centro"))
        await until(lambda: card.state_colour == RED.name())
        assert plain(card.state).startswith("Disconnected · ")
        await until(lambda: card.strip.slots[-1] == "CLOSED")
        dot = card.dot.grab().toImage()
        assert near(dot.pixelColor(dot.rect().center()), RED)


async def test_history_lists_transitions_with_a_late_webhook_flagged(data_dir: Path) -> None:
    now = time.time()
    async with running_app(data_dir) as app:
        await app.post(
            number_event("number.connected", "num_A", now - HOUR, "Loja Centro"),
            number_event("number.disconnected", "num_A", now - 30 * 60, "Loja Centro"),
            number_event("number.connected", "num_A", now - 20 * 60, "Loja Centro"),
            # Arrives last but happened before the reconnection: recorded, not applied.
            number_event(
                "number.disconnected", "num_A", now - 25 * 60, "Loja Centro",
                error="Phone offline", errorCode="PHONE_OFFLINE",
            ),
        )  # fmt: skip
        await app.shown("num_A", "Connected · 20 min")
        detail = app.pane.detail
        assert detail.number_id == "num_A"  # the only number is selected
        await until(lambda: len(detail.rows) == 4)
        table = detail.table
        cells = [
            [table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())
        ]  # type: ignore[union-attr]
        assert [row[2] for row in cells] == [
            "Disconnected → Connected",
            "Connected → Disconnected",  # the late one, in its time order
            "Connected → Disconnected",
            "State unknown → Connected",
        ]
        assert [row[4] for row in cells] == [
            "",
            "(late: recorded, not applied)  Phone offline (PHONE_OFFLINE)",
            "",
            "",
        ]
        assert cells[1][3] == "webhook" and cells[1][1] == "Connection"
        assert table.item(1, 3).toolTip() == "number.disconnected"  # type: ignore[union-attr]
        assert table.item(1, 0).font().italic()  # type: ignore[union-attr]
        assert not table.item(0, 0).font().italic()  # type: ignore[union-attr]
        assert app.card("num_A").state_colour == GREEN.name()  # the late drop changed nothing


async def test_show_number_selects_it_now_or_once_it_is_listed(data_dir: Path) -> None:
    now = time.time()
    async with running_app(data_dir) as app:
        pane, window = app.pane, app.window
        await app.post(
            number_event("number.connected", "num_A", now - HOUR, "Alpha"),
            number_event("number.connected", "num_B", now - HOUR, "Beta"),
        )
        await app.shown("num_B", "Connected · 1 h")
        assert pane.selected == "num_A"  # the first, until told otherwise
        window.tabs.setCurrentIndex(0)
        window.show_number("num_B")  # what a clicked notification calls
        assert window.tabs.currentWidget() is pane
        await pane.settled()
        assert pane.selected == "num_B"
        assert app.card("num_B").selected and not app.card("num_A").selected
        assert "Beta" in pane.detail.title.text()
        await until(lambda: [r.number_id for r in pane.detail.rows] == ["num_B"])

        window.show_number("num_C")  # not known yet: selected when its first webhook comes
        await app.post(number_event("number.created", "num_C", time.time(), "Gamma"))
        await until(lambda: pane.selected == "num_C")
        await pane.settled()
        assert app.card("num_C").selected and "Gamma" in pane.detail.title.text()

        QTest.mouseClick(app.card("num_A"), Qt.MouseButton.LeftButton)  # a click selects too
        await pane.settled()
        assert pane.selected == "num_A" and [r.number_id for r in pane.detail.rows] == ["num_A"]
        QTest.keyClick(pane, Qt.Key.Key_Down)  # and the keyboard
        assert pane.selected == "num_B"


async def test_the_poller_fills_the_pane_with_provider_billing_problems_and_webhooks(
    data_dir: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Webhooks tab opens on its first number by name: Webhooks… must move it to the last.
    first, *_, hooked = sorted(sandbox.numbers, key=lambda n: n.name.lower())
    billed, broken = (n.id for n in sandbox.numbers if n.id != hooked.id)
    hooked = hooked.id
    common = NumberRoutes._common

    def with_billing(self: NumberRoutes, number: Any) -> dict[str, Any]:
        body = common(self, number)
        if number.id == billed:
            body |= {
                "extraChargeUnpaidSince": "2026-05-01T12:00:00Z",
                "extraChargeDisconnectAt": "2026-05-08T12:00:00Z",
            }
        return body

    monkeypatch.setattr(NumberRoutes, "_common", with_billing)
    # The client retries a GET twice: three answers make one failed poll.
    sandbox.faults.inject("GET", f"/v1/numbers/{broken}/status", 503, code="PROVIDER_NOT_CONFIGURED", count=3)
    async with running_app(data_dir, sandbox) as app:
        async with app.accounts.client_for_number(hooked) as client:
            await client.create_webhook("https://example.com/hook", ["number.disconnected"], name="Alerts")
        assert app.polling is not None and app.polling.running  # there is an account: it polls
        pane = app.pane
        await until(lambda: len(pane.cards) == 3)
        await until(lambda: all(plain(c.state).startswith("Connecting") for c in pane.cards.values()))
        await pane.settled()
        for number in sandbox.numbers:
            card = app.card(number.id)
            assert plain(card.name) == number.name and card.phone.text() == number.phone
            assert (
                card.provider.text()
                == {"PILOT_STATUS": "Web (QR)", "META": "Meta Cloud API"}[number.provider]
            )
            assert "last poll" in plain(card.last)
        local = {  # as the window writes a time (core.format.when)
            t: when_iso(f"2026-05-0{d}T12:00:00Z") for t, d in (("since", 1), ("until", 8))
        }
        card = app.card(billed)
        assert card.billing.isVisibleTo(card)
        assert card.billing.text() == (
            f"Sending blocked since {local['since']}: the extra-number charge is unpaid; "
            f"the number disconnects at {local['until']} unless it is paid."
        )
        assert not app.card(hooked).billing.isVisibleTo(app.card(hooked))
        problem = app.card(broken).problem
        assert problem.isVisibleTo(app.card(broken)) and "stopped" in problem.text()
        assert "PROVIDER_NOT_CONFIGURED" in problem.text()
        assert not app.card(billed).problem.isVisibleTo(app.card(billed))
        assert "checked every 60 s" in plain(pane.polling_label)

        # Webhooks: read through the account; the card says whether number events reach anyone.
        await until(lambda: "1 webhook (1 with number events)" in plain(app.card(hooked).webhooks))
        assert "No webhook: states come from polling only" in plain(app.card(billed).webhooks)

        # Webhooks… opens the Webhooks tab on that number.
        QTest.mouseClick(app.card(hooked), Qt.MouseButton.LeftButton)
        await pane.settled()
        assert "Alerts (1 event)" in pane.detail.hooks.text()
        assert app.webhooks.number_id == first.id
        pane.detail.webhooks_button.click()
        assert app.window.tabs.currentWidget() is app.webhooks
        assert app.webhooks.number_id == hooked
        await app.webhooks.settled()
        assert [h.name for h in app.webhooks.webhooks] == ["Alerts"]


async def test_polling_starts_with_the_first_account_and_stops_cleanly(
    data_dir: Path, sandbox: Sandbox
) -> None:
    settings = Settings(receiver=ReceiverSettings(port=0), numbers=NumberSettings(poll_interval_s=600))
    async with running_app(data_dir, settings=settings) as app:
        polling, pane = app.polling, app.pane
        assert polling is not None and not polling.running  # no account: nothing to ask
        assert polling.poller.interval == 600
        await until(lambda: "no account yet" in pane.empty_hint.text())
        # Add account… in the Webhooks tab, as a user would.
        app.webhooks.open_add_account()
        dialog = app.webhooks.dialog
        assert isinstance(dialog, AccountDialog)
        dialog.key.setText(sandbox.tenant_key)
        dialog.base_url.setText(sandbox.base_url)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        await app.webhooks.settled()
        assert polling.running
        await until(lambda: len(pane.cards) == 3)  # the first round ran at once
        await until(lambda: "checked every 600 s" in plain(pane.polling_label))
        task = polling._task
        await polling.stop()
        assert not polling.running and task is not None and task.cancelled()
        await polling.stop()  # idempotent


def test_poll_interval_is_a_bounded_setting_named_when_wrong(tmp_path: Path) -> None:
    assert Settings().numbers.poll_interval_s == 60
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 3, "numbers": {"poll_interval_s": 5}}))
    with pytest.raises(SettingsError, match=r"numbers\.poll_interval_s"):
        Config.open(resolve(tmp_path))
    path.write_text(json.dumps({"version": 4, "numbers": {"poll_interval_s": 3601}}))
    with pytest.raises(SettingsError, match=r"numbers\.poll_interval_s"):
        Config.open(resolve(tmp_path))

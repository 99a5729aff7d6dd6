"""Refused deliveries are visible outside the Live pane: the status bar's red count (which
opens the Refused tab) and a Listening that no longer looks healthy, one tray alert per
burst, the webhook row and the number card they concern (and only those).

Real Qt (offscreen), the real core and receiver on loopback, the sandbox platform sending
with a secret the app does not hold, exactly as a wrong signing secret happens.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from aiohttp import web
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QSystemTrayIcon, QWidget

from pilot_desktop.core.signature import HEADER, sign
from pilot_desktop.sandbox.numbers_api import NumberRoutes
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.services.settings import NotificationSettings, ReceiverSettings, Settings
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.panes.numbers import pane as numbers_module
from pilot_desktop.ui.panes.webhooks.hooks_table import COLUMNS
from pilot_desktop.ui.panes.webhooks.pane import WebhooksPane
from pilot_desktop.ui.tray import NumbersTray, attach_tray, store_states
from tests.gui.support import close_app, open_window, until
from tests.sandbox.conftest import body

if TYPE_CHECKING:
    from pilot_desktop.ui.refusal_watch import RefusalWatch

GREEN = "#2f855a"
GIVEN = "whsec_given_at_start"  # `serve --signing-secret`: checks every route


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numbers_module, "THROTTLE_S", 0.1)


@asynccontextmanager
async def window_of(data_dir: Path, *, given: tuple[str, ...] = (), sandbox: Sandbox | None = None,
                    notifications: NotificationSettings | None = None,
                    ) -> AsyncIterator[tuple[AppCore, MainWindow]]:  # fmt: skip
    settings = Settings(
        receiver=ReceiverSettings(port=0), notifications=notifications or NotificationSettings()
    )
    core = AppCore(
        resolve(data_dir), Config.memory(settings), CoreOptions(given_secrets=given), secrets=MemorySecrets()
    )
    if sandbox is not None:  # an account before the start: the numbers are polled at once
        await core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
    window = await open_window(core)
    window.show()
    try:
        yield core, window
    finally:
        if isinstance(window.webhooks, WebhooksPane):
            await window.webhooks.settled()
        if window.numbers is not None:
            await window.numbers.settled()
        await close_app(window, core)


async def post(core: AppCore, route: str, secret: str, n: int, *, token: str | None = None) -> list[int]:
    """`n` deliveries of message.received to `route`, signed with `secret`: their statuses."""
    base = core.runtime.hook_url if token is None else f"{core.runtime.base_url}/hooks/{token}"
    statuses = []
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        for i in range(n):
            raw = json.dumps(
                body("message.received", route, f"{route}-{secret}-{i}-{time.time_ns()}")
            ).encode()
            resp = await client.post(f"{base}/{route}", content=raw, headers={HEADER: sign(raw, secret)})
            statuses.append(resp.status_code)
    return statuses


def shown_text(widget: QWidget) -> str:
    """What a widget's visible labels say, as plain text."""
    labels = [w for w in widget.findChildren(QLabel) if w.isVisibleTo(widget)]
    return "\n".join(html.unescape(re.sub(r"<[^>]+>|<br>", "", w.text())) for w in labels)


def watch(window: MainWindow) -> RefusalWatch:
    found = window.refusal_watch
    assert found is not None
    return found


async def test_refused_deliveries_count_in_the_status_bar_which_opens_the_refused_tab(data_dir: Path) -> None:
    async with window_of(data_dir, given=(GIVEN,)) as (core, window):
        status = window.status
        assert GREEN in status.receiver_label.styleSheet()  # listening, nothing refused: green
        assert await post(core, "num_A", GIVEN, 2) == [200, 200]
        assert GREEN in status.receiver_label.styleSheet()

        assert await post(core, "num_A", "whsec_someone_elses", 23) == [401] * 23
        assert await post(core, "num_B", "x", 1, token="another-installs-token") == [404]
        async with httpx.AsyncClient(trust_env=False) as client:  # a stray request, not a delivery
            assert (await client.get(f"{core.runtime.base_url}/wp-login.php")).status_code == 404

        # Listening is no longer green while deliveries are refused; a red count says how many.
        await until(lambda: GREEN not in status.receiver_label.styleSheet())
        assert "refusing deliveries" in status.receiver_label.text()
        assert status.refused_label.isVisible()  # (hidden while nothing is refused)
        assert status.refused_label.text() == "⊘ 24 refused (5 min)"
        tip = status.refused_label.toolTip()
        assert "23 × 401" in tip and "1 × 404" in tip
        assert "…/num_A 23" in tip and "…/num_B 1" in tip
        assert "1 other refused request" in tip

        QTest.mouseClick(status.refused_label, Qt.MouseButton.LeftButton)
        assert window.tabs.tabText(window.tabs.currentIndex()) == "Refused"


@dataclass
class Shown:
    messages: list[tuple[str, str, QSystemTrayIcon.MessageIcon]] = field(default_factory=list)


def tray_over(core: AppCore, window: MainWindow, shown: Shown, *, available: bool = True) -> NumbersTray:
    assert core.reads is not None
    tray = NumbersTray(
        window,
        core.profile.settings,
        store_states(core.reads),
        tray_available=available,
        messages_supported=True,
        sink=lambda title, text, icon: shown.messages.append((title, text, icon)),
    )
    tray.attach(core.reads, window.refusal_watch)
    return tray


def number_connected(number_id: str, name: str) -> bytes:
    data = {"numberId": number_id, "phone": "+5511999990000", "displayName": name}
    return json.dumps({"event": "number.connected", "data": data}).encode()


async def test_a_burst_of_refusals_raises_one_tray_alert_that_opens_the_refused_tab(data_dir: Path) -> None:
    async with window_of(data_dir, given=(GIVEN,)) as (core, window):
        raw = number_connected("num_A", "Sales")
        async with httpx.AsyncClient(trust_env=False) as client:
            resp = await client.post(
                f"{core.runtime.hook_url}/num_A", content=raw, headers={HEADER: sign(raw, GIVEN)}
            )
            assert resp.status_code == 200
        shown = Shown()
        tray = tray_over(core, window, shown)
        try:
            await until(lambda: "num_A" in tray.names)
            assert await post(core, "num_A", "whsec_someone_elses", 45) == [401] * 45
            for _ in range(3):  # the watch's ticks during and after the burst
                watch(window).refresh()
            await until(lambda: bool(shown.messages))
            watch(window).refresh()
            assert len(shown.messages) == 1  # one alert for the burst, not one per 20 refusals
            title, text, icon = shown.messages[0]
            assert title == "Deliveries refused"
            assert re.fullmatch(r"\d+ refused in the last minute — 401 on Sales: .+", text), text
            assert icon == QSystemTrayIcon.MessageIcon.Critical
            tray.open_last()  # the balloon was clicked
            assert window.tabs.tabText(window.tabs.currentIndex()) == "Refused"
        finally:
            tray.shutdown()


async def test_without_a_system_tray_the_burst_shows_in_the_window_banner(data_dir: Path) -> None:
    async with window_of(data_dir, given=(GIVEN,)) as (core, window):
        tray = attach_tray(window, core.profile.settings, core.reads)  # as the app does; offscreen: no tray
        try:
            assert not tray.available
            assert await post(core, "num_A", "whsec_someone_elses", 20) == [401] * 20
            await until(lambda: window.notice_banner.isVisibleTo(window))
            assert "Deliveries refused" in window.notice_banner.text.text()
            said = window.notice_banner.text.text()
            assert "20 refused in the last minute — 401 on num_A: signed with a different secret" in said
            assert window.notice_banner.action_button.text() == "Show refused"
            window.tabs.setCurrentIndex(0)
            window.notice_banner.action_button.click()
            assert window.tabs.tabText(window.tabs.currentIndex()) == "Refused"
        finally:
            tray.shutdown()


async def test_quiet_hours_hold_the_refusal_alert_back(data_dir: Path) -> None:
    quiet = NotificationSettings(quiet_hours="00:00-23:59")
    async with window_of(data_dir, given=(GIVEN,), notifications=quiet) as (core, window):
        shown = Shown()
        tray = tray_over(core, window, shown)
        try:
            assert await post(core, "num_A", "whsec_someone_elses", 20) == [401] * 20
            watch(window).refresh()
            assert not shown.messages
            assert "1 notification held back" in tray.icon.toolTip()
            assert window.status.refused_label.isVisible()  # the status bar tells all the same
        finally:
            tray.shutdown()


def _last_cell(pane: WebhooksPane, name: str) -> tuple[str, str]:
    row = next(i for i, h in enumerate(pane.webhooks) if h.name == name)
    item = pane.table.item(row, COLUMNS.index("Last triggered"))
    assert item is not None
    return item.text(), item.toolTip()


async def test_a_wrong_signing_secret_shows_on_its_webhook_row_and_number_card_only(data_dir: Path) -> None:
    sandbox = Sandbox(seed=5, numbers=2, time_scale=0.0, retry_window=0.0)
    await sandbox.start()
    try:
        async with window_of(data_dir, sandbox=sandbox) as (core, window):
            core.config.settings.update({"public_url": core.runtime.base_url})  # no tunnel on loopback
            wrong, right = (n.id for n in sandbox.numbers)
            # The platform signs with the secret it made; the app was given another one.
            hook, _ = await core.webhooks.create(
                wrong, ["message.received"], name="Sales", secret="whsec_typo"
            )
            await core.webhooks.create(right, ["message.received"], name="Support")
            for i, number_id in enumerate([wrong] * 12 + [right]):  # one at a time: no retries
                sandbox.emit(number_id, "message.received", body("message.received", number_id, f"m{i}"))
                await until(
                    lambda n=i + 1: [bool(a.status_code) for a in sandbox.delivered_log()] == [True] * n
                )
            assert {a.status_code for a in sandbox.delivered_log(hook.id)} == {401}
            watch(window).refresh()  # its tick: the refusals are known before the tab is first drawn

            # The Numbers tab: the card of the number concerned says it, the other does not.
            numbers = window.numbers
            assert numbers is not None
            window.tabs.setCurrentWidget(numbers)
            await until(lambda: {wrong, right} <= set(numbers.cards))
            card = numbers.cards[wrong]
            said = "⊘ 12 deliveries refused in 5 min (401): signed with a different secret"
            await until(lambda: said in shown_text(card))
            assert "refused" not in shown_text(numbers.cards[right])
            await numbers.settled()
            first = numbers.selected  # the detail the pane opened on, then the other one
            assert first is not None and (said in shown_text(numbers.detail)) == (first == wrong)
            numbers.select(right if first == wrong else wrong)
            assert (said in shown_text(numbers.detail)) == (first != wrong)

            # The Webhooks tab: the row of the webhook whose route was refused.
            pane = window.webhooks
            assert isinstance(pane, WebhooksPane)
            window.tabs.setCurrentWidget(pane)
            pane.select_number(wrong)
            await pane.settled()
            await until(lambda: "⊘" in _last_cell(pane, "Sales")[0])
            text, tip = _last_cell(pane, "Sales")
            assert text.endswith("· ⊘ 12 refused (401) in 5 min")
            assert f"…/{wrong}" in tip
            pane.select_number(right)
            await pane.settled()
            text, _ = _last_cell(pane, "Support")
            assert "⊘" not in text and "refused" not in text
    finally:
        await sandbox.stop()


async def test_a_flood_of_refusals_redraws_about_once_a_second_not_per_refusal(data_dir: Path) -> None:
    async with window_of(data_dir, given=(GIVEN,)) as (core, window):
        draws: list[float] = []
        watch(window).changed.connect(lambda _: draws.append(time.monotonic()))
        start = time.monotonic()
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            raw = json.dumps(body("message.received", "num_A", "flood")).encode()
            url = f"{core.runtime.hook_url}/num_A"
            n = 0
            while time.monotonic() - start < 3.0:
                resp = await client.post(url, content=raw, headers={HEADER: sign(raw, "whsec_wrong")})
                assert resp.status_code == 401
                n += 1
        await until(lambda: window.status.refused_label.text() == f"⊘ {n:,} refused (5 min)")
        elapsed = time.monotonic() - start
        assert n > 100
        assert len(draws) <= elapsed + 2  # at most one a second, however many were refused


async def test_meta_health_and_pii_mode_from_the_number_detail_show_on_card_and_detail(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    detail = NumberRoutes.detail
    troubled: list[str] = []

    async def with_trouble(self: NumberRoutes, request: web.Request) -> web.Response:
        answer = await detail(self, request)
        found = json.loads(answer.body)  # type: ignore[arg-type]
        if found["id"] in troubled:  # Meta lowered its quality and stopped its sending
            found["health"] |= {"qualityRating": "RED", "messagingLimitTier": "TIER_250", "sendable": False}
            found["piiMode"] = "RELAY_ONLY"
        return web.json_response(found)

    monkeypatch.setattr(NumberRoutes, "detail", with_trouble)
    sandbox = Sandbox(seed=5, numbers=2, time_scale=0.0)
    await sandbox.start()
    bad, other = (n.id for n in sandbox.numbers)
    troubled.append(bad)
    try:
        async with window_of(data_dir, sandbox=sandbox) as (_core, window):
            numbers = window.numbers
            assert numbers is not None
            window.tabs.setCurrentWidget(numbers)
            await until(lambda: bad in numbers.cards and "Quality RED" in shown_text(numbers.cards[bad]))
            card = numbers.cards[bad]
            said = shown_text(card)
            assert "Quality RED · tier TIER_250 · not sendable" in said
            assert "PII: relay only — message content is not kept by the platform" in said
            marked = "".join(label.text() for label in card.findChildren(QLabel))
            assert "color: #c53030'>not sendable" in marked and "color: #c53030'>RED" in marked  # in red
            assert "RED" not in shown_text(numbers.cards[other])
            numbers.select(bad)
            facts = shown_text(numbers.detail)
            assert "Meta health: Quality RED · tier TIER_250 · not sendable" in facts
            assert "PII: relay only" in facts
    finally:
        await sandbox.stop()


def test_a_flood_larger_than_what_is_kept_whole_is_counted_exactly_and_its_routes_as_at_least() -> None:
    from pilot_desktop.receiver.refusals import KEEP, Refusal, RefusalMonitor
    from pilot_desktop.ui.panes.numbers.text import refused_text
    from pilot_desktop.ui.refusal_watch import picture

    monitor = RefusalMonitor()
    now = time.time()
    for i in range(KEEP + 3000):
        route = "num_A" if i % 2 else "num_B"
        monitor.record(
            Refusal(now - 60 + i * 0.01, 401, "signature", route, route, True, None, "signed elsewhere")
        )
    found = picture(monitor, now=now + 1)
    assert found.deliveries == KEEP + 3000  # exact, however many
    concern = found.route("num_A")
    assert concern is not None and concern.count == KEEP // 2 and concern.count_text == f"{KEEP // 2:,}+"
    assert refused_text(concern, found.summary.window_s).startswith(f"⊘ {KEEP // 2:,}+ deliveries refused")

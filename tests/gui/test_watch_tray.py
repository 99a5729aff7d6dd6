"""The tray tells what is watched beyond the numbers, over the real core: real probes through
a public URL (a closed port, then the receiver's own address), the real alert watch, the real
drift audit against the sandbox, the real re-pointer.

Notifications are counted where the tray shows them (its balloon sink, injected: offscreen
there is no system tray); the clock of the tray's timer slot is the test's, so the debounce
is crossed without waiting.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from PySide6.QtWidgets import QSystemTrayIcon

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.config import Config
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.services.settings import NotificationSettings, ReceiverSettings, Settings
from pilot_desktop.ui.main_window import MainWindow
from pilot_desktop.ui.tray import NumbersTray, store_states
from pilot_desktop.ui.watch_alerts import WatchAlerts, attach_watch
from tests.gui.support import close_app, open_window, until

Icon = QSystemTrayIcon.MessageIcon


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def quiet_now() -> str:
    """Quiet hours around the present local time."""
    now = datetime.now()
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


@dataclass
class Rig:
    core: AppCore
    window: MainWindow
    tray: NumbersTray
    watch: WatchAlerts
    now: list[float]
    shown: list[tuple[str, str, Icon]] = field(default_factory=list)

    def tick(self, after_s: float = 0.0) -> list[tuple[str, str, Icon]]:
        """Move the clock on, run the timer slot; what this tick showed."""
        self.now[0] += after_s
        before = len(self.shown)
        self.watch.tick()
        return self.shown[before:]

    def alerted(self, kind: str) -> bool:
        return any(a.kind == kind for a in self.watch.active)

    def public_url(self, url: str) -> None:
        self.core.config.settings.update({"public_url": url})


@asynccontextmanager
async def rig(
    tmp_path: Path, public_url: str | None = None, *, quiet: str | None = None
) -> AsyncIterator[Rig]:
    settings = Settings(
        receiver=ReceiverSettings(port=0),
        public_url=public_url,
        notifications=NotificationSettings(quiet_hours=quiet),
    )
    core = AppCore(
        resolve(tmp_path),
        Config.memory(settings),
        CoreOptions(probe_interval_s=3600.0, audit_interval_s=3600.0),
        secrets=MemorySecrets(),
    )
    window = await open_window(core)
    assert core.reads is not None
    shown: list[tuple[str, str, Icon]] = []
    tray = NumbersTray(
        window,
        core.profile.settings,
        store_states(core.reads),
        tray_available=True,
        messages_supported=True,
        sink=lambda title, text, icon: shown.append((title, text, icon)),
    )
    tray.attach(core.reads, window.refusal_watch)
    now = [time.time()]
    watch = attach_watch(tray, core, clock=lambda: now[0])
    try:
        yield Rig(core, window, tray, watch, now, shown)
    finally:
        watch.shutdown()
        tray.shutdown()
        tray.deleteLater()
        await close_app(window, core)


async def test_unreachable_is_told_once_and_its_recovery_once(tmp_path: Path) -> None:
    async with rig(tmp_path, f"http://127.0.0.1:{closed_port()}") as r:
        reach = r.core.reachability
        await until(lambda: reach.reach.state == "failing")  # the first probe, at start
        assert r.tick(5) == []  # one failure is not an outage
        assert r.tray.level != "down"
        await reach.check_now()  # the second failure in a row
        assert reach.reach.state == "unreachable"
        assert r.tray.level == "down"  # red at once
        assert r.window.windowTitle().endswith("— unreachable")
        await until(lambda: r.alerted("unreachable"))
        (told,) = r.tick(5)
        assert told[0] == "Unreachable: webhooks cannot reach this app"
        assert "Nothing is listening at 127.0.0.1" in told[1]
        assert told[2] == Icon.Critical
        await reach.check_now()  # a third failure: still the same outage, not told again
        assert r.tick(30) == [] and r.tick(90) == []
        assert "Unreachable through http://127.0.0.1:" in r.tray.icon.toolTip()

        r.public_url(r.core.runtime.base_url)  # the path is fixed: a probe through it is ok
        await until(lambda: reach.reach.state == "reachable")
        await until(lambda: not r.alerted("unreachable"))
        assert r.tray.level != "down"
        assert "unreachable" not in r.window.windowTitle()
        (back,) = r.tick(5)
        assert back[0] == "Reachable again" and back[2] == Icon.Information
        assert r.tick(120) == []
        assert len(r.shown) == 2

        # Clicking the notification opens the Webhooks tab.
        r.tray.icon.messageClicked.emit()
        assert r.window.tabs.currentWidget() is r.window.webhooks
        assert r.window.isVisible()


async def test_quiet_hours_hold_the_alert_back_but_the_tray_is_red(tmp_path: Path) -> None:
    async with rig(tmp_path, f"http://127.0.0.1:{closed_port()}", quiet=quiet_now()) as r:
        reach = r.core.reachability
        await until(lambda: reach.reach.state == "failing")
        await reach.check_now()
        await until(lambda: r.alerted("unreachable"))
        assert r.tick(5) == []
        assert r.tray.level == "down"
        assert r.tray.icon.toolTip().endswith("1 notification held back (quiet hours/muted)")
        r.public_url(r.core.runtime.base_url)
        await until(lambda: not r.alerted("unreachable"))
        assert r.tick(120) == []  # its opening was not shown: neither is its recovery
        assert r.shown == []


@asynccontextmanager
async def with_sandbox(r: Rig) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(seed=5, numbers=3, time_scale=0.0, retry_window=0.0)
    await sandbox.start()
    try:
        await r.core.accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Tenant")
        yield sandbox
    finally:
        await sandbox.stop()
        await asyncio.sleep(0.05)
        gc.collect()


async def test_each_new_drift_finding_is_told_and_several_fold_into_one(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.public_url(r.core.runtime.base_url)
        async with with_sandbox(r) as sandbox:
            numbers = [n.id for _, n in r.core.accounts.numbers()]
            hooks = [(await r.core.webhooks.create(n, ["*"]))[0] for n in numbers]
            await r.core.drift.run_once()
            assert r.tick(5) == []  # as expected: nothing to tell

            sandbox.state.webhooks.pop(hooks[0].id)  # deleted in the dashboard, behind the app's back
            await r.core.drift.run_once()
            (told,) = r.tick(5)
            assert told[0] == "Webhook changed outside Pilot Desktop"
            assert "deleted" in told[1]
            await r.core.drift.run_once()  # the same finding, still open: not told again
            assert r.tick(5) == []

            sandbox.state.webhooks[hooks[1].id].active = False  # paused
            sandbox.state.webhooks[hooks[2].id].url = "https://elsewhere.example/hook"  # re-pointed
            await r.core.drift.run_once()
            (folded,) = r.tick(5)
            assert folded[0] == "2 webhook changes found"
            assert len(folded[1].splitlines()) == 2
            assert len(r.shown) == 2

            r.window.tabs.setCurrentIndex(0)
            r.tray.icon.messageClicked.emit()
            assert r.window.tabs.currentWidget() is r.window.webhooks


async def test_a_drift_finding_in_quiet_hours_is_not_told(tmp_path: Path) -> None:
    async with rig(tmp_path, quiet=quiet_now()) as r:
        r.public_url(r.core.runtime.base_url)
        async with with_sandbox(r) as sandbox:
            number = next(n.id for _, n in r.core.accounts.numbers())
            hook, _ = await r.core.webhooks.create(number, ["*"])
            await r.core.drift.run_once()
            sandbox.state.webhooks.pop(hook.id)
            result = await r.core.drift.run_once()
            assert [f.kind for f in result.new] == ["deleted"]
            assert r.tick(5) == []
            assert r.shown == []


async def test_webhooks_left_on_an_old_url_are_told_once(tmp_path: Path) -> None:
    """Automatic re-pointing is off (the default): the operator is told, once per webhook."""
    async with rig(tmp_path) as r:
        r.public_url(r.core.runtime.base_url)
        async with with_sandbox(r):
            number = next(n.id for _, n in r.core.accounts.numbers())
            await r.core.webhooks.create(number, ["*"])
            moved = r.core.runtime.base_url.replace("127.0.0.1", "localhost")  # a new address of this app
            r.public_url(moved)
            await until(lambda: bool(r.core.repoint.pending))
            (told,) = r.tick(5)
            assert told[0] == "A webhook points at an old public URL"
            assert moved in told[1] and "automatic re-pointing is off" in told[1]
            assert r.tray.level == "warn"
            assert "re-pointing pending" in r.window.windowTitle()
            assert r.tick(120) == []  # told once while it waits
            await r.core.repoint.apply(r.core.repoint.pending)
            await until(lambda: not r.core.repoint.pending)
            assert "re-pointing pending" not in r.window.windowTitle()
            assert len(r.shown) == 1

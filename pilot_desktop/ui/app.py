"""GUI entry: QApplication + qasync loop, the application core in the same process.

The core (services/core.py) is what `serve` runs too; this adds only Qt things on top: the
window with its panes over the core's read facade, and the tray. All async cleanup runs
inside `_main` while the loop still runs (habit 15 of docs/craft.md); closing the
window only sets an event.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from pilot_desktop.core.format import minutes
from pilot_desktop.services.config import Config, Document, SettingsError
from pilot_desktop.services.core import AppCore, CoreOptions
from pilot_desktop.services.deadlines import FIELDS as DEADLINE_FIELDS
from pilot_desktop.services.deadlines import set_deadlines, stuck_rules
from pilot_desktop.services.leave_demo import real_core
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.private import private_message
from pilot_desktop.services.secrets import SecretsError
from pilot_desktop.services.send import Sender
from pilot_desktop.services.settings import Settings
from pilot_desktop.ui import crash, messages
from pilot_desktop.ui.live_settings import LiveSettings, attach_live_settings
from pilot_desktop.ui.loop import QtLoop
from pilot_desktop.ui.main_window import ICON, MainWindow
from pilot_desktop.ui.panes.webhooks.pane import WebhooksPane
from pilot_desktop.ui.panes.webhooks.watch_parts import WatchParts
from pilot_desktop.ui.port_recovery import attach_port_recovery
from pilot_desktop.ui.refusal_watch import RefusalWatch
from pilot_desktop.ui.single_instance import SingleInstance
from pilot_desktop.ui.tray import attach_tray
from pilot_desktop.ui.watch_alerts import attach_watch


def make_app() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Pilot Desktop")
    app.setOrganizationName("Pilot Desktop")
    app.setDesktopFileName("pilot-desktop")
    app.setWindowIcon(QIcon(str(ICON)))
    app.setQuitOnLastWindowClosed(False)  # we quit after our own staged shutdown
    return app


def build_window(core: AppCore) -> MainWindow:
    """The window over a started core. Its problems (no store, no receiver, no demo)
    become visible messages; what does not need the failed part still works."""
    window = MainWindow(
        core.reads,
        core.hook_url,
        core.paths.config_dir / "window.ini",
        tail_rows=core.prefs.ui.live_tail_rows,
        store_error=core.store_error,
        guide_url=core.real_hook_url,
    )
    if core.made_private:  # first: a problem said below is more urgent and replaces it
        messages.warning(*private_message(core.made_private))
    if core.store_error:
        window.status.set_receiver(None, core.store_error)
        messages.error(core.store_error)
    # The receiver's state: banner (Retry, another port), status bar, Live's hint.
    attach_port_recovery(window, core)
    if core.reads is not None:
        for listener in window.change_listeners():
            core.reads.subscribe(listener)
    core.on_problem = messages.error  # a settings file broken by hand while the window runs
    window.on_shutdown.append(lambda: setattr(core, "on_problem", None))
    attach_deadlines(window, core.profile.settings)
    if core.options.demo:
        window.show_demo(core.demo.sandbox if core.demo else None, core.demo_error)
    attach_webhooks(window, core)
    attach_numbers(window, core)
    attach_refusals(window, core)
    attach_reachability(window, core)
    window.set_sender(Sender(core.accounts, core.webhooks.find_number))
    live = attach_live_settings(window, core)  # preferences and accounts applied live
    window.settings_requested.connect(live.open_dialog)
    return window


def attach_deadlines(window: MainWindow, prefs: Document[Settings]) -> None:
    """Stuck deadlines come from the operator's settings (in the demo too): the status bar
    counts by them, the Delivery tab's Deadlines… changes them; a change made elsewhere
    (the CLI) applies at once."""

    def rules_changed(changed: frozenset[str]) -> None:
        if DEADLINE_FIELDS in changed:
            window.status.set_stuck_rules(stuck_rules(prefs.value))
            if window.messages is not None:
                window.messages.set_stuck_rules(lambda: stuck_rules(prefs.value))

    window.status.set_stuck_rules(stuck_rules(prefs.value))
    if window.messages is not None:
        window.messages.set_stuck_rules(lambda: stuck_rules(prefs.value))
    prefs.subscribe(rules_changed)
    window.on_shutdown.append(lambda: prefs.unsubscribe(rules_changed))
    if window.delivery is None:
        return

    def read() -> tuple[int, int]:
        m = prefs.value.messages
        return m.stuck_queued_minutes, m.stuck_sent_minutes

    def apply(queued: int, sent: int) -> str | None:
        try:
            set_deadlines(prefs, queued, sent)
        except SettingsError as exc:  # a bad value names its field; else the file is at fault
            return str(exc) if exc.fields else f"Could not save the settings: {exc}"
        except OSError as exc:
            return f"Could not save the settings: {exc}"
        messages.info(f"Stuck deadlines saved: queued {minutes(queued)}, sent {minutes(sent)}.")
        return None

    window.delivery.set_deadlines(read, apply)


def attach_webhooks(window: MainWindow, core: AppCore) -> WebhooksPane:
    pane = WebhooksPane(
        core.webhooks,
        local_base=core.runtime.base_url,
        instance=core.options.instance if core.listening else None,
        profile_accounts=core.profile_accounts if core.options.demo else None,
    )
    pane.attach_watch(WatchParts.of(core))  # the tunnel, findings, re-pointing, subscribe-all
    window.set_webhooks_pane(pane)
    return pane


def attach_numbers(window: MainWindow, core: AppCore) -> None:
    """The Numbers tab shows the core's poller (its problems, Check now) and each number's
    webhooks; a change of the accounts, here or elsewhere, drops the webhooks it read."""
    pane = window.numbers
    if pane is None:
        return
    pane.set_sources(core.polling, core.webhooks.list_number)
    state = core.config.state

    def accounts_changed(changed: frozenset[str]) -> None:
        if "accounts" in changed:
            pane.forget_webhooks()

    state.subscribe(accounts_changed)
    window.on_shutdown.append(lambda: state.unsubscribe(accounts_changed))


def attach_refusals(window: MainWindow, core: AppCore) -> RefusalWatch:
    """The receiver's recent refusals, read once a second (never per refusal), shown by the
    status bar, the number cards and the webhook rows; the tray alerts on its bursts."""
    watch = RefusalWatch(core.refusals, parent=window)
    window.refusal_watch = watch
    watch.changed.connect(window.status.show_refusals)
    if window.numbers is not None:
        watch.changed.connect(window.numbers.show_refusals)
    if isinstance(window.webhooks, WebhooksPane):
        watch.changed.connect(window.webhooks.show_refusals)
    window.on_shutdown.append(watch.shutdown)
    return watch


def attach_reachability(window: MainWindow, core: AppCore) -> None:
    """The status bar's reachability segment follows the core's probes through the public
    URL (services/reachability.py); it says why when nothing is probed."""

    def idle() -> str | None:
        if core.watch.running:
            return None
        if core.port_shared:
            return "another Pilot Desktop on this data folder receives webhooks and probes"
        return "the receiver is not listening, so nothing is probed"

    window.status.reach.attach(
        core.reachability,
        interval_s=core.reachability.interval,
        tunnel=lambda: core.tunnel.status,
        idle=idle,
        repoint=core.repoint,  # webhooks left on an old URL, the tunnel down: not a plain green
        gaps=core.gaps,
        tunnel_manager=core.tunnel,
    )


def close_window(window: MainWindow, core: AppCore) -> None:
    """Detach the window from the core, then stop its timers."""
    if core.reads is not None:
        for listener in window.change_listeners():
            core.reads.unsubscribe(listener)
    window.shutdown()


WindowHook = Callable[[MainWindow], None] | None


async def _main(core: AppCore, instance: SingleInstance | None = None, on_window: WindowHook = None) -> int:
    """The window until it closes; leaving the demo runs the real core and a new window in
    this process (services/leave_demo.py). `on_window`: told each window (tests)."""
    first = True
    while await _session(core, instance, on_window, first=first):
        try:
            core, first = real_core(core), False
        except SecretsError as exc:  # a locked keyring: as at a launch, said and nothing received
            return cannot_start(str(exc), "Nothing was received.")
    return 0


async def _session(
    core: AppCore, instance: SingleInstance | None, on_window: WindowHook, *, first: bool
) -> bool:
    """One core and its window; True when the operator chose to leave the demo."""
    await core.start()
    window = build_window(core)
    leaving = False

    def leave_demo() -> None:
        nonlocal leaving
        leaving = True
        window.hide_on_close = None  # not to the tray: this window ends, the real one follows
        window.close()

    if (live_settings := window.findChild(LiveSettings)) is not None:
        live_settings.leave_demo_requested.connect(leave_demo)  # offered in the demo only
    # The tray follows this window's store (the demo's too) with the operator's settings.
    tray = attach_tray(window, core.profile.settings, core.reads)
    watch = attach_watch(tray, core)  # reachability, storing, silence, drift, re-pointing
    if instance is not None:
        instance.raise_requested.connect(window.bring_to_front)
    closed = asyncio.Event()
    window.window_did_close.connect(closed.set)
    loop = asyncio.get_running_loop()
    # Ctrl+C / SIGTERM get the same staged shutdown as closing the window. Python runs
    # the handler when Qt next calls into Python (the panes' timers tick often).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(closed.set))
    if first:
        tray.show_initial()  # the window, or only the tray icon when started minimised
    else:
        window.bring_to_front()  # after the demo: the operator is looking
    if on_window is not None:
        on_window(window)
    if instance is not None and instance.requests:
        window.bring_to_front()  # a second launch came while this one was starting
    if core.listening:
        print(f"Listening: {core.hook_url}", flush=True)  # for terminals and scripts
    if window.live is not None:
        await window.live.load()
    settle_heap()
    await closed.wait()
    try:
        if instance is not None:
            instance.raise_requested.disconnect(window.bring_to_front)
        watch.shutdown()
        tray.shutdown()
        close_window(window, core)
    finally:
        await core.stop()
    if leaving:
        window.deleteLater()
    return leaving


def settle_heap() -> None:
    """Move the start-up objects out of the garbage collector's sight.

    ~70k objects (Qt wrappers, pydantic models, modules) live until exit; a full GC pass
    re-walks them all, ~38 ms on the GUI thread: the longest stall under load. Frozen, a
    full pass takes ~4 ms (bench/ingest.py).
    """
    gc.collect()
    gc.freeze()


T = TypeVar("T")


def run_on_qt(
    main: Callable[[], Coroutine[Any, Any, T]],
    loop_factory: Callable[[QApplication], asyncio.AbstractEventLoop] = QtLoop,
) -> T:
    """Run `main()` on the asyncio-on-Qt loop with the crash hooks installed first."""
    crash.install()
    app = make_app()
    loop = loop_factory(app)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(crash.loop_exception_handler)
    with loop:  # type: ignore[attr-defined]  # qasync's loop is a context manager
        return loop.run_until_complete(main())


def run_gui(paths: AppPaths, profile: Config, *, demo: bool, signing_secrets: Sequence[str]) -> int:
    """The window on `paths`. A second launch raises the first one's window. When the stored
    signing secrets cannot be read (a locked keyring), it says so and exits 1: receiving
    without them would accept deliveries nobody can verify."""
    instance: SingleInstance | None = None
    if profile.settings.value.notifications.single_instance:
        make_app()
        instance = SingleInstance(paths.data_dir)
        if not instance.claim():
            what = "was brought to the front" if instance.answered else "did not answer; it may be busy"
            print(f"Pilot Desktop is already running on {paths.data_dir}; its window {what}.", flush=True)
            return 0
    try:
        try:
            core = AppCore(paths, profile, CoreOptions(demo=demo, given_secrets=tuple(signing_secrets)))
        except SecretsError as exc:
            return cannot_start(str(exc), "Nothing was received.")
        return run_on_qt(lambda: _main(core, instance))
    finally:
        if instance is not None:
            instance.close()


def cannot_start(problem: str, then: str) -> int:
    """Why the window does not open (a settings file refused, a locked keyring): on stderr,
    and in a dialog when there is a screen to show it on. The exit code, 1."""
    print(f"pilot-desktop: {problem}", file=sys.stderr, flush=True)
    if make_app().platformName() not in ("offscreen", "minimal"):  # someone to tell
        QMessageBox.critical(None, "Pilot Desktop cannot start", f"{problem}\n\n{then}")
    return 1

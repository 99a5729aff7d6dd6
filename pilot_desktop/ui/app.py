"""GUI entry: QApplication + qasync loop, the core runtime in the same process.

All async cleanup runs inside `_main` while the loop still runs (craft.md habit 15);
closing the window only sets an event.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.deadlines import set_deadlines, stuck_rules
from pilot_desktop.services.demo import (
    Demo,
    DemoError,
    demo_paths,
    demo_settings,
    reset_demo_store,
    start_demo,
)
from pilot_desktop.services.number_poller import NumberPoller
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.runtime import ReceiverStartError, Runtime
from pilot_desktop.services.secrets import MemorySecrets, open_secrets
from pilot_desktop.services.settings import Settings, SettingsError, save
from pilot_desktop.services.webhooks import list_number_webhooks
from pilot_desktop.store import queries
from pilot_desktop.store.db import StoreError, connect
from pilot_desktop.ui import crash, messages
from pilot_desktop.ui.loop import QtLoop
from pilot_desktop.ui.main_window import ICON, MainWindow
from pilot_desktop.ui.panes.funnel.stats import minutes
from pilot_desktop.ui.panes.numbers.polling import NumberPolling
from pilot_desktop.ui.panes.webhooks.pane import PaneContext, WebhooksPane
from pilot_desktop.ui.single_instance import SingleInstance
from pilot_desktop.ui.tray import attach_tray


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


async def start_window(
    paths: AppPaths, settings: Settings, runtime: Runtime, *, guide_url: str | None = None
) -> MainWindow:
    """Start the core and build the window around it. Errors become visible messages."""
    store_error: str | None = None
    receiver_error: str | None = None
    port_in_use = False
    try:
        await runtime.start()
    except StoreError as exc:
        store_error = str(exc)
    except ReceiverStartError as exc:
        receiver_error, port_in_use = str(exc), exc.in_use
    window = MainWindow(
        None if store_error else runtime.db_path,
        runtime.hook_url,
        paths.config_dir / "window.ini",
        tail_rows=settings.ui.live_tail_rows,
        store_error=store_error,
        guide_url=guide_url,
    )
    if store_error:
        window.status.set_receiver(None, store_error)
        messages.error(store_error)
        return window
    window.status.set_receiver(None if receiver_error else runtime.hook_url, receiver_error, runtime.writer)
    if receiver_error:
        why = (
            "another program (or a second Pilot Desktop) uses that port; change receiver.port "
            "in the settings or stop the other program."
            if port_in_use
            else "check receiver.host and receiver.port in the settings."
        )
        messages.error(f"{receiver_error}. Stored history is shown, but no webhook is received: {why}")
    assert runtime.db_path is not None
    conn = connect(runtime.db_path, readonly=True)
    try:
        window.status.seed(queries.arrivals_per_second(conn, time.time() - 60), queries.last_event_at(conn))
    finally:
        conn.close()
    if runtime.writer is not None and not receiver_error:
        assert window.live is not None
        for listener in window.change_listeners():
            runtime.writer.subscribe(listener)
    return window


def attach_deadlines(window: MainWindow, settings: Settings, save_settings: Callable[[], None]) -> None:
    """Stuck deadlines come from the user's settings (in the demo too): the status bar
    counts by them, the Delivery tab's Deadlines… changes and saves them."""
    window.status.set_stuck_rules(stuck_rules(settings))
    if window.messages is not None:
        window.messages.set_stuck_rules(lambda: stuck_rules(settings))  # follows later changes
    if window.delivery is None:
        return

    def read() -> tuple[int, int]:
        return settings.messages.stuck_queued_minutes, settings.messages.stuck_sent_minutes

    def apply(queued: int, sent: int) -> str | None:
        before = settings.messages
        try:
            set_deadlines(settings, queued, sent)
            save_settings()
        except SettingsError as exc:
            return str(exc)
        except OSError as exc:
            settings.messages = before
            return f"Could not save the settings: {exc}"
        window.status.set_stuck_rules(stuck_rules(settings))
        messages.info(f"Stuck deadlines saved: queued {minutes(queued)}, sent {minutes(sent)}.")
        return None

    window.delivery.set_deadlines(read, apply)


def attach_webhooks(
    window: MainWindow,
    runtime: Runtime,
    accounts: Accounts,
    *,
    profile_accounts: Accounts | None = None,
    secret_lookup: Callable[[str], str | None] | None = None,
) -> WebhooksPane:
    ctx = pane_context(runtime, accounts, profile_accounts=profile_accounts, secret_lookup=secret_lookup)
    pane = WebhooksPane(ctx)
    window.set_webhooks_pane(pane)
    return pane


def pane_context(
    runtime: Runtime,
    accounts: Accounts,
    *,
    profile_accounts: Accounts | None = None,
    secret_lookup: Callable[[str], str | None] | None = None,
) -> PaneContext:
    """What the Webhooks pane needs from the core: accounts, the receiver, the settings."""
    settings = accounts.settings

    def save_public_url(value: str | None) -> None:
        settings.public_url = value
        accounts.save()

    return PaneContext(
        accounts=accounts,
        token=settings.receiver.token,
        public_url=lambda: settings.public_url,
        save_public_url=save_public_url,
        db_path=runtime.db_path,
        local_base=runtime.base_url,
        instance=runtime.instance if runtime.bound is not None else None,
        secret_lookup=secret_lookup,
        profile_accounts=profile_accounts,
        demo=profile_accounts is not None,
        # The receiver's own rule: stored secrets of that route, and the given ones (env).
        route_checked=lambda route: bool(runtime.secrets(route)),
    )


def attach_numbers(
    window: MainWindow,
    runtime: Runtime,
    accounts: Accounts,
    settings: Settings,
    webhooks: WebhooksPane | None = None,
) -> NumberPolling | None:
    """Poll the numbers' live state through `accounts` (while there is one) into the store,
    every `settings.numbers.poll_interval_s`; the Numbers tab shows the poller's problems
    and each number's webhooks. The caller awaits `stop()` in its staged shutdown."""
    pane = window.numbers
    if pane is None:
        return None
    if runtime.writer is None or runtime.bound is None:  # no store or no receiver: nothing to feed
        pane.set_sources(None, lambda number_id: list_number_webhooks(accounts, number_id))
        return None
    poller = NumberPoller(accounts, runtime.writer.submit, interval=settings.numbers.poll_interval_s)
    polling = NumberPolling(poller)
    pane.set_sources(polling, lambda number_id: list_number_webhooks(accounts, number_id))
    if webhooks is not None:
        webhooks.accounts_did_change.connect(polling.accounts_changed)
        webhooks.accounts_did_change.connect(pane.forget_webhooks)
    polling.start()
    return polling


def stop_window(window: MainWindow, runtime: Runtime) -> None:
    """Detach the window from the core, then stop its timers and close its connections."""
    if runtime.writer is not None:
        for listener in window.change_listeners():
            runtime.writer.unsubscribe(listener)
    window.shutdown()


async def _main(
    paths: AppPaths,
    settings: Settings,
    demo: bool,
    signing_secrets: list[str],
    instance: SingleInstance | None = None,
) -> int:
    # The URL to give Pilot Status is the real receiver's, whatever this window runs on.
    real_hook_url = Runtime(paths, settings).hook_url
    real_paths, real_settings = paths, settings
    if demo:
        paths, settings = demo_paths(paths), demo_settings()
        reset_demo_store(paths)
    # The user's accounts and secrets; in the demo, the sandbox's, kept in memory.
    profile = Accounts(real_settings, open_secrets(real_paths.data_dir), _saver(real_paths))
    accounts = Accounts(settings, MemorySecrets(), lambda _: None) if demo else profile
    # The demo registers its own sandbox's secrets; the real receiver checks the user's.
    runtime = Runtime(
        paths, settings, [] if demo else list(signing_secrets), extra_secrets=accounts.signing_secrets
    )
    window = await start_window(paths, settings, runtime, guide_url=real_hook_url)
    attach_deadlines(window, real_settings, profile.save)  # the user's, saved with their settings
    sandbox: Demo | None = None
    if demo:
        problem = None
        if runtime.bound is not None:
            try:
                sandbox = await start_demo(runtime, accounts)
            except DemoError as exc:
                problem = str(exc)
        else:
            problem = "the demo's receiver could not start"
        window.show_demo(sandbox.sandbox if sandbox else None, problem)
    # Attached even without a database: managing webhooks does not need it.
    webhooks_pane = attach_webhooks(
        window,
        runtime,
        accounts,
        profile_accounts=profile if demo else None,
        secret_lookup=_console_secret(sandbox.sandbox) if sandbox else None,
    )
    # The demo's numbers are polled from its sandbox, so they show live states too.
    polling = attach_numbers(window, runtime, accounts, real_settings, webhooks_pane)
    # The tray follows this window's store (the demo's too) with the user's notification settings.
    tray = attach_tray(window, runtime, real_settings, profile.save)
    if instance is not None:
        instance.raise_requested.connect(window.bring_to_front)
    closed = asyncio.Event()
    window.window_did_close.connect(closed.set)
    loop = asyncio.get_running_loop()
    # Ctrl+C / SIGTERM get the same staged shutdown as closing the window. Python runs
    # the handler when Qt next calls into Python (the panes' timers tick often).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(closed.set))
    tray.show_initial()  # the window, or only the tray icon when started minimised
    if instance is not None and instance.requests:
        window.bring_to_front()  # a second launch came while this one was starting
    if runtime.bound is not None:
        print(f"Listening: {runtime.hook_url}", flush=True)  # for terminals and scripts
    if window.live is not None:
        await window.live.load()
    settle_heap()
    await closed.wait()
    try:
        if polling is not None:
            await polling.stop()  # before the sandbox it asks and the writer it feeds
        if sandbox is not None:
            await sandbox.stop()  # no more deliveries before the receiver drains
    finally:
        tray.shutdown()
        stop_window(window, runtime)
        await runtime.stop()
    return 0


def _console_secret(sandbox: Sandbox) -> Callable[[str], str | None]:
    """The demo's stand-in for copying a new webhook's secret from the dashboard."""

    def lookup(webhook_id: str) -> str | None:
        hook = sandbox.state.webhooks.get(webhook_id)
        return hook.secret if hook is not None else None

    return lookup


def _saver(paths: AppPaths) -> Callable[[Settings], None]:
    return lambda s: save(paths.settings_file, s)


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


def run_gui(paths: AppPaths, settings: Settings, *, demo: bool, signing_secrets: list[str]) -> int:
    instance: SingleInstance | None = None
    if settings.notifications.single_instance:
        make_app()
        instance = SingleInstance(paths.data_dir)
        if not instance.claim():
            what = "was brought to the front" if instance.answered else "did not answer; it may be busy"
            print(f"Pilot Desktop is already running on {paths.data_dir}; its window {what}.", flush=True)
            return 0
    try:
        return run_on_qt(lambda: _main(paths, settings, demo, signing_secrets, instance))
    finally:
        if instance is not None:
            instance.close()

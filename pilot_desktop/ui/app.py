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
from pilot_desktop.services.demo import (
    Demo,
    DemoError,
    demo_paths,
    demo_settings,
    reset_demo_store,
    start_demo,
)
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.runtime import ReceiverStartError, Runtime
from pilot_desktop.services.secrets import MemorySecrets, open_secrets
from pilot_desktop.services.settings import Settings, save
from pilot_desktop.store import queries
from pilot_desktop.store.db import StoreError, connect
from pilot_desktop.ui import crash, messages
from pilot_desktop.ui.loop import QtLoop
from pilot_desktop.ui.main_window import ICON, MainWindow
from pilot_desktop.ui.panes.webhooks.pane import PaneContext, WebhooksPane


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
    window.status.set_receiver(None if receiver_error else runtime.hook_url, receiver_error)
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
        runtime.writer.subscribe(window.live.on_changes)
        runtime.writer.subscribe(window.status.on_changes)
    return window


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
    )


def stop_window(window: MainWindow, runtime: Runtime) -> None:
    """Detach the window from the core, then stop its timers and close its connections."""
    if runtime.writer is not None:
        if window.live is not None:
            runtime.writer.unsubscribe(window.live.on_changes)
        runtime.writer.unsubscribe(window.status.on_changes)
    window.shutdown()


async def _main(paths: AppPaths, settings: Settings, demo: bool, signing_secrets: list[str]) -> int:
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
    attach_webhooks(
        window,
        runtime,
        accounts,
        profile_accounts=profile if demo else None,
        secret_lookup=_console_secret(sandbox.sandbox) if sandbox else None,
    )
    closed = asyncio.Event()
    window.window_did_close.connect(closed.set)
    loop = asyncio.get_running_loop()
    # Ctrl+C / SIGTERM get the same staged shutdown as closing the window. Python runs
    # the handler when Qt next calls into Python (the panes' timers tick often).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(closed.set))
    window.show()
    if runtime.bound is not None:
        print(f"Listening: {runtime.hook_url}", flush=True)  # for terminals and scripts
    if window.live is not None:
        await window.live.load()
    settle_heap()
    await closed.wait()
    try:
        if sandbox is not None:
            await sandbox.stop()  # no more deliveries before the receiver drains
    finally:
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
    return run_on_qt(lambda: _main(paths, settings, demo, signing_secrets))

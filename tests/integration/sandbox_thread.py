"""A real `Sandbox` (the local Pilot Status platform) on its own event loop in a thread.

CLI tests run `pilot-desktop` as blocking subprocesses; the sandbox must keep answering
them over loopback meanwhile, so it cannot share the test's thread. Everything that
touches the sandbox's state runs on its loop (`call`), never from the test thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pilot_desktop.sandbox.server import Sandbox

T = TypeVar("T")
TIMEOUT_S = 30.0


class SandboxThread:
    def __init__(self, **options: Any) -> None:
        options.setdefault("seed", 1)
        options.setdefault("numbers", 3)
        options.setdefault("time_scale", 0.0)  # no organic traffic: only what a test emits
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sandbox-loop", daemon=True)
        self._thread.start()
        self.sandbox: Sandbox = self.run(self._start(options))

    async def _start(self, options: dict[str, Any]) -> Sandbox:
        sandbox = Sandbox(**options)
        await sandbox.start()
        return sandbox

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the sandbox's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT_S)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn()` on the sandbox's loop (state reads, `emit`) and return its result."""

        async def wrapper() -> T:
            return fn()

        result: T = self.run(wrapper())
        return result

    def wait_for(self, predicate: Callable[[Sandbox], Any], within: float = 15.0, what: str = "it") -> Any:
        deadline = time.monotonic() + within
        while True:
            value = self.call(lambda: predicate(self.sandbox))
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within} s waiting for {what}")
            time.sleep(0.05)

    def stop(self) -> None:
        try:
            self.run(self.sandbox.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(TIMEOUT_S)
            self.loop.close()


@contextmanager
def running_sandbox(**options: Any) -> Iterator[SandboxThread]:
    thread = SandboxThread(**options)
    try:
        yield thread
    finally:
        thread.stop()

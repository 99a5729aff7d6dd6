"""One managed tunnel per data folder: a lease (a lock file in the folder, held for the run).

Two processes on one data folder (a window and `serve`, two `serve`s on other ports) share the
state file, the store's single `tunnel` row and the platform's webhooks. Only the process
holding the lease runs the tunnel, records it and writes `state.tunnel_url`; another one runs
none and tries to take the lease again every few seconds (services/tunnel.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = "tunnel.lock"
PID_NAME = "tunnel.pid"  # beside the lock: the lock file itself is truncated by each try


class Lease:
    def __init__(self, folder: Path | None) -> None:
        """`folder`: the data folder; None (a configuration in memory) is always held."""
        self._lock = (
            FileLock(folder / LOCK_NAME, timeout=0, mode=0o600, thread_local=False)
            if folder is not None
            else None
        )
        self._pid_file = folder / PID_NAME if folder is not None else None
        self.held = folder is None

    def take(self) -> bool:
        """Take the lease if nobody holds it; True when this process holds it now."""
        if self.held or self._lock is None:
            return self.held
        try:
            self._lock.acquire(timeout=0)
        except (Timeout, OSError):
            return False
        self.held = True
        if self._pid_file is not None:
            with contextlib.suppress(OSError):
                _write_private(self._pid_file, str(os.getpid()))
        return True

    def holder(self) -> int | None:
        """The pid of the process holding it, as it wrote it (None: not known)."""
        if self._pid_file is None:
            return None
        try:
            return int(self._pid_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def taken_sentence(self) -> str:
        """Why this process runs no tunnel, naming the one that does."""
        holder = self.holder()
        who = f" (pid {holder})" if holder else ""
        return f"Another Pilot Desktop on this data folder{who} runs the tunnel."

    async def wait(self, every_s: float) -> None:
        """Until this process holds it: tried every `every_s` (a lock held by another process
        has nothing to wait on but the clock)."""
        while True:
            if self.take():
                return
            await asyncio.sleep(every_s)

    def release(self) -> None:
        if self._lock is not None and self.held:
            self.held = False
            with contextlib.suppress(OSError):
                self._lock.release(force=True)


def _write_private(path: Path, text: str) -> None:
    """Readable by this user only, like everything in the data folder (services/private.py)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        os.fchmod(f.fileno(), 0o600)  # an older file kept its mode through O_CREAT
        f.write(text)

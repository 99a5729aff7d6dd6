"""A tunnel program run with the receiver: started, watched, restarted, stopped.

`CommandTunnel` starts the argv (tunnel/providers.command_line) in a session of its own,
reads stdout and stderr line by line for the public URL (providers.find_public_url) and
keeps the last lines, secrets masked. A program that exits, or prints no URL within
`url_timeout_s`, is restarted after a backoff (the URL it prints next is reported, as a
quick tunnel's URL changes on every start); the backoff starts over after 5 minutes up. A
program that is not installed is a "failed" state naming where to get it, tried again
every minute. `stop()` ends the whole process group (SIGTERM, SIGKILL after the grace) and
reaps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Sequence

from pilot_desktop.tunnel.providers import (
    StatusTeller,
    TunnelStatus,
    find_public_url,
    mask_secrets,
    needs_operator,
    not_installed_sentence,
    secret_values,
)

log = logging.getLogger(__name__)

LINE_MAX = 2000  # characters kept of one output line
READ_CHUNK = 64 * 1024
BACKOFF_RESET_S = 300.0  # up this long: the next failure starts the backoff over
NOT_INSTALLED_RETRY_S = 60.0
DRAIN_S = 1.0  # for the last output after the program exited
_BARE_LABEL = re.compile(r"\W*[A-Za-z]{0,8}\W*")  # "ERROR:", "---": says nothing
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # colour and cursor codes


class _Run:
    """One start of the program: why it ended and how long it was up."""

    def __init__(self) -> None:
        self.url_seen = asyncio.Event()
        self.stuck = asyncio.Event()  # it said it cannot work until the operator acts
        self.stuck_sentence = ""
        self.up_at: float | None = None
        self.last_line = ""  # the last line that says something (not a bare "ERROR:")


class CommandTunnel:
    def __init__(
        self,
        mode: str,
        argv: list[str],
        *,
        local_url: str,
        on_change: Callable[[TunnelStatus], None],
        backoff: Sequence[float] = (1, 2, 4, 8, 15, 30, 60),
        url_timeout_s: float = 45.0,
        stop_grace_s: float = 5.0,
    ) -> None:
        if not argv:
            raise ValueError("a tunnel command needs a program")
        self.mode = mode
        self.argv = list(argv)
        self.local_url = local_url
        self.backoff = tuple(backoff) or (1.0,)
        self.url_timeout_s = url_timeout_s
        self.stop_grace_s = stop_grace_s
        self._secrets = secret_values(argv)
        self._teller = StatusTeller(TunnelStatus(mode, "off", None), on_change)
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._launched: asyncio.Future[None] | None = None
        self._starts = 0

    @property
    def status(self) -> TunnelStatus:
        return self._teller.status

    @property
    def program(self) -> str:
        return os.path.basename(self.argv[0])

    # -- control ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Launch the program (or note that it cannot be); returns without waiting for the URL."""
        if self._task is not None and not self._task.done():
            return
        loop = asyncio.get_running_loop()
        self._launched = loop.create_future()
        self._task = loop.create_task(self._runner(), name=f"tunnel {self.program}")
        await asyncio.wait({self._launched, self._task}, return_when=asyncio.FIRST_COMPLETED)

    async def restart(self) -> None:
        """On demand: stop what runs now, start at once, backoff from the start."""
        await self._halt()
        await self.start()

    async def stop(self) -> None:
        """Terminate the program's process group; state "stopped". Idempotent."""
        await self._halt()
        self._teller.close()
        if self.status.state != "stopped":
            self._teller.set(state="stopped", public_url=None, pid=None, error=None)

    async def _halt(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        proc, self._proc = self._proc, None
        if proc is not None:  # the runner was cancelled before it could end it
            await self._end(proc)

    # -- the runner -------------------------------------------------------------------------

    async def _runner(self) -> None:
        failures = 0
        try:
            while True:
                run = _Run()
                reason = await self._run_once(run)
                if reason is None:  # not installed, needs the operator: failed, told; slow retry
                    await asyncio.sleep(NOT_INSTALLED_RETRY_S)
                    continue
                if run.up_at is not None and time.monotonic() - run.up_at >= BACKOFF_RESET_S:
                    failures = 0
                delay = self.backoff[min(failures, len(self.backoff) - 1)]
                failures += 1
                self._teller.set(
                    state="restarting",
                    public_url=None,
                    pid=None,
                    error=f"{reason}; starting it again in {delay:g} s.",
                )
                await asyncio.sleep(delay)
        except Exception as exc:  # a bug here must not leave a silent, dead tunnel
            log.exception("the tunnel runner for %s failed", self.program)
            self._teller.set(state="failed", public_url=None, pid=None, error=f"The tunnel stopped: {exc!r}.")
        finally:
            self._set_launched()

    def _set_launched(self) -> None:
        if self._launched is not None and not self._launched.done():
            self._launched.set_result(None)

    async def _run_once(self, run: _Run) -> str | None:
        """Start the program once and watch it until it ends; the reason it ended, or None
        when it could not be started or said it needs the operator (the failed state is set)."""
        restarts = self._starts
        self._starts += 1
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: stop() ends its children too
            )
        except FileNotFoundError:
            self._teller.set(
                state="failed",
                public_url=None,
                pid=None,
                restarts=restarts,
                error=not_installed_sentence(self.mode, self.program),
            )
            self._set_launched()
            return None
        except OSError as exc:  # not executable, a bad interpreter line, ...
            why = exc.strerror or str(exc)
            self._teller.set(
                state="failed",
                public_url=None,
                pid=None,
                restarts=restarts,
                error=f"{self.program} could not be started: {why}. Check the tunnel command.",
            )
            self._set_launched()
            return None
        self._proc = proc
        self._teller.set(state="starting", public_url=None, pid=proc.pid, error=None, restarts=restarts)
        self._set_launched()
        readers = [
            asyncio.create_task(self._read(stream, run))
            for stream in (proc.stdout, proc.stderr)
            if stream is not None
        ]
        exited = asyncio.create_task(proc.wait())
        try:
            reason = await self._watch(proc, run, exited)
        finally:
            if not exited.done():
                await self._end(proc)
            else:
                self._kill_group(proc.pid)  # what it left behind
            self._proc = None
            await self._drain(readers)
            exited.cancel()
        if reason is None:
            self._teller.set(state="failed", public_url=None, pid=None, error=run.stuck_sentence)
        return reason

    async def _watch(
        self, proc: asyncio.subprocess.Process, run: _Run, exited: asyncio.Task[int]
    ) -> str | None:
        seen = asyncio.create_task(run.url_seen.wait())
        stuck = asyncio.create_task(run.stuck.wait())
        try:
            await asyncio.wait(
                {seen, stuck, exited}, timeout=self.url_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            seen.cancel()
            stuck.cancel()
        if run.stuck.is_set():
            return None
        if not run.url_seen.is_set() and not exited.done():
            return f"{self.program} printed no public URL within {self.url_timeout_s:g} s"
        code = await exited
        last = f" (last output: {run.last_line[:200]})" if run.last_line else ""
        before = "" if run.url_seen.is_set() else " before printing a public URL"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"{self.program} was stopped by {name}{before}{last}"
        return f"{self.program} exited with code {code}{before}{last}"

    async def _read(self, stream: asyncio.StreamReader, run: _Run) -> None:
        """Split `stream` into lines (\\n or \\r), each cut at LINE_MAX characters however long
        it is, and look at each."""
        buf = b""
        skipping = False  # in the rest of a line already cut
        while True:
            chunk = await stream.read(READ_CHUNK)
            if not chunk:
                if buf and not skipping:
                    self._line(buf, run)
                return
            buf += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            while True:
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) > LINE_MAX * 4:  # bytes: up to 4 per character
                        if not skipping:
                            self._line(buf, run)
                        skipping, buf = True, b""
                    break
                if not skipping:
                    self._line(buf[:end], run)
                skipping, buf = False, buf[end + 1 :]

    def _line(self, raw: bytes, run: _Run) -> None:
        text = _ANSI.sub("", raw.decode("utf-8", errors="replace"))
        text = "".join(c if c.isprintable() else " " for c in text).rstrip()
        if len(text) > LINE_MAX:
            text = text[: LINE_MAX - 1] + "…"
        if not text:
            return
        shown = mask_secrets(text, self._secrets)
        self._teller.line(shown)
        if _BARE_LABEL.fullmatch(text) is None:
            run.last_line = shown
        if run.url_seen.is_set() or run.stuck.is_set():
            return
        if (sentence := needs_operator(text, self.mode)) is not None:
            run.stuck_sentence = sentence
            run.stuck.set()
            return
        url = find_public_url(text, self.mode, self.local_url)
        if url is not None:
            run.url_seen.set()
            run.up_at = time.monotonic()
            self._teller.set(state="up", public_url=url, error=None)

    async def _drain(self, readers: list[asyncio.Task[None]]) -> None:
        """Let the readers take the last output; a grandchild holding the pipes open does
        not hold us."""
        _done, pending = await asyncio.wait(readers, timeout=DRAIN_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

    async def _end(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM to the process group, SIGKILL after the grace; always reaped."""
        if proc.returncode is None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), self.stop_grace_s)
            except TimeoutError:
                log.warning("%s did not stop within %g s; killing it", self.program, self.stop_grace_s)
        self._kill_group(proc.pid)
        if proc.returncode is None:
            proc.kill()
        await proc.wait()

    def _signal_group(self, proc: asyncio.subprocess.Process, sig: int) -> None:
        if sys.platform == "win32":
            proc.terminate()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _kill_group(self, pgid: int) -> None:
        if sys.platform != "win32":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)

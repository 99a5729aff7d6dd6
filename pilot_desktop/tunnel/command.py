"""A tunnel program run with the receiver: started, watched, restarted, stopped.

`CommandTunnel` starts the argv (tunnel/providers.command_line) in a session of its own and
reads stdout and stderr in chunks: the last lines are kept raw in a bounded ring, cleaned
and secret-masked only when the output is told (at most once a second); only lines holding
"http" are searched for the public URL (providers.find_public_url), and at most
`READ_BUDGET` bytes a second are looked at (beyond that, output is read slowly and
dropped, with a line saying so): a chatty program cannot take the event loop. A different
URL printed later (the program reconnected) becomes the public URL. A program that exits,
or prints no URL within `url_timeout_s`, is restarted after a backoff (the URL it prints
next is reported, as a quick tunnel's URL changes on every start); the backoff starts over
after 5 minutes up. A program that is not installed is a "failed" state naming where to
get it, tried again every minute. `stop()` and `restart()` end the whole process group:
SIGTERM, SIGKILL after `stop_grace_s`, always reaped.
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
from collections import deque
from collections.abc import Callable, Sequence

from pilot_desktop.tunnel.providers import (
    OPERATOR_RETRY_S,
    OUTPUT_LINES,
    PRESETS,
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
READ_BUDGET = 256 * 1024  # output bytes looked at per second; more is read slowly, dropped
SKIP_PACE_S = 0.01  # over the budget: one chunk read (and dropped) per 10 ms
URL_LINES_OVER_BUDGET = 200  # lines holding "http" still searched per second over the budget
BACKOFF_RESET_S = 300.0  # up this long: the next failure starts the backoff over
NOT_INSTALLED_RETRY_S = OPERATOR_RETRY_S  # said in the sentence (providers.RETRIED)
DRAIN_S = 1.0  # for the last output after the program exited
_BARE_LABEL = re.compile(r"\W*[A-Za-z]{0,8}\W*")  # "ERROR:", "---": says nothing
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # colour and cursor codes
_HTTP = re.compile(rb"(?i)http")


class _Run:
    """One start of the program: why it ended and how long it was up."""

    def __init__(self) -> None:
        self.url_seen = asyncio.Event()
        self.stuck = asyncio.Event()  # it said it cannot work until the operator acts
        self.stuck_sentence = ""
        self.up_at: float | None = None
        self.first_line = 0  # the count of output lines when it started


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
        self._raw: deque[bytes] = deque(maxlen=OUTPUT_LINES)  # the last lines, as read
        self._raw_count = 0  # lines ever put in `_raw`
        self._shown: dict[bytes, str] = {}  # raw line -> cleaned and masked, for the last told
        self._asks_operator = bool(PRESETS[mode].needs_operator) if mode in PRESETS else False
        self._teller = StatusTeller(TunnelStatus(mode, "off", None), on_change, output=self._output)
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
        run.first_line = self._raw_count
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
            # Cancelled (stop, restart) while waiting: `exited` may be cancelled too, the
            # program still running: it gets SIGTERM and the grace, not a SIGKILL at once.
            if exited.cancelled() or proc.returncode is None:
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
        code = await asyncio.shield(exited)  # a cancel must not end the wait for the exit
        last_line = self._last_line(run)
        last = f" (last output: {last_line[:200]})" if last_line else ""
        before = "" if run.url_seen.is_set() else " before printing a public URL"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"{self.program} was stopped by {name}{before}{last}"
        return f"{self.program} exited with code {code}{before}{last}"

    async def _read(self, stream: asyncio.StreamReader, run: _Run) -> None:
        """Take `stream` in chunks: complete lines (\\n or \\r) to `_take`, a line longer
        than LINE_MAX characters cut; at most READ_BUDGET bytes a second, the rest dropped."""
        tail = b""  # the unfinished last line
        cut = False  # in the rest of a line already cut (or dropped): skipped to its end
        window, used, urls, dropped = time.monotonic(), 0, 0, 0
        while chunk := await stream.read(READ_CHUNK):
            now = time.monotonic()
            if now - window >= 1.0:
                window, used, urls = now, 0, 0
            if used == READ_BUDGET:  # the first chunk dropped in this second: say so
                used += 1
                kib = READ_BUDGET // 1024
                self._keep(
                    [f"[output dropped: more than {kib} KiB a second, {dropped} bytes so far]".encode()]
                )
            if used >= READ_BUDGET:
                dropped += len(chunk)
                tail, cut = b"", True
                if urls < URL_LINES_OVER_BUDGET and _HTTP.search(chunk) is not None:
                    # Even in a flood the URL is looked for, in a bounded number of lines.
                    lines = [x[: LINE_MAX * 4] for x in chunk.split(b"\n") if _HTTP.search(x)]
                    lines = lines[: URL_LINES_OVER_BUDGET - urls]
                    urls += len(lines)
                    self._keep(lines)
                    for line in lines:
                        self._match(clean_line(line), run)
                await asyncio.sleep(SKIP_PACE_S)  # a flood waits on its pipe, not on us
                continue
            used = min(used + len(chunk), READ_BUDGET)
            tail, cut = self._take(tail + chunk, cut, run)
        if tail and not cut:
            self._take(tail + b"\n", False, run)

    def _take(self, data: bytes, cut: bool, run: _Run) -> tuple[bytes, bool]:
        """Keep the complete lines of `data`, search those holding "http" for the URL (no other
        work per line); answers the unfinished rest and whether it is a cut line's."""
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        rest = lines.pop()
        if cut and lines:
            lines[0], cut = b"", False  # the end of the cut line
        if len(rest) > LINE_MAX * 4:  # bytes: up to 4 per character
            if not cut:
                lines.append(rest)
            rest, cut = b"", True
        elif cut:
            rest = b""
        if lines and max(map(len, lines)) > LINE_MAX * 4:
            lines = [line[: LINE_MAX * 4] for line in lines]
        self._keep(lines)
        if run.stuck.is_set() or not lines:
            return rest, cut
        if self._asks_operator and not run.url_seen.is_set():
            text = b"\n".join(lines).decode("utf-8", errors="replace")
            if (sentence := needs_operator(text, self.mode)) is not None:
                run.stuck_sentence = sentence
                run.stuck.set()
                return rest, cut
        if _HTTP.search(data) is not None:
            for line in lines:
                if _HTTP.search(line) is not None:
                    self._match(clean_line(line), run)
        return rest, cut

    def _match(self, text: str, run: _Run) -> None:
        url = find_public_url(text, self.mode, self.local_url)
        if url is None:
            return
        if not run.url_seen.is_set():
            run.url_seen.set()
            run.up_at = time.monotonic()
            self._teller.set(state="up", public_url=url, error=None)
        elif url != self.status.public_url:  # it reconnected under another URL
            self._teller.set(public_url=url)

    def _keep(self, lines: list[bytes]) -> None:
        lines = [line for line in lines if line.strip()]
        if lines:
            self._raw.extend(lines)
            self._raw_count += len(lines)
            self._teller.output_changed()

    def _output(self) -> tuple[str, ...]:
        """The kept lines cleaned and masked; only lines not shown last time cost work."""
        before, self._shown = self._shown, {}
        for raw in self._raw:
            shown = before.get(raw)
            if shown is None:
                shown = mask_secrets(clean_line(raw), self._secrets)
            self._shown[raw] = shown
        return tuple(shown for raw in self._raw if (shown := self._shown[raw]))

    def _last_line(self, run: _Run) -> str:
        """The last line of this run that says something (not a bare "ERROR:"), masked."""
        mine = min(self._raw_count - run.first_line, len(self._raw))
        for i in range(len(self._raw) - 1, len(self._raw) - 1 - mine, -1):
            text = clean_line(self._raw[i])
            if text and _BARE_LABEL.fullmatch(text) is None:
                return mask_secrets(text, self._secrets)
        return ""

    async def _drain(self, readers: list[asyncio.Task[None]]) -> None:
        """Let the readers take the last output (a grandchild holding the pipes: not waited)."""
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


def clean_line(raw: bytes) -> str:
    """An output line as shown: decoded, colour and control codes out, cut at LINE_MAX."""
    text = _ANSI.sub("", raw.decode("utf-8", errors="replace"))
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in text)
    text = text.rstrip()
    return text[: LINE_MAX - 1] + "…" if len(text) > LINE_MAX else text

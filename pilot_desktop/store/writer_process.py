"""The writer process: the store's write transactions off the app's GIL.

The receiver's loop (aiohttp under qasync) and a writer thread shared one GIL: the
writer's Python work (rows, projections) and every SQLite step's GIL hand-back came out
of the loop's time, and the app never used more than one core. In a process of its own
the writer runs beside the loop (bench/ingest.py measures both ways).

`WriterProcess` is the app's side. `send(group)` pickles a group of items down a pipe and
returns; the child reads whatever groups have arrived (up to `max_batch` items), writes
them in one transaction, and answers with the results of that many items. Batches form
in the child while it commits, as they formed in the writer thread before. A thread here
reads the answers and hands them to `resolve`, in sending order. At most 2 x `max_batch`
items are in flight, so the queue in front of it stays the bound on memory.

- The child is spawned, never forked: a forked Qt process is not safe.
- It ignores SIGINT, SIGTERM and SIGHUP (Ctrl+C or a service stop reaches the whole
  process group): the app drains it and then tells it to stop. It also ends when the
  app's end of the pipe closes, so a killed app leaves no writer behind.
- If it dies, whether its last batch was committed is unknown: everything in flight is
  answered with a StoreError (503, the sender retries; a stored redelivery only bumps a
  counter) and a new child starts. One that keeps dying (more than RESTARTS times within
  RESTART_WINDOW_S) stops the writer: `fatal` is called and `failed` says why.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pilot_desktop.store.batches import BatchWriter, Item
from pilot_desktop.store.db import StoreError, connect
from pilot_desktop.store.records import Changes

log = logging.getLogger(__name__)

RESTARTS = 3
RESTART_WINDOW_S = 60.0
STOP_TIMEOUT_S = 30.0
_STOP = None

Resolve = Callable[[list[Any], list[Any], Changes], None]  # (sent entries, results, changes)


class WriterProcess:
    def __init__(
        self,
        path: Path,
        resolve: Resolve,
        fatal: Callable[[StoreError], None],
        *,
        projections: bool,
        max_batch: int,
    ) -> None:
        self.path = path
        self._resolve = resolve
        self._fatal = fatal
        self._projections = projections
        self._max_batch = max_batch
        self.seconds = {"store": 0.0, "project": 0.0, "commit": 0.0}  # the child's, summed
        self.last_error: str | None = None
        self.failed: StoreError | None = None
        self._lock = threading.Lock()  # the in-flight entries and the pipe
        self._in_flight: collections.deque[Any] = collections.deque()
        self._room = threading.Semaphore(2 * max_batch)
        self._deaths: list[float] = []
        self._finishing = False
        self._proc: Any = None
        self._pipe: Connection | None = None
        self._spawn()
        self._reader = threading.Thread(target=self._read_answers, name="store-writer-answers", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    def _spawn(self) -> None:  # under _lock, or before the reader starts
        ctx = multiprocessing.get_context("spawn")
        parent_end, child_end = ctx.Pipe()
        proc = ctx.Process(
            target=serve,
            args=(str(self.path), child_end, self._projections, self._max_batch),
            name="pilot-desktop-writer",
            daemon=True,  # ended at exit if close() never ran
        )
        proc.start()
        child_end.close()  # so the child's death reads as EOF here
        self._pipe, self._proc = parent_end, proc

    # -- the feeder thread --------------------------------------------------------------

    def send(self, entries: list[Any], items: list[Item]) -> None:
        """Hand a group to the child; its results come back through `resolve`."""
        for _ in entries:
            self._room.acquire()
        with self._lock:
            failed, pipe = self.failed, self._pipe
            if failed is None:
                self._in_flight.extend(entries)
        if failed is not None or pipe is None:
            self._release(len(entries))
            err = failed or StoreError("the store writer process is stopped")
            self._resolve(entries, [err] * len(entries), Changes())
            return
        # A broken pipe means the child died: the reader fails what is in flight, these
        # too if it has not yet (if it has, they were failed with the rest).
        with contextlib.suppress(OSError):
            pipe.send(items)

    def finish(self) -> None:
        """After the last send: let the child write what it has, stop, and wait for it."""
        with self._lock:
            self._finishing = True
            pipe = self._pipe
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.send(_STOP)
        self._reader.join(STOP_TIMEOUT_S + 5)
        proc = self._proc
        if proc is not None:
            proc.join(STOP_TIMEOUT_S)
            if proc.is_alive():
                log.error("the store writer process did not stop; terminating it")
                proc.terminate()
                proc.join(5)

    def _release(self, n: int) -> None:
        for _ in range(n):
            self._room.release()

    # -- the answer thread --------------------------------------------------------------

    def _read_answers(self) -> None:
        while True:
            pipe = self._pipe
            assert pipe is not None
            try:
                kind, detail = pipe.recv()  # the handshake
                if kind != "ready":
                    raise StoreError(detail or "the store writer process could not start")
                while True:
                    self._answer(pipe.recv())
            except (EOFError, OSError):
                with self._lock:
                    if self._finishing and not self._in_flight:
                        return  # the end we asked for
                if not self._died():
                    return
            except StoreError as exc:
                self._give_up(exc)
                return

    def _answer(
        self, answer: tuple[int, list[Any], Changes, dict[str, float], str | None, list[Any]]
    ) -> None:
        count, results, changes, seconds, last_error, records = answer
        for level, name, message in records:
            logging.getLogger(name).log(level, "%s", message)
        for key, value in seconds.items():
            self.seconds[key] += value
        self.last_error = last_error
        with self._lock:
            entries = [self._in_flight.popleft() for _ in range(count)]
        self._release(count)
        self._resolve(entries, results, changes)

    def _died(self) -> bool:
        """Fail what was in flight; start a new child (True) or give up (False)."""
        proc = self._proc
        proc.join(5)
        err = StoreError(
            f"The store writer process stopped (exit code {proc.exitcode}); the requests it "
            "was writing were answered 503 and will be retried."
        )
        log.error("%s", err)
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW_S] + [now]
        if len(self._deaths) > RESTARTS:
            self._give_up(
                StoreError(
                    f"The store writer process stopped {len(self._deaths)} times within "
                    f"{RESTART_WINDOW_S:.0f} s; nothing more is stored. See the log."
                )
            )
            return False
        with self._lock:
            lost = list(self._in_flight)
            self._in_flight.clear()
            if self._finishing:
                self._pipe = None
            else:
                self._spawn()
        self.last_error = str(err)  # until the new child's first answer
        self._release(len(lost))
        self._resolve(lost, [err] * len(lost), Changes())
        return not self._finishing

    def _give_up(self, err: StoreError) -> None:
        log.error("%s", err)
        with self._lock:
            self.failed = err
            lost = list(self._in_flight)
            self._in_flight.clear()
            self._pipe = None
        self.last_error = str(err)
        self._release(len(lost))
        self._resolve(lost, [err] * len(lost), Changes())
        self._fatal(err)


# -- the child ----------------------------------------------------------------------------


class _Collect(logging.Handler):
    """The child's log records, sent back with each answer and logged by the app."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[int, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append((record.levelno, record.name, text))


def serve(path: str, pipe: Connection, projections: bool, max_batch: int) -> None:
    """The child's main: write what has arrived, answer, repeat; until told to stop or orphaned."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    logging.getLogger().setLevel(logging.INFO)
    try:
        conn = connect(Path(path), durable=True)
    except StoreError as exc:
        pipe.send(("failed", str(exc)))
        return
    writer = BatchWriter(Path(path), conn, projections=projections)
    pipe.send(("ready", None))
    pending: list[Item] = []
    stopping = False
    try:
        while pending or not stopping:
            try:
                # Block for the first group; then take what else has arrived meanwhile.
                while not stopping and (not pending or (len(pending) < max_batch and pipe.poll())):
                    group = pipe.recv()
                    if group is _STOP:
                        stopping = True
                    else:
                        pending.extend(group)
            except EOFError:
                return  # the app is gone: nobody waits for an answer
            if not pending:
                break
            batch, pending = pending[:max_batch], pending[max_batch:]
            before = dict(writer.seconds)
            results, changes = writer.write(batch)
            spent = {k: v - before[k] for k, v in writer.seconds.items()}
            pipe.send((len(batch), results, changes, spent, writer.last_error, collect.records))
            collect.records = []
    finally:
        conn.close()

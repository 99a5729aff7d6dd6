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
- The child checks the store before its first write and after every batch (integrity.py):
  damage found (at start, by the background check of a big store, by a statement, or files
  removed or replaced under it) is final. The batch is answered with the error, `fatal` is
  called, no child is started again, and the child leaves without closing its connection
  (closing would checkpoint the WAL into the damaged file).
- A lock or another passing problem met at the child's start is not final: the child
  (writer_child.py) answers 503 with it and tries again until it goes; only damage, a
  read-only file or a newer schema stop the writer at the handshake.
- A problem repeated batch after batch (a full disk) is logged once, then counted
  (repeats.py) per kind of problem, and its end is said.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Hashable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pilot_desktop.store.batches import Item
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.errors import DatabaseCorrupt
from pilot_desktop.store.records import Changes
from pilot_desktop.store.repeats import Repeats
from pilot_desktop.store.writer_child import STOP, serve

log = logging.getLogger(__name__)

RESTARTS = 3
RESTART_WINDOW_S = 60.0
STOP_TIMEOUT_S = 30.0

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
        self.problem: StoreError | None = None  # what last_error says, as an error
        self.failed: StoreError | None = None
        self._repeats = Repeats()
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
                pipe.send(STOP)
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
                if kind != "ready":  # final (damaged, read-only, too new): no new child
                    raise detail if isinstance(detail, StoreError) else StoreError(str(detail))
                if detail is not None:  # e.g. locked by another program at start; a death
                    self._set_problem(detail)  # is said until the new child's first answer
                while True:
                    kind, detail = pipe.recv()
                    if kind == "answer":
                        self._answer(detail)
                    elif kind == "failed":  # found final once a passing problem at start went
                        raise detail
                    else:  # "damaged" (the background check); "problem": the start's is over
                        self._set_problem(detail)
                    if isinstance(self.problem, DatabaseCorrupt):  # final: no new child
                        raise self.problem
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
        self, answer: tuple[int, list[Any], Changes, dict[str, float], StoreError | None, list[Any]]
    ) -> None:
        count, results, changes, seconds, problem, records = answer
        kind = _kind(problem)  # a new kind of problem (locked, then full) is logged at once
        for level, name, template, message in records:
            self._repeats.log(logging.getLogger(name), level, (name, template, kind), "%s", message)
        for key, value in seconds.items():
            self.seconds[key] += value
        self._set_problem(problem)
        with self._lock:
            entries = [self._in_flight.popleft() for _ in range(count)]
        self._release(count)
        self._resolve(entries, results, changes)

    def _set_problem(self, problem: StoreError | None) -> None:
        if problem is None and self.problem is not None:
            hidden = self._repeats.reset()
            more = f"; {hidden:,} repeated messages about it were not logged" if hidden else ""
            log.info("storing works again (it failed: %s)%s", self.problem.reason, more)
        self.problem = problem
        self.last_error = str(problem) if problem is not None else None

    def _died(self) -> bool:
        """Fail what was in flight; start a new child (True) or give up (False)."""
        proc = self._proc
        proc.join(5)
        err = StoreError(
            f"The store writer process stopped (exit code {proc.exitcode}); the requests it "
            "was writing were answered 503 and will be retried.",
            reason="the store writer process stopped; a new one takes over",
        )
        log.error("%s", err)
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW_S] + [now]
        if len(self._deaths) > RESTARTS:
            often = (
                f"the store writer process stopped {len(self._deaths)} times within {RESTART_WINDOW_S:.0f} s"
            )
            self._give_up(StoreError(f"The {often[4:]}; nothing more is stored. See the log.", reason=often))
            return False
        with self._lock:
            lost = list(self._in_flight)
            self._in_flight.clear()
            if self._finishing:
                self._pipe = None
            else:
                self._spawn()
        self.problem, self.last_error = err, str(err)  # until the new child's first answer
        self._release(len(lost))
        self._resolve(lost, [err] * len(lost), Changes())
        return not self._finishing

    def _give_up(self, err: StoreError) -> None:
        log.error("%s", err)
        with self._lock:
            self.failed = err
            lost = list(self._in_flight)
            self._in_flight.clear()
            pipe, self._pipe = self._pipe, None
        if pipe is not None:  # the child ends at this EOF (an error's traceback may hold the pipe)
            with contextlib.suppress(OSError):
                pipe.close()
        self.problem, self.last_error = err, str(err)
        self._release(len(lost))
        self._resolve(lost, [err] * len(lost), Changes())
        self._fatal(err)


def _kind(problem: StoreError | None) -> Hashable:
    return None if problem is None else (type(problem).__name__, problem.reason)

"""The single writer: group commit, acknowledgements after COMMIT.

Handlers put `(item, future)` on a bounded queue and await the future. A feeder thread
takes one item, gathers what else is queued (up to `max_batch`, waiting up to `window`
seconds for more), has the batch written in one transaction and, after COMMIT, wakes the
loop once per batch to resolve the futures and publish one `Changes` descriptor.

The transaction runs in the writer process (writer_process.py), off the loop's GIL; with
`process=False` it runs on the feeder thread itself (tests that want no child, tools).

The default window is 0 ("natural" group commit): under load the queue fills while the
previous COMMIT runs, so batches form by themselves (~40 rows at 64 connections), and a
lone request does not wait. bench/ingest.py: same throughput as a 1 ms window, lone p50
0.8 ms instead of 2.0 ms. A full queue is refused at once (`Overloaded`), so
the receiver answers 503 and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pilot_desktop.store.batches import BatchWriter, Item
from pilot_desktop.store.db import StoreError, connect
from pilot_desktop.store.records import Changes, Refused, Stored, item_bytes
from pilot_desktop.store.writer_process import WriterProcess

log = logging.getLogger(__name__)

_STOP = object()
Entry = tuple[Item, "asyncio.Future[Stored | Refused | int | None]"]


class _InThread:
    """BatchWriter on the feeder thread itself, with a connection of its own."""

    def __init__(
        self, path: Path, resolve: Callable[[list[Entry], list[Any], Changes], None], *, projections: bool
    ) -> None:
        conn = connect(path, check_same_thread=False, durable=True)
        self._batches = BatchWriter(path, conn, projections=projections)
        self._resolve = resolve
        self.seconds = self._batches.seconds
        self.failed: StoreError | None = None
        self.problem: StoreError | None = None

    @property
    def last_error(self) -> str | None:
        return self._batches.last_error

    def send(self, entries: list[Entry], items: list[Item]) -> None:
        results, changes = self._batches.write(items)
        self.problem = next((r for r in results if isinstance(r, StoreError)), None)
        self._resolve(entries, results, changes)

    def finish(self) -> None:
        self._batches.conn.close()


class Overloaded(Exception):
    """The write queue is full: answer 503 and let the sender retry."""


class WriterClosed(Exception):
    """The writer is draining or stopped and takes no new work."""


class Writer:
    def __init__(
        self,
        path: Path,
        loop: asyncio.AbstractEventLoop,
        *,
        max_queue: int = 4096,
        max_bytes: int = 64 * 1024 * 1024,
        max_batch: int = 256,
        projections: bool = True,
        process: bool = True,
    ) -> None:
        self.path = path
        self._loop = loop
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        # Bodies are up to 1 MiB each: bound the bytes waiting, not only the count.
        self._max_bytes = max_bytes
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self._max_batch = max_batch
        # Off only in bench/ingest.py, to measure what the projections cost; a store written
        # without them needs `pilot-desktop rebuild`.
        self._projections = projections
        self._process = process
        self._backend: WriterProcess | _InThread | None = None
        self._listeners: list[Callable[[Changes], None]] = []
        self._thread: threading.Thread | None = None
        self._accepting = False
        self.batches = 0  # counters for the status bar and benchmarks
        self.rows = 0
        self._stopped_error: str | None = None
        self._stopped: StoreError | None = None  # why the writer stopped (a damaged store...)

    # -- loop side -------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Changes], None]) -> None:
        """`listener` runs on the loop after each COMMIT that changed something."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Changes], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def start(self) -> None:
        if self._process:
            self._backend = WriterProcess(
                self.path,
                self._resolve,
                self._fatal,
                projections=self._projections,
                max_batch=self._max_batch,
            )
        else:
            self._backend = _InThread(self.path, self._resolve, projections=self._projections)
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    @property
    def seconds(self) -> dict[str, float]:
        """Wall seconds in each part of the transactions so far, for bench/ingest.py."""
        return self._backend.seconds if self._backend else {"store": 0.0, "project": 0.0, "commit": 0.0}

    @property
    def process_id(self) -> int | None:
        """The writer process's pid (None when writing on the thread)."""
        return self._backend.pid if isinstance(self._backend, WriterProcess) else None

    @property
    def last_error(self) -> str | None:
        if self._stopped_error is not None:
            return self._stopped_error
        return self._backend.last_error if self._backend else None

    @property
    def problem(self) -> StoreError | None:
        """What `last_error` says, as an error: its `reason` names no file (for /healthz)."""
        if self._stopped is not None:
            return self._stopped
        return getattr(self._backend, "problem", None)

    @property
    def queue_size(self) -> int:
        return self._queue.qsize()

    @property
    def alive(self) -> bool:
        thread, backend = self._thread, self._backend
        return thread is not None and thread.is_alive() and backend is not None and backend.failed is None

    @staticmethod
    def _size(item: Item) -> int:
        return item_bytes(item)  # body, headers and texts: all the queued item holds

    def submit(self, item: Item) -> asyncio.Future[Stored | Refused | int | None]:
        if not self._accepting:
            if self._stopped is not None:  # e.g. a damaged store: answered 503 with its reason
                failed: asyncio.Future[Stored | Refused | int | None] = self._loop.create_future()
                failed.set_exception(self._stopped.fresh())
                return failed
            raise WriterClosed("the store is shutting down")
        size = self._size(item)
        with self._bytes_lock:
            if self._queued_bytes + size > self._max_bytes:
                raise Overloaded(f"write queue holds {self._queued_bytes} bytes")
            self._queued_bytes += size
        fut: asyncio.Future[Stored | Refused | int | None] = self._loop.create_future()
        try:
            self._queue.put_nowait((item, fut))
        except queue.Full:
            with self._bytes_lock:
                self._queued_bytes -= size
            raise Overloaded(f"write queue full ({self._queue.maxsize} pending)") from None
        return fut

    async def stop(self) -> None:
        """Stop taking work, write everything already queued, close. Idempotent."""
        self._accepting = False
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop = asyncio.get_running_loop()
        if thread.is_alive():
            # put() waits while the queue is full (the thread is draining it): off the loop.
            await loop.run_in_executor(None, self._queue.put, _STOP)
            await loop.run_in_executor(None, thread.join)
        # Resolutions scheduled by the last batch run before this coroutine resumes
        # further, so every accepted request gets its answer.
        await asyncio.sleep(0)

    # -- feeder thread ---------------------------------------------------------------

    def _gather(self, first: Any) -> tuple[list[Entry], bool]:
        """`first` and whatever else is queued now, up to max_batch; True if a stop came."""
        group = [first]
        while len(group) < self._max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return group, True
            group.append(nxt)
        return group, False

    def _run(self) -> None:
        backend = self._backend
        assert backend is not None
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                if first is _STOP:
                    break
                group, stop = self._gather(first)
                backend.send(group, [item for item, _ in group])
            # Drain what was queued before stop() (submit refuses new work by now).
            rest = self._take_queued()
            for i in range(0, len(rest), self._max_batch):
                group = rest[i : i + self._max_batch]
                backend.send(group, [item for item, _ in group])
        except BaseException as exc:  # a bug: never leave handlers waiting forever
            log.exception("the store writer stopped")
            self._fatal(StoreError(f"the store writer stopped: {exc!r}"))
        finally:
            backend.finish()

    def _fatal(self, error: StoreError) -> None:
        """The writer cannot go on: refuse new work, answer what waits with `error`."""
        self._accepting = False
        self._stopped_error, self._stopped = str(error), error
        rest = self._take_queued()
        self._resolve(rest, [error] * len(rest), Changes())

    def _take_queued(self) -> list[Entry]:
        """Everything waiting in the queue now, stop markers left out."""
        taken: list[Entry] = []
        while True:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return taken
            if nxt is not _STOP:
                taken.append(nxt)

    def _resolve(self, entries: list[Entry], results: list[Any], changes: Changes) -> None:
        """After COMMIT (or a failure), from the thread that learnt it: wake the loop once."""
        if not entries:
            return
        self.batches += 1
        self.rows += len(entries)
        with self._bytes_lock:
            self._queued_bytes -= sum(self._size(item) for item, _ in entries)
        futures = [fut for _, fut in entries]
        # RuntimeError: the loop closed during shutdown; nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._deliver, futures, results, changes)

    # -- back on the loop ------------------------------------------------------------

    def _deliver(self, futures: list[asyncio.Future[Any]], results: list[Any], changes: Changes) -> None:
        for fut, res in zip(futures, results, strict=True):
            if fut.done():  # the client went away; the row is stored all the same
                continue
            if isinstance(res, StoreError):
                fut.set_exception(res)
            else:
                fut.set_result(res)
        if changes:
            for listener in list(self._listeners):
                try:
                    listener(changes)
                except Exception:
                    log.exception("change listener failed")

"""Records of refused requests, bounded per request and in total.

A client without the token must not turn each of its requests into megabytes of database
and memory. Each record keeps at most `HEADERS_KEPT` bytes of headers and `BODY_KEPT` of
body, with a note of what was cut (a header named `CUT_NOTE`; `body_size` keeps the size
sent). Records go to the writer within a byte budget (a token bucket: `RATE` per second,
`BURST` at once); past it, refused requests are only counted, and one summary record
("N more rejected requests not recorded") is written once the budget allows again. The
rejections table itself keeps its newest rows only (store/batches.py, REJECTIONS_KEPT).

What is costly to work out about a refusal (the signature diagnosis, core/diagnosis.py) is
computed only once the budget has room for its record (`submit(record, complete, cost)`),
and its work is charged to the same budget: a flood of bad signatures costs no more than
the records already did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from pilot_desktop.store.db import StoreError
from pilot_desktop.store.records import Rejection, item_bytes
from pilot_desktop.store.writer import Overloaded, Writer, WriterClosed

log = logging.getLogger(__name__)

HEADERS_KEPT = 4096  # bytes of header names and values kept per rejection
HEADER_VALUE_KEPT = 512
BODY_KEPT = 4096
CUT_NOTE = "x-pilot-desktop-cut"  # the pseudo-header saying what a record left out
RATE = 256 * 1024  # bytes of rejection records per second, sustained
BURST = 4 * 1024 * 1024  # bytes at once (a fuzz run or a burst of misconfigured senders)
SUMMARY_RETRY_S = 1.0
DIAGNOSIS_BYTES = 2048  # what a diagnosis adds to a record, about (the JSON, the hashing)
FIELD_KEPT = 256  # characters of a route or number id kept

Complete = Callable[[Rejection], Rejection]


def bounded_headers(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """At most HEADERS_KEPT bytes of headers, each value at most HEADER_VALUE_KEPT; a last
    `CUT_NOTE` pair says what was cut."""
    kept: list[tuple[str, str]] = []
    used = cut_values = dropped = dropped_bytes = 0
    for name, full in items:
        value = full[:HEADER_VALUE_KEPT]
        cut_values += len(value) < len(full)
        if used + len(name) + len(value) > HEADERS_KEPT:
            dropped += 1
            dropped_bytes += len(name) + len(full)
            continue
        kept.append((name[:HEADER_VALUE_KEPT], value))
        used += len(name) + len(value)
    notes = []
    if cut_values:
        notes.append(f"{cut_values} header value(s) cut to {HEADER_VALUE_KEPT} characters")
    if dropped:
        notes.append(f"{dropped} header(s) of {dropped_bytes} bytes not kept")
    if notes:
        kept.append((CUT_NOTE, "; ".join(notes)))
    return kept


def bounded_rejection(
    *,
    status: int,
    reason: str,
    method: str,
    path: str,
    remote: str | None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = None,
    body_size: int | None = None,
    route: str | None = None,
    number_id: str | None = None,
    delivery: bool = False,
) -> Rejection:
    kept_headers = bounded_headers(headers)
    if body is not None and len(body) > BODY_KEPT:
        note = f"body cut to its first {BODY_KEPT} of {len(body)} bytes"
        kept_headers.append((CUT_NOTE, note))
    return Rejection(
        received_at=time.time(),
        status=status,
        reason=reason[:1024],
        method=method[:32],
        path=path[:1024],
        remote=remote,
        headers=kept_headers,
        body=body[:BODY_KEPT] if body is not None else None,
        body_size=body_size if body_size is not None else (len(body) if body is not None else None),
        route=route[:FIELD_KEPT] if route is not None else None,
        number_id=number_id[:FIELD_KEPT] if number_id is not None else None,
        delivery=delivery,
    )


class RejectionLog:
    """Sends bounded rejection records to the writer within a byte budget."""

    def __init__(self, writer: Writer, *, rate: float = RATE, burst: float = BURST) -> None:
        self.writer = writer
        self.rate, self.burst = rate, burst
        self._tokens = burst
        self._refilled = time.monotonic()
        self.skipped: Counter[int] = Counter()  # status -> refused requests not recorded
        self._skipped_deliveries = 0  # of which webhook deliveries
        self._skipped_since: float | None = None
        self._retry: asyncio.TimerHandle | None = None

    def _take(self, size: int) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens < size:
            return False
        self._tokens -= size
        return True

    def submit(
        self, record: Rejection, complete: Complete | None = None, cost: int = 0
    ) -> asyncio.Future[Any] | None:
        """The writer's future for `record`, or None when it is only counted (over budget,
        writer busy or stopped). `complete(record)`, called only when the record is kept,
        adds what is costly to work out; `cost` is its share of the budget."""
        if self.skipped and not self._flush():
            self._skip(record)
            return None
        if not self._take(item_bytes(record) + cost):
            self._skip(record)
            return None
        if complete is not None:
            record = complete(record)
        return self._send(record)

    async def record(self, record: Rejection, complete: Complete | None = None, cost: int = 0) -> None:
        """Record and wait for the COMMIT (so a reader sees the row once the answer is out)."""
        await self.wait(self.submit(record, complete, cost), record)

    async def wait(self, fut: asyncio.Future[Any] | None, record: Rejection) -> None:
        """Wait for what `submit` answered; a record the store could not write is counted."""
        if fut is None:
            return
        try:
            await fut
        except (Overloaded, WriterClosed, StoreError) as exc:
            # A store that cannot write (full, damaged, stopped) says so itself, once
            # (store/repeats.py); each refusal is only counted, never a line per request.
            log.debug("rejection not recorded (%s)", exc)
            self._skip(record)

    def record_soon(self, record: Rejection) -> None:
        """Record without waiting (from aiohttp's synchronous error path)."""
        fut = self.submit(record)
        if fut is not None:
            fut.add_done_callback(_consume)

    def _send(self, record: Rejection) -> asyncio.Future[Any] | None:
        try:
            return self.writer.submit(record)
        except (Overloaded, WriterClosed) as exc:
            # The answer matters more than the diagnostic record; count it instead.
            log.debug("rejection not recorded (%s)", exc)
            self._skip(record)
            return None

    def _skip(self, record: Rejection) -> None:
        if not self.skipped:
            self._skipped_since = record.received_at
        self.skipped[record.status] += 1
        self._skipped_deliveries += record.delivery
        if self._retry is None:
            loop = asyncio.get_running_loop()
            self._retry = loop.call_later(SUMMARY_RETRY_S, self._retry_flush)

    def _retry_flush(self) -> None:
        self._retry = None
        if self.skipped and not self._flush():
            self._retry = asyncio.get_running_loop().call_later(SUMMARY_RETRY_S, self._retry_flush)

    def _flush(self) -> bool:
        """Write the summary of what was only counted; False while the budget is spent."""
        if self.writer.problem is not None:  # it would fail: keep counting, at no cost
            return False
        summary = self._summary()
        if not self._take(item_bytes(summary)):
            return False
        skipped, self.skipped = self.skipped, Counter()
        deliveries, self._skipped_deliveries = self._skipped_deliveries, 0
        since = self._skipped_since or summary.received_at
        try:
            fut = self.writer.submit(summary)
        except (Overloaded, WriterClosed):
            self.skipped, self._skipped_deliveries = skipped, deliveries
            return False
        fut.add_done_callback(lambda done: self._summary_done(done, skipped, deliveries, since))
        return True

    def _summary_done(
        self, fut: asyncio.Future[Any], skipped: Counter[int], deliveries: int, since: float
    ) -> None:
        """A summary the store could not write: its counts are kept for the next one."""
        if fut.cancelled() or fut.exception() is None:
            return
        log.debug("rejection summary not recorded: %s", fut.exception())
        self._skipped_since = min(self._skipped_since or since, since)
        self.skipped.update(skipped)
        self._skipped_deliveries += deliveries
        if self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(SUMMARY_RETRY_S, self._retry_flush)

    def _summary(self) -> Rejection:
        total = sum(self.skipped.values())
        by_status = ", ".join(f"{n} × {s}" for s, n in sorted(self.skipped.items()))
        if self._skipped_deliveries:
            by_status += f"; {self._skipped_deliveries} of them webhook deliveries"
        since = time.strftime("%H:%M:%S", time.localtime(self._skipped_since or time.time()))
        reason = (
            f"{total} more rejected requests not recorded since {since} ({by_status}): "
            f"recording is limited to {self.rate / 1024:.0f} KiB/s"
        )
        status = self.skipped.most_common(1)[0][0]
        # Among the deliveries when some were: the operator's default view lists only those.
        return bounded_rejection(
            status=status,
            reason=reason,
            method="*",
            path="*",
            remote=None,
            delivery=self._skipped_deliveries > 0,
        )

    def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and (exc := fut.exception()) is not None:
        log.debug("rejection not recorded: %s", exc)

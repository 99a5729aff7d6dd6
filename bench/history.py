"""History benchmark: the GUI with 1,000,000 stored events — start time, memory, jump to oldest.

    .venv/bin/python bench/history.py [--rows 1000000] [--rebuild] [--repeats 5] [--no-cold]

Builds (once, then cached in the temp dir, keyed by the row count) a database with the
app's own schema (`open_store`) and `--rows` realistic events inserted directly with SQL
(~600-byte bodies, mixed event groups and numbers, distinct dedupe keys, `numbers_seen`
filled). Then starts the app in a fresh subprocess (offscreen Qt, the real main window built
like `_main`, on a temp data dir holding a hard link to the cached database) and measures:

- start to window shown (first paint) and to history loaded (the Live model holds all ids,
  the newest rows painted), both from the parent's spawn time;
- resident memory (VmRSS) after the load and after scrolling through pages;
- the time of `pane.jump_to_oldest()` until row 0 is painted with its data (after the row
  cache was made to forget the oldest page), repeated; the max is judged.

Run twice by default: with the database in the OS page cache (warm), and after dropping it
from the page cache with posix_fadvise (cold, like the first start after a reboot).
Prints figures and ok/FAIL per target; always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    DB_NAME,
    Child,
    bench_loop,
    body_template,
    cached_db,
    child_env,
    describe_tree,
    emit,
    fresh_store,
    machine_load,
    peak_rss_mb,
    rss_mb,
    start_app,
    stop_app,
    verdict,
)

BATCH = 10_000
SPAN_S = 30 * 86400  # the history covers the last 30 days before the build

MAX_SHOWN_S = 2.0
MAX_RSS_MB = 250.0
MAX_JUMP_MS = 100.0

NUMBERS = (
    ("num_8f3a21c07d", "+5511988887777", "Loja Centro"),
    ("num_2b9e4410aa", "+5511977776666", "Loja Norte"),
    ("num_c7d15e9031", "+5521966665555", "Suporte"),
    ("num_51f0ab6e2c", "+5531955554444", "Cobrança"),
    ("num_0d77e2b415", "+5541944443333", "Vendas SP"),
    ("num_9ac3f0e8d2", "+5551933332222", "Marketing"),
)


# == building the database =====================================================================


@dataclass(frozen=True)
class Template:
    """One kind of row; `@@UID@@` / `@@STAMP@@` in body and summary are replaced per row."""

    event: str
    group: str
    kind: str
    number_id: str | None
    from_addr: str | None
    to_addr: str | None
    summary: str
    headers: str
    body: str


def _message(event: str, number: tuple[str, str, str], failed: bool = False) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(body_template(event, number[0]))
    if failed:
        obj["event"] = "message.failed"
        obj["data"]["error"] = "Recipient phone number not on WhatsApp or unreachable for 24h"
        obj["data"]["errorCode"] = "131026"
    return obj


def _other(event: str, number: tuple[str, str, str]) -> dict[str, Any]:
    if event.startswith("number."):
        data = {
            "numberId": number[0],
            "phone": number[1],
            "displayName": number[2],
            "profileName": f"{number[2]} · Atendimento oficial",
            "createdAt": "@@STAMP@@",
        }
        if event == "number.disconnected":
            data["error"] = "session logged out from the phone"
        return {"event": event, "data": data}
    return {  # call.* events are flat
        "event": event,
        "callId": "call_@@UID@@",
        "externalCallId": "wacid.HBgNNTUxMTk4ODg4Nzc3NxUCABEYEjRGMjM5@@UID@@",
        "direction": "inbound",
        "status": event.split(".", 1)[1],
        "from": "+5511955551234",
        "to": number[1],
        "timestamp": "@@STAMP@@",
        "duration": 93,
        "numberId": number[0],
        "agent": {"id": "agt_31", "name": "Carla Menezes", "queue": "atendimento-geral"},
    }


def templates() -> list[Template]:
    """A weighted pool: mostly status updates, then inbound, a few failures, calls, numbers."""
    from pilot_desktop.core.events import classify

    weighted: list[tuple[dict[str, Any], int]] = []
    for number in NUMBERS:
        weighted += [
            (_message("message.sent", number), 20),
            (_message("message.delivered", number), 20),
            (_message("message.read", number), 15),
            (_message("message.received", number), 20),
            (_message("message.sent", number, failed=True), 3),
            (_other("call.ended", number), 2),
            (_other("call.missed", number), 1),
            (_other("number.connected", number), 1),
            (_other("number.disconnected", number), 1),
        ]
    pool: list[Template] = []
    for obj, weight in weighted:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        c = classify(json.loads(body))
        headers = json.dumps(
            [
                ["Host", "127.0.0.1:8787"],
                ["User-Agent", "PilotStatus-Webhooks/3.2 (+https://pilotstatus.example.invalid)"],
                ["Content-Type", "application/json"],
                ["Content-Length", str(len(body.encode()))],
                ["X-Pilot-Status-Event", c.event],
                ["X-Pilot-Status-Delivery", "dlv_@@UID@@"],
                ["Accept-Encoding", "gzip, deflate"],
            ]
        )
        t = Template(c.event, c.group, c.kind, c.number_id, c.from_addr, c.to_addr, c.summary, headers, body)
        pool += [t] * weight
    return pool


def _rows(count: int, now: float) -> Iterator[tuple[Any, ...]]:
    pool = templates()
    rng = random.Random(20261124)
    start = now - SPAN_S
    step = SPAN_S / count
    for i in range(count):
        t = pool[rng.randrange(len(pool))]
        received = start + i * step + rng.random() * step * 0.5
        uid = f"{i:08d}{rng.getrandbits(32):08x}"
        stamp = datetime.fromtimestamp(received - 0.35, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        signed = i % 3 != 0
        yield (
            hashlib.sha256(f"bench-history-{i}".encode()).hexdigest(),
            received,
            received,
            t.event,
            t.group,
            t.number_id,
            t.from_addr,
            t.to_addr,
            t.summary.replace("@@UID@@", uid),
            stamp,
            t.kind,
            None,
            "valid" if signed else "unsigned",
            "#1 3f9a0c2e" if signed else None,
            None,
            t.headers.replace("@@UID@@", uid),
            t.body.replace("@@UID@@", uid).replace("@@STAMP@@", stamp).encode(),
        )


_INSERT = """
INSERT INTO events (dedupe_key, received_at, last_received_at, event, event_group, number_id,
    from_addr, to_addr, summary, event_time, classification, schema_issues, signature,
    signature_secret, route, headers, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def build(cache: Path, count: int) -> dict[str, Any]:
    """Create the database with the app's schema and fill it."""
    t0 = time.perf_counter()
    db, conn = fresh_store(cache)
    rows = _rows(count, time.time())
    done = 0
    while done < count:
        batch = [next(rows) for _ in range(min(BATCH, count - done))]
        conn.execute("BEGIN")
        conn.executemany(_INSERT, batch)
        conn.execute("COMMIT")
        done += len(batch)
        if done % 100_000 == 0 or done == count:
            rate = done / (time.perf_counter() - t0)
            print(f"  {done:>10,} rows  ({rate:,.0f} rows/s)", flush=True)
    conn.execute(
        "INSERT INTO numbers_seen (number_id, first_seen_at, last_event_at, events) "
        "SELECT number_id, min(received_at), max(received_at), count(*) FROM events "
        "WHERE number_id IS NOT NULL GROUP BY number_id"
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    avg_body = conn.execute("SELECT avg(length(body)) FROM (SELECT body FROM events LIMIT 10000)").fetchone()[
        0
    ]
    conn.close()
    return {
        "rows": count,
        "seconds": round(time.perf_counter() - t0, 1),
        "bytes": db.stat().st_size,
        "avg_body": round(avg_body),
    }


def drop_from_page_cache(db: Path) -> None:
    """Evict the (clean) database pages from the OS page cache: a cold start, without root."""
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        with contextlib.suppress(OSError):
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


# == the measuring child =======================================================================


def _child(data_dir: Path, spawned_at: float, repeats: int) -> int:
    entered = time.time()  # the interpreter and the stdlib are up; Qt and the app not yet
    from pilot_desktop.ui.app import run_on_qt

    result = run_on_qt(lambda: _child_main(data_dir, spawned_at, entered, repeats), bench_loop())
    emit("RESULT", result)
    return 0


async def _child_main(data_dir: Path, spawned_at: float, entered: float, repeats: int) -> dict[str, Any]:
    from PySide6.QtCore import QEvent, QObject, QPoint, QTimer
    from PySide6.QtWidgets import QApplication

    from pilot_desktop.ui.app import settle_heap

    marks: dict[str, float] = {"imports_done": time.time()}

    class FirstPaint(QObject):
        """Notes the first Paint event of any widget of the main window, then steps aside."""

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and "window_painted" not in marks:
                marks["window_painted"] = time.time()
            return False

    first_paint = FirstPaint()
    qapp = QApplication.instance()
    assert qapp is not None
    qapp.installEventFilter(first_paint)

    core, window = await start_app(data_dir)  # what the GUI's main does, in order
    marks["show_returned"] = time.time()
    live = window.live
    assert live is not None
    await live.load()
    settle_heap()
    marks["history_loaded"] = time.time()

    # The measurements call processEvents(), which runs the loop's ready callbacks: from
    # inside this task one of them could step another task (the core's settings watcher)
    # re-entrantly. So they run from a Qt timer, outside any task, as a user's input would.
    table, model = live.table, live.model
    table.viewport().repaint()  # the newest rows, built from the store (no event processing)
    marks["history_painted"] = time.time()
    qapp.removeEventFilter(first_paint)

    def measure() -> dict[str, Any]:
        QApplication.processEvents()
        rows = model.rowCount()
        rss_loaded = rss_mb()

        bar = table.verticalScrollBar()

        def show_at(value: int) -> float:
            t0 = time.perf_counter()
            bar.setValue(value)
            table.viewport().repaint()
            QApplication.processEvents()
            return (time.perf_counter() - t0) * 1000

        # A user scrolling: 20 pages up from the newest, then 10 spots across the whole history.
        page_ms = [show_at(max(0, bar.value() - bar.pageStep())) for _ in range(20)]
        page_ms += [show_at(bar.maximum() * k // 10) for k in range(10)]
        rss_scrolled = rss_mb()

        # Jump to oldest: first make the row cache forget the oldest page by painting enough
        # other pages (its LRU holds `tail_rows` rows, i.e. ~20 pages of 256), then time it.
        rng = random.Random(7)
        jump_ms: list[float] = []
        row0_ok = True
        for _ in range(repeats):
            for _ in range(30):
                show_at(rng.randrange(bar.maximum() // 4, bar.maximum()))
            live.jump_to_newest()
            table.viewport().repaint()
            QApplication.processEvents()
            t0 = time.perf_counter()
            live.jump_to_oldest()
            table.viewport().repaint()
            QApplication.processEvents()
            jump_ms.append((time.perf_counter() - t0) * 1000)
            top = table.indexAt(QPoint(2, 2))
            row0_ok = row0_ok and top.row() == 0 and bool(model.data(model.index(0, 1)))

        return {
            "rows": rows,
            "import_s": marks["imports_done"] - entered,
            "interpreter_s": entered - spawned_at,
            **{f"{k}_s": v - spawned_at for k, v in marks.items()},
            "rss_loaded_mb": rss_loaded,
            "rss_scrolled_mb": rss_scrolled,
            "rss_after_jumps_mb": rss_mb(),
            "rss_peak_mb": peak_rss_mb(),
            "page_ms_median": statistics.median(page_ms),
            "page_ms_max": max(page_ms),
            "jump_ms": jump_ms,
            "row0_ok": row0_ok,
            "count_label": live.count_label.text(),
        }

    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def run() -> None:
        try:
            done.set_result(measure())
        except BaseException as exc:  # reported by the await below
            done.set_exception(exc)

    QTimer.singleShot(0, run)
    result = await done
    await stop_app(core, window)
    return result


# == parent ====================================================================================


def measure(db: Path, repeats: int, cold: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="pilot-bench-history-"))
    try:
        data_dir = work / "data"
        data_dir.mkdir()
        try:
            os.link(db, data_dir / DB_NAME)  # same file, no copy; the app only reads it here
        except OSError:
            shutil.copy2(db, data_dir / DB_NAME)
        if cold:
            drop_from_page_cache(data_dir / DB_NAME)
        spawned = time.time()
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--data-dir", str(data_dir)]
        argv += ["--spawned-at", repr(spawned), "--repeats", str(repeats)]
        child = Child(argv, work / "child.stderr", child_env(QT_QPA_PLATFORM="offscreen"))
        child.spawned_at = spawned
        try:
            return child.wait_for("RESULT", 300)
        finally:
            child.close(timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(label: str, r: dict[str, Any]) -> None:
    jump_max = max(r["jump_ms"])
    shown = r.get("window_painted_s", r["show_returned_s"])
    rss = max(r["rss_loaded_mb"], r["rss_scrolled_mb"], r["rss_after_jumps_mb"])
    print(f"\n{label}: {r['rows']:,} rows in the Live model ({r['count_label']})")
    print(
        f"  interpreter start {r['interpreter_s']:.2f} s, imports {r['import_s']:.2f} s, "
        f"window.show() returned {r['show_returned_s']:.2f} s"
    )
    print(f"  start -> window shown (first paint)        {shown:6.2f} s")
    print(f"  start -> history loaded (ids in the model)  {r['history_loaded_s']:6.2f} s")
    print(f"  start -> newest rows painted                {r['history_painted_s']:6.2f} s")
    print(
        f"  RSS after load {r['rss_loaded_mb']:.0f} MB, after scrolling {r['rss_scrolled_mb']:.0f} MB, "
        f"after the jumps {r['rss_after_jumps_mb']:.0f} MB (peak {r['rss_peak_mb']:.0f} MB)"
    )
    print(
        f"  scroll one page / to a far spot: median {r['page_ms_median']:.1f} ms, "
        f"max {r['page_ms_max']:.1f} ms"
    )
    print(
        f"  jump to oldest, {len(r['jump_ms'])} times: "
        + ", ".join(f"{x:.1f}" for x in r["jump_ms"])
        + f" ms (row 0 painted with data: {r['row0_ok']})"
    )
    print("  Targets")
    for name, value, ok in (
        (f"start to window shown <= {MAX_SHOWN_S:.0f} s", f"{shown:.2f} s", shown <= MAX_SHOWN_S),
        (f"RSS <= {MAX_RSS_MB:.0f} MB", f"{rss:.0f} MB", rss <= MAX_RSS_MB),
        (
            f"jump to oldest <= {MAX_JUMP_MS:.0f} ms (max)",
            f"{jump_max:.1f} ms",
            jump_max <= MAX_JUMP_MS and r["row0_ok"],
        ),
    ):
        print(f"    {name:34} {value:>10}   {verdict(ok)}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="stored events (default 1,000,000)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached database")
    parser.add_argument("--repeats", type=int, default=5, help="jump-to-oldest repetitions (default 5)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold page-cache run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.data_dir, args.spawned_at, args.repeats)
    if not 1 <= args.rows <= 20_000_000 or not 1 <= args.repeats <= 50:
        parser.error("--rows 1..20,000,000 and --repeats 1..50")

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # pilot_desktop for the build
    try:
        db, info = cached_db(
            f"history-{args.rows}", f"{args.rows:,} events", args.rebuild, lambda d: build(d, args.rows)
        )
        how = "cached" if info["cached"] else f"built in {info['seconds']} s"
        print(
            f"database: {db} ({info['rows']:,} events, {info['bytes'] / 1e6:,.0f} MB, "
            f"avg body {info['avg_body']} B; {how})"
        )
        print(describe_tree())
        print(machine_load())
        report("warm start (database in the OS page cache)", measure(db, args.repeats, cold=False))
        if not args.no_cold:
            report("cold start (database dropped from the page cache)", measure(db, args.repeats, cold=True))
    except Exception as exc:
        print(f"benchmark could not complete: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

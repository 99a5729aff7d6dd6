"""Normal-client latency while 2,000 idle connections are held, at a 1024 open-file limit.

    .venv/bin/python bench/idle_connections.py [--idle 2000] [--requests 300] [--flood-seconds 10]

Runs `pilot-desktop serve` (the real core, headless) under `prlimit --nofile=1024:1024`, so
it cannot raise its file limit, on a temporary data dir. A "normal client" POSTs unique
~600-byte webhooks one at a time, each on a new connection (as a sender without keep-alive
does), and its latency is measured in three phases:

1. alone;
2. while a holder process keeps `--idle` connections open that never send a byte (it opens
   a new one for each the server closes, so the count held stays at 2,000 attempts);
3. the same, plus `wrk` flooding requests without the token (20 KB of headers each).

Prints p50/p99/max and failures per phase, the rejections recorded and the server's peak
open files. Always exits 0 (a measurement, not a test). Needs `wrk` for phase 3.
"""

from __future__ import annotations

import argparse
import os
import selectors
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _common import (
    DB_NAME,
    describe_tree,
    in_work_dir,
    machine_load,
    make_body,
    percentile,
    stamp_of,
)

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "pilot-desktop"


def hold(port: int, count: int) -> None:
    """The holder process: keep `count` idle connections open until stdin closes."""
    sel = selectors.DefaultSelector()

    def open_one() -> None:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            return
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)

    for _ in range(count):
        open_one()
    print("HELD", flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            sel.unregister(sock)
            sock.close()
            open_one()  # the server closed it: hold another


def normal_client(base: str, token: str, count: int, tag: str) -> dict[str, Any]:
    latencies, failures = [], 0
    why: dict[str, int] = {}
    with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for n in range(count):
            body = make_body("message.received", f"{tag}{n}", stamp_of(n))
            t0 = time.perf_counter()
            try:
                r = client.post(f"{base}/hooks/{token}", content=body)
                ok, reason = r.status_code == 200, f"HTTP {r.status_code} {r.text[:80]}"
            except httpx.HTTPError as exc:
                ok, reason = False, type(exc).__name__
            latencies.append((time.perf_counter() - t0) * 1000)
            failures += not ok
            if not ok:
                why[reason] = why.get(reason, 0) + 1
    return {
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "failures": failures,
        "why": why,
    }


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def run(args: argparse.Namespace, work: Path) -> None:
    print(machine_load())
    print(describe_tree())
    data = work / "data"
    serve = subprocess.Popen(
        ["prlimit", "--nofile=1024:1024", "--", str(BIN), "serve", "--data-dir", str(data), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=(work / "serve.stderr").open("wb"),
        text=True,
    )
    assert serve.stdout is not None
    line = ""
    for line in serve.stdout:
        if line.startswith("Listening: "):
            break
    url = line.split(" ", 1)[1].strip()
    base, _, token = url.rpartition("/hooks/")
    port = int(base.rsplit(":", 1)[1])
    threading.Thread(target=lambda: [None for _ in serve.stdout or []], daemon=True).start()
    peak = [0]
    watching = threading.Event()

    def watch() -> None:
        while not watching.is_set():
            peak[0] = max(peak[0], open_files(serve.pid))
            time.sleep(0.01)

    threading.Thread(target=watch, daemon=True).start()
    rows: list[tuple[str, dict[str, Any]]] = []
    holder = None
    flood = None
    try:
        normal_client(base, token, 20, "warm")
        rows.append(("alone", normal_client(base, token, args.requests, "a")))
        holder = subprocess.Popen(
            [sys.executable, __file__, "--hold", str(port), "--idle", str(args.idle)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        holder.stdout.readline()  # HELD
        rows.append((f"{args.idle} idle held", normal_client(base, token, args.requests, "b")))
        if shutil.which("wrk"):
            junk = [f"-Hx-junk-{i}: {'h' * 1000}" for i in range(20)]
            flood = subprocess.Popen(
                ["wrk", "-t1", "-c32", f"-d{args.flood_seconds}s", *junk, f"{base}/hooks/not-the-token-x"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            time.sleep(1)
            label = f"{args.idle} idle + no-token flood"
            rows.append((label, normal_client(base, token, args.requests, "c")))
            out, _ = flood.communicate(timeout=args.flood_seconds + 60)
            flood = None
            rps = next((ln for ln in out.splitlines() if "Requests/sec" in ln), "Requests/sec: ?")
            print(f"flood: wrk {rps.strip()} (answers without the token)")
    finally:
        watching.set()
        if flood is not None:
            flood.kill()
        if holder is not None and holder.stdin is not None:
            holder.stdin.close()
            holder.wait(30)
        serve.terminate()
        serve.wait(60)
    conn = sqlite3.connect(f"file:{data / DB_NAME}?mode=ro", uri=True)
    recorded, stored = conn.execute(
        "SELECT count(*), coalesce(sum(length(headers) + coalesce(length(body), 0)), 0) FROM rejections"
    ).fetchone()
    conn.close()
    print(f"\nnormal client: {args.requests} POSTs, one connection each; serve at 1024 open files")
    print(f"{'phase':32} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'failed':>7}")
    for name, r in rows:
        print(f"{name:32} {r['p50']:8.1f} {r['p99']:8.1f} {r['max']:8.1f} {r['failures']:7d}")
        for reason, n in r["why"].items():
            print(f"    {n} × {reason}")
    print(f"server peak open files: {peak[0]} (limit 1024)")
    print(f"rejections recorded: {recorded} rows, {stored / 1024:.0f} KiB of headers and bodies")
    ok = all(r["failures"] == 0 for _, r in rows) and peak[0] < 1024
    print(f"every normal request answered 200, no EMFILE: {'ok' if ok else 'FAIL'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--flood-seconds", type=int, default=10)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--hold", type=int, help=argparse.SUPPRESS)  # the holder child
    args = parser.parse_args()
    if args.hold:
        hold(args.hold, args.idle)
        return 0
    return in_work_dir("pilot-desktop-idle-", args.keep, lambda work: run(args, work))


if __name__ == "__main__":
    sys.exit(main())

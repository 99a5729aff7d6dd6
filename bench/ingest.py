"""Ingest benchmark: how fast the real GUI process takes webhooks, and what it costs the GUI.

    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 64] [--threads 2]

Measures, in one run, with `wrk` POSTing unique ~600-byte `message.*` bodies on loopback:

(a) the reference: a bare aiohttp server answering 200, plain asyncio, in a subprocess;
(a') the same plus JSON parsing and the app's pydantic validation (stack-notes §3's reference);
(b) the real configuration, in a subprocess: QApplication (offscreen), the main window with
    the Live pane built by `make_app()` + `start_window()` like `_main`, the receiver on the
    qasync loop, the durable SQLite store. A 10 ms QTimer in that process records the longest
    gap between its ticks (the longest Qt loop stall).
(b') the same with the writer's projections off (`Runtime(projections=False)`): what the
    message and number projections cost, as the req/s and CPU-per-request ratios of (b) to
    (b'). `--rounds N` repeats the (b)/(b') pair N times and compares medians.

Then 500 sequential POSTs from one keep-alive client (the "lone request" latency), and a
check that every 2xx answered by (b) is a stored row. Prints a table and ok/FAIL per
target; always exits 0 (a measurement, not a test). Data goes to a temp dir only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import (
    DB_NAME,
    EVENTS,
    NUMBERS,
    STAMP,
    UID,
    Child,
    bench_loop,
    body_template,
    child_env,
    describe_tree,
    emit,
    free_port,
    in_work_dir,
    machine_load,
    make_body,
    percentile,
    rss_mb,
    stamp_of,
    start_app,
    start_stdin_reader,
    stop_app,
    verdict,
)

TICK_MS = 10
READY_TIMEOUT_S = 60.0
WATCHDOG_S = 600.0  # a child that hears nothing for this long quits on its own

# Targets (see bench/README.md)
MIN_EVENTS_PER_S = 3000
MIN_RATIO = 0.30
MAX_P99_MS = 50.0
MAX_STALL_MS = 50.0
MAX_LONE_P50_MS = 3.0
MAX_PROJECTION_COST = 0.10  # share of (b') throughput the projections may cost


# == children ==================================================================================


async def _reference_main(port: int, validate: bool) -> None:
    """(a): aiohttp under plain asyncio, reading the body and answering 200, nothing else.

    With `validate` (a'), it also parses the JSON and validates it with the app's pydantic
    model of the event: the reference stack-notes §3 measured ("validated with pydantic").
    """
    from aiohttp import web

    from pilot_desktop.core.models import MODELS

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if validate:
            obj = json.loads(body)
            MODELS[obj["event"]].model_validate(obj)
        return web.Response(text='{"ok":true}', content_type="application/json")

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/hooks/{token}", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()
    start_stdin_reader(lambda line: _post(loop, commands, line))
    emit("READY", {"url": f"http://127.0.0.1:{port}/hooks/reference-token", "rss_mb": rss_mb()})
    with contextlib.suppress(TimeoutError):
        while await asyncio.wait_for(commands.get(), WATCHDOG_S) != "quit":
            pass
    await runner.cleanup()


def _post(loop: asyncio.AbstractEventLoop, commands: asyncio.Queue[str], line: str) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed after "quit"
        loop.call_soon_threadsafe(commands.put_nowait, line)


async def command_loop(meter: StallMeter, counts: Callable[[], dict[str, Any]]) -> None:
    """A GUI child's stdin commands until `quit` (or the watchdog): `mark` restarts the
    stall meter, `stats` reports it with `counts()`."""
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()
    start_stdin_reader(lambda line: _post(loop, commands, line))
    while True:
        try:
            command = await asyncio.wait_for(commands.get(), WATCHDOG_S)
        except TimeoutError:
            return
        if command == "mark":
            meter.reset()
            emit("MARKED", counts())
        elif command == "stats":
            emit("STATS", {**meter.snapshot(), **counts()})
        elif command == "quit":
            return


def _gui_child(port: int, data_dir: Path, projections: bool) -> int:
    """(b): the real app process, driven by stdin commands `mark`, `stats`, `quit`."""
    import logging

    from pilot_desktop.ui.app import run_on_qt

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return run_on_qt(lambda: _gui_main(port, data_dir, projections), bench_loop())


class StallMeter:
    """A 10 ms Qt timer; the gaps between its ticks are how long the Qt loop was busy."""

    def __init__(self, interval_ms: int = TICK_MS) -> None:
        from PySide6.QtCore import Qt, QTimer

        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._gaps: list[float] = []
        self._last = time.perf_counter()
        self._since = self._last
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if len(self._gaps) < 1_000_000:  # bounded: ~3 hours of ticks
            self._gaps.append(now - self._last)
        self._last = now

    def reset(self) -> None:
        self._gaps = []
        self._last = self._since = time.perf_counter()

    def snapshot(self) -> dict[str, float]:
        gaps_ms = [g * 1000 for g in self._gaps]
        # A stall still in progress counts too (the timer has not ticked since).
        current_ms = (time.perf_counter() - self._last) * 1000
        return {
            "seconds": time.perf_counter() - self._since,
            "ticks": len(gaps_ms),
            "gap_max_ms": max([*gaps_ms, current_ms]),
            "gap_p50_ms": percentile(gaps_ms, 50),
            "gap_p99_ms": percentile(gaps_ms, 99),
            "gaps_over_50ms": sum(g > 50 for g in gaps_ms),
        }

    def stop(self) -> None:
        self._timer.stop()


async def _gui_main(port: int, data_dir: Path, projections: bool) -> int:
    from pilot_desktop.services.settings import ReceiverSettings, Settings
    from pilot_desktop.ui.app import settle_heap

    settings = Settings(receiver=ReceiverSettings(port=port))
    # What the GUI's main does, in order; projections off only for (b').
    core, window = await start_app(data_dir, settings, projections=projections)
    runtime = core.runtime
    live = window.live
    assert live is not None and runtime.receiver is not None and runtime.writer is not None
    await live.load()
    settle_heap()
    receiver, writer = runtime.receiver, runtime.writer
    assert runtime.db_path is not None
    counter = sqlite3.connect(f"file:{runtime.db_path}?mode=ro", uri=True)

    def writer_cpu() -> float:
        return _process_cpu_s(writer.process_id) if writer.process_id else 0.0

    def counts() -> dict[str, Any]:
        return {
            "stored": counter.execute("SELECT count(*) FROM events").fetchone()[0],
            "accepted": receiver.stats.accepted,
            "rejected": receiver.stats.rejected,
            "overloaded": receiver.stats.overloaded,
            "writer_batches": writer.batches,
            "writer_rows": writer.rows,
            "model_rows": live.model.rowCount(),
            "rss_mb": rss_mb(),
            # user + system, all threads, and the writer process (writer_process.py)
            "cpu_s": sum(os.times()[:2]) + writer_cpu(),
            "writer_cpu_s": writer_cpu() if writer.process_id else thread_cpu_s("store-writer"),
            "writer_seconds": dict(writer.seconds),
            "ctx_switches": context_switches(),
        }

    meter = StallMeter()
    emit("READY", {"url": runtime.hook_url, "db": str(runtime.db_path), "pid": os.getpid(), **counts()})
    try:
        await command_loop(meter, counts)
    finally:
        meter.stop()
        counter.close()
        await stop_app(core, window)  # drains the writer: every 2xx is committed before this returns
    emit("DONE", {"accepted": receiver.stats.accepted, "writer_batches": writer.batches})
    return 0


def thread_cpu_s(name: str) -> float:
    """User + system CPU of this process's thread called `name` (0.0 if there is none)."""
    import threading

    for thread in threading.enumerate():
        if thread.name == name and thread.native_id is not None:
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()  # after the name, which may hold spaces
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def context_switches() -> int:
    """Voluntary + involuntary context switches of all this process's threads so far."""
    total = 0
    for status in Path("/proc/self/task").glob("*/status"):
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
    return total


# == parent ====================================================================================


def wrk_script(run_id: str) -> str:
    """A wrk Lua script POSTing unique bodies (per-thread counter) and printing JSON at the end.

    Each body is a new event (its own createdAt), but four consecutive requests of a thread
    share one message id: `message.received` (an inbound message) then `message.sent`,
    `.delivered` and `.read` of one outbound message, so the projection updates messages
    as well as inserting them, as with real traffic."""
    templates = [
        body_template(event, number).replace(UID, "@U@").replace(STAMP, "@S@")
        for number in NUMBERS
        for event in EVENTS
    ]
    assert all("]==]" not in t for t in templates)
    listing = ",\n".join(f"  [==[{t}]==]" for t in templates)
    return f"""-- generated by bench/ingest.py
local templates = {{
{listing}
}}
local run = "{run_id}"
local counter = 0
local headers = {{["Content-Type"] = "application/json"}}
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)  -- a global in that thread's Lua state
end

function request()
  counter = counter + 1
  local uid = run .. "-" .. tid .. "-" .. math.floor(counter / 4)
  local ms = counter % 86400000
  local stamp = string.format("2026-11-24T%02d:%02d:%02d.%03dZ",
    math.floor(ms / 3600000), math.floor(ms / 60000) % 60, math.floor(ms / 1000) % 60, ms % 1000)
  local body = templates[counter % #templates + 1]:gsub("@U@", uid):gsub("@S@", stamp)
  return wrk.format("POST", wrk.path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    math.floor(latency.mean)))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non2xx: int  # wrk's "status" errors: answers >= 400
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    raw: str
    server_cpu: float  # CPUs the server used on average during the run (2.0 = both cores)
    other_cpu: float  # CPUs used by processes other than the server, wrk and this script

    @property
    def ok_responses(self) -> int:
        return self.requests - self.non2xx

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok_rps(self) -> float:
        return self.ok_responses / self.seconds if self.seconds else 0.0


def _process_cpu_s(pid: int) -> float:
    """utime + stime of a running process, from /proc (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_cpu_s(pid: int) -> float:
    """CPU of the server process and its live children (the writer process)."""
    total = _process_cpu_s(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _all_cpu_s() -> float:
    """CPU seconds all processes of the machine spent so far (busy, not idle)."""
    # user + nice + system only: irq/softirq time (loopback TCP is mostly softirq) is
    # charged to no process, so counting it would show as "other processes".
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:4]]
    return sum(fields) / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, script: Path, args: argparse.Namespace, server_pid: int) -> WrkResult:
    """Run wrk against `url`; also note how much CPU anything else took meanwhile."""
    before = (_all_cpu_s(), _server_cpu_s(server_pid), os.times())
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 60, check=False)
    after = (_all_cpu_s(), _server_cpu_s(server_pid), os.times())
    ours = sum(after[2][:4]) - sum(before[2][:4])  # this process and its reaped children (wrk)
    server = after[1] - before[1]
    other = max(0.0, after[0] - before[0] - ours - server)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(line.split(" ", 1)[1])
    raw = "\n".join(x for x in proc.stdout.splitlines() if not x.startswith("WRKJSON "))
    return WrkResult(
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        non2xx=r["status"],
        socket_errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        raw=raw,
        server_cpu=server / (r["duration_us"] / 1e6),
        other_cpu=other / (r["duration_us"] / 1e6),
    )


@dataclass
class LoneResult:
    sent: int
    ok: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def lone_requests(url: str, count: int, run_id: str, warmup: int = 20) -> LoneResult:
    """`count` sequential POSTs from one keep-alive client; latency until the answer is read."""
    times: list[float] = []
    ok = 0
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=5.0) as client:
        for i in range(warmup + count):
            if time.monotonic() > deadline:
                break
            event, number = EVENTS[i % len(EVENTS)], NUMBERS[i % len(NUMBERS)]
            body = make_body(event, f"{run_id}-lone-{i}", stamp_of(i), number)
            t0 = time.perf_counter()
            resp = client.post(url, content=body, headers={"content-type": "application/json"})
            elapsed = time.perf_counter() - t0
            if i >= warmup:
                times.append(elapsed * 1000)
            ok += resp.is_success
    return LoneResult(len(times) + warmup, ok, percentile(times, 50), percentile(times, 99), max(times))


def count_rows(db: Path, table: str = "events") -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def gui_argv(data_dir: Path, projections: bool) -> list[str]:
    flags = [] if projections else ["--no-projections"]
    return child_argv("--child", "gui", "--port", str(free_port()), "--data-dir", str(data_dir), *flags)


def projection_run(
    args: argparse.Namespace, work: Path, script: Path, projections: bool, tag: str
) -> dict[str, Any]:
    """One more (b) (projections on) or (b') (off) process: the wrk run only."""
    data_dir = work / f"data-{tag}"
    gui = Child(
        gui_argv(data_dir, projections), work / f"gui-{tag}.stderr", child_env(QT_QPA_PLATFORM="offscreen")
    )
    try:
        url = gui.wait_for("READY", READY_TIMEOUT_S)["url"]
        time.sleep(0.5)
        gui.send("mark")
        before = gui.wait_for("MARKED", 30)
        result = run_wrk(url, script, args, gui.pid)
        gui.send("stats")
        stats = gui.wait_for("STATS", 30)
        gui.send("quit")
        gui.wait_for("DONE", 60)
    finally:
        rc = gui.close(timeout=60)
    db = data_dir / DB_NAME
    return {
        "projections": projections,
        "wrk": result,
        **per_request(stats, before),
        "rows": count_rows(db),
        "messages": count_rows(db, "messages"),
        "rc": rc,
    }


def per_request(stats: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Milliseconds per request between two `stats` answers: CPU of the process and of its
    writer (process), and the writer's wall time in each part of its transactions."""
    handled = max(stats["accepted"] - before["accepted"], 1)
    return {
        "cpu_ms": (stats["cpu_s"] - before["cpu_s"]) * 1000 / handled,
        "writer_ms": (stats["writer_cpu_s"] - before["writer_cpu_s"]) * 1000 / handled,
        "phases_ms": {
            k: (v - before["writer_seconds"][k]) * 1000 / handled for k, v in stats["writer_seconds"].items()
        },
    }


def child_argv(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(machine_load(), flush=True)
    run_id = f"r{int(time.time())}"
    script = work / "webhook.lua"
    script.write_text(wrk_script(run_id), encoding="utf-8")
    out: dict[str, Any] = {}

    # (a) the reference, and (a') the stack-notes reference (JSON + pydantic, no store)
    for key, flags, title in (
        ("ref", [], "(a) reference: bare aiohttp, plain asyncio"),
        ("val", ["--validate"], "(a') aiohttp + JSON + pydantic validation, plain asyncio"),
    ):
        print(f"{title} …", flush=True)
        argv = child_argv("--child", "reference", "--port", str(free_port()), *flags)
        ref = Child(argv, work / f"{key}.stderr", child_env())
        try:
            url = ref.wait_for("READY", READY_TIMEOUT_S)["url"]
            out[f"{key}_lone"] = lone_requests(url, args.lone, f"{run_id}{key}")
            out[f"{key}_wrk"] = run_wrk(url, script, args, ref.pid)
        finally:
            ref.close()

    # (b) the real GUI process
    main_on = args.projections != "off"
    print(
        "(b) Pilot Desktop: QApplication offscreen + main window + qasync + durable store"
        f"{'' if main_on else ', projections off'} …",
        flush=True,
    )
    data_dir = work / "data"
    gui = Child(gui_argv(data_dir, main_on), work / "gui.stderr", child_env(QT_QPA_PLATFORM="offscreen"))
    try:
        ready = gui.wait_for("READY", READY_TIMEOUT_S)
        url = ready["url"]
        out["gui_ready"] = ready
        gui.send("mark")
        gui.wait_for("MARKED", 30)
        out["gui_lone"] = lone_requests(url, args.lone, run_id + "b")
        gui.send("stats")
        out["gui_lone_stats"] = gui.wait_for("STATS", 30)
        time.sleep(0.5)
        gui.send("mark")
        out["gui_before_wrk"] = gui.wait_for("MARKED", 30)
        if args.profile:
            out["profile"] = start_profile(gui.pid, args, work)
        out["gui_wrk"] = run_wrk(url, script, args, gui.pid)
        gui.send("stats")
        out["gui_wrk_stats"] = gui.wait_for("STATS", 30)
        if args.profile:
            finish_profile(out["profile"])
        gui.send("quit")
        out["gui_done"] = gui.wait_for("DONE", 60)
    finally:
        out["gui_rc"] = gui.close(timeout=60)
    out["rows_in_file"] = count_rows(data_dir / DB_NAME)
    out["messages_in_file"] = count_rows(data_dir / DB_NAME, "messages")

    # (b') projections off, alternating with more (b) runs when --rounds > 1
    out["projection_runs"] = []
    if args.projections == "both":
        stats, before = out["gui_wrk_stats"], out["gui_before_wrk"]
        first = {
            "projections": True,
            "wrk": out["gui_wrk"],
            **per_request(stats, before),
            "rows": out["rows_in_file"],
            "messages": out["messages_in_file"],
            "rc": out["gui_rc"],
        }
        runs = [first]
        for n in range(args.rounds):
            print(f"(b') the same, projections off (round {n + 1}/{args.rounds}) …", flush=True)
            runs.append(projection_run(args, work, script, False, f"off{n}"))
            if n + 1 < args.rounds:
                print(f"(b) projections on again (round {n + 2}/{args.rounds}) …", flush=True)
                runs.append(projection_run(args, work, script, True, f"on{n + 1}"))
        out["projection_runs"] = runs
    return out


def start_profile(pid: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """py-spy record of the GUI process (all threads, GIL-holding samples) during the wrk run."""
    path = Path(args.profile).resolve()
    cmd = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(args.seconds),
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(path),
        "--nonblocking",
        "--threads",
    ]
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd[0] = exe
    proc = subprocess.Popen(cmd, stdout=(work / "py-spy.log").open("wb"), stderr=subprocess.STDOUT)
    return {"proc": proc, "path": path}


def finish_profile(profile: dict[str, Any]) -> None:
    proc: subprocess.Popen[bytes] = profile.pop("proc")
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
    profile["rc"] = proc.returncode


def report(args: argparse.Namespace, out: dict[str, Any]) -> None:
    a: WrkResult = out["ref_wrk"]
    v: WrkResult = out["val_wrk"]
    b: WrkResult = out["gui_wrk"]
    lones: dict[str, LoneResult] = {k: out[f"{k}_lone"] for k in ("ref", "val", "gui")}
    stall = out["gui_wrk_stats"]
    lone_stall = out["gui_lone_stats"]
    stored_during_wrk = out["rows_in_file"] - out["gui_before_wrk"]["stored"]
    all_ok_b = b.ok_responses + lones["gui"].ok
    ratio = b.rps / a.rps if a.rps else 0.0
    ratio_v = b.rps / v.rps if v.rps else 0.0
    durable = b.ok_rps
    servers = (
        ("(a) bare aiohttp, plain asyncio", a, lones["ref"]),
        ("(a') + JSON + pydantic, plain asyncio", v, lones["val"]),
        ("(b) Pilot Desktop GUI, qasync + store", b, lones["gui"]),
    )

    print()
    for name, r, _ in servers:
        print(f"wrk output, {name}:")
        print("  " + r.raw.strip().replace("\n", "\n  "))
    print()
    print(
        f"Ingest: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, unique ~600-byte "
        f"message.* bodies, loopback, {os.cpu_count()} CPUs; lone = {args.lone} sequential POSTs "
        "from one keep-alive httpx client"
    )
    print(describe_tree())
    print(
        f"{'':39} {'req/s':>7} {'2xx/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'non-2xx':>7} {'sockerr':>7} {'lone p50':>8} {'lone p99':>8}"
    )
    for name, r, lone in servers:
        print(
            f"{name:39} {r.rps:7,.0f} {r.ok_rps:7,.0f} {r.p50_ms:7.1f} {r.p90_ms:7.1f} {r.p99_ms:7.1f} "
            f"{r.max_ms:7.1f} {r.non2xx:7,} {r.socket_errors:7,} {lone.p50_ms:8.2f} {lone.p99_ms:8.2f}"
        )
    print(f"ratio b/a (req/s): {ratio:.2f}    ratio b/a' (the stack-notes §3 reference): {ratio_v:.2f}")
    print(
        "CPUs used during the wrk runs, server / other processes: "
        + ", ".join(f"{n.split()[0]} {r.server_cpu:.2f} / {r.other_cpu:.2f}" for n, r, _ in servers)
        + ("   WARNING: other processes were busy" if max(r.other_cpu for _, r, _ in servers) > 0.15 else "")
    )
    print(
        f"Qt loop, 10 ms timer, under wrk load ({stall['seconds']:.1f} s, {stall['ticks']} ticks): "
        f"longest gap {stall['gap_max_ms']:.1f} ms, p99 {stall['gap_p99_ms']:.1f} ms, "
        f"p50 {stall['gap_p50_ms']:.1f} ms, gaps > 50 ms: {stall['gaps_over_50ms']}"
    )
    print(
        f"Qt loop during the lone requests: longest gap {lone_stall['gap_max_ms']:.1f} ms, "
        f"p99 {lone_stall['gap_p99_ms']:.1f} ms"
    )
    before = out["gui_before_wrk"]
    handled = max(stall["accepted"] - before["accepted"], 1)
    print(
        f"(b) per request under wrk: {(stall['cpu_s'] - before['cpu_s']) * 1000 / handled:.3f} ms CPU "
        f"(all threads), {(stall['ctx_switches'] - before['ctx_switches']) / handled:.2f} context switches"
    )
    print(
        f"(b) process: RSS {stall['rss_mb']:.0f} MB after load, {stall['model_rows']:,} rows in the Live "
        f"model, writer {stall['writer_batches']:,} batches / {stall['writer_rows']:,} rows "
        f"(avg {stall['writer_rows'] / max(stall['writer_batches'], 1):.1f} per batch), "
        f"503 overloaded: {stall['overloaded']:,}"
    )
    stored_ok = stored_during_wrk >= b.ok_responses and out["rows_in_file"] >= all_ok_b
    print(
        f"Stored: {stored_during_wrk:,} rows during wrk vs {b.ok_responses:,} wrk 2xx; "
        f"{out['rows_in_file']:,} rows in the file vs {all_ok_b:,} 2xx in all "
        f"(child exit code {out['gui_rc']})"
    )
    if "profile" in out:
        print(f"py-spy profile of (b) during wrk: {out['profile']['path']} (rc {out['profile'].get('rc')})")
    rows = (
        (f"durable events/s >= {MIN_EVENTS_PER_S:,}", f"{durable:,.0f}", durable >= MIN_EVENTS_PER_S),
        (f"ratio b/a >= {MIN_RATIO:.2f}", f"{ratio:.2f}", ratio >= MIN_RATIO),
        (f"p99 (b) <= {MAX_P99_MS:.0f} ms", f"{b.p99_ms:.1f} ms", b.p99_ms <= MAX_P99_MS),
        (
            f"longest Qt stall <= {MAX_STALL_MS:.0f} ms",
            f"{stall['gap_max_ms']:.1f} ms",
            stall["gap_max_ms"] <= MAX_STALL_MS,
        ),
        (
            f"lone p50 (b) <= {MAX_LONE_P50_MS:.0f} ms",
            f"{lones['gui'].p50_ms:.2f} ms",
            lones["gui"].p50_ms <= MAX_LONE_P50_MS,
        ),
        ("stored events >= 2xx answers", f"{out['rows_in_file']:,} >= {all_ok_b:,}", stored_ok),
    )
    cost = projection_report(out["projection_runs"])
    if cost is not None:
        rows = (
            *rows,
            (
                f"projection cost <= {MAX_PROJECTION_COST:.0%} of req/s",
                f"{cost:.1%}",
                cost <= MAX_PROJECTION_COST,
            ),
        )
    print()
    print("Targets")
    for name, value, ok in rows:
        print(f"  {name:32} {value:>22}   {verdict(ok)}")
    print(f"  (info) ratio b/a' >= {MIN_RATIO:.2f}  {ratio_v:>22.2f}   {verdict(ratio_v >= MIN_RATIO)}")


def projection_report(runs: list[dict[str, Any]]) -> float | None:
    """(b) against (b'): the share of throughput the projections cost (median of the rounds)."""
    if not runs:
        return None
    print()
    print("Projections (messages + numbers, in the writer's transaction): (b) on vs (b') off, wrk as above")
    print(
        f"  {'run':10} {'req/s':>7} {'2xx/s':>7} {'p99 ms':>7} {'CPU ms/req':>10} {'writer':>7} "
        f"{'other CPU':>9} {'writer wall: store/project/commit':>33}  stored"
    )
    for r in runs:
        w: WrkResult = r["wrk"]
        name = "(b) on" if r["projections"] else "(b') off"
        print(
            f"  {name:10} {w.rps:7,.0f} {w.ok_rps:7,.0f} {w.p99_ms:7.1f} "
            f"{r['cpu_ms']:10.3f} {r['writer_ms']:7.3f} {w.other_cpu:9.2f} "
            f"{'/'.join(f'{v:.3f}' for v in r['phases_ms'].values()):>33}  "
            f"{r['rows']:,} events, {r['messages']:,} messages (exit {r['rc']})"
        )
    on = [r for r in runs if r["projections"]]
    off = [r for r in runs if not r["projections"]]
    rps_on = statistics.median(r["wrk"].rps for r in on)
    rps_off = statistics.median(r["wrk"].rps for r in off)
    cpu_on = statistics.median(r["cpu_ms"] for r in on)
    cpu_off = statistics.median(r["cpu_ms"] for r in off)
    writer_on = statistics.median(r["writer_ms"] for r in on)
    writer_off = statistics.median(r["writer_ms"] for r in off)
    cost = 1 - rps_on / rps_off if rps_off else 0.0
    print(
        f"  median req/s: on {rps_on:,.0f}, off {rps_off:,.0f} -> the projections cost {cost:.1%} of the "
        f"throughput; CPU per request {cpu_on:.3f} vs {cpu_off:.3f} ms ({cpu_on / cpu_off - 1:+.1%})"
        + ("" if len(off) > 1 else "   (one round: ±15 % noise; --rounds 3 for medians)")
    )
    print(
        f"  of which the writer process: {writer_on:.3f} vs {writer_off:.3f} ms, the rest (loop, Qt, feed) "
        f"{cpu_on - writer_on:.3f} vs {cpu_off - writer_off:.3f} ms"
    )
    return cost


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per server (default 10)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lone", type=int, default=500, help="sequential requests for the lone latency")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, logs, script)")
    parser.add_argument("--profile", metavar="FILE", help="py-spy record (b) during wrk into FILE (raw)")
    parser.add_argument(
        "--projections",
        choices=("both", "on", "off"),
        default="both",
        help="run (b) with the writer's projections on, off, or both to compare (default both)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="(b)/(b') pairs for the projection cost (default 1)"
    )
    parser.add_argument("--child", choices=("reference", "gui"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--validate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-projections", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "reference":
        asyncio.run(_reference_main(args.port, args.validate))
        return 0
    if args.child == "gui":
        return _gui_child(args.port, args.data_dir, not args.no_projections)

    if not 1 <= args.seconds <= 600 or not 1 <= args.connections <= 1024 or not 0 < args.lone <= 100_000:
        parser.error("--seconds 1..600, --connections 1..1024, --lone 1..100000")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds 1..20")
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 0
    return in_work_dir("pilot-bench-ingest-", args.keep, lambda work: report(args, measure(args, work)))


if __name__ == "__main__":
    sys.exit(main())

"""Numbers benchmark: 200 flapping numbers against the real GUI process, the tray's side.

    .venv/bin/python bench/number_flaps.py [--seconds 60] [--numbers 200] [--delay 10]

The sandbox runs in this process (like the platform, elsewhere) with `--numbers` numbers,
each with a `"*"` webhook pointed at a child process that is the real app built like
`_main`: QApplication (offscreen), `start_window()`, `attach_tray()` with the user's
notification rules (`--delay` s debounce, `--flap-window` s), the receiver on the Qt loop,
the durable store. The scenario's own traffic runs (`--rate` webhooks/s), and on top every
number flaps through `Sandbox.emit`: down for 2–25 s, up for 3–30 s, again and again, for
`--seconds`. Then the run waits one debounce window for the last notifications.

Measures:
- the longest Qt loop stall in the child (a 10 ms precise QTimer, as bench/ingest.py);
- the notifications the tray showed, from the app's own log lines (`notification
  number=… kind=…`): per kind, and the most any number got within one debounce window;
- that every delivery was answered 2xx and every transition stored.

Targets: longest stall ≤ 50 ms; notifications per number per debounce window ≤ 1.
Offscreen there is no system tray, so notifications go to the window's banner and title
(the fallback path). Prints figures and ok/FAIL; always exits 0. Temp data dir only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _common import (
    DB_NAME,
    Child,
    bench_loop,
    child_env,
    describe_tree,
    emit,
    free_port,
    in_work_dir,
    machine_load,
    rss_mb,
    start_app,
    stop_app,
    verdict,
)

READY_TIMEOUT_S = 60.0
SETTLE_S = 8.0  # number.created → connected (the scenario's CONNECT_AFTER is up to 6 s)
DOWN_S, UP_S = (2.0, 25.0), (3.0, 30.0)

MAX_STALL_MS = 50.0
MAX_PER_WINDOW = 1
# Log timestamps are taken a few ms after the notifier's clock: two notifications exactly
# one window apart (allowed) may look a hair closer. Closer than this slack is a breach.
LOG_SLACK_S = 0.25

NOTIFICATION = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO pilot_desktop\.ui\.tray: "
    r"notification number=(\S+) kind=(\S+) via=(\S+):"
)


# == child: the real app ========================================================================


def _gui_child(args: argparse.Namespace) -> int:
    from pilot_desktop.ui.app import run_on_qt

    return run_on_qt(lambda: _gui_main(args), bench_loop())


async def _gui_main(args: argparse.Namespace) -> int:
    from ingest import StallMeter, command_loop

    from pilot_desktop.services import logs
    from pilot_desktop.services.paths import resolve
    from pilot_desktop.services.settings import NotificationSettings, ReceiverSettings, Settings
    from pilot_desktop.ui.app import settle_heap
    from pilot_desktop.ui.tray import attach_tray

    paths = resolve(args.data_dir)
    logs.setup(paths, console=False)  # the app's log file: the notifications are read from it
    notifications = NotificationSettings(disconnect_delay_s=args.delay, flap_window_s=args.flap_window)
    settings = Settings(receiver=ReceiverSettings(port=args.port), notifications=notifications)
    core, window = await start_app(args.data_dir, settings)  # what the GUI's main does, in order
    runtime = core.runtime
    tray = attach_tray(window, core.profile.settings, core.reads)
    tray.show_initial()
    assert window.live is not None and runtime.db_path is not None
    await window.live.load()
    settle_heap()
    counter = sqlite3.connect(f"file:{runtime.db_path}?mode=ro", uri=True)

    def counts() -> dict[str, Any]:
        return {
            "events": counter.execute("SELECT count(*) FROM events").fetchone()[0],
            "transitions": counter.execute("SELECT count(*) FROM number_transitions").fetchone()[0],
            "level": tray.level,
            "title": window.windowTitle(),
            "suppressed": tray.notifier.suppressed,
            "rss_mb": rss_mb(),
        }

    meter = StallMeter()
    emit("READY", {"url": runtime.hook_url, "pid": os.getpid(), **counts()})
    try:
        await command_loop(meter, counts)
    finally:
        meter.stop()
        counter.close()
        tray.shutdown()
        await stop_app(core, window)
    emit("DONE", {})
    return 0


# == parent: the sandbox and the flapping ========================================================


def _iso(t: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return f"{d:%Y-%m-%dT%H:%M:%S}.{d.microsecond // 1000:03d}Z"


async def _stats(child: Child, command: str, tag: str) -> dict[str, Any]:
    child.send(command)
    return await asyncio.to_thread(child.wait_for, tag, 60)


async def drive(args: argparse.Namespace, child: Child, hook_url: str) -> dict[str, Any]:
    from pilot_desktop.sandbox.server import Sandbox
    from pilot_desktop.sandbox.state import DeliveryLog

    answers: Counter[str] = Counter()
    number_events = 0

    def on_attempt(entry: DeliveryLog) -> None:
        nonlocal number_events
        answers["2xx" if entry.status == "SUCCESS" else f"failed ({entry.status_code})"] += 1
        number_events += entry.event.startswith("number.") and entry.status == "SUCCESS"

    sandbox = Sandbox(
        seed=args.seed, numbers=args.numbers, rate=args.rate, time_scale=0.0, on_attempt=on_attempt
    )
    await sandbox.start()
    try:
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10, trust_env=False) as client:
            for number in sandbox.numbers:  # one "*" webhook per number, as the demo does
                resp = await client.post(
                    "/v1/webhooks",
                    headers={"x-api-key": sandbox.number_keys[number.id]},
                    json={"url": f"{hook_url}/{number.id}", "name": "bench", "events": ["*"]},
                )
                resp.raise_for_status()
        sandbox.time_scale = 1.0
        await asyncio.sleep(SETTLE_S)
        marked = await _stats(child, "mark", "MARKED")
        rng = random.Random(args.seed)
        start = time.monotonic()
        up = {n.id: True for n in sandbox.numbers}
        next_at = {n.id: start + rng.uniform(0, UP_S[1]) for n in sandbox.numbers}
        by_id = {n.id: n for n in sandbox.numbers}
        emitted = Counter[str]()
        while (now := time.monotonic()) < start + args.seconds:
            for number_id, at in next_at.items():
                if at > now:
                    continue
                n = by_id[number_id]
                data: dict[str, Any] = {"numberId": n.id, "phone": n.phone, "displayName": n.name}
                if up[number_id]:
                    event = "number.disconnected"
                    data |= {"error": "Lost connection to WhatsApp (bench)", "errorCode": "CONNECTION_LOST"}
                    next_at[number_id] = now + rng.uniform(*DOWN_S)
                else:
                    event = "number.connected"
                    next_at[number_id] = now + rng.uniform(*UP_S)
                up[number_id] = not up[number_id]
                data["createdAt"] = _iso(time.time())
                sandbox.emit(number_id, event, {"event": event, "data": data})
                emitted[event] += 1
            await asyncio.sleep(0.05)
        flapped = time.monotonic() - start
        await asyncio.sleep(args.delay + 5)  # the last debounce window, and two timer ticks
        stats = await _stats(child, "stats", "STATS")
    finally:
        await sandbox.stop()
    return {
        "marked": marked,
        "stats": stats,
        "flapped_s": flapped,
        "emitted": dict(emitted),
        "answers": dict(answers),
        "number_events": number_events,
    }


def notifications(log_file: Path) -> list[tuple[float, str, str, str]]:
    out = []
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := NOTIFICATION.match(line):
            at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((at, m[2], m[3], m[4]))
    return out


def most_in_a_window(times: list[float], window: float) -> int:
    """The most notifications of one number within any `window` seconds (less the slack)."""
    times = sorted(times)
    best, i = 0, 0
    for j, t in enumerate(times):
        while t - times[i] >= window - LOG_SLACK_S:
            i += 1
        best = max(best, j - i + 1)
    return best


def run(args: argparse.Namespace, work: Path) -> None:
    data = work / "data"
    data.mkdir()
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--port", str(port)]
    argv += ["--data-dir", str(data), "--delay", str(args.delay), "--flap-window", str(args.flap_window)]
    child = Child(argv, work / "child.stderr", env=child_env(QT_QPA_PLATFORM="offscreen"))
    try:
        ready = child.wait_for("READY", READY_TIMEOUT_S)
        out = asyncio.run(drive(args, child, ready["url"]))
        child.send("quit")
        child.wait_for("DONE", 60)
    finally:
        rc = child.close()
    with sqlite3.connect(data / DB_NAME) as conn:
        stored_transitions = conn.execute("SELECT count(*) FROM number_transitions").fetchone()[0]
    shown = notifications(data / "logs" / "pilot-desktop.log")
    report(args, out, shown, stored_transitions, rc)


def report(
    args: argparse.Namespace,
    out: dict[str, Any],
    shown: list[tuple[float, str, str, str]],
    stored_transitions: int,
    rc: int,
) -> None:
    s = out["stats"]
    kinds = Counter(kind for _, _, kind, _ in shown)
    via = Counter(v for _, _, _, v in shown)
    per_number: dict[str, list[float]] = defaultdict(list)
    for at, number, _, _ in shown:
        per_number[number].append(at)
    worst = max((most_in_a_window(t, args.delay) for t in per_number.values()), default=0)
    # The same without health notices: the connection rules alone (disconnect, flaps, back).
    per_number_conn: dict[str, list[float]] = defaultdict(list)
    for at, number, kind, _ in shown:
        if kind != "health":
            per_number_conn[number].append(at)
    worst_conn = max((most_in_a_window(t, args.delay) for t in per_number_conn.values()), default=0)
    emitted = out["emitted"]
    downs, ups = emitted.get("number.disconnected", 0), emitted.get("number.connected", 0)
    flaps = f"down {DOWN_S[0]:.0f}-{DOWN_S[1]:.0f} s, up {UP_S[0]:.0f}-{UP_S[1]:.0f} s"
    rules = f"debounce {args.delay} s, flap window {args.flap_window} s, threshold 3"
    by_kind = ", ".join(f"{k} {n}" for k, n in kinds.most_common()) or "none"
    failed = sum(n for k, n in out["answers"].items() if k != "2xx")
    stall = s["gap_max_ms"]
    lines = [
        f"numbers: {args.numbers}, flapping for {out['flapped_s']:.0f} s ({flaps}), "
        f"scenario traffic {args.rate:g}/s; rules: {rules}",
        f"emitted: {downs} disconnects, {ups} reconnects; deliveries: {out['answers']}; "
        f"number.* events delivered: {out['number_events']}",
        f"stored: {s['events']} events, {stored_transitions} number transitions; child exit code {rc}",
        f"GUI loop over {s['seconds']:.0f} s: {s['ticks']} ticks of 10 ms, gap p50 {s['gap_p50_ms']:.1f} ms, "
        f"p99 {s['gap_p99_ms']:.1f} ms, max {stall:.1f} ms, gaps over 50 ms: {s['gaps_over_50ms']}; "
        f"RSS {s['rss_mb']:.0f} MB",
        f"notifications shown: {len(shown)} ({by_kind}) via {dict(via)}, {len(per_number)} numbers; "
        f"held back (muted/quiet): {s['suppressed']}",
        f"window title at the end: {s['title']!r}; tray level: {s['level']}",
        "",
        f"{verdict(stall <= MAX_STALL_MS)}  longest Qt loop stall {stall:.1f} ms "
        f"(target <= {MAX_STALL_MS:.0f} ms)",
        f"{verdict(worst <= MAX_PER_WINDOW)}  most notifications of one number within {args.delay} s: "
        f"{worst} (target <= {MAX_PER_WINDOW}); connection notifications alone: {worst_conn}",
        f"{verdict(failed == 0)}  every delivery answered 2xx ({failed} not)",
        f"{verdict(len(shown) > 0)}  notifications were shown at all ({len(shown)})",
    ]
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="how long the numbers flap (default 60)")
    parser.add_argument("--numbers", type=int, default=200, help="sandbox numbers (default 200)")
    parser.add_argument(
        "--delay", type=int, default=10, help="debounce: notifications.disconnect_delay_s (10)"
    )
    parser.add_argument(
        "--flap-window", type=int, default=60, help="notifications.flap_window_s (default 60)"
    )
    parser.add_argument("--rate", type=float, default=20.0, help="scenario webhooks/s besides the flaps (20)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, log, stderr)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _gui_child(args)
    if not (1 <= args.seconds <= 600 and 1 <= args.numbers <= 500 and 1 <= args.delay <= 600):
        parser.error("--seconds 1..600, --numbers 1..500, --delay 1..600")
    if not (10 <= args.flap_window <= 3600 and 0 <= args.rate <= 1000):
        parser.error("--flap-window 10..3600, --rate 0..1000")
    print(machine_load())
    print(describe_tree())
    return in_work_dir("pilot-bench-numbers-", args.keep, lambda work: run(args, work))


if __name__ == "__main__":
    sys.exit(main())

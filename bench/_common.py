"""Helpers shared by the benchmarks: child processes speaking JSON lines, bodies, stats.

A benchmark child writes one line per report to stdout, `TAG {json}`; everything else
it says (logging, Qt warnings) goes to stderr, which the parent keeps in a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DB_NAME = "pilot-desktop.sqlite3"
CACHE_ROOT = Path(tempfile.gettempdir()) / "pilot-desktop-bench"
_MARKER = "built.json"  # written last: a build that was cut short is not reused

EVENTS = ("message.received", "message.sent", "message.delivered", "message.read")
NUMBERS = ("num_8f3a21c07d", "num_2b9e4410aa", "num_c7d15e9031", "num_51f0ab6e2c")


# -- numbers -----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def rss_mb() -> float:
    """Resident memory of this process (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def machine_load(seconds: float = 1.0) -> str:
    """How busy the CPUs are with other work right now; a benchmark on a busy machine lies."""
    busy0, total0 = _cpu_times()
    time.sleep(seconds)
    busy1, total1 = _cpu_times()
    share = (busy1 - busy0) / max(total1 - total0, 1)
    note = "" if share < 0.10 else "  WARNING: other processes use the CPUs; figures will be low"
    load = os.getloadavg()[0]
    return f"machine: {os.cpu_count()} CPUs, {share:.0%} busy before the run (load avg {load:.2f}){note}"


def describe_tree() -> str:
    """Which app code was measured: the commit, and whether the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "pilot_desktop"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "app code: (not a git checkout)"
    dirty = f" + uncommitted changes in {len(changed)} file(s) of pilot_desktop/" if changed else ""
    return f"app code: {head}{dirty}"


def verdict(ok: bool) -> str:
    return "ok" if ok else "FAIL"


# -- webhook bodies -----------------------------------------------------------------------

UID = "@@UID@@"  # replaced per request; must make the body (and its dedupe key) unique
STAMP = "@@STAMP@@"


def body_template(event: str, number: str = NUMBERS[0]) -> str:
    """A realistic `message.*` webhook body of about 600 bytes, with two placeholders.

    `UID` ends up in `data.id` and `data.messageId` (the dedupe key hashes both), `STAMP`
    in `data.createdAt`. Compact JSON, keys in the order the platform sends them.
    """
    inbound = event == "message.received"
    data: dict[str, Any] = {
        "numberId": number,
        "messageId": f"wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABIYIDNBQzFGRTk0{UID}",
        "id": f"msg_{UID}",
        "type": "text",
        "fromMe": not inbound,
        "createdAt": STAMP,
        "from": "+5511988887777" if inbound else "+5511999990000",
        "to": "+5511999990000" if inbound else "+5511988887777",
        "content": (
            "Olá! Confirmamos o seu pedido 48213 com entrega prevista para quinta-feira entre "
            "9h e 12h. Responda 1 para confirmar, 2 para reagendar ou 3 para falar com um atendente. "
            "Obrigado por comprar conosco!"
        ),
        "correlationId": f"order-48213-{UID}",
    }
    if inbound:
        data["participantName"] = "Maria Aparecida Souza"
    else:
        data["mediaLink"] = "https://cdn.example.invalid/media/7f3e0c1d2b4a/receipt-48213.pdf"
    return json.dumps({"event": event, "data": data}, ensure_ascii=False, separators=(",", ":"))


def make_body(event: str, uid: str, stamp: str, number: str = NUMBERS[0]) -> bytes:
    return body_template(event, number).replace(UID, uid).replace(STAMP, stamp).encode()


def stamp_of(n: int) -> str:
    return f"2026-11-24T{n // 3_600_000 % 24:02d}:{n // 60_000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}Z"


# -- child processes ------------------------------------------------------------------------


def emit(tag: str, payload: dict[str, Any]) -> None:
    """Child side: one report line for the parent."""
    sys.stdout.write(f"{tag} {json.dumps(payload)}\n")
    sys.stdout.flush()


class Child:
    """A benchmark child process: send it command lines, wait for its `TAG {json}` lines."""

    def __init__(self, argv: list[str], stderr_file: Path, env: dict[str, str] | None = None) -> None:
        self.spawned_at = time.time()
        self._stderr = stderr_file.open("wb")
        self.stderr_file = stderr_file
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
            cwd=REPO,
        )
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            with self._cond:
                self._lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait_for(self, tag: str, timeout: float) -> dict[str, Any]:
        """The next `tag` report (consumed), or RuntimeError with the child's stderr tail."""
        deadline = time.monotonic() + timeout
        prefix = tag + " "
        with self._cond:
            while True:
                for i, line in enumerate(self._lines):
                    if line.startswith(prefix):
                        del self._lines[: i + 1]
                        result: dict[str, Any] = json.loads(line[len(prefix) :])
                        return result
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    break
                self._cond.wait(min(left, 0.5))
        raise RuntimeError(f"child {self.pid} gave no {tag} within {timeout:.0f} s:\n{self.stderr_tail()}")

    def stderr_tail(self, lines: int = 30) -> str:
        self._stderr.flush()
        text = self.stderr_file.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def close(self, timeout: float = 30.0) -> int:
        """Ask it to quit (stdin EOF); kill it by its pid if it does not within `timeout`."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=10)
        self._stderr.close()
        return rc


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PILOT_DESKTOP_DATA_DIR", None)  # children always get an explicit temp dir
    env.pop("PILOT_DESKTOP_SIGNING_SECRETS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def start_stdin_reader(on_line: Callable[[str], None]) -> threading.Thread:
    """Child side: call `on_line(text)` for each stdin line, then `on_line("quit")` at EOF."""

    def run() -> None:
        for line in sys.stdin:
            on_line(line.strip())
        on_line("quit")

    thread = threading.Thread(target=run, name="bench-stdin", daemon=True)
    thread.start()
    return thread


def bench_loop() -> Any:
    """The loop the GUI children run on: the app's QtLoop, or plain qasync with
    BENCH_LOOP=qasync, to compare the two."""
    if os.environ.get("BENCH_LOOP") == "qasync":
        import qasync

        return qasync.QEventLoop
    from pilot_desktop.ui.loop import QtLoop

    return QtLoop


def fresh_store(folder: Path) -> tuple[Path, Any]:
    """An empty store with the app's schema in `folder` (emptied first), and a connection
    tuned for a throwaway bulk build."""
    import shutil

    from pilot_desktop.store.db import connect, open_store

    shutil.rmtree(folder, ignore_errors=True)
    db = open_store(folder)
    conn = connect(db)
    conn.execute("PRAGMA synchronous = OFF")  # a throwaway build: no need to survive a crash
    conn.execute("PRAGMA cache_size = -262144")
    return db, conn


def cached_db(
    name: str, what: str, rebuild: bool, build: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any]]:
    """A big database built once and kept between runs in CACHE_ROOT/`name` (a name that
    holds the schema version, so an upgraded app never opens, and migrates, an old build).
    `build(folder)` fills the folder and returns what it made; that goes into the marker."""
    from pilot_desktop.store.db import SCHEMA_VERSION

    cache = CACHE_ROOT / f"{name}-schema{SCHEMA_VERSION}"
    marker = cache / _MARKER
    if not rebuild and marker.exists():
        info: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
        info["cached"] = True
        return cache / DB_NAME, info
    print(f"building {what} in {cache} …", flush=True)
    info = build(cache)
    marker.write_text(json.dumps(info), encoding="utf-8")
    info["cached"] = False
    return cache / DB_NAME, info


def in_work_dir(prefix: str, keep: bool, body: Callable[[Path], None]) -> int:
    """Run `body(work)` in a new temporary folder, removed afterwards unless `keep` or the
    run failed (then kept, and said, for a look at the logs). A benchmark measures and
    always exits 0."""
    import shutil

    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        body(work)
    except Exception as exc:
        print(f"benchmark could not complete: {exc}", file=sys.stderr)
        keep = True
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


async def start_app(data_dir: Path, settings: Any = None, *, projections: bool = True) -> tuple[Any, Any]:
    """The window over the application core, in the order the GUI's main runs them (start
    the core, build the window, show it, load the Live history): (core, window). Settings
    in memory (any free port unless `settings` says), the bench's own data dir."""
    from pilot_desktop.services.config import Config
    from pilot_desktop.services.core import AppCore, CoreOptions
    from pilot_desktop.services.paths import resolve
    from pilot_desktop.services.secrets import MemorySecrets
    from pilot_desktop.services.settings import ReceiverSettings, Settings
    from pilot_desktop.ui.app import build_window

    config = Config.memory(settings or Settings(receiver=ReceiverSettings(port=0)))
    core = AppCore(resolve(data_dir), config, CoreOptions(projections=projections), secrets=MemorySecrets())
    await core.start()
    window = build_window(core)
    window.show()
    return core, window


async def stop_app(core: Any, window: Any) -> None:
    """The staged shutdown: detach the window, drain the receiver and the writer."""
    from pilot_desktop.ui.app import close_window

    window.close()
    close_window(window, core)
    await core.stop()  # drains the writer: every 2xx is committed before this returns

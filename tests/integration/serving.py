"""Drive real `pilot-desktop` processes: start `serve`, wait for its `Listening:` line, stop it.

Everything runs on loopback with a temporary `--data-dir`; nothing here touches the user's
real data. The helpers are plain classes so both function- and module-scoped fixtures
(tests/integration/conftest.py, test_fuzz.py) can use them.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

# The console script of the venv running the tests (not resolved: .venv/bin/python is a
# symlink to the base interpreter, the script lives next to the link).
BIN = Path(sys.executable).parent / "pilot-desktop"
DB_NAME = "pilot-desktop.sqlite3"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
CLI_TIMEOUT_S = 60.0


def cli_env() -> dict[str, str]:
    """The test environment minus anything that would change what serve does."""
    env = dict(os.environ)
    env.pop("PILOT_DESKTOP_SIGNING_SECRETS", None)
    env.pop("COLUMNS", None)  # tables are fitted to it: a test that wants a width says so
    return env


def cli(*args: str | os.PathLike[str], timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run `pilot-desktop ARGS` to completion and return the result (never raises on rc)."""
    return subprocess.run(
        [str(BIN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        check=False,
    )


def sign(body: bytes, secret: str) -> str:
    """The `x-pilot-status-signature` value: HMAC-SHA256 hex over the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def read_ndjson(text: str) -> list[dict[str, Any]]:
    out = []
    # Split on "\n" only (the NDJSON separator): str.splitlines would also split on U+2028,
    # U+0085 and friends, which JSON strings may carry unescaped.
    lines = text.split("\n")
    assert lines[-1] == "", "the export does not end with a newline"
    for n, line in enumerate(lines[:-1], start=1):
        assert line.strip(), f"blank line {n} in NDJSON export"
        rec = json.loads(line)
        assert isinstance(rec, dict), f"line {n} of the export is not an object: {line[:200]}"
        out.append(rec)
    return out


def settings_of(data_dir: Path) -> dict[str, Any]:
    """The preferences file of a data dir (settings.json), as JSON."""
    raw: dict[str, Any] = json.loads((data_dir / "settings.json").read_text(encoding="utf-8"))
    return raw


def state_of(data_dir: Path) -> dict[str, Any]:
    """What the app generated or learned (state.json beside the settings): the hook token,
    the accounts, the signing-secret index."""
    raw: dict[str, Any] = json.loads((data_dir / "state.json").read_text(encoding="utf-8"))
    return raw


def token_of(data_dir: Path) -> str:
    """The hook token of a data dir (state.json)."""
    token: str = state_of(data_dir)["token"]
    return token


def write_old_profile(data_dir: Path, version: int) -> dict[str, Any]:
    """Rewrite the profile as a Pilot Desktop before settings v4 left it: one settings.json
    of `version` (2 or 3) holding the state too (the token under `receiver`; v2 without the
    routes of the signing secrets), and no state.json. Returns what was written."""
    settings, state = settings_of(data_dir), state_of(data_dir)
    old = {k: v for k, v in settings.items() if k != "version"}
    old["receiver"] = {**settings["receiver"], "token": state["token"]}
    for key in ("accounts", "real_receiver", "signing_secret_webhooks", "signing_secret_routes"):
        old[key] = state[key]
    old["version"] = version
    if version < 3:
        old.pop("signing_secret_routes")
    (data_dir / "settings.json").write_text(json.dumps(old, indent=2), encoding="utf-8")
    (data_dir / "state.json").unlink()
    return old


def open_ro(db: Path) -> sqlite3.Connection:
    """Read-only connection to a database another process writes (never modifies it)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def children(pid: int) -> list[int]:
    """Live child processes of `pid` (its writer process), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie counts as gone: it runs no code)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


class Server:
    """One `pilot-desktop serve` subprocess."""

    def __init__(self, data_dir: Path, args: list[str], log_dir: Path) -> None:
        self.data_dir = data_dir
        self.args = args
        self.lines: list[str] = []
        self.killed = False  # set when a test kills it on purpose
        self._cond = threading.Condition()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = log_dir / f"serve-{time.monotonic_ns()}.stderr"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=cli_env(),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        # Keep draining stdout so the server never blocks on a full pipe.
        self._reader = threading.Thread(target=self._read, name="serve-stdout", daemon=True)
        self._reader.start()
        line = self.wait_for_line("Listening: ", START_TIMEOUT_S)
        self.url = line.split(" ", 1)[1].strip()
        self.base, _, self.token = self.url.rpartition("/hooks/")
        assert self.base.startswith(("http://127.0.0.1:", "http://[::1]:")), self.url

    # -- process output ----------------------------------------------------------------

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def output(self) -> str:
        with self._cond:
            out = "\n".join(self.lines)
        return f"--- stdout\n{out}\n--- stderr\n{self.stderr()}"

    def wait_for_line(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        raise AssertionError(
            f"serve printed no {prefix!r} line within {timeout} s "
            f"(exit code {self.proc.poll()}):\n{self.output()}"
        )

    # -- HTTP --------------------------------------------------------------------------

    def hook(self, route: str | None = None, token: str | None = None) -> str:
        url = f"{self.base}/hooks/{token if token is not None else self.token}"
        return f"{url}/{route}" if route is not None else url

    def post(
        self,
        body: bytes | dict[str, Any] | list[Any],
        *,
        client: httpx.Client | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
        url = self.hook(kwargs.pop("route", None), kwargs.pop("token", None))
        if client is not None:
            return client.post(url, content=content, headers=headers, **kwargs)
        with httpx.Client(timeout=30) as c:
            return c.post(url, content=content, headers=headers, **kwargs)

    # -- the store ---------------------------------------------------------------------

    @property
    def db(self) -> Path:
        return self.data_dir / DB_NAME

    def export(self) -> list[dict[str, Any]]:
        """`pilot-desktop export` (NDJSON) of this data dir, parsed."""
        res = cli("export", "--data-dir", self.data_dir)
        assert res.returncode == 0, f"export failed ({res.returncode}):\n{res.stderr}"
        return read_ndjson(res.stdout)

    def export_csv(self) -> list[dict[str, str]]:
        res = cli("export", "--data-dir", self.data_dir, "--format", "csv")
        assert res.returncode == 0, f"export --format csv failed ({res.returncode}):\n{res.stderr}"
        return list(csv.DictReader(io.StringIO(res.stdout, newline="")))

    def rejections(self, after_id: int = 0) -> list[dict[str, Any]]:
        """Rows of the `rejections` table (read-only, straight from the SQLite file)."""
        conn = open_ro(self.db)
        try:
            rows = conn.execute(
                "SELECT * FROM rejections WHERE id > ? ORDER BY id",
                (after_id,),
            ).fetchall()
        finally:
            conn.close()
        return [dict(r) for r in rows]

    def last_rejection_id(self) -> int:
        conn = open_ro(self.db)
        try:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM rejections").fetchone()[0])
        finally:
            conn.close()

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send `sig`, wait for the exit; a server that hangs is killed and reported."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close()
                raise AssertionError(
                    f"serve did not exit within {timeout} s of signal {sig}; killed:\n{self.output()}"
                ) from None
        self._close()
        return self.proc.returncode

    def writer_pids(self) -> list[int]:
        """The server's writer process: its spawned child (multiprocessing also starts a
        resource tracker, which is not it), from /proc (Linux)."""
        return [pid for pid in children(self.proc.pid) if b"spawn_main" in _cmdline(pid)]

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup (a crash or power-cut of the process)."""
        self.killed = True
        self.proc.kill()
        self.proc.wait()
        self._close()

    def _close(self) -> None:
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


class ServerPool:
    """Starts servers for a fixture and, at teardown, checks each one drains and exits 0."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: list[Server] = []

    def start(self, *args: str, data_dir: Path | None = None, port: int | None = 0) -> Server:
        """Start serve on `--port 0` (any free port); `port=None` lets the settings decide."""
        if data_dir is None:
            data_dir = self.root / f"data{len(self.servers)}"
        argv = list(args)
        if port is not None:
            argv += ["--port", str(port)]
        server = Server(data_dir, argv, self.root / "logs")
        self.servers.append(server)
        return server

    def close(self) -> list[str]:
        problems = []
        for s in self.servers:
            if s.killed:
                continue
            was_running = s.proc.poll() is None
            try:
                rc = s.stop()
            except AssertionError as exc:
                problems.append(str(exc))
                continue
            if rc != 0:
                why = "on SIGTERM" if was_running else "by itself"
                problems.append(f"serve exited {rc} {why}:\n{s.output()}")
        return problems

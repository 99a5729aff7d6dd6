"""The real GUI process (offscreen): starts, receives, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pilot_desktop.store.schema import APPLICATION_ID

EXE = str(Path(sys.executable).parent / "pilot-desktop")


def _launch(data_dir: Path, **env: str) -> subprocess.Popen[str]:
    """The real window, offscreen, on the real receiver (not the demo)."""
    return subprocess.Popen(
        [EXE, "--data-dir", str(data_dir), "--no-demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env},
    )


def _start(data_dir: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    (data_dir / "settings.json").write_text(json.dumps({"version": 1, "receiver": {"port": 0}}))
    proc = _launch(data_dir, **env)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("Listening: "):
            return proc, line.split(" ", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"GUI did not start: {proc.stderr.read() if proc.stderr else ''}")


def test_gui_process_receives_and_drains_on_sigterm(data_dir: Path) -> None:
    proc, url = _start(data_dir)
    try:
        with httpx.Client(timeout=10) as client:
            for i in range(50):
                body = {
                    "event": "message.received",
                    "data": {
                        "numberId": "n",
                        "messageId": f"w{i}",
                        "id": f"m{i}",
                        "fromMe": False,
                        "createdAt": "2026-11-24T10:00:00Z",
                        "from": "+1",
                        "to": "+2",
                    },
                }
                assert client.post(url, json=body).status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    with sqlite3.connect(data_dir / "pilot-desktop.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 50


def test_gui_refuses_a_too_new_database_with_a_message_not_a_crash(data_dir: Path) -> None:
    db = data_dir / "pilot-desktop.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 999")
    before = db.read_bytes()
    proc = _launch(data_dir)
    try:
        log = data_dir / "logs" / "pilot-desktop.log"
        deadline = time.monotonic() + 30
        while "newer Pilot Desktop" not in (log.read_text() if log.exists() else ""):
            assert proc.poll() is None, "the GUI exited instead of showing the problem"
            assert time.monotonic() < deadline, "the problem was never reported"
            time.sleep(0.1)
        time.sleep(0.5)
        assert proc.poll() is None  # still up, showing the message: no crash loop
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "newer Pilot Desktop" in err  # logged to the console as well as shown
    assert "Traceback" not in err
    assert db.read_bytes() == before


def test_the_window_checks_signatures_with_the_configured_secrets(data_dir: Path) -> None:
    proc, url = _start(data_dir, PILOT_DESKTOP_SIGNING_SECRETS="s3cret")
    try:
        body = b'{"event": "test.ping"}'
        with httpx.Client(timeout=10) as client:
            assert client.post(url, content=body).status_code == 401
            good = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
            assert (
                client.post(url, content=body, headers={"x-pilot-status-signature": good}).status_code == 200
            )
    finally:
        proc.terminate()
        proc.communicate(timeout=30)

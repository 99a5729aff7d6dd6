"""One instance per data folder, with real processes (offscreen, demo mode, temp data dirs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "pilot-desktop")
RAISED = "single instance: raise requested by a second launch"


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def _start(data_dir: Path) -> subprocess.Popen[str]:
    """The window in demo mode; returns once it prints its receiver (it listens by then)."""
    proc = subprocess.Popen(
        [EXE, "--data-dir", str(data_dir), "--demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the window is up (or the process ends)
    if not line.startswith("Listening: "):
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"the first instance did not start: {line!r}\n{err}")
    return proc


def _log(data_dir: Path) -> str:
    path = data_dir / "logs" / "pilot-desktop.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)


@pytest.mark.slow
def test_a_second_launch_raises_the_first_and_a_crashed_one_is_replaced(tmp_path: Path) -> None:
    data = tmp_path / "profile"
    first = _start(data)
    try:
        t0 = time.monotonic()
        second = subprocess.run(
            [EXE, "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=30,
            check=False,
        )
        took = time.monotonic() - t0
        assert second.returncode == 0, second.stderr
        assert second.stdout.strip().splitlines() == [
            f"Pilot Desktop is already running on {data}; its window was brought to the front."
        ]
        assert took < 10
        deadline = time.monotonic() + 10
        while RAISED not in _log(data):
            assert time.monotonic() < deadline, "the first instance never heard the raise request"
            time.sleep(0.05)
        assert first.poll() is None  # still running
        # Another profile is another instance: both run side by side.
        other = _start(tmp_path / "other-profile")
        _stop(other)
        assert other.returncode == 0

        first.kill()  # a crash: its socket file stays behind
        first.communicate(timeout=30)
        third = _start(data)  # finds nobody answering, removes the stale socket, takes over
        try:
            assert third.poll() is None
            again = subprocess.run(
                [EXE, "--data-dir", str(data)],
                capture_output=True,
                text=True,
                env=_env(),
                timeout=30,
                check=False,
            )
            assert again.returncode == 0
            assert "already running" in again.stdout
            assert _log(data).count(RAISED) >= 2
            assert third.poll() is None
        finally:
            _stop(third)
        assert third.returncode == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=30)

"""What a start concludes from the heartbeat the previous run left (services/gaps.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from pilot_desktop.services.gaps import CLEAN_STOP, last_run, situation
from pilot_desktop.store.records import HeartbeatRow

NOW = 1_800_000_000.0
OWN = os.getpid()


def gone_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(child.stdout)


def test_no_heartbeat_is_no_gap() -> None:  # a new store, or one migrated from before heartbeats
    assert last_run(None, NOW, 10.0, OWN) is None
    assert situation(None, NOW).receiving is None


def test_a_clean_stop_is_a_gap_from_the_stop() -> None:
    run = last_run(HeartbeatRow(NOW - 600, NOW - 65, NOW - 60, 4242), NOW, 10.0, OWN)
    assert run is not None and run.ended_at == NOW - 60 and run.clean and run.reason == CLEAN_STOP


def test_a_fresh_beat_of_a_live_process_is_a_run_still_going() -> None:
    run = last_run(HeartbeatRow(NOW - 600, NOW - 5, None, os.getppid()), NOW, 10.0, OWN)  # another process
    assert run is not None and run.ended_at is None
    # another core alive in this process
    run = last_run(HeartbeatRow(NOW - 600, NOW - 5, None, OWN), NOW, 10.0, OWN, runs_here={NOW - 600})
    assert run is not None and run.ended_at is None


def test_a_fresh_beat_with_this_pid_from_a_run_not_alive_here_is_a_crash() -> None:
    """The same pid again after a crash (PID 1 in a container restarted within 30 s): a gap."""
    run = last_run(HeartbeatRow(NOW - 600, NOW - 5, None, OWN), NOW, 10.0, OWN, runs_here=set())
    assert run is not None and run.ended_at == NOW - 5 and not run.clean


def test_a_fresh_beat_of_a_process_that_is_gone_is_a_crash_from_that_beat() -> None:
    run = last_run(HeartbeatRow(NOW - 600, NOW - 5, None, gone_pid()), NOW, 10.0, OWN)
    assert run is not None and run.ended_at == NOW - 5 and not run.clean and "crash" in run.reason
    now_is = situation(HeartbeatRow(NOW - 600, NOW - 5, None, gone_pid()), NOW)
    assert now_is.receiving is False and now_is.since == NOW - 5


def test_a_stale_beat_is_a_crash_even_if_its_pid_runs_again() -> None:  # pids are reused after a reboot
    run = last_run(HeartbeatRow(NOW - 6000, NOW - 3600, None, os.getppid()), NOW, 10.0, OWN)
    assert run is not None and run.ended_at == NOW - 3600 and not run.clean

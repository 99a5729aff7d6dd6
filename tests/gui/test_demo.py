"""Demo mode: the built-in sandbox feeds the app's own receiver, clearly labelled."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pilot_desktop.services.demo import demo_paths, reset_demo_store
from pilot_desktop.services.paths import resolve
from pilot_desktop.ui.panes.live.model import COLUMNS
from tests.gui.support import close_app, memory_core, open_window, until


async def test_demo_shows_signed_sandbox_events_labelled_as_demo(data_dir: Path) -> None:
    core = memory_core(data_dir, demo=True)  # what a first launch runs
    window = await open_window(core)
    window.show()
    assert window.live is not None
    await window.live.load()
    demo = core.demo
    assert demo is not None, core.demo_error
    try:
        assert "DEMO" in window.windowTitle()
        assert window.demo_bar.isVisibleTo(window) and "--no-demo" in window.demo_bar.text()
        assert window.status.demo_label.isVisibleTo(window)
        model = window.live.model
        await until(lambda: model.rowCount() >= 5)
        # The webhooks existed before the scenario's clock ran: number.created arrives too.
        events = COLUMNS.index("Event")
        await until(
            lambda: (
                sum(model.data(model.index(r, events)) == "number.created" for r in range(model.rowCount()))
                == len(demo.sandbox.numbers)
            )
        )
        signature = COLUMNS.index("Signature")
        # Every demo delivery is signed by the sandbox and verified against the secret the
        # app received from the sandbox console side (the API never returns it).
        assert {model.data(model.index(r, signature)) for r in range(5)} == {"✔ valid"}
        # The sandbox's numbers, by the names their number.created events carried.
        names = {n.name for n in demo.sandbox.numbers}
        column = COLUMNS.index("Number")

        def shown() -> set[str]:
            return {model.data(model.index(r, column)) for r in range(model.rowCount())} - {""}

        await until(lambda: shown() <= names)
    finally:
        await close_app(window, core)
    # Demo data lives apart from the real history.
    assert core.store_paths.data_dir == data_dir / "demo"
    assert not (data_dir / "pilot-desktop.sqlite3").exists()


def test_first_launch_runs_the_demo_and_real_history_does_not(data_dir: Path) -> None:
    exe = str(Path(sys.executable).parent / "pilot-desktop")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [exe, "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Listening: ")
        deadline = time.monotonic() + 20
        demo_db = data_dir / "demo" / "pilot-desktop.sqlite3"
        while not (demo_db.exists() and demo_db.stat().st_size > 0):
            assert time.monotonic() < deadline, "the demo never stored anything"
            time.sleep(0.2)
        assert not (data_dir / "pilot-desktop.sqlite3").exists()  # the real store is untouched
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def _launch(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    exe = str(Path(sys.executable).parent / "pilot-desktop")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [exe, "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_after_hook_url_the_window_starts_the_real_receiver_not_the_demo(data_dir: Path) -> None:
    # The user is setting up real webhooks: `hook-url` prints the URL they will use. The
    # next launch must listen on exactly that URL, not on a demo's throwaway one.
    (data_dir / "settings.json").write_text('{"version": 1, "receiver": {"port": 0}}')
    exe = str(Path(sys.executable).parent / "pilot-desktop")
    url = subprocess.run(
        [exe, "hook-url", "--data-dir", str(data_dir)], check=True, capture_output=True, text=True
    ).stdout.strip()
    proc = _launch(data_dir)
    try:
        assert proc.stdout is not None
        listening = proc.stdout.readline().split(" ", 1)[1].strip()
        token = url.rsplit("/", 1)[1]
        assert listening.endswith(f"/hooks/{token}")  # the real token, the real store
        assert (data_dir / "pilot-desktop.sqlite3").exists()
        assert not (data_dir / "demo").exists()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_each_demo_starts_from_a_clean_demo_store(data_dir: Path) -> None:
    paths = demo_paths(resolve(data_dir))
    paths.data_dir.mkdir(parents=True)
    for suffix in ("", "-wal", "-shm"):
        (paths.data_dir / f"pilot-desktop.sqlite3{suffix}").write_bytes(b"old demo")
    (data_dir / "pilot-desktop.sqlite3").write_bytes(b"real history")
    reset_demo_store(paths)
    assert not any(paths.data_dir.glob("pilot-desktop.sqlite3*"))
    assert (data_dir / "pilot-desktop.sqlite3").read_bytes() == b"real history"  # never touched


async def test_a_demo_whose_sandbox_failed_is_still_labelled_and_says_why(data_dir: Path) -> None:
    core = memory_core(data_dir)
    window = await open_window(core)
    try:
        window.show_demo(None, "port <busy>")
        assert "DEMO" in window.windowTitle()
        assert "could not start: port &lt;busy&gt;" in window.demo_bar.text()
        assert window.status.demo_label.isVisibleTo(window)
    finally:
        await close_app(window, core)

"""The profile is private: a data folder others can read is tightened at start, and said.

Against a real `serve` process and its real files: the database holds message contents and
phone numbers, state.json the receiver token.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from tests.integration.serving import Server


def _open_to_others(root: Path) -> list[str]:
    """Every folder or file below `root` (the profile's own) that others may read or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            found.append(f"{path.relative_to(root.parent)} {oct(stat.S_IMODE(path.stat().st_mode))}")
    return found


def test_a_new_profile_is_private_from_the_first_start(serve: Callable[..., Server], tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    server = serve(data_dir=data)
    server.post({"event": "message.sent", "id": "m1"})  # the writer has made its files
    assert server.stop() == 0
    assert _open_to_others(data) == []
    # Nothing was ever readable by others (the folder was private): nothing to alarm about.
    assert "made private" not in server.output(), server.output()


def test_an_open_profile_is_tightened_at_start_and_said(serve: Callable[..., Server], tmp_path: Path) -> None:
    data = tmp_path / "copied"
    first = serve(data_dir=data)
    first.post({"event": "message.sent", "id": "m1"})
    assert first.stop() == 0
    # As a copy with the default umask (or an older version) leaves it: world-readable.
    for path in [data, *data.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (data / "link-out").symlink_to(outside)

    second = serve(data_dir=data)
    assert second.stop() == 0

    assert _open_to_others(data) == []
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644, "a link's target is not the profile's"
    said = second.output()
    assert "made private" in said, said
    assert str(data / "state.json") in said and "pilot-desktop.sqlite3" in said, said

"""Keep the profile private: its folders 0700, the files in them 0600.

The database holds message contents and phone numbers; the state and secrets files hold the
receiver token and API keys. New folders and files are made private when they are created,
but a folder made by hand, copied, or left by an older version may be open to other users:
it is tightened at every start, and the operator is told what was changed.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private(folders: Iterable[Path]) -> list[Path]:
    """Tighten each folder and the regular files directly in it (subfolders are listed by
    the caller); what others could read before, for the operator. Links are not followed:
    a link's target is not ours to change. A folder that is missing is skipped; one we
    cannot change is logged, never fatal."""
    changed: list[Path] = []
    for folder in dict.fromkeys(folders):
        if not folder.is_dir() or folder.is_symlink():
            continue
        folder_was_open = _tighten(folder, DIR_MODE)
        if folder_was_open:
            changed.append(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            log.warning("cannot list %s to make it private: %s", folder, exc)
            continue
        for entry in entries:
            tightened = entry.is_file(follow_symlinks=False) and _tighten(Path(entry.path), FILE_MODE)
            # A file just made by SQLite or the log (the umask's 0644) in a private folder was
            # never readable by others: tightened, not reported.
            if tightened and folder_was_open:
                changed.append(Path(entry.path))
    if changed:
        # serve's console shows this line; the window shows private_message() too.
        log.warning(
            "made private (folders 0700, files 0600; readable by other users before): %s",
            ", ".join(str(p) for p in changed),
        )
    return changed


def private_message(changed: list[Path]) -> tuple[str, str]:
    """What the front ends say about `make_private`'s changes: a sentence, then the paths."""
    return (
        f"{len(changed)} of Pilot Desktop's files and folders were readable by other users on this "
        "machine; they are now private (folders 0700, files 0600).",
        "\n".join(str(p) for p in changed),
    )


def _tighten(path: Path, mode: int) -> bool:
    # Through a descriptor opened without following links: a link swapped in meanwhile
    # fails to open instead of having its target changed. O_NONBLOCK: a FIFO never hangs.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False  # gone meanwhile, a link, or not readable: nothing to tighten here
    try:
        current = stat.S_IMODE(os.fstat(fd).st_mode)
        if current & 0o077 == 0:
            return False
        os.fchmod(fd, current & ~0o077 | (mode & 0o700))
    except OSError as exc:
        log.warning("cannot make %s private: %s", path, exc)
        return False
    finally:
        os.close(fd)
    return True

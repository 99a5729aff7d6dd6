"""Logging to a rotating file in the log folder (and stderr for the CLI)."""

from __future__ import annotations

import logging
import logging.handlers

from pilot_desktop.services.log_file import LogFile
from pilot_desktop.services.paths import AppPaths

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(paths: AppPaths, *, console: bool, level: int = logging.INFO) -> None:
    paths.ensure()
    root = logging.getLogger()
    if any(getattr(h, "_pilot", False) for h in root.handlers):
        return  # idempotent: tests and the GUI may call it twice
    root.setLevel(level)
    file_handler = LogFile(paths.log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    file_handler._pilot = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        stream.setLevel(logging.WARNING)
        stream._pilot = True  # type: ignore[attr-defined]
        root.addHandler(stream)

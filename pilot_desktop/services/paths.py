"""Where the database, settings and logs live.

With `--data-dir` (or PILOT_DESKTOP_DATA_DIR) everything goes under that one folder, so
tests and a second profile never touch the user's real data. Otherwise the platform's
usual places from platformdirs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "pilot-desktop"
ENV_DATA_DIR = "PILOT_DESKTOP_DATA_DIR"


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path
    config_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def state_file(self) -> Path:
        """Beside the settings: one lock guards both (services/config.py)."""
        return self.config_dir / "state.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "pilot-desktop.log"

    def ensure(self) -> None:
        for d in (self.data_dir, self.config_dir, self.log_dir):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: messages, token


def resolve(data_dir: str | os.PathLike[str] | None = None) -> AppPaths:
    chosen = data_dir or os.environ.get(ENV_DATA_DIR)
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return AppPaths(root, root, root / "logs")
    return AppPaths(
        Path(platformdirs.user_data_dir(APP, appauthor=False)),
        Path(platformdirs.user_config_dir(APP, appauthor=False)),
        Path(platformdirs.user_log_dir(APP, appauthor=False)),
    )

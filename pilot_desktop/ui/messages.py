"""One facade for problems the user must see (docs/craft.md, habit 10).

Code anywhere in the UI calls `messages.error(...)`, `warning(...)` or `info(...)`; the
main window shows errors and warnings in its banner and infos in the status bar. No
stray QMessageBox calls scattered through the code.
"""

from __future__ import annotations

import logging
from typing import Literal

from PySide6.QtCore import QObject, Signal

Level = Literal["error", "warning", "info"]
log = logging.getLogger("pilot_desktop.ui")


class MessageBus(QObject):
    message_did_post = Signal(str, str, str)  # level, text, details


bus = MessageBus()


def post(level: Level, text: str, details: str = "") -> None:
    getattr(log, level)("%s%s", text, f"\n{details}" if details else "")
    bus.message_did_post.emit(level, text, details)


def error(text: str, details: str = "") -> None:
    post("error", text, details)


def warning(text: str, details: str = "") -> None:
    post("warning", text, details)


def info(text: str) -> None:
    post("info", text)

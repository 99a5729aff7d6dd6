"""The excepthook, installed first thing (docs/craft.md, habit 12).

Exceptions from Qt slots, `@asyncSlot` handlers and asyncio callbacks land here: they
are logged with their traceback and shown in the window's banner; the app keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from types import TracebackType
from typing import Any

from pilot_desktop.ui import messages

log = logging.getLogger(__name__)


def _show(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("unhandled exception\n%s", details)
    try:
        messages.bus.message_did_post.emit("error", f"Internal error: {exc_type.__name__}: {exc}", details)
    except Exception:  # never let the hook itself raise
        traceback.print_exception(exc_type, exc, tb)


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    _show(exc_type, exc, tb)


def loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if isinstance(exc, BaseException):
        _show(type(exc), exc, exc.__traceback__)
    else:
        log.error("asyncio: %s", context.get("message"))


def install() -> None:
    sys.excepthook = excepthook

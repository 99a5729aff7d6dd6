"""The log file's handler: a log file that cannot be written is said once, not per record.

With the disk full, logging's default `handleError` printed a traceback to stderr for every
record it could not write (each refused webhook logs): megabytes a minute. Here the first
failure is said in one line on stderr, the records are counted while it lasts, and the
first record written again says how many were lost.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys


class LogFile(logging.handlers.RotatingFileHandler):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lost = 0  # records not written since the file last failed
        self._failed = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed = False
        super().emit(record)  # calls handleError when the write fails
        if not self._failed and self.lost:
            lost, self.lost = self.lost, 0
            self._say(f"the log file {self.baseFilename} is written again ({lost:,} records were lost)")

    def handleError(self, record: logging.LogRecord) -> None:
        self._failed = True
        self.lost += 1
        if self.lost == 1:
            exc = sys.exc_info()[1]
            why = getattr(exc, "strerror", None) or exc
            self._say(
                f"the log file {self.baseFilename} cannot be written ({why}); records are lost meanwhile"
            )

    @staticmethod
    def _say(text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # no stderr either
            print(f"pilot-desktop: {text}", file=sys.stderr, flush=True)

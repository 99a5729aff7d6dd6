"""Say a persisting condition once: the first occurrence, then a count of repeats.

With the disk full, each refused webhook logged the same error (and the log file, on the same
disk, a traceback for each): megabytes of stderr a minute. `Repeats.log` logs the first
occurrence of a kind of message, counts the repeats within `every_s`, and logs the next one
after that with the count; `reset` forgets them all when the condition is over (the caller
says so, with the count of what was not logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

EVERY_S = 60.0


class Repeats:
    def __init__(self, every_s: float = EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()  # the loop and the writer's answer thread both log
        self._seen: dict[Hashable, list[float]] = {}  # key -> [said at, repeats not said]

    def log(self, logger: logging.Logger, level: int, key: Hashable, msg: str, *args: object) -> None:
        """Log `msg % args` unless a message of `key` was logged less than `every_s` ago."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.every_s:
                seen[1] += 1
                return
            repeats = int(seen[1]) if seen is not None else 0
            self._seen[key] = [now, 0]
        if repeats:
            msg += f" ({repeats:,} more like this in the last {self.every_s:.0f} s were not logged)"
        logger.log(level, msg, *args)

    def reset(self) -> int:
        """Forget every condition (they are over); the repeats that were not logged."""
        with self._lock:
            hidden = sum(int(seen[1]) for seen in self._seen.values())
            self._seen.clear()
        return hidden

"""Storage problems caused by the environment, each with a sentence for the user.

`str(error)` is the sentence for the operator (it may name files). `error.reason` is a
short reason without any path, for whoever is not the operator: the 503 bodies and
`/healthz` the receiver serves.
"""

from __future__ import annotations


class StoreError(Exception):
    """A storage problem caused by the environment, with a message for the user."""

    default_reason = "the store cannot write events"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        # Kept in __dict__, so it survives the pipe from the writer process (pickling).
        self.reason = reason or self.default_reason

    def fresh(self) -> StoreError:
        """A copy to raise again: raising one instance many times grows its traceback."""
        copy = type(self).__new__(type(self))
        copy.args = self.args
        copy.__dict__.update(self.__dict__)
        return copy


class DatabaseTooNew(StoreError):
    default_reason = "the database was written by a newer Pilot Desktop"


class DatabaseCorrupt(StoreError):
    """The file is damaged, not ours, or was removed or replaced under the writer: nothing
    more is acknowledged into it, and nothing is written to it."""

    default_reason = "the database is damaged"


class StoreFull(StoreError):
    default_reason = "the disk is full"


class StoreLocked(StoreError):
    default_reason = "the database is locked by another program"


class StoreReadOnly(StoreError):
    default_reason = "the database cannot be written"

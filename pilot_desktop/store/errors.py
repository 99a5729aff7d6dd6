"""Storage problems caused by the environment, each with a sentence for the user."""

from __future__ import annotations


class StoreError(Exception):
    """A storage problem caused by the environment, with a message for the user."""


class DatabaseTooNew(StoreError):
    pass


class DatabaseCorrupt(StoreError):
    pass

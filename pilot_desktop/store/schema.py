"""Schema migrations: MIGRATIONS[n] takes user_version n to n + 1. Append, never edit."""

from __future__ import annotations

# 'PDK1': marks the file as ours, so a foreign SQLite file is refused, not "migrated".
APPLICATION_ID = 0x50444B31

# Rejected requests kept for diagnosis; older ones are trimmed by the writer.
REJECTIONS_KEPT = 10_000

_V1 = (
    """
    CREATE TABLE events (
        id               INTEGER PRIMARY KEY,
        dedupe_key       TEXT    NOT NULL UNIQUE,
        received_at      REAL    NOT NULL,  -- first arrival, unix seconds
        last_received_at REAL    NOT NULL,
        deliveries       INTEGER NOT NULL DEFAULT 1,
        event            TEXT    NOT NULL,
        event_group      TEXT    NOT NULL,
        number_id        TEXT,
        from_addr        TEXT,
        to_addr          TEXT,
        summary          TEXT    NOT NULL DEFAULT '',
        event_time       TEXT,              -- createdAt / timestamp as the platform sent it
        classification   TEXT    NOT NULL,  -- valid | schema_issues | unknown
        schema_issues    TEXT,              -- JSON [{path, message}] or NULL
        signature        TEXT    NOT NULL,  -- valid | unsigned | unverified
        signature_secret TEXT,              -- '#index fingerprint' of the matching secret
        route            TEXT,
        headers          TEXT    NOT NULL,  -- JSON [[name, value], ...] as received
        body             BLOB    NOT NULL   -- raw request body, byte for byte
    )
    """,
    "CREATE INDEX events_group ON events (event_group, id)",
    "CREATE INDEX events_number ON events (number_id, id)",
    "CREATE INDEX events_received ON events (received_at)",
    """
    CREATE TABLE rejections (
        id          INTEGER PRIMARY KEY,
        received_at REAL    NOT NULL,
        status      INTEGER NOT NULL,
        reason      TEXT    NOT NULL,
        method      TEXT    NOT NULL,
        path        TEXT    NOT NULL,
        remote      TEXT,
        headers     TEXT    NOT NULL,
        body        BLOB,                   -- first 64 KiB
        body_size   INTEGER
    )
    """,
    """
    CREATE TABLE numbers_seen (
        number_id     TEXT PRIMARY KEY,
        first_seen_at REAL    NOT NULL,
        last_event_at REAL    NOT NULL,
        events        INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)

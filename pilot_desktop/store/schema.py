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

# Message lifecycle projection (core/lifecycle.py): derived from `events`, so
# `pilot-desktop rebuild` can drop and recompute it. Migrating to 2 projects the events
# already stored (db.POST_MIGRATION).
_V2 = (
    """
    CREATE TABLE messages (
        id                INTEGER PRIMARY KEY,
        outbound          INTEGER NOT NULL,  -- 1 sent by the number, 0 received
        status            TEXT    NOT NULL,  -- core/lifecycle.STATUSES
        status_at         REAL    NOT NULL,  -- event time of the step that gave the status
        msg_id            TEXT,              -- Pilot Status internal id (data.id)
        correlation_id    TEXT,
        provider_id       TEXT,              -- data.messageId (wamid, key.id)
        quoted_id         TEXT,              -- a reply's quotedMessageId
        reply_to          INTEGER,           -- messages.id of the message it answers
        number_id         TEXT,
        peer              TEXT,              -- the contact: `to` outbound, `from` inbound
        kind              TEXT,
        text              TEXT,
        first_at          REAL    NOT NULL,  -- earliest event time (else arrival)
        first_received_at REAL    NOT NULL,
        sent_at           REAL,
        delivered_at      REAL,
        read_at           REAL,
        failed_at         REAL,
        error             TEXT,
        error_code        TEXT,
        steps             INTEGER NOT NULL,
        late              INTEGER NOT NULL
    )
    """,
    "CREATE INDEX messages_msg_id ON messages (msg_id) WHERE msg_id IS NOT NULL",
    "CREATE INDEX messages_correlation ON messages (correlation_id) WHERE correlation_id IS NOT NULL",
    "CREATE INDEX messages_provider ON messages (provider_id) WHERE provider_id IS NOT NULL",
    "CREATE INDEX messages_quoted ON messages (quoted_id) WHERE quoted_id IS NOT NULL",
    "CREATE INDEX messages_reply_to ON messages (reply_to) WHERE reply_to IS NOT NULL",
    "CREATE INDEX messages_peer ON messages (peer, id)",
    "CREATE INDEX messages_status ON messages (status, id)",
    "CREATE INDEX messages_number ON messages (number_id, id)",
    """
    CREATE TABLE message_steps (
        event_id INTEGER PRIMARY KEY,        -- events.id
        message  INTEGER NOT NULL,           -- messages.id
        status   TEXT    NOT NULL,
        at       REAL,                       -- event time; NULL when unreadable
        late     INTEGER NOT NULL            -- arrived after a step it should precede
    )
    """,
    "CREATE INDEX message_steps_message ON message_steps (message)",
)

# Number connection and health (core/numbers.py). Poll answers are kept raw, like the
# events, so `rebuild` can replay both; the history is bounded by the writer.
_V3 = (
    """
    CREATE TABLE number_polls (
        id        INTEGER PRIMARY KEY,
        polled_at REAL    NOT NULL,
        number_id TEXT    NOT NULL,
        endpoint  TEXT    NOT NULL,          -- status | list
        body      TEXT    NOT NULL           -- the answer's JSON (one number)
    )
    """,
    """
    CREATE TABLE number_state (
        number_id         TEXT PRIMARY KEY,
        connection        TEXT NOT NULL,
        connection_at     REAL,              -- since (event time)
        connection_source TEXT,
        connection_seen   REAL,
        connection_rank   INTEGER NOT NULL,
        health            TEXT NOT NULL,
        health_at         REAL,
        health_seen       REAL,
        health_rank       INTEGER NOT NULL,
        health_reason     TEXT,
        last_error        TEXT,
        last_error_code   TEXT,
        phone             TEXT,
        name              TEXT,
        provider          TEXT,
        billing_blocked_since TEXT,          -- extraChargeUnpaidSince
        billing_disconnect_at TEXT,          -- extraChargeDisconnectAt
        last_poll_at      REAL,
        updated_at        REAL NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE number_transitions (
        id          INTEGER PRIMARY KEY,
        number_id   TEXT    NOT NULL,
        kind        TEXT    NOT NULL,        -- connection | health | billing
        before      TEXT    NOT NULL,
        after       TEXT    NOT NULL,
        at          REAL    NOT NULL,        -- when it happened (event time)
        received_at REAL    NOT NULL,
        source      TEXT    NOT NULL,        -- webhook | poll
        event       TEXT    NOT NULL,        -- number.* or poll:status / poll:list
        late        INTEGER NOT NULL,        -- older than the state it met: not applied
        error       TEXT,
        error_code  TEXT,
        event_id    INTEGER,                 -- events.id of a webhook
        poll_id     INTEGER                  -- number_polls.id of a poll
    )
    """,
    "CREATE INDEX number_transitions_number ON number_transitions (number_id, kind, at)",
    "CREATE INDEX number_polls_time ON number_polls (polled_at)",
)

# Trust in what the screen says (issue 15): refusals carry their route, number and a
# diagnosis; gaps record when this receiver could not receive; a heartbeat dates the last
# moment a run was alive (a crash leaves it behind); Meta health and PII mode of numbers.
_V4 = (
    "ALTER TABLE rejections ADD COLUMN route TEXT",  # the hook URL's <route>, never the token
    "ALTER TABLE rejections ADD COLUMN number_id TEXT",  # the number the body or route names
    "ALTER TABLE rejections ADD COLUMN delivery INTEGER NOT NULL DEFAULT 0",  # POST /hooks/...
    "ALTER TABLE rejections ADD COLUMN diagnosis TEXT",  # JSON (core/diagnosis.py) or NULL
    "CREATE INDEX rejections_received ON rejections (received_at)",
    # Refusals recorded before: a POST to a hook URL was a delivery (the lists show those).
    "UPDATE rejections SET delivery = 1 WHERE method = 'POST' AND path LIKE '/hooks/%'",
    # Live places refusals and gaps among the events received as webhooks: steps read back
    # from the API later (catch-up) carry late arrival times and must not slow that down.
    "CREATE INDEX events_received_webhooks ON events (received_at) WHERE signature != 'reconstructed'",
    """
    CREATE TABLE gaps (
        id           INTEGER PRIMARY KEY,
        kind         TEXT    NOT NULL,       -- not_running | receiver_stopped | tunnel | unreachable
        started_at   REAL    NOT NULL,
        ended_at     REAL,                   -- NULL while the gap is open
        reason       TEXT    NOT NULL,
        caught_up_at REAL,                   -- when catch-up after it finished
        catch_up     TEXT                    -- JSON summary of that catch-up
    )
    """,
    "CREATE INDEX gaps_started ON gaps (started_at)",
    """
    CREATE TABLE heartbeat (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        run_started_at REAL    NOT NULL,
        alive_at       REAL    NOT NULL,     -- last beat of the run
        stopped_at     REAL,                 -- a clean stop; NULL: running, or it crashed
        pid            INTEGER
    )
    """,
    "ALTER TABLE number_state ADD COLUMN quality_rating TEXT",  # health.qualityRating (Meta)
    "ALTER TABLE number_state ADD COLUMN messaging_tier TEXT",  # health.messagingLimitTier
    "ALTER TABLE number_state ADD COLUMN sendable INTEGER",  # health.sendable, NULL unknown
    "ALTER TABLE number_state ADD COLUMN pii_mode TEXT",  # RELAY_ONLY | STORE_X_DAYS | STORE_INDEFINITE
    "ALTER TABLE number_state ADD COLUMN detail_at REAL",  # when GET /v1/numbers/{id} was read
)

# Never deaf (issue 16): the reachability probes through the public URL, the tunnel this
# data folder runs, the public URLs it had and the webhooks moved to them, and what the
# drift audit found changed behind the app's back.
_V5 = (
    """
    CREATE TABLE probes (
        id          INTEGER PRIMARY KEY,
        at          REAL    NOT NULL,
        public_url  TEXT    NOT NULL,
        ok          INTEGER NOT NULL,
        latency_ms  REAL,                    -- NULL when no answer came
        diagnosis   TEXT    NOT NULL,        -- tunnel/probe.py Diagnosis
        sentence    TEXT    NOT NULL,
        status      INTEGER,                 -- HTTP status of the answer, if one came
        trigger     TEXT    NOT NULL         -- schedule | demand | url_change | repoint
    )
    """,
    "CREATE INDEX probes_at ON probes (at)",
    """
    CREATE TABLE tunnel (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        at          REAL    NOT NULL,        -- when this row was last written
        mode        TEXT    NOT NULL,        -- manual | cloudflared | ngrok | command | ngrok-sdk
        public_url  TEXT,
        state       TEXT    NOT NULL,        -- off | starting | up | restarting | failed | stopped
        pid         INTEGER,
        since       REAL,                    -- in this state since
        error       TEXT,
        output      TEXT    NOT NULL DEFAULT '[]'  -- JSON list of the last output lines
    )
    """,
    """
    CREATE TABLE public_urls (
        id          INTEGER PRIMARY KEY,
        at          REAL    NOT NULL,
        kind        TEXT    NOT NULL,        -- seen | registered | repoint_failed
        public_url  TEXT,
        source      TEXT    NOT NULL,        -- the tunnel mode; auto | preview | subscribe_all
        webhook_id  TEXT,
        number_id   TEXT,
        old_url     TEXT,
        detail      TEXT
    )
    """,
    "CREATE INDEX public_urls_at ON public_urls (at)",
    """
    CREATE TABLE drift (
        id          INTEGER PRIMARY KEY,
        found_at    REAL    NOT NULL,
        kind        TEXT    NOT NULL,        -- deleted | paused | repointed | events_changed | events_dropped
        key         TEXT    NOT NULL,        -- kind:webhook_id[:detail]: one open finding per key
        webhook_id  TEXT,
        number_id   TEXT,
        sentence    TEXT    NOT NULL,
        detail      TEXT,                    -- JSON: expected and found
        resolved_at REAL
    )
    """,
    "CREATE INDEX drift_found ON drift (found_at)",
    "CREATE UNIQUE INDEX drift_open ON drift (key) WHERE resolved_at IS NULL",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5)

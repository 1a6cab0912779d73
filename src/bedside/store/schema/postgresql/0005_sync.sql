-- Sync push (docs/sync-protocol.md, docs/sync-server.md): the replay record of every event a
-- device pushed, the conflict review queue, and each device's clock skew. Times in *_at
-- columns are UNIX seconds; device_time and received are RFC 3339 UTC instants.

-- One row per event the server processed for a device: the key to "nothing lost, nothing
-- doubled". The primary key and the unique key let two server processes accept an event once.
CREATE TABLE sync_events (
    device          TEXT    NOT NULL,
    seq             BIGINT  NOT NULL,         -- the device's sequence number
    idempotency_key TEXT    NOT NULL,
    digest          TEXT    NOT NULL,         -- SHA-256 (hex) of the event's canonical bytes
    resource_type   TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    state           TEXT    NOT NULL,         -- confirmed, merged, needs-review or rejected
    version         INTEGER,                  -- the server version it produced (confirmed, merged)
    result          BYTEA   NOT NULL,         -- the result JSON exactly as first answered
    event           BYTEA   NOT NULL,         -- the signed event as received (canonical JSON)
    device_time     TEXT    NOT NULL,
    received        TEXT    NOT NULL,
    PRIMARY KEY (device, seq),
    UNIQUE (device, idempotency_key)
);
CREATE INDEX sync_events_resource ON sync_events (device, resource_type, resource_id, seq);

-- Conflicts and untrusted events waiting for a person with the right role (G4).
CREATE TABLE sync_reviews (
    id              TEXT    PRIMARY KEY,      -- r-<random>
    device          TEXT    NOT NULL,
    seq             BIGINT  NOT NULL,
    code            TEXT    NOT NULL,         -- conflict or implausible-time
    reason          TEXT    NOT NULL,         -- a sentence without PHI
    action          TEXT    NOT NULL,         -- create, update or correct
    resource_type   TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    patient         TEXT,                     -- a Patient id, or NULL
    device_value    BYTEA   NOT NULL,         -- the resource the device sent (JSON)
    server_value    BYTEA,                     -- the current server version when the item was made
    server_version  INTEGER,
    base_value      BYTEA,                     -- the version the device's change was based on
    base_version    INTEGER,
    fields          TEXT    NOT NULL,         -- JSON array of the top-level elements that differ
    route_role      TEXT    NOT NULL,         -- whose queue: doctor, nurse, ...
    device_time     TEXT    NOT NULL,
    state           TEXT    NOT NULL,         -- open or resolved
    resolution      TEXT,                     -- device, server or merged
    outcome         TEXT,                     -- what the device learns: confirmed or rejected
    outcome_version INTEGER,                  -- the version the resolution wrote
    resolved_by     TEXT,                     -- fhirUser or token subject of the reviewer
    created_at      BIGINT  NOT NULL,
    resolved_at     BIGINT,
    UNIQUE (device, seq)
);
CREATE INDEX sync_reviews_queue ON sync_reviews (state, route_role, created_at);
CREATE INDEX sync_reviews_device ON sync_reviews (device, resolved_at);

-- Each device's clock against the server's, measured at every push (device minus server).
CREATE TABLE sync_clock (
    device          TEXT    PRIMARY KEY,
    skew_ms         BIGINT  NOT NULL,
    measured_at     BIGINT  NOT NULL
);

-- Upstream ingest (docs/upstream.md): what each source has delivered, where each FHIR pull
-- stopped, and the messages that could not be mapped. Times in *_at columns are UNIX seconds.

-- One row per source message or source resource version already written: a replay, a retry
-- or a second pull of the same thing is recognised here and writes nothing (G2).
CREATE TABLE upstream_seen (
    source          TEXT    NOT NULL,         -- the [source.NAME] of upstream.toml
    entity          TEXT    NOT NULL,         -- message control id, or Type/id/_history/vid
    digest          TEXT    NOT NULL,         -- SHA-256 (hex) of what was received
    written         INTEGER NOT NULL,         -- how many resources it wrote (0: nothing changed)
    seen_at         INTEGER  NOT NULL,
    PRIMARY KEY (source, entity)
);

-- The high-water mark of each FHIR source, per resource type: the next pull asks from here.
CREATE TABLE upstream_marks (
    source          TEXT    NOT NULL,
    resource_type   TEXT    NOT NULL,
    mark            TEXT    NOT NULL,         -- an instant of the source's clock (RFC 3339)
    pulled_at       INTEGER  NOT NULL,
    PRIMARY KEY (source, resource_type)
);

-- Source ids already given a local id (patients matched by identifier keep the match).
CREATE TABLE upstream_refs (
    source          TEXT    NOT NULL,
    source_ref      TEXT    NOT NULL,         -- Type/id at the source
    local_ref       TEXT    NOT NULL,         -- Type/id here
    PRIMARY KEY (source, source_ref)
);

-- Messages that failed mapping: kept whole, listed, retried, never dropped.
CREATE TABLE upstream_dead_letters (
    id              TEXT    PRIMARY KEY,      -- d-<random>
    source          TEXT    NOT NULL,
    entity          TEXT    NOT NULL,         -- message control id (or "unknown")
    message         BLOB    NOT NULL,         -- the message exactly as received
    reason          TEXT    NOT NULL,         -- a sentence without PHI
    attempts        INTEGER NOT NULL,
    state           TEXT    NOT NULL,         -- open or resolved
    received_at     INTEGER  NOT NULL,
    retried_at      INTEGER
);
CREATE INDEX upstream_dead_letters_open ON upstream_dead_letters (source, state, received_at);

-- A value a source sent for a shared record (a Patient) that another source is authoritative
-- for: not written over the authoritative value, kept here whole with where it came from.
CREATE TABLE upstream_variants (
    source          TEXT    NOT NULL,
    resource_type   TEXT    NOT NULL,
    resource_id     TEXT    NOT NULL,
    entity          TEXT    NOT NULL,         -- the message or source version it came in
    content         BLOB    NOT NULL,         -- the resource as that source has it (JSON)
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (source, resource_type, resource_id)
);

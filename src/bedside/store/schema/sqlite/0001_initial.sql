-- Bedside storage schema, version 1 (SQLite). See docs/adr/0002-storage-schema-and-search-index.md.

-- One row per logical resource; content lives in resource_versions.
CREATE TABLE resources (
    rid          INTEGER PRIMARY KEY,          -- internal key; never leaves the server
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,             -- current meta.versionId
    deleted      INTEGER NOT NULL DEFAULT 0,   -- 1 when the current version is a delete
    last_updated TEXT    NOT NULL,             -- meta.lastUpdated of the current version
    seq          INTEGER NOT NULL,             -- change-feed position of the current version
    created_seq  INTEGER NOT NULL,             -- change-feed position of version 1 (paging snapshots)
    UNIQUE (type, id)
);
CREATE INDEX resources_type_created ON resources (type, created_seq);
CREATE INDEX resources_type_updated ON resources (type, last_updated);

-- Every version, including deletes (content NULL), for vread and history.
CREATE TABLE resource_versions (
    rid          INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    last_updated TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    method       TEXT    NOT NULL,             -- POST, PUT, PATCH or DELETE (history Bundle.entry.request)
    content      BLOB,
    PRIMARY KEY (rid, version)
) WITHOUT ROWID;
CREATE INDEX resource_versions_seq ON resource_versions (seq);

-- The change feed: one position per write, taken in the write's own transaction.
CREATE TABLE change_feed (
    seq          INTEGER PRIMARY KEY,
    rid          INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    op           TEXT    NOT NULL,             -- create, update or delete
    recorded_at  TEXT    NOT NULL
);

-- Search index: rows for the current version of each resource only.
-- "param" is "<ResourceType>.<code>", e.g. "Observation.code".
CREATE TABLE idx_token (
    rid    INTEGER NOT NULL,
    param  TEXT    NOT NULL,
    system TEXT,
    code   TEXT    NOT NULL
);
CREATE INDEX idx_token_lookup ON idx_token (param, code, system);
CREATE INDEX idx_token_rid ON idx_token (rid, param);

CREATE TABLE idx_string (
    rid    INTEGER NOT NULL,
    param  TEXT    NOT NULL,
    norm   TEXT    NOT NULL,                   -- case- and accent-folded
    exact  TEXT    NOT NULL
);
CREATE INDEX idx_string_lookup ON idx_string (param, norm);
CREATE INDEX idx_string_rid ON idx_string (rid, param);

CREATE TABLE idx_date (
    rid    INTEGER NOT NULL,
    param  TEXT    NOT NULL,
    low    INTEGER NOT NULL,                   -- UTC milliseconds, inclusive
    high   INTEGER NOT NULL
);
CREATE INDEX idx_date_low ON idx_date (param, low);
CREATE INDEX idx_date_high ON idx_date (param, high);
CREATE INDEX idx_date_rid ON idx_date (rid, param);

CREATE TABLE idx_reference (
    rid         INTEGER NOT NULL,
    param       TEXT    NOT NULL,
    target_type TEXT    NOT NULL,              -- "" for an absolute URL
    target      TEXT    NOT NULL               -- target id, or the URL
);
CREATE INDEX idx_reference_lookup ON idx_reference (param, target, target_type);
CREATE INDEX idx_reference_rid ON idx_reference (rid, param);

CREATE TABLE idx_quantity (
    rid    INTEGER NOT NULL,
    param  TEXT    NOT NULL,
    value  REAL    NOT NULL,
    system TEXT,
    code   TEXT
);
CREATE INDEX idx_quantity_lookup ON idx_quantity (param, value);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid, param);

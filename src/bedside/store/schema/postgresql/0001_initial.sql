-- Bedside storage schema, version 1 (PostgreSQL). See docs/adr/0002-storage-schema-and-search-index.md.

CREATE SEQUENCE resource_rid_seq;
CREATE SEQUENCE change_seq;

CREATE TABLE resources (
    rid          BIGINT  PRIMARY KEY,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,
    last_updated TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    created_seq  BIGINT  NOT NULL,
    UNIQUE (type, id)
);
CREATE INDEX resources_type_created ON resources (type, created_seq);
CREATE INDEX resources_type_updated ON resources (type, last_updated);

CREATE TABLE resource_versions (
    rid          BIGINT  NOT NULL,
    version      INTEGER NOT NULL,
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,
    last_updated TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    method       TEXT    NOT NULL,
    content      BYTEA,
    PRIMARY KEY (rid, version)
);
CREATE INDEX resource_versions_seq ON resource_versions (seq);

-- txid lets the sync layer tell which positions may still commit (out-of-order commits).
CREATE TABLE change_feed (
    seq          BIGINT  PRIMARY KEY,
    rid          BIGINT  NOT NULL,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    op           TEXT    NOT NULL,
    recorded_at  TEXT    NOT NULL,
    txid         XID8    NOT NULL DEFAULT pg_current_xact_id()
);

CREATE TABLE idx_token (
    rid    BIGINT NOT NULL,
    param  TEXT   NOT NULL,
    system TEXT,
    code   TEXT   NOT NULL
);
CREATE INDEX idx_token_lookup ON idx_token (param, code, system);
CREATE INDEX idx_token_rid ON idx_token (rid, param);

CREATE TABLE idx_string (
    rid    BIGINT NOT NULL,
    param  TEXT   NOT NULL,
    norm   TEXT   NOT NULL,
    exact  TEXT   NOT NULL
);
CREATE INDEX idx_string_lookup ON idx_string (param, norm text_pattern_ops);
CREATE INDEX idx_string_rid ON idx_string (rid, param);

CREATE TABLE idx_date (
    rid    BIGINT NOT NULL,
    param  TEXT   NOT NULL,
    low    BIGINT NOT NULL,
    high   BIGINT NOT NULL
);
CREATE INDEX idx_date_low ON idx_date (param, low);
CREATE INDEX idx_date_high ON idx_date (param, high);
CREATE INDEX idx_date_rid ON idx_date (rid, param);

CREATE TABLE idx_reference (
    rid         BIGINT NOT NULL,
    param       TEXT   NOT NULL,
    target_type TEXT   NOT NULL,
    target      TEXT   NOT NULL
);
CREATE INDEX idx_reference_lookup ON idx_reference (param, target, target_type);
CREATE INDEX idx_reference_rid ON idx_reference (rid, param);

CREATE TABLE idx_quantity (
    rid    BIGINT           NOT NULL,
    param  TEXT             NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    system TEXT,
    code   TEXT
);
CREATE INDEX idx_quantity_lookup ON idx_quantity (param, value);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid, param);

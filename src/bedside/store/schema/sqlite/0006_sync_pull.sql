-- Sync pull (docs/sync-pull.md). A pull token names the working set its device holds by the
-- digest of its members; the members themselves are kept here, one row per distinct set.
CREATE TABLE sync_members (
    device_id    TEXT    NOT NULL,
    digest       TEXT    NOT NULL,             -- SHA-256 (hex) of members, as the token names it
    members      TEXT    NOT NULL,             -- JSON {patient: [access fingerprint, "b" | "e"]}
    created_at   BIGINT  NOT NULL,             -- UNIX seconds
    PRIMARY KEY (device_id, digest)
);

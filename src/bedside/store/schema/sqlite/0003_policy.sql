-- Access policy, consent changes, break-glass and the audit trail. See docs/policy.md,
-- docs/consent.md and docs/audit.md. Times in *_at columns are UNIX seconds.

-- The audit trail: one row per AuditEvent, hash-chained in order of n (1, 2, 3, ... no gaps).
-- hash = SHA-256(prev_hash || content); content is the AuditEvent JSON exactly as hashed.
CREATE TABLE audit_log (
    n            INTEGER PRIMARY KEY,          -- position in the chain
    recorded     TEXT    NOT NULL,             -- AuditEvent.recorded (UTC instant)
    recorded_ms  INTEGER NOT NULL,             -- the same, in UTC milliseconds, for ranges
    action       TEXT    NOT NULL,             -- C R U D E
    subtype      TEXT    NOT NULL,             -- read, search-type, create, login, break-glass, ...
    outcome      TEXT    NOT NULL,             -- 0 success, 4 minor failure (denied), 8, 12
    user_ref     TEXT,                         -- the agent's fhirUser, e.g. Practitioner/9
    subject      TEXT,                         -- the token sub (user id or service client id)
    client_id    TEXT,
    device       TEXT,
    purpose      TEXT,                         -- purposeOfUse codes, space separated (TREAT, BTG)
    content      BLOB    NOT NULL,
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (recorded_ms);
CREATE INDEX audit_log_user ON audit_log (user_ref, recorded_ms);
CREATE INDEX audit_log_subject ON audit_log (subject, recorded_ms);
CREATE INDEX audit_log_device ON audit_log (device, recorded_ms);

-- Which patients' records each audit row concerns (AuditEvent?patient=).
CREATE TABLE audit_patients (
    patient      TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (patient, n)
);

-- The chain head: the last position and hash. Appenders lock and advance it.
CREATE TABLE audit_head (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    n            INTEGER NOT NULL,
    hash         TEXT    NOT NULL
);
INSERT INTO audit_head (id, n, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Assignments the admin CLI manages: a user (by fhirUser) to a ward/Location or a Patient.
CREATE TABLE policy_assignments (
    user_ref     TEXT    NOT NULL,             -- Practitioner/9
    kind         TEXT    NOT NULL,             -- location or patient
    target       TEXT    NOT NULL,             -- the Location id or Patient id
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_ref, kind, target)
);

-- Break-glass grants, each also an item in the governance review queue.
CREATE TABLE break_glass (
    id             TEXT    PRIMARY KEY,
    user_id        TEXT    NOT NULL,           -- the auth user (token sub)
    user_ref       TEXT    NOT NULL,           -- their fhirUser
    patient        TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    started_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    expiry_noted   INTEGER NOT NULL DEFAULT 0, -- 1 once its expiry is in the change feed
    review_status  TEXT    NOT NULL DEFAULT 'open',  -- open or closed
    review_outcome TEXT,                       -- justified, not-justified, ...
    review_note    TEXT,
    reviewed_by    TEXT,
    reviewed_at    INTEGER
);
CREATE INDEX break_glass_user ON break_glass (user_ref, expires_at);
CREATE INDEX break_glass_review ON break_glass (review_status, started_at);

-- What devices and subscribers must drop: one row per access change, its seq taken from the
-- change feed (a change_feed row with op access-revoked / access-expired shares it).
CREATE TABLE access_changes (
    seq          INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL,             -- consent-revoked, consent-expired, break-glass-expired, ...
    patient      TEXT    NOT NULL,
    actors       TEXT    NOT NULL,             -- JSON array of references; [] means everyone
    types        TEXT    NOT NULL,             -- JSON array of resource types; [] means all
    labels       TEXT    NOT NULL,             -- JSON array of "system|code"; [] means any
    source       TEXT    NOT NULL,             -- Consent/<id> or break-glass/<id>
    recorded_at  TEXT    NOT NULL
);
CREATE INDEX access_changes_patient ON access_changes (patient, seq);

-- Consents whose end has been written to the change feed (expiry is noted once).
CREATE TABLE consent_expiries (
    consent_id   TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (consent_id, version)
);

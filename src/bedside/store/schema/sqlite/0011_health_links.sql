-- SMART Health Links a patient made (docs/portal.md, bedside.healthlinks.records). The file is
-- stored encrypted (JWE, alg dir, enc A256GCM); its key is only in the link the patient holds.
-- The passcode is stored as an argon2id hash; attempts_left counts down on each wrong passcode
-- and at 0 the link is disabled.
CREATE TABLE health_links (
    id             TEXT    PRIMARY KEY,        -- the manifest path: 32 random bytes, base64url
    patient        TEXT    NOT NULL,           -- Patient id whose record it shares
    owner          TEXT    NOT NULL,           -- the auth user who made it (token sub)
    label          TEXT,
    what           TEXT    NOT NULL,           -- JSON array of data class names
    passcode_hash  TEXT,
    attempts_left  BIGINT  NOT NULL,
    exp            BIGINT,                     -- UNIX seconds; NULL: no expiry
    status         TEXT    NOT NULL,           -- active, revoked, disabled
    created_at     BIGINT  NOT NULL,
    ended_at       BIGINT,
    content_type   TEXT    NOT NULL,
    file           TEXT    NOT NULL            -- the JWE compact serialization
);
CREATE INDEX health_links_patient ON health_links (patient, created_at);

-- Short-lived file URLs a manifest answer hands out when a file is larger than the recipient's
-- embeddedLengthMax (SHL IG: location URLs live at most an hour). Only a digest of the ticket
-- is kept; the file is served only while its link is still active.
CREATE TABLE health_link_tickets (
    digest      TEXT    PRIMARY KEY,           -- SHA-256 hex of the ticket in the URL
    link_id     TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX health_link_tickets_link ON health_link_tickets (link_id);

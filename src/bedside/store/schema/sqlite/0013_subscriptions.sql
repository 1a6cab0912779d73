-- FHIR Subscriptions (R4 Subscriptions Backport IG; docs/subscriptions.md, ADR 0012). No PHI is
-- kept here: events name the change-feed row they came from, and every notification, replay
-- included, is rebuilt from the store with the owner's access decided again at that moment.
CREATE TABLE subscriptions (
    id            TEXT    PRIMARY KEY,
    owner         TEXT    NOT NULL,           -- the client_id (else token sub) that created it
    caller        TEXT    NOT NULL,           -- JSON: the creating token's subject, scopes, role,
                                              -- patient, fhirUser, grant (access at send time)
    resource      TEXT    NOT NULL,           -- the Subscription as created (JSON, no PHI)
    topic         TEXT    NOT NULL,           -- canonical URL of the topic
    rtype         TEXT    NOT NULL,           -- the resource type the topic is about
    patient       TEXT,                       -- the patient filter (Patient id), if any
    channel       TEXT    NOT NULL,           -- rest-hook or websocket
    endpoint      TEXT,
    headers       TEXT    NOT NULL,           -- JSON array of "Name: value"
    content       TEXT    NOT NULL,           -- empty, id-only or full-resource
    heartbeat     BIGINT  NOT NULL,           -- seconds; 0: none
    status        TEXT    NOT NULL,           -- requested, active, error, off
    events        BIGINT  NOT NULL,           -- events since subscription start
    delivered     BIGINT  NOT NULL,           -- rest-hook: events the endpoint acknowledged
    cursor_major  BIGINT  NOT NULL,           -- change-feed position handled: (major, seq)
    cursor_seq    BIGINT  NOT NULL,
    lease_owner   TEXT,                       -- the dispatcher that sends for it now
    lease_until   REAL,
    last_sent     REAL      NOT NULL,           -- UNIX seconds of the last notification
    failures      BIGINT  NOT NULL,
    created_at    REAL      NOT NULL
);
CREATE INDEX subscriptions_owner ON subscriptions (owner);

CREATE TABLE subscription_events (
    subscription  TEXT    NOT NULL,
    number        BIGINT  NOT NULL,
    seq           BIGINT  NOT NULL,           -- change_feed.seq the event came from
    rtype         TEXT    NOT NULL,
    rid           TEXT    NOT NULL,           -- the resource's FHIR id
    version       INTEGER NOT NULL,
    op            TEXT    NOT NULL,           -- create, update or delete
    recorded_at   REAL      NOT NULL,
    PRIMARY KEY (subscription, number)
);

-- Websocket binding tokens ($get-ws-binding-token): only a digest is kept.
CREATE TABLE subscription_ws_tokens (
    digest        TEXT    PRIMARY KEY,
    subscription  TEXT    NOT NULL,
    expires_at    REAL      NOT NULL
);

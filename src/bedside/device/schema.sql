-- The device's local store, inside one SQLCipher database (docs/device.md).
-- Everything here is encrypted at rest by the data key; nothing about a patient lives elsewhere
-- on disk except attachments, which are AES-256-GCM files under <home>/attachments.
-- Times are UNIX seconds (REAL). JSON columns hold UTF-8 JSON text.

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,            -- schema_version, snapshot (JWS), jwks, refresh_token,
    value TEXT NOT NULL              -- sync_token, server, user, device_id, next_seq ...
);

-- The working set's patients: the patient list a clinician picks from.
CREATE TABLE IF NOT EXISTS patients (
    id TEXT PRIMARY KEY,             -- the server's Patient id
    display TEXT NOT NULL DEFAULT '', -- name as shown in the list (PHI: only ever in here)
    birth_date TEXT,
    gender TEXT,
    basis TEXT NOT NULL DEFAULT '',  -- why it is on the device: care-team, location, pin ...
    pinned INTEGER NOT NULL DEFAULT 0,
    joined REAL NOT NULL,            -- when it entered the working set
    left_at REAL                     -- when it left (kept for the clinical grace), else NULL
);

-- The working set's resources, as the server sent them or as the user saved them.
CREATE TABLE IF NOT EXISTS resources (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    patient TEXT,                    -- Patient id of its compartment, NULL for shared resources
    server_version TEXT,             -- versionId on the server; NULL for a create not yet synced
    local_state TEXT NOT NULL,       -- 'synced' | 'saved-on-device'
    body TEXT NOT NULL,              -- the resource JSON
    updated REAL NOT NULL,           -- when this row last changed on the device
    provenance TEXT,                 -- JSON: who/when/which event wrote the local version
    PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resources_patient ON resources (patient, type, updated);

-- The local search index: one row per (resource, parameter, value).
-- param is 'code' or 'category' (value 'code|system', 'code|' without a system: one row per
-- coding serves exact and any-system queries by index), 'date' (ISO text, UTC, sortable) or
-- 'status'. bedside/device/index.py makes the rows.
CREATE TABLE IF NOT EXISTS search (
    patient TEXT,
    type TEXT NOT NULL,
    param TEXT NOT NULL,
    value TEXT NOT NULL,
    id TEXT NOT NULL,
    -- clustered by resource: rewriting or purging one resource's rows is one range, and a
    -- write updates this tree and search_lookup only (docs/benchmarks.md)
    PRIMARY KEY (type, id, param, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_lookup ON search (patient, type, param, value);

-- Work in progress the user can resume; never sent until recorded as an action.
CREATE TABLE IF NOT EXISTS drafts (
    id TEXT PRIMARY KEY,
    patient TEXT,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    outbox_seq INTEGER               -- set when the draft was recorded; NULL while a draft
);

-- The event log and outbox: every local action, signed, in device-sequence order.
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,         -- the event's seq: 1, 2, 3 ... with no gaps
    idempotency_key TEXT NOT NULL UNIQUE,
    patient TEXT,
    type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,             -- pending | sending | confirmed | needs-review | rejected
    reason TEXT,                     -- rejected: the server's sentence; needs-review: why
    event TEXT NOT NULL,             -- the signed event JSON exactly as it will be sent
    created REAL NOT NULL,
    updated REAL NOT NULL,
    result TEXT                      -- the server's per-event result JSON, once acknowledged
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
-- A record's events: every local write and every confirmation asks whether an earlier change
-- of the same record still waits for the server (Outbox.unconfirmed, create_seq). Without it
-- each asked by scanning the whole outbox, and a push of N events cost O(N^2).
CREATE INDEX IF NOT EXISTS outbox_resource ON outbox (type, resource_id, seq);

-- Conflicts the server reported (sync fills these; the device lists them).
CREATE TABLE IF NOT EXISTS conflicts (
    id TEXT PRIMARY KEY,             -- the server's review item id
    outbox_seq INTEGER,
    patient TEXT,
    type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    device_value TEXT,
    server_value TEXT,               -- JSON {resource, version, by}: the server's side and who wrote it
    base_value TEXT,
    fields TEXT NOT NULL DEFAULT '[]', -- JSON list of the clinical fields that differ
    state TEXT NOT NULL,             -- open | resolved
    outcome TEXT,
    created REAL NOT NULL
);

-- Encrypted attachment files under <home>/attachments/<id>.bin and what they belong to.
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    patient TEXT,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    synced_at REAL                   -- when the server confirmed it; retention counts from here
);

-- What was purged and why, without PHI: no ids, names or content; counts only.
CREATE TABLE IF NOT EXISTS purge_log (
    at REAL NOT NULL,
    reason TEXT NOT NULL,            -- left-working-set | access-ended | retention | wipe-request
    patients INTEGER NOT NULL,
    resources INTEGER NOT NULL,
    drafts INTEGER NOT NULL,
    attachments INTEGER NOT NULL
);

-- Every local access decision (G7): each read, search and write the device allowed or refused,
-- with the purposeOfUse it was made under. Sync uploads these as AuditEvents and then sets
-- uploaded; rows carry ids (they are audit of PHI access) and so live only in here.
CREATE TABLE IF NOT EXISTS accesses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,                -- device time of the decision
    patient TEXT,                    -- Patient id, NULL for a list or a shared resource
    type TEXT NOT NULL,              -- resource type ('Patient' for the patient list)
    resource_id TEXT,                -- the one resource read or written, NULL for a list
    action TEXT NOT NULL,            -- read | search | create | update | correct | attach
    outcome TEXT NOT NULL,           -- permitted | refused
    purpose TEXT,                    -- v3-ActReason purposeOfUse ('BTG'), else NULL
    reason TEXT,                     -- refused: the sentence shown (never PHI)
    count INTEGER NOT NULL DEFAULT 1, -- resources this decision covered (a chart: per type)
    uploaded REAL                    -- when sync delivered it to the server, else NULL
);
CREATE INDEX IF NOT EXISTS accesses_pending ON accesses (uploaded, id);

-- Break-glass opened on this device while offline (docs/clinician-app.md "Break-glass"): the
-- patient, the typed reason, its times in the server's time as the device knows it, and when
-- the server acknowledged it. Sync sends these before any outbox event; one not acknowledged
-- by sync_by stops further break-glass on this device until it is (bedside.device.breakglass).
CREATE TABLE IF NOT EXISTS break_glass (
    id TEXT PRIMARY KEY,             -- a random local id: the server's idempotency key
    patient TEXT NOT NULL,
    reason TEXT NOT NULL,
    device_time REAL NOT NULL,       -- device time it opened (accesses.at is device time)
    started REAL NOT NULL,           -- server time it opened
    expires REAL NOT NULL,           -- server time its access ends
    sync_by REAL NOT NULL,           -- server time it must have reached the server by
    pushed REAL,                     -- device time the server acknowledged it, else NULL
    late INTEGER NOT NULL DEFAULT 0  -- 1 when the server said it arrived past its window
);

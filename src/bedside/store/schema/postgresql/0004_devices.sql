-- The device registry (docs/device-registry.md): devices a signed-in user enrolled, what they
-- pinned, and which grant (token family) each device holds. Times are UNIX seconds.

CREATE TABLE devices (
    device_id         TEXT    PRIMARY KEY,      -- chosen by the device; signs its events
    user_id           TEXT    NOT NULL,         -- the enrolling user (auth_users.id, token sub)
    client_id         TEXT,                     -- the OAuth client it enrolled through
    public_key        TEXT    NOT NULL,         -- Ed25519, base64url raw (sync.event.public_key_text)
    app_version       TEXT    NOT NULL,
    posture           TEXT    NOT NULL,         -- JSON: os, disk_encryption, screen_lock (null = unknown)
    status            TEXT    NOT NULL,         -- active, revoked or wipe
    registered_at     BIGINT  NOT NULL,
    status_changed_at BIGINT  NOT NULL,
    escrow_key        TEXT    NOT NULL          -- the device's escrow key, sealed by the server
);
CREATE INDEX devices_user ON devices (user_id);

-- Patients a device pinned to its working set (checked against policy when pinned).
CREATE TABLE device_pins (
    device_id         TEXT    NOT NULL,
    patient           TEXT    NOT NULL,         -- a Patient id
    pinned_at         BIGINT  NOT NULL,
    PRIMARY KEY (device_id, patient)
);

-- A grant bound to a device: every access token refreshed from it carries the claim "device".
ALTER TABLE auth_grants ADD COLUMN device TEXT;
CREATE INDEX auth_grants_device ON auth_grants (device);

-- Authorization server state (SMART App Launch). See docs/auth.md.
-- Times are UNIX seconds. Secrets (codes, refresh tokens, client secrets) are stored only as
-- SHA-256 digests; user passwords as argon2id hashes.

CREATE TABLE auth_users (
    id            TEXT    PRIMARY KEY,          -- the token "sub"; random, never reused
    username      TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL,             -- patient, nurse, doctor, admin, auditor, support
    fhir_user     TEXT,                         -- "Patient/123" or "Practitioner/9"
    password_hash TEXT    NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    failures      BIGINT NOT NULL DEFAULT 0,      -- consecutive failed sign-ins
    locked_until  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE auth_clients (
    client_id     TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    auth_method   TEXT    NOT NULL,             -- none, client_secret_basic, private_key_jwt
    secret_hash   TEXT,
    jwks          TEXT,                         -- a JWK Set (JSON), for --jwks-file
    jwks_url      TEXT,
    redirect_uris TEXT    NOT NULL,             -- JSON array
    scope         TEXT    NOT NULL,             -- the most this client may be granted
    backend       BIGINT NOT NULL DEFAULT 0,      -- client_credentials only
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- One grant per authorization (a token family): codes, refresh tokens and access tokens
-- point at it, so revoking it stops all of them at once.
CREATE TABLE auth_grants (
    id            TEXT    PRIMARY KEY,
    client_id     TEXT    NOT NULL,
    user_id       TEXT,                         -- NULL for backend services
    scope         TEXT    NOT NULL,             -- what was granted
    context       TEXT    NOT NULL,             -- JSON: patient, encounter, fhirContext, banner
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoked_why   TEXT
);
CREATE INDEX auth_grants_user ON auth_grants (user_id);

CREATE TABLE auth_codes (
    code_hash     TEXT    PRIMARY KEY,
    grant_id      TEXT    NOT NULL,
    redirect_uri  TEXT    NOT NULL,
    challenge     TEXT    NOT NULL,             -- PKCE S256 code_challenge
    nonce         TEXT,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

CREATE TABLE auth_refresh_tokens (
    token_hash    TEXT    PRIMARY KEY,
    grant_id      TEXT    NOT NULL,
    issued_at     BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    rotated_at    BIGINT                          -- set when exchanged; a second use is reuse
);
CREATE INDEX auth_refresh_tokens_grant ON auth_refresh_tokens (grant_id);

-- Authorization requests between /authorize and the redirect back, bound to one browser.
CREATE TABLE auth_requests (
    id            TEXT    PRIMARY KEY,
    browser_hash  TEXT    NOT NULL,
    params        TEXT    NOT NULL,             -- JSON of the validated request
    user_id       TEXT,
    patient       TEXT,
    expires_at    BIGINT NOT NULL
);

-- EHR launch contexts, referenced by the "launch" parameter.
CREATE TABLE auth_launches (
    id            TEXT    PRIMARY KEY,
    context       TEXT    NOT NULL,             -- JSON: patient, encounter, fhirContext
    user_id       TEXT,                         -- the user who launched, when known
    expires_at    BIGINT NOT NULL
);

-- Client assertion ids already used (RFC 7523 §3 "jti"), kept until they expire.
CREATE TABLE auth_assertions (
    client_id     TEXT    NOT NULL,
    jti           TEXT    NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

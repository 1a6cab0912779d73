-- Sessions of Bedside's own browser apps (the patient portal, the governance console), signed in
-- through this authorization server (docs/first-party-apps.md). The cookie's secret and the
-- sign-in state are stored only as SHA-256 digests. A session rides on its grant: revoking the
-- grant ends it, and it never outlives it.

CREATE TABLE auth_browser_sign_ins (
    state_hash    TEXT    PRIMARY KEY,          -- digest of the OAuth state, also in a cookie
    app           TEXT    NOT NULL,             -- the app's client id
    verifier      TEXT    NOT NULL,             -- PKCE code_verifier, for the code exchange
    next_path     TEXT    NOT NULL,             -- where to go once signed in (inside the app)
    expires_at    INTEGER NOT NULL
);

CREATE TABLE auth_browser_sessions (
    id_hash       TEXT    PRIMARY KEY,          -- digest of the session cookie's secret
    app           TEXT    NOT NULL,
    grant_id      TEXT    NOT NULL,
    caller        TEXT    NOT NULL,             -- JSON: the Caller the grant's token stood for
    csrf          TEXT    NOT NULL,             -- the token every change must carry
    created_at    INTEGER NOT NULL,
    seen_at       INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

CREATE INDEX auth_browser_sessions_grant ON auth_browser_sessions (grant_id);

-- Attachments a device uploaded after its signed event created the DocumentReference that
-- refers to them (docs/sync-protocol.md "Attachments"): a wound photo, a scanned form. The
-- bytes are kept as sent, after their size and SHA-256 matched what the signed record says.
-- Reads go through the referencing DocumentReference's access (GET /fhir/Binary/<id>), never
-- around it. The id is the device's random attachment id (128 bits, 32 hex digits).
CREATE TABLE attachments (
    id            TEXT    PRIMARY KEY,   -- Binary/<id> in the DocumentReference's attachment
    document_id   TEXT    NOT NULL,      -- the DocumentReference whose access governs reads
    patient       TEXT,                  -- Patient id of that document (for the audit)
    content_type  TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    sha256        TEXT    NOT NULL,      -- hex, as in the signed record
    device_id     TEXT    NOT NULL,      -- the device that uploaded it
    received      BIGINT  NOT NULL,      -- the server's receive time (UNIX seconds)
    content       BYTEA    NOT NULL
);
CREATE INDEX attachments_document ON attachments (document_id);

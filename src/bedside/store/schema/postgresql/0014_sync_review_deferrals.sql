-- Deferrals of review items (docs/console.md "Conflict review queue"): a reviewer puts an item
-- aside with a note; the item stays open in its queue. One row per deferral, newest shown.
CREATE TABLE sync_review_deferrals (
    item_id     TEXT    NOT NULL,      -- sync_reviews.id
    deferred_at BIGINT NOT NULL,      -- UNIX seconds
    deferred_by TEXT    NOT NULL,      -- fhirUser or token subject of the reviewer
    note        TEXT    NOT NULL       -- the reviewer's note (may name clinical detail: not audited)
);
CREATE INDEX sync_review_deferrals_item ON sync_review_deferrals (item_id, deferred_at);

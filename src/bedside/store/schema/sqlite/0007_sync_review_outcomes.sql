-- Review outcomes for pull (docs/sync-pull.md "Review outcomes"). Each resolved review item gets
-- the next number of its device's outcome sequence, taken at resolution under a per-device lock
-- held until commit, so per device the numbers commit in order and a pull's cursor
-- ("after number n") never passes an outcome that commits later.
ALTER TABLE sync_reviews ADD COLUMN outcome_seq INTEGER;

-- Items resolved before this migration: numbered per device in resolution order.
UPDATE sync_reviews SET outcome_seq = (
    SELECT COUNT(*) FROM sync_reviews r
    WHERE r.device = sync_reviews.device AND r.state = 'resolved'
      AND (r.resolved_at < sync_reviews.resolved_at
           OR (r.resolved_at = sync_reviews.resolved_at AND r.id <= sync_reviews.id))
) WHERE state = 'resolved';

CREATE UNIQUE INDEX sync_reviews_outcomes ON sync_reviews (device, outcome_seq);

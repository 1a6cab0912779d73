-- Figures kept per day for the governance console's charts of what only Prometheus would
-- otherwise remember over time (docs/console.md "Overview"): the slowest sync push and pull
-- of each day, and the most events devices reported waiting to send. Aggregates only: no
-- device, user or patient. Days are UTC dates (YYYY-MM-DD); values are whole numbers.
CREATE TABLE daily_figures (
    day      TEXT    NOT NULL,
    figure   TEXT    NOT NULL,   -- push-ms, pull-ms, unsent (bedside.metrics.daily.FIGURES)
    samples  INTEGER NOT NULL,
    total    INTEGER NOT NULL,
    peak     INTEGER NOT NULL,
    PRIMARY KEY (day, figure)
);

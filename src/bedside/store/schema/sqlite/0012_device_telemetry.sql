-- Device telemetry (docs/sync-protocol.md "Telemetry"): each device's last report, PHI-free:
-- outbox depth by state, oldest pending age, last error codes, cache age, store size, app
-- version, posture. One row per device, replaced at each report. Times are UNIX seconds.
CREATE TABLE device_telemetry (
    device_id    TEXT    PRIMARY KEY,   -- devices.device_id
    reported_at  INTEGER NOT NULL,      -- the server's receive time
    report       TEXT    NOT NULL       -- JSON, as validated by bedside.devices.telemetry
);

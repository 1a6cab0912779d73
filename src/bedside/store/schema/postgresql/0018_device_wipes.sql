-- What a device said as it obeyed a wipe order (docs/device-registry.md "Wipe"): it first sent
-- what it could, then counted what never reached the server, reported it here, and destroyed
-- its keys. No row: the device has not confirmed a wipe (it wipes at its next contact).
CREATE TABLE device_wipes (
    device_id   TEXT    PRIMARY KEY,
    reported_at BIGINT  NOT NULL,
    sent        INTEGER NOT NULL,   -- events its last push delivered before the wipe
    lost        INTEGER NOT NULL    -- events still unsent when it wiped: lost with it
);

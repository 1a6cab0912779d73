-- Break-glass opened on a device while offline (docs/policy.md "Break-glass offline"): the
-- device that opened it and when its record reached the server (NULL: opened online).
ALTER TABLE break_glass ADD COLUMN device_id TEXT;
ALTER TABLE break_glass ADD COLUMN received_at BIGINT;

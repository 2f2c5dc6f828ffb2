-- A4: when an admin signs a device out, the device is also asked to erase what it holds of
-- Conclave. The request and the device's acknowledgement are kept on the ended session, so the
-- console can show both and the device is told again on its next request if it was offline.
ALTER TABLE sessions ADD COLUMN wipe_requested_at INTEGER;
ALTER TABLE sessions ADD COLUMN wipe_acknowledged_at INTEGER;

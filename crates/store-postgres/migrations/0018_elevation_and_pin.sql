-- A5 and A6: the server decides when a session may use the admin consoles and when it is locked.
-- `active_at` is the last request a person made through the session (a live connection's pings
-- do not count), what the PIN lock's delay runs from; `locked_at` is set when the client asks to
-- lock at once; `pin_failures` counts wrong PINs since the last unlock.
ALTER TABLE sessions ADD COLUMN active_at BIGINT;
ALTER TABLE sessions ADD COLUMN locked_at BIGINT;
ALTER TABLE sessions ADD COLUMN pin_failures BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET active_at = last_seen_at;
-- The PIN is an argon2id hash like a password; `pin_lock_after` is the person's chosen delay in
-- seconds (0: lock whenever the page is hidden or started, and after 30 idle seconds).
ALTER TABLE users ADD COLUMN pin_hash TEXT;
ALTER TABLE users ADD COLUMN pin_lock_after BIGINT;

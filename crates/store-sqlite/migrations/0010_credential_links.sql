-- Single-use links an enterprise admin makes so that someone can set a password: an invitation
-- for an account made without one, or a reset. Only the token's hash is kept.
CREATE TABLE credential_links (
    token_hash     BLOB PRIMARY KEY,
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    user_id        TEXT NOT NULL REFERENCES users(id),
    purpose        TEXT NOT NULL CHECK (purpose IN ('invitation', 'password-reset')),
    created_by     TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);
CREATE INDEX credential_links_by_user ON credential_links (user_id);

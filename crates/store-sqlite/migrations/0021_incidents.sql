-- D8: security incidents, reported by members (signed in) or outsiders (with a receipt code, found
-- by a keyed hash and proven by a slow one, as for vulnerability reports). What was reported is
-- sealed; the category, state and the civil start time stay clear for lists. `created_at` is when
-- the team became aware of it: notification clocks run from there.
CREATE TABLE incidents (
    id                   TEXT PRIMARY KEY,
    enterprise_id        TEXT NOT NULL REFERENCES enterprises(id),
    reporter_user_id     TEXT REFERENCES users(id),
    receipt_lookup       BLOB UNIQUE,
    receipt_hash         TEXT,
    state                TEXT NOT NULL,
    category             TEXT NOT NULL,
    report_ct            BLOB NOT NULL,
    occurred_at          TEXT NOT NULL,
    notify_within_hours  INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    closed_at            INTEGER,
    last_seq             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incidents_by_enterprise ON incidents (enterprise_id, created_at);

-- The timeline: what the team learned and did, with when it happened (civil, as the source gave
-- it, may be unknown) kept apart from when it was learned (the moment it was recorded). State
-- changes, notices sent and evidence files (their name, size and SHA-256; the bytes are a sealed
-- blob) are entries too; every body is sealed.
CREATE TABLE incident_entries (
    incident_id     TEXT NOT NULL REFERENCES incidents(id),
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('note', 'state', 'notice-affected', 'notice-authority', 'evidence')),
    happened_at     TEXT,
    learned_at      INTEGER NOT NULL,
    author_user_id  TEXT REFERENCES users(id),
    body_ct         BLOB NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

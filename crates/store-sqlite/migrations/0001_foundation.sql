-- Foundation schema: tenants, people, teams, sessions bound to devices, wrapped keys, audit chain.
-- Columns ending in _ct hold AES-256-GCM ciphertext bound to (table, row id, column).
CREATE TABLE enterprises (
    id          TEXT PRIMARY KEY,
    name_ct     BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE keys (
    id             TEXT PRIMARY KEY,
    enterprise_id  TEXT REFERENCES enterprises(id),
    master_key_id  TEXT NOT NULL,
    wrapped        BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    rotated_at     INTEGER
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    email_index    BLOB NOT NULL,
    email_ct       BLOB NOT NULL,
    name_ct        BLOB NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('member', 'team-admin', 'enterprise-admin', 'security')),
    password_hash  TEXT,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CONSTRAINT users_email_unique UNIQUE (enterprise_id, email_index)
);
CREATE INDEX users_by_email_index ON users (email_index);

CREATE TABLE teams (
    id             TEXT PRIMARY KEY,
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    name_ct        BLOB NOT NULL,
    archived       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);
CREATE INDEX teams_by_enterprise ON teams (enterprise_id);

CREATE TABLE team_members (
    team_id   TEXT NOT NULL REFERENCES teams(id),
    user_id   TEXT NOT NULL REFERENCES users(id),
    is_admin  INTEGER NOT NULL DEFAULT 0,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    enterprise_id   TEXT NOT NULL REFERENCES enterprises(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    token_hash      BLOB NOT NULL UNIQUE,
    device_kind     TEXT NOT NULL,
    device_name_ct  BLOB NOT NULL,
    ip_ct           BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    ended_reason    TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

CREATE TABLE audit_events (
    seq            INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    ip             TEXT,
    user_agent     TEXT,
    enterprise_id  TEXT,
    team_id        TEXT,
    action         TEXT NOT NULL,
    target         TEXT,
    outcome        TEXT NOT NULL,
    detail         TEXT NOT NULL,
    prev_hash      BLOB NOT NULL,
    hash           BLOB NOT NULL
);
CREATE INDEX audit_by_enterprise ON audit_events (enterprise_id, seq);

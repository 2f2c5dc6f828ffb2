-- Foundation schema: tenants, people, teams, sessions bound to devices, wrapped keys, audit chain.
-- Columns ending in _ct hold AES-256-GCM ciphertext bound to (table, row id, column).
CREATE TABLE enterprises (
    id          TEXT PRIMARY KEY,
    name_ct     BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE keys (
    id             TEXT PRIMARY KEY,
    enterprise_id  TEXT REFERENCES enterprises(id),
    master_key_id  TEXT NOT NULL,
    wrapped        BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    rotated_at     BIGINT
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    email_index    BYTEA NOT NULL,
    email_ct       BYTEA NOT NULL,
    name_ct        BYTEA NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('member', 'team-admin', 'enterprise-admin', 'security')),
    password_hash  TEXT,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT users_email_unique UNIQUE (enterprise_id, email_index)
);
CREATE INDEX users_by_email_index ON users (email_index);

CREATE TABLE teams (
    id             TEXT PRIMARY KEY,
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    name_ct        BYTEA NOT NULL,
    archived       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL
);
CREATE INDEX teams_by_enterprise ON teams (enterprise_id);

CREATE TABLE team_members (
    team_id   TEXT NOT NULL REFERENCES teams(id),
    user_id   TEXT NOT NULL REFERENCES users(id),
    is_admin  BOOLEAN NOT NULL DEFAULT FALSE,
    added_at  BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    enterprise_id   TEXT NOT NULL REFERENCES enterprises(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    token_hash      BYTEA NOT NULL UNIQUE,
    device_kind     TEXT NOT NULL,
    device_name_ct  BYTEA NOT NULL,
    ip_ct           BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    ended_reason    TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

CREATE TABLE audit_events (
    seq            BIGINT PRIMARY KEY,
    at             BIGINT NOT NULL,
    actor          TEXT NOT NULL,
    ip             TEXT,
    user_agent     TEXT,
    enterprise_id  TEXT,
    team_id        TEXT,
    action         TEXT NOT NULL,
    target         TEXT,
    outcome        TEXT NOT NULL,
    detail         TEXT NOT NULL,
    prev_hash      BYTEA NOT NULL,
    hash           BYTEA NOT NULL
);
CREATE INDEX audit_by_enterprise ON audit_events (enterprise_id, seq);

-- Security desk, public side (D1-D3, D5, D7). Report content, finder contact details and thread
-- bodies are ciphertext bound to their row; the organisation's private key is sealed too.
CREATE TABLE desk_pages (
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    slug           TEXT NOT NULL CHECK (slug IN ('policy', 'rules', 'how-to-report')),
    markdown       TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    updated_by     TEXT REFERENCES users(id),
    PRIMARY KEY (enterprise_id, slug)
);

CREATE TABLE desk_keys (
    fingerprint     TEXT PRIMARY KEY,
    enterprise_id   TEXT NOT NULL REFERENCES enterprises(id),
    key_id          TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    algorithm_id    INTEGER NOT NULL,
    bits            INTEGER NOT NULL,
    user_ids        TEXT NOT NULL,
    secret_ct       BLOB NOT NULL,
    public_armored  TEXT NOT NULL,
    public_binary   BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    added_at        INTEGER NOT NULL,
    active          BOOLEAN NOT NULL,
    retired_at      INTEGER
);
CREATE UNIQUE INDEX desk_keys_one_active ON desk_keys (enterprise_id) WHERE active;
CREATE INDEX desk_keys_by_key_id ON desk_keys (key_id);

CREATE TABLE reports (
    id                TEXT PRIMARY KEY,
    enterprise_id     TEXT NOT NULL REFERENCES enterprises(id),
    receipt_lookup    BLOB NOT NULL UNIQUE,
    receipt_hash      TEXT NOT NULL,
    state             TEXT NOT NULL,
    content_ct        BLOB NOT NULL,
    was_encrypted     BOOLEAN NOT NULL,
    finder_name_ct    BLOB,
    finder_email_ct   BLOB,
    email_verified_at INTEGER,
    email_token_hash  BLOB,
    access_token_hash BLOB,
    finder_ip_ct      BLOB,
    credit            BOOLEAN NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    closed_at         INTEGER,
    purged_at         INTEGER,
    last_seq          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reports_by_enterprise ON reports (enterprise_id, created_at);
CREATE UNIQUE INDEX reports_by_email_token ON reports (email_token_hash);
CREATE UNIQUE INDEX reports_by_access_token ON reports (access_token_hash);

CREATE TABLE report_messages (
    id              TEXT PRIMARY KEY,
    report_id       TEXT NOT NULL REFERENCES reports(id),
    seq             INTEGER NOT NULL,
    author          TEXT NOT NULL CHECK (author IN ('finder', 'team')),
    author_user_id  TEXT REFERENCES users(id),
    body_ct         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    CONSTRAINT report_messages_seq_unique UNIQUE (report_id, seq)
);

-- Files finders and the team attach to a report (screenshots, captures), sealed in chunks on disk.
CREATE TABLE report_files (
    id              TEXT PRIMARY KEY,
    report_id       TEXT NOT NULL REFERENCES reports(id),
    author          TEXT NOT NULL CHECK (author IN ('finder', 'team')),
    author_user_id  TEXT REFERENCES users(id),
    name_ct         BLOB NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX report_files_by_report ON report_files (report_id, created_at);

-- What the security team decides about finders' data (D7); without a row, the configured defaults.
CREATE TABLE desk_settings (
    enterprise_id    TEXT PRIMARY KEY REFERENCES enterprises(id),
    store_finder_ip  BOOLEAN NOT NULL,
    retention_days   INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- Messaging (M1): conversations, their members with read receipts, and messages with a
-- per-conversation sequence number. Titles and bodies are ciphertext bound to their row.
CREATE TABLE conversations (
    id               TEXT PRIMARY KEY,
    enterprise_id    TEXT NOT NULL REFERENCES enterprises(id),
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group', 'team')),
    team_id          TEXT REFERENCES teams(id),
    direct_key       TEXT,
    title_ct         BYTEA,
    created_by       TEXT NOT NULL REFERENCES users(id),
    created_at       BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL DEFAULT 0,
    last_message_at  BIGINT,
    CONSTRAINT conversations_direct_unique UNIQUE (enterprise_id, direct_key)
);

CREATE TABLE conversation_members (
    conversation_id  TEXT NOT NULL REFERENCES conversations(id),
    user_id          TEXT NOT NULL REFERENCES users(id),
    role             TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    joined_at        BIGINT NOT NULL,
    last_read_seq    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_by_user ON conversation_members (user_id);

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL REFERENCES conversations(id),
    seq              BIGINT NOT NULL,
    sender_id        TEXT NOT NULL REFERENCES users(id),
    body_ct          BYTEA,
    created_at       BIGINT NOT NULL,
    edited_at        BIGINT,
    deleted_at       BIGINT,
    CONSTRAINT messages_seq_unique UNIQUE (conversation_id, seq)
);

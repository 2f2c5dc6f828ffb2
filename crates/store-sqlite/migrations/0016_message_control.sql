-- Message control (M2–M5). Templates are rule sets an enterprise offers its senders; a message
-- keeps a copy of the rules it was sent under (tightened by its ancestors' when forwarded), so
-- editing or retiring a template never loosens what was already sent.
CREATE TABLE message_policies (
    id            TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises(id),
    name          TEXT NOT NULL,
    rules         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    retired_at    INTEGER
);
CREATE UNIQUE INDEX message_policies_active_name ON message_policies (enterprise_id, name) WHERE retired_at IS NULL;
ALTER TABLE conversations ADD COLUMN default_policy_id TEXT REFERENCES message_policies(id);
ALTER TABLE messages ADD COLUMN policy_id TEXT REFERENCES message_policies(id);
ALTER TABLE messages ADD COLUMN policy_rules TEXT;
ALTER TABLE messages ADD COLUMN expires_at INTEGER;
-- Forward tracing: each copy names the message it was copied from, the original at the top of
-- the tree and its distance from it; recall walks these links.
ALTER TABLE messages ADD COLUMN forwarded_from TEXT REFERENCES messages(id);
ALTER TABLE messages ADD COLUMN forward_root TEXT REFERENCES messages(id);
ALTER TABLE messages ADD COLUMN forward_hops INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN original_sender_id TEXT REFERENCES users(id);
-- 'recalled' or 'expired': the content is destroyed and nobody is shown the message.
ALTER TABLE messages ADD COLUMN removed TEXT;
CREATE INDEX messages_forwarded_from ON messages (forwarded_from) WHERE forwarded_from IS NOT NULL;
CREATE INDEX messages_forward_root ON messages (forward_root) WHERE forward_root IS NOT NULL;
-- A forwarded copy shares its original's sealed file, so one file may back several messages.
DROP INDEX messages_by_attachment;
CREATE INDEX messages_by_attachment ON messages (attachment_id) WHERE attachment_id IS NOT NULL;
-- Burn after reading: when each recipient revealed a message and when it burns for them.
CREATE TABLE message_reveals (
    message_id  TEXT NOT NULL REFERENCES messages(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    revealed_at INTEGER NOT NULL,
    burns_at    INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
-- Scheduled send: a message written now and delivered at a chosen time by the job runner. Its
-- body is sealed bound to the id it will have, so delivery moves it without opening it; the rules
-- of the template picked are copied now, so retiring the template meanwhile changes nothing.
CREATE TABLE scheduled_messages (
    id              TEXT PRIMARY KEY,
    enterprise_id   TEXT NOT NULL REFERENCES enterprises(id),
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    sender_id       TEXT NOT NULL REFERENCES users(id),
    body_ct         BLOB NOT NULL,
    policy_id       TEXT REFERENCES message_policies(id),
    policy_rules    TEXT,
    deliver_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX scheduled_messages_by_sender ON scheduled_messages (sender_id, conversation_id, deliver_at);

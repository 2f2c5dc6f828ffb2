-- Emoji reactions on messages: one row per person and emoji. The emoji is stored as written; it
-- is one of a small set of pictographs, not free text.
CREATE TABLE message_reactions (
    message_id       TEXT NOT NULL REFERENCES messages(id),
    conversation_id  TEXT NOT NULL REFERENCES conversations(id),
    user_id          TEXT NOT NULL REFERENCES users(id),
    emoji            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX message_reactions_by_conversation ON message_reactions (conversation_id, message_id);

-- Search without plaintext: each message's words as keyed blind tokens (HMAC-SHA256 under a
-- key derived from the enterprise's data key). The words themselves are never stored; equal
-- words give equal tokens, which is what lets the server find them.
CREATE TABLE message_words (
    token            BYTEA NOT NULL,
    message_id       TEXT NOT NULL REFERENCES messages(id),
    conversation_id  TEXT NOT NULL REFERENCES conversations(id),
    -- The message's time, so a search reads a word's messages newest first and stops early.
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (token, message_id)
);
CREATE INDEX message_words_by_message ON message_words (message_id);
CREATE INDEX message_words_newest ON message_words (token, created_at);

-- #15: one B-tree per word instead of three. A message's tokens were written into the table, its
-- (token, message_id) key and its (token, created_at) index: three random places per word, each a
-- page written to the log at commit. Keyed by (token, created_at, message_id) without a rowid,
-- the table itself is the newest-first walk a search makes, and a check that a message holds
-- another word is one probe of the same key (a message's words all carry its time).
CREATE TABLE message_words_by_time (
    token            BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    message_id       TEXT NOT NULL REFERENCES messages(id),
    conversation_id  TEXT NOT NULL REFERENCES conversations(id),
    PRIMARY KEY (token, created_at, message_id)
) WITHOUT ROWID;
INSERT INTO message_words_by_time (token, created_at, message_id, conversation_id)
    SELECT token, created_at, message_id, conversation_id FROM message_words;
DROP TABLE message_words;
ALTER TABLE message_words_by_time RENAME TO message_words;
-- Removing a message's words (deleted, edited, expired, recalled) finds them by the message.
CREATE INDEX message_words_by_message ON message_words (message_id);

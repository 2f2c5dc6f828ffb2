-- Threads, one level deep: a reply is an ordinary message of its conversation (with its own
-- sequence number, so live delivery, catch-up and unread counts treat it like any other) that
-- names the top-level message it answers.
ALTER TABLE messages ADD COLUMN thread_root_id TEXT REFERENCES messages(id);
CREATE INDEX messages_by_thread ON messages (conversation_id, thread_root_id, seq);

-- #15: fewer structures written per word. A message's tokens went into the table, its
-- (token, message_id) key and its (token, created_at) index. One key of
-- (token, created_at, message_id) serves both the newest-first walk a search makes and the check
-- that a message holds another word (a message's words all carry its time), and still refuses a
-- word stored twice for one message. It carries the conversation too, so the walk reads the key
-- alone (an index-only scan) where the table's pages are marked all-visible.
ALTER TABLE message_words DROP CONSTRAINT message_words_pkey;
DROP INDEX message_words_newest;
ALTER TABLE message_words ADD PRIMARY KEY (token, created_at, message_id) INCLUDE (conversation_id);
-- Rows are only ever added and removed, never updated: vacuum after every 1% of new rows (not
-- the default 20%), so nearly all pages stay marked all-visible and the walk rarely reads them.
ALTER TABLE message_words SET (autovacuum_vacuum_insert_scale_factor = 0.01);

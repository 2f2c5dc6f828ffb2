-- Attachments (S3): a message may carry one file. The file's bytes live encrypted in chunks on
-- disk under the data directory, named by attachment id; its name is ciphertext here.
ALTER TABLE messages ADD COLUMN attachment_id TEXT;
ALTER TABLE messages ADD COLUMN attachment_name_ct BLOB;
ALTER TABLE messages ADD COLUMN attachment_type TEXT;
ALTER TABLE messages ADD COLUMN attachment_size INTEGER;
CREATE UNIQUE INDEX messages_by_attachment ON messages (attachment_id);

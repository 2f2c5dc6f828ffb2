-- Mentions counted by the server, so a badge survives a reload and follows a person to every
-- device: who a message names (resolved against the conversation's members when it is sent or
-- edited) and whether it names everyone (@channel, @all, @here).
ALTER TABLE messages ADD COLUMN mentions_everyone INTEGER NOT NULL DEFAULT 0;
CREATE TABLE message_mentions (
    message_id TEXT NOT NULL REFERENCES messages(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (message_id, user_id)
);
-- A member's choice to mute a conversation, kept on the server so every device honours it.
ALTER TABLE conversation_members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
-- An image's preview, made by the server when the file arrives and sealed like the file itself.
ALTER TABLE messages ADD COLUMN thumbnail_id TEXT;
ALTER TABLE messages ADD COLUMN thumbnail_type TEXT;
ALTER TABLE messages ADD COLUMN thumbnail_width INTEGER;
ALTER TABLE messages ADD COLUMN thumbnail_height INTEGER;

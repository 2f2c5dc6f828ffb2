-- #14 item 12: an audit event's address and user agent are sealed like a session's, with keyed
-- blind indexes of the address and its network for reports that filter by them. Events written
-- before this keep their clear columns and chain version 1, because their hashes cover those
-- bytes; from version 2 the chain covers the sealed columns and `ip`/`user_agent` stay empty.
ALTER TABLE audit_events ADD COLUMN chain_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN origin_key TEXT;
ALTER TABLE audit_events ADD COLUMN ip_ct BYTEA;
ALTER TABLE audit_events ADD COLUMN user_agent_ct BYTEA;
ALTER TABLE audit_events ADD COLUMN ip_index BYTEA;
ALTER TABLE audit_events ADD COLUMN network_index BYTEA;
CREATE INDEX audit_by_ip ON audit_events (enterprise_id, ip_index, seq) WHERE ip_index IS NOT NULL;
CREATE INDEX audit_by_network ON audit_events (enterprise_id, network_index, seq) WHERE network_index IS NOT NULL;

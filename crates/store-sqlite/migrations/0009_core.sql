-- Shared core (structure issue): roles as a set, how a session was authenticated, durable jobs,
-- and per-enterprise policy documents.

-- A person may hold several roles. `roles` is authoritative (names joined by commas); `role`
-- keeps the most powerful one so the original CHECK constraint still holds.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT 'member';
UPDATE users SET roles = role;

-- What the person proved when the session began, and until when it is elevated (A5).
ALTER TABLE sessions ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'unrecorded';
ALTER TABLE sessions ADD COLUMN elevated_until INTEGER;

-- Work due at a time, run once across the cluster: a node leases a due job until
-- lease_expires_at; when the holder dies, the lease runs out and another node takes it.
CREATE TABLE jobs (
    job_key           TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    payload           TEXT NOT NULL,
    due_at            INTEGER NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX jobs_by_due ON jobs (due_at);

-- One versioned JSON document per enterprise and kind of policy.
CREATE TABLE policy_documents (
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    kind           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    document       TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    updated_by     TEXT,
    PRIMARY KEY (enterprise_id, kind)
);

-- The password policy is the first policy document; the old table stays empty from here on.
INSERT INTO policy_documents (enterprise_id, kind, version, document, updated_at, updated_by)
    SELECT enterprise_id, 'password', 1, policy, updated_at, NULL FROM password_policies;
DELETE FROM password_policies;

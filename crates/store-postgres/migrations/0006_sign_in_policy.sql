-- Sign-in an enterprise controls (A1, A3): the password policy, lockout counters, password
-- history, and one-time-code (TOTP) enrolment with recovery codes.
CREATE TABLE password_policies (
    enterprise_id  TEXT PRIMARY KEY REFERENCES enterprises(id),
    policy         TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);

ALTER TABLE users ADD COLUMN password_changed_at BIGINT;
ALTER TABLE users ADD COLUMN failed_sign_ins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT;
ALTER TABLE users ADD COLUMN totp_secret_ct BYTEA;
ALTER TABLE users ADD COLUMN totp_pending_ct BYTEA;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

CREATE TABLE password_history (
    user_id     TEXT NOT NULL REFERENCES users(id),
    hash        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX password_history_by_user ON password_history (user_id, created_at);

CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id),
    code_hash  BYTEA NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

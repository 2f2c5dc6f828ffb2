-- OpenID Connect single sign-on (A2): each enterprise's provider, and sign-ins in flight.
CREATE TABLE oidc_configs (
    enterprise_id     TEXT PRIMARY KEY REFERENCES enterprises(id),
    settings          TEXT NOT NULL,
    client_secret_ct  BYTEA NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- One row per started sign-in, found by the hash of its state and deleted when used, so a state
-- works once. The PKCE verifier and nonce are sealed.
CREATE TABLE oidc_logins (
    state_hash     BYTEA PRIMARY KEY,
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    secrets_ct     BYTEA NOT NULL,
    created_at     BIGINT NOT NULL
);

-- SAML 2.0 single sign-on (A2): each enterprise's identity provider, the requests in flight
-- (single use), and the assertions already consumed (refused if replayed).
CREATE TABLE saml_configs (
    enterprise_id  TEXT PRIMARY KEY REFERENCES enterprises(id),
    settings       TEXT NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE saml_requests (
    id             TEXT PRIMARY KEY,
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    created_at     INTEGER NOT NULL
);

CREATE TABLE saml_assertions (
    id             TEXT PRIMARY KEY,
    enterprise_id  TEXT NOT NULL REFERENCES enterprises(id),
    expires_at     INTEGER NOT NULL
);

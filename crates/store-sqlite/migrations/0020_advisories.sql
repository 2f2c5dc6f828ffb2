-- D6: coordinated disclosure. One advisory per report. The draft is sealed until it is published
-- (only the team and the report's finder read it); each save is a new version, and the finder's
-- agreement names the version and the SHA-256 of the draft they read, with the time: the
-- evidence. Publishing stores the public record in the clear, once; an override of a missing
-- agreement keeps its reason.
CREATE TABLE advisories (
    id               TEXT PRIMARY KEY,
    enterprise_id    TEXT NOT NULL REFERENCES enterprises(id),
    report_id        TEXT NOT NULL UNIQUE REFERENCES reports(id),
    public_id        TEXT NOT NULL,
    version          INTEGER NOT NULL,
    draft_ct         BLOB NOT NULL,
    draft_sha256     BLOB NOT NULL,
    publish_on       TEXT NOT NULL,
    consent_version  INTEGER,
    consent_sha256   BLOB,
    consent_at       INTEGER,
    published_at     INTEGER,
    published_json   TEXT,
    override_reason  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CONSTRAINT advisories_public_id_unique UNIQUE (enterprise_id, public_id)
);
CREATE INDEX advisories_published ON advisories (enterprise_id, published_at);

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
    version          BIGINT NOT NULL,
    draft_ct         BYTEA NOT NULL,
    draft_sha256     BYTEA NOT NULL,
    publish_on       TEXT NOT NULL,
    consent_version  BIGINT,
    consent_sha256   BYTEA,
    consent_at       BIGINT,
    published_at     BIGINT,
    published_json   TEXT,
    override_reason  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CONSTRAINT advisories_public_id_unique UNIQUE (enterprise_id, public_id)
);
CREATE INDEX advisories_published ON advisories (enterprise_id, published_at);

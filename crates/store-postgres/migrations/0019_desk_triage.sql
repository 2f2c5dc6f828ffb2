-- D4: triage. Who works a report, its CVSS vectors (scored by the server when read), the report a
-- duplicate repeats, and when the finder first heard from the team (the first-response clock's goal).
ALTER TABLE reports ADD COLUMN assignee_id TEXT REFERENCES users(id);
ALTER TABLE reports ADD COLUMN cvss_v3 TEXT;
ALTER TABLE reports ADD COLUMN cvss_v4 TEXT;
ALTER TABLE reports ADD COLUMN duplicate_of TEXT REFERENCES reports(id);
ALTER TABLE reports ADD COLUMN first_response_at BIGINT;
-- The first answer: the team's first message, or (for a report the team only moved) its last change.
UPDATE reports SET first_response_at = COALESCE(
    (SELECT MIN(m.created_at) FROM report_messages m WHERE m.report_id = reports.id AND m.author = 'team'),
    CASE WHEN state NOT IN ('new', 'spam') THEN updated_at END);

-- Every state change: the clocks are computed from it (a wait on the finder pauses them) and the
-- report page shows it. Reports moved before this table existed get one row for where they stand.
CREATE TABLE report_transitions (
    report_id      TEXT NOT NULL REFERENCES reports(id),
    seq            BIGINT NOT NULL,
    from_state     TEXT NOT NULL,
    to_state       TEXT NOT NULL,
    actor          TEXT NOT NULL CHECK (actor IN ('finder', 'team')),
    actor_user_id  TEXT REFERENCES users(id),
    duplicate_of   TEXT REFERENCES reports(id),
    at             BIGINT NOT NULL,
    PRIMARY KEY (report_id, seq)
);
INSERT INTO report_transitions (report_id, seq, from_state, to_state, actor, at)
    SELECT id, 1, 'new', state, 'team', updated_at FROM reports WHERE state <> 'new';

-- Internal notes, sealed like the thread and never shown to the finder.
CREATE TABLE report_notes (
    id              TEXT PRIMARY KEY,
    report_id       TEXT NOT NULL REFERENCES reports(id),
    author_user_id  TEXT NOT NULL REFERENCES users(id),
    body_ct         BYTEA NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX report_notes_by_report ON report_notes (report_id, created_at);

-- Reminders before a clock runs out and escalations once it has: one of each per clock, ever, so a
-- job that runs twice (a lease that ran out) cannot send twice.
CREATE TABLE report_reminders (
    report_id  TEXT NOT NULL REFERENCES reports(id),
    clock      TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('due-soon', 'missed')),
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (report_id, clock, kind)
);

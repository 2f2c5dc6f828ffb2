//! The security desk's store: public pages, the organisation's OpenPGP keys, reports and their
//! threads.

use crate::{foundation::append_audit, query, query_scalar, text, transaction, Row, SqlStore, Transaction};
use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, ReportId, ReportMessageId, UserId};
use store::decode;
use store::{
    DeskKeyRow, DeskPageRow, Error, ReportAuthor, ReportFileRow, ReportMessageRow, ReportNoteRow, ReportReminderRow,
    ReportRow, ReportTransitionRow, ReportTriage, Result,
};

/// Keeps a report's rows (`report_id` is `$1`) to reports of the enterprise bound as `$2`.
const OF_ENTERPRISE: &str = "report_id IN (SELECT id FROM reports WHERE id = $1 AND enterprise_id = $2)";

const KEY_COLUMNS: &str = "fingerprint, enterprise_id, key_id, algorithm, algorithm_id, bits, user_ids, secret_ct, \
     public_armored, public_binary, created_at, expires_at, added_at, active, retired_at";
/// What a new report row is written with; triage columns start empty.
const REPORT_INSERT_COLUMNS: &str = "id, enterprise_id, receipt_lookup, receipt_hash, state, content_ct, was_encrypted, \
     finder_name_ct, finder_email_ct, email_token_hash, email_verified_at, finder_ip_ct, credit, created_at, updated_at, closed_at, \
     purged_at, last_seq";
const REPORT_COLUMNS: &str = "id, enterprise_id, receipt_lookup, receipt_hash, state, content_ct, was_encrypted, \
     finder_name_ct, finder_email_ct, email_token_hash, email_verified_at, finder_ip_ct, credit, created_at, updated_at, closed_at, \
     purged_at, last_seq, assignee_id, cvss_v3, cvss_v4, duplicate_of, first_response_at";
const TRANSITION_COLUMNS: &str = "report_id, seq, from_state, to_state, actor, actor_user_id, duplicate_of, at";
const NOTE_COLUMNS: &str = "id, report_id, author_user_id, body_ct, created_at";
const MESSAGE_COLUMNS: &str = "id, report_id, seq, author, author_user_id, body_ct, created_at";
const FILE_COLUMNS: &str = "id, report_id, author, author_user_id, name_ct, content_type, size, created_at";

fn millis(row: &Row, column: &str) -> Result<Option<Millis>> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(Millis))
}

fn key_row(row: &Row) -> Result<DeskKeyRow> {
    Ok(DeskKeyRow {
        fingerprint: text(row, "fingerprint")?,
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        key_id: text(row, "key_id")?,
        algorithm: text(row, "algorithm")?,
        algorithm_id: row.try_get("algorithm_id")?,
        bits: row.try_get("bits")?,
        user_ids: text(row, "user_ids")?,
        secret_ct: row.try_get("secret_ct")?,
        public_armored: text(row, "public_armored")?,
        public_binary: row.try_get("public_binary")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        added_at: Millis(row.try_get("added_at")?),
        active: row.try_get("active")?,
        retired_at: millis(row, "retired_at")?,
    })
}

fn report_row(row: &Row) -> Result<ReportRow> {
    Ok(ReportRow {
        id: ReportId(decode::uuid(&text(row, "id")?)?),
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        receipt_lookup: row.try_get("receipt_lookup")?,
        receipt_hash: text(row, "receipt_hash")?,
        state: decode::report_state(&text(row, "state")?)?,
        content_ct: row.try_get("content_ct")?,
        was_encrypted: row.try_get("was_encrypted")?,
        finder_name_ct: row.try_get("finder_name_ct")?,
        finder_email_ct: row.try_get("finder_email_ct")?,
        email_token_hash: row.try_get("email_token_hash")?,
        email_verified_at: millis(row, "email_verified_at")?,
        finder_ip_ct: row.try_get("finder_ip_ct")?,
        credit: row.try_get("credit")?,
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
        closed_at: millis(row, "closed_at")?,
        purged_at: millis(row, "purged_at")?,
        last_seq: row.try_get("last_seq")?,
        assignee: optional_uuid(row, "assignee_id")?.map(UserId),
        cvss_v3: row.try_get("cvss_v3")?,
        cvss_v4: row.try_get("cvss_v4")?,
        duplicate_of: optional_uuid(row, "duplicate_of")?.map(ReportId),
        first_response_at: millis(row, "first_response_at")?,
    })
}

fn optional_uuid(row: &Row, column: &str) -> Result<Option<uuid::Uuid>> {
    row.try_get::<Option<String>, _>(column)?.map(|s| decode::uuid(&s)).transpose()
}

fn transition_row(row: &Row) -> Result<ReportTransitionRow> {
    let actor = match (text(row, "actor")?.as_str(), optional_uuid(row, "actor_user_id")?) {
        ("finder", _) => ReportAuthor::Finder,
        ("team", Some(user)) => ReportAuthor::Team(UserId(user)),
        // Rows written by the migration for reports moved before transitions were kept: the
        // team moved them, but who is not known (the nil id says so).
        ("team", None) => ReportAuthor::Team(UserId(uuid::Uuid::nil())),
        (other, _) => return Err(Error::Other(format!("stored transition actor {other:?} is unknown"))),
    };
    Ok(ReportTransitionRow {
        report_id: ReportId(decode::uuid(&text(row, "report_id")?)?),
        seq: row.try_get("seq")?,
        from: decode::report_state(&text(row, "from_state")?)?,
        to: decode::report_state(&text(row, "to_state")?)?,
        actor,
        at: Millis(row.try_get("at")?),
        duplicate_of: optional_uuid(row, "duplicate_of")?.map(ReportId),
    })
}

fn note_row(row: &Row) -> Result<ReportNoteRow> {
    Ok(ReportNoteRow {
        id: ReportMessageId(decode::uuid(&text(row, "id")?)?),
        report_id: ReportId(decode::uuid(&text(row, "report_id")?)?),
        author: UserId(decode::uuid(&text(row, "author_user_id")?)?),
        body_ct: row.try_get("body_ct")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

fn message_row(row: &Row) -> Result<ReportMessageRow> {
    let author = match (text(row, "author")?.as_str(), row.try_get::<Option<String>, _>("author_user_id")?) {
        ("finder", _) => ReportAuthor::Finder,
        ("team", Some(user)) => ReportAuthor::Team(UserId(decode::uuid(&user)?)),
        (other, _) => return Err(Error::Other(format!("stored report author {other:?} is unknown"))),
    };
    Ok(ReportMessageRow {
        id: ReportMessageId(decode::uuid(&text(row, "id")?)?),
        report_id: ReportId(decode::uuid(&text(row, "report_id")?)?),
        seq: row.try_get("seq")?,
        author,
        body_ct: row.try_get("body_ct")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

fn author_of(row: &Row) -> Result<ReportAuthor> {
    match (text(row, "author")?.as_str(), row.try_get::<Option<String>, _>("author_user_id")?) {
        ("finder", _) => Ok(ReportAuthor::Finder),
        ("team", Some(user)) => Ok(ReportAuthor::Team(UserId(decode::uuid(&user)?))),
        (other, _) => Err(Error::Other(format!("stored report author {other:?} is unknown"))),
    }
}

fn file_row(row: &Row) -> Result<ReportFileRow> {
    Ok(ReportFileRow {
        id: domain::AttachmentId(decode::uuid(&text(row, "id")?)?),
        report_id: ReportId(decode::uuid(&text(row, "report_id")?)?),
        author: author_of(row)?,
        name_ct: row.try_get("name_ct")?,
        content_type: text(row, "content_type")?,
        size: row.try_get("size")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

async fn insert_files(tx: &mut Transaction, files: &[ReportFileRow]) -> Result<()> {
    for f in files {
        let (author, author_user) = author_columns(f.author);
        query(&format!("INSERT INTO report_files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(f.id.to_string())
            .bind(f.report_id.to_string())
            .bind(author)
            .bind(author_user)
            .bind(&f.name_ct)
            .bind(&f.content_type)
            .bind(f.size)
            .bind(f.created_at.0)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn author_columns(author: ReportAuthor) -> (&'static str, Option<String>) {
    match author {
        ReportAuthor::Finder => ("finder", None),
        ReportAuthor::Team(user) => ("team", Some(user.to_string())),
    }
}

/// Moves a report from `change.from` to `change.to` inside the caller's transaction and records
/// the transition. `false` when the report is not the enterprise's; `Conflict("reports.state")`
/// when its state is no longer `change.from`.
pub(crate) async fn apply_transition(
    tx: &mut Transaction,
    enterprise: EnterpriseId,
    change: &ReportTransitionRow,
) -> Result<bool> {
    let current: Option<String> = query_scalar("SELECT state FROM reports WHERE enterprise_id = $1 AND id = $2")
        .bind(enterprise.to_string())
        .bind(change.report_id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    match current {
        None => return Ok(false),
        Some(state) if state != change.from.as_str() => return Err(Error::Conflict("reports.state".into())),
        Some(_) => {}
    }
    let at = change.at.0;
    let closed_at = change.to.is_final().then_some(at);
    let responds = matches!(change.actor, ReportAuthor::Team(_)) && change.to.finder_is_told();
    let moved = query(
        "UPDATE reports SET state = $1, updated_at = $2, \
             closed_at = CASE WHEN $3 IS NULL THEN NULL ELSE COALESCE(closed_at, $3) END, \
             duplicate_of = $4, \
             first_response_at = CASE WHEN $5 THEN COALESCE(first_response_at, $2) ELSE first_response_at END \
             WHERE enterprise_id = $6 AND id = $7 AND state = $8",
    )
    .bind(change.to.as_str())
    .bind(at)
    .bind(closed_at)
    .bind(change.duplicate_of.map(|d| d.to_string()))
    .bind(responds)
    .bind(enterprise.to_string())
    .bind(change.report_id.to_string())
    .bind(change.from.as_str())
    .execute(&mut **tx)
    .await?;
    // Another writer moved it between the read and this update (PostgreSQL re-checks the
    // condition once the first writer commits): the move is refused, not recorded twice.
    if moved.rows_affected() != 1 {
        return Err(Error::Conflict("reports.state".into()));
    }
    let seq: i64 = query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM report_transitions WHERE report_id = $1")
        .bind(change.report_id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let (actor, actor_user) = author_columns(change.actor);
    query(&format!("INSERT INTO report_transitions ({TRANSITION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(change.report_id.to_string())
        .bind(seq)
        .bind(change.from.as_str())
        .bind(change.to.as_str())
        .bind(actor)
        .bind(actor_user)
        .bind(change.duplicate_of.map(|d| d.to_string()))
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

#[async_trait]
impl store::DeskStore for SqlStore {
    async fn put_desk_page(&self, page: &DeskPageRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query(
                "INSERT INTO desk_pages (enterprise_id, slug, markdown, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (enterprise_id, slug) DO UPDATE SET markdown = excluded.markdown, \
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )
            .bind(page.enterprise_id.to_string())
            .bind(page.page.as_str())
            .bind(&page.markdown)
            .bind(page.updated_at.0)
            .bind(page.updated_by.map(|u| u.to_string()))
            .execute(&mut *tx)
            .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn desk_pages(&self, enterprise: EnterpriseId) -> Result<Vec<DeskPageRow>> {
        let rows = query(
            "SELECT enterprise_id, slug, markdown, updated_at, updated_by FROM desk_pages WHERE enterprise_id = $1",
        )
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeskPageRow {
                    enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
                    page: decode::desk_page(&text(row, "slug")?)?,
                    markdown: text(row, "markdown")?,
                    updated_at: Millis(row.try_get("updated_at")?),
                    updated_by: row
                        .try_get::<Option<String>, _>("updated_by")?
                        .map(|u| decode::uuid(&u).map(UserId))
                        .transpose()?,
                })
            })
            .collect()
    }

    async fn add_desk_key(&self, key: &DeskKeyRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            if key.active {
                query("UPDATE desk_keys SET active = FALSE, retired_at = $1 WHERE enterprise_id = $2 AND active")
                    .bind(key.added_at.0)
                    .bind(key.enterprise_id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            query(&format!(
                "INSERT INTO desk_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&key.fingerprint)
            .bind(key.enterprise_id.to_string())
            .bind(&key.key_id)
            .bind(&key.algorithm)
            .bind(key.algorithm_id)
            .bind(key.bits)
            .bind(&key.user_ids)
            .bind(&key.secret_ct)
            .bind(&key.public_armored)
            .bind(&key.public_binary)
            .bind(key.created_at)
            .bind(key.expires_at)
            .bind(key.added_at.0)
            .bind(key.active)
            .bind(key.retired_at.map(|m| m.0))
            .execute(&mut *tx)
            .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn desk_keys(&self, enterprise: EnterpriseId) -> Result<Vec<DeskKeyRow>> {
        let rows = query(&format!(
            "SELECT {KEY_COLUMNS} FROM desk_keys WHERE enterprise_id = $1 ORDER BY added_at DESC, fingerprint"
        ))
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(key_row).collect()
    }

    async fn create_report(&self, report: &ReportRow, files: &[ReportFileRow], audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query(&format!(
                "INSERT INTO reports ({REPORT_INSERT_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 0)"
            ))
            .bind(report.id.to_string())
            .bind(report.enterprise_id.to_string())
            .bind(&report.receipt_lookup)
            .bind(&report.receipt_hash)
            .bind(report.state.as_str())
            .bind(&report.content_ct)
            .bind(report.was_encrypted)
            .bind(&report.finder_name_ct)
            .bind(&report.finder_email_ct)
            .bind(&report.email_token_hash)
            .bind(report.email_verified_at.map(|m| m.0))
            .bind(&report.finder_ip_ct)
            .bind(report.credit)
            .bind(report.created_at.0)
            .bind(report.updated_at.0)
            .bind(report.closed_at.map(|m| m.0))
            .bind(report.purged_at.map(|m| m.0))
            .execute(&mut *tx)
            .await?;
            insert_files(&mut tx, files).await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn add_report_files(
        &self,
        enterprise: EnterpriseId,
        files: &[ReportFileRow],
        audit: &AuditDraft,
    ) -> Result<()> {
        let Some(first) = files.first() else { return Ok(()) };
        if files.iter().any(|f| f.report_id != first.report_id) {
            return Err(Error::Other("files for one report at a time".to_owned()));
        }
        transaction!(self.writer(), |tx| {
            let touched = query("UPDATE reports SET updated_at = $1 WHERE id = $2 AND enterprise_id = $3")
                .bind(first.created_at.0)
                .bind(first.report_id.to_string())
                .bind(enterprise.to_string())
                .execute(&mut *tx)
                .await?;
            if touched.rows_affected() == 0 {
                return Err(Error::NotFound);
            }
            insert_files(&mut tx, files).await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn report_files(&self, enterprise: EnterpriseId, report: ReportId) -> Result<Vec<ReportFileRow>> {
        let rows = query(&format!(
            "SELECT {FILE_COLUMNS} FROM report_files WHERE report_id = $1 AND {OF_ENTERPRISE} ORDER BY created_at, id"
        ))
        .bind(report.to_string())
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(file_row).collect()
    }

    async fn report_by_lookup(&self, lookup: &[u8]) -> Result<Option<ReportRow>> {
        let row = query(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE receipt_lookup = $1"))
            .bind(lookup)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(report_row).transpose()
    }

    async fn get_report(&self, enterprise: EnterpriseId, id: ReportId) -> Result<Option<ReportRow>> {
        let row = query(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE enterprise_id = $1 AND id = $2"))
            .bind(enterprise.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(report_row).transpose()
    }

    async fn list_reports(&self, enterprise: EnterpriseId) -> Result<Vec<ReportRow>> {
        let rows = query(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE enterprise_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(report_row).collect()
    }

    async fn append_report_message(
        &self,
        enterprise: EnterpriseId,
        message: &ReportMessageRow,
        audit: &AuditDraft,
    ) -> Result<ReportMessageRow> {
        transaction!(self.writer(), |tx| {
            let by_team = matches!(message.author, ReportAuthor::Team(_));
            let seq: Option<i64> = query_scalar(
                "UPDATE reports SET last_seq = last_seq + 1, updated_at = $1, \
                 first_response_at = CASE WHEN $4 THEN COALESCE(first_response_at, $1) ELSE first_response_at END \
                 WHERE id = $2 AND enterprise_id = $3 RETURNING last_seq",
            )
            .bind(message.created_at.0)
            .bind(message.report_id.to_string())
            .bind(enterprise.to_string())
            .bind(by_team)
            .fetch_optional(&mut *tx)
            .await?;
            let seq = seq.ok_or(Error::NotFound)?;
            let (author, author_user) = author_columns(message.author);
            query(&format!("INSERT INTO report_messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                .bind(message.id.to_string())
                .bind(message.report_id.to_string())
                .bind(seq)
                .bind(author)
                .bind(author_user)
                .bind(&message.body_ct)
                .bind(message.created_at.0)
                .execute(&mut *tx)
                .await?;
            append_audit(&mut tx, audit).await?;
            Ok(ReportMessageRow { seq, ..message.clone() })
        })
    }

    async fn report_messages(&self, enterprise: EnterpriseId, report: ReportId) -> Result<Vec<ReportMessageRow>> {
        let rows = query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM report_messages WHERE report_id = $1 AND {OF_ENTERPRISE} ORDER BY seq"
        ))
        .bind(report.to_string())
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(message_row).collect()
    }

    async fn verify_report_email(
        &self,
        token_hash: &[u8],
        at: Millis,
        made_after: Millis,
        audit: &AuditDraft,
    ) -> Result<Option<ReportRow>> {
        transaction!(self.writer(), |tx| {
            let id: Option<String> = query_scalar(
                "UPDATE reports SET email_verified_at = $1, email_token_hash = NULL \
                 WHERE email_token_hash = $2 AND email_verified_at IS NULL AND finder_email_ct IS NOT NULL \
                 AND created_at >= $3 RETURNING id",
            )
            .bind(at.0)
            .bind(token_hash)
            .bind(made_after.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else { return Ok(None) };
            append_audit(&mut tx, audit).await?;
            let row = query(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"))
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
            report_row(&row).map(Some)
        })
    }

    async fn set_report_access_token(
        &self,
        enterprise: EnterpriseId,
        report: ReportId,
        token_hash: &[u8],
    ) -> Result<()> {
        query("UPDATE reports SET access_token_hash = $1 WHERE id = $2 AND enterprise_id = $3")
            .bind(token_hash)
            .bind(report.to_string())
            .bind(enterprise.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn report_by_access_token(&self, token_hash: &[u8]) -> Result<Option<ReportRow>> {
        let row = query(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE access_token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(report_row).transpose()
    }

    async fn set_report_state(
        &self,
        enterprise: EnterpriseId,
        change: &ReportTransitionRow,
        audit: &AuditDraft,
    ) -> Result<Option<ReportRow>> {
        transaction!(self.writer(), |tx| {
            if !apply_transition(&mut tx, enterprise, change).await? {
                return Ok(None);
            }
            append_audit(&mut tx, audit).await?;
            let row = query(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"))
                .bind(change.report_id.to_string())
                .fetch_one(&mut *tx)
                .await?;
            report_row(&row).map(Some)
        })
    }

    async fn report_transitions(
        &self,
        enterprise: EnterpriseId,
        report: Option<ReportId>,
    ) -> Result<Vec<ReportTransitionRow>> {
        let rows = query(&format!(
            "SELECT {TRANSITION_COLUMNS} FROM report_transitions \
             WHERE report_id IN (SELECT id FROM reports WHERE enterprise_id = $1 AND ($2 IS NULL OR id = $2)) \
             ORDER BY report_id, seq"
        ))
        .bind(enterprise.to_string())
        .bind(report.map(|r| r.to_string()))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(transition_row).collect()
    }

    async fn set_report_triage(
        &self,
        enterprise: EnterpriseId,
        report: ReportId,
        triage: &ReportTriage,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<Option<ReportRow>> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "UPDATE reports SET assignee_id = $1, cvss_v3 = $2, cvss_v4 = $3, updated_at = $4 \
                 WHERE enterprise_id = $5 AND id = $6",
            )
            .bind(triage.assignee.map(|u| u.to_string()))
            .bind(&triage.cvss_v3)
            .bind(&triage.cvss_v4)
            .bind(at.0)
            .bind(enterprise.to_string())
            .bind(report.to_string())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(None);
            }
            append_audit(&mut tx, audit).await?;
            let row = query(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"))
                .bind(report.to_string())
                .fetch_one(&mut *tx)
                .await?;
            report_row(&row).map(Some)
        })
    }

    async fn add_report_note(&self, enterprise: EnterpriseId, note: &ReportNoteRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            let touched = query("UPDATE reports SET updated_at = $1 WHERE id = $2 AND enterprise_id = $3")
                .bind(note.created_at.0)
                .bind(note.report_id.to_string())
                .bind(enterprise.to_string())
                .execute(&mut *tx)
                .await?;
            if touched.rows_affected() == 0 {
                return Err(Error::NotFound);
            }
            query(&format!("INSERT INTO report_notes ({NOTE_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"))
                .bind(note.id.to_string())
                .bind(note.report_id.to_string())
                .bind(note.author.to_string())
                .bind(&note.body_ct)
                .bind(note.created_at.0)
                .execute(&mut *tx)
                .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn report_notes(&self, enterprise: EnterpriseId, report: ReportId) -> Result<Vec<ReportNoteRow>> {
        let rows = query(&format!(
            "SELECT {NOTE_COLUMNS} FROM report_notes WHERE report_id = $1 AND {OF_ENTERPRISE} ORDER BY created_at, id"
        ))
        .bind(report.to_string())
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(note_row).collect()
    }

    async fn record_report_reminder(
        &self,
        enterprise: EnterpriseId,
        reminder: &ReportReminderRow,
        audit: &AuditDraft,
    ) -> Result<bool> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "INSERT INTO report_reminders (report_id, clock, kind, sent_at) \
                 SELECT id, $2, $3, $4 FROM reports WHERE id = $1 AND enterprise_id = $5 \
                 ON CONFLICT (report_id, clock, kind) DO NOTHING",
            )
            .bind(reminder.report_id.to_string())
            .bind(&reminder.clock)
            .bind(&reminder.kind)
            .bind(reminder.sent_at.0)
            .bind(enterprise.to_string())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            append_audit(&mut tx, audit).await?;
            Ok(true)
        })
    }

    async fn report_reminders(&self, enterprise: EnterpriseId, limit: u32) -> Result<Vec<ReportReminderRow>> {
        let rows = query(
            "SELECT report_id, clock, kind, sent_at FROM report_reminders \
             WHERE report_id IN (SELECT id FROM reports WHERE enterprise_id = $1) \
             ORDER BY sent_at DESC, report_id, clock, kind LIMIT $2",
        )
        .bind(enterprise.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReportReminderRow {
                    report_id: ReportId(decode::uuid(&text(row, "report_id")?)?),
                    clock: text(row, "clock")?,
                    kind: text(row, "kind")?,
                    sent_at: Millis(row.try_get("sent_at")?),
                })
            })
            .collect()
    }

    async fn purge_finder_data(
        &self,
        enterprise: EnterpriseId,
        closed_before: Millis,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<u64> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "UPDATE reports SET finder_email_ct = NULL, finder_ip_ct = NULL, email_token_hash = NULL, \
                 access_token_hash = NULL, email_verified_at = NULL, \
                 finder_name_ct = CASE WHEN credit THEN finder_name_ct ELSE NULL END, purged_at = $1 \
                 WHERE enterprise_id = $2 AND closed_at IS NOT NULL AND closed_at < $3 AND purged_at IS NULL",
            )
            .bind(at.0)
            .bind(enterprise.to_string())
            .bind(closed_before.0)
            .execute(&mut *tx)
            .await?;
            // Recorded only when something was deleted: an hourly no-op is not an event.
            if done.rows_affected() > 0 {
                append_audit(&mut tx, audit).await?;
            }
            Ok(done.rows_affected())
        })
    }
}

//! Security advisories (D6): versioned drafts, the finder's agreement, publication.

use crate::desk::apply_transition;
use crate::{foundation::append_audit, query, query_scalar, text, transaction, Row, SqlStore};
use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, ReportId};
use store::decode;
use store::{AdvisoryPublication, AdvisoryRow, Error, Result};

const COLUMNS: &str = "id, enterprise_id, report_id, public_id, version, draft_ct, draft_sha256, publish_on, \
     consent_version, consent_sha256, consent_at, published_at, published_json, override_reason, created_at, updated_at";

fn advisory_row(row: &Row) -> Result<AdvisoryRow> {
    let millis = |c: &str| -> Result<Option<Millis>> { Ok(row.try_get::<Option<i64>, _>(c)?.map(Millis)) };
    Ok(AdvisoryRow {
        id: decode::uuid(&text(row, "id")?)?,
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        report_id: ReportId(decode::uuid(&text(row, "report_id")?)?),
        public_id: text(row, "public_id")?,
        version: row.try_get("version")?,
        draft_ct: row.try_get("draft_ct")?,
        draft_sha256: row.try_get("draft_sha256")?,
        publish_on: text(row, "publish_on")?,
        consent_version: row.try_get("consent_version")?,
        consent_sha256: row.try_get("consent_sha256")?,
        consent_at: millis("consent_at")?,
        published_at: millis("published_at")?,
        published_json: row.try_get("published_json")?,
        override_reason: row.try_get("override_reason")?,
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
    })
}

#[async_trait]
impl store::AdvisoryStore for SqlStore {
    async fn save_advisory_draft(&self, row: &AdvisoryRow, audit: &AuditDraft) -> Result<AdvisoryRow> {
        transaction!(self.writer(), |tx| {
            let report: Option<String> = query_scalar("SELECT id FROM reports WHERE id = $1 AND enterprise_id = $2")
                .bind(row.report_id.to_string())
                .bind(row.enterprise_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            if report.is_none() {
                return Err(Error::NotFound);
            }
            let existing = query(&format!("SELECT {COLUMNS} FROM advisories WHERE report_id = $1"))
                .bind(row.report_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            let id = match existing.as_ref().map(advisory_row).transpose()? {
                Some(old) if old.published_at.is_some() => return Err(Error::Conflict("advisories.published".into())),
                Some(old) => {
                    query(
                        "UPDATE advisories SET version = version + 1, draft_ct = $1, draft_sha256 = $2, publish_on = $3, \
                         updated_at = $4 WHERE id = $5",
                    )
                    .bind(&row.draft_ct)
                    .bind(&row.draft_sha256)
                    .bind(&row.publish_on)
                    .bind(row.updated_at.0)
                    .bind(old.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                    old.id
                }
                None => {
                    let public_id = if row.public_id.is_empty() {
                        // The next number of the year among the enterprise's advisories.
                        let year = row.publish_on.get(..4).unwrap_or("0000");
                        let prefix = format!("CONCLAVE-{year}-");
                        let count: i64 = query_scalar(
                            "SELECT COUNT(*) FROM advisories WHERE enterprise_id = $1 AND public_id LIKE $2",
                        )
                        .bind(row.enterprise_id.to_string())
                        .bind(format!("{prefix}%"))
                        .fetch_one(&mut *tx)
                        .await?;
                        format!("{prefix}{:04}", count + 1)
                    } else {
                        row.public_id.clone()
                    };
                    query(&format!(
                        "INSERT INTO advisories ({COLUMNS}) VALUES ($1, $2, $3, $4, 1, $5, $6, $7, NULL, NULL, NULL, NULL, NULL, NULL, $8, $9)"
                    ))
                    .bind(row.id.to_string())
                    .bind(row.enterprise_id.to_string())
                    .bind(row.report_id.to_string())
                    .bind(public_id)
                    .bind(&row.draft_ct)
                    .bind(&row.draft_sha256)
                    .bind(&row.publish_on)
                    .bind(row.created_at.0)
                    .bind(row.updated_at.0)
                    .execute(&mut *tx)
                    .await?;
                    row.id
                }
            };
            append_audit(&mut tx, audit).await?;
            let saved = query(&format!("SELECT {COLUMNS} FROM advisories WHERE id = $1"))
                .bind(id.to_string())
                .fetch_one(&mut *tx)
                .await?;
            advisory_row(&saved)
        })
    }

    async fn advisory_of_report(&self, enterprise: EnterpriseId, report: ReportId) -> Result<Option<AdvisoryRow>> {
        let row = query(&format!("SELECT {COLUMNS} FROM advisories WHERE enterprise_id = $1 AND report_id = $2"))
            .bind(enterprise.to_string())
            .bind(report.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(advisory_row).transpose()
    }

    async fn record_advisory_consent(
        &self,
        enterprise: EnterpriseId,
        advisory: uuid::Uuid,
        version: i64,
        draft_sha256: &[u8],
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<bool> {
        transaction!(self.writer(), |tx| {
            let done = query(
                "UPDATE advisories SET consent_version = $1, consent_sha256 = $2, consent_at = $3 \
                 WHERE id = $4 AND enterprise_id = $5 AND version = $1 AND draft_sha256 = $2 AND published_at IS NULL",
            )
            .bind(version)
            .bind(draft_sha256)
            .bind(at.0)
            .bind(advisory.to_string())
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

    async fn publish_advisory(
        &self,
        enterprise: EnterpriseId,
        publication: &AdvisoryPublication<'_>,
        audit: &AuditDraft,
    ) -> Result<AdvisoryRow> {
        let AdvisoryPublication { advisory, version, published_json, override_reason, disclose } = *publication;
        transaction!(self.writer(), |tx| {
            let current = query(&format!("SELECT {COLUMNS} FROM advisories WHERE id = $1 AND enterprise_id = $2"))
                .bind(advisory.to_string())
                .bind(enterprise.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            let current = current.as_ref().map(advisory_row).transpose()?.ok_or(Error::NotFound)?;
            if current.published_at.is_some() {
                return Err(Error::Conflict("advisories.published".into()));
            }
            if current.version != version || current.report_id != disclose.report_id {
                return Err(Error::Conflict("advisories.version".into()));
            }
            query("UPDATE advisories SET published_at = $1, published_json = $2, override_reason = $3, updated_at = $1 WHERE id = $4")
                .bind(disclose.at.0)
                .bind(published_json)
                .bind(override_reason)
                .bind(advisory.to_string())
                .execute(&mut *tx)
                .await?;
            if !apply_transition(&mut tx, enterprise, disclose).await? {
                return Err(Error::NotFound);
            }
            append_audit(&mut tx, audit).await?;
            let row = query(&format!("SELECT {COLUMNS} FROM advisories WHERE id = $1"))
                .bind(advisory.to_string())
                .fetch_one(&mut *tx)
                .await?;
            advisory_row(&row)
        })
    }

    async fn published_advisories(&self, enterprise: EnterpriseId) -> Result<Vec<AdvisoryRow>> {
        let rows = query(&format!(
            "SELECT {COLUMNS} FROM advisories WHERE enterprise_id = $1 AND published_at IS NOT NULL \
             ORDER BY published_at DESC, public_id DESC"
        ))
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(advisory_row).collect()
    }
}

//! Security incidents (D8): reports, state, timeline.

use crate::{foundation::append_audit, query, query_scalar, text, transaction, Row, SqlStore};
use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::incident::IncidentState;
use domain::{EnterpriseId, Millis, UserId};
use store::decode;
use store::{Error, IncidentEntryRow, IncidentRow, Result};

const COLUMNS: &str = "id, enterprise_id, reporter_user_id, receipt_lookup, receipt_hash, state, category, report_ct, \
     occurred_at, notify_within_hours, created_at, updated_at, closed_at, last_seq";
const ENTRY_COLUMNS: &str = "incident_id, seq, kind, happened_at, learned_at, author_user_id, body_ct";

fn user(row: &Row, column: &str) -> Result<Option<UserId>> {
    row.try_get::<Option<String>, _>(column)?.map(|s| decode::uuid(&s).map(UserId)).transpose()
}

fn incident_row(row: &Row) -> Result<IncidentRow> {
    let state = text(row, "state")?;
    Ok(IncidentRow {
        id: decode::uuid(&text(row, "id")?)?,
        enterprise_id: EnterpriseId(decode::uuid(&text(row, "enterprise_id")?)?),
        reporter: user(row, "reporter_user_id")?,
        receipt_lookup: row.try_get("receipt_lookup")?,
        receipt_hash: row.try_get("receipt_hash")?,
        state: IncidentState::parse(&state).ok_or_else(|| Error::Other(format!("stored incident state {state:?}")))?,
        category: text(row, "category")?,
        report_ct: row.try_get("report_ct")?,
        occurred_at: text(row, "occurred_at")?,
        notify_within_hours: row.try_get("notify_within_hours")?,
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
        closed_at: row.try_get::<Option<i64>, _>("closed_at")?.map(Millis),
        last_seq: row.try_get("last_seq")?,
    })
}

fn entry_row(row: &Row) -> Result<IncidentEntryRow> {
    Ok(IncidentEntryRow {
        incident_id: decode::uuid(&text(row, "incident_id")?)?,
        seq: row.try_get("seq")?,
        kind: text(row, "kind")?,
        happened_at: row.try_get("happened_at")?,
        learned_at: Millis(row.try_get("learned_at")?),
        author: user(row, "author_user_id")?,
        body_ct: row.try_get("body_ct")?,
    })
}

#[async_trait]
impl store::IncidentStore for SqlStore {
    async fn create_incident(&self, i: &IncidentRow, audit: &AuditDraft) -> Result<()> {
        transaction!(self.writer(), |tx| {
            query(&format!(
                "INSERT INTO incidents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)"
            ))
            .bind(i.id.to_string())
            .bind(i.enterprise_id.to_string())
            .bind(i.reporter.map(|u| u.to_string()))
            .bind(&i.receipt_lookup)
            .bind(&i.receipt_hash)
            .bind(i.state.as_str())
            .bind(&i.category)
            .bind(&i.report_ct)
            .bind(&i.occurred_at)
            .bind(i.notify_within_hours)
            .bind(i.created_at.0)
            .bind(i.updated_at.0)
            .bind(i.closed_at.map(|m| m.0))
            .execute(&mut *tx)
            .await?;
            append_audit(&mut tx, audit).await?;
            Ok(())
        })
    }

    async fn get_incident(&self, enterprise: EnterpriseId, id: uuid::Uuid) -> Result<Option<IncidentRow>> {
        let row = query(&format!("SELECT {COLUMNS} FROM incidents WHERE enterprise_id = $1 AND id = $2"))
            .bind(enterprise.to_string())
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(incident_row).transpose()
    }

    async fn incident_by_lookup(&self, lookup: &[u8]) -> Result<Option<IncidentRow>> {
        let row = query(&format!("SELECT {COLUMNS} FROM incidents WHERE receipt_lookup = $1"))
            .bind(lookup)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(incident_row).transpose()
    }

    async fn list_incidents(&self, enterprise: EnterpriseId) -> Result<Vec<IncidentRow>> {
        let rows = query(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE enterprise_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(incident_row).collect()
    }

    async fn append_incident_entry(
        &self,
        enterprise: EnterpriseId,
        entry: &IncidentEntryRow,
        state: Option<(IncidentState, IncidentState)>,
        audit: &AuditDraft,
    ) -> Result<Option<IncidentEntryRow>> {
        transaction!(self.writer(), |tx| {
            let current: Option<String> =
                query_scalar("SELECT state FROM incidents WHERE enterprise_id = $1 AND id = $2")
                    .bind(enterprise.to_string())
                    .bind(entry.incident_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(current) = current else { return Ok(None) };
            if let Some((from, to)) = state {
                if current != from.as_str() {
                    return Err(Error::Conflict("incidents.state".into()));
                }
                let closed_at = (to == IncidentState::Closed).then_some(entry.learned_at.0);
                let moved = query(
                    "UPDATE incidents SET state = $1, closed_at = $2 WHERE id = $3 AND enterprise_id = $4 AND state = $5",
                )
                .bind(to.as_str())
                .bind(closed_at)
                .bind(entry.incident_id.to_string())
                .bind(enterprise.to_string())
                .bind(from.as_str())
                .execute(&mut *tx)
                .await?;
                if moved.rows_affected() != 1 {
                    return Err(Error::Conflict("incidents.state".into()));
                }
            }
            let seq: i64 = query_scalar(
                "UPDATE incidents SET last_seq = last_seq + 1, updated_at = $1 WHERE id = $2 RETURNING last_seq",
            )
            .bind(entry.learned_at.0)
            .bind(entry.incident_id.to_string())
            .fetch_one(&mut *tx)
            .await?;
            query(&format!("INSERT INTO incident_entries ({ENTRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                .bind(entry.incident_id.to_string())
                .bind(seq)
                .bind(&entry.kind)
                .bind(&entry.happened_at)
                .bind(entry.learned_at.0)
                .bind(entry.author.map(|u| u.to_string()))
                .bind(&entry.body_ct)
                .execute(&mut *tx)
                .await?;
            append_audit(&mut tx, audit).await?;
            Ok(Some(IncidentEntryRow { seq, ..entry.clone() }))
        })
    }

    async fn incident_entries(&self, enterprise: EnterpriseId, id: uuid::Uuid) -> Result<Vec<IncidentEntryRow>> {
        let rows = query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM incident_entries WHERE incident_id = $1 \
             AND incident_id IN (SELECT id FROM incidents WHERE id = $1 AND enterprise_id = $2) ORDER BY seq"
        ))
        .bind(id.to_string())
        .bind(enterprise.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(entry_row).collect()
    }

    async fn set_incident_notify_hours(
        &self,
        enterprise: EnterpriseId,
        id: uuid::Uuid,
        hours: Option<i64>,
        audit: &AuditDraft,
    ) -> Result<bool> {
        transaction!(self.writer(), |tx| {
            let done = query("UPDATE incidents SET notify_within_hours = $1 WHERE enterprise_id = $2 AND id = $3")
                .bind(hours)
                .bind(enterprise.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            append_audit(&mut tx, audit).await?;
            Ok(true)
        })
    }
}

//! Durable jobs: claims lock the rows they take (the dialect's `skip_locked`), so two nodes
//! claiming at once take different jobs.

use crate::{query, query_scalar, text, Row, SqlStore};
use async_trait::async_trait;
use domain::Millis;
use store::{JobRow, Result};

const JOB_COLUMNS: &str =
    "job_key, kind, payload, due_at, lease_owner, lease_expires_at, attempts, last_error, created_at, updated_at";

fn job_row(row: &Row) -> Result<JobRow> {
    Ok(JobRow {
        key: text(row, "job_key")?,
        kind: text(row, "kind")?,
        payload: text(row, "payload")?,
        due_at: Millis(row.try_get("due_at")?),
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: row.try_get::<Option<i64>, _>("lease_expires_at")?.map(Millis),
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
    })
}

/// Inserts a new job, with `on_conflict` saying what an existing key gets. Returns rows changed.
/// Other aggregates call it inside their own transaction to schedule work with their change.
pub(crate) async fn insert_job(on: impl crate::Executor, job: &JobRow, on_conflict: &str) -> Result<u64> {
    let done = query(&format!(
        "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, $4, NULL, NULL, 0, NULL, $5, $5) \
         ON CONFLICT (job_key) {on_conflict}"
    ))
    .bind(&job.key)
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(job.due_at.0)
    .bind(job.created_at.0)
    .execute(on)
    .await?;
    Ok(done.rows_affected())
}

#[async_trait]
impl store::JobStore for SqlStore {
    async fn ensure_job(&self, job: &JobRow) -> Result<bool> {
        Ok(insert_job(self.writer(), job, "DO NOTHING").await? == 1)
    }

    async fn put_job(&self, job: &JobRow) -> Result<()> {
        // A leased job is running: its holder decides what comes next, so it is left alone.
        insert_job(
            self.writer(),
            job,
            "DO UPDATE SET kind = excluded.kind, payload = excluded.payload, due_at = excluded.due_at, \
             updated_at = excluded.updated_at WHERE jobs.lease_owner IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn claim_due_jobs(&self, owner: &str, now: Millis, lease_until: Millis, limit: u32) -> Result<Vec<JobRow>> {
        let skip_locked = self.dialect().skip_locked;
        query(&format!(
            "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE job_key IN (SELECT job_key FROM jobs WHERE due_at <= $3 \
                 AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
                 ORDER BY due_at LIMIT $4 {skip_locked}) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(lease_until.0)
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(self.writer())
        .await?
        .iter()
        .map(job_row)
        .collect()
    }

    async fn renew_job_lease(&self, key: &str, owner: &str, lease_until: Millis, at: Millis) -> Result<bool> {
        let done = query(
            "UPDATE jobs SET lease_expires_at = $1, updated_at = $2 \
             WHERE job_key = $3 AND lease_owner = $4 AND lease_expires_at > $2",
        )
        .bind(lease_until.0)
        .bind(at.0)
        .bind(key)
        .bind(owner)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_job(&self, key: &str, owner: &str, next_due: Option<Millis>, at: Millis) -> Result<bool> {
        let done = match next_due {
            None => {
                query("DELETE FROM jobs WHERE job_key = $1 AND lease_owner = $2")
                    .bind(key)
                    .bind(owner)
                    .execute(self.writer())
                    .await?
            }
            Some(due) => {
                query(
                    "UPDATE jobs SET due_at = $1, lease_owner = NULL, lease_expires_at = NULL, attempts = 0, \
                 last_error = NULL, updated_at = $2 WHERE job_key = $3 AND lease_owner = $4",
                )
                .bind(due.0)
                .bind(at.0)
                .bind(key)
                .bind(owner)
                .execute(self.writer())
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    async fn fail_job(&self, key: &str, owner: &str, error: &str, retry_at: Millis, at: Millis) -> Result<bool> {
        let done = query(
            "UPDATE jobs SET due_at = $1, lease_owner = NULL, lease_expires_at = NULL, last_error = $2, \
             updated_at = $3 WHERE job_key = $4 AND lease_owner = $5",
        )
        .bind(retry_at.0)
        .bind(error)
        .bind(at.0)
        .bind(key)
        .bind(owner)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn next_job_due(&self, now: Millis) -> Result<Option<Millis>> {
        let due: Option<i64> =
            query_scalar("SELECT MIN(due_at) FROM jobs WHERE lease_expires_at IS NULL OR lease_expires_at <= $1")
                .bind(now.0)
                .fetch_one(self.reader())
                .await?;
        Ok(due.map(Millis))
    }

    async fn get_job(&self, key: &str) -> Result<Option<JobRow>> {
        query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_key = $1"))
            .bind(key)
            .fetch_optional(self.reader())
            .await?
            .as_ref()
            .map(job_row)
            .transpose()
    }

    async fn list_jobs(&self) -> Result<Vec<JobRow>> {
        query(&format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY due_at, job_key"))
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(job_row)
            .collect()
    }

    async fn cancel_job(&self, key: &str) -> Result<bool> {
        let done = query("DELETE FROM jobs WHERE job_key = $1").bind(key).execute(self.writer()).await?;
        Ok(done.rows_affected() == 1)
    }
}

//! Durable jobs (O2): named work with a due time, run once across every node that shares the
//! database. A node claims due jobs by taking a lease (owner, expiry); while the lease holds no
//! other node sees the job, and when the holder dies the lease runs out and another node takes it.

use async_trait::async_trait;
use domain::Millis;

use crate::Result;

/// A job as stored. `key` is unique (scheduling the same key twice keeps one job); `kind` names
/// the handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    pub key: String,
    pub kind: String,
    /// JSON object the handler reads.
    pub payload: String,
    pub due_at: Millis,
    /// The node holding the lease, while one does.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<Millis>,
    /// Claims so far since the job last succeeded.
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Adds the job unless one with its key exists (then nothing changes). Returns whether it
    /// was added. Periodic jobs are ensured at every start.
    async fn ensure_job(&self, job: &JobRow) -> Result<bool>;
    /// Adds the job or, if its key exists and is not leased, moves it to this due time and payload.
    async fn put_job(&self, job: &JobRow) -> Result<()>;
    /// Leases up to `limit` jobs due at `now` whose lease is free or has run out, to `owner`
    /// until `lease_until`, counting an attempt on each. Two nodes never get the same job while
    /// a lease holds (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the one writer).
    async fn claim_due_jobs(&self, owner: &str, now: Millis, lease_until: Millis, limit: u32) -> Result<Vec<JobRow>>;
    /// The holder, still working, extends its lease to `lease_until` so no other node takes the
    /// job meanwhile. `false` when `owner` no longer holds a live lease (it ran out and another
    /// node may have the job): the holder should then expect its work to be done twice.
    async fn renew_job_lease(&self, key: &str, owner: &str, lease_until: Millis, at: Millis) -> Result<bool>;
    /// The holder's job succeeded: deletes it, or with `next_due` schedules its next run (lease
    /// released, attempts and error cleared). `false` when `owner` no longer holds the lease.
    async fn finish_job(&self, key: &str, owner: &str, next_due: Option<Millis>, at: Millis) -> Result<bool>;
    /// The holder's job failed: records the error and releases it until `retry_at`. `false`
    /// when `owner` no longer holds the lease.
    async fn fail_job(&self, key: &str, owner: &str, error: &str, retry_at: Millis, at: Millis) -> Result<bool>;
    /// The earliest due time among jobs no live lease holds: what an idle node reads (on a
    /// reader) to learn whether claiming is worth a write.
    async fn next_job_due(&self, now: Millis) -> Result<Option<Millis>>;
    async fn get_job(&self, key: &str) -> Result<Option<JobRow>>;
    /// Every job, soonest due first (for operators and tests).
    async fn list_jobs(&self) -> Result<Vec<JobRow>>;
    /// Removes a job that is no longer wanted; `false` if there was none.
    async fn cancel_job(&self, key: &str) -> Result<bool>;
}

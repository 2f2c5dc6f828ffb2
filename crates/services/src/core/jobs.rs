//! The durable job runner (O2). Periodic and timed work is a row in the store's `jobs` table, so
//! it survives restarts and runs once across every node sharing the database: a node leases the
//! jobs that are due, runs them (renewing the lease while they run), and records the next run or
//! the error. A node that dies holding a lease simply lets it run out, and another node takes the
//! job then.

use super::Core;
use crate::Result;
use domain::Millis;
use std::time::Duration;
use store::JobRow;

/// Every kind of job this build knows. The name is stored; never rename a released one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// D7: delete finder contact data of reports closed longer than the retention period.
    PurgeClosedReports,
    /// Remove sealed partial files an upload left behind when the process died. Once per
    /// cluster is right: nodes must share the files directory anyway, or an attachment uploaded
    /// through one node could not be downloaded through another.
    SweepPartialFiles,
    /// M3: a message reached its expiry; its content is destroyed.
    ExpireMessage,
    /// M2: a message's reading window opened or closed; its readers fetch it again.
    MessageWindow,
    /// M5: delete the files of recalled or expired messages (after the rows changed, so a crash
    /// in between is finished by the retry).
    ShredFiles,
    /// M2: a scheduled message is due; it is delivered as if sent now.
    DeliverMessage,
    /// D4: remind the assignee of report clocks about to run out, escalate missed ones.
    RemindDeskClocks,
}

impl JobKind {
    pub const ALL: [JobKind; 7] = [
        JobKind::PurgeClosedReports,
        JobKind::SweepPartialFiles,
        JobKind::ExpireMessage,
        JobKind::MessageWindow,
        JobKind::ShredFiles,
        JobKind::DeliverMessage,
        JobKind::RemindDeskClocks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobKind::PurgeClosedReports => "desk.purge-closed-reports",
            JobKind::SweepPartialFiles => "blobs.sweep-partial-files",
            JobKind::ExpireMessage => "messages.expire",
            JobKind::MessageWindow => "messages.window",
            JobKind::ShredFiles => "messages.shred-files",
            JobKind::DeliverMessage => "messages.deliver",
            JobKind::RemindDeskClocks => "desk.remind-clocks",
        }
    }

    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// How often a periodic job runs; `None` for a job that runs once when due.
    pub fn period(self) -> Option<Duration> {
        match self {
            JobKind::PurgeClosedReports | JobKind::SweepPartialFiles => Some(Duration::from_secs(3600)),
            JobKind::RemindDeskClocks => Some(Duration::from_secs(60)),
            JobKind::ExpireMessage | JobKind::MessageWindow | JobKind::ShredFiles | JobKind::DeliverMessage => None,
        }
    }
}

/// How this node takes part in running jobs.
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// How long a claimed job stays this node's before another may take it. Longer than any
    /// job runs; short enough that a dead node's work resumes soon.
    pub lease: Duration,
    /// How often the node looks for due jobs.
    pub poll: Duration,
    /// Most jobs claimed at a time.
    pub batch: u32,
}

impl Default for JobSettings {
    fn default() -> JobSettings {
        JobSettings { lease: Duration::from_secs(300), poll: Duration::from_millis(500), batch: 16 }
    }
}

fn after(now: Millis, d: Duration) -> Millis {
    Millis(now.0.saturating_add(d.as_millis() as i64))
}

/// Waits between retries of a failing job: 2, 4, 8, ... seconds, at most an hour.
fn retry_delay(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(1, 11) as u32).min(Duration::from_secs(3600))
}

/// What runs a claimed job: the services, which know every domain (the core knows none).
#[async_trait::async_trait]
pub trait RunJob: Send + Sync {
    async fn run_job(&self, kind: JobKind, row: &JobRow) -> Result<()>;
}

impl Core {
    /// Schedules every periodic job that is not scheduled yet, due now. Every node does this at
    /// start; the store keeps one row per job, so the cluster still runs each once.
    pub async fn ensure_periodic_jobs(&self) -> Result<()> {
        let now = Millis::now();
        for kind in JobKind::ALL.into_iter().filter(|k| k.period().is_some()) {
            self.job_store.ensure_job(&job(kind, kind.name(), "{}", now)).await?;
        }
        Ok(())
    }

    /// Claims the jobs due now and runs them one after another; returns how many ran
    /// (successfully or not). Asks a reader first, so an idle node never takes the writer.
    pub async fn run_due_jobs(&self, runner: &dyn RunJob) -> Result<usize> {
        let settings = &self.settings.jobs;
        let now = Millis::now();
        if self.job_store.next_job_due(now).await?.is_none_or(|due| due > now) {
            return Ok(0);
        }
        let claimed =
            self.job_store.claim_due_jobs(&self.node_id, now, after(now, settings.lease), settings.batch).await?;
        let n = claimed.len();
        for row in claimed {
            // One job's bookkeeping failing must not strand the rest of the batch under a lease.
            let key = row.key.clone();
            if let Err(e) = self.run_claimed(runner, row).await {
                tracing::warn!(job = key.as_str(), error = %e, "could not record a job's outcome; its lease will run out");
            }
        }
        Ok(n)
    }

    async fn run_claimed(&self, runner: &dyn RunJob, row: JobRow) -> Result<()> {
        let Some(kind) = JobKind::parse(&row.kind) else {
            // A newer node's job: leave it to a node that knows it, and look again in an hour.
            let retry = after(Millis::now(), Duration::from_secs(3600));
            let error = format!("this node does not know jobs of kind {:?}", row.kind);
            self.job_store.fail_job(&row.key, &self.node_id, &error, retry, Millis::now()).await?;
            return Ok(());
        };
        let outcome = {
            // A job may run longer than expected (a large purge, a slow relay): the holder renews
            // its lease every third of it while it works, so no other node starts the same job.
            let work = runner.run_job(kind, &row);
            tokio::pin!(work);
            let lease = self.settings.jobs.lease;
            let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + lease / 3, lease / 3);
            loop {
                tokio::select! {
                    outcome = &mut work => break outcome,
                    _ = renew.tick() => {
                        let now = Millis::now();
                        match self.job_store.renew_job_lease(&row.key, &self.node_id, after(now, lease), now).await {
                            Ok(true) => {}
                            Ok(false) => tracing::warn!(job = row.key.as_str(), "a job's lease ran out while it ran; another node may run it too"),
                            Err(e) => tracing::warn!(job = row.key.as_str(), error = %e, "could not renew a job's lease"),
                        }
                    }
                }
            }
        };
        let now = Millis::now();
        match outcome {
            Ok(()) => {
                let next = kind.period().map(|p| after(now, p));
                if !self.job_store.finish_job(&row.key, &self.node_id, next, now).await? {
                    tracing::warn!(job = row.key.as_str(), "a job outlived its lease; another node may run it again");
                }
            }
            Err(e) => {
                tracing::warn!(job = row.key.as_str(), attempts = row.attempts, error = %e, "a job failed; it will be retried");
                let retry = after(now, retry_delay(row.attempts));
                self.job_store.fail_job(&row.key, &self.node_id, &e.to_string(), retry, now).await?;
            }
        }
        Ok(())
    }
}

/// A job row due at `due_at`, never claimed yet.
pub(crate) fn job(kind: JobKind, key: &str, payload: &str, due_at: Millis) -> JobRow {
    JobRow {
        key: key.to_owned(),
        kind: kind.name().to_owned(),
        payload: payload.to_owned(),
        due_at,
        lease_owner: None,
        lease_expires_at: None,
        attempts: 0,
        last_error: None,
        created_at: due_at,
        updated_at: due_at,
    }
}

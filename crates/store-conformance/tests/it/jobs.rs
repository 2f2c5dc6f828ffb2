//! The durable job table: scheduling, leases, success and failure, and two nodes sharing one
//! PostgreSQL database.

use domain::Millis;
use std::sync::Arc;
use store::{JobRow, Store};
use store_conformance::conformance;

fn job(key: &str, due_at: Millis) -> JobRow {
    JobRow {
        key: key.to_owned(),
        kind: "test.kind".to_owned(),
        payload: "{}".to_owned(),
        due_at,
        lease_owner: None,
        lease_expires_at: None,
        attempts: 0,
        last_error: None,
        created_at: Millis::now(),
        updated_at: Millis::now(),
    }
}

fn at(ms: i64) -> Millis {
    Millis(1_000_000 + ms)
}

conformance!(ensuring_a_job_twice_keeps_one, |store| {
    assert!(store.ensure_job(&job("a", at(0))).await.unwrap());
    assert!(!store.ensure_job(&job("a", at(500))).await.unwrap(), "the second ensure changes nothing");
    let jobs = store.list_jobs().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].due_at, at(0));
});

conformance!(only_due_jobs_are_claimed_and_a_lease_hides_them, |store| {
    assert_eq!(store.next_job_due(at(0)).await.unwrap(), None, "no jobs");
    store.ensure_job(&job("due", at(0))).await.unwrap();
    store.ensure_job(&job("later", at(10_000))).await.unwrap();
    assert_eq!(store.next_job_due(at(5)).await.unwrap(), Some(at(0)));
    let claimed = store.claim_due_jobs("node-a", at(5), at(1_000), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.key.as_str()).collect::<Vec<_>>(), ["due"]);
    assert_eq!((claimed[0].attempts, claimed[0].lease_owner.as_deref()), (1, Some("node-a")));
    assert!(store.claim_due_jobs("node-b", at(10), at(2_000), 10).await.unwrap().is_empty(), "leased");
    assert_eq!(store.next_job_due(at(10)).await.unwrap(), Some(at(10_000)), "a live lease hides its job");
    assert_eq!(store.next_job_due(at(1_000)).await.unwrap(), Some(at(0)), "a lease that ran out does not");
});

conformance!(finishing_deletes_or_reschedules_and_needs_the_lease, |store| {
    store.ensure_job(&job("once", at(0))).await.unwrap();
    store.ensure_job(&job("periodic", at(0))).await.unwrap();
    store.claim_due_jobs("node-a", at(1), at(1_000), 10).await.unwrap();
    assert!(!store.finish_job("once", "node-b", None, at(2)).await.unwrap(), "not node-b's lease");
    assert!(store.finish_job("once", "node-a", None, at(2)).await.unwrap());
    assert!(store.get_job("once").await.unwrap().is_none());
    assert!(store.finish_job("periodic", "node-a", Some(at(3_600)), at(2)).await.unwrap());
    let next = store.get_job("periodic").await.unwrap().unwrap();
    assert_eq!((next.due_at, next.lease_owner, next.attempts), (at(3_600), None, 0));
});

conformance!(a_failure_records_the_error_and_retries_later, |store| {
    store.ensure_job(&job("flaky", at(0))).await.unwrap();
    store.claim_due_jobs("node-a", at(1), at(1_000), 10).await.unwrap();
    assert!(store.fail_job("flaky", "node-a", "the relay refused", at(100), at(2)).await.unwrap());
    let failed = store.get_job("flaky").await.unwrap().unwrap();
    assert_eq!((failed.last_error.as_deref(), failed.due_at, failed.attempts), (Some("the relay refused"), at(100), 1));
    assert!(store.claim_due_jobs("node-a", at(50), at(1_000), 10).await.unwrap().is_empty(), "not yet");
    let again = store.claim_due_jobs("node-b", at(100), at(1_000), 10).await.unwrap();
    assert_eq!(again[0].attempts, 2, "attempts count up until a success");
});

conformance!(a_dead_holders_job_is_taken_after_its_lease_runs_out, |store| {
    store.ensure_job(&job("orphan", at(0))).await.unwrap();
    // node-a claims and dies: it never finishes.
    store.claim_due_jobs("node-a", at(1), at(500), 10).await.unwrap();
    assert!(store.claim_due_jobs("node-b", at(499), at(2_000), 10).await.unwrap().is_empty());
    let taken = store.claim_due_jobs("node-b", at(500), at(2_000), 10).await.unwrap();
    assert_eq!((taken.len(), taken[0].lease_owner.as_deref(), taken[0].attempts), (1, Some("node-b"), 2));
    assert!(!store.finish_job("orphan", "node-a", None, at(600)).await.unwrap(), "the old holder lost it");
    assert!(store.finish_job("orphan", "node-b", None, at(600)).await.unwrap());
});

conformance!(a_holder_that_renews_keeps_its_job, |store| {
    store.ensure_job(&job("long", at(0))).await.unwrap();
    store.claim_due_jobs("node-a", at(1), at(500), 10).await.unwrap();
    assert!(store.renew_job_lease("long", "node-a", at(900), at(400)).await.unwrap());
    assert!(!store.renew_job_lease("long", "node-b", at(2_000), at(400)).await.unwrap(), "not the holder");
    assert!(store.claim_due_jobs("node-b", at(600), at(2_000), 10).await.unwrap().is_empty(), "renewed past 500");
    assert_eq!(store.get_job("long").await.unwrap().unwrap().lease_expires_at, Some(at(900)));
    // A lease that has run out cannot be renewed: another node may hold the job by now.
    assert!(!store.renew_job_lease("long", "node-a", at(2_000), at(950)).await.unwrap());
    assert_eq!(store.claim_due_jobs("node-b", at(950), at(2_000), 10).await.unwrap().len(), 1);
});

conformance!(putting_a_job_moves_it_unless_it_is_running, |store| {
    store.put_job(&job("timer", at(100))).await.unwrap();
    store.put_job(&job("timer", at(50))).await.unwrap();
    assert_eq!(store.get_job("timer").await.unwrap().unwrap().due_at, at(50));
    store.claim_due_jobs("node-a", at(60), at(1_000), 10).await.unwrap();
    store.put_job(&job("timer", at(900))).await.unwrap();
    assert_eq!(store.get_job("timer").await.unwrap().unwrap().lease_owner.as_deref(), Some("node-a"));
    assert!(store.cancel_job("timer").await.unwrap());
    assert!(!store.cancel_job("timer").await.unwrap());
});

async fn claim_race(a: Arc<dyn Store>, b: Arc<dyn Store>, jobs: usize) -> (Vec<String>, Vec<String>) {
    let now = Millis::now();
    for i in 0..jobs {
        a.ensure_job(&job(&format!("race-{i}"), Millis(now.0 - 1))).await.unwrap();
    }
    let lease = Millis(now.0 + 60_000);
    let (from_a, from_b) = tokio::join!(
        async {
            let mut got = Vec::new();
            for _ in 0..jobs {
                got.extend(a.claim_due_jobs("node-a", Millis::now(), lease, 1).await.unwrap());
            }
            got
        },
        async {
            let mut got = Vec::new();
            for _ in 0..jobs {
                got.extend(b.claim_due_jobs("node-b", Millis::now(), lease, 1).await.unwrap());
            }
            got
        }
    );
    (from_a.into_iter().map(|j| j.key).collect(), from_b.into_iter().map(|j| j.key).collect())
}

/// Two nodes on one PostgreSQL database claim the same due jobs at once: each job goes to exactly
/// one of them.
#[tokio::test]
async fn two_postgres_nodes_claiming_at_once_never_share_a_job() {
    let Some((a, b, _backing)) = store_conformance::postgres_pair().await else { return };
    let (from_a, from_b) = claim_race(a, b, 40).await;
    let mut all: Vec<String> = from_a.iter().chain(&from_b).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), from_a.len() + from_b.len(), "a job was claimed twice: {from_a:?} / {from_b:?}");
    assert_eq!(all.len(), 40, "every due job was claimed");
}

/// A node on one PostgreSQL connection dies holding the lease; the other node takes the job once
/// the lease runs out, and not before.
#[tokio::test]
async fn a_job_on_postgres_moves_to_the_other_node_when_the_holder_dies() {
    let Some((a, b, _backing)) = store_conformance::postgres_pair().await else { return };
    a.ensure_job(&job("purge", at(0))).await.unwrap();
    assert_eq!(a.claim_due_jobs("node-a", at(1), at(300), 10).await.unwrap().len(), 1);
    drop(a);
    assert!(b.claim_due_jobs("node-b", at(299), at(900), 10).await.unwrap().is_empty());
    let taken = b.claim_due_jobs("node-b", at(300), at(900), 10).await.unwrap();
    assert_eq!((taken.len(), taken[0].attempts), (1, 2));
}

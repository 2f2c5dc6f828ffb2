//! Crash safety (#14): a server killed with SIGKILL under messaging and upload load loses nothing
//! it acknowledged, stores nothing twice when clients repeat what was cut off, serves no broken
//! file, and keeps its audit chain intact, on SQLite and on PostgreSQL. The same run is the
//! `crash` benchmark of `conclave-bench`.

use bench::crash::{run, CrashRun};
use std::path::Path;
use std::time::Duration;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_conclave"))
}

fn crash_run(database_url: Option<String>) -> CrashRun {
    CrashRun { database_url, senders: 6, after_restart: 5, kill_after: Duration::from_millis(1500) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9_mid_load() {
    let report = run(binary(), &crash_run(None)).await;
    assert!(report.acknowledged_before_kill > 0, "the load ran before the kill: {report:?}");
    eprintln!("{}", report.to_json());
    assert!(report.holds(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_kill_9_mid_load() {
    let Some((schema, url, pool)) = crate::postgres_schema().await else { return };
    let report = run(binary(), &crash_run(Some(url))).await;
    crate::drop_schema(&pool, &schema).await;
    assert!(report.acknowledged_before_kill > 0, "the load ran before the kill: {report:?}");
    eprintln!("{}", report.to_json());
    assert!(report.holds(), "{report:?}");
}

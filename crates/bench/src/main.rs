//! `conclave-bench`: measurements as JSON lines on stdout, each beside a baseline measured in the
//! same run, so figures compare as ratios on a noisy shared machine.
//!
//! Scenarios (all by default, or name some):
//! - `crypto`: argon2id per hash (default cost) vs SHA-256 of the same input; sealing a 1 KiB field
//!   with `DataKey` (fresh nonce, AAD, framing) vs raw AES-256-GCM with a fixed nonce.
//! - `startup`: `conclave serve` on a fresh data directory until `/healthz` answers 200, vs one
//!   `/healthz` request to a server already running (the curl and TLS handshake floor), and the
//!   binary's size.
//!
//! - `load`: see `load.rs`; messaging throughput, latency, losses and memory against a real server.
//! - `search`: see `search.rs`; search latency over encrypted history on SQLite and PostgreSQL, and
//!   what the word index costs a send. Not in the default set: filling a million messages takes
//!   minutes.
//!
//! - `soak`: see `load.rs`; the server's resident memory before, during and a minute after 50
//!   sign-ins at once. Not in the default set: it idles for a minute.
//! - `crash`: see `bench::crash`; messaging and uploads against a real server, SIGKILL mid-run,
//!   restart on the same data: acknowledged vs present, duplicates, whole files, the audit chain,
//!   on SQLite and PostgreSQL (`--postgres`, default the local server). Not in the default set.
//! - `control`: see `control.rs`; recall of 10,000 forwarded copies across 100 conversations, and
//!   what evaluating message policies costs a send and a history read. Not in the default set.
//!
//! Usage: `cargo run --release -p bench -- [crypto] [startup] [load] [search] [control] [soak] [crash] [--conclave PATH] [--messages N]
//! [--idle N] [--search-messages N] [--search-postgres-only] [--postgres URL]`.

mod control;
mod load;
mod search;

use bench::crash::{CrashReport, CrashRun};

use serde_json::json;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut conclave = default_conclave_path();
    let mut scenarios = Vec::new();
    let mut messages = 2000usize;
    let mut idle = 10_000usize;
    let mut search_messages = 100_000usize;
    let mut postgres = None;
    let mut search_sqlite = true;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--conclave" => conclave = PathBuf::from(it.next().expect("--conclave needs a path")),
            "--messages" => messages = it.next().and_then(|v| v.parse().ok()).expect("--messages needs a number"),
            "--idle" => idle = it.next().and_then(|v| v.parse().ok()).expect("--idle needs a number"),
            "--search-messages" => {
                search_messages = it.next().and_then(|v| v.parse().ok()).expect("--search-messages needs a number")
            }
            "--postgres" => postgres = Some(it.next().expect("--postgres needs a URL").clone()),
            // A search run on PostgreSQL alone (a million messages take a while per backend).
            "--search-postgres-only" => search_sqlite = false,
            "crypto" | "startup" | "load" | "search" | "control" | "soak" | "crash" => scenarios.push(arg.clone()),
            "-h" | "--help" => {
                println!(
                    "usage: conclave-bench [crypto] [startup] [load] [search] [control] [soak] [crash] [--conclave PATH] [--messages N] [--idle N] \
                     [--search-messages N] [--search-postgres-only] [--postgres URL]"
                );
                return;
            }
            other => {
                eprintln!("error: unknown argument {other:?}; try --help");
                std::process::exit(2);
            }
        }
    }
    if !search_sqlite && postgres.is_none() {
        eprintln!("error: --search-postgres-only needs --postgres URL");
        std::process::exit(2);
    }
    if scenarios.is_empty() {
        scenarios = vec!["crypto".into(), "startup".into(), "load".into()];
    }
    for s in scenarios {
        match s.as_str() {
            "crypto" => crypto_bench(),
            "startup" => startup_bench(&conclave),
            "load" => load::run(&conclave, messages, idle),
            "search" => search::run(search_messages, postgres.clone(), search_sqlite),
            "control" => control::run(),
            "soak" => load::soak(&conclave),
            "crash" => crash_bench(&conclave, postgres.clone()),
            _ => unreachable!(),
        }
    }
}

fn default_conclave_path() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.with_file_name("conclave")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

/// Median time per call in microseconds over `rounds` rounds of `n` calls.
fn time_per_call(rounds: usize, n: usize, mut f: impl FnMut()) -> f64 {
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    median(samples)
}

fn crypto_bench() {
    let cost = crypto::password::Cost::default();
    let argon2_us = time_per_call(5, 3, || {
        std::hint::black_box(crypto::password::hash("correct horse battery staple", cost).unwrap());
    });
    let sha_us = time_per_call(5, 10_000, || {
        std::hint::black_box(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"correct horse battery staple"));
    });
    println!(
        "{}",
        json!({
            "bench": "argon2id_hash",
            "params": { "memory_kib": cost.memory_kib, "iterations": cost.iterations, "parallelism": cost.parallelism },
            "us_per_hash": argon2_us,
            "baseline": "sha256_same_input",
            "baseline_us": sha_us,
            "ratio": argon2_us / sha_us,
        })
    );

    let key = crypto::DataKey::generate();
    let field = vec![0x5au8; 1024];
    let aad = crypto::Aad { table: "users", row: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", column: "email" };
    let seal_us = time_per_call(7, 20_000, || {
        std::hint::black_box(key.seal(&field, aad));
    });
    let sealed = key.seal(&field, aad);
    let open_us = time_per_call(7, 20_000, || {
        std::hint::black_box(key.open(&sealed, aad).unwrap());
    });
    let raw_key = aws_lc_rs::aead::LessSafeKey::new(
        aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &[7u8; 32]).unwrap(),
    );
    let raw_us = time_per_call(7, 20_000, || {
        let mut buf = field.clone();
        let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key([1u8; 12]);
        raw_key.seal_in_place_append_tag(nonce, aws_lc_rs::aead::Aad::from(b"users"), &mut buf).unwrap();
        std::hint::black_box(buf);
    });
    println!(
        "{}",
        json!({
            "bench": "envelope_seal_1kib",
            "seal_us": seal_us,
            "open_us": open_us,
            "baseline": "raw_aes256gcm_seal_1kib",
            "baseline_us": raw_us,
            "seal_ratio": seal_us / raw_us,
        })
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn curl_healthz(port: u16) -> bool {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("https://127.0.0.1:{port}/healthz"))
        .output()
        .expect("curl is installed");
    out.stdout == b"200"
}

/// Spawns `serve` on a fresh or given data directory and returns (ms until /healthz is 200, child).
fn cold_start(conclave: &Path, data: &Path) -> (f64, std::process::Child, u16) {
    let port = free_port();
    let started = Instant::now();
    let child = Command::new(conclave)
        .args(["--data-dir"])
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("CONCLAVE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn conclave");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "conclave did not listen");
        std::thread::sleep(Duration::from_millis(1));
    }
    while !curl_healthz(port) {
        assert!(started.elapsed() < Duration::from_secs(30), "conclave did not answer");
    }
    (started.elapsed().as_secs_f64() * 1e3, child, port)
}

fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
}

fn startup_bench(conclave: &Path) {
    assert!(conclave.exists(), "no conclave binary at {}; build it or pass --conclave", conclave.display());
    let mut first = Vec::new();
    let mut warm = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (ms, child, _) = cold_start(conclave, dir.path());
        first.push(ms);
        stop(child);
        // Second start: key, certificate and database exist.
        let (ms, child, port) = cold_start(conclave, dir.path());
        warm.push(ms);
        let t = Instant::now();
        assert!(curl_healthz(port));
        baseline.push(t.elapsed().as_secs_f64() * 1e3);
        stop(child);
    }
    let size = std::fs::metadata(conclave).map(|m| m.len()).unwrap_or(0);
    let (first, warm, baseline) = (median(first), median(warm), median(baseline));
    println!(
        "{}",
        json!({
            "bench": "cold_start_to_healthz",
            "first_start_ms": first,
            "restart_ms": warm,
            "baseline": "one_healthz_request_to_running_server",
            "baseline_ms": baseline,
            "first_start_ratio": first / baseline,
            "binary_bytes": size,
        })
    );
}

/// `crash`: the kill -9 run on each backend (see `bench::crash`), five times each, every report
/// a JSON line.
fn crash_bench(conclave: &Path, postgres: Option<String>) {
    use sqlx::Connection as _;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let url = postgres.unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        for backend in ["sqlite", "postgres"] {
            for round in 0..5u64 {
                let mut schema = None;
                if backend == "postgres" {
                    let name = format!("bench_crash_{}", uuid::Uuid::new_v4().simple());
                    let Ok(mut c) = sqlx::PgConnection::connect(&url).await else {
                        eprintln!("crash: PostgreSQL at {url} is not reachable; measured SQLite only");
                        return;
                    };
                    sqlx::raw_sql(&format!("CREATE SCHEMA {name}")).execute(&mut c).await.unwrap();
                    schema = Some(name);
                }
                let database_url = schema.as_ref().map(|s| {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    format!("{url}{sep}options=-c%20search_path%3D{s}")
                });
                let run = CrashRun {
                    database_url,
                    senders: 8,
                    after_restart: 20,
                    // Kill at a different point of the load each round.
                    kill_after: Duration::from_millis(700 + round * 350),
                };
                let report: CrashReport = bench::crash::run(conclave, &run).await;
                let mut line = report.to_json();
                line["bench"] = json!("crash_kill_9");
                line["backend"] = json!(backend);
                line["round"] = json!(round);
                line["holds"] = json!(report.holds());
                println!("{line}");
                if let Some(s) = schema {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {s} CASCADE")).execute(&mut c).await;
                    }
                }
            }
        }
    });
}

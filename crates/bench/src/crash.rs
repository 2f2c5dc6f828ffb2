//! Crash safety, proven from outside: messaging load against a real `conclave serve`, a SIGKILL
//! in the middle of it, a restart on the same data, and a count of what survived.
//!
//! Senders post text messages, each with an id of their own choosing (so a send whose answer was
//! lost can be repeated without making a copy), and an uploader sends files. A message the server
//! acknowledged with 2xx must be in history after the restart; a send cut off by the kill is
//! repeated with its id once the server is back and must then be there exactly once. Afterwards
//! the audit chain must verify, every file in history must download whole, and the clients carry
//! on where they stopped.

use crate::client::{people, start_server_with, Http, ServerOptions, Target, Value};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct CrashRun {
    /// A PostgreSQL URL (with its schema) instead of the embedded SQLite database.
    pub database_url: Option<String>,
    /// Concurrent text senders.
    pub senders: usize,
    /// Messages each sender sends after the restart, to show it carries on.
    pub after_restart: usize,
    /// How long the load runs before the kill.
    pub kill_after: Duration,
}

/// What survived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashReport {
    /// Sends answered 2xx before the kill.
    pub acknowledged_before_kill: usize,
    /// Sends cut off by the kill (no answer), repeated with the same id afterwards.
    pub in_doubt: usize,
    /// Of those repeats, how many the server had already stored (answered 200, not 201).
    pub in_doubt_already_stored: usize,
    /// Sends answered 2xx in all (before, repeated, after).
    pub acknowledged: usize,
    /// Acknowledged messages found in history after the restart.
    pub acknowledged_present: usize,
    /// Messages in history more than once (by id or by text).
    pub duplicated: usize,
    /// Files whose upload was acknowledged, and those of them that download whole afterwards.
    pub files_acknowledged: usize,
    pub files_whole: usize,
    /// Files in history that do not download whole (acknowledged or not): must be none.
    pub files_broken: usize,
    /// Unfinished uploads left on disk by the kill (`*.partial`), swept an hour later by the
    /// server's own job; never visible in history.
    pub partial_files_on_disk: usize,
    /// `conclave audit verify` succeeded after the restart.
    pub audit_chain_intact: bool,
    /// Time from the kill until the restarted server answered.
    pub restart_ms: u64,
    /// The baseline: time from spawning the first server until it answered.
    pub first_start_ms: u64,
}

impl CrashReport {
    /// Nothing acknowledged lost, nothing twice, no broken file, the chain intact.
    pub fn holds(&self) -> bool {
        self.acknowledged_present == self.acknowledged
            && self.duplicated == 0
            && self.files_whole == self.files_acknowledged
            && self.files_broken == 0
            && self.audit_chain_intact
    }

    pub fn to_json(&self) -> Value {
        json!({
            "acknowledged_before_kill": self.acknowledged_before_kill,
            "in_doubt": self.in_doubt,
            "in_doubt_already_stored": self.in_doubt_already_stored,
            "acknowledged": self.acknowledged,
            "acknowledged_present": self.acknowledged_present,
            "duplicated": self.duplicated,
            "files_acknowledged": self.files_acknowledged,
            "files_whole": self.files_whole,
            "files_broken": self.files_broken,
            "partial_files_on_disk": self.partial_files_on_disk,
            "audit_chain_intact": self.audit_chain_intact,
            "restart_ms": self.restart_ms,
            "baseline": "first_start_ms",
            "baseline_ms": self.first_start_ms,
        })
    }
}

/// One send: its id and text, and how it ended.
#[derive(Clone, Debug)]
struct Sent {
    id: String,
    body: String,
}

impl Sent {
    /// Sender `name`'s next message, with a fresh id.
    fn next(name: usize, i: &mut usize) -> Sent {
        *i += 1;
        Sent { id: uuid::Uuid::new_v4().to_string(), body: format!("crash-test {name}-{}", *i - 1) }
    }

    fn request(&self) -> Value {
        json!({ "id": self.id, "body": self.body })
    }
}

#[derive(Default)]
struct SenderLog {
    acknowledged_before_kill: usize,
    acknowledged: Vec<Sent>,
    in_doubt: usize,
    in_doubt_already_stored: usize,
}

/// Waits until the server has been restarted (`back`) and answers, and opens a connection.
async fn reconnect(target: &Target, back: &AtomicBool) -> Http {
    let started = Instant::now();
    loop {
        if !back.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        if let Ok(mut http) = Http::try_open(target).await {
            if matches!(http.try_call("GET", "/readyz", None, None).await, Ok((200, _))) {
                return http;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not come back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends until the server dies, then repeats what was cut off, then sends `after` more.
async fn sender(
    target: Target,
    token: String,
    conversation: String,
    name: usize,
    killed: Arc<AtomicBool>,
    back: Arc<AtomicBool>,
    after: usize,
) -> SenderLog {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let mut log = SenderLog::default();
    let mut http = Http::open(&target).await;
    let mut i = 0usize;
    // Before the kill: send until a send gets no answer.
    let cut_off = loop {
        let sent = Sent::next(name, &mut i);
        match http.try_call("POST", &path, Some(&token), Some(&sent.request())).await {
            Ok((201, _)) => {
                log.acknowledged_before_kill += 1;
                log.acknowledged.push(sent);
            }
            Ok((status, body)) => panic!("send {} answered {status}: {body}", sent.body),
            Err(_) => break Some(sent),
        }
        if killed.load(Ordering::SeqCst) {
            // The kill came between sends: nothing is in doubt.
            break None;
        }
    };
    let mut http = reconnect(&target, &back).await;
    if let Some(cut_off) = cut_off {
        log.in_doubt += 1;
        let (status, body) = http.call("POST", &path, Some(&token), Some(&cut_off.request())).await;
        assert!(status == 200 || status == 201, "repeating {} answered {status}: {body}", cut_off.body);
        log.in_doubt_already_stored += usize::from(status == 200);
        log.acknowledged.push(cut_off);
    }
    for _ in 0..after {
        let sent = Sent::next(name, &mut i);
        let (status, body) = http.call("POST", &path, Some(&token), Some(&sent.request())).await;
        assert_eq!(status, 201, "send after the restart: {body}");
        log.acknowledged.push(sent);
    }
    log
}

/// Uploads files (1 MiB and more, so a kill is likely to fall inside one) until the server dies.
async fn uploader(target: Target, token: String, conversation: String, killed: Arc<AtomicBool>) -> Vec<String> {
    let mut acknowledged = Vec::new();
    let mut http = Http::open(&target).await;
    for i in 0.. {
        if killed.load(Ordering::SeqCst) {
            break;
        }
        let size = (1 << 20) + i * 4099;
        let bytes: Vec<u8> = (0..size).map(|b| (b * 31 + i) as u8).collect();
        let path = format!("/api/v1/conversations/{conversation}/attachments?name=crash-{i}.bin");
        match http.try_request("POST", &path, Some(&token), "application/octet-stream", &bytes).await {
            Ok((201, view)) => acknowledged.push(view["attachment"]["id"].as_str().unwrap().to_owned()),
            Ok((status, body)) => panic!("upload answered {status}: {body}"),
            Err(_) => break,
        }
    }
    acknowledged
}

/// Every message of a conversation, oldest first.
async fn history(http: &mut Http, token: &str, conversation: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = 0i64;
    loop {
        let path = format!("/api/v1/conversations/{conversation}/messages?after={after}&limit=200");
        let (status, page) = http.call("GET", &path, Some(token), None).await;
        assert_eq!(status, 200, "history: {page}");
        let page = page.as_array().cloned().unwrap_or_default();
        let Some(last) = page.last() else { return all };
        after = last["seq"].as_i64().unwrap();
        all.extend(page);
    }
}

/// Downloads a file with curl and returns (status, bytes received).
fn download(port: u16, token: &str, conversation: &str, attachment: &str) -> (u16, i64) {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("https://127.0.0.1:{port}/api/v1/conversations/{conversation}/attachments/{attachment}"))
        .output()
        .expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut parts = text.split_whitespace();
    let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let size = parts.next().and_then(|s| s.parse().ok()).unwrap_or(-1);
    (status, size)
}

fn partial_files(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            n += partial_files(&path);
        } else if path.to_string_lossy().ends_with(".partial") {
            n += 1;
        }
    }
    n
}

/// Runs the load, kills the server, restarts it and counts.
pub async fn run(conclave: &Path, run: &CrashRun) -> CrashReport {
    let options = ServerOptions { plaintext: false, database_url: run.database_url.clone() };
    let spawned = Instant::now();
    let mut server = start_server_with(conclave, options).await;
    let first_start_ms = spawned.elapsed().as_millis() as u64;
    let crowd = people(&server, 2).await;
    let mut http = Http::open(&server.target).await;
    let (status, direct) = http
        .call("POST", "/api/v1/conversations/direct", Some(&crowd.tokens[0]), Some(&json!({ "user_id": crowd.ids[1] })))
        .await;
    assert_eq!(status, 200, "open a conversation: {direct}");
    let conversation = direct["id"].as_str().unwrap().to_owned();
    drop(http);

    let killed = Arc::new(AtomicBool::new(false));
    let back = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for s in 0..run.senders {
        let token = crowd.tokens[s % 2].clone();
        senders.push(tokio::spawn(sender(
            server.target.clone(),
            token,
            conversation.clone(),
            s,
            killed.clone(),
            back.clone(),
            run.after_restart,
        )));
    }
    let uploads =
        tokio::spawn(uploader(server.target.clone(), crowd.tokens[0].clone(), conversation.clone(), killed.clone()));
    tokio::time::sleep(run.kill_after).await;
    killed.store(true, Ordering::SeqCst);
    server.kill();
    let down = Instant::now();
    server.restart().await;
    let restart_ms = down.elapsed().as_millis() as u64;
    back.store(true, Ordering::SeqCst);

    let mut acknowledged = Vec::new();
    let (mut before_kill, mut in_doubt, mut already) = (0, 0, 0);
    for s in senders {
        let log = s.await.expect("a sender");
        before_kill += log.acknowledged_before_kill;
        in_doubt += log.in_doubt;
        already += log.in_doubt_already_stored;
        acknowledged.extend(log.acknowledged);
    }
    let files = uploads.await.expect("the uploader");

    let mut http = Http::open(&server.target).await;
    let stored = history(&mut http, &crowd.tokens[1], &conversation).await;
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut by_body: HashMap<String, usize> = HashMap::new();
    for m in &stored {
        *by_id.entry(m["id"].as_str().unwrap_or("").to_owned()).or_default() += 1;
        if let Some(body) = m["body"].as_str().filter(|b| b.starts_with("crash-test ")) {
            *by_body.entry(body.to_owned()).or_default() += 1;
        }
    }
    let duplicated = by_id.values().filter(|n| **n > 1).count() + by_body.values().filter(|n| **n > 1).count();
    let present = acknowledged.iter().filter(|s| by_id.contains_key(&s.id) && by_body.contains_key(&s.body)).count();

    let acknowledged_files: HashSet<&str> = files.iter().map(String::as_str).collect();
    let mut files_whole = 0;
    let mut files_broken = 0;
    for m in stored.iter().filter(|m| m["attachment"].is_object()) {
        let id = m["attachment"]["id"].as_str().unwrap();
        let size = m["attachment"]["size"].as_i64().unwrap();
        let (status, got) = download(server.target.port, &crowd.tokens[1], &conversation, id);
        let whole = status == 200 && got == size;
        files_broken += usize::from(!whole);
        files_whole += usize::from(whole && acknowledged_files.contains(id));
    }
    // An acknowledged file missing from history is counted by `files_whole` falling short.
    let audit = server.succeeds(&["audit", "verify"]);
    CrashReport {
        acknowledged_before_kill: before_kill,
        in_doubt,
        in_doubt_already_stored: already,
        acknowledged: acknowledged.len(),
        acknowledged_present: present,
        duplicated,
        files_acknowledged: files.len(),
        files_whole,
        files_broken,
        partial_files_on_disk: partial_files(server.dir.path()),
        audit_chain_intact: audit,
        restart_ms,
        first_start_ms,
    }
}

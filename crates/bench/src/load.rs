//! `load`: drives a real `conclave serve` (SQLite, encryption on) over HTTPS and WebSocket as
//! clients do, and reports throughput, send-to-deliver latency, losses and server memory.
//!
//! Scenarios: (a) 1 sender, 1 receiver, sequential; (b) 1 sender with 16 requests in flight;
//! (c) 4 in flight into one group with 20 receivers; (d) idle WebSockets, server RSS per
//! connection. Baseline in the same run: the round trip of `GET /healthz` on a kept-alive
//! connection (the floor any API call pays).

use futures_util::StreamExt as _;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const PASSWORD: &str = "Quartz-Lantern-Harbor-41!";

/// Accepts the server's self-signed certificate: the bench talks to its own local server only.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[derive(Clone)]
struct Target {
    port: u16,
    tls: tokio_rustls::TlsConnector,
}

impl Target {
    async fn connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect");
        tcp.set_nodelay(true).unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        self.tls.connect(name, tcp).await.expect("TLS handshake")
    }
}

/// A kept-alive HTTP/1.1 connection: just enough client for JSON calls.
struct Http {
    stream: BufReader<TlsStream<TcpStream>>,
}

impl Http {
    async fn open(target: &Target) -> Http {
        Http { stream: BufReader::new(target.connect().await) }
    }

    async fn call(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).await.expect("write");
        let mut status_line = String::new();
        self.stream.read_line(&mut status_line).await.expect("status");
        let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut buf = vec![0u8; length];
        self.stream.read_exact(&mut buf).await.expect("body");
        (status, serde_json::from_slice(&buf).unwrap_or(Value::Null))
    }
}

type Socket = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;

async fn websocket(target: &Target, token: &str) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("wss://localhost:{}/api/v1/ws", target.port).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::client_async(request, target.connect().await).await.expect("websocket");
    let ready = socket.next().await.expect("ready").expect("ready frame");
    assert!(ready.to_text().unwrap_or("").contains("ready"));
    socket
}

struct Server {
    child: Child,
    dir: tempfile::TempDir,
    conclave: PathBuf,
    target: Target,
    plaintext: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn cli(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write as _;
        let mut child = Command::new(&self.conclave)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env("CONCLAVE_LOG", "warn")
            .env("CONCLAVE_BENCHMARK_PLAINTEXT_AT_REST", self.plaintext.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "conclave {args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Starts a server in a fresh data directory. `plaintext` turns on the benchmark-only switch that
/// stores enterprise data unencrypted (for scenario e); the admin commands then need it too.
async fn start_server(conclave: &Path, plaintext: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bench.toml");
    std::fs::write(&config, "sign_in_per_minute = 100000\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(conclave)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("CONCLAVE_LOG", "warn")
        .env("CONCLAVE_BENCHMARK_PLAINTEXT_AT_REST", plaintext.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn conclave");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let target = Target { port, tls: tokio_rustls::TlsConnector::from(Arc::new(config)) };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Listening comes before the store is open; wait until the server answers.
    while Http::open(&target).await.call("GET", "/readyz", None, None).await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Server { child, dir, conclave: conclave.to_owned(), target, plaintext }
}

struct People {
    tokens: Vec<String>,
    ids: Vec<String>,
}

async fn people(server: &Server, n: usize) -> People {
    let enterprise = server.cli(&["admin", "create-enterprise", "--name", "Load Test"], "");
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    let mut http = Http::open(&server.target).await;
    for i in 0..n {
        let email = format!("user{i}@load.example");
        let id = server.cli(
            &["admin", "create-user", "--enterprise", &enterprise, "--email", &email, "--name", &format!("User {i}")],
            &format!("{PASSWORD}\n"),
        );
        let (status, body) =
            http.call("POST", "/api/v1/sessions", None, Some(&json!({ "email": email, "password": PASSWORD }))).await;
        assert_eq!(status, 201, "sign-in: {body}");
        tokens.push(body["token"].as_str().unwrap().to_owned());
        ids.push(id);
    }
    People { tokens, ids }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One messaging scenario: who sends where, who listens, how much and how concurrently.
struct Scenario<'a> {
    name: &'a str,
    sender: &'a str,
    conversation: &'a str,
    receivers: Vec<String>,
    total: usize,
    in_flight: usize,
}

/// Sends the scenario's messages with `in_flight` concurrent senders and measures what the
/// receivers get over their WebSockets.
/// Returns the messages sent per second.
async fn run_messages(server: &Server, scenario: Scenario<'_>, baseline_ms: f64) -> f64 {
    let Scenario { name, sender, conversation, receivers, total, in_flight } = scenario;
    // Every sender sends the same number; the total is what they send together.
    let per_sender = total / in_flight;
    let total = per_sender * in_flight;
    let epoch = Instant::now();
    let mut receiver_tasks = Vec::new();
    for token in &receivers {
        let mut socket = websocket(&server.target, token).await;
        receiver_tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(total);
            let mut seen = HashSet::with_capacity(total);
            let deadline = Duration::from_secs(10);
            while seen.len() < total {
                let frame = match tokio::time::timeout(deadline, socket.next()).await {
                    Ok(Some(Ok(frame))) => frame,
                    _ => break,
                };
                let Ok(text) = frame.to_text() else { continue };
                let Ok(event) = serde_json::from_str::<Value>(text) else { continue };
                if event["type"] != "message-created" {
                    continue;
                }
                let body = event["message"]["body"].as_str().unwrap_or("");
                if let Some(sent_us) =
                    body.strip_prefix("t=").and_then(|t| t.split(';').next()).and_then(|t| t.parse::<u128>().ok())
                {
                    let now_us = epoch.elapsed().as_micros();
                    latencies.push((now_us.saturating_sub(sent_us)) as f64 / 1000.0);
                    seen.insert(event["message"]["seq"].as_i64().unwrap_or(0));
                }
            }
            (latencies, seen.len(), socket.get_ref().get_ref().0.local_addr().ok())
        }));
    }
    let started = Instant::now();
    let mut senders = Vec::new();
    for s in 0..in_flight {
        let (target, token, path) =
            (server.target.clone(), sender.to_owned(), format!("/api/v1/conversations/{conversation}/messages"));
        senders.push(tokio::spawn(async move {
            let mut http = Http::open(&target).await;
            for i in 0..per_sender {
                let body = json!({ "body": format!("t={};{s}-{i}", epoch.elapsed().as_micros()) });
                let (status, _) = http.call("POST", &path, Some(&token), Some(&body)).await;
                assert_eq!(status, 201);
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let send_secs = started.elapsed().as_secs_f64();
    let sent = total;
    let mut all = Vec::new();
    let mut delivered = 0usize;
    for r in receiver_tasks {
        let (lat, n, _) = r.await.unwrap();
        delivered += n;
        all.extend(lat);
    }
    let deliver_secs = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let expected = sent * receivers.len();
    println!(
        "{}",
        json!({
            "bench": "load",
            "scenario": name,
            "messages_sent": sent,
            "in_flight": in_flight,
            "receivers": receivers.len(),
            "messages_per_second": sent as f64 / send_secs,
            "deliveries_per_second": delivered as f64 / deliver_secs,
            "latency_ms": { "p50": percentile(&all, 0.5), "p99": percentile(&all, 0.99), "max": all.last().copied().unwrap_or(0.0) },
            "lost": expected.saturating_sub(delivered),
            "server_rss_kib": server.rss_kib(),
            "baseline": "healthz_round_trip_ms",
            "baseline_ms": baseline_ms,
        })
    );
    sent as f64 / send_secs
}

async fn healthz_baseline(target: &Target) -> f64 {
    let mut http = Http::open(target).await;
    let mut samples = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let (status, _) = http.call("GET", "/healthz", None, None).await;
        assert_eq!(status, 200);
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    percentile(&samples, 0.5)
}

pub fn run(conclave: &Path, messages: usize, idle: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = start_server(conclave, false).await;
        let crowd = people(&server, 22).await;
        let baseline = healthz_baseline(&server.target).await;
        let mut http = Http::open(&server.target).await;
        let (status, direct) = http
            .call(
                "POST",
                "/api/v1/conversations/direct",
                Some(&crowd.tokens[0]),
                Some(&json!({ "user_id": crowd.ids[1] })),
            )
            .await;
        assert_eq!(status, 200, "{direct}");
        let direct = direct["id"].as_str().unwrap().to_owned();
        let one = vec![crowd.tokens[1].clone()];
        let (sender, total) = (crowd.tokens[0].as_str(), messages);
        let a = Scenario {
            name: "a_sequential",
            sender,
            conversation: &direct,
            receivers: one.clone(),
            total,
            in_flight: 1,
        };
        run_messages(&server, a, baseline).await;
        let b =
            Scenario { name: "b_16_in_flight", sender, conversation: &direct, receivers: one, total, in_flight: 16 };
        run_messages(&server, b, baseline).await;
        let members: Vec<&String> = crowd.ids[2..22].iter().collect();
        let (status, group) = http
            .call(
                "POST",
                "/api/v1/conversations/group",
                Some(&crowd.tokens[0]),
                Some(&json!({ "title": "Load", "member_ids": members })),
            )
            .await;
        assert_eq!(status, 201, "{group}");
        let group = group["id"].as_str().unwrap().to_owned();
        let c = Scenario {
            name: "c_group_20_receivers",
            sender,
            conversation: &group,
            receivers: crowd.tokens[2..22].to_vec(),
            total: messages / 2,
            in_flight: 4,
        };
        run_messages(&server, c, baseline).await;

        // (d) idle connections.
        let before = server.rss_kib();
        let mut sockets = Vec::with_capacity(idle);
        let started = Instant::now();
        for i in 0..idle {
            sockets.push(websocket(&server.target, &crowd.tokens[i % crowd.tokens.len()]).await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = server.rss_kib();
        println!(
            "{}",
            json!({
                "bench": "load",
                "scenario": "d_idle_websockets",
                "connections": idle,
                "open_seconds": started.elapsed().as_secs_f64(),
                "server_rss_before_kib": before,
                "server_rss_after_kib": after,
                "kib_per_connection": (after.saturating_sub(before)) as f64 / idle.max(1) as f64,
            })
        );
        for mut s in sockets {
            let _ = s.close(None).await;
        }

        // (e) the cost of encryption at rest: (b) against a second server that stores data
        // unencrypted, in alternating rounds so both see the same machine noise.
        let plain = start_server(conclave, true).await;
        let pair = people(&plain, 2).await;
        let (status, plain_direct) = Http::open(&plain.target)
            .await
            .call(
                "POST",
                "/api/v1/conversations/direct",
                Some(&pair.tokens[0]),
                Some(&json!({ "user_id": pair.ids[1] })),
            )
            .await;
        assert_eq!(status, 200, "{plain_direct}");
        let plain_direct = plain_direct["id"].as_str().unwrap().to_owned();
        let (mut encrypted, mut unencrypted) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let on = Scenario {
                name: "e_round_encrypted",
                sender,
                conversation: &direct,
                receivers: vec![crowd.tokens[1].clone()],
                total,
                in_flight: 16,
            };
            encrypted.push(run_messages(&server, on, baseline).await);
            let off = Scenario {
                name: "e_round_plaintext_at_rest",
                sender: &pair.tokens[0],
                conversation: &plain_direct,
                receivers: vec![pair.tokens[1].clone()],
                total,
                in_flight: 16,
            };
            unencrypted.push(run_messages(&plain, off, baseline).await);
        }
        let (on, off) = (crate::median(encrypted), crate::median(unencrypted));
        println!(
            "{}",
            json!({
                "bench": "load",
                "scenario": "e_encryption_at_rest_cost",
                "rounds": 3,
                "encrypted_messages_per_second_median": on,
                "plaintext_messages_per_second_median": off,
                "baseline": "plaintext_at_rest",
                "throughput_cost_percent": (off - on) / off * 100.0,
            })
        );
    });
}

/// `soak`: what a burst of sign-ins does to the server's memory. 50 people sign in at once (each
/// an argon2id verification with its 19 MiB buffer), then the server sits idle for a minute; the
/// resident size before the burst is the baseline. The targets: the burst raises it by at most
/// 100 MB, and a minute later it is within 25% of where it started.
pub fn soak(conclave: &Path) {
    const PEOPLE: usize = 50;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = start_server(conclave, false).await;
        let enterprise = server.cli(&["admin", "create-enterprise", "--name", "Soak Test"], "");
        for i in 0..PEOPLE {
            let email = format!("soak{i}@load.example");
            server.cli(
                &[
                    "admin",
                    "create-user",
                    "--enterprise",
                    &enterprise,
                    "--email",
                    &email,
                    "--name",
                    &format!("Soak {i}"),
                ],
                &format!("{PASSWORD}\n"),
            );
        }
        // One sign-in first, so the decoy hash, the pools and the caches exist before the baseline.
        let mut http = Http::open(&server.target).await;
        let (status, _) = http
            .call(
                "POST",
                "/api/v1/sessions",
                None,
                Some(&json!({ "email": "soak0@load.example", "password": PASSWORD })),
            )
            .await;
        assert_eq!(status, 201);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = server.rss_kib();
        let started = Instant::now();
        let mut burst = Vec::new();
        for i in 0..PEOPLE {
            let target = server.target.clone();
            burst.push(tokio::spawn(async move {
                let mut http = Http::open(&target).await;
                let body = json!({ "email": format!("soak{i}@load.example"), "password": PASSWORD });
                http.call("POST", "/api/v1/sessions", None, Some(&body)).await.0
            }));
        }
        let mut peak = before;
        while !burst.iter().all(|t| t.is_finished()) {
            peak = peak.max(server.rss_kib());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut signed_in = 0;
        for t in burst {
            signed_in += usize::from(t.await.unwrap() == 201);
        }
        let burst_s = started.elapsed().as_secs_f64();
        let after = server.rss_kib();
        peak = peak.max(after);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let idle = server.rss_kib();
        let mb = |kib: u64| kib as f64 / 1024.0;
        println!(
            "{}",
            json!({
                "bench": "sign_in_burst_memory",
                "sign_ins": PEOPLE,
                "signed_in": signed_in,
                "burst_seconds": burst_s,
                "rss_peak_mb": mb(peak),
                "rss_after_burst_mb": mb(after),
                "rss_after_idle_minute_mb": mb(idle),
                "rise_mb": mb(peak.saturating_sub(before)),
                "idle_ratio": idle as f64 / before as f64,
                "baseline": "rss_before_burst",
                "baseline_mb": mb(before),
                "targets": { "rise_mb_at_most": 100, "idle_ratio_at_most": 1.25 },
            })
        );
    });
}

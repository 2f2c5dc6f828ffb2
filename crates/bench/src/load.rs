//! `load`: drives a real `conclave serve` (SQLite, encryption on) over HTTPS and WebSocket as
//! clients do, and reports throughput, send-to-deliver latency, losses and server memory.
//!
//! Scenarios: (a) 1 sender, 1 receiver, sequential; (b) 1 sender with 16 requests in flight;
//! (c) 4 in flight into one group with 20 receivers; (d) idle WebSockets, server RSS per
//! connection. Baseline in the same run: the round trip of `GET /healthz` on a kept-alive
//! connection (the floor any API call pays).

use bench::client::{people, start_server, websocket, Http, Server, Target, PASSWORD};
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

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

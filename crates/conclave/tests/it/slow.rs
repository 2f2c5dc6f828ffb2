//! Hostile connections (#14 item 2): a client that opens a connection and sends nothing, half a
//! request, or a body that never arrives is closed within the configured time, one address
//! cannot hold more than its share of connections, and other clients are served meanwhile.

use crate::Server;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A TLS connection through `openssl s_client` that sends `first` and then nothing more (its
/// input stays open), so only the server can end it.
fn tls_client(port: u16, first: &str) -> Child {
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl is installed");
    if !first.is_empty() {
        let input = child.stdin.as_mut().unwrap();
        input.write_all(first.as_bytes()).unwrap();
        input.flush().unwrap();
    }
    child
}

/// Waits until `child` has exited (the server closed its connection); how long that took.
fn closed_within(child: &mut Child, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn healthz_from(port: u16, local: &str) -> String {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "--interface", local, "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("https://127.0.0.1:{port}/healthz"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn slow_and_silent_connections_are_closed_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.path().join("conclave.toml");
    std::fs::write(&config, "header_timeout_seconds = 2\nbody_timeout_seconds = 2\nmax_connections_per_address = 4\n")
        .unwrap();
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let port = server.port;

    // Four connections from 127.0.0.1 that never send a request hold that address's share.
    let mut silent: Vec<Child> = (0..4).map(|_| tls_client(port, "")).collect();
    std::thread::sleep(Duration::from_millis(700));
    // A fifth from the same address is closed at once, before any handshake.
    let mut fifth = TcpStream::connect(("127.0.0.1", port)).unwrap();
    fifth.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 16];
    let started = Instant::now();
    let read = fifth.read(&mut buf);
    assert!(
        matches!(read, Ok(0)) || read.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection over the per-address limit is closed: {read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Someone else is served meanwhile.
    assert_eq!(healthz_from(port, "127.0.0.2"), "200");
    // The silent ones are closed once the time to send a request head has passed.
    for client in &mut silent {
        let took = closed_within(client, Duration::from_secs(8)).expect("a silent connection is closed");
        assert!(took < Duration::from_secs(6), "closed after {took:?}");
    }
    // Half a request line, unfinished headers, a body that stops (four connections, within the
    // address's share again): each is closed too.
    let mut half_line = tls_client(port, "GET /heal");
    let mut half_headers = tls_client(port, "GET /healthz HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n");
    let mut stalled_body = tls_client(
        port,
        "POST /api/v1/sessions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"email\":",
    );
    // A kept-alive connection that got its answer and then idles is closed as well.
    let mut idle = tls_client(port, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    for (what, client) in [
        ("half a line", &mut half_line),
        ("half the headers", &mut half_headers),
        ("a stalled body", &mut stalled_body),
        ("an idle kept-alive connection", &mut idle),
    ] {
        assert!(closed_within(client, Duration::from_secs(8)).is_some(), "{what}: still open");
    }
    let mut answered = String::new();
    idle.stdout.take().unwrap().read_to_string(&mut answered).unwrap();
    assert!(answered.starts_with("HTTP/1.1 200"), "the idle one was answered first: {answered}");
    // Their places were given back: this address is served again.
    assert_eq!(healthz_from(port, "127.0.0.1"), "200");
    let (_, err) = server.stop();
    assert!(err.contains("refused a connection at the per-address connection limit"), "{err}");
}

/// An HTTP/2 client that answers the server's pings but sends no request: `(sender, closed)`,
/// where `closed` resolves when the server ends the connection.
async fn http2_client(port: u16) -> (h2::client::SendRequest<bytes::Bytes>, tokio::task::JoinHandle<Instant>) {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(bench::client::AcceptAny(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await.unwrap();
    let (sender, connection) = h2::client::handshake(tls).await.unwrap();
    // The connection task answers pings for as long as the server keeps the connection.
    let closed = tokio::spawn(async move {
        let _ = connection.await;
        Instant::now()
    });
    (sender, closed)
}

async fn healthz(sender: &mut h2::client::SendRequest<bytes::Bytes>) -> u16 {
    let request = axum::http::Request::get("https://localhost/healthz").body(()).unwrap();
    let (answer, _) = sender.clone().ready().await.unwrap().send_request(request, true).unwrap();
    let response = answer.await.unwrap();
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    status
}

/// An HTTP/2 connection that answers pings but asks nothing is closed after the idle time (plus
/// at most one ping interval); one that keeps asking stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_are_closed_and_busy_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conclave.toml");
    std::fs::write(&config, "header_timeout_seconds = 2\n").unwrap();
    let server = Server::start(&dir.path().join("data"), &["--config", config.to_str().unwrap()]);

    let (mut idle, idle_closed) = http2_client(server.port).await;
    assert_eq!(healthz(&mut idle).await, 200);
    let answered = Instant::now();
    let (mut busy, mut busy_closed) = http2_client(server.port).await;
    for _ in 0..7 {
        assert_eq!(healthz(&mut busy).await, 200, "a connection in use stays open");
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    let closed_at = tokio::time::timeout(Duration::from_secs(15), idle_closed)
        .await
        .expect("the idle HTTP/2 connection is closed")
        .unwrap();
    let after = closed_at - answered;
    assert!(after >= Duration::from_millis(1500), "not before the idle time: {after:?}");
    assert!(tokio::time::timeout(Duration::from_millis(10), &mut busy_closed).await.is_err(), "the busy one is open");
    assert_eq!(healthz(&mut busy).await, 200);
}

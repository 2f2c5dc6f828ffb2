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

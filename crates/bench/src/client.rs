//! The client side the benchmarks and the crash test share: a minimal HTTPS/1.1 JSON client and
//! WebSocket over rustls, and a driver that starts, kills and restarts `conclave serve`.

use futures_util::StreamExt as _;
use serde_json::json;
pub use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub const PASSWORD: &str = "Quartz-Lantern-Harbor-41!";

/// Accepts the server's self-signed certificate: the bench talks to its own local server only.
#[derive(Debug)]
pub struct AcceptAny(pub Arc<rustls::crypto::CryptoProvider>);

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
pub struct Target {
    pub port: u16,
    pub tls: tokio_rustls::TlsConnector,
}

impl Target {
    /// A TLS connection, or the error when the server is not there (being restarted, say).
    pub async fn try_connect(&self) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        self.tls.connect(name, tcp).await
    }

    pub async fn connect(&self) -> TlsStream<TcpStream> {
        self.try_connect().await.expect("a TLS connection to the server")
    }
}

/// A kept-alive HTTP/1.1 connection: just enough client for JSON calls.
pub struct Http {
    stream: BufReader<TlsStream<TcpStream>>,
}

impl Http {
    pub async fn try_open(target: &Target) -> std::io::Result<Http> {
        Ok(Http { stream: BufReader::new(target.try_connect().await?) })
    }

    pub async fn open(target: &Target) -> Http {
        Http { stream: BufReader::new(target.connect().await) }
    }

    pub async fn call(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        self.try_call(method, path, token, body).await.expect("the server answers")
    }

    /// [`Http::call`] for a server that may die mid-request: an error instead of a panic.
    pub async fn try_call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.try_request(method, path, token, "application/json", body.as_bytes()).await
    }

    /// One request with any body; the answer's body is read as JSON (`Null` if it is not).
    pub async fn try_request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Value)> {
        let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, what.to_owned());
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut status_line = String::new();
        if self.stream.read_line(&mut status_line).await? == 0 {
            return Err(broken("the connection closed before an answer"));
        }
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| broken("no status code"))?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(broken("the connection closed inside the headers"));
            }
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
        self.stream.read_exact(&mut buf).await?;
        Ok((status, serde_json::from_slice(&buf).unwrap_or(Value::Null)))
    }
}

pub type Socket = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;

pub async fn websocket(target: &Target, token: &str) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("wss://localhost:{}/api/v1/ws", target.port).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::client_async(request, target.connect().await).await.expect("websocket");
    let ready = socket.next().await.expect("ready").expect("ready frame");
    assert!(ready.to_text().unwrap_or("").contains("ready"));
    socket
}

/// A running `conclave serve` on a data directory of its own, killed when dropped.
pub struct Server {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub conclave: PathBuf,
    pub target: Target,
    pub options: ServerOptions,
}

/// How the server is started.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// The benchmark-only switch that stores enterprise data unencrypted (the admin commands
    /// then need it too).
    pub plaintext: bool,
    /// A PostgreSQL URL instead of the embedded SQLite database.
    pub database_url: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn command(&self) -> Command {
        command(&self.conclave, self.dir.path(), &self.options)
    }

    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write as _;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "conclave {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Runs a `conclave` command on this server's data; whether it succeeded.
    pub fn succeeds(&self, args: &[&str]) -> bool {
        self.command().args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    }

    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Kills the server with SIGKILL: no shutdown code runs, as in a power cut or an OOM kill.
    pub fn kill(&mut self) {
        let _ = Command::new("kill").arg("-KILL").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same data (and port) after [`Server::kill`].
    pub async fn restart(&mut self) {
        self.child = spawn(&self.conclave, self.dir.path(), &self.options, self.target.port);
        wait_ready(&self.target).await;
    }
}

fn command(conclave: &Path, dir: &Path, options: &ServerOptions) -> Command {
    let mut cmd = Command::new(conclave);
    cmd.arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(dir.join("bench.toml"))
        .env("CONCLAVE_LOG", "warn")
        .env("CONCLAVE_BENCHMARK_PLAINTEXT_AT_REST", options.plaintext.to_string());
    if let Some(url) = &options.database_url {
        cmd.env("CONCLAVE_DATABASE_URL", url);
    }
    cmd
}

fn spawn(conclave: &Path, dir: &Path, options: &ServerOptions, port: u16) -> Child {
    command(conclave, dir, options)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn conclave")
}

async fn wait_ready(target: &Target) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", target.port)).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Listening comes before the store is open; wait until the server answers.
    while Http::open(target).await.call("GET", "/readyz", None, None).await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts a server in a fresh data directory with default options and `plaintext` as given.
pub async fn start_server(conclave: &Path, plaintext: bool) -> Server {
    start_server_with(conclave, ServerOptions { plaintext, ..ServerOptions::default() }).await
}

/// Starts a server in a fresh data directory.
pub async fn start_server_with(conclave: &Path, options: ServerOptions) -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bench.toml"), "sign_in_per_minute = 100000\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = spawn(conclave, dir.path(), &options, port);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let target = Target { port, tls: tokio_rustls::TlsConnector::from(Arc::new(config)) };
    let server = Server { child, dir, conclave: conclave.to_owned(), target, options };
    wait_ready(&server.target).await;
    server
}

pub struct People {
    pub tokens: Vec<String>,
    pub ids: Vec<String>,
}

pub async fn people(server: &Server, n: usize) -> People {
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

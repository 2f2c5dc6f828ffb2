//! The `conclave` binary as operators use it: real processes, real files, real HTTPS (via curl),
//! real PostgreSQL.

mod at_rest;
mod audit;
mod cli;
mod crash;
mod serve;
mod slow;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery";

pub fn conclave(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conclave"));
    for var in [
        "CONCLAVE_MASTER_KEY",
        "CONCLAVE_DATABASE_URL",
        "CONCLAVE_DATA_DIR",
        "CONCLAVE_LISTEN",
        "CONCLAVE_CONFIG",
        "CONCLAVE_LOG_FORMAT",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CONCLAVE_LOG", "warn").arg("--data-dir").arg(data_dir);
    cmd
}

/// Runs a command to completion with `stdin` fed in.
pub fn run(mut cmd: Command, stdin: &str) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn conclave");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_owned()
}

/// Runs and expects success; returns trimmed stdout.
pub fn ok(cmd: Command, stdin: &str) -> String {
    let o = run(cmd, stdin);
    assert!(o.status.success(), "failed: {}\n{}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// Creates an enterprise, an admin and a team through the CLI; returns the enterprise id.
pub fn seed(data_dir: &Path, extra: &[&str], names: (&str, &str, &str, &str)) -> String {
    let (enterprise, email, person, team) = names;
    let mut c = conclave(data_dir);
    c.args(extra).args(["admin", "create-enterprise", "--name", enterprise]);
    let e = ok(c, "");
    let mut c = conclave(data_dir);
    c.args(extra).args([
        "admin",
        "create-user",
        "--enterprise",
        &e,
        "--email",
        email,
        "--name",
        person,
        "--role",
        "enterprise-admin",
    ]);
    ok(c, &format!("{PASSWORD}\n"));
    let mut c = conclave(data_dir);
    c.args(extra).args(["admin", "create-team", "--enterprise", &e, "--name", team]);
    ok(c, "");
    e
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `conclave serve`, stopped on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub started_in: Duration,
}

impl Server {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let mut cmd = conclave(data_dir);
        cmd.args(extra).args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap();
        loop {
            if curl(port, &["-o", "/dev/null", "-w", "%{http_code}"], "/healthz") == "200" {
                return Server { child, port, started_in: started.elapsed() };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("serve exited with {status}: {err}");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not answer /healthz within 30 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn curl(&self, args: &[&str], path: &str) -> String {
        curl(self.port, args, path)
    }

    /// Stops the server with SIGTERM and returns what it printed.
    pub fn stop(mut self) -> (String, String) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut out = String::new();
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut out).unwrap();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (out, err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// curl against the server's self-signed HTTPS endpoint; returns stdout.
pub fn curl(port: u16, args: &[&str], path: &str) -> String {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10"])
        .args(args)
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub use test_support::{in_ci, postgres_url};

/// A schema of its own for one test, and the URL that points `conclave` at it. `None` (skip) only
/// outside CI when PostgreSQL is unreachable.
pub async fn postgres_schema() -> Option<(String, String, sqlx::PgPool)> {
    let schema = test_support::unique_schema("cli");
    let pool = match sqlx::PgPool::connect(&postgres_url()).await {
        Ok(p) => p,
        Err(e) => return test_support::skip_unless_ci("PostgreSQL", e),
    };
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&pool).await.unwrap();
    let url = test_support::url_in_schema(&postgres_url(), &schema);
    Some((schema, url, pool))
}

pub async fn drop_schema(pool: &sqlx::PgPool, schema: &str) {
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(pool).await.unwrap();
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

//! What every test binary needs and none should copy: whether this is CI, where the test
//! PostgreSQL and NATS servers are, a schema per test that is dropped afterwards, and settings
//! cheap enough for tests.
//!
//! A test that needs PostgreSQL or NATS skips with a note on a developer's machine where the
//! server is down, but fails under `CI=true`: CI must never pass by skipping.

use std::fmt::Display;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// `CI` is set to anything but empty, `false` or `0`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `CONCLAVE_TEST_DATABASE_URL`, or the machine's PostgreSQL.
pub fn postgres_url() -> String {
    std::env::var("CONCLAVE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `CONCLAVE_TEST_NATS_URL`, or the machine's NATS server.
pub fn nats_url() -> String {
    std::env::var("CONCLAVE_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.to_owned())
}

/// `None` with a note outside CI; a panic naming `what` under CI.
pub fn skip_unless_ci<T>(what: &str, why: impl Display) -> Option<T> {
    assert!(!in_ci(), "{what} is required under CI but unreachable: {why}");
    eprintln!("skipping: {what} is unreachable ({why}); CI=true makes this a failure");
    None
}

/// A unique, valid schema name for one test.
pub fn unique_schema(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// `url` with its `search_path` set to `schema`, for a process told only a database URL.
pub fn url_in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Drops its schema (and everything in it) when the test lets go of it.
pub struct SchemaGuard(pub String);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        drop_schema(&self.0);
    }
}

/// Drops a test schema on a thread of its own (Drop cannot await inside the test's runtime).
pub fn drop_schema(schema: &str) {
    let schema = schema.to_owned();
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            use sqlx::Connection as _;
            if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_url()).await {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&mut conn).await;
                let _ = conn.close().await;
            }
        });
    })
    .join();
}

/// Argon2 parameters that cost nothing: tests check behaviour, not cost.
pub fn cheap_password_cost() -> crypto::password::Cost {
    crypto::password::Cost { memory_kib: 64, iterations: 1, parallelism: 1 }
}

/// Service settings for tests: cheap passwords, identity providers on 127.0.0.1 over plain http
/// (the test providers), and a public URL no request's Host can stand in for.
pub fn settings() -> services::Settings {
    services::Settings {
        password_cost: cheap_password_cost(),
        allow_http_loopback_sso: true,
        public_url: "https://chat.example.org".into(),
        ..services::Settings::default()
    }
}

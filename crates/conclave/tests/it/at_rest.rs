//! Names and emails never reach the database in plaintext: grep the raw SQLite files and the
//! PostgreSQL rows for them.

use crate::{files_under, Server, PASSWORD};

const EMAIL: &str = "grace.hopper@navy.example";
const NAME: &str = "Grace Brewster Hopper";
const ENTERPRISE: &str = "Harvard Mark One Lab";
const TEAM: &str = "Compiler Pioneers";

fn needles() -> Vec<Vec<u8>> {
    [EMAIL, NAME, ENTERPRISE, TEAM, "grace.hopper", "Hopper"]
        .iter()
        .flat_map(|s| [s.as_bytes().to_vec(), s.to_lowercase().into_bytes(), hex(s).into_bytes()])
        .collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Signs in over HTTPS so the sessions table holds a device record too.
fn sign_in(server: &Server) {
    let body = format!("{{\"email\":\"{EMAIL}\",\"password\":\"{PASSWORD}\"}}");
    let out = server.curl(
        &[
            "-H",
            "content-type: application/json",
            "-A",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            "--data",
            &body,
        ],
        "/api/v1/sessions",
    );
    assert!(out.contains("\"token\""), "{out}");
}

#[test]
fn the_sqlite_files_hold_no_plaintext_names_or_emails() {
    let dir = tempfile::tempdir().unwrap();
    crate::seed(dir.path(), &[], (ENTERPRISE, EMAIL, NAME, TEAM));
    let server = Server::start(dir.path(), &[]);
    sign_in(&server);
    server.stop();
    let files: Vec<_> =
        files_under(dir.path()).into_iter().filter(|p| p.to_string_lossy().contains("conclave.db")).collect();
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for needle in needles() {
            assert!(!contains(&bytes, &needle), "{} contains {:?}", file.display(), String::from_utf8_lossy(&needle));
        }
    }
}

#[tokio::test]
async fn the_postgres_rows_hold_no_plaintext_names_or_emails() {
    let Some((schema, url, pool)) = crate::postgres_schema().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    crate::seed(dir.path(), &["--database-url", &url], (ENTERPRISE, EMAIL, NAME, TEAM));
    let server = Server::start(dir.path(), &["--database-url", &url]);
    sign_in(&server);
    server.stop();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1")
            .bind(&schema)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(tables.len() >= 7, "{tables:?}");
    let mut n_rows = 0;
    for table in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM {schema}.{table} t")).fetch_all(&pool).await.unwrap();
        for row in rows {
            n_rows += 1;
            for needle in needles() {
                assert!(
                    !contains(row.as_bytes(), &needle),
                    "{table} row contains {:?}: {row}",
                    String::from_utf8_lossy(&needle)
                );
            }
        }
    }
    assert!(n_rows > 10, "{n_rows}");
    crate::drop_schema(&pool, &schema).await;
}

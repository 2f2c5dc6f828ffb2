//! `conclave audit verify` finds an event altered directly in the database, on both backends;
//! `conclave keys rotate` keeps everything readable.

use crate::{conclave, ok, run, stdout};

fn verify(dir: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let mut c = conclave(dir);
    c.args(extra).args(["audit", "verify"]);
    let o = run(c, "");
    (o.status.success(), stdout(&o))
}

#[tokio::test]
async fn verify_names_the_first_broken_link_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crate::seed(dir.path(), &[], ("Acme", "admin@acme.example", "Ada", "Platform"));
    let (good, out) = verify(dir.path(), &[]);
    assert!(good, "{out}");
    assert!(out.starts_with("ok, ") && out.ends_with(" events"), "{out}");

    let url = format!("sqlite://{}", dir.path().join("conclave.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_events SET outcome = 'failure' WHERE seq = 3").execute(&pool).await.unwrap();
    pool.close().await;
    let (good, out) = verify(dir.path(), &[]);
    assert!(!good, "an altered event must fail verification");
    assert!(
        out.contains("event 3") && out.contains("content hash") && out.contains("expected") && out.contains("found"),
        "{out}"
    );

    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_events SET outcome = 'success' WHERE seq = 3").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM audit_events WHERE seq = 2").execute(&pool).await.unwrap();
    pool.close().await;
    let (good, out) = verify(dir.path(), &[]);
    assert!(!good);
    assert!(out.contains("event 3") && out.contains("sequence number"), "a removed event is found too: {out}");
}

#[tokio::test]
async fn verify_names_the_first_broken_link_in_postgres() {
    let Some((schema, url, pool)) = crate::postgres_schema().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = ["--database-url", url.as_str()];
    crate::seed(dir.path(), &db, ("Acme", "admin@acme.example", "Ada", "Platform"));
    assert!(verify(dir.path(), &db).0);
    sqlx::query(&format!("UPDATE {schema}.audit_events SET detail = '{{\"forged\":true}}' WHERE seq = 2"))
        .execute(&pool)
        .await
        .unwrap();
    let (good, out) = verify(dir.path(), &db);
    assert!(!good);
    assert!(out.contains("event 2") && out.contains("content hash"), "{out}");
    crate::drop_schema(&pool, &schema).await;
}

#[test]
fn rotating_the_master_key_keeps_every_record_readable() {
    let dir = tempfile::tempdir().unwrap();
    let e = crate::seed(dir.path(), &[], ("Acme", "admin@acme.example", "Ada Admin", "Platform"));
    let before = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    let out = ok(
        {
            let mut c = conclave(dir.path());
            c.args(["keys", "rotate"]);
            c
        },
        "",
    );
    assert!(out.starts_with("rotated: new master key mk-") && out.contains("3 data keys re-wrapped"), "{out}");
    let after = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    assert_ne!(before, after);
    let users = ok(
        {
            let mut c = conclave(dir.path());
            c.args(["admin", "list-users", "--enterprise", &e]);
            c
        },
        "",
    );
    assert!(users.contains("admin@acme.example"));
    assert!(verify(dir.path(), &[]).0);
}

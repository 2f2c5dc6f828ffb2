//! Upgrades keep what people configured: a database at migration 12 with single sign-on and desk
//! settings in their old tables opens at the newest version with the same settings as policy
//! documents, on both backends.

use domain::{EnterpriseId, Millis};
use sqlx::Connection as _;
use std::sync::Arc;
use store::{kinds, Migration, Store};

/// The rows the old tables held, in SQL both databases accept; bytes are bound as `$1`.
fn old_rows(e: EnterpriseId) -> Vec<(String, Option<Vec<u8>>)> {
    let sql = |s: String| (s, None);
    vec![
        (format!("INSERT INTO enterprises (id, name_ct, created_at) VALUES ('{e}', $1, 1)"), Some(vec![1])),
        (format!("INSERT INTO oidc_configs (enterprise_id, settings, client_secret_ct, updated_at) VALUES ('{e}', '{{\"issuer\":\"https://idp.example\"}}', $1, 2)"), Some(vec![10, 11, 12])),
        sql(format!("INSERT INTO saml_configs (enterprise_id, settings, updated_at) VALUES ('{e}', '{{\"idp_entity_id\":\"urn:idp\"}}', 3)")),
        sql(format!("INSERT INTO desk_settings (enterprise_id, store_finder_ip, retention_days, updated_at) VALUES ('{e}', TRUE, 45, 4)")),
    ]
}

async fn settings_survive(store: Arc<dyn Store>, e: EnterpriseId) {
    assert_eq!(store.applied_migrations().await.unwrap(), store.known_migrations());
    let oidc = store.policy_document(e, kinds::SSO_OIDC).await.unwrap().unwrap();
    assert_eq!(
        (oidc.document.as_str(), oidc.sealed_ct.as_deref(), oidc.version, oidc.updated_at),
        (r#"{"issuer":"https://idp.example"}"#, Some(&[10u8, 11, 12][..]), 1, Millis(2))
    );
    let saml = store.policy_document(e, kinds::SSO_SAML).await.unwrap().unwrap();
    assert_eq!((saml.document.as_str(), saml.sealed_ct), (r#"{"idp_entity_id":"urn:idp"}"#, None));
    let desk = store.policy_document(e, kinds::DESK).await.unwrap().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&desk.document).unwrap();
    assert_eq!(parsed, serde_json::json!({ "store_finder_ip": true, "retention_days": 45 }));
}

fn before_13(migrations: &[Migration]) -> &[Migration] {
    let end = migrations.iter().position(|m| m.version == 13).expect("migration 13 exists");
    &migrations[..end]
}

#[tokio::test]
async fn sqlite_settings_become_policy_documents_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let mut old = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .execute(&mut old)
    .await
    .unwrap();
    for m in before_13(store_sqlite::MIGRATIONS) {
        sqlx::raw_sql(m.sql).execute(&mut old).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)")
            .bind(m.version)
            .bind(m.name)
            .execute(&mut old)
            .await
            .unwrap();
    }
    let e = EnterpriseId::new();
    for (sql, bytes) in old_rows(e) {
        let mut statement = sqlx::query(&sql);
        if let Some(bytes) = bytes {
            statement = statement.bind(bytes);
        }
        statement.execute(&mut old).await.unwrap();
    }
    old.close().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store_sqlite::open(&path).await.unwrap());
    settings_survive(store, e).await;
}

#[tokio::test]
async fn postgres_settings_become_policy_documents_on_upgrade() {
    let url = test_support::postgres_url();
    let mut old = match sqlx::PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) => return test_support::skip_unless_ci("PostgreSQL", e).unwrap_or(()),
    };
    let schema = test_support::unique_schema("upgrade");
    let _guard = test_support::SchemaGuard(schema.clone());
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}; SET search_path TO {schema}")).execute(&mut old).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut old)
    .await
    .unwrap();
    for m in before_13(store_postgres::MIGRATIONS) {
        sqlx::raw_sql(m.sql).execute(&mut old).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)")
            .bind(m.version)
            .bind(m.name)
            .execute(&mut old)
            .await
            .unwrap();
    }
    let e = EnterpriseId::new();
    for (sql, bytes) in old_rows(e) {
        let mut statement = sqlx::query(&sql);
        if let Some(bytes) = bytes {
            statement = statement.bind(bytes);
        }
        statement.execute(&mut old).await.unwrap();
    }
    old.close().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store_postgres::connect_in_schema(&url, Some(&schema)).await.unwrap());
    settings_survive(store, e).await;
}

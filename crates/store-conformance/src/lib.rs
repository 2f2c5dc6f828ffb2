//! Shared fixtures for the store conformance suite: a fresh store per test on each backend.
//!
//! PostgreSQL is reached at `CONCLAVE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); every test gets a schema of its own. When the
//! server cannot be reached, a local run skips the PostgreSQL half with a note, but with `CI` set
//! the test fails: CI must never pass by skipping.

use std::sync::Arc;

pub use test_support::{drop_schema, in_ci, postgres_url, unique_schema};

/// Keeps the backing resources alive for as long as the test holds the store.
pub enum Backing {
    Sqlite(tempfile::TempDir),
    Postgres { schema: String },
}

impl Drop for Backing {
    fn drop(&mut self) {
        if let Backing::Postgres { schema } = self {
            drop_schema(schema);
        }
    }
}

/// A stand-in for the services' sealer: the store only keeps what it is given, so the suite needs
/// recognisable bytes, not real encryption (the services' tests cover that).
pub struct MarkingSealer;

impl store::AuditSealer for MarkingSealer {
    fn seal_origin(
        &self,
        _enterprise: Option<domain::EnterpriseId>,
        _seq: i64,
        origin: &domain::audit::Origin,
    ) -> domain::audit::SealedOrigin {
        let mark = |prefix: &str, v: &Option<String>| v.as_ref().map(|v| format!("{prefix}{v}").into_bytes());
        let network = origin.ip.as_ref().and_then(|ip| ip.rsplit_once('.')).map(|(net, _)| net.to_owned());
        domain::audit::SealedOrigin {
            key_id: "test".into(),
            ip_ct: mark("sealed:", &origin.ip),
            user_agent_ct: mark("sealed:", &origin.user_agent),
            ip_index: mark("ip:", &origin.ip),
            network_index: mark("net:", &network),
        }
    }
}

fn with_sealer(store: impl store::Store + 'static) -> Arc<dyn store::Store> {
    let store: Arc<dyn store::Store> = Arc::new(store);
    store.install_audit_sealer(Arc::new(MarkingSealer));
    store
}

pub async fn sqlite() -> (Arc<dyn store::Store>, Backing) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_sqlite::open(&dir.path().join("conclave.db")).await.expect("open SQLite");
    (with_sealer(store), Backing::Sqlite(dir))
}

/// `None` only outside CI when PostgreSQL is unreachable.
pub async fn postgres() -> Option<(Arc<dyn store::Store>, Backing)> {
    let schema = unique_schema("conformance");
    match store_postgres::connect_in_schema(&postgres_url(), Some(&schema)).await {
        Ok(store) => Some((with_sealer(store), Backing::Postgres { schema })),
        Err(e) => test_support::skip_unless_ci("PostgreSQL", format!("{}: {e}", postgres_url())),
    }
}

/// Runs `$body` as two tests, `sqlite` and `postgres`, inside a module named after the case.
#[macro_export]
macro_rules! conformance {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let ($store, _backing) = $crate::sqlite().await;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some(($store, _backing)) = $crate::postgres().await else {
                    return;
                };
                $body
            }
        }
    };
}

/// Two stores on one PostgreSQL schema: two nodes of one cluster, as far as the database can tell.
/// `None` only outside CI when PostgreSQL is unreachable.
pub async fn postgres_pair() -> Option<(Arc<dyn store::Store>, Arc<dyn store::Store>, Backing)> {
    let (first, backing) = postgres().await?;
    let Backing::Postgres { schema } = &backing else { unreachable!("postgres() gives a schema") };
    let second = store_postgres::connect_in_schema(&postgres_url(), Some(schema))
        .await
        .expect("a second connection to the same schema");
    Some((first, with_sealer(second), backing))
}

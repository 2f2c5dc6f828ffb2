//! The PostgreSQL backend (O2): several stateless Conclave nodes share one database.
//!
//! Migrations run inside one transaction holding an advisory lock, so two nodes starting at once
//! cannot both apply them: the second waits, then finds them applied. Audit appends take another
//! advisory lock so the hash chain stays linear whichever node writes.

use async_trait::async_trait;
use domain::audit::{AuditDraft, AuditEvent};
use domain::Millis;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, PgConnection, Postgres, Row, Transaction};
use std::str::FromStr;
use std::time::Duration;
use store::decode;
use store::{Error, KeyRow, Migration, Result};

/// This backend's migrations; versions pair one-to-one with the SQLite backend's.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "foundation", sql: include_str!("../migrations/0001_foundation.sql") },
    Migration { version: 2, name: "messaging", sql: include_str!("../migrations/0002_messaging.sql") },
    Migration { version: 3, name: "attachments", sql: include_str!("../migrations/0003_attachments.sql") },
    Migration { version: 4, name: "team_channels", sql: include_str!("../migrations/0004_team_channels.sql") },
    Migration { version: 5, name: "security_desk", sql: include_str!("../migrations/0005_security_desk.sql") },
    Migration { version: 6, name: "sign_in_policy", sql: include_str!("../migrations/0006_sign_in_policy.sql") },
    Migration { version: 7, name: "oidc", sql: include_str!("../migrations/0007_oidc.sql") },
    Migration { version: 8, name: "saml", sql: include_str!("../migrations/0008_saml.sql") },
    Migration { version: 9, name: "core", sql: include_str!("../migrations/0009_core.sql") },
    Migration { version: 10, name: "credential_links", sql: include_str!("../migrations/0010_credential_links.sql") },
    Migration { version: 11, name: "reactions", sql: include_str!("../migrations/0011_reactions.sql") },
    Migration { version: 12, name: "search", sql: include_str!("../migrations/0012_search.sql") },
];

/// Advisory lock keys (arbitrary constants, unique within Conclave).
const MIGRATION_LOCK: i64 = 0x436f_6e63_6c00_0001;
const AUDIT_CHAIN_LOCK: i64 = 0x436f_6e63_6c00_0002;

pub struct PostgresStore {
    pool: PgPool,
}

/// Runs `$body` in a transaction: commit on `Ok`, explicit rollback on `Err`, so a failed action
/// never leaves a connection idle in a transaction holding locks.
macro_rules! transaction {
    ($pool:expr, |$tx:ident| $body:block) => {{
        let mut $tx = $pool.begin().await.map_err(db)?;
        let result: Result<_> = async { $body }.await;
        match result {
            Ok(value) => {
                $tx.commit().await.map_err(db)?;
                Ok(value)
            }
            Err(e) => {
                let _ = $tx.rollback().await;
                Err(e)
            }
        }
    }};
}

// These aggregates' SQL is portable: compile the SQLite crate's files against this backend's
// `Store`, `DbRow`, helpers and function names, so each query is written once.
#[path = "../../store-sqlite/src/conversations.rs"]
mod conversations;
#[path = "../../store-sqlite/src/desk.rs"]
mod desk;
#[path = "../../store-sqlite/src/foundation.rs"]
mod foundation;
#[path = "../../store-sqlite/src/jobs.rs"]
mod jobs;
#[path = "../../store-sqlite/src/links.rs"]
mod links;
#[path = "../../store-sqlite/src/policies.rs"]
mod policies;
#[path = "../../store-sqlite/src/sign_in.rs"]
mod sign_in;

/// The larger and smaller of two values, as this backend's SQL spells them.
pub(crate) const GREATEST: &str = "GREATEST";
pub(crate) const LEAST: &str = "LEAST";
/// Locks the rows a sub-select reads until the transaction ends, so a concurrent delete of them
/// either happens first (and the row is not seen) or waits.
pub(crate) const FOR_SHARE: &str = "FOR SHARE";
/// Claiming jobs locks the rows it takes and passes over rows another node is claiming, so two
/// nodes claiming at once get different jobs and neither waits.
pub(crate) const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";

pub(crate) use foundation::{expect_rows, text, AUDIT_COLUMNS, KEY_COLUMNS};

/// The sqlx database this backend speaks, for code shared with the other backend.
pub(crate) type Database = sqlx::Postgres;
pub(crate) type DbRow = PgRow;

type Store = PostgresStore;

impl PostgresStore {
    fn writer(&self) -> &PgPool {
        &self.pool
    }
    fn reader(&self) -> &PgPool {
        &self.pool
    }
}

fn db(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() || d.is_foreign_key_violation() => {
            Error::Conflict(d.constraint().unwrap_or(d.message()).to_owned())
        }
        sqlx::Error::RowNotFound => Error::NotFound,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            Error::Unavailable(e.to_string())
        }
        _ => Error::Other(e.to_string()),
    }
}

impl PostgresStore {
    /// Connects to `url` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        PostgresStore::connect_in_schema(url, None).await
    }

    /// Connects with `search_path` set to `schema` (created if missing). Tests use this to give
    /// every case a schema of its own in one shared database.
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<PostgresStore> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Unavailable(format!("the database URL is not a valid PostgreSQL URL: {e}")))?;
        // One direct connection first: a wrong URL fails at once instead of after the pool's
        // acquire timeout, and it creates the test schema when one is asked for.
        let mut first = PgConnection::connect_with(&options).await.map_err(unreachable)?;
        if let Some(schema) = schema {
            if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::Other(format!("schema name {schema:?} must be alphanumeric")));
            }
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&mut first).await.map_err(db)?;
            options = options.options([("search_path", schema)]);
        }
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(unreachable)?;
        migrate(&pool).await?;
        Ok(PostgresStore { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn unreachable(e: sqlx::Error) -> Error {
    Error::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
}

async fn migrate(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await.map_err(db)?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    for m in MIGRATIONS {
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if done.is_some() {
            continue;
        }
        tracing::info!(version = m.version, name = m.name, "applying PostgreSQL migration");
        sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(db)?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(Millis::now().0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

/// Appends `draft` to the chain inside `tx`. A transaction-scoped advisory lock serialises appends
/// across every node sharing the database, so reading the head and inserting after it cannot race;
/// the lock is released at commit or rollback.
async fn append_audit(tx: &mut Transaction<'_, Postgres>, draft: &AuditDraft) -> Result<AuditEvent> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(AUDIT_CHAIN_LOCK).execute(&mut **tx).await.map_err(db)?;
    let head = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    let prev = match head {
        Some(row) => Some((
            row.try_get::<i64, _>("seq").map_err(db)?,
            decode::hash32(&row.try_get::<Vec<u8>, _>("hash").map_err(db)?)?,
        )),
        None => None,
    };
    let event = store::link_audit(draft, prev, crypto::chain_hash);
    sqlx::query(&format!(
        "INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(event.seq)
    .bind(draft.at.0)
    .bind(draft.actor.encode())
    .bind(&draft.origin.ip)
    .bind(&draft.origin.user_agent)
    .bind(draft.enterprise_id.map(|e| e.to_string()))
    .bind(draft.team_id.map(|t| t.to_string()))
    .bind(draft.action.name())
    .bind(&draft.target)
    .bind(draft.outcome.as_str())
    .bind(&draft.detail)
    .bind(&event.prev_hash[..])
    .bind(&event.hash[..])
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(event)
}

async fn insert_key(tx: &mut Transaction<'_, Postgres>, key: &KeyRow) -> Result<()> {
    sqlx::query(&format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
        .bind(&key.id)
        .bind(key.enterprise_id.map(|e| e.to_string()))
        .bind(&key.master_key_id)
        .bind(&key.wrapped)
        .bind(key.created_at.0)
        .bind(key.rotated_at.map(|m| m.0))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Fails with `NotFound` when an UPDATE or DELETE touched no row.
#[async_trait]
impl store::Health for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db)?;
        Ok(())
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }

    fn known_migrations(&self) -> Vec<i64> {
        MIGRATIONS.iter().map(|m| m.version).collect()
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

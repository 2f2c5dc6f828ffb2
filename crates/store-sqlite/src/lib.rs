//! The SQLite backend: the zero-configuration default (O1).
//!
//! One writer connection and a small pool of readers over one database file in WAL mode. A single
//! writer serialises every write transaction, which is what SQLite does anyway, but without the
//! `SQLITE_BUSY` retries that several writers cause; readers proceed in parallel thanks to WAL.
//! `secure_delete` is on so deleted content is overwritten, not left in free pages (S2).

use async_trait::async_trait;
use domain::audit::{AuditDraft, AuditEvent};
use domain::Millis;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;
use store::decode;
use store::{Error, KeyRow, Migration, Result};

/// This backend's migrations; versions pair one-to-one with the PostgreSQL backend's.
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

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
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

mod conversations;
mod desk;
mod foundation;
mod jobs;
mod links;
mod policies;
mod sign_in;

/// The larger and smaller of two values, as this backend's SQL spells them.
pub(crate) const GREATEST: &str = "MAX";
pub(crate) const LEAST: &str = "MIN";
/// SQLite has one writer at a time, so a sub-select needs no row lock (see the PostgreSQL crate).
pub(crate) const FOR_SHARE: &str = "";
/// Claiming jobs needs no row lock either: the one writer runs each claim alone.
pub(crate) const SKIP_LOCKED: &str = "";

pub(crate) use foundation::{expect_rows, text, AUDIT_COLUMNS, KEY_COLUMNS};

/// The sqlx database this backend speaks, for code shared with the other backend.
pub(crate) type Database = sqlx::Sqlite;
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;

type Store = SqliteStore;

impl SqliteStore {
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }
    fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

fn db(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() || d.is_foreign_key_violation() => {
            Error::Conflict(d.message().to_owned())
        }
        sqlx::Error::RowNotFound => Error::NotFound,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Error::Unavailable(e.to_string()),
        _ => Error::Other(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| Error::Unavailable(format!("cannot open SQLite database {}: {e}", path.display())))?;
        migrate(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| Error::Unavailable(format!("cannot open SQLite database {}: {e}", path.display())))?;
        Ok(SqliteStore { writer, reader })
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

async fn migrate(pool: &SqlitePool) -> Result<()> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
        .execute(pool)
        .await
        .map_err(db)?;
    for m in MIGRATIONS {
        let mut tx = pool.begin().await.map_err(db)?;
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if done.is_some() {
            tx.rollback().await.map_err(db)?;
            continue;
        }
        tracing::info!(version = m.version, name = m.name, "applying SQLite migration");
        sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(db)?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(Millis::now().0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
    }
    Ok(())
}

/// Appends `draft` to the chain inside `tx`. The single writer connection serialises appends, so
/// reading the head and inserting after it cannot race.
async fn append_audit(tx: &mut Transaction<'_, Sqlite>, draft: &AuditDraft) -> Result<AuditEvent> {
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

async fn insert_key(tx: &mut Transaction<'_, Sqlite>, key: &KeyRow) -> Result<()> {
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
impl store::Health for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db)?;
        Ok(())
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&self.reader)
            .await
            .map_err(db)
    }

    fn known_migrations(&self) -> Vec<i64> {
        MIGRATIONS.iter().map(|m| m.version).collect()
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

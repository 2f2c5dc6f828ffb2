//! The SQLite backend: the zero-configuration default (O1).
//!
//! One writer connection and a small pool of readers over one database file in WAL mode. A single
//! writer serialises every write transaction, which is what SQLite does anyway, but without the
//! `SQLITE_BUSY` retries that several writers cause; readers proceed in parallel thanks to WAL.
//! `secure_delete` is on so deleted content is overwritten, not left in free pages (S2).
//!
//! The SQL itself lives in `store-sql`; this crate fulfils its contract: connections, the
//! dialect, converting SQLite's values, and migrations.

use async_trait::async_trait;
use domain::Millis;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row as _, TypeInfo as _, ValueRef as _};
use std::path::Path;
use std::time::Duration;
use store::{Error, Migration, Result};
use store_sql::{Backend, Connection, Dialect, Kind, Side, SqlStore, Value};

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
    Migration {
        version: 13,
        name: "settings_as_policies",
        sql: include_str!("../migrations/0013_settings_as_policies.sql"),
    },
    Migration { version: 14, name: "threads", sql: include_str!("../migrations/0014_threads.sql") },
    Migration {
        version: 15,
        name: "mentions_mute_thumbnails",
        sql: include_str!("../migrations/0015_mentions_mute_thumbnails.sql"),
    },
    Migration { version: 16, name: "message_control", sql: include_str!("../migrations/0016_message_control.sql") },
    Migration { version: 17, name: "device_wipe", sql: include_str!("../migrations/0017_device_wipe.sql") },
    Migration { version: 18, name: "elevation_and_pin", sql: include_str!("../migrations/0018_elevation_and_pin.sql") },
    Migration { version: 19, name: "desk_triage", sql: include_str!("../migrations/0019_desk_triage.sql") },
    Migration { version: 20, name: "advisories", sql: include_str!("../migrations/0020_advisories.sql") },
    Migration { version: 21, name: "incidents", sql: include_str!("../migrations/0021_incidents.sql") },
    Migration {
        version: 22,
        name: "sealed audit origin",
        sql: include_str!("../migrations/0022_sealed_audit_origin.sql"),
    },
    Migration {
        version: 23,
        name: "search words by time",
        sql: include_str!("../migrations/0023_search_words_by_time.sql"),
    },
];

/// The SQLite backend: one writer connection and a few read-only readers over one file.
pub struct Sqlite {
    writer: SqlitePool,
    reader: SqlitePool,
}

/// The store on SQLite.
pub type SqliteStore = SqlStore;

static DIALECT: Dialect = Dialect {
    // SQLite's scalar MAX and MIN take two arguments.
    greatest: "MAX",
    least: "MIN",
    // One writer at a time: a sub-select needs no row lock, and a claim runs alone.
    for_share: "",
    skip_locked: "",
    // The single writer connection serialises appends to the audit chain already.
    audit_chain_lock: None,
    search_plan: None,
};

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

/// Opens (creating if missing) the database at `path` and applies pending migrations.
pub async fn open(path: &Path) -> Result<SqliteStore> {
    Ok(SqlStore::new(Sqlite::open(path).await?))
}

impl Sqlite {
    async fn open(path: &Path) -> Result<Sqlite> {
        owner_only(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON")
            // Statement journals and sorts stay in memory: as files they would put copies of
            // database pages (ciphertext, search tokens) in /var/tmp, outside the data directory,
            // and cost a file created and unlinked for most writes.
            .pragma("temp_store", "MEMORY");
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
        Ok(Sqlite { writer, reader })
    }
}

/// Creates the database file readable and writable by its owner only (SQLite gives its WAL and
/// shared-memory files the database file's permissions), and narrows files an older version
/// left readable by others.
fn owner_only(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let refused =
            |e: std::io::Error| Error::Unavailable(format!("cannot prepare SQLite database {}: {e}", path.display()));
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(refused(e)),
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(meta) = std::fs::metadata(&file) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(refused)?;
                }
            }
        }
    }
    Ok(())
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

store_sql::sqlx_connection!(driver: sqlx::Sqlite, connection: SqliteConnection, row: SqliteRow, value: value, db: db);

/// A column value in one of the kinds the shared SQL knows. SQLite reports the type of the value
/// itself (its booleans are integers), so NULL is bound and read as text.
fn value(row: &SqliteRow, index: usize) -> Result<Value> {
    let raw = row.try_get_raw(index).map_err(db)?;
    if raw.is_null() {
        return Ok(Value::Null(Kind::Text));
    }
    let kind = raw.type_info().name().to_owned();
    match kind.as_str() {
        "INTEGER" | "BOOLEAN" => row.try_get::<i64, _>(index).map(Value::Int),
        "TEXT" => row.try_get::<String, _>(index).map(Value::Text),
        "BLOB" => row.try_get::<Vec<u8>, _>(index).map(Value::Bytes),
        other => {
            return Err(Error::Other(format!(
                "column {index} holds a value of SQLite type {other}, which Conclave does not store"
            )))
        }
    }
    .map_err(db)
}

#[async_trait]
impl Backend for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn dialect(&self) -> &'static Dialect {
        &DIALECT
    }

    fn known_migrations(&self) -> Vec<i64> {
        MIGRATIONS.iter().map(|m| m.version).collect()
    }

    async fn acquire(&self, side: Side) -> Result<Box<dyn Connection>> {
        let pool = match side {
            Side::Writer => &self.writer,
            Side::Reader => &self.reader,
        };
        Ok(Box::new(Lent::Pooled(pool.acquire().await.map_err(db)?)))
    }

    async fn begin(&self) -> Result<Box<dyn Connection>> {
        Ok(Box::new(Lent::Transaction(self.writer.begin().await.map_err(db)?)))
    }

    /// Closes both pools, checkpointing the WAL.
    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

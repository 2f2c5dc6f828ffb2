//! The PostgreSQL backend (O2): several stateless Conclave nodes share one database.
//!
//! Migrations run inside one transaction holding an advisory lock, so two nodes starting at once
//! cannot both apply them: the second waits, then finds them applied. Audit appends take another
//! advisory lock so the hash chain stays linear whichever node writes.
//!
//! The SQL itself lives in `store-sql`; this crate fulfils its contract: the pool, the dialect,
//! converting PostgreSQL's values, and migrations.

use async_trait::async_trait;
use domain::Millis;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, PgConnection, Row as _, TypeInfo as _, ValueRef as _};
use std::str::FromStr;
use std::time::Duration;
use store::{Error, Migration, Result};
use store_sql::{Backend, Connection, Dialect, Kind, SearchPlan, Side, SqlStore, Value};

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

/// Advisory lock key for migrations (an arbitrary constant, unique within Conclave).
const MIGRATION_LOCK: i64 = 0x436f_6e63_6c00_0001;

/// The PostgreSQL backend: one pool that every node's statements share.
pub struct Postgres {
    pool: PgPool,
}

/// The store on PostgreSQL.
pub type PostgresStore = SqlStore;

static DIALECT: Dialect = Dialect {
    greatest: "GREATEST",
    least: "LEAST",
    for_share: "FOR SHARE",
    skip_locked: "FOR UPDATE SKIP LOCKED",
    // A transaction-scoped advisory lock (key 0x436f_6e63_6c00_0002) serialises audit appends
    // across every node sharing the database; it is released at commit or rollback.
    audit_chain_lock: Some("SELECT pg_advisory_xact_lock(4859223896248811522)"),
    // A word's postings are few in the planner's average and half a million for a common word:
    // left to itself it read them all (a bitmap scan, a hash join against every message, parallel
    // workers) and sorted, 100-450 ms at 1,000,000 messages. Nested index probes in key order
    // stop at the limit. `set_config(.., true)` is SET LOCAL: it ends with the transaction.
    // Two words about as common are intersected by a merge join of their two index-only scans,
    // both in (created_at, message_id) order: 25,000 postings each that never meet cost 46 ms
    // p50 probed one by one and about a sixth of that merged.
    search_plan: Some(SearchPlan {
        probe: "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_hashjoin', 'off', true), \
         set_config('enable_mergejoin', 'off', true), set_config('enable_seqscan', 'off', true), \
         set_config('max_parallel_workers_per_gather', '0', true)",
        merge: "SELECT set_config('enable_mergejoin', 'on', true)",
    }),
};

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

/// Connects to `url` and applies pending migrations.
pub async fn connect(url: &str) -> Result<PostgresStore> {
    connect_in_schema(url, None).await
}

/// Connects with `search_path` set to `schema` (created if missing). Tests use this to give
/// every case a schema of its own in one shared database.
pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<PostgresStore> {
    Ok(SqlStore::new(Postgres::connect_in_schema(url, schema).await?))
}

impl Postgres {
    async fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<Postgres> {
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
        Ok(Postgres { pool })
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

store_sql::sqlx_connection!(driver: sqlx::Postgres, connection: PgConnection, row: PgRow, value: value, db: db);

/// The kind of value a PostgreSQL column type holds, for the types Conclave's schema uses.
fn kind_of(type_name: &str) -> Option<Kind> {
    match type_name {
        "INT8" | "INT4" | "INT2" => Some(Kind::Int),
        "BOOL" => Some(Kind::Bool),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Some(Kind::Text),
        "BYTEA" => Some(Kind::Bytes),
        _ => None,
    }
}

fn value(row: &PgRow, index: usize) -> Result<Value> {
    let raw = row.try_get_raw(index).map_err(db)?;
    let type_name = raw.type_info().name().to_owned();
    let kind = kind_of(&type_name).ok_or_else(|| {
        Error::Other(format!("column {index} is of PostgreSQL type {type_name}, which Conclave does not store"))
    })?;
    if raw.is_null() {
        return Ok(Value::Null(kind));
    }
    match (kind, type_name.as_str()) {
        (Kind::Int, "INT4") => row.try_get::<i32, _>(index).map(|i| Value::Int(i.into())),
        (Kind::Int, "INT2") => row.try_get::<i16, _>(index).map(|i| Value::Int(i.into())),
        (Kind::Int, _) => row.try_get::<i64, _>(index).map(Value::Int),
        (Kind::Bool, _) => row.try_get::<bool, _>(index).map(Value::Bool),
        (Kind::Text, _) => row.try_get::<String, _>(index).map(Value::Text),
        (Kind::Bytes, _) => row.try_get::<Vec<u8>, _>(index).map(Value::Bytes),
    }
    .map_err(db)
}

#[async_trait]
impl Backend for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn dialect(&self) -> &'static Dialect {
        &DIALECT
    }

    fn known_migrations(&self) -> Vec<i64> {
        MIGRATIONS.iter().map(|m| m.version).collect()
    }

    async fn acquire(&self, _side: Side) -> Result<Box<dyn Connection>> {
        Ok(Box::new(Lent::Pooled(self.pool.acquire().await.map_err(db)?)))
    }

    async fn begin(&self) -> Result<Box<dyn Connection>> {
        Ok(Box::new(Lent::Transaction(self.pool.begin().await.map_err(db)?)))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

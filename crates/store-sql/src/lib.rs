//! Conclave's SQL, written once. Every store trait is implemented here, on [`SqlStore`], in SQL
//! that both SQLite and PostgreSQL accept; a backend crate only fulfils the contract below.
//!
//! # The contract a backend fulfils
//! A backend implements [`Backend`]:
//! - **Connections.** [`Backend::acquire`] lends a connection from the writer or the reader side
//!   (SQLite: its one writer and a few read-only readers; PostgreSQL: one pool for both), and
//!   [`Backend::begin`] opens a write transaction. Both hand back a [`Connection`], which runs one
//!   statement with bound [`Value`]s and returns untyped [`Row`]s, and ends a transaction by
//!   commit or rollback.
//! - **Values.** Only five kinds cross the contract: NULL (with the kind it stands for, which
//!   PostgreSQL needs), 64-bit integers, booleans, text and bytes. A backend converts its own
//!   column types to these and refuses any other, so no query here can depend on a type only one
//!   backend has.
//! - **Errors.** A backend maps its driver's errors to [`store::Error`]: unique and foreign-key
//!   violations to `Conflict` (naming the constraint), unreachable or exhausted to `Unavailable`.
//! - **Dialect.** The few spellings that differ live in a [`Dialect`]: the larger and smaller of
//!   two values, row locks for a sub-select, claiming rows another node may be claiming, and how
//!   appends to the audit chain are serialised across nodes.
//! - **Schema.** Its migrations create the same tables and columns as the other backend's
//!   (versions pair one to one), and it reports them through [`Backend::known_migrations`].
//!
//! Placeholders are written `$1`, `$2`, ... which both databases accept. Values are always bound;
//! SQL text is only ever assembled from constants and placeholders.

mod advisories;
mod conversations;
mod desk;
mod foundation;
mod incidents;
mod jobs;
mod links;
mod message_policies;
mod policies;
mod query;
mod scheduled;
mod sign_in;

pub use query::{query, query_scalar, Bind, ColumnIndex, FromValue, Kind, Query, QueryResult, QueryScalar, Row, Value};

use async_trait::async_trait;
use std::sync::Arc;
use store::{Error, Result};

/// The spellings in which the two SQL dialects differ.
#[derive(Debug)]
pub struct Dialect {
    /// The larger of two values (`GREATEST` in PostgreSQL, the two-argument `MAX` in SQLite).
    pub greatest: &'static str,
    /// The smaller of two values.
    pub least: &'static str,
    /// Appended to a sub-select whose rows must stay until the transaction ends, so a concurrent
    /// delete either happens first (and the row is not seen) or waits. Empty where one writer
    /// runs at a time.
    pub for_share: &'static str,
    /// Appended to a select that claims rows: locks what it takes and passes over rows another
    /// node is claiming. Empty where one writer runs at a time.
    pub skip_locked: &'static str,
    /// Run first in every transaction that appends to the audit chain, so that reading the head
    /// and linking after it cannot race with another node (`None` where one writer runs at a time).
    pub audit_chain_lock: Option<&'static str>,
    /// How a search's planner is kept to walking postings in key order and stopping at the
    /// limit (`None` where it always does: SQLite joins only by nested loops).
    pub search_plan: Option<SearchPlan>,
}

/// Statements run inside a search's own transaction to choose how the words are intersected.
#[derive(Clone, Copy, Debug)]
pub struct SearchPlan {
    /// Run first: the rarest word's postings are walked newest first, and each is probed for the
    /// other words.
    pub probe: &'static str,
    /// Run after `probe` when a word is about as dense in time as the rarest: their postings are
    /// read side by side in key order and merged, which reads each list once instead of one
    /// lookup per posting. It allows merge joins for the whole statement, so the statement keeps
    /// everything else out of joins (the person's conversations are read once into a list).
    pub merge: &'static str,
}

/// Which side of the backend a statement runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Writes, and reads that must see the latest write.
    Writer,
    /// Reads that may run beside writes.
    Reader,
}

/// What a statement's caller wants back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Every row.
    Rows,
    /// The first row, if any.
    FirstRow,
    /// Only the count of rows changed.
    Changes,
}

/// A statement's result: rows, or how many rows it changed.
#[derive(Debug)]
pub enum Output {
    Rows(Vec<Row>),
    Changed(u64),
}

/// One connection (or one open transaction) of a backend.
#[async_trait]
pub trait Connection: Send {
    /// Runs `sql` with `args` bound to `$1`, `$2`, ...
    async fn run(&mut self, sql: &str, args: Vec<Value>, want: Want) -> Result<Output>;
    /// Makes a transaction's writes durable. A plain connection has nothing to commit.
    async fn commit(self: Box<Self>) -> Result<()>;
    /// Undoes a transaction's writes.
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// What a database backend provides; see the crate documentation for the whole contract.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The backend's name in health reports: `sqlite` or `postgres`.
    fn name(&self) -> &'static str;
    fn dialect(&self) -> &'static Dialect;
    /// The migration versions this build knows.
    fn known_migrations(&self) -> Vec<i64>;
    /// A connection from one side, returned when dropped.
    async fn acquire(&self, side: Side) -> Result<Box<dyn Connection>>;
    /// A write transaction.
    async fn begin(&self) -> Result<Box<dyn Connection>>;
    /// Closes every connection (SQLite checkpoints its log).
    async fn close(&self);
}

/// The store: every store trait over one backend.
#[derive(Clone)]
pub struct SqlStore {
    backend: Arc<dyn Backend>,
    /// Installed once by the services, which hold the keys (see [`store::AuditSealer`]).
    audit_sealer: Arc<std::sync::OnceLock<Arc<dyn store::AuditSealer>>>,
}

impl SqlStore {
    pub fn new(backend: impl Backend) -> SqlStore {
        SqlStore { backend: Arc::new(backend), audit_sealer: Arc::default() }
    }

    /// Closes the backend's connections.
    pub async fn close(&self) {
        self.backend.close().await;
    }

    fn writer(&self) -> Pool<'_> {
        Pool { backend: &*self.backend, side: Side::Writer, audit_sealer: &self.audit_sealer }
    }

    fn reader(&self) -> Pool<'_> {
        Pool { backend: &*self.backend, side: Side::Reader, audit_sealer: &self.audit_sealer }
    }

    fn dialect(&self) -> &'static Dialect {
        self.backend.dialect()
    }
}

/// One side of a backend, as somewhere to run a single statement.
#[derive(Clone, Copy)]
pub struct Pool<'a> {
    backend: &'a dyn Backend,
    side: Side,
    audit_sealer: &'a std::sync::OnceLock<Arc<dyn store::AuditSealer>>,
}

impl Pool<'_> {
    async fn begin(&self) -> Result<Transaction> {
        Ok(Transaction {
            connection: self.backend.begin().await?,
            dialect: self.backend.dialect(),
            audit_sealer: self.audit_sealer.get().cloned(),
        })
    }
}

/// An open write transaction. Dropping it without [`Transaction::commit`] rolls it back (the
/// driver does so when the connection returns to its pool).
pub struct Transaction {
    connection: Box<dyn Connection>,
    dialect: &'static Dialect,
    audit_sealer: Option<Arc<dyn store::AuditSealer>>,
}

impl Transaction {
    fn dialect(&self) -> &'static Dialect {
        self.dialect
    }
    fn audit_sealer(&self) -> Option<&dyn store::AuditSealer> {
        self.audit_sealer.as_deref()
    }
    async fn commit(self) -> Result<()> {
        self.connection.commit().await
    }
    async fn rollback(self) -> Result<()> {
        self.connection.rollback().await
    }
}

impl std::ops::Deref for Transaction {
    type Target = dyn Connection;
    fn deref(&self) -> &Self::Target {
        &*self.connection
    }
}

impl std::ops::DerefMut for Transaction {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.connection
    }
}

/// Somewhere a statement can run: one side of the backend (for one statement), or an open
/// transaction.
#[async_trait]
pub trait Executor: Send {
    async fn run(self, sql: &str, args: Vec<Value>, want: Want) -> Result<Output>;
}

#[async_trait]
impl Executor for Pool<'_> {
    async fn run(self, sql: &str, args: Vec<Value>, want: Want) -> Result<Output> {
        self.backend.acquire(self.side).await?.run(sql, args, want).await
    }
}

#[async_trait]
impl Executor for &mut (dyn Connection + 'static) {
    async fn run(self, sql: &str, args: Vec<Value>, want: Want) -> Result<Output> {
        Connection::run(self, sql, args, want).await
    }
}

/// Runs `$body` in a write transaction: commit on `Ok`, explicit rollback on `Err`, so a failed
/// action never leaves a connection idle in a transaction holding locks.
macro_rules! transaction {
    ($pool:expr, |$tx:ident| $body:block) => {{
        let mut $tx = $pool.begin().await?;
        let result: Result<_> = async { $body }.await;
        match result {
            Ok(value) => {
                $tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                let _ = $tx.rollback().await;
                Err(e)
            }
        }
    }};
}
pub(crate) use transaction;

/// The connection half of the contract for an sqlx driver, written once for both backends (a
/// macro, because code generic over sqlx's drivers needs executor bounds that do not hold inside
/// `async_trait` futures). It defines `Lent`, a pooled connection or an open transaction, which runs
/// a statement with bound [`Value`]s and returns [`Row`]s. The backend names its driver, its
/// connection and row types, how it reads one column as a [`Value`] (`value`), and how it maps
/// driver errors (`db`).
#[macro_export]
macro_rules! sqlx_connection {
    (driver: $driver:ty, connection: $connection:ty, row: $row:ty, value: $value:path, db: $db:path) => {
        /// A connection lent by a pool, or an open transaction: both run statements on a connection.
        enum Lent {
            Pooled(sqlx::pool::PoolConnection<$driver>),
            Transaction(sqlx::Transaction<'static, $driver>),
        }

        impl Lent {
            fn connection(&mut self) -> &mut $connection {
                match self {
                    Lent::Pooled(c) => c,
                    Lent::Transaction(t) => t,
                }
            }
        }

        fn rows(found: Vec<$row>) -> ::store::Result<Vec<$crate::Row>> {
            use sqlx::{Column as _, Row as _};
            let Some(first) = found.first() else { return Ok(Vec::new()) };
            let columns: std::sync::Arc<[String]> = first.columns().iter().map(|c| c.name().to_owned()).collect();
            found
                .iter()
                .map(|r| {
                    let values = (0..columns.len()).map(|i| $value(r, i)).collect::<::store::Result<_>>()?;
                    Ok($crate::Row::new(columns.clone(), values))
                })
                .collect()
        }

        #[async_trait::async_trait]
        impl $crate::Connection for Lent {
            async fn run(
                &mut self,
                sql: &str,
                args: Vec<$crate::Value>,
                want: $crate::Want,
            ) -> ::store::Result<$crate::Output> {
                use $crate::{Kind, Output, Value, Want};
                let mut statement = sqlx::query(sql);
                for arg in args {
                    // NULL is bound as what it stands for: PostgreSQL types every parameter.
                    statement = match arg {
                        Value::Null(Kind::Bool) => statement.bind(None::<bool>),
                        Value::Null(Kind::Int) => statement.bind(None::<i64>),
                        Value::Null(Kind::Text) => statement.bind(None::<String>),
                        Value::Null(Kind::Bytes) => statement.bind(None::<Vec<u8>>),
                        Value::Bool(b) => statement.bind(b),
                        Value::Int(i) => statement.bind(i),
                        Value::Text(s) => statement.bind(s),
                        Value::Bytes(b) => statement.bind(b),
                    };
                }
                let connection = self.connection();
                Ok(match want {
                    Want::Rows => Output::Rows(rows(statement.fetch_all(connection).await.map_err($db)?)?),
                    Want::FirstRow => Output::Rows(rows(
                        statement.fetch_optional(connection).await.map_err($db)?.into_iter().collect(),
                    )?),
                    Want::Changes => Output::Changed(statement.execute(connection).await.map_err($db)?.rows_affected()),
                })
            }

            async fn commit(self: Box<Self>) -> ::store::Result<()> {
                match *self {
                    Lent::Transaction(t) => t.commit().await.map_err($db),
                    Lent::Pooled(_) => Ok(()),
                }
            }

            async fn rollback(self: Box<Self>) -> ::store::Result<()> {
                match *self {
                    Lent::Transaction(t) => t.rollback().await.map_err($db),
                    Lent::Pooled(_) => Ok(()),
                }
            }
        }
    };
}

/// Fails with `NotFound` when an UPDATE or DELETE touched no row.
pub(crate) fn expect_rows(affected: u64) -> Result<()> {
    if affected == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

/// `$first, $first+1, ...`: `count` bind placeholders for a list of values (an `IN (...)`).
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// A text column, the shape every id and enum is stored in.
pub(crate) fn text(row: &Row, col: &str) -> Result<String> {
    row.try_get::<String, _>(col)
}

#[async_trait]
impl store::Health for SqlStore {
    async fn ping(&self) -> Result<()> {
        query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(self.reader()).await
    }

    fn known_migrations(&self) -> Vec<i64> {
        self.backend.known_migrations()
    }

    fn backend(&self) -> &'static str {
        self.backend.name()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(super::placeholders(3, 3), "$3, $4, $5");
        assert_eq!(super::placeholders(1, 1), "$1");
        assert_eq!(super::placeholders(2, 0), "");
    }
}

//! Database-level facts for `/readyz` and operators, and the migrations each backend carries.

use async_trait::async_trait;

use crate::Result;

/// Database-level facts for `/readyz` and operators.
#[async_trait]
pub trait Health: Send + Sync {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> Result<()>;
    /// Migration versions applied, ascending.
    async fn applied_migrations(&self) -> Result<Vec<i64>>;
    /// Migration versions this build knows, ascending.
    fn known_migrations(&self) -> Vec<i64>;
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// A migration: a version shared by both backends (the conformance suite checks that the two
/// lists pair up) and the backend's own SQL.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

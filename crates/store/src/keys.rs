//! Data keys wrapped under a master key.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis};

use crate::Result;

/// A data key wrapped under a master key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    /// `enterprise:<uuid>` for an enterprise's data key, `blind-index` for the look-up key.
    pub id: String,
    pub enterprise_id: Option<EnterpriseId>,
    pub master_key_id: String,
    pub wrapped: Vec<u8>,
    pub created_at: Millis,
    pub rotated_at: Option<Millis>,
}

/// Wrapped data keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// `Conflict("keys.id")` when a key with this id exists.
    async fn create_key(&self, key: &KeyRow, audit: &AuditDraft) -> Result<()>;
    async fn get_key(&self, id: &str) -> Result<Option<KeyRow>>;
    async fn list_keys(&self) -> Result<Vec<KeyRow>>;
    /// Replaces a wrapping only if the row is still wrapped under `expected_master_key_id`
    /// (compare-and-swap, so two rotations cannot lose a key). Returns whether it replaced.
    async fn rewrap_key(
        &self,
        id: &str,
        expected_master_key_id: &str,
        new_master_key_id: &str,
        wrapped: &[u8],
        at: Millis,
    ) -> Result<bool>;
}

//! Single-use links to set a password: invitations and admin-started resets. The token is shown
//! once (in the link); the store keeps its hash.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, UserId};

use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialLinkRow {
    pub token_hash: Vec<u8>,
    pub enterprise_id: EnterpriseId,
    pub user_id: UserId,
    /// `invitation` or `password-reset`.
    pub purpose: String,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

#[async_trait]
pub trait CredentialLinkStore: Send + Sync {
    /// Stores a new link and, in the same step, retires the user's earlier unused links of the
    /// same purpose: only the newest link works.
    async fn create_credential_link(&self, link: &CredentialLinkRow, audit: &AuditDraft) -> Result<()>;
    async fn credential_link(&self, token_hash: &[u8]) -> Result<Option<CredentialLinkRow>>;
    /// Marks the link used if it is unused and unexpired at `now`; `false` otherwise. Of two
    /// people using one link at once, exactly one gets `true`.
    async fn claim_credential_link(&self, token_hash: &[u8], now: Millis) -> Result<bool>;
    /// Undoes a claim made at `claimed_at` whose password was then refused, so the person can
    /// try another password with the same link.
    async fn release_credential_link(&self, token_hash: &[u8], claimed_at: Millis) -> Result<()>;
}

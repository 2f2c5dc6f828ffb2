//! Per-enterprise policy documents: one versioned JSON document per enterprise and kind
//! (password policy, desk data choices, and the message, device, retention and SIEM policies to
//! come), replaced whole and audited on every change.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, UserId};

use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDocumentRow {
    pub enterprise_id: EnterpriseId,
    /// Which policy, e.g. `password`, `desk`.
    pub kind: String,
    /// 1 for the first document, one more at every change.
    pub version: i64,
    /// A JSON object; never a secret (secrets are sealed in their own columns).
    pub document: String,
    pub updated_at: Millis,
    pub updated_by: Option<UserId>,
}

/// A new version of a policy document.
#[derive(Clone, Debug)]
pub struct PolicyChange<'a> {
    pub enterprise_id: EnterpriseId,
    pub kind: &'a str,
    /// A JSON object.
    pub document: &'a str,
    /// The version the editor read (0: none yet); `None` replaces whatever is there.
    pub expected_version: Option<i64>,
    pub at: Millis,
    pub by: Option<UserId>,
}

#[async_trait]
pub trait PolicyStore: Send + Sync {
    async fn policy_document(&self, enterprise: EnterpriseId, kind: &str) -> Result<Option<PolicyDocumentRow>>;
    /// Stores the change as the next version; with `expected_version`, refuses with
    /// `Conflict("policy_documents.version")` when someone else changed it in between (or, for
    /// `Some(0)`, when a document already exists). Returns the stored row.
    async fn put_policy_document(&self, change: &PolicyChange<'_>, audit: &AuditDraft) -> Result<PolicyDocumentRow>;
}

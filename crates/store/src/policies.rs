//! Per-enterprise policy documents: one versioned JSON document per enterprise and kind
//! (the password policy, the desk's data choices, the OpenID Connect and SAML settings, and the
//! message, device, retention and SIEM policies to come), replaced whole and audited on every
//! change. A document may carry one secret (the OpenID client secret), sealed in its own column.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, UserId};

use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDocumentRow {
    pub enterprise_id: EnterpriseId,
    /// Which policy: one of the kinds in [`kinds`].
    pub kind: String,
    /// 1 for the first document, one more at every change.
    pub version: i64,
    /// A JSON object; never a secret (that goes in `sealed_ct`).
    pub document: String,
    /// The document's one secret, sealed under the enterprise's data key.
    pub sealed_ct: Option<Vec<u8>>,
    pub updated_at: Millis,
    pub updated_by: Option<UserId>,
}

/// The kinds of policy document.
pub mod kinds {
    pub const PASSWORD: &str = "password";
    pub const DESK: &str = "desk";
    pub const SSO_OIDC: &str = "sso-oidc";
    pub const SSO_SAML: &str = "sso-saml";
}

/// A new version of a policy document.
#[derive(Clone, Debug)]
pub struct PolicyChange<'a> {
    pub enterprise_id: EnterpriseId,
    pub kind: &'a str,
    /// A JSON object.
    pub document: &'a str,
    /// The document's secret, sealed; `None` stores none.
    pub sealed: Option<&'a [u8]>,
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
    /// Every enterprise's document of one kind (single sign-on finds the enterprise of an email
    /// domain this way).
    async fn policy_documents_of_kind(&self, kind: &str) -> Result<Vec<PolicyDocumentRow>>;
}

//! Policy documents, the one way every domain keeps per-enterprise settings: replaced whole by
//! whoever is asking, with its audit event in the same transaction.

use crate::{Caller, Result};
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis};

/// Stores `document` (and its sealed secret, if any) as the enterprise's next version of `kind`,
/// replacing whatever is there, recorded as `caller`'s change.
pub(crate) async fn replace(
    store: &dyn store::PolicyStore,
    caller: &Caller,
    enterprise: EnterpriseId,
    kind: &str,
    document: &str,
    sealed: Option<&[u8]>,
    audit: &AuditDraft,
) -> Result<store::PolicyDocumentRow> {
    let change = store::PolicyChange {
        enterprise_id: enterprise,
        kind,
        document,
        sealed,
        expected_version: None,
        at: Millis::now(),
        by: caller.user_id(),
    };
    Ok(store.put_policy_document(&change, audit).await?)
}

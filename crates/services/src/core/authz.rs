//! Authorization checks that leave a trace: every refusal of an authenticated caller for lack of
//! rights is appended to the audit chain with outcome `denied`, the true actor and the action
//! they attempted, before the error goes back.

use super::Core;
use crate::{Caller, Error, Result};
use domain::audit::{Action, AuditDraft, Outcome};
use domain::EnterpriseId;

impl Core {
    /// Passes for the operator, the system and enterprise admins of `enterprise`.
    pub(crate) async fn require_enterprise_admin(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        action: Action,
    ) -> Result<()> {
        if caller.is_enterprise_admin_of(enterprise) {
            return Ok(());
        }
        Err(self.deny(caller, action, Some(enterprise), "enterprise-admin", None).await)
    }

    /// Passes for the operator, the system and any member of `enterprise`.
    pub(crate) async fn require_member_of(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        action: Action,
    ) -> Result<()> {
        if caller.is_member_of(enterprise) {
            return Ok(());
        }
        Err(self.deny(caller, action, Some(enterprise), "member", None).await)
    }

    /// Passes for the operator only (installation-wide work such as verifying the chain).
    pub(crate) async fn require_operator(&self, caller: &Caller, action: Action) -> Result<()> {
        if *caller == Caller::Operator {
            return Ok(());
        }
        Err(self.deny(caller, action, None, "operator", None).await)
    }

    /// Records that `caller` was refused `action` by `rule` and returns the refusal. The event
    /// goes to the caller's own enterprise (the requested one is in the detail when it differs),
    /// so a probe across tenants is seen by the prober's admins and reveals nothing to the other.
    pub(crate) async fn deny(
        &self,
        caller: &Caller,
        action: Action,
        requested: Option<EnterpriseId>,
        rule: &str,
        target: Option<String>,
    ) -> Error {
        let home = caller.enterprise().or(requested);
        let mut detail = serde_json::json!({ "rule": rule });
        if let Some(requested) = requested.filter(|r| Some(*r) != home) {
            detail["enterprise"] = serde_json::Value::String(requested.to_string());
        }
        let draft = AuditDraft {
            enterprise_id: home,
            target,
            outcome: Outcome::Denied,
            detail: detail.to_string(),
            ..AuditDraft::new(action, caller.actor(), caller.origin())
        };
        if let Err(e) = self.audit_store.append_audit(&draft).await {
            // The refusal stands either way; the log line says the trail missed one.
            tracing::warn!(error = %e, action = action.name(), "could not audit a refused action");
        }
        Error::Forbidden
    }
}

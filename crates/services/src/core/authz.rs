//! Authorization checks that leave a trace: every refusal of an authenticated caller for lack of
//! rights is appended to the audit chain with outcome `denied`, the true actor and the action
//! they attempted, before the error goes back.

use super::Core;
use crate::{Caller, Error, Result};
use domain::audit::{Action, AuditDraft, Outcome};
use domain::session_policy::SessionPolicy;
use domain::{EnterpriseId, Millis};
use std::time::{Duration, Instant};

/// How long a node trusts its copy of an enterprise's session policy: a change reaches every
/// node within this, and a request does not read the policy from the database each time.
const SESSION_POLICY_FRESH_FOR: Duration = Duration::from_secs(5);
/// The policy document kind of the elevation and PIN rules.
pub(crate) const SESSION_POLICY: &str = "session";
/// An admin action slides the elevation along only when that moves it by at least this much,
/// so a burst of admin requests writes once.
const SLIDE_STEP_MS: i64 = 10_000;

impl Core {
    /// Passes for the operator, the system and enterprise admins of `enterprise`.
    pub(crate) async fn require_enterprise_admin(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        action: Action,
    ) -> Result<()> {
        if caller.is_enterprise_admin_of(enterprise) {
            return self.require_elevated(caller, enterprise, action).await;
        }
        Err(self.deny(caller, action, Some(enterprise), "enterprise-admin", None).await)
    }

    /// An admin action needs a session that authenticated within the enterprise's elevation
    /// window, counted from its last admin action (A5); each one slides the window along. A
    /// lapsed session is refused with [`Error::ReauthenticationRequired`] (audited); the operator
    /// and the system pass.
    pub(crate) async fn require_elevated(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        action: Action,
    ) -> Result<()> {
        let Caller::User(p) = caller else {
            return Ok(());
        };
        let now = Millis::now();
        let policy = self.session_policy(p.enterprise_id).await?;
        match p.auth.elevated_until {
            Some(until) if until.0 > now.0 => {
                let next = now.0 + policy.elevation_ms();
                if next - until.0 >= SLIDE_STEP_MS {
                    self.session_store.set_session_elevation(p.session_id, Millis(next), None).await?;
                }
                Ok(())
            }
            _ => {
                let _ = self.deny(caller, action, Some(enterprise), "elevation", None).await;
                Err(Error::ReauthenticationRequired)
            }
        }
    }

    /// The enterprise's elevation and PIN rules (the defaults until an admin sets them), read
    /// from the database at most every few seconds per node.
    pub(crate) async fn session_policy(&self, enterprise: EnterpriseId) -> Result<SessionPolicy> {
        if let Some((read_at, policy)) = self.session_policies.lock().expect("policy cache").get(&enterprise) {
            if read_at.elapsed() < SESSION_POLICY_FRESH_FOR {
                return Ok(policy.clone());
            }
        }
        let policy = match self.policy_store.policy_document(enterprise, SESSION_POLICY).await? {
            Some(row) => serde_json::from_str(&row.document)
                .map_err(|e| Error::Internal(format!("stored session policy: {e}")))?,
            None => SessionPolicy::default(),
        };
        let mut cache = self.session_policies.lock().expect("policy cache");
        // One entry per enterprise, and enterprises are made by the operator; the bound is a
        // guard, not a limit anyone reaches.
        if cache.len() >= 10_000 {
            cache.clear();
        }
        cache.insert(enterprise, (Instant::now(), policy.clone()));
        Ok(policy)
    }

    pub(crate) fn policy_store(&self) -> std::sync::Arc<dyn store::PolicyStore> {
        self.policy_store.clone()
    }

    /// Forgets this node's copy after a change, so the admin who made it sees it at once.
    pub(crate) fn forget_session_policy(&self, enterprise: EnterpriseId) {
        self.session_policies.lock().expect("policy cache").remove(&enterprise);
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

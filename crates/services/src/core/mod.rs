//! The shared core every domain builds on: who is asking ([`caller`]), what they may do
//! ([`authz`], which audits every refusal), the audit trail ([`audit`]), keys ([`keys`]) and
//! durable jobs ([`jobs`]). Nothing here depends on a domain module; domains depend on it.

pub mod audit;
pub(crate) mod authz;
pub mod caller;
pub mod jobs;
pub mod keys;

use crate::Caller;
use domain::audit::{Action, AuditDraft, Origin};
use domain::{EnterpriseId, TeamId};

/// A successful event by `caller`, from the catalogue's `action`.
pub(crate) fn draft(
    caller: &Caller,
    origin: &Origin,
    enterprise: Option<EnterpriseId>,
    action: Action,
    target: Option<String>,
) -> AuditDraft {
    AuditDraft { enterprise_id: enterprise, target, ..AuditDraft::new(action, caller.actor(), origin.clone()) }
}

/// The same, for an action inside one team.
pub(crate) fn team_draft(
    caller: &Caller,
    origin: &Origin,
    enterprise: EnterpriseId,
    team: TeamId,
    action: Action,
    target: Option<String>,
) -> AuditDraft {
    AuditDraft { team_id: Some(team), ..draft(caller, origin, Some(enterprise), action, target) }
}

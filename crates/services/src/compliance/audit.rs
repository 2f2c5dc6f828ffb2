//! Reading and verifying the audit log (L1, L3).

use crate::{Caller, Error, Result};
use domain::audit::{Action, AuditEvent, GENESIS_HASH};
use domain::{EnterpriseId, FieldError, Rule};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Reading and verifying the audit trail.
pub struct Compliance {
    core: Arc<crate::core::Core>,
    audit_store: Arc<dyn store::AuditStore>,
}

impl Compliance {
    pub(crate) fn new(core: Arc<crate::core::Core>, store: &Arc<dyn store::Store>) -> Compliance {
        Compliance { core, audit_store: store.clone() }
    }
}

/// The verdict of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    Intact { events: u64 },
    Broken(BrokenLink),
}

/// The first place the chain does not hold: which event, what was expected, what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub what: &'static str,
    pub expected: String,
    pub found: String,
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event {}: {} expected {}, found {}", self.seq, self.what, self.expected, self.found)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub seq: i64,
    pub at: String,
    /// `user:<id>`, `operator`, `system` or `anonymous`.
    pub actor: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub team_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// JSON object text.
    pub detail: String,
    /// Hex SHA-256 of this event's canonical encoding.
    pub hash: String,
}

impl From<&AuditEvent> for AuditEventView {
    fn from(e: &AuditEvent) -> AuditEventView {
        AuditEventView {
            seq: e.seq,
            at: e.draft.at.rfc3339(),
            actor: e.draft.actor.encode(),
            ip: e.draft.origin.ip.clone(),
            user_agent: e.draft.origin.user_agent.clone(),
            team_id: e.draft.team_id.map(|t| t.to_string()),
            action: e.draft.action.name().to_owned(),
            target: e.draft.target.clone(),
            outcome: e.draft.outcome.as_str().to_owned(),
            detail: e.draft.detail.clone(),
            hash: hex(&e.hash),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const PAGE: u32 = 1000;

impl Compliance {
    /// Walks the chain from the first event, recomputing every link (operator only).
    /// `progress(done, total)` is called after each page.
    pub async fn verify_audit_chain(&self, caller: &Caller, progress: &dyn Fn(u64, u64)) -> Result<ChainVerdict> {
        self.core.require_operator(caller, Action::AuditVerify).await?;
        let total = self.audit_store.audit_count().await?.max(0) as u64;
        let mut prev_seq = 0i64;
        let mut prev_hash = GENESIS_HASH;
        let mut n = 0u64;
        loop {
            let page = self.audit_store.audit_page(prev_seq, PAGE).await?;
            if page.is_empty() {
                return Ok(ChainVerdict::Intact { events: n });
            }
            for event in &page {
                let broken = |what, expected: String, found: String| {
                    Ok(ChainVerdict::Broken(BrokenLink { seq: event.seq, what, expected, found }))
                };
                if event.seq != prev_seq + 1 {
                    return broken("sequence number", (prev_seq + 1).to_string(), event.seq.to_string());
                }
                if event.prev_hash != prev_hash {
                    return broken("previous-hash link", hex(&prev_hash), hex(&event.prev_hash));
                }
                let recomputed = crypto::chain_hash(&event.draft.canonical_bytes(event.seq, &event.prev_hash));
                if recomputed != event.hash {
                    return broken("content hash", hex(&recomputed), hex(&event.hash));
                }
                prev_seq = event.seq;
                prev_hash = event.hash;
                n += 1;
            }
            progress(n, total.max(n));
        }
    }

    /// The enterprise's audit events, newest first, paged by `before` (enterprise admins).
    pub async fn enterprise_audit(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEventView>> {
        self.core.require_enterprise_admin(caller, enterprise, Action::AuditRead).await?;
        if !(1..=500).contains(&limit) {
            return Err(Error::Invalid(FieldError::new("limit", Rule::InvalidValue, "must be 1 to 500")));
        }
        let events = self.audit_store.enterprise_audit(enterprise, before.unwrap_or(i64::MAX), limit).await?;
        Ok(events.iter().map(AuditEventView::from).collect())
    }
}

/// One entry of the audit catalogue, as served at `GET /api/v1/audit/catalogue` to any signed-in
/// person (it describes the log, not its content, so being signed in is the whole check).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CatalogueEntry {
    /// The dotted name events carry, e.g. `auth.sign-in`.
    pub action: &'static str,
    /// `installation`, `enterprise`, `team` or `desk`.
    pub scope: &'static str,
    /// What `target` names: `user`, `session`, `report`, ... or `none`.
    pub target: &'static str,
    /// `always`, or `when-denied` for reads that are recorded only when refused.
    pub recorded: &'static str,
    /// Keys the detail object may hold (`*`: the saved settings document).
    pub detail_fields: Vec<&'static str>,
    pub description: &'static str,
}

/// The whole catalogue, in declaration order.
pub fn catalogue() -> Vec<CatalogueEntry> {
    Action::ALL
        .iter()
        .map(|a| CatalogueEntry {
            action: a.name(),
            scope: a.scope().as_str(),
            target: a.target_kind().as_str(),
            recorded: a.recorded().as_str(),
            detail_fields: a.detail_fields().to_vec(),
            description: a.description(),
        })
        .collect()
}

/// The catalogue as the Markdown table ARCHITECTURE.md carries (a test keeps the two equal).
pub fn catalogue_markdown() -> String {
    let mut out =
        String::from("| action | scope | target | recorded | detail fields | meaning |\n|---|---|---|---|---|---|\n");
    for e in catalogue() {
        let fields = if e.detail_fields.is_empty() { "–".to_owned() } else { e.detail_fields.join(", ") };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            e.action, e.scope, e.target, e.recorded, fields, e.description
        ));
    }
    out
}

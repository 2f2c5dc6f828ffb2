//! Reading and verifying the audit log (L1, L3).

use crate::{Caller, Error, Result};
use domain::audit::{Action, AuditEvent, Origin, GENESIS_HASH};
use domain::{EnterpriseId, FieldError, Rule};
use serde::Serialize;
use std::net::IpAddr;
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

impl AuditEventView {
    /// The view of `e`, with `origin` its opened address and user agent.
    fn new(e: &AuditEvent, origin: Origin) -> AuditEventView {
        AuditEventView {
            seq: e.seq,
            at: e.draft.at.rfc3339(),
            actor: e.draft.actor.encode(),
            ip: origin.ip,
            user_agent: origin.user_agent,
            team_id: e.draft.team_id.map(|t| t.to_string()),
            action: e.draft.action.name().to_owned(),
            target: e.draft.target.clone(),
            outcome: e.draft.outcome.as_str().to_owned(),
            detail: e.draft.detail.clone(),
            hash: hex(&e.hash),
        }
    }
}

/// What an audit report may narrow to besides paging: one address, or one network (its /24 or
/// /64, found by the blind index, so the filter works although the log holds no clear address).
#[derive(Clone, Debug, Default)]
pub struct AuditReportFilter {
    pub ip: Option<String>,
    pub network: Option<String>,
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
                let recomputed = crypto::chain_hash(&event.canonical_bytes());
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
        self.enterprise_audit_filtered(caller, enterprise, &AuditReportFilter::default(), before, limit).await
    }

    /// The same, narrowed to one address or one network.
    pub async fn enterprise_audit_filtered(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        filter: &AuditReportFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEventView>> {
        self.core.require_enterprise_admin(caller, enterprise, Action::AuditRead).await?;
        if !(1..=500).contains(&limit) {
            return Err(Error::Invalid(FieldError::new("limit", Rule::InvalidValue, "must be 1 to 500")));
        }
        let store_filter = self.store_filter(enterprise, filter)?;
        let events =
            self.audit_store.enterprise_audit(enterprise, &store_filter, before.unwrap_or(i64::MAX), limit).await?;
        let mut views = Vec::with_capacity(events.len());
        for e in &events {
            let origin = match &e.sealed_origin {
                Some(sealed) => self.core.keys.open_audit_origin(e.seq, sealed).await?,
                None => e.draft.origin.clone(),
            };
            views.push(AuditEventView::new(e, origin));
        }
        Ok(views)
    }

    fn store_filter(&self, enterprise: EnterpriseId, filter: &AuditReportFilter) -> Result<store::AuditFilter> {
        let invalid = |field, message| Error::Invalid(FieldError::new(field, Rule::InvalidValue, message));
        // Longer than any address or network (as the API document says), trimmed or not.
        if filter.ip.as_ref().is_some_and(|ip| ip.len() > 45) {
            return Err(invalid("ip", "must be an IPv4 or IPv6 address"));
        }
        if filter.network.as_ref().is_some_and(|n| n.len() > 49) {
            return Err(invalid("network", "must be an IPv4 /24 or an IPv6 /64 network, such as 203.0.113.0/24"));
        }
        let enterprise = Some(enterprise);
        match (&filter.ip, &filter.network) {
            (Some(_), Some(_)) => Err(invalid("network", "give an address or a network, not both")),
            (Some(ip), None) => {
                let ip: IpAddr = ip.trim().parse().map_err(|_| invalid("ip", "must be an IPv4 or IPv6 address"))?;
                Ok(store::AuditFilter {
                    ip_index: Some(self.core.keys.audit_ip_index(enterprise, ip)),
                    network_index: None,
                })
            }
            (None, Some(network)) => {
                let network = parse_network(network).ok_or_else(|| {
                    invalid("network", "must be an IPv4 /24 or an IPv6 /64 network, such as 203.0.113.0/24")
                })?;
                Ok(store::AuditFilter {
                    ip_index: None,
                    network_index: Some(self.core.keys.audit_network_index(enterprise, &network)),
                })
            }
            (None, None) => Ok(store::AuditFilter::default()),
        }
    }
}

/// A network as the audit log indexes it: `a.b.c.0/24` or an IPv6 `/64`, written any way that
/// names exactly that network (host bits must be zero). Returns the indexed spelling.
fn parse_network(text: &str) -> Option<String> {
    let (address, prefix) = text.trim().split_once('/')?;
    let address: IpAddr = address.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let wanted = match address.to_canonical() {
        IpAddr::V4(_) => 24,
        IpAddr::V6(_) => 64,
    };
    let network = crate::core::keys::network_of(address);
    let same = network.split_once('/').and_then(|(a, _)| a.parse::<IpAddr>().ok()) == Some(address.to_canonical());
    (prefix == wanted && same).then_some(network)
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

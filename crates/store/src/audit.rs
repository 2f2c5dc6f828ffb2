//! The append-only, hash-chained audit log (L1, L3).

use async_trait::async_trait;
use domain::audit::{AuditDraft, AuditEvent, Origin, SealedOrigin};
use domain::EnterpriseId;
use std::sync::Arc;

use crate::Result;

/// Seals an event's origin (address and user agent) before it is stored, so the store never
/// writes them in clear. Provided by the services, which hold the keys; called inside the append
/// transaction, so it must not wait on anything.
pub trait AuditSealer: Send + Sync {
    fn seal_origin(&self, enterprise: Option<EnterpriseId>, seq: i64, origin: &Origin) -> SealedOrigin;
}

/// Which events an audit report asks for, beyond the enterprise and the page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The blind index of one address.
    pub ip_index: Option<Vec<u8>>,
    /// The blind index of a network (/24 or /64).
    pub network_index: Option<Vec<u8>>,
}

/// The append-only, hash-chained audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Installs the sealer every later append uses. Until one is installed, an event that
    /// carries an origin is refused rather than written in clear.
    fn install_audit_sealer(&self, sealer: Arc<dyn AuditSealer>);
    /// Appends a standalone event (e.g. a failed sign-in, which changes nothing else).
    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditEvent>;
    /// Events with `seq > after`, ascending, at most `limit`. The chain verifier pages with this.
    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>>;
    /// One enterprise's events matching `filter` with `seq < before`, newest first.
    async fn enterprise_audit(
        &self,
        enterprise: EnterpriseId,
        filter: &AuditFilter,
        before: i64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>>;
    async fn audit_count(&self) -> Result<i64>;
}

/// Links a draft into the chain after `prev`: the one place the next `seq`, the sealed origin and
/// the hash are derived, used by both backends inside their append transaction. The returned
/// event's draft has its clear origin removed: only the sealed form is stored.
pub fn link_audit(
    draft: &AuditDraft,
    prev: Option<(i64, [u8; 32])>,
    sealer: Option<&dyn AuditSealer>,
    hash: impl Fn(&[u8]) -> [u8; 32],
) -> Result<AuditEvent> {
    debug_assert!(
        draft.undeclared_detail_fields().is_empty(),
        "audit action {} carries detail fields its catalogue entry does not declare: {:?}",
        draft.action,
        draft.undeclared_detail_fields()
    );
    let (prev_seq, prev_hash) = prev.unwrap_or((0, domain::audit::GENESIS_HASH));
    let seq = prev_seq + 1;
    let empty = draft.origin.ip.is_none() && draft.origin.user_agent.is_none();
    let sealed = match sealer {
        Some(sealer) => sealer.seal_origin(draft.enterprise_id, seq, &draft.origin),
        None if empty => SealedOrigin::default(),
        None => {
            return Err(crate::Error::Other(
                "an audit event with an origin cannot be stored before the audit sealer is installed".into(),
            ))
        }
    };
    let stored = AuditDraft { origin: Origin::default(), ..draft.clone() };
    let canonical = stored.canonical_bytes_sealed(seq, &prev_hash, &sealed);
    Ok(AuditEvent { seq, draft: stored, sealed_origin: Some(sealed), prev_hash, hash: hash(&canonical) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::audit::{Action, Actor};

    #[test]
    fn an_origin_is_never_linked_without_a_sealer() {
        let plain = AuditDraft::new(Action::UserCreate, Actor::Operator, Origin::default());
        assert!(link_audit(&plain, None, None, |_| [0; 32]).is_ok(), "an event with no origin needs no key");
        let with_origin = AuditDraft::new(
            Action::UserCreate,
            Actor::Operator,
            Origin { ip: Some("192.0.2.1".into()), user_agent: None },
        );
        assert!(link_audit(&with_origin, None, None, |_| [0; 32]).is_err());
    }
}

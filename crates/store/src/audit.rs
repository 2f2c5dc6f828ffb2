//! The append-only, hash-chained audit log (L1, L3).

use async_trait::async_trait;
use domain::audit::{AuditDraft, AuditEvent};
use domain::EnterpriseId;

use crate::Result;

/// The append-only, hash-chained audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends a standalone event (e.g. a failed sign-in, which changes nothing else).
    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditEvent>;
    /// Events with `seq > after`, ascending, at most `limit`. The chain verifier pages with this.
    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>>;
    /// One enterprise's events with `seq < before`, newest first.
    async fn enterprise_audit(&self, enterprise: EnterpriseId, before: i64, limit: u32) -> Result<Vec<AuditEvent>>;
    async fn audit_count(&self) -> Result<i64>;
}

/// Links a draft into the chain after `prev`: the one place the next `seq` and hash are derived,
/// used by both backends inside their append transaction.
pub fn link_audit(draft: &AuditDraft, prev: Option<(i64, [u8; 32])>, hash: impl Fn(&[u8]) -> [u8; 32]) -> AuditEvent {
    debug_assert!(
        draft.undeclared_detail_fields().is_empty(),
        "audit action {} carries detail fields its catalogue entry does not declare: {:?}",
        draft.action,
        draft.undeclared_detail_fields()
    );
    let (prev_seq, prev_hash) = prev.unwrap_or((0, domain::audit::GENESIS_HASH));
    let seq = prev_seq + 1;
    let canonical = draft.canonical_bytes(seq, &prev_hash);
    AuditEvent { seq, draft: draft.clone(), prev_hash, hash: hash(&canonical) }
}

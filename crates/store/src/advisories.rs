//! Security advisories (D6): drafts with versions, the finder's agreement as evidence, and the
//! published record.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, ReportId};

use crate::{ReportTransitionRow, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdvisoryRow {
    pub id: uuid::Uuid,
    pub enterprise_id: EnterpriseId,
    pub report_id: ReportId,
    /// Such as `CONCLAVE-2026-0001`; unique in the enterprise, assigned at the first save.
    pub public_id: String,
    /// 1 for the first draft, one more at each save.
    pub version: i64,
    pub draft_ct: Vec<u8>,
    pub draft_sha256: Vec<u8>,
    /// `YYYY-MM-DD`.
    pub publish_on: String,
    pub consent_version: Option<i64>,
    pub consent_sha256: Option<Vec<u8>>,
    pub consent_at: Option<Millis>,
    pub published_at: Option<Millis>,
    pub published_json: Option<String>,
    pub override_reason: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What publishing writes: the version that was read, the public record, the override's reason
/// when the finder did not agree, and the report's move to disclosed.
#[derive(Clone, Debug)]
pub struct AdvisoryPublication<'a> {
    pub advisory: uuid::Uuid,
    pub version: i64,
    pub published_json: &'a str,
    pub override_reason: Option<&'a str>,
    pub disclose: &'a ReportTransitionRow,
}

#[async_trait]
pub trait AdvisoryStore: Send + Sync {
    /// Saves a draft: inserts version 1 (with `row.public_id`, or the next free one of the year
    /// when it is empty) or, for the report's existing unpublished advisory, stores the draft as
    /// the next version. `Conflict("advisories.published")` once published; `NotFound` when the
    /// report is not the enterprise's.
    async fn save_advisory_draft(&self, row: &AdvisoryRow, audit: &AuditDraft) -> Result<AdvisoryRow>;
    async fn advisory_of_report(&self, enterprise: EnterpriseId, report: ReportId) -> Result<Option<AdvisoryRow>>;
    /// Records the finder's agreement to `version` if that is still the current version and the
    /// advisory is unpublished; `false` otherwise (nothing written).
    async fn record_advisory_consent(
        &self,
        enterprise: EnterpriseId,
        advisory: uuid::Uuid,
        version: i64,
        draft_sha256: &[u8],
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<bool>;
    /// Publishes the advisory's `version` (refused with `Conflict("advisories.version")` if the draft changed
    /// meanwhile, `Conflict("advisories.published")` if already published) and moves the report
    /// along `publication.disclose` in the same transaction (`Conflict("reports.state")` if it moved on).
    async fn publish_advisory(
        &self,
        enterprise: EnterpriseId,
        publication: &AdvisoryPublication<'_>,
        audit: &AuditDraft,
    ) -> Result<AdvisoryRow>;
    /// Published advisories of the enterprise, newest first.
    async fn published_advisories(&self, enterprise: EnterpriseId) -> Result<Vec<AdvisoryRow>>;
}

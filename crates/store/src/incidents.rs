//! Security incidents (D8): the report, its state, and its timeline of notes, state changes and
//! notices.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::incident::IncidentState;
use domain::{EnterpriseId, Millis, UserId};

use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: uuid::Uuid,
    pub enterprise_id: EnterpriseId,
    /// The member who reported it; `None` for an outsider.
    pub reporter: Option<UserId>,
    /// An outsider's receipt code: keyed hash (finds the row) and argon2id hash (proves it).
    pub receipt_lookup: Option<Vec<u8>>,
    pub receipt_hash: Option<String>,
    pub state: IncidentState,
    /// `domain::incident::IncidentCategory` as stored.
    pub category: String,
    /// The sealed `IncidentReport`.
    pub report_ct: Vec<u8>,
    /// Civil `YYYY-MM-DDTHH:MM`.
    pub occurred_at: String,
    pub notify_within_hours: Option<i64>,
    /// When the team became aware of it.
    pub created_at: Millis,
    pub updated_at: Millis,
    pub closed_at: Option<Millis>,
    pub last_seq: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentEntryRow {
    pub incident_id: uuid::Uuid,
    /// Assigned by the store.
    pub seq: i64,
    /// `note`, `state`, `notice-affected` or `notice-authority`.
    pub kind: String,
    /// Civil, when it happened, if known.
    pub happened_at: Option<String>,
    /// When it was recorded.
    pub learned_at: Millis,
    pub author: Option<UserId>,
    pub body_ct: Vec<u8>,
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    async fn create_incident(&self, incident: &IncidentRow, audit: &AuditDraft) -> Result<()>;
    async fn get_incident(&self, enterprise: EnterpriseId, id: uuid::Uuid) -> Result<Option<IncidentRow>>;
    async fn incident_by_lookup(&self, lookup: &[u8]) -> Result<Option<IncidentRow>>;
    /// Newest first.
    async fn list_incidents(&self, enterprise: EnterpriseId) -> Result<Vec<IncidentRow>>;
    /// Appends to the timeline (the store assigns `seq`); with `state`, moves the incident from
    /// `state.0` to `state.1` in the same transaction (`Conflict("incidents.state")` when it is no
    /// longer in `state.0`). `None` when the incident is not the enterprise's.
    async fn append_incident_entry(
        &self,
        enterprise: EnterpriseId,
        entry: &IncidentEntryRow,
        state: Option<(IncidentState, IncidentState)>,
        audit: &AuditDraft,
    ) -> Result<Option<IncidentEntryRow>>;
    async fn incident_entries(&self, enterprise: EnterpriseId, id: uuid::Uuid) -> Result<Vec<IncidentEntryRow>>;
    /// Sets or clears the notification clock. `false` when the incident is not the enterprise's.
    async fn set_incident_notify_hours(
        &self,
        enterprise: EnterpriseId,
        id: uuid::Uuid,
        hours: Option<i64>,
        audit: &AuditDraft,
    ) -> Result<bool>;
}

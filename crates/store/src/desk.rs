//! The security desk: pages, the organisation's keys, reports and their threads.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, UserId};

use crate::Result;

/// One of the desk's editable public pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeskPageRow {
    pub enterprise_id: EnterpriseId,
    pub page: domain::desk::DeskPage,
    pub markdown: String,
    pub updated_at: Millis,
    pub updated_by: Option<UserId>,
}

/// The organisation's OpenPGP key: the public half in the clear (it is published), the secret
/// half sealed under the enterprise's data key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeskKeyRow {
    /// 40 upper-case hex digits.
    pub fingerprint: String,
    pub enterprise_id: EnterpriseId,
    pub key_id: String,
    pub algorithm: String,
    pub algorithm_id: i64,
    pub bits: i64,
    /// JSON array of the key's user ids.
    pub user_ids: String,
    pub secret_ct: Vec<u8>,
    pub public_armored: String,
    pub public_binary: Vec<u8>,
    /// Unix seconds, from the key itself.
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub added_at: Millis,
    pub active: bool,
    pub retired_at: Option<Millis>,
}

/// A vulnerability report. Everything about the finder and the report is ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    pub id: domain::ReportId,
    pub enterprise_id: EnterpriseId,
    /// Keyed hash of the receipt code: finds the row without scanning.
    pub receipt_lookup: Vec<u8>,
    /// Slow (argon2id) hash of the receipt code: what proves it.
    pub receipt_hash: String,
    pub state: domain::desk::ReportState,
    pub content_ct: Vec<u8>,
    pub was_encrypted: bool,
    pub finder_name_ct: Option<Vec<u8>>,
    pub finder_email_ct: Option<Vec<u8>>,
    /// SHA-256 of the link token that verifies the finder's email; cleared once used.
    pub email_token_hash: Option<Vec<u8>>,
    pub email_verified_at: Option<Millis>,
    pub finder_ip_ct: Option<Vec<u8>>,
    pub credit: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub closed_at: Option<Millis>,
    pub purged_at: Option<Millis>,
    pub last_seq: i64,
    /// Triage (D4): the team member working the report.
    pub assignee: Option<UserId>,
    /// CVSS 3.x and 4.0 vectors as the team set them (the server scores them when read).
    pub cvss_v3: Option<String>,
    pub cvss_v4: Option<String>,
    /// For a duplicate: the report it repeats.
    pub duplicate_of: Option<domain::ReportId>,
    /// When the finder first heard from the team: the first-response clock's goal.
    pub first_response_at: Option<Millis>,
}

/// Who wrote an entry in a report's thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportAuthor {
    Finder,
    Team(UserId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportMessageRow {
    pub id: domain::ReportMessageId,
    pub report_id: domain::ReportId,
    /// Assigned by the store on append.
    pub seq: i64,
    pub author: ReportAuthor,
    pub body_ct: Vec<u8>,
    pub created_at: Millis,
}

/// One state change of a report. `from` is what the writer saw: the store refuses the change
/// (`Conflict`) when the report has moved on meanwhile, so two people cannot both decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportTransitionRow {
    pub report_id: domain::ReportId,
    /// Assigned by the store.
    pub seq: i64,
    pub from: domain::desk::ReportState,
    pub to: domain::desk::ReportState,
    pub actor: ReportAuthor,
    pub at: Millis,
    /// Only with `to` = duplicate: the original report (of the same enterprise).
    pub duplicate_of: Option<domain::ReportId>,
}

/// What the team records while triaging, apart from the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportTriage {
    pub assignee: Option<UserId>,
    pub cvss_v3: Option<String>,
    pub cvss_v4: Option<String>,
}

/// An internal note: the team's alone, never shown to the finder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportNoteRow {
    pub id: domain::ReportMessageId,
    pub report_id: domain::ReportId,
    pub author: UserId,
    pub body_ct: Vec<u8>,
    pub created_at: Millis,
}

/// A reminder (`due-soon`) or escalation (`missed`) sent for one clock of one report; each is
/// recorded once, which is what keeps it from going out twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportReminderRow {
    pub report_id: domain::ReportId,
    pub clock: String,
    pub kind: String,
    pub sent_at: Millis,
}

/// A file attached to a report by the finder or the team; its bytes are sealed on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFileRow {
    pub id: domain::AttachmentId,
    pub report_id: domain::ReportId,
    pub author: ReportAuthor,
    pub name_ct: Vec<u8>,
    pub content_type: String,
    pub size: i64,
    pub created_at: Millis,
}

/// The security desk: pages, the organisation's keys, reports and their threads.
#[async_trait]
pub trait DeskStore: Send + Sync {
    async fn put_desk_page(&self, page: &DeskPageRow, audit: &AuditDraft) -> Result<()>;
    async fn desk_pages(&self, enterprise: EnterpriseId) -> Result<Vec<DeskPageRow>>;
    /// Adds a key; when it is `active`, the previously active key is retired in the same
    /// transaction. `Conflict` when the fingerprint is already stored.
    async fn add_desk_key(&self, key: &DeskKeyRow, audit: &AuditDraft) -> Result<()>;
    /// Every key of the enterprise, newest first (retired ones still decrypt old reports).
    async fn desk_keys(&self, enterprise: EnterpriseId) -> Result<Vec<DeskKeyRow>>;
    /// Creates the report with the files that came with it, in one transaction.
    async fn create_report(&self, report: &ReportRow, files: &[ReportFileRow], audit: &AuditDraft) -> Result<()>;
    /// Adds files to an existing report (`NotFound` if it does not exist) and touches `updated_at`.
    async fn add_report_files(
        &self,
        enterprise: EnterpriseId,
        files: &[ReportFileRow],
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn report_files(&self, enterprise: EnterpriseId, report: domain::ReportId) -> Result<Vec<ReportFileRow>>;
    async fn report_by_lookup(&self, lookup: &[u8]) -> Result<Option<ReportRow>>;
    async fn get_report(&self, enterprise: EnterpriseId, id: domain::ReportId) -> Result<Option<ReportRow>>;
    /// Newest first.
    async fn list_reports(&self, enterprise: EnterpriseId) -> Result<Vec<ReportRow>>;
    /// Appends to the thread (the store assigns `seq`) and touches the report's `updated_at`; a
    /// team message sets `first_response_at` if unset.
    async fn append_report_message(
        &self,
        enterprise: EnterpriseId,
        message: &ReportMessageRow,
        audit: &AuditDraft,
    ) -> Result<ReportMessageRow>;
    async fn report_messages(
        &self,
        enterprise: EnterpriseId,
        report: domain::ReportId,
    ) -> Result<Vec<ReportMessageRow>>;
    /// Marks the finder's email verified by the token's hash (once: the token is cleared).
    /// Confirms the finder's address by the mailed token, if the report was made at or after
    /// `made_after` (older links have expired).
    async fn verify_report_email(
        &self,
        token_hash: &[u8],
        at: Millis,
        made_after: Millis,
        audit: &AuditDraft,
    ) -> Result<Option<ReportRow>>;
    /// Replaces the report's status-link token (mailed to a verified finder); older links stop working.
    async fn set_report_access_token(
        &self,
        enterprise: EnterpriseId,
        report: domain::ReportId,
        token_hash: &[u8],
    ) -> Result<()>;
    async fn report_by_access_token(&self, token_hash: &[u8]) -> Result<Option<ReportRow>>;
    /// Moves the report from `change.from` to `change.to` and records the transition; sets
    /// `closed_at` on entering a final state and clears it on reopening, sets `duplicate_of`, and
    /// (when the team moves it to a state the finder is told of) `first_response_at` if unset.
    /// `None` when the report does not exist in this enterprise; `Conflict("reports.state")` when
    /// its state is no longer `change.from`.
    async fn set_report_state(
        &self,
        enterprise: EnterpriseId,
        change: &ReportTransitionRow,
        audit: &AuditDraft,
    ) -> Result<Option<ReportRow>>;
    /// The transitions of one report, or of every report of the enterprise, by report and seq.
    async fn report_transitions(
        &self,
        enterprise: EnterpriseId,
        report: Option<domain::ReportId>,
    ) -> Result<Vec<ReportTransitionRow>>;
    /// Sets assignee and CVSS vectors. `None` when the report does not exist in this enterprise.
    async fn set_report_triage(
        &self,
        enterprise: EnterpriseId,
        report: domain::ReportId,
        triage: &ReportTriage,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<Option<ReportRow>>;
    /// `NotFound` when the report does not exist in this enterprise.
    async fn add_report_note(&self, enterprise: EnterpriseId, note: &ReportNoteRow, audit: &AuditDraft) -> Result<()>;
    /// Oldest first.
    async fn report_notes(&self, enterprise: EnterpriseId, report: domain::ReportId) -> Result<Vec<ReportNoteRow>>;
    /// Records the reminder unless one of its kind was recorded for the clock before; `true` when
    /// this call recorded it (and so should send it). The audit goes with it.
    async fn record_report_reminder(
        &self,
        enterprise: EnterpriseId,
        reminder: &ReportReminderRow,
        audit: &AuditDraft,
    ) -> Result<bool>;
    /// Every reminder of the enterprise's reports, newest first, at most `limit`.
    async fn report_reminders(&self, enterprise: EnterpriseId, limit: u32) -> Result<Vec<ReportReminderRow>>;
    /// Deletes finder contact data (email, IP, tokens, and the name unless they asked for public
    /// credit) of the enterprise's reports closed before `closed_before`, with `audit` in the same
    /// transaction when any was purged. Returns how many reports were purged.
    async fn purge_finder_data(
        &self,
        enterprise: EnterpriseId,
        closed_before: Millis,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<u64>;
}

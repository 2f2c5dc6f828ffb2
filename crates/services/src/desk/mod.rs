//! The security desk, public side (D1–D3, D5, D7): the pages, the organisation's OpenPGP key,
//! security.txt, report intake from outsiders, the finder's status page and thread, and the
//! security team's inbox.
//!
//! Invariants:
//! - Everything a finder sends (the report, their name, email and, only if the team turned it on,
//!   IP address) is sealed under the desk enterprise's data key, bound to the report's row.
//! - The receipt code is never stored: a keyed hash finds the row, a slow hash proves the code.
//!   A wrong code and a malformed one get the same answer, after the same slow check.
//! - Reports, finder details and keys are for the security role of the desk's enterprise only.

pub mod calendar;
pub mod defaults;
pub mod disclosure;
pub mod exports;
pub mod files;
mod finder;
mod inbox;
pub mod incidents;
mod intake;
mod keys;
pub mod markdown;
mod pages;
pub mod triage;

use crate::{draft, Caller, Error, Result};
pub use crypto::openpgp::{wkd_hash, KeyAlgorithm};
use crypto::openpgp::{OrgKey, PgpError};
use crypto::Aad;
use domain::audit::{Action, AuditDraft, Origin};
use domain::desk::{DeskPage, ReportContent, ReportInput, ReportState};
use domain::{EnterpriseId, FieldError, Millis, ReportId, ReportMessageId, Role, Rule};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The security desk: its keys and pages, reports from finders, the team's inbox.
pub struct Desk {
    core: Arc<crate::core::Core>,
    desk_store: Arc<dyn store::DeskStore>,
    policy_store: Arc<dyn store::PolicyStore>,
    directory_store: Arc<dyn store::DirectoryStore>,
    advisory_store: Arc<dyn store::AdvisoryStore>,
    incident_store: Arc<dyn store::IncidentStore>,
}

impl Desk {
    /// Tells every member of the security team, wherever they are connected, that a report
    /// arrived or changed, so open inboxes update without a reload.
    pub(crate) async fn announce_to_team(&self, enterprise: EnterpriseId, report: domain::ReportId) {
        let team = match self.directory_store.list_users(enterprise).await {
            Ok(users) => {
                users.into_iter().filter(|u| !u.disabled && u.roles.has(domain::Role::Security)).map(|u| u.id).collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not tell the security team about a report");
                return;
            }
        };
        match self.core.keys.enterprise_key(enterprise).await {
            Ok(key) => {
                let event = crate::protocol::Event::DeskReportChanged { report_id: report };
                self.core.publish(enterprise, &key, "desk.reports", team, event).await;
            }
            Err(e) => tracing::warn!(error = %e, "could not tell the security team about a report"),
        }
    }

    pub(crate) fn new(core: Arc<crate::core::Core>, store: &Arc<dyn store::Store>) -> Desk {
        Desk {
            core,
            desk_store: store.clone(),
            policy_store: store.clone(),
            directory_store: store.clone(),
            advisory_store: store.clone(),
            incident_store: store.clone(),
        }
    }
}

/// How a finder proves a report is theirs: the receipt code, or the status link from a notice
/// mailed to their verified address.
#[derive(Clone, Copy, Debug)]
pub enum FinderCredential<'a> {
    ReceiptCode(&'a str),
    StatusLink(&'a str),
}

/// Keys are considered for warnings this long before they expire (D2).
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// security.txt must not claim validity for more than a year (RFC 9116 recommends less).
const SECURITY_TXT_DAYS: i64 = 180;

/// The organisation's key, as the console and the public pages show it.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct DeskKeyView {
    pub fingerprint: String,
    pub key_id: String,
    pub algorithm: String,
    pub user_ids: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// The key new reports are encrypted to; older keys only decrypt old reports.
    pub active: bool,
    /// Expires within 30 days (or has expired): generate or import a new key.
    pub expiry_warning: bool,
}

/// What the security team decided about finders' data (D7).
#[derive(Clone, Debug, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeskPolicy {
    /// Keep a sealed copy of each finder's IP address with new reports.
    pub store_finder_ip: bool,
    /// Days after a report closes before the finder's contact data is deleted (1 to 3650).
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: u32,
}

/// The active key with its published forms.
#[derive(Clone, Debug)]
pub struct PublishedKey {
    pub view: DeskKeyView,
    pub algorithm_id: i64,
    pub bits: i64,
    pub created_unix: i64,
    pub expires_unix: Option<i64>,
    pub armored: String,
    pub binary: Vec<u8>,
    /// Its subkeys' fingerprints: a key server is asked by these too.
    pub subkey_fingerprints: Vec<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DeskPageView {
    #[schema(value_type = String)]
    pub page: DeskPage,
    pub markdown: String,
    /// Safe HTML rendered from the Markdown.
    pub html: String,
    /// `None` while the shipped default text is shown.
    pub updated_at: Option<String>,
}

/// What a finder gets once, on submitting.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// Shown once: the server keeps only hashes of it.
    pub receipt_code: String,
    pub submitted_at: String,
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct ThreadEntry {
    /// `finder` or `security-team`.
    pub from: String,
    pub body: String,
    pub at: String,
}

/// The finder's view of their report (D5): no internal detail, no other finder's data.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinderReportView {
    pub title: String,
    #[schema(value_type = String)]
    pub state: ReportState,
    pub state_explained: String,
    pub expected_timeframe: String,
    pub submitted_at: String,
    pub updated_at: String,
    pub thread: Vec<ThreadEntry>,
    pub files: Vec<files::ReportFileView>,
    /// The team's advisory draft, once there is one: the finder reads it and may agree.
    pub advisory: Option<disclosure::FinderAdvisoryView>,
    /// The finder may still withdraw the report.
    pub can_withdraw: bool,
}

/// One line of the desk's inbox.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportSummary {
    #[schema(value_type = String, format = Uuid)]
    pub id: ReportId,
    pub title: String,
    #[schema(value_type = String)]
    pub state: ReportState,
    /// The state as people read it.
    pub state_label: String,
    pub was_encrypted: bool,
    pub submitted_at: String,
    pub updated_at: String,
    pub messages: i64,
    /// From the CVSS 4.0 vector where there is one, else 3.x; absent while unscored.
    pub severity: Option<String>,
    pub score: Option<f64>,
    /// The assignee's name.
    pub assignee: Option<String>,
    /// The soonest due time among the running clocks of an open report.
    pub next_due_at: Option<String>,
    /// A clock is overdue or within the reminder margin.
    pub at_risk: bool,
}

/// A state the team may move a report to, with its name for people.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StateChoice {
    #[schema(value_type = String)]
    pub state: ReportState,
    pub label: String,
}

/// A report as the security team sees it, decrypted.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ReportId,
    #[schema(value_type = String)]
    pub state: ReportState,
    pub state_label: String,
    /// The states the team may move the report to from this one.
    pub state_choices: Vec<StateChoice>,
    /// For a duplicate: the report it repeats.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub duplicate_of: Option<ReportId>,
    pub assignee: Option<triage::TeamMemberView>,
    pub cvss_v3: Option<triage::CvssView>,
    pub cvss_v4: Option<triage::CvssView>,
    /// From the 4.0 vector where there is one, else 3.x.
    pub severity: Option<String>,
    /// First response, triage and resolution, in working days of the desk's calendar.
    pub clocks: Vec<triage::ClockView>,
    /// Every state change, oldest first.
    pub history: Vec<triage::TransitionView>,
    /// Internal notes: never shown to the finder.
    pub notes: Vec<triage::NoteView>,
    pub title: String,
    pub description: String,
    pub affected_urls: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub timestamps: Vec<String>,
    pub logs: String,
    /// The report arrived encrypted to the organisation's key; `description` holds its plaintext.
    pub was_encrypted: bool,
    pub finder_name: Option<String>,
    pub finder_email: Option<String>,
    pub finder_email_verified: bool,
    /// Only when the desk keeps finders' IP addresses (off by default).
    pub finder_ip: Option<String>,
    pub credit: bool,
    pub submitted_at: String,
    pub updated_at: String,
    pub thread: Vec<ThreadEntry>,
    pub files: Vec<files::ReportFileView>,
}

fn report_aad<'a>(row: &'a str, column: &'a str) -> Aad<'a> {
    Aad { table: "reports", row, column }
}

/// How long the address-confirmation link in the first mail works.
const EMAIL_LINK_DAYS: i64 = 7;

fn pgp_field_error(field: &str, e: PgpError) -> Error {
    Error::Invalid(FieldError::new(field, Rule::InvalidValue, e.to_string()))
}

/// Finders are anonymous to the audit trail: it records that something happened to a report,
/// never who did it or from where.
fn anonymous_draft(enterprise: EnterpriseId, action: Action, report: ReportId) -> domain::audit::AuditDraft {
    domain::audit::AuditDraft {
        enterprise_id: Some(enterprise),
        target: Some(format!("report:{report}")),
        ..domain::audit::AuditDraft::new(action, domain::audit::Actor::Anonymous, Origin::default())
    }
}

fn unix_rfc3339(secs: i64) -> String {
    Millis(secs * 1000).rfc3339()
}

fn key_view(row: &store::DeskKeyRow, now_unix: i64) -> DeskKeyView {
    DeskKeyView {
        fingerprint: row.fingerprint.clone(),
        key_id: row.key_id.clone(),
        algorithm: row.algorithm.clone(),
        user_ids: serde_json::from_str(&row.user_ids).unwrap_or_default(),
        created_at: unix_rfc3339(row.created_at),
        expires_at: row.expires_at.map(unix_rfc3339),
        active: row.active,
        expiry_warning: row.expires_at.is_some_and(|e| e - now_unix <= EXPIRY_WARNING_DAYS * 86_400),
    }
}

fn now_unix() -> i64 {
    Millis::now().0 / 1000
}

/// What the finder is told to expect, by state.
/// What the finder is told to expect, by state, from the desk's own clock settings.
fn timeframe(state: ReportState, clocks: &domain::desk_clock::ClockSettings) -> String {
    let days = |n: u32| if n == 1 { "1 working day".to_owned() } else { format!("{n} working days") };
    let r = &clocks.resolution_days;
    match state {
        ReportState::New | ReportState::Acknowledged => {
            format!("A first answer within {} of your report.", days(clocks.first_response_days))
        }
        ReportState::Triaging | ReportState::NeedsInfo => {
            format!("An assessment within {} of your report.", days(clocks.triage_days))
        }
        ReportState::Accepted | ReportState::Fixing => format!(
            "A fix within {} of acceptance for critical problems, {} for high, {} for medium and {} for low ones.",
            days(r.critical),
            days(r.high),
            days(r.medium),
            days(r.low)
        ),
        _ => "Nothing further is planned for this report.".to_owned(),
    }
}

impl Desk {
    /// The enterprise whose security team runs the public desk.
    pub async fn desk_enterprise(&self) -> Result<EnterpriseId> {
        if let Some(e) = self.core.settings.desk.enterprise {
            return Ok(e);
        }
        let enterprises = self.directory_store.list_enterprises().await?;
        enterprises.iter().min_by_key(|e| e.created_at).map(|e| e.id).ok_or(Error::NotFound("security desk"))
    }

    /// Passes for the operator and for the security role of the desk's enterprise.
    async fn require_security_team(&self, caller: &Caller, action: Action) -> Result<EnterpriseId> {
        let enterprise = self.desk_enterprise().await?;
        match caller {
            Caller::Operator | Caller::System => Ok(enterprise),
            Caller::User(p) if p.enterprise_id == enterprise && p.has(Role::Security) => Ok(enterprise),
            Caller::User(_) => Err(self.core.deny(caller, action, Some(enterprise), "security-team", None).await),
        }
    }

    // ---- Finders' data (D7) ----

    async fn desk_policy_of(&self, enterprise: EnterpriseId) -> Result<DeskPolicy> {
        Ok(match self.policy_store.policy_document(enterprise, store::kinds::DESK).await? {
            Some(row) => {
                serde_json::from_str(&row.document).map_err(|e| Error::Internal(format!("stored desk policy: {e}")))?
            }
            None => DeskPolicy {
                store_finder_ip: self.core.settings.desk.store_finder_ip,
                retention_days: self.core.settings.desk.retention_days,
            },
        })
    }

    pub async fn desk_policy(&self, caller: &Caller) -> Result<DeskPolicy> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        self.desk_policy_of(enterprise).await
    }

    pub async fn put_desk_policy(&self, caller: &Caller, origin: &Origin, policy: &DeskPolicy) -> Result<DeskPolicy> {
        let enterprise = self.require_security_team(caller, Action::DeskSettingsUpdate).await?;
        if !(1..=3650).contains(&policy.retention_days) {
            return Err(Error::Invalid(FieldError::new(
                "retention_days",
                Rule::InvalidValue,
                "must be 1 to 3650 days",
            )));
        }
        let json = serde_json::to_string(policy).expect("a desk policy serialises");
        let audit = AuditDraft {
            detail: json.clone(),
            ..draft(caller, origin, Some(enterprise), Action::DeskSettingsUpdate, None)
        };
        crate::core::policies::replace(
            &*self.policy_store,
            caller,
            enterprise,
            store::kinds::DESK,
            &json,
            None,
            &audit,
        )
        .await?;
        Ok(policy.clone())
    }
}

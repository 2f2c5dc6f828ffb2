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

pub mod defaults;
pub mod files;
pub mod markdown;

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
    directory_store: Arc<dyn store::DirectoryStore>,
}

impl Desk {
    pub(crate) fn new(core: Arc<crate::core::Core>, store: &Arc<dyn store::Store>) -> Desk {
        Desk { core, desk_store: store.clone(), directory_store: store.clone() }
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
}

/// One line of the desk's inbox.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportSummary {
    #[schema(value_type = String, format = Uuid)]
    pub id: ReportId,
    pub title: String,
    #[schema(value_type = String)]
    pub state: ReportState,
    pub was_encrypted: bool,
    pub submitted_at: String,
    pub updated_at: String,
    pub messages: i64,
}

/// A report as the security team sees it, decrypted.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ReportId,
    #[schema(value_type = String)]
    pub state: ReportState,
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
fn timeframe(state: ReportState) -> &'static str {
    match state {
        ReportState::New | ReportState::Acknowledged => "A first answer within 3 working days of your report.",
        ReportState::Triaging | ReportState::NeedsInfo => "An assessment within 10 working days of your report.",
        ReportState::Accepted | ReportState::Fixing => {
            "Critical and high-severity problems are fixed within 30 days of acceptance, others within 90 days."
        }
        _ => "Nothing further is planned for this report.",
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
        Ok(match self.desk_store.desk_settings(enterprise).await? {
            Some(row) => DeskPolicy { store_finder_ip: row.store_finder_ip, retention_days: row.retention_days as u32 },
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
        let row = store::DeskSettingsRow {
            enterprise_id: enterprise,
            store_finder_ip: policy.store_finder_ip,
            retention_days: i64::from(policy.retention_days),
            updated_at: Millis::now(),
        };
        let audit = AuditDraft {
            detail: serde_json::json!({ "store_finder_ip": policy.store_finder_ip, "retention_days": policy.retention_days })
                .to_string(),
            ..draft(caller, origin, Some(enterprise), Action::DeskSettingsUpdate, None)
        };
        self.desk_store.put_desk_settings(&row, &audit).await?;
        Ok(policy.clone())
    }

    // ---- The organisation's key (D2) ----

    /// Generates the organisation's key and makes it the active one; the previous key stays to
    /// decrypt reports sent to it.
    pub async fn generate_desk_key(
        &self,
        caller: &Caller,
        origin: &Origin,
        user_id: &str,
        algorithm: KeyAlgorithm,
        valid_days: u32,
    ) -> Result<DeskKeyView> {
        let enterprise = self.require_security_team(caller, Action::DeskKeyGenerate).await?;
        let user_id = user_id.trim();
        if user_id.is_empty() || user_id.len() > 200 || user_id.chars().any(char::is_control) {
            return Err(Error::Invalid(FieldError::new(
                "user_id",
                Rule::InvalidValue,
                "give a name and address such as: Security Team <security@example.org>",
            )));
        }
        if !(1..=3 * 365).contains(&valid_days) {
            return Err(Error::Invalid(FieldError::new("valid_days", Rule::InvalidValue, "must be 1 to 1095 days")));
        }
        let owned = user_id.to_owned();
        let key = tokio::task::spawn_blocking(move || OrgKey::generate(&owned, algorithm, valid_days))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.store_desk_key(caller, origin, enterprise, &key, Action::DeskKeyGenerate).await
    }

    /// Imports an existing secret key (Ed25519/Cv25519, RSA, ...), checked for fitness first.
    pub async fn import_desk_key(&self, caller: &Caller, origin: &Origin, armored: &str) -> Result<DeskKeyView> {
        let enterprise = self.require_security_team(caller, Action::DeskKeyImport).await?;
        if armored.len() > 64 * 1024 {
            return Err(Error::Invalid(FieldError::new("armored_key", Rule::TooLong, "must be at most 64 KiB")));
        }
        let text = armored.to_owned();
        let key = tokio::task::spawn_blocking(move || OrgKey::import(&text, now_unix()))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| pgp_field_error("armored_key", e))?;
        self.store_desk_key(caller, origin, enterprise, &key, Action::DeskKeyImport).await
    }

    async fn store_desk_key(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        key: &OrgKey,
        action: Action,
    ) -> Result<DeskKeyView> {
        let info = key.info();
        let data_key = self.core.keys.enterprise_key(enterprise).await?;
        let secret = zeroize::Zeroizing::new(key.secret_armored());
        let row = store::DeskKeyRow {
            fingerprint: info.fingerprint.clone(),
            enterprise_id: enterprise,
            key_id: info.key_id.clone(),
            algorithm: info.algorithm.clone(),
            algorithm_id: i64::from(info.algorithm_id),
            bits: i64::from(info.bits),
            user_ids: serde_json::to_string(&info.user_ids).expect("strings serialise"),
            secret_ct: data_key
                .seal(secret.as_bytes(), Aad { table: "desk_keys", row: &info.fingerprint, column: "secret" }),
            public_armored: key.public_armored(),
            public_binary: key.public_binary(),
            created_at: info.created_at,
            expires_at: info.expires_at,
            added_at: Millis::now(),
            active: true,
            retired_at: None,
        };
        let audit = draft(caller, origin, Some(enterprise), action, Some(format!("pgp-key:{}", info.fingerprint)));
        self.desk_store.add_desk_key(&row, &audit).await.map_err(|e| match e {
            store::Error::Conflict(_) => {
                Error::Conflict(FieldError::new("armored_key", Rule::Duplicate, "this key is already on the desk"))
            }
            e => e.into(),
        })?;
        Ok(key_view(&row, now_unix()))
    }

    pub async fn list_desk_keys(&self, caller: &Caller) -> Result<Vec<DeskKeyView>> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let now = now_unix();
        Ok(self.desk_store.desk_keys(enterprise).await?.iter().map(|k| key_view(k, now)).collect())
    }

    /// The active public key, if the desk has one (public: security.txt, HKP, WKD, the pages).
    pub async fn published_key(&self) -> Result<Option<PublishedKey>> {
        let Ok(enterprise) = self.desk_enterprise().await else { return Ok(None) };
        let now = now_unix();
        Ok(self.desk_store.desk_keys(enterprise).await?.into_iter().find(|k| k.active).map(|k| PublishedKey {
            view: key_view(&k, now),
            algorithm_id: k.algorithm_id,
            bits: k.bits,
            created_unix: k.created_at,
            expires_unix: k.expires_at,
            armored: k.public_armored,
            binary: k.public_binary,
        }))
    }

    /// Every secret key of the desk, newest first, unsealed (to decrypt reports).
    async fn desk_secret_keys(&self, enterprise: EnterpriseId) -> Result<Vec<OrgKey>> {
        let data_key = self.core.keys.enterprise_key(enterprise).await?;
        let mut keys = Vec::new();
        for row in self.desk_store.desk_keys(enterprise).await? {
            let secret = zeroize::Zeroizing::new(
                data_key.open(&row.secret_ct, Aad { table: "desk_keys", row: &row.fingerprint, column: "secret" })?,
            );
            let text = std::str::from_utf8(&secret).map_err(|_| Error::Internal("a stored key is not text".into()))?;
            keys.push(OrgKey::from_secret_armor(text).map_err(|e| Error::Internal(e.to_string()))?);
        }
        Ok(keys)
    }

    // ---- security.txt (RFC 9116) ----

    /// The security.txt body for this server's public URL, cleartext-signed with the active key
    /// when there is one. Whatever host a request named, the content is the same.
    pub async fn security_txt(&self) -> Result<String> {
        let desk = &self.core.settings.desk;
        let base = self.links_base();
        let expires = Millis(Millis::now().0 + SECURITY_TXT_DAYS * 86_400_000);
        // RFC 9116 wants an Internet date-time; whole seconds read best.
        let expires = expires.rfc3339().split('.').next().unwrap_or_default().trim_end_matches('Z').to_owned() + "Z";
        let mut lines = vec![
            "# Security contact for this Conclave installation (RFC 9116).".to_owned(),
            format!("Contact: {base}/security/report"),
        ];
        if let Some(email) = &desk.contact_email {
            lines.push(format!("Contact: mailto:{email}"));
        }
        lines.push(format!("Expires: {expires}"));
        let key = self.published_key().await?;
        if key.is_some() {
            lines.push(format!("Encryption: {base}/security/key.asc"));
        }
        lines.push(format!("Acknowledgments: {base}/security#hall-of-fame"));
        lines.push(format!("Policy: {base}/security"));
        if desk.canonical_urls.is_empty() {
            lines.push(format!("Canonical: {base}/.well-known/security.txt"));
        } else {
            for url in &desk.canonical_urls {
                lines.push(format!("Canonical: {url}"));
            }
        }
        lines.push(format!("Preferred-Languages: {}", desk.preferred_languages));
        let body = lines.join("\n") + "\n";
        let Some(_) = key else { return Ok(body) };
        let enterprise = self.desk_enterprise().await?;
        let active = self.desk_secret_keys(enterprise).await?.into_iter().next().ok_or(Error::NotFound("key"))?;
        Ok(active.clearsign(&body))
    }

    // ---- Pages (D1) ----

    pub async fn desk_page(&self, page: DeskPage) -> Result<DeskPageView> {
        let stored = match self.desk_enterprise().await {
            Ok(enterprise) => self.desk_store.desk_pages(enterprise).await?.into_iter().find(|p| p.page == page),
            Err(_) => None,
        };
        let (markdown, updated_at) = match stored {
            Some(row) => (row.markdown, Some(row.updated_at.rfc3339())),
            None => (defaults::page(page).to_owned(), None),
        };
        Ok(DeskPageView { page, html: markdown::render(&markdown), markdown, updated_at })
    }

    pub async fn put_desk_page(
        &self,
        caller: &Caller,
        origin: &Origin,
        page: DeskPage,
        source: &str,
    ) -> Result<DeskPageView> {
        let enterprise = self.require_security_team(caller, Action::DeskPageUpdate).await?;
        markdown::validate("markdown", source).map_err(Error::Invalid)?;
        let row = store::DeskPageRow {
            enterprise_id: enterprise,
            page,
            markdown: source.to_owned(),
            updated_at: Millis::now(),
            updated_by: match caller {
                Caller::User(p) => Some(p.user_id),
                Caller::Operator | Caller::System => None,
            },
        };
        let audit =
            draft(caller, origin, Some(enterprise), Action::DeskPageUpdate, Some(format!("page:{}", page.as_str())));
        self.desk_store.put_desk_page(&row, &audit).await?;
        self.desk_page(page).await
    }

    /// Finders who asked to be credited, for reports the team accepted.
    pub async fn hall_of_fame(&self) -> Result<Vec<String>> {
        let Ok(enterprise) = self.desk_enterprise().await else { return Ok(Vec::new()) };
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let mut names = Vec::new();
        for r in self.desk_store.list_reports(enterprise).await? {
            let credited = matches!(
                r.state,
                ReportState::Accepted | ReportState::Fixing | ReportState::Resolved | ReportState::Disclosed
            );
            if let (true, true, Some(ct)) = (credited, r.credit, &r.finder_name_ct) {
                let name = key.open_str(ct, report_aad(&r.id.to_string(), "finder_name"))?;
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    // ---- Intake (D3) ----

    /// Takes a report from anyone. Returns the receipt code, shown once. Links in mails point at
    /// the configured public URL.
    pub async fn submit_report(&self, origin: &Origin, input: &ReportInput) -> Result<Receipt> {
        self.submit_report_with_files(origin, input, Vec::new()).await
    }

    /// [`Desk::submit_report`] with files staged by [`Desk::stage_desk_file`]; they are
    /// recorded with the report in one transaction, or removed if the report is refused.
    pub async fn submit_report_with_files(
        &self,
        origin: &Origin,
        input: &ReportInput,
        mut staged: Vec<files::StagedFile>,
    ) -> Result<Receipt> {
        let result = self.submit(origin, input, &staged).await;
        match &result {
            Ok(_) => files::keep_all(&mut staged),
            Err(_) => self.discard_staged(staged).await,
        }
        result
    }

    async fn submit(&self, origin: &Origin, input: &ReportInput, staged: &[files::StagedFile]) -> Result<Receipt> {
        let mut content = input.validate().map_err(Error::Invalid)?;
        let name = domain::desk::finder_name(&input.name).map_err(Error::Invalid)?;
        let email = if input.email.trim().is_empty() {
            None
        } else {
            Some(domain::validate::email("email", &input.email).map_err(Error::Invalid)?)
        };
        if input.credit && name.is_none() {
            return Err(Error::Invalid(FieldError::new(
                "name",
                Rule::Required,
                "give the name to credit, or leave the credit box unticked",
            )));
        }
        let enterprise = self.desk_enterprise().await?;
        if let Some(armored) = content.encrypted.take() {
            content.description = self.decrypt_report(enterprise, &armored).await?;
            content.encrypted = None;
        }
        let was_encrypted = !input.encrypted.trim().is_empty();
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let id = ReportId::new();
        let row_id = id.to_string();
        let code = domain::desk::receipt_code_from(&crypto::token::random_128());
        let receipt_hash = self.core.hash_password(&code).await?;
        let now = Millis::now();
        let content_json = zeroize::Zeroizing::new(serde_json::to_vec(&content).expect("content serialises"));
        let email_token = email.as_ref().map(|_| crypto::token::generate());
        let row = store::ReportRow {
            id,
            enterprise_id: enterprise,
            receipt_lookup: self.core.keys.receipt_index(&code),
            receipt_hash,
            state: ReportState::New,
            content_ct: key.seal(&content_json, report_aad(&row_id, "content")),
            was_encrypted,
            finder_name_ct: name.as_ref().map(|n| key.seal_str(n, report_aad(&row_id, "finder_name"))),
            finder_email_ct: email.as_ref().map(|e| key.seal_str(e, report_aad(&row_id, "finder_email"))),
            email_token_hash: email_token.as_deref().map(crypto::token::hash),
            email_verified_at: None,
            finder_ip_ct: match (&origin.ip, self.desk_policy_of(enterprise).await?.store_finder_ip) {
                (Some(ip), true) => Some(key.seal_str(ip, report_aad(&row_id, "finder_ip"))),
                _ => None,
            },
            credit: input.credit,
            created_at: now,
            updated_at: now,
            closed_at: None,
            purged_at: None,
            last_seq: 0,
        };
        // The audit trail records that a report arrived, never who sent it or from where.
        let audit = anonymous_draft(enterprise, Action::DeskReportSubmit, id);
        let file_rows = self.file_rows(enterprise, id, store::ReportAuthor::Finder, staged).await?;
        self.desk_store.create_report(&row, &file_rows, &audit).await?;
        if let (Some(email), Some(token)) = (email, email_token) {
            let link = format!("{}/security/verify?token={token}", self.links_base());
            self.send_mail(crate::mail::Mail {
                to: email,
                subject: "Confirm your address for security report notices".to_owned(),
                body: format!(
                    "Someone, probably you, sent a security report and asked for notices at this address.\n\n\
                     To receive them, confirm the address within {EMAIL_LINK_DAYS} days here:\n{link}\n\n\
                     If this was not you, ignore this mail: nothing will be sent to you again.\n"
                ),
            });
        }
        Ok(Receipt { receipt_code: code, submitted_at: now.rfc3339() })
    }

    /// Where links to the public pages point: the configured public URL.
    fn links_base(&self) -> String {
        self.core.settings.desk.public_url.trim_end_matches('/').to_owned()
    }

    /// Sends in the background: a slow relay must not slow the desk down.
    fn send_mail(&self, mail: crate::mail::Mail) {
        let Some(mailer) = self.core.mailer().cloned() else { return };
        tokio::spawn(async move {
            if let Err(e) = mailer.send(mail).await {
                // Never the address: it is the finder's personal data.
                tracing::warn!(error = %e, "a notice to a finder could not be sent");
            }
        });
    }

    /// The finder followed the link in the confirmation mail.
    pub async fn verify_finder_email(&self, token: &str) -> Result<()> {
        let enterprise = self.desk_enterprise().await?;
        // The store finds the report by the token inside its transaction; the event names no report.
        let audit = AuditDraft {
            target: None,
            ..anonymous_draft(enterprise, Action::DeskReportEmailVerified, ReportId::new())
        };
        let now = Millis::now();
        let made_after = Millis(now.0 - EMAIL_LINK_DAYS * 86_400_000);
        match self.desk_store.verify_report_email(&crypto::token::hash(token.trim()), now, made_after, &audit).await? {
            Some(_) => Ok(()),
            None => Err(Error::NotFound("verification link")),
        }
    }

    /// Mails a verified finder that their report changed, with a fresh status link. The mail
    /// says what kind of change it was, never the report's content.
    async fn notify_finder(&self, row: &store::ReportRow, what: &str) -> Result<()> {
        let (Some(email_ct), Some(_), Some(_)) = (&row.finder_email_ct, row.email_verified_at, &self.core.mailer())
        else {
            return Ok(());
        };
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let email = key.open_str(email_ct, report_aad(&row.id.to_string(), "finder_email"))?;
        let token = crypto::token::generate();
        self.desk_store.set_report_access_token(row.id, &crypto::token::hash(&token)).await?;
        let link = format!("{}/security/status?link={token}", self.links_base());
        self.send_mail(crate::mail::Mail {
            to: email,
            subject: "Update on your security report".to_owned(),
            body: format!(
                "{what}\n\nYour report is now: {} ({})\n\nRead it and reply here (this link replaces earlier ones):\n{link}\n\n\
                 You can also use your receipt code on the status page.\n",
                row.state.as_str(),
                row.state.explain()
            ),
        });
        Ok(())
    }

    /// The security team moves a report to another state; a verified finder gets a notice.
    pub async fn set_report_state(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: ReportId,
        state: ReportState,
    ) -> Result<ReportView> {
        let enterprise = self.require_security_team(caller, Action::DeskReportState).await?;
        let audit = AuditDraft {
            detail: serde_json::json!({ "state": state.as_str() }).to_string(),
            ..draft(caller, origin, Some(enterprise), Action::DeskReportState, Some(format!("report:{id}")))
        };
        let row = self
            .desk_store
            .set_report_state(enterprise, id, state, Millis::now(), &audit)
            .await?
            .ok_or(Error::NotFound("report"))?;
        self.notify_finder(&row, "The security team changed the state of your report.").await?;
        self.report_view(&row).await
    }

    /// Deletes finder contact data of reports closed longer ago than the retention period.
    pub async fn purge_closed_reports(&self) -> Result<u64> {
        let Ok(enterprise) = self.desk_enterprise().await else { return Ok(0) };
        let retention = i64::from(self.desk_policy_of(enterprise).await?.retention_days) * 86_400_000;
        let now = Millis::now();
        let closed_before = Millis(now.0 - retention);
        let audit = AuditDraft {
            detail: serde_json::json!({ "closed_before": closed_before.0 }).to_string(),
            ..draft(&Caller::System, &Origin::default(), Some(enterprise), Action::DeskReportPurge, None)
        };
        self.desk_store.purge_finder_data(enterprise, closed_before, now, &audit).await.map_err(Error::from)
    }

    async fn decrypt_report(&self, enterprise: EnterpriseId, armored: &str) -> Result<String> {
        let keys = self.desk_secret_keys(enterprise).await?;
        if keys.is_empty() {
            return Err(Error::Invalid(FieldError::new(
                "encrypted",
                Rule::InvalidValue,
                "this organisation has not published an OpenPGP key yet; send the report unencrypted",
            )));
        }
        let armored = armored.to_owned();
        let result = tokio::task::spawn_blocking(move || {
            let mut last = PgpError::NotForThisKey;
            for key in &keys {
                match key.decrypt(&armored, domain::desk::MAX_DESCRIPTION_BYTES + domain::desk::MAX_LOGS_BYTES) {
                    Ok(bytes) => return Ok(bytes),
                    Err(PgpError::NotForThisKey) => continue,
                    Err(e) => {
                        last = e;
                        break;
                    }
                }
            }
            Err(last)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        let bytes = result.map_err(|e| pgp_field_error("encrypted", e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::Invalid(FieldError::new("encrypted", Rule::InvalidValue, "the decrypted report is not UTF-8 text"))
        })?;
        if text.trim().is_empty() || text.len() > domain::desk::MAX_DESCRIPTION_BYTES + domain::desk::MAX_LOGS_BYTES {
            return Err(Error::Invalid(FieldError::new(
                "encrypted",
                Rule::InvalidValue,
                "the decrypted report is empty or larger than 320 KiB",
            )));
        }
        Ok(text)
    }

    // ---- The finder's status page and thread (D5) ----

    /// Finds the report a receipt code belongs to. Every failure is the same `NotFound`, after
    /// the same slow hash, so answers reveal nothing about which reports exist.
    async fn report_for_code(&self, raw_code: &str) -> Result<store::ReportRow> {
        let normalised = domain::desk::normalise_receipt_code(raw_code);
        let row = match &normalised {
            Some(code) => self.desk_store.report_by_lookup(&self.core.keys.receipt_index(code)).await?,
            None => None,
        };
        let (code, stored) = match (&normalised, &row) {
            (Some(code), Some(row)) => (code.clone(), row.receipt_hash.clone()),
            _ => (raw_code.to_owned(), self.core.decoy_hash().await?),
        };
        let verified = self.core.verify_password(&code, stored).await?;
        match (verified, row) {
            (Some(_), Some(row)) => Ok(row),
            _ => Err(Error::NotFound("report")),
        }
    }

    async fn report_for(&self, credential: FinderCredential<'_>) -> Result<store::ReportRow> {
        match credential {
            FinderCredential::ReceiptCode(code) => self.report_for_code(code).await,
            // Status links carry 256 random bits: a fast hash is enough to look them up.
            FinderCredential::StatusLink(token) => self
                .desk_store
                .report_by_access_token(&crypto::token::hash(token.trim()))
                .await?
                .ok_or(Error::NotFound("report")),
        }
    }

    pub async fn finder_status(&self, credential: FinderCredential<'_>) -> Result<FinderReportView> {
        let row = self.report_for(credential).await?;
        self.finder_view(&row).await
    }

    pub async fn finder_reply(&self, credential: FinderCredential<'_>, body: &str) -> Result<FinderReportView> {
        let body = domain::desk::reply(body).map_err(Error::Invalid)?;
        let row = self.report_for(credential).await?;
        if row.state.is_final() {
            return Err(Error::Conflict(FieldError::new(
                "body",
                Rule::InvalidValue,
                "this report is closed; submit a new report if you found something new",
            )));
        }
        self.append_thread(&row, store::ReportAuthor::Finder, &body, None).await?;
        let row = self.desk_store.get_report(row.enterprise_id, row.id).await?.ok_or(Error::NotFound("report"))?;
        self.finder_view(&row).await
    }

    async fn append_thread(
        &self,
        row: &store::ReportRow,
        author: store::ReportAuthor,
        body: &str,
        team: Option<(&Caller, &Origin)>,
    ) -> Result<()> {
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let id = ReportMessageId::new();
        let message = store::ReportMessageRow {
            id,
            report_id: row.id,
            seq: 0,
            author,
            body_ct: key.seal_str(body, Aad { table: "report_messages", row: &id.to_string(), column: "body" }),
            created_at: Millis::now(),
        };
        let audit = match team {
            Some((caller, origin)) => draft(
                caller,
                origin,
                Some(row.enterprise_id),
                Action::DeskReportReply,
                Some(format!("report:{}", row.id)),
            ),
            None => anonymous_draft(row.enterprise_id, Action::DeskReportFinderReply, row.id),
        };
        self.desk_store.append_report_message(&message, &audit).await?;
        Ok(())
    }

    async fn thread(&self, key: &crypto::DataKey, report: ReportId) -> Result<Vec<ThreadEntry>> {
        self.desk_store
            .report_messages(report)
            .await?
            .iter()
            .map(|m| {
                Ok(ThreadEntry {
                    from: match m.author {
                        store::ReportAuthor::Finder => "finder".to_owned(),
                        store::ReportAuthor::Team(_) => "security-team".to_owned(),
                    },
                    body: key.open_str(
                        &m.body_ct,
                        Aad { table: "report_messages", row: &m.id.to_string(), column: "body" },
                    )?,
                    at: m.created_at.rfc3339(),
                })
            })
            .collect()
    }

    fn open_content(&self, key: &crypto::DataKey, row: &store::ReportRow) -> Result<ReportContent> {
        let json = zeroize::Zeroizing::new(key.open(&row.content_ct, report_aad(&row.id.to_string(), "content"))?);
        serde_json::from_slice(&json).map_err(|e| Error::Internal(format!("stored report content: {e}")))
    }

    async fn finder_view(&self, row: &store::ReportRow) -> Result<FinderReportView> {
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let content = self.open_content(&key, row)?;
        Ok(FinderReportView {
            title: content.title,
            state: row.state,
            state_explained: row.state.explain().to_owned(),
            expected_timeframe: timeframe(row.state).to_owned(),
            submitted_at: row.created_at.rfc3339(),
            updated_at: row.updated_at.rfc3339(),
            thread: self.thread(&key, row.id).await?,
            files: self.file_views(&key, row.id).await?,
        })
    }

    // ---- The security team's inbox ----

    pub async fn desk_reports(&self, caller: &Caller) -> Result<Vec<ReportSummary>> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        self.desk_store
            .list_reports(enterprise)
            .await?
            .iter()
            .map(|r| {
                Ok(ReportSummary {
                    id: r.id,
                    title: self.open_content(&key, r)?.title,
                    state: r.state,
                    was_encrypted: r.was_encrypted,
                    submitted_at: r.created_at.rfc3339(),
                    updated_at: r.updated_at.rfc3339(),
                    messages: r.last_seq,
                })
            })
            .collect()
    }

    pub async fn desk_report(&self, caller: &Caller, id: ReportId) -> Result<ReportView> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        self.report_view(&row).await
    }

    pub async fn desk_reply(&self, caller: &Caller, origin: &Origin, id: ReportId, body: &str) -> Result<ReportView> {
        let enterprise = self.require_security_team(caller, Action::DeskReportReply).await?;
        let body = domain::desk::reply(body).map_err(Error::Invalid)?;
        let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        let author = match caller {
            Caller::User(p) => store::ReportAuthor::Team(p.user_id),
            _ => return Err(self.core.deny(caller, Action::DeskReportReply, Some(enterprise), "person", None).await),
        };
        self.append_thread(&row, author, &body, Some((caller, origin))).await?;
        let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        self.notify_finder(&row, "The security team wrote to you about your report.").await?;
        self.report_view(&row).await
    }

    async fn report_view(&self, row: &store::ReportRow) -> Result<ReportView> {
        let key: Arc<crypto::DataKey> = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let content = self.open_content(&key, row)?;
        let id = row.id.to_string();
        let open = |ct: &Option<Vec<u8>>, column: &str| {
            ct.as_ref().map(|ct| key.open_str(ct, report_aad(&id, column))).transpose()
        };
        Ok(ReportView {
            id: row.id,
            state: row.state,
            title: content.title,
            description: content.description,
            affected_urls: content.affected_urls,
            ip_addresses: content.ip_addresses,
            timestamps: content.timestamps,
            logs: content.logs,
            was_encrypted: row.was_encrypted,
            finder_name: open(&row.finder_name_ct, "finder_name")?,
            finder_email: open(&row.finder_email_ct, "finder_email")?,
            finder_email_verified: row.email_verified_at.is_some(),
            finder_ip: open(&row.finder_ip_ct, "finder_ip")?,
            credit: row.credit,
            submitted_at: row.created_at.rfc3339(),
            updated_at: row.updated_at.rfc3339(),
            thread: self.thread(&key, row.id).await?,
            files: self.file_views(&key, row.id).await?,
        })
    }
}

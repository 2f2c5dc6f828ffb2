//! Storage traits, one per aggregate, in domain terms (API boundary).
//!
//! Architecture invariants:
//! - Only the backend crates (`store-sqlite`, `store-postgres`) contain SQL and migrations; this
//!   crate knows nothing of sqlx.
//! - Personal data arrives here already sealed (`*_ct` fields hold ciphertext); the store never
//!   sees a name or an email in plaintext. Look-ups by email use a keyed blind index.
//! - Every mutating method that is security-relevant takes the [`AuditDraft`] describing it and
//!   appends that event to the hash chain in the same transaction: either both happen or neither.
//! - Methods that read or change tenant data take the [`EnterpriseId`] and filter by it in SQL, so
//!   even a service bug cannot reach across tenants by id alone.

use async_trait::async_trait;
use domain::audit::{AuditDraft, AuditEvent};
use domain::device::DeviceKind;
use domain::{EnterpriseId, Millis, Role, SessionId, TeamId, UserId};

/// Storage failures, in terms a service can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the string names which (e.g. `users.email`).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or is busy.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnterpriseRow {
    pub id: EnterpriseId,
    /// Sealed under the enterprise's own data key (table `enterprises`, column `name`).
    pub name_ct: Vec<u8>,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub enterprise_id: EnterpriseId,
    /// Blind index of the normalised email; unique within an enterprise.
    pub email_index: Vec<u8>,
    pub email_ct: Vec<u8>,
    pub name_ct: Vec<u8>,
    pub role: Role,
    /// argon2id PHC string; `None` for accounts that cannot sign in with a password.
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamRow {
    pub id: TeamId,
    pub enterprise_id: EnterpriseId,
    pub name_ct: Vec<u8>,
    pub archived: bool,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamMemberRow {
    pub team_id: TeamId,
    pub user_id: UserId,
    /// True for the team's admins (A7 team-admin duty is per team).
    pub is_admin: bool,
    pub added_at: Millis,
}

/// A signed-in session and the device record it is bound to (A4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub id: SessionId,
    pub enterprise_id: EnterpriseId,
    pub user_id: UserId,
    /// SHA-256 of the bearer token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub device_kind: DeviceKind,
    /// Sealed (table `sessions`, column `device_name`).
    pub device_name_ct: Vec<u8>,
    /// Sealed (table `sessions`, column `ip`); the address the session was opened from.
    pub ip_ct: Vec<u8>,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
    pub ended_at: Option<Millis>,
    pub ended_reason: Option<String>,
}

/// A data key wrapped under a master key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    /// `enterprise:<uuid>` for an enterprise's data key, `blind-index` for the look-up key.
    pub id: String,
    pub enterprise_id: Option<EnterpriseId>,
    pub master_key_id: String,
    pub wrapped: Vec<u8>,
    pub created_at: Millis,
    pub rotated_at: Option<Millis>,
}

/// Enterprises, their users and teams.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Creates the enterprise together with its data key row, atomically.
    async fn create_enterprise(&self, enterprise: &EnterpriseRow, key: &KeyRow, audit: &AuditDraft) -> Result<()>;
    async fn get_enterprise(&self, id: EnterpriseId) -> Result<Option<EnterpriseRow>>;
    async fn list_enterprises(&self) -> Result<Vec<EnterpriseRow>>;

    /// `Conflict("users.email")` when the email index is taken in that enterprise.
    async fn create_user(&self, user: &UserRow, audit: &AuditDraft) -> Result<()>;
    async fn get_user(&self, enterprise: EnterpriseId, id: UserId) -> Result<Option<UserRow>>;
    /// Every account with this email index, across enterprises (sign-in does not know the tenant).
    async fn find_users_by_email_index(&self, email_index: &[u8]) -> Result<Vec<UserRow>>;
    async fn list_users(&self, enterprise: EnterpriseId) -> Result<Vec<UserRow>>;
    /// Disabling also ends every open session of the user, in the same transaction.
    async fn set_user_disabled(
        &self,
        enterprise: EnterpriseId,
        id: UserId,
        disabled: bool,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn set_password_hash(
        &self,
        enterprise: EnterpriseId,
        id: UserId,
        hash: &str,
        at: Millis,
        audit: Option<&AuditDraft>,
    ) -> Result<()>;

    async fn create_team(&self, team: &TeamRow, audit: &AuditDraft) -> Result<()>;
    async fn get_team(&self, enterprise: EnterpriseId, id: TeamId) -> Result<Option<TeamRow>>;
    async fn list_teams(&self, enterprise: EnterpriseId) -> Result<Vec<TeamRow>>;
    async fn set_team_archived(
        &self,
        enterprise: EnterpriseId,
        id: TeamId,
        archived: bool,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Adds or updates a membership. Both ids must belong to `enterprise`, else `NotFound`.
    async fn put_team_member(&self, enterprise: EnterpriseId, member: &TeamMemberRow, audit: &AuditDraft)
        -> Result<()>;
    /// Removes a membership and, in the same transaction, the person's place in the team's
    /// channel (team channels follow the team). Returns the channel they left, if they were in it.
    async fn remove_team_member(
        &self,
        enterprise: EnterpriseId,
        team: TeamId,
        user: UserId,
        audit: &AuditDraft,
    ) -> Result<Option<domain::ConversationId>>;
    async fn list_team_members(&self, enterprise: EnterpriseId, team: TeamId) -> Result<Vec<TeamMemberRow>>;
}

/// Sessions and the devices they are bound to.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &SessionRow, audit: &AuditDraft) -> Result<()>;
    /// The open, unexpired session with this token hash.
    async fn session_by_token_hash(&self, token_hash: &[u8], now: Millis) -> Result<Option<SessionRow>>;
    /// The open session with this token hash and its user's role, if the user is enabled: what
    /// authenticating a request needs, in one query.
    async fn session_principal(&self, token_hash: &[u8], now: Millis) -> Result<Option<(SessionRow, Role)>>;
    async fn touch_session(&self, id: SessionId, at: Millis) -> Result<()>;
    /// Open sessions of one user, newest first.
    async fn list_sessions(&self, enterprise: EnterpriseId, user: UserId, now: Millis) -> Result<Vec<SessionRow>>;
    /// Ends one open session of `user`; `NotFound` when there is none with that id.
    async fn end_session(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        id: SessionId,
        reason: &str,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()>;
}

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

/// Wrapped data keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// `Conflict("keys.id")` when a key with this id exists.
    async fn create_key(&self, key: &KeyRow, audit: &AuditDraft) -> Result<()>;
    async fn get_key(&self, id: &str) -> Result<Option<KeyRow>>;
    async fn list_keys(&self) -> Result<Vec<KeyRow>>;
    /// Replaces a wrapping only if the row is still wrapped under `expected_master_key_id`
    /// (compare-and-swap, so two rotations cannot lose a key). Returns whether it replaced.
    async fn rewrap_key(
        &self,
        id: &str,
        expected_master_key_id: &str,
        new_master_key_id: &str,
        wrapped: &[u8],
        at: Millis,
    ) -> Result<bool>;
}

/// Database-level facts for `/readyz` and operators.
#[async_trait]
pub trait Health: Send + Sync {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> Result<()>;
    /// Migration versions applied, ascending.
    async fn applied_migrations(&self) -> Result<Vec<i64>>;
    /// Migration versions this build knows, ascending.
    fn known_migrations(&self) -> Vec<i64>;
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// Everything a backend provides. Services hold an `Arc<dyn Store>`.
pub trait Store:
    DirectoryStore + SessionStore + AuditStore + KeyStore + ConversationStore + DeskStore + SignInStore + Health
{
}

impl<T> Store for T where
    T: DirectoryStore + SessionStore + AuditStore + KeyStore + ConversationStore + DeskStore + SignInStore + Health
{
}

/// A user's sign-in state beyond the password hash: lockout, password age, one-time codes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignInState {
    pub password_changed_at: Option<Millis>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<Millis>,
    /// The confirmed TOTP secret, sealed.
    pub totp_secret_ct: Option<Vec<u8>>,
    /// A secret shown for enrolment but not yet confirmed, sealed.
    pub totp_pending_ct: Option<Vec<u8>>,
    /// The last time step whose code was accepted: codes are good once.
    pub totp_last_step: Option<i64>,
}

/// The enterprise's password policy and each user's lockout, history and one-time codes.
#[async_trait]
pub trait SignInStore: Send + Sync {
    /// The policy as JSON, if the enterprise has set one.
    async fn password_policy(&self, enterprise: EnterpriseId) -> Result<Option<String>>;
    async fn put_password_policy(
        &self,
        enterprise: EnterpriseId,
        json: &str,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn sign_in_state(&self, user: UserId) -> Result<SignInState>;
    /// Counts a failed sign-in; at `threshold` failures in a row the account locks until
    /// `lock_until`. Returns the new state.
    async fn record_failed_sign_in(&self, user: UserId, threshold: i64, lock_until: Millis) -> Result<SignInState>;
    async fn reset_failed_sign_ins(&self, user: UserId) -> Result<()>;
    /// The user's previous password hashes, newest first.
    async fn password_history(&self, user: UserId, limit: u32) -> Result<Vec<String>>;
    /// Sets a new password hash, moving the old one into the history (keeping `keep` entries),
    /// and clears the lockout.
    async fn change_password(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        new_hash: &str,
        at: Millis,
        keep: u32,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn set_totp_pending(&self, user: UserId, secret_ct: Option<&[u8]>) -> Result<()>;
    /// Confirms enrolment: the secret is set, `step` is marked used, and the recovery codes
    /// replace any earlier ones.
    async fn enable_totp(
        &self,
        user: UserId,
        secret_ct: &[u8],
        step: i64,
        recovery_hashes: &[Vec<u8>],
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn disable_totp(&self, user: UserId, audit: &AuditDraft) -> Result<()>;
    /// Marks `step` used if it is later than the last used one; `false` means the code was
    /// already used (or a later one was).
    async fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool>;
    /// Spends a recovery code; `false` if it is unknown or already used.
    async fn use_recovery_code(&self, user: UserId, code_hash: &[u8], at: Millis) -> Result<bool>;
    /// Whether a recovery code is known and unused, without spending it.
    async fn recovery_code_unused(&self, user: UserId, code_hash: &[u8]) -> Result<bool>;
    async fn unused_recovery_codes(&self, user: UserId) -> Result<i64>;
    /// Changes a user's role (single sign-on maps provider groups to roles).
    async fn set_user_role(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        role: domain::Role,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// The enterprise's OpenID provider: settings as JSON and the sealed client secret.
    async fn oidc_config(&self, enterprise: EnterpriseId) -> Result<Option<(String, Vec<u8>)>>;
    /// Every enterprise's provider settings (to find the enterprise for an email domain).
    async fn oidc_configs(&self) -> Result<Vec<(EnterpriseId, String)>>;
    async fn put_oidc_config(
        &self,
        enterprise: EnterpriseId,
        settings_json: &str,
        client_secret_ct: &[u8],
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn create_oidc_login(
        &self,
        state_hash: &[u8],
        enterprise: EnterpriseId,
        secrets_ct: &[u8],
        at: Millis,
    ) -> Result<()>;
    async fn saml_config(&self, enterprise: EnterpriseId) -> Result<Option<String>>;
    async fn saml_configs(&self) -> Result<Vec<(EnterpriseId, String)>>;
    async fn put_saml_config(
        &self,
        enterprise: EnterpriseId,
        settings_json: &str,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn create_saml_request(&self, id: &str, enterprise: EnterpriseId, at: Millis) -> Result<()>;
    /// Takes (and deletes) an outstanding AuthnRequest: an `InResponseTo` is good once.
    async fn take_saml_request(&self, id: &str) -> Result<Option<(EnterpriseId, Millis)>>;
    /// Records a consumed assertion id until it expires; `false` when it was consumed before.
    async fn record_saml_assertion(&self, id: &str, enterprise: EnterpriseId, expires_at: Millis) -> Result<bool>;
    /// Takes (and deletes) a started sign-in by its state's hash: a state is good once.
    async fn take_oidc_login(&self, state_hash: &[u8]) -> Result<Option<(EnterpriseId, Vec<u8>, Millis)>>;
}

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

/// The security team's choices about finders' data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeskSettingsRow {
    pub enterprise_id: EnterpriseId,
    pub store_finder_ip: bool,
    pub retention_days: i64,
    pub updated_at: Millis,
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
    async fn add_report_files(&self, files: &[ReportFileRow], audit: &AuditDraft) -> Result<()>;
    async fn report_files(&self, report: domain::ReportId) -> Result<Vec<ReportFileRow>>;
    async fn report_by_lookup(&self, lookup: &[u8]) -> Result<Option<ReportRow>>;
    async fn get_report(&self, enterprise: EnterpriseId, id: domain::ReportId) -> Result<Option<ReportRow>>;
    /// Newest first.
    async fn list_reports(&self, enterprise: EnterpriseId) -> Result<Vec<ReportRow>>;
    /// Appends to the thread (the store assigns `seq`) and touches the report's `updated_at`.
    async fn append_report_message(&self, message: &ReportMessageRow, audit: &AuditDraft) -> Result<ReportMessageRow>;
    async fn report_messages(&self, report: domain::ReportId) -> Result<Vec<ReportMessageRow>>;
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
    async fn set_report_access_token(&self, report: domain::ReportId, token_hash: &[u8]) -> Result<()>;
    async fn report_by_access_token(&self, token_hash: &[u8]) -> Result<Option<ReportRow>>;
    /// Moves the report to `state`; sets `closed_at` on entering a final state and clears it on
    /// reopening. `None` when the report does not exist in this enterprise.
    async fn set_report_state(
        &self,
        enterprise: EnterpriseId,
        report: domain::ReportId,
        state: domain::desk::ReportState,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<Option<ReportRow>>;
    /// Deletes finder contact data (email, IP, tokens, and the name unless they asked for public
    /// credit) of reports closed before `closed_before`. Returns how many reports were purged.
    async fn purge_finder_data(&self, closed_before: Millis, at: Millis) -> Result<u64>;
    async fn desk_settings(&self, enterprise: EnterpriseId) -> Result<Option<DeskSettingsRow>>;
    async fn put_desk_settings(&self, settings: &DeskSettingsRow, audit: &AuditDraft) -> Result<()>;
}

/// A migration: a version shared by both backends (the conformance suite checks that the two
/// lists pair up) and the backend's own SQL.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Decoding helpers the backends share, so both map stored text to domain values the same way.
pub mod decode {
    use super::Error;
    use domain::device::DeviceKind;
    use domain::Role;
    use uuid::Uuid;

    pub fn uuid(s: &str) -> Result<Uuid, Error> {
        Uuid::parse_str(s).map_err(|e| Error::Other(format!("stored id {s:?} is not a UUID: {e}")))
    }
    pub fn role(s: &str) -> Result<Role, Error> {
        Role::parse(s).ok_or_else(|| Error::Other(format!("stored role {s:?} is unknown")))
    }
    pub fn device_kind(s: &str) -> Result<DeviceKind, Error> {
        DeviceKind::parse(s).ok_or_else(|| Error::Other(format!("stored device kind {s:?} is unknown")))
    }
    pub fn conversation_kind(s: &str) -> Result<domain::messaging::ConversationKind, Error> {
        domain::messaging::ConversationKind::parse(s)
            .ok_or_else(|| Error::Other(format!("stored conversation kind {s:?} is unknown")))
    }
    pub fn member_role(s: &str) -> Result<domain::messaging::MemberRole, Error> {
        domain::messaging::MemberRole::parse(s)
            .ok_or_else(|| Error::Other(format!("stored member role {s:?} is unknown")))
    }
    pub fn report_state(s: &str) -> Result<domain::desk::ReportState, Error> {
        domain::desk::ReportState::parse(s).ok_or_else(|| Error::Other(format!("stored report state {s:?} is unknown")))
    }
    pub fn desk_page(s: &str) -> Result<domain::desk::DeskPage, Error> {
        domain::desk::DeskPage::parse(s).ok_or_else(|| Error::Other(format!("stored page {s:?} is unknown")))
    }
    pub fn hash32(bytes: &[u8]) -> Result<[u8; 32], Error> {
        bytes.try_into().map_err(|_| Error::Other(format!("stored hash has {} bytes, expected 32", bytes.len())))
    }
}

/// Links a draft into the chain after `prev`: the one place the next `seq` and hash are derived,
/// used by both backends inside their append transaction.
pub fn link_audit(draft: &AuditDraft, prev: Option<(i64, [u8; 32])>, hash: impl Fn(&[u8]) -> [u8; 32]) -> AuditEvent {
    let (prev_seq, prev_hash) = prev.unwrap_or((0, domain::audit::GENESIS_HASH));
    let seq = prev_seq + 1;
    let canonical = draft.canonical_bytes(seq, &prev_hash);
    AuditEvent { seq, draft: draft.clone(), prev_hash, hash: hash(&canonical) }
}

/// A conversation. `title_ct` is sealed (table `conversations`, column `title`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: domain::ConversationId,
    pub enterprise_id: EnterpriseId,
    pub kind: domain::messaging::ConversationKind,
    pub team_id: Option<TeamId>,
    /// For direct conversations: [`domain::messaging::direct_key`] of the pair; unique per enterprise.
    pub direct_key: Option<String>,
    pub title_ct: Option<Vec<u8>>,
    pub created_by: UserId,
    pub created_at: Millis,
    /// The sequence number of the newest message (0 when empty).
    pub last_seq: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationMemberRow {
    pub conversation_id: domain::ConversationId,
    pub user_id: UserId,
    pub role: domain::messaging::MemberRole,
    pub joined_at: Millis,
    /// Read receipt: the highest sequence number this member has read.
    pub last_read_seq: i64,
}

/// A message. `body_ct` is sealed (table `messages`, row = message id, column `body`) and is
/// `None` once the message is deleted: deletion destroys the content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRow {
    pub id: domain::MessageId,
    pub conversation_id: domain::ConversationId,
    /// Per-conversation sequence number, assigned by the store on append.
    pub seq: i64,
    pub sender_id: UserId,
    pub body_ct: Option<Vec<u8>>,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    pub deleted_at: Option<Millis>,
    pub attachment: Option<AttachmentMeta>,
}

/// The file a message carries. Its bytes are on disk, sealed in chunks; the name is sealed here
/// (table `messages`, row = attachment id, column `attachment_name`) and destroyed on delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentMeta {
    pub id: domain::AttachmentId,
    pub name_ct: Vec<u8>,
    pub content_type: String,
    pub size: i64,
}

/// Which messages a page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessagePage {
    /// The newest `limit` messages with `seq < before`, newest first.
    Before(i64),
    /// The oldest `limit` messages with `seq > after`, oldest first (catching up after a gap).
    After(i64),
}

/// Conversations, their members and messages.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Creates the conversation with its members. `Conflict` when a direct conversation for the
    /// pair exists. Every member must be an enabled user of the enterprise, else `NotFound`.
    async fn create_conversation(
        &self,
        conversation: &ConversationRow,
        members: &[ConversationMemberRow],
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn find_direct(&self, enterprise: EnterpriseId, direct_key: &str) -> Result<Option<ConversationRow>>;
    /// The team's channel, if it has been opened.
    async fn find_team_conversation(&self, enterprise: EnterpriseId, team: TeamId) -> Result<Option<ConversationRow>>;
    /// Adds a member (an enabled user of the enterprise); `false` when already a member, in
    /// which case no audit event is written.
    async fn add_member(
        &self,
        enterprise: EnterpriseId,
        member: &ConversationMemberRow,
        audit: &AuditDraft,
    ) -> Result<bool>;
    /// Removes a member; `false` when they were not one, in which case no audit event is written.
    async fn remove_member(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        user: UserId,
        audit: &AuditDraft,
    ) -> Result<bool>;
    /// The conversation and the user's membership, if the user is a member: the authorization query.
    async fn conversation_for_member(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        user: UserId,
    ) -> Result<Option<(ConversationRow, ConversationMemberRow)>>;
    /// The user's conversations with their membership, most recently active first.
    async fn list_conversations(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
    ) -> Result<Vec<(ConversationRow, ConversationMemberRow)>>;
    async fn list_members(&self, conversation: domain::ConversationId) -> Result<Vec<ConversationMemberRow>>;
    /// Appends a message after checking the sender is a member (`NotFound` otherwise) and
    /// returns it with its sequence number, and the conversation's members (the recipients).
    async fn append_message(&self, enterprise: EnterpriseId, message: &MessageRow)
        -> Result<(MessageRow, Vec<UserId>)>;
    /// Replaces the body of the sender's own, undeleted message; `NotFound` otherwise.
    async fn edit_message(
        &self,
        conversation: domain::ConversationId,
        id: domain::MessageId,
        sender: UserId,
        body_ct: &[u8],
        at: Millis,
    ) -> Result<MessageRow>;
    /// Destroys the body of the sender's own message; `NotFound` when there is none to delete.
    async fn delete_message(
        &self,
        conversation: domain::ConversationId,
        id: domain::MessageId,
        sender: UserId,
        at: Millis,
    ) -> Result<MessageRow>;
    /// The undeleted message carrying this attachment in this conversation.
    async fn get_attachment(
        &self,
        conversation: domain::ConversationId,
        attachment: domain::AttachmentId,
    ) -> Result<Option<MessageRow>>;
    async fn get_message(
        &self,
        conversation: domain::ConversationId,
        id: domain::MessageId,
    ) -> Result<Option<MessageRow>>;
    async fn list_messages(
        &self,
        conversation: domain::ConversationId,
        page: MessagePage,
        limit: u32,
    ) -> Result<Vec<MessageRow>>;
    /// Raises the member's read receipt to `seq` (never lowers it, never past the newest
    /// message) and returns the stored value.
    async fn mark_read(&self, conversation: domain::ConversationId, user: UserId, seq: i64) -> Result<i64>;
}

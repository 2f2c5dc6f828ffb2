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
    async fn remove_team_member(
        &self,
        enterprise: EnterpriseId,
        team: TeamId,
        user: UserId,
        audit: &AuditDraft,
    ) -> Result<()>;
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
pub trait Store: DirectoryStore + SessionStore + AuditStore + KeyStore + ConversationStore + Health {}

impl<T: DirectoryStore + SessionStore + AuditStore + KeyStore + ConversationStore + Health> Store for T {}

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

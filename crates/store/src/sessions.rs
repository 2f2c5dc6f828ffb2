//! Sessions and the device records they are bound to (A4).

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::device::DeviceKind;
use domain::{EnterpriseId, Millis, Roles, SessionId, UserId};

use crate::Result;

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
    /// How the person proved who they are when the session began.
    pub auth_method: domain::AuthMethod,
    /// Until when the session may use the admin consoles without authenticating again (A5).
    pub elevated_until: Option<Millis>,
    /// When the device was asked to erase what it holds (an admin ended the session, or the
    /// account was disabled).
    pub wipe_requested_at: Option<Millis>,
    /// When the device said it had.
    pub wipe_acknowledged_at: Option<Millis>,
    /// The last request the person made through this session (a live connection's pings do not
    /// count): what the PIN lock's delay runs from (A6).
    pub active_at: Millis,
    /// Set when the client asked to lock at once (the page was hidden or started).
    pub locked_at: Option<Millis>,
    /// Wrong PINs since the last unlock.
    pub pin_failures: i64,
}

/// What authenticating a request needs, read in one query: the open session, its user's roles
/// and, when the user set a PIN, the delay after which the session locks (seconds; 0 = at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPrincipal {
    pub session: SessionRow,
    pub roles: Roles,
    pub pin_lock_after: Option<i64>,
}

/// A user's PIN: its argon2id hash and the delay they chose (seconds; 0 = at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPin {
    pub hash: String,
    pub lock_after: i64,
}

/// Sessions and the devices they are bound to.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &SessionRow, audit: &AuditDraft) -> Result<()>;
    /// The open, unexpired session with this token hash.
    async fn session_by_token_hash(&self, token_hash: &[u8], now: Millis) -> Result<Option<SessionRow>>;
    /// The open session with this token hash, its user's roles and PIN delay, if the user is
    /// enabled: what authenticating a request needs, in one query.
    async fn session_principal(&self, token_hash: &[u8], now: Millis) -> Result<Option<SessionPrincipal>>;
    /// The session is in use (a live connection's ping): presence reads this.
    async fn touch_session(&self, id: SessionId, at: Millis) -> Result<()>;
    /// The person used the session at `at`: presence and the PIN lock read this. Only moves
    /// forward, and not while the session is locked (only the PIN unlocks it).
    async fn mark_session_active(&self, id: SessionId, at: Millis) -> Result<()>;
    /// Sets until when the open session may use the admin consoles (A5); `audit` records a
    /// re-authentication, and is absent when an admin action only slides the bound along.
    async fn set_session_elevation(&self, id: SessionId, until: Millis, audit: Option<&AuditDraft>) -> Result<()>;
    /// Locks the open session (the client asked, or it sat idle past its PIN delay, A6) and
    /// appends `audit`, unless it is locked already: `true` when this call locked it. An ended
    /// or unknown session is `NotFound`.
    async fn lock_session(&self, id: SessionId, at: Millis, audit: &AuditDraft) -> Result<bool>;
    /// Counts a PIN attempt against the open session before it is checked, unless `limit`
    /// attempts are counted already: `Some(count)` when counted, `None` at the limit. Counting
    /// first is what keeps parallel guesses from all being hashed before any is counted.
    async fn reserve_pin_attempt(&self, id: SessionId, limit: i64) -> Result<Option<i64>>;
    /// The reserved attempt was the right PIN: it no longer counts.
    async fn release_pin_attempt(&self, id: SessionId) -> Result<()>;
    /// Audits a wrong PIN whose attempt was reserved; returns the wrong attempts so far.
    async fn record_pin_failure(&self, id: SessionId, audit: &AuditDraft) -> Result<i64>;
    /// The right PIN: the session is unlocked, active from `at`, its failures forgotten.
    async fn unlock_session(&self, id: SessionId, at: Millis, audit: &AuditDraft) -> Result<()>;
    /// The user's PIN, if they set one.
    async fn user_pin(&self, enterprise: EnterpriseId, user: UserId) -> Result<Option<UserPin>>;
    /// Sets (or, with `None`, removes) the user's PIN.
    async fn set_user_pin(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        pin: Option<&UserPin>,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// For each person of the enterprise with an open session at `now`: the latest activity of
    /// any of their sessions. What presence is drawn from, the same on every node.
    async fn last_activity(&self, enterprise: EnterpriseId, now: Millis) -> Result<Vec<(UserId, Millis)>>;
    /// Open sessions of one user, newest first.
    async fn list_sessions(&self, enterprise: EnterpriseId, user: UserId, now: Millis) -> Result<Vec<SessionRow>>;
    /// Ends open sessions of `user` (the one named, or every one) and asks each device to erase
    /// what it holds; returns the sessions ended (`NotFound` when a named one is not open).
    async fn end_and_wipe_sessions(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        id: Option<SessionId>,
        reason: &str,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<Vec<SessionId>>;
    /// The ended session with this token hash whose device was asked to erase and has not yet
    /// said it did: what a request from a device that was offline is told.
    async fn session_awaiting_wipe(&self, token_hash: &[u8]) -> Result<Option<SessionRow>>;
    /// Records the device's acknowledgement with its audit event; `false` when none was pending.
    async fn acknowledge_wipe(&self, id: SessionId, at: Millis, audit: &AuditDraft) -> Result<bool>;
    /// The user's sessions whose wipe was requested since `since`, newest first.
    async fn wiped_sessions(&self, enterprise: EnterpriseId, user: UserId, since: Millis) -> Result<Vec<SessionRow>>;
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

//! Password policy, lockout, password history, one-time codes and single-sign-on settings.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, Roles, UserId};

use crate::Result;

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

/// Each user's lockout, password history and one-time codes, and single sign-ons in flight (the
/// providers' settings are policy documents). Every per-user method takes the user's enterprise and touches nothing outside it: a
/// user id from another tenant is `NotFound` (or `false`, or empty).
#[async_trait]
pub trait SignInStore: Send + Sync {
    async fn sign_in_state(&self, enterprise: EnterpriseId, user: UserId) -> Result<SignInState>;
    /// Counts a failed sign-in; at `threshold` failures in a row the account locks until
    /// `lock_until`. Returns the new state.
    async fn record_failed_sign_in(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        threshold: i64,
        lock_until: Millis,
    ) -> Result<SignInState>;
    async fn reset_failed_sign_ins(&self, enterprise: EnterpriseId, user: UserId) -> Result<()>;
    /// The user's previous password hashes, newest first.
    async fn password_history(&self, enterprise: EnterpriseId, user: UserId, limit: u32) -> Result<Vec<String>>;
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
    async fn set_totp_pending(&self, enterprise: EnterpriseId, user: UserId, secret_ct: Option<&[u8]>) -> Result<()>;
    /// Confirms enrolment: the secret is set, `step` is marked used, and the recovery codes
    /// replace any earlier ones.
    async fn enable_totp(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        secret_ct: &[u8],
        step: i64,
        recovery_hashes: &[Vec<u8>],
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn disable_totp(&self, enterprise: EnterpriseId, user: UserId, audit: &AuditDraft) -> Result<()>;
    /// Marks `step` used if it is later than the last used one; `false` means the code was
    /// already used (or a later one was).
    async fn use_totp_step(&self, enterprise: EnterpriseId, user: UserId, step: i64) -> Result<bool>;
    /// Spends a recovery code; `false` if it is unknown or already used.
    async fn use_recovery_code(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        code_hash: &[u8],
        at: Millis,
    ) -> Result<bool>;
    /// Whether a recovery code is known and unused, without spending it.
    async fn recovery_code_unused(&self, enterprise: EnterpriseId, user: UserId, code_hash: &[u8]) -> Result<bool>;
    async fn unused_recovery_codes(&self, enterprise: EnterpriseId, user: UserId) -> Result<i64>;
    /// Replaces a user's roles (single sign-on maps provider groups to roles).
    async fn set_user_roles(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        roles: Roles,
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
    async fn create_saml_request(&self, id: &str, enterprise: EnterpriseId, at: Millis) -> Result<()>;
    /// Takes (and deletes) an outstanding AuthnRequest: an `InResponseTo` is good once.
    async fn take_saml_request(&self, id: &str) -> Result<Option<(EnterpriseId, Millis)>>;
    /// Records a consumed assertion id until it expires; `false` when it was consumed before.
    async fn record_saml_assertion(&self, id: &str, enterprise: EnterpriseId, expires_at: Millis) -> Result<bool>;
    /// Takes (and deletes) a started sign-in by its state's hash: a state is good once.
    async fn take_oidc_login(&self, state_hash: &[u8]) -> Result<Option<(EnterpriseId, Vec<u8>, Millis)>>;
}

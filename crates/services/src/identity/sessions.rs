//! Password sign-in, sessions bound to device records, sign-out and the device list (A1, A4).
//!
//! No user enumeration: an unknown email, a wrong password and a disabled account all answer
//! [`Error::InvalidCredentials`], and an unknown email still costs one argon2id verification (of a
//! decoy hash), so the three take about the same time. The audit log records which it was.

use super::principal_of;
use crate::{Caller, Error, Principal, Result};
use crypto::Aad;
use domain::audit::{Action, Actor, AuditDraft, Origin, Outcome};
use domain::device;
use domain::session_policy::LockState;
use domain::{validate, AuthMethod, EnterpriseId, FieldError, Millis, Rule, SessionId, UserId};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Sign-in, sessions and the devices they run on, password changes.
pub struct Sessions {
    pub(super) core: Arc<crate::core::Core>,
    pub(super) directory_store: Arc<dyn store::DirectoryStore>,
    pub(super) session_store: Arc<dyn store::SessionStore>,
    pub(super) sign_in_store: Arc<dyn store::SignInStore>,
    pub(super) audit_store: Arc<dyn store::AuditStore>,
    pub(super) credentials: Arc<super::Credentials>,
    /// Failed sign-ins for emails no account has, so that those lock like real accounts.
    decoy_locks: DecoyLocks,
}

impl Sessions {
    pub(crate) fn new(
        core: Arc<crate::core::Core>,
        store: &Arc<dyn store::Store>,
        credentials: Arc<super::Credentials>,
    ) -> Sessions {
        Sessions {
            core,
            directory_store: store.clone(),
            session_store: store.clone(),
            sign_in_store: store.clone(),
            audit_store: store.clone(),
            credentials,
            decoy_locks: DecoyLocks::default(),
        }
    }
}

/// Failed sign-ins for emails that no account has, counted in memory like a real account's, so
/// that "this account is locked" says nothing about which accounts exist: an unknown email locks
/// after as many failures, for as long, as the default policy locks a real one. Bounded: beyond
/// [`DecoyLocks::MAX`] entries the idle ones are dropped. Per process: each node counts its own.
#[derive(Default)]
pub(crate) struct DecoyLocks(std::sync::Mutex<std::collections::HashMap<Vec<u8>, DecoyCount>>);

/// Failures so far, and until when the email is locked once they reached the threshold.
type DecoyCount = (u32, Option<Millis>);

impl DecoyLocks {
    const MAX: usize = 10_000;

    fn locked_until(&self, index: &[u8], now: Millis) -> Option<Millis> {
        let map = self.0.lock().expect("decoy locks");
        map.get(index).and_then(|(_, until)| *until).filter(|u| u.0 > now.0)
    }

    fn count_failure(&self, index: &[u8], now: Millis) {
        let policy = domain::password_policy::PasswordPolicy::default();
        let mut map = self.0.lock().expect("decoy locks");
        if map.len() >= Self::MAX && !map.contains_key(index) {
            map.retain(|_, (_, until)| until.is_some_and(|u| u.0 > now.0));
            if map.len() >= Self::MAX {
                map.clear();
            }
        }
        // As the store does for real accounts: the count survives the lock's end, so the next
        // failure locks again at once; only a success would reset it, and there is none here.
        let entry = map.entry(index.to_vec()).or_insert((0, None));
        entry.0 = entry.0.saturating_add(1);
        if entry.0 >= policy.lockout_threshold {
            entry.1 = Some(Millis(now.0 + i64::from(policy.lockout_minutes) * 60_000));
        }
    }
}

/// Where a password sign-in stands once its checks ran (see [`Sessions::sign_in_gate`]).
/// How often, at most, a request under a PIN lock records the person's activity.
const ACTIVE_STEP_MS: i64 = 5_000;

/// What a live connection needs to know about its session's time.
#[derive(Clone, Copy, Debug)]
pub struct SessionClock {
    pub expires_at: Millis,
    /// When the session locks if no request comes first (none: no PIN lock).
    pub locks_at: Option<Millis>,
}

/// A token's session as one request sees it.
struct Resolved {
    principal: Principal,
    lock: LockState,
    /// The lock is recorded on the session (asked for, or found and recorded once before).
    lock_recorded: bool,
    active_at: Millis,
    expires_at: Millis,
}

pub(crate) enum Gate {
    /// Every check passed: a session may be opened.
    Passed(Passed),
    /// The enterprise requires one-time codes and this account has none yet.
    NeedsEnrolment(store::UserRow),
    /// The password is right but older than the policy allows: it must be replaced first. Any
    /// second factor given was checked, not spent; the replacement spends it.
    Expired(store::UserRow, Option<ExpiredProof>),
}

/// The second factor that came with an expired password, for the password change to use.
pub(crate) enum ExpiredProof {
    /// A valid one-time or recovery code, not yet spent.
    Code(String),
    /// A code from the pending enrolment secret, not yet confirmed.
    Enrolment(String),
}

pub(crate) struct Passed {
    user: store::UserRow,
    needs_rehash: bool,
    /// What the person proved, for the session.
    auth: AuthMethod,
    /// The same in the audit's words (`password+totp`, `... (break-glass)`).
    method: String,
    recovery_codes: Option<Vec<String>>,
}

/// What a successful sign-in hands back. `token` is shown once; the server keeps only its hash.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub csrf_token: String,
    pub principal: Principal,
    pub expires_at: Millis,
    /// Set once, when this sign-in completed a one-time-code enrolment: show them, then forget.
    pub recovery_codes: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct DeviceView {
    /// The session id; ending it signs that device out.
    #[schema(value_type = String, format = Uuid)]
    pub session_id: SessionId,
    /// `browser`, `mobile`, `api` or `cli`.
    pub kind: String,
    /// How the person signed in there: `password`, `password+code`, `oidc` or `saml`.
    pub sign_in_method: String,
    pub name: String,
    pub ip: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    /// True for the session making this request.
    pub current: bool,
    /// Ended by an admin (or the account was disabled): listed for a while with its wipe.
    pub ended: bool,
    /// When the device was asked to erase what it holds of Conclave.
    pub wipe_requested_at: Option<String>,
    /// When the device confirmed it had (absent while it has not been online since).
    pub wipe_acknowledged_at: Option<String>,
}

fn aad<'a>(row: &'a str, column: &'a str) -> Aad<'a> {
    Aad { table: "sessions", row, column }
}

impl Sessions {
    /// Signs in with email and password and opens a session bound to a new device record.
    pub async fn sign_in(&self, origin: &Origin, email: &str, password: &str) -> Result<SignedIn> {
        self.sign_in_with(origin, email, password, None).await
    }

    /// Signs in with email, password and, when the account has one, a one-time code (or a
    /// recovery code). Enforces the enterprise's lockout, password age and second-factor rules,
    /// and writes an audit event for every attempt, with its method and outcome.
    pub async fn sign_in_with(
        &self,
        origin: &Origin,
        email: &str,
        password: &str,
        otp: Option<&str>,
    ) -> Result<SignedIn> {
        match self.sign_in_gate(origin, email, password, otp).await? {
            Gate::Passed(passed) => self.finish_sign_in(origin, passed, password).await,
            Gate::NeedsEnrolment(_) => Err(Error::SecondFactorEnrolmentRequired),
            Gate::Expired(..) => Err(Error::PasswordExpired),
        }
    }

    /// Every check a password sign-in goes through, with exactly one argon2id verification of the
    /// password. It stops short of opening a session, so the enrolment and expired-password flows
    /// reuse it instead of verifying the password again. Failures are audited here.
    pub(crate) async fn sign_in_gate(
        &self,
        origin: &Origin,
        email: &str,
        password: &str,
        otp: Option<&str>,
    ) -> Result<Gate> {
        let email = validate::email("email", email).map_err(Error::Invalid)?;
        if password.is_empty() {
            return Err(Error::Invalid(domain::FieldError::new("password", domain::Rule::Empty, "must not be empty")));
        }
        if password.chars().count() > validate::MAX_PASSWORD_CHARS {
            // Not a password we could have stored; refuse without spending argon2 time on it.
            return Err(Error::InvalidCredentials);
        }
        let otp = otp.map(str::trim).filter(|o| !o.is_empty());
        if let Some(otp) = otp {
            validate::code_length("otp", otp).map_err(Error::Invalid)?;
        }
        let method = if otp.is_some() { "password+code" } else { "password" };
        let failure = |reason: &str, user: Option<&store::UserRow>| AuditDraft {
            at: Millis::now(),
            actor: Actor::Anonymous,
            origin: origin.clone(),
            enterprise_id: user.map(|u| u.enterprise_id),
            team_id: None,
            action: Action::AuthSignIn,
            target: user.map(|u| format!("user:{}", u.id)),
            outcome: Outcome::Failure,
            detail: serde_json::json!({ "method": method, "reason": reason }).to_string(),
        };
        let email_index = self.core.keys.email_index(&email);
        let candidates = self.directory_store.find_users_by_email_index(&email_index).await?;
        let now = Millis::now();
        // No account this password could open (none, or only single-sign-on ones): the decoy
        // counter stands in, so such emails lock like any other.
        let verifiable = candidates.iter().any(|u| u.password_hash.is_some());
        if !verifiable {
            if let Some(until) = self.decoy_locks.locked_until(&email_index, now) {
                self.audit_store.append_audit(&failure("locked", None)).await?;
                return Err(Error::Locked(((until.0 - now.0) / 1000 + 1) as u64));
            }
        }
        // The same email may exist in several enterprises. A locked account is skipped before its
        // password is even checked, so guessing stops; every other one is checked and, on a wrong
        // password, counts the failure, so a twin account elsewhere cannot switch lockout off.
        let mut matched = None;
        let mut checked = Vec::new();
        let mut locked_until: Option<Millis> = None;
        for user in &candidates {
            let Some(stored) = user.password_hash.clone() else {
                continue;
            };
            if let Some(until) = self
                .sign_in_store
                .sign_in_state(user.enterprise_id, user.id)
                .await?
                .locked_until
                .filter(|u| u.0 > now.0)
            {
                locked_until = Some(locked_until.map_or(until, |l| Millis(l.0.max(until.0))));
                continue;
            }
            checked.push(user);
            if let Some(verified) = self.core.verify_password(password, stored).await? {
                matched = Some((user.clone(), verified));
                break;
            }
        }
        if checked.is_empty() && locked_until.is_none() {
            self.core.verify_password(password, self.core.decoy_hash().await?).await?;
        }
        let (user, verified) = match matched {
            // Some account with this email is locked and no other one matched: answer as locked,
            // and count nothing, so guesses aimed at the locked one cannot lock its twins.
            None if locked_until.is_some() => {
                let until = locked_until.expect("checked above");
                let only = if candidates.len() == 1 { candidates.first() } else { None };
                self.audit_store.append_audit(&failure("locked", only)).await?;
                return Err(Error::Locked(((until.0 - now.0) / 1000 + 1) as u64));
            }
            None => {
                let only = if candidates.len() == 1 { candidates.first() } else { None };
                let reason = if candidates.is_empty() { "unknown-account" } else { "wrong-password" };
                self.audit_store.append_audit(&failure(reason, only)).await?;
                if !verifiable {
                    self.decoy_locks.count_failure(&email_index, now);
                }
                for user in checked {
                    self.count_failure(user).await?;
                }
                return Err(Error::InvalidCredentials);
            }
            Some((user, _)) if user.disabled => {
                self.audit_store.append_audit(&failure("account-disabled", Some(&user))).await?;
                return Err(Error::InvalidCredentials);
            }
            Some(found) => found,
        };
        let policy = self.credentials.policy_of(user.enterprise_id).await?;
        let state = self.sign_in_store.sign_in_state(user.enterprise_id, user.id).await?;
        // Single sign-on only: passwords are refused, except for an enterprise admin who has one-time
        // codes (the break-glass way in when the provider is down). Checked before any enrolment,
        // so a refused person is left with nothing half set up.
        let sso_only = self.credentials.sso_only(user.enterprise_id).await?;
        if sso_only && !(user.roles.has(domain::Role::EnterpriseAdmin) && state.totp_secret_ct.is_some()) {
            self.audit_store.append_audit(&failure("sso-only", Some(&user))).await?;
            return Err(Error::SsoOnly);
        }
        let mut method = "password";
        let mut auth = AuthMethod::Password;
        let mut recovery_codes = None;
        let expired = policy.max_age_days.is_some_and(|days| {
            let changed = state.password_changed_at.unwrap_or(user.created_at);
            now.0 - changed.0 > i64::from(days) * 86_400_000
        });
        match (&state.totp_secret_ct, otp) {
            (Some(_), None) => {
                self.audit_store.append_audit(&failure("code-required", Some(&user))).await?;
                return Err(Error::SecondFactorRequired);
            }
            // An expired password: the code is checked but not spent, so the same code still
            // works on the form that replaces the password (which spends it).
            (Some(secret), Some(code)) if expired => {
                if !self.credentials.second_factor_valid(&user, secret, code).await? {
                    self.audit_store.append_audit(&failure("wrong-or-used-code", Some(&user))).await?;
                    self.count_failure(&user).await?;
                    return Err(Error::InvalidCredentials);
                }
                self.audit_store.append_audit(&failure("password-expired", Some(&user))).await?;
                return Ok(Gate::Expired(user, Some(ExpiredProof::Code(code.to_owned()))));
            }
            // Enrolment is due too: nothing is enabled yet; the password change enrols with this
            // code, so the recovery codes reach the person with the new session.
            (None, code) if expired && policy.require_second_factor => {
                self.audit_store.append_audit(&failure("password-expired", Some(&user))).await?;
                return Ok(Gate::Expired(user, code.map(|c| ExpiredProof::Enrolment(c.to_owned()))));
            }
            (Some(secret), Some(code)) => match self.credentials.check_second_factor(&user, secret, code).await? {
                Some(passed) => (method, auth) = (passed, AuthMethod::PasswordAndCode),
                None => {
                    self.audit_store.append_audit(&failure("wrong-or-used-code", Some(&user))).await?;
                    self.count_failure(&user).await?;
                    return Err(Error::InvalidCredentials);
                }
            },
            (None, code) if policy.require_second_factor => {
                // Enrolment at sign-in: the code must come from the secret just shown.
                let enrolled = match code {
                    Some(code) => {
                        self.credentials
                            .enable_pending_totp(
                                user.id,
                                user.enterprise_id,
                                &Caller::User(principal_of(&user)),
                                origin,
                                code,
                            )
                            .await?
                    }
                    None => None,
                };
                match enrolled {
                    Some(codes) => {
                        (method, auth) = ("password+totp-enrolment", AuthMethod::PasswordAndCode);
                        recovery_codes = Some(codes.recovery_codes);
                    }
                    None => {
                        self.audit_store.append_audit(&failure("second-factor-not-set-up", Some(&user))).await?;
                        return Ok(Gate::NeedsEnrolment(user));
                    }
                }
            }
            (None, _) => {}
        }
        if expired {
            self.audit_store.append_audit(&failure("password-expired", Some(&user))).await?;
            return Ok(Gate::Expired(user, None));
        }
        if state.failed_sign_ins > 0 || state.locked_until.is_some() {
            self.sign_in_store.reset_failed_sign_ins(user.enterprise_id, user.id).await?;
        }
        let method = if sso_only { format!("{method} (break-glass)") } else { method.to_owned() };
        Ok(Gate::Passed(Passed { user, needs_rehash: verified.needs_rehash, auth, method, recovery_codes }))
    }

    async fn finish_sign_in(&self, origin: &Origin, passed: Passed, password: &str) -> Result<SignedIn> {
        let Passed { user, needs_rehash, auth, method, recovery_codes } = passed;
        if needs_rehash {
            let hash = self.core.hash_password(password).await?;
            self.directory_store.set_password_hash(user.enterprise_id, user.id, &hash, Millis::now(), None).await?;
        }
        let mut signed_in = self.open_session(origin, &user, auth, &method, true).await?;
        signed_in.recovery_codes = recovery_codes;
        Ok(signed_in)
    }

    /// Counts a failed attempt against the account; the enterprise's policy decides when it locks.
    pub(super) async fn count_failure(&self, user: &store::UserRow) -> Result<()> {
        let policy = self.credentials.policy_of(user.enterprise_id).await?;
        let until = Millis(Millis::now().0 + i64::from(policy.lockout_minutes) * 60_000);
        let state = self
            .sign_in_store
            .record_failed_sign_in(user.enterprise_id, user.id, i64::from(policy.lockout_threshold), until)
            .await?;
        if state.failed_sign_ins == i64::from(policy.lockout_threshold) {
            let audit = AuditDraft {
                at: Millis::now(),
                actor: Actor::System,
                origin: Origin::default(),
                enterprise_id: Some(user.enterprise_id),
                team_id: None,
                action: Action::AuthLockout,
                target: Some(format!("user:{}", user.id)),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "minutes": policy.lockout_minutes }).to_string(),
            };
            self.audit_store.append_audit(&audit).await?;
        }
        Ok(())
    }

    /// A TOTP enrolment for someone who must set up one-time codes before their first sign-in:
    /// they prove the password here, then sign in with a code from the secret shown.
    pub async fn enrol_totp_at_sign_in(
        &self,
        origin: &Origin,
        email: &str,
        password: &str,
    ) -> Result<crate::identity::credentials::TotpEnrolment> {
        match self.sign_in_gate(origin, email, password, None).await? {
            Gate::NeedsEnrolment(user) => self.credentials.pending_enrolment(&user).await,
            // Not required, or already set up: nothing to enrol here (and no session was opened).
            Gate::Passed(_) => Err(Error::Forbidden),
            // An expired password with enrolment due: the secret is shown here too, and the
            // password change confirms it.
            Gate::Expired(user, _) => {
                let state = self.sign_in_store.sign_in_state(user.enterprise_id, user.id).await?;
                if state.totp_secret_ct.is_none()
                    && self.credentials.policy_of(user.enterprise_id).await?.require_second_factor
                {
                    self.credentials.pending_enrolment(&user).await
                } else {
                    Err(Error::PasswordExpired)
                }
            }
        }
    }

    /// Opens a session for `user`, who proved `auth`; `method` is how the audit names it.
    /// `proved_now`: the person authenticated in this very sign-in (a password, or a provider
    /// that says it asked them again), which lets an admin start elevated; a single sign-on that
    /// the provider answered from its own session does not.
    pub(crate) async fn open_session(
        &self,
        origin: &Origin,
        user: &store::UserRow,
        auth: AuthMethod,
        method: &str,
        proved_now: bool,
    ) -> Result<SignedIn> {
        let key = self.core.keys.enterprise_key(user.enterprise_id).await?;
        let token = crypto::token::generate();
        let id = SessionId::new();
        let row_id = id.to_string();
        let (kind, name) = device::describe(origin.user_agent.as_deref().unwrap_or(""));
        let now = Millis::now();
        let expires_at = Millis(now.0 + self.core.settings.session_lifetime.as_millis() as i64);
        // Having just authenticated is what elevation asks for: an admin starts elevated, and
        // the window then runs from their last admin action (A5).
        let admin = user.roles.has(domain::Role::EnterpriseAdmin) || user.roles.has(domain::Role::TeamAdmin);
        let elevated_until = if admin && proved_now {
            Some(Millis(now.0 + self.core.session_policy(user.enterprise_id).await?.elevation_ms()))
        } else {
            None
        };
        let row = store::SessionRow {
            id,
            enterprise_id: user.enterprise_id,
            user_id: user.id,
            token_hash: crypto::token::hash(&token),
            device_kind: kind,
            device_name_ct: key.seal_str(&name, aad(&row_id, "device_name")),
            ip_ct: key.seal_str(origin.ip.as_deref().unwrap_or(""), aad(&row_id, "ip")),
            created_at: now,
            last_seen_at: now,
            expires_at,
            ended_at: None,
            ended_reason: None,
            auth_method: auth,
            elevated_until,
            wipe_requested_at: None,
            wipe_acknowledged_at: None,
            active_at: now,
            locked_at: None,
            pin_failures: 0,
        };
        let audit = AuditDraft {
            at: now,
            actor: Actor::User { user_id: user.id },
            origin: origin.clone(),
            enterprise_id: Some(user.enterprise_id),
            team_id: None,
            action: Action::AuthSignIn,
            target: Some(format!("session:{id}")),
            outcome: Outcome::Success,
            detail: serde_json::json!({ "method": method, "device_kind": kind.as_str() }).to_string(),
        };
        self.session_store.create_session(&row, &audit).await?;
        Ok(SignedIn {
            csrf_token: crypto::token::csrf_for(&token),
            token,
            principal: Principal::of_session(&row, user.roles),
            expires_at,
            recovery_codes: None,
        })
    }

    /// Records that a session is in use (a live connection's ping), at most once per touch
    /// interval thanks to the store's `last_seen_at < now` guard and the ping period.
    pub async fn seen(&self, session: SessionId) -> Result<()> {
        self.session_store.touch_session(session, Millis::now()).await?;
        Ok(())
    }

    /// When the session behind `token` expires and, under a PIN lock, when it will lock if no
    /// request comes; unauthenticated if it ended, [`Error::PinRequired`] if it is locked.
    /// Read-only: a live connection checks this without counting as activity.
    pub async fn session_clock(&self, token: &str) -> Result<SessionClock> {
        let resolved = self.resolve(token).await?;
        match resolved.lock {
            LockState::Open { locks_at } => Ok(SessionClock { expires_at: resolved.expires_at, locks_at }),
            LockState::Locked => Err(Error::PinRequired { pin_set: true }),
            LockState::PinMissing => Err(Error::PinRequired { pin_set: false }),
        }
    }

    /// Resolves a bearer or cookie token to its principal, for a request that reaches content:
    /// a session locked behind its PIN (or whose person must set one) is refused with
    /// [`Error::PinRequired`]. Ended, expired and disabled-account sessions are all simply
    /// unauthenticated. The request counts as the person's activity (an API client has no other
    /// way to show it); see [`Sessions::authenticate_with_input`] for browsers.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        self.authenticate_with_input(token, Some(Millis::now())).await
    }

    /// The same, where `input_at` is when the person last used the device (a browser says so;
    /// its background requests alone do not keep a PIN lock away). `None`: no sign of use.
    pub async fn authenticate_with_input(&self, token: &str, input_at: Option<Millis>) -> Result<Principal> {
        let resolved = self.resolve(token).await?;
        match resolved.lock {
            LockState::Locked => {
                self.record_idle_lock(&resolved).await;
                Err(Error::PinRequired { pin_set: true })
            }
            LockState::PinMissing => Err(Error::PinRequired { pin_set: false }),
            LockState::Open { locks_at } => {
                self.note_activity(&resolved, locks_at, input_at).await?;
                Ok(resolved.principal)
            }
        }
    }

    /// The first request a session refuses because it sat idle past its PIN delay records the
    /// lock on the session and in the audit log, once; later refusals under the same lock add
    /// nothing (a locked page's background requests would otherwise flood the log).
    async fn record_idle_lock(&self, resolved: &Resolved) {
        if resolved.lock_recorded {
            return;
        }
        let p = &resolved.principal;
        let audit = AuditDraft {
            detail: serde_json::json!({ "reason": "idle" }).to_string(),
            ..crate::draft(
                &Caller::System,
                &Origin::default(),
                Some(p.enterprise_id),
                Action::SessionLock,
                Some(format!("session:{}", p.session_id)),
            )
        };
        match self.session_store.lock_session(p.session_id, Millis::now(), &audit).await {
            Ok(_) | Err(store::Error::NotFound) => {}
            // The refusal stands either way; the next refused request tries to record it again.
            Err(e) => tracing::warn!(error = %e, "could not record an idle PIN lock"),
        }
    }

    /// The same for the few requests a locked session may make (the lock screen: who am I,
    /// unlock, set a first PIN, sign out): the lock state comes back instead of a refusal. An
    /// open session's activity is noted as for any request.
    pub async fn authenticate_even_locked(
        &self,
        token: &str,
        input_at: Option<Millis>,
    ) -> Result<(Principal, LockState)> {
        let resolved = self.resolve(token).await?;
        match resolved.lock {
            LockState::Open { locks_at } => self.note_activity(&resolved, locks_at, input_at).await?,
            LockState::Locked => self.record_idle_lock(&resolved).await,
            LockState::PinMissing => {}
        }
        Ok((resolved.principal, resolved.lock))
    }

    /// Without a PIN lock, any request shows presence (written once a touch interval). Under
    /// one, only the person's use does: `input_at`, never later than now, written when it moves
    /// the session's activity on by a few seconds.
    async fn note_activity(
        &self,
        resolved: &Resolved,
        locks_at: Option<Millis>,
        input_at: Option<Millis>,
    ) -> Result<()> {
        let now = Millis::now();
        let (at, step) = match locks_at {
            None => (now, self.core.settings.touch_interval.as_millis() as i64),
            Some(_) => match input_at {
                Some(t) => (Millis(t.0.min(now.0)), ACTIVE_STEP_MS),
                None => return Ok(()),
            },
        };
        if at.0 - resolved.active_at.0 >= step {
            self.session_store.mark_session_active(resolved.principal.session_id, at).await?;
        }
        Ok(())
    }

    async fn resolve(&self, token: &str) -> Result<Resolved> {
        if token.is_empty() || token.len() > 128 {
            return Err(Error::Unauthenticated);
        }
        let now = Millis::now();
        let hash = crypto::token::hash(token);
        let Some(found) = self.session_store.session_principal(&hash, now).await? else {
            // A device that was offline when an admin ended its session learns it must erase
            // what it holds on its next request (only the holder of the token can ask).
            if self.session_store.session_awaiting_wipe(&hash).await?.is_some() {
                return Err(Error::WipeRequired);
            }
            return Err(Error::Unauthenticated);
        };
        let session = &found.session;
        let policy = self.core.session_policy(session.enterprise_id).await?;
        let lock = domain::session_policy::lock_state(
            &policy,
            found.pin_lock_after,
            session.active_at,
            session.locked_at,
            now,
        );
        Ok(Resolved {
            principal: Principal::of_session(session, found.roles),
            lock,
            lock_recorded: session.locked_at.is_some(),
            active_at: session.active_at,
            expires_at: session.expires_at,
        })
    }

    /// Checks a CSRF token against the session token it must belong to, in constant time.
    pub fn csrf_matches(&self, session_token: &str, csrf_token: &str) -> bool {
        crypto::ct_eq(crypto::token::csrf_for(session_token).as_bytes(), csrf_token.as_bytes())
    }

    /// Ends the caller's current session server-side.
    pub async fn sign_out(&self, principal: &Principal, origin: &Origin) -> Result<()> {
        self.end_own_session(principal, origin, principal.session_id, "sign-out", Action::AuthSignOut).await
    }

    /// Signs one of the caller's own devices out.
    pub async fn end_device(&self, principal: &Principal, origin: &Origin, session: SessionId) -> Result<()> {
        self.end_own_session(principal, origin, session, "ended-by-user", Action::SessionEnd).await
    }

    /// Signs the user's other devices out (after a password change: whoever held the old
    /// password may hold a session too). `keep` is the session making the change, if any.
    pub(crate) async fn end_other_sessions(
        &self,
        principal: &Principal,
        origin: &Origin,
        keep: Option<SessionId>,
    ) -> Result<()> {
        for session in
            self.session_store.list_sessions(principal.enterprise_id, principal.user_id, Millis::now()).await?
        {
            if Some(session.id) == keep {
                continue;
            }
            match self.end_own_session(principal, origin, session.id, "password-changed", Action::SessionEnd).await {
                // Ended meanwhile by someone else: nothing left to do.
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn end_own_session(
        &self,
        principal: &Principal,
        origin: &Origin,
        session: SessionId,
        reason: &str,
        action: Action,
    ) -> Result<()> {
        let audit = AuditDraft {
            detail: serde_json::json!({ "reason": reason }).to_string(),
            ..crate::draft(
                &Caller::User(principal.clone()),
                origin,
                Some(principal.enterprise_id),
                action,
                Some(format!("session:{session}")),
            )
        };
        self.session_store
            .end_session(principal.enterprise_id, principal.user_id, session, reason, Millis::now(), &audit)
            .await
            .map_err(|e| match e {
                store::Error::NotFound => Error::NotFound("session"),
                e => e.into(),
            })?;
        self.core.publish_session_ended(principal.enterprise_id, principal.user_id, Some(session), false).await;
        Ok(())
    }

    /// The caller's open sessions, each with its device record.
    pub async fn list_devices(&self, principal: &Principal) -> Result<Vec<DeviceView>> {
        self.devices_of(principal.enterprise_id, principal.user_id, Some(principal.session_id)).await
    }

    async fn devices_of(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        current: Option<SessionId>,
    ) -> Result<Vec<DeviceView>> {
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let mut rows = self.session_store.list_sessions(enterprise, user, Millis::now()).await?;
        if current.is_none() {
            // The admin's view: also the devices asked to erase in the last 30 days, with whether
            // they confirmed it.
            let since = Millis(Millis::now().0 - 30 * 24 * 3600 * 1000);
            rows.extend(self.session_store.wiped_sessions(enterprise, user, since).await?);
        }
        rows.iter()
            .map(|s| {
                let id = s.id.to_string();
                Ok(DeviceView {
                    session_id: s.id,
                    kind: s.device_kind.as_str().to_owned(),
                    sign_in_method: s.auth_method.as_str().to_owned(),
                    name: key.open_str(&s.device_name_ct, aad(&id, "device_name"))?,
                    ip: key.open_str(&s.ip_ct, aad(&id, "ip"))?,
                    created_at: s.created_at.rfc3339(),
                    last_seen_at: s.last_seen_at.rfc3339(),
                    expires_at: s.expires_at.rfc3339(),
                    current: Some(s.id) == current,
                    ended: s.ended_at.is_some(),
                    wipe_requested_at: s.wipe_requested_at.map(Millis::rfc3339),
                    wipe_acknowledged_at: s.wipe_acknowledged_at.map(Millis::rfc3339),
                })
            })
            .collect()
    }

    /// An enterprise admin signs one device of a user out (`session`), or all of them (`None`),
    /// and asks each to erase what it holds of Conclave: told at once over its live connection,
    /// or on its next request if it is offline. Returns how many sessions ended.
    pub async fn end_user_devices(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        user: UserId,
        session: Option<SessionId>,
    ) -> Result<usize> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SessionEnd).await?;
        if self.directory_store.get_user(enterprise, user).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        let target = Some(match session {
            Some(s) => format!("session:{s}"),
            None => format!("user:{user}"),
        });
        let audit = AuditDraft {
            detail: serde_json::json!({ "reason": "ended-by-admin", "wipe": true, "sessions": session.map_or("all", |_| "one") })
                .to_string(),
            ..crate::draft(caller, origin, Some(enterprise), Action::SessionEnd, target)
        };
        let ended = self
            .session_store
            .end_and_wipe_sessions(enterprise, user, session, "ended-by-admin", Millis::now(), &audit)
            .await
            .map_err(|e| match e {
                store::Error::NotFound => Error::NotFound("session"),
                e => e.into(),
            })?;
        for id in &ended {
            self.core.publish_session_ended(enterprise, user, Some(*id), true).await;
        }
        Ok(ended.len())
    }

    /// The device of an ended session confirms it erased what it held. Only the holder of the
    /// session's token (and, for a browser, its CSRF token) can; anything else is `NotFound`.
    pub async fn acknowledge_wipe(&self, origin: &Origin, token: &str, csrf: Option<&str>) -> Result<()> {
        if token.is_empty() || token.len() > 128 {
            return Err(Error::NotFound("wipe request"));
        }
        if let Some(csrf) = csrf {
            if !self.csrf_matches(token, csrf) {
                return Err(Error::NotFound("wipe request"));
            }
        }
        let session = self
            .session_store
            .session_awaiting_wipe(&crypto::token::hash(token))
            .await?
            .ok_or(Error::NotFound("wipe request"))?;
        let audit = AuditDraft {
            enterprise_id: Some(session.enterprise_id),
            target: Some(format!("session:{}", session.id)),
            ..AuditDraft::new(
                Action::SessionWipeAcknowledge,
                domain::audit::Actor::User { user_id: session.user_id },
                origin.clone(),
            )
        };
        if !self.session_store.acknowledge_wipe(session.id, Millis::now(), &audit).await? {
            return Err(Error::NotFound("wipe request"));
        }
        Ok(())
    }

    /// A user's devices, for enterprise admins of that user's enterprise (A4 builds on this).
    pub async fn list_user_devices(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        user: UserId,
    ) -> Result<Vec<DeviceView>> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SessionList).await?;
        if self.directory_store.get_user(enterprise, user).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        self.devices_of(enterprise, user, None).await
    }
}

impl Sessions {
    /// The CSRF token that belongs to a session token, for the web client to send back.
    pub fn csrf_token_for(&self, session_token: &str) -> String {
        crypto::token::csrf_for(session_token)
    }
}

// ---- Password changes: they end other sessions and may open one ----

impl Sessions {
    /// The signed-in user changes their password, proving the current one.
    pub async fn change_password(
        &self,
        p: &Principal,
        origin: &Origin,
        current: &str,
        new_password: &str,
    ) -> Result<()> {
        let user = self.directory_store.get_user(p.enterprise_id, p.user_id).await?.ok_or(Error::Unauthenticated)?;
        let stored = user.password_hash.clone().ok_or(Error::InvalidCredentials)?;
        if current.chars().count() > validate::MAX_PASSWORD_CHARS
            || self.core.verify_password(current, stored).await?.is_none()
        {
            return Err(Error::Invalid(FieldError::new(
                "current_password",
                Rule::InvalidValue,
                "the current password is wrong",
            )));
        }
        self.credentials.set_new_password(&user, &Caller::User(p.clone()), origin, new_password).await?;
        self.end_other_sessions(p, origin, Some(p.session_id)).await
    }

    /// Sets a new password in place of an expired one, then signs in as usual (one-time code
    /// included when the account has one).
    pub async fn change_expired_password(
        &self,
        origin: &Origin,
        email: &str,
        password: &str,
        otp: Option<&str>,
        new_password: &str,
    ) -> Result<SignedIn> {
        let (user, proof) = match self.sign_in_gate(origin, email, password, otp).await? {
            Gate::Expired(user, proof) => (user, proof),
            Gate::Passed(_) => {
                return Err(Error::Invalid(FieldError::new(
                    "password",
                    Rule::InvalidValue,
                    "this password has not expired; change it from your account instead",
                )))
            }
            Gate::NeedsEnrolment(_) => return Err(Error::SecondFactorEnrolmentRequired),
        };
        // The new password must pass the policy before the second factor is spent or enrolled.
        let policy = self.credentials.policy_of(user.enterprise_id).await?;
        let mut previous = self.sign_in_store.password_history(user.enterprise_id, user.id, policy.history).await?;
        if let Some(current) = &user.password_hash {
            previous.insert(0, current.clone());
        }
        self.credentials
            .check_new_password(
                user.enterprise_id,
                self.credentials.personal_words(&user).await?,
                new_password,
                previous,
            )
            .await?;
        let state = self.sign_in_store.sign_in_state(user.enterprise_id, user.id).await?;
        let mut recovery_codes = None;
        let auth = if proof.is_some() { domain::AuthMethod::PasswordAndCode } else { domain::AuthMethod::Password };
        match (proof, &state.totp_secret_ct) {
            (Some(ExpiredProof::Code(code)), Some(secret)) => {
                if self.credentials.check_second_factor(&user, secret, &code).await?.is_none() {
                    return Err(Error::InvalidCredentials);
                }
            }
            (Some(ExpiredProof::Enrolment(code)), None) => {
                match self
                    .credentials
                    .enable_pending_totp(user.id, user.enterprise_id, &Caller::User(principal_of(&user)), origin, &code)
                    .await?
                {
                    Some(enrolled) => recovery_codes = Some(enrolled.recovery_codes),
                    None => return Err(Error::SecondFactorEnrolmentRequired),
                }
            }
            (None, None) if policy.require_second_factor => return Err(Error::SecondFactorEnrolmentRequired),
            (None, _) => {}
            _ => return Err(Error::InvalidCredentials),
        }
        self.credentials.set_new_password(&user, &Caller::User(principal_of(&user)), origin, new_password).await?;
        self.end_other_sessions(&principal_of(&user), origin, None).await?;
        let mut signed_in = self.open_session(origin, &user, auth, "password-change", true).await?;
        signed_in.recovery_codes = recovery_codes;
        Ok(signed_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoy_locks_behave_like_a_real_account_s() {
        let locks = DecoyLocks::default();
        let policy = domain::password_policy::PasswordPolicy::default();
        let t0 = Millis(1_000_000);
        for _ in 0..policy.lockout_threshold - 1 {
            locks.count_failure(b"index", t0);
        }
        assert_eq!(locks.locked_until(b"index", t0), None, "not yet");
        locks.count_failure(b"index", t0);
        let until = locks.locked_until(b"index", t0).expect("locked at the threshold");
        assert_eq!(until.0 - t0.0, i64::from(policy.lockout_minutes) * 60_000);
        assert_eq!(locks.locked_until(b"other", t0), None, "per email");
        // The lock ends; the count is kept, so the next failure locks again at once.
        let later = Millis(until.0 + 1);
        assert_eq!(locks.locked_until(b"index", later), None);
        locks.count_failure(b"index", later);
        assert!(locks.locked_until(b"index", later).is_some());
    }
}

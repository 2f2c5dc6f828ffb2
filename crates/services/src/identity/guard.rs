//! What guards a session after sign-in: elevation for the admin consoles (A5) and the PIN lock
//! (A6). Both are decided here, on the server, so a token taken from a device is useless for
//! admin work once its elevation lapsed and useless for content while it is locked.

use super::Sessions;
use crate::{Caller, Error, Principal, Result};
use domain::audit::{Action, AuditDraft, Origin, Outcome};
use domain::session_policy::{self, LockState, SessionPolicy};
use domain::{EnterpriseId, FieldError, Millis, Rule};
use serde::Serialize;
use utoipa::ToSchema;

/// A person's PIN settings as they see them.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct PinView {
    /// Whether a PIN is set.
    pub set: bool,
    /// Minutes without use after which the session locks (0: whenever the page is started or
    /// hidden); absent without a PIN.
    pub lock_after_minutes: Option<u32>,
    /// The organisation requires a PIN.
    pub required: bool,
    /// The longest delay the organisation allows, in minutes.
    pub max_lock_after_minutes: u32,
    /// Whether this session is locked now.
    pub locked: bool,
}

/// What a successful re-authentication hands back.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct ElevationView {
    /// Until when admin actions are allowed without authenticating again; each admin action
    /// moves it forward.
    pub elevated_until: String,
    pub window_minutes: u32,
}

fn wrong(field: &str, message: &str) -> Error {
    Error::Invalid(FieldError::new(field, Rule::InvalidValue, message))
}

impl Sessions {
    /// The person proves again who they are (password, and a one-time code when their account
    /// has one) and the session may use the admin consoles for the enterprise's window (A5).
    /// A wrong password counts towards the account's lockout like a failed sign-in.
    pub async fn elevate(
        &self,
        p: &Principal,
        origin: &Origin,
        password: &str,
        code: Option<&str>,
    ) -> Result<ElevationView> {
        let caller = Caller::User(p.clone());
        let user = self.directory_store.get_user(p.enterprise_id, p.user_id).await?.ok_or(Error::Unauthenticated)?;
        let audit = |outcome: Outcome, method: &str, reason: Option<&str>| AuditDraft {
            outcome,
            detail: match reason {
                Some(r) => serde_json::json!({ "method": method, "reason": r }),
                None => serde_json::json!({ "method": method }),
            }
            .to_string(),
            ..crate::draft(
                &caller,
                origin,
                Some(p.enterprise_id),
                Action::SessionElevate,
                Some(format!("session:{}", p.session_id)),
            )
        };
        let Some(stored) = user.password_hash.clone() else {
            return Err(wrong("password", "this account has no password: sign in again through single sign-on"));
        };
        if password.is_empty() {
            return Err(Error::Invalid(FieldError::new("password", Rule::Required, "enter your password")));
        }
        // An over-long code is refused before the password is checked, as at sign-in.
        if let Some(code) = code {
            domain::validate::code_length("code", code.trim()).map_err(Error::Invalid)?;
        }
        // A locked account is not checked at all, as at sign-in: guessing stops there too.
        let now = Millis::now();
        if let Some(until) =
            self.sign_in_store.sign_in_state(p.enterprise_id, p.user_id).await?.locked_until.filter(|u| u.0 > now.0)
        {
            self.audit_store.append_audit(&audit(Outcome::Failure, "password", Some("locked"))).await?;
            return Err(Error::Locked(((until.0 - now.0) / 1000 + 1) as u64));
        }
        if password.chars().count() > domain::validate::MAX_PASSWORD_CHARS
            || self.core.verify_password(password, stored).await?.is_none()
        {
            self.audit_store.append_audit(&audit(Outcome::Failure, "password", Some("wrong-password"))).await?;
            self.count_failure(&user).await?;
            return Err(wrong("password", "the password is wrong"));
        }
        let state = self.sign_in_store.sign_in_state(p.enterprise_id, p.user_id).await?;
        let mut method = "password";
        if let Some(secret) = &state.totp_secret_ct {
            let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
                self.audit_store.append_audit(&audit(Outcome::Failure, "password", Some("code-required"))).await?;
                return Err(Error::Invalid(FieldError::new(
                    "code",
                    Rule::Required,
                    "enter the one-time code from your authenticator app",
                )));
            };
            if self.credentials.check_second_factor(&user, secret, code).await?.is_none() {
                self.audit_store
                    .append_audit(&audit(Outcome::Failure, "password+code", Some("wrong-or-used-code")))
                    .await?;
                self.count_failure(&user).await?;
                return Err(wrong("code", "the code is wrong or was already used"));
            }
            method = "password+code";
        }
        if state.failed_sign_ins > 0 {
            self.sign_in_store.reset_failed_sign_ins(p.enterprise_id, p.user_id).await?;
        }
        let policy = self.core.session_policy(p.enterprise_id).await?;
        let until = Millis(Millis::now().0 + policy.elevation_ms());
        self.session_store
            .set_session_elevation(p.session_id, until, Some(&audit(Outcome::Success, method, None)))
            .await?;
        Ok(ElevationView { elevated_until: until.rfc3339(), window_minutes: policy.elevation_minutes })
    }

    /// The person's PIN settings and whether this session is locked.
    pub async fn pin_settings(&self, p: &Principal, lock: LockState) -> Result<PinView> {
        let policy = self.core.session_policy(p.enterprise_id).await?;
        let pin = self.session_store.user_pin(p.enterprise_id, p.user_id).await?;
        Ok(PinView {
            set: pin.is_some(),
            lock_after_minutes: pin.map(|p| (policy.effective_lock_after(p.lock_after) / 60) as u32),
            required: policy.pin_required,
            max_lock_after_minutes: policy.pin_max_lock_minutes,
            locked: !matches!(lock, LockState::Open { .. }),
        })
    }

    /// Sets the person's PIN (4 to 12 digits, kept as an argon2id hash) and their lock delay.
    /// Changing a PIN needs the current one, checked like an unlock (wrong ones count), so
    /// someone holding an unlocked session cannot put in a PIN of their own.
    pub async fn set_pin(
        &self,
        p: &Principal,
        origin: &Origin,
        pin: &str,
        lock_after_minutes: u32,
        current_pin: Option<&str>,
    ) -> Result<PinView> {
        session_policy::pin("pin", pin).map_err(Error::Invalid)?;
        let policy = self.core.session_policy(p.enterprise_id).await?;
        let lock_after =
            session_policy::lock_delay("lock_after_minutes", lock_after_minutes, &policy).map_err(Error::Invalid)?;
        if let Some(existing) = self.session_store.user_pin(p.enterprise_id, p.user_id).await? {
            let Some(current) = current_pin.filter(|c| !c.is_empty()) else {
                return Err(Error::Invalid(FieldError::new("current_pin", Rule::Required, "enter your current PIN")));
            };
            self.check_pin(p, origin, &policy, &existing, current, "current_pin").await?;
        }
        let hash = self.core.hash_password(pin).await?;
        let audit = AuditDraft {
            detail: serde_json::json!({ "lock_after_minutes": lock_after_minutes }).to_string(),
            ..crate::draft(
                &Caller::User(p.clone()),
                origin,
                Some(p.enterprise_id),
                Action::PinSet,
                Some(format!("user:{}", p.user_id)),
            )
        };
        let row = store::UserPin { hash, lock_after };
        self.session_store.set_user_pin(p.enterprise_id, p.user_id, Some(&row), &audit).await?;
        // Whoever sets a PIN is at the device now: the session starts unlocked from here.
        self.session_store.mark_session_active(p.session_id, Millis::now()).await?;
        self.pin_settings(p, LockState::Open { locks_at: None }).await
    }

    /// Removes the person's PIN (with the current one), unless their organisation requires one.
    pub async fn remove_pin(&self, p: &Principal, origin: &Origin, current_pin: &str) -> Result<PinView> {
        let policy = self.core.session_policy(p.enterprise_id).await?;
        if policy.pin_required {
            return Err(wrong("pin", "your organisation requires a PIN; you can change it but not remove it"));
        }
        let existing = self.session_store.user_pin(p.enterprise_id, p.user_id).await?.ok_or(Error::NotFound("PIN"))?;
        self.check_pin(p, origin, &policy, &existing, current_pin, "current_pin").await?;
        let audit = crate::draft(
            &Caller::User(p.clone()),
            origin,
            Some(p.enterprise_id),
            Action::PinRemove,
            Some(format!("user:{}", p.user_id)),
        );
        self.session_store.set_user_pin(p.enterprise_id, p.user_id, None, &audit).await?;
        self.pin_settings(p, LockState::Open { locks_at: None }).await
    }

    /// The client asks to lock its session now (the page was hidden, or it started).
    pub async fn lock(&self, p: &Principal) -> Result<()> {
        if self.session_store.user_pin(p.enterprise_id, p.user_id).await?.is_none() {
            return Err(wrong("pin", "set a PIN first"));
        }
        let audit = AuditDraft {
            detail: serde_json::json!({ "reason": "requested" }).to_string(),
            ..crate::draft(
                &Caller::User(p.clone()),
                &p.origin,
                Some(p.enterprise_id),
                Action::SessionLock,
                Some(format!("session:{}", p.session_id)),
            )
        };
        match self.session_store.lock_session(p.session_id, Millis::now(), &audit).await {
            Ok(_) => Ok(()),
            Err(store::Error::NotFound) => Err(Error::Unauthenticated),
            Err(e) => Err(e.into()),
        }
    }

    /// Unlocks the session with the person's PIN. After the enterprise's number of wrong PINs
    /// in a row the session ends and the device is told to erase what it holds.
    pub async fn unlock(&self, p: &Principal, origin: &Origin, pin: &str) -> Result<()> {
        let policy = self.core.session_policy(p.enterprise_id).await?;
        let existing = self
            .session_store
            .user_pin(p.enterprise_id, p.user_id)
            .await?
            .ok_or_else(|| wrong("pin", "no PIN is set: set one first"))?;
        self.check_pin(p, origin, &policy, &existing, pin, "pin").await?;
        let audit = AuditDraft {
            detail: serde_json::json!({ "reason": "unlocked" }).to_string(),
            ..crate::draft(
                &Caller::User(p.clone()),
                origin,
                Some(p.enterprise_id),
                Action::SessionUnlock,
                Some(format!("session:{}", p.session_id)),
            )
        };
        self.session_store.unlock_session(p.session_id, Millis::now(), &audit).await.map_err(|e| match e {
            store::Error::NotFound => Error::Unauthenticated,
            e => e.into(),
        })
    }

    /// Checks `given` against the PIN; a wrong one is counted against the session and, at the
    /// enterprise's limit, ends it with a wipe.
    async fn check_pin(
        &self,
        p: &Principal,
        origin: &Origin,
        policy: &SessionPolicy,
        existing: &store::UserPin,
        given: &str,
        field: &str,
    ) -> Result<()> {
        let limit = i64::from(policy.pin_attempts);
        let gone = |e: store::Error| match e {
            store::Error::NotFound => Error::Unauthenticated,
            e => e.into(),
        };
        // The attempt counts before the slow check, so guesses sent in parallel cannot all be
        // hashed before any of them is counted; a right PIN gives its count back.
        let reserved = self.session_store.reserve_pin_attempt(p.session_id, limit).await.map_err(gone)?;
        // A malformed PIN cannot be right; it still counts, so guessing stays bounded.
        let right = reserved.is_some()
            && session_policy::pin(field, given).is_ok()
            && self.core.verify_password(given, existing.hash.clone()).await?.is_some();
        if right {
            self.session_store.release_pin_attempt(p.session_id).await?;
            return Ok(());
        }
        let caller = Caller::User(p.clone());
        let target = Some(format!("session:{}", p.session_id));
        let failures = self
            .session_store
            .record_pin_failure(
                p.session_id,
                &AuditDraft {
                    outcome: Outcome::Failure,
                    detail: serde_json::json!({ "reason": "wrong-pin" }).to_string(),
                    ..crate::draft(&caller, origin, Some(p.enterprise_id), Action::SessionUnlock, target.clone())
                },
            )
            .await
            .map_err(|e| match e {
                store::Error::NotFound => Error::Unauthenticated,
                e => e.into(),
            })?;
        if failures >= limit {
            let audit = AuditDraft {
                detail: serde_json::json!({ "reason": "pin-attempts", "wipe": true, "sessions": "one" }).to_string(),
                ..crate::draft(&Caller::System, origin, Some(p.enterprise_id), Action::SessionEnd, target)
            };
            let ended = self
                .session_store
                .end_and_wipe_sessions(
                    p.enterprise_id,
                    p.user_id,
                    Some(p.session_id),
                    "pin-attempts",
                    Millis::now(),
                    &audit,
                )
                .await?;
            for id in ended {
                self.core.publish_session_ended(p.enterprise_id, p.user_id, Some(id), true).await;
            }
            return Err(Error::WipeRequired);
        }
        let left = limit - failures;
        Err(wrong(
            field,
            &format!(
                "is wrong; {left} more wrong {} and this device is signed out and wiped",
                if left == 1 { "try" } else { "tries" }
            ),
        ))
    }

    /// The enterprise's elevation and PIN rules; any member may read them (the client shows
    /// the limits).
    pub async fn session_policy(&self, caller: &Caller, enterprise: EnterpriseId) -> Result<SessionPolicy> {
        self.core.require_member_of(caller, enterprise, Action::SessionPolicyRead).await?;
        self.core.session_policy(enterprise).await
    }

    pub async fn put_session_policy(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        policy: SessionPolicy,
    ) -> Result<SessionPolicy> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SessionPolicyUpdate).await?;
        policy.validate().map_err(Error::Invalid)?;
        let json = serde_json::to_string(&policy).expect("a policy serialises");
        let audit = AuditDraft {
            detail: json.clone(),
            ..crate::draft(caller, origin, Some(enterprise), Action::SessionPolicyUpdate, None)
        };
        crate::core::policies::replace(
            &*self.core.policy_store(),
            caller,
            enterprise,
            crate::core::authz::SESSION_POLICY,
            &json,
            None,
            &audit,
        )
        .await?;
        self.core.forget_session_policy(enterprise);
        Ok(policy)
    }
}

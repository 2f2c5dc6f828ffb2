//! Sign-in an enterprise controls (A1, A3): the password policy and its enforcement on every new
//! password, password changes (including an expired one), lockout after repeated failures, and
//! TOTP one-time codes with recovery codes.
//!
//! A stricter policy never locks anyone out silently: it applies when a password is next set.
//! Only the maximum age acts on existing passwords, and then the user changes it at sign-in.

use crate::{draft, Caller, Error, Principal, Result};
use crypto::totp::TotpSecret;
use crypto::Aad;
use domain::audit::{Action, Origin};
use domain::password_policy::{PasswordContext, PasswordPolicy};
use domain::{validate, EnterpriseId, FieldError, Millis, Rule, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// Password policy and the checks on a new password, password storage and history, and one-time codes with their recovery codes.
pub struct Credentials {
    core: Arc<crate::core::Core>,
    directory_store: Arc<dyn store::DirectoryStore>,
    policy_store: Arc<dyn store::PolicyStore>,
    sign_in_store: Arc<dyn store::SignInStore>,
}

impl Credentials {
    pub(crate) fn new(core: Arc<crate::core::Core>, store: &Arc<dyn store::Store>) -> Credentials {
        Credentials { core, directory_store: store.clone(), policy_store: store.clone(), sign_in_store: store.clone() }
    }
}

/// The policy-document kind that holds the enterprise's password policy.
const PASSWORD_POLICY: &str = store::kinds::PASSWORD;

/// The policy with the checklist the UI shows while someone types a new password.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PasswordPolicyView {
    #[schema(value_type = Object)]
    pub policy: PasswordPolicy,
    /// `[rule, sentence]` pairs, in the order the server reports failures.
    pub checklist: Vec<(String, String)>,
    /// The words the "personal" rule refuses for the caller (their name, email and organisation,
    /// without parts every address shares), so a form can check as the person types.
    pub personal_words: Vec<String>,
}

/// The text about a person that a new password must not contain parts of.
#[derive(Clone, Debug, Default)]
pub struct PersonalText {
    pub name: String,
    pub email: String,
}

/// What an authenticator app needs to enrol.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32, for typing in by hand.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document drawn by the server.
    pub qr_svg: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TotpStatus {
    pub enabled: bool,
    pub required: bool,
    pub recovery_codes_left: i64,
}

/// Shown once after enrolment: each code signs in once in place of a one-time code.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

fn secret_aad<'a>(user: &'a str, column: &'static str) -> Aad<'a> {
    Aad { table: "users", row: user, column }
}

/// Draws a QR code as SVG: one path of unit squares, with the quiet zone the standard asks for.
fn qr_svg(text: &str) -> Result<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium)
        .map_err(|e| Error::Internal(format!("QR code: {e:?}")))?;
    let (size, border) = (qr.size(), 4);
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let full = size + 2 * border;
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {full} {full}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

fn now_secs() -> i64 {
    Millis::now().0 / 1000
}

impl Credentials {
    /// The enterprise's policy, or the default when it has not set one.
    pub(crate) async fn policy_of(&self, enterprise: EnterpriseId) -> Result<PasswordPolicy> {
        match self.policy_store.policy_document(enterprise, PASSWORD_POLICY).await? {
            Some(row) => {
                serde_json::from_str(&row.document).map_err(|e| Error::Internal(format!("stored policy: {e}")))
            }
            None => Ok(PasswordPolicy::default()),
        }
    }

    /// Any member may read the policy (the UI shows its rules); the operator too.
    pub async fn password_policy(&self, caller: &Caller, enterprise: EnterpriseId) -> Result<PasswordPolicyView> {
        self.core.require_member_of(caller, enterprise, Action::PasswordPolicyRead).await?;
        let policy = self.policy_of(enterprise).await?;
        let personal_words = match caller {
            Caller::User(p) if p.enterprise_id == enterprise => {
                match self.directory_store.get_user(enterprise, p.user_id).await? {
                    Some(user) => {
                        let text = self.personal_words(&user).await?;
                        let organisation = self.enterprise_name(enterprise).await?;
                        domain::password_policy::personal_words(&text.name, &text.email, &organisation)
                    }
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        Ok(PasswordPolicyView { checklist: domain::password_policy::checklist(&policy), policy, personal_words })
    }

    async fn enterprise_name(&self, enterprise: EnterpriseId) -> Result<String> {
        Ok(match self.directory_store.get_enterprise(enterprise).await? {
            Some(row) => {
                let key = self.core.keys.enterprise_key(enterprise).await?;
                key.open_str(&row.name_ct, Aad { table: "enterprises", row: &enterprise.to_string(), column: "name" })
                    .unwrap_or_default()
            }
            None => String::new(),
        })
    }

    pub async fn put_password_policy(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        policy: PasswordPolicy,
    ) -> Result<PasswordPolicyView> {
        self.core.require_enterprise_admin(caller, enterprise, Action::PasswordPolicyUpdate).await?;
        policy.validate().map_err(Error::Invalid)?;
        let json = serde_json::to_string(&policy).expect("a policy serialises");
        let audit = domain::audit::AuditDraft {
            detail: json.clone(),
            ..draft(caller, origin, Some(enterprise), Action::PasswordPolicyUpdate, None)
        };
        crate::core::policies::replace(&*self.policy_store, caller, enterprise, PASSWORD_POLICY, &json, None, &audit)
            .await?;
        Ok(PasswordPolicyView {
            checklist: domain::password_policy::checklist(&policy),
            policy,
            personal_words: Vec::new(),
        })
    }

    /// Holds a new password to the enterprise's policy. `previous` are hashes it must not match.
    pub(crate) async fn check_new_password(
        &self,
        enterprise: EnterpriseId,
        personal: PersonalText,
        password: &str,
        previous: Vec<String>,
    ) -> Result<()> {
        validate::new_password("password", password).map_err(Error::Invalid)?;
        let policy = self.policy_of(enterprise).await?;
        let enterprise_name = self.enterprise_name(enterprise).await?;
        let words = domain::password_policy::personal_words(&personal.name, &personal.email, &enterprise_name);
        let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
        let strength = u8::from(zxcvbn::zxcvbn(password, &inputs).score());
        let history: Vec<String> = previous.into_iter().take(policy.history as usize + 1).collect();
        let mut reused = false;
        for hash in history {
            if self.core.verify_password(password, hash).await?.is_some() {
                reused = true;
                break;
            }
        }
        let failures = policy.check(password, &PasswordContext { strength, personal_words: &words, reused });
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::PasswordPolicy(failures))
        }
    }

    /// A user's name and email, for the "nothing personal" rule.
    pub(crate) async fn personal_words(&self, user: &store::UserRow) -> Result<PersonalText> {
        let key = self.core.keys.enterprise_key(user.enterprise_id).await?;
        let id = user.id.to_string();
        let name = key.open_str(&user.name_ct, Aad { table: "users", row: &id, column: "name" })?;
        let email = key.open_str(&user.email_ct, Aad { table: "users", row: &id, column: "email" })?;
        Ok(PersonalText { name, email })
    }

    pub(crate) async fn set_new_password(
        &self,
        user: &store::UserRow,
        actor: &Caller,
        origin: &Origin,
        new_password: &str,
    ) -> Result<()> {
        let policy = self.policy_of(user.enterprise_id).await?;
        let mut previous = self.sign_in_store.password_history(user.enterprise_id, user.id, policy.history).await?;
        if let Some(current) = &user.password_hash {
            previous.insert(0, current.clone());
        }
        self.check_new_password(user.enterprise_id, self.personal_words(user).await?, new_password, previous).await?;
        let hash = self.core.hash_password(new_password).await?;
        let audit = draft(
            actor,
            origin,
            Some(user.enterprise_id),
            Action::AuthPasswordChange,
            Some(format!("user:{}", user.id)),
        );
        self.sign_in_store
            .change_password(user.enterprise_id, user.id, &hash, Millis::now(), policy.history, &audit)
            .await?;
        Ok(())
    }

    /// Whether the enterprise turned password sign-in off, in either provider's settings. Read
    /// here, below single sign-on, because sign-in must know it and is built before SSO.
    pub(crate) async fn sso_only(&self, enterprise: EnterpriseId) -> Result<bool> {
        #[derive(serde::Deserialize)]
        struct Flag {
            #[serde(default)]
            sso_only: bool,
        }
        let mut documents = Vec::new();
        for kind in [store::kinds::SSO_OIDC, store::kinds::SSO_SAML] {
            documents.extend(self.policy_store.policy_document(enterprise, kind).await?.map(|d| d.document));
        }
        for json in documents {
            let flag: Flag =
                serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored sign-on settings: {e}")))?;
            if flag.sso_only {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // ---- One-time codes (A3) ----

    pub async fn totp_status(&self, p: &Principal) -> Result<TotpStatus> {
        let state = self.sign_in_store.sign_in_state(p.enterprise_id, p.user_id).await?;
        Ok(TotpStatus {
            enabled: state.totp_secret_ct.is_some(),
            required: self.policy_of(p.enterprise_id).await?.require_second_factor,
            recovery_codes_left: self.sign_in_store.unused_recovery_codes(p.enterprise_id, p.user_id).await?,
        })
    }

    /// Starts enrolment: a fresh secret, kept pending until a code from it is confirmed.
    pub async fn start_totp_enrolment(&self, p: &Principal) -> Result<TotpEnrolment> {
        let user = self.directory_store.get_user(p.enterprise_id, p.user_id).await?.ok_or(Error::Unauthenticated)?;
        self.pending_enrolment(&user).await
    }

    pub(crate) async fn pending_enrolment(&self, user: &store::UserRow) -> Result<TotpEnrolment> {
        let key = self.core.keys.enterprise_key(user.enterprise_id).await?;
        let secret = TotpSecret::generate();
        let id = user.id.to_string();
        let sealed = key.seal(secret.as_bytes(), secret_aad(&id, "totp_pending"));
        self.sign_in_store.set_totp_pending(user.enterprise_id, user.id, Some(&sealed)).await?;
        let email = key.open_str(&user.email_ct, Aad { table: "users", row: &id, column: "email" })?;
        let issuer = match self.directory_store.get_enterprise(user.enterprise_id).await? {
            Some(e) => key
                .open_str(
                    &e.name_ct,
                    Aad { table: "enterprises", row: &user.enterprise_id.to_string(), column: "name" },
                )
                .unwrap_or_else(|_| "Conclave".to_owned()),
            None => "Conclave".to_owned(),
        };
        let uri = secret.otpauth_uri(&issuer, &email);
        Ok(TotpEnrolment { secret: secret.base32(), qr_svg: qr_svg(&uri)?, otpauth_uri: uri })
    }

    /// Confirms enrolment with a code from the new secret; returns the recovery codes (once).
    pub async fn confirm_totp(&self, p: &Principal, origin: &Origin, code: &str) -> Result<RecoveryCodes> {
        self.enable_pending_totp(p.user_id, p.enterprise_id, &Caller::User(p.clone()), origin, code).await?.ok_or_else(
            || {
                Error::Invalid(FieldError::new(
                    "code",
                    Rule::InvalidValue,
                    "that code does not match; check the time on your phone",
                ))
            },
        )
    }

    /// Enables the pending secret if `code` matches it. `None`: no pending secret or no match.
    pub(crate) async fn enable_pending_totp(
        &self,
        user: UserId,
        enterprise: EnterpriseId,
        actor: &Caller,
        origin: &Origin,
        code: &str,
    ) -> Result<Option<RecoveryCodes>> {
        let state = self.sign_in_store.sign_in_state(enterprise, user).await?;
        let Some(pending) = state.totp_pending_ct else { return Ok(None) };
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let id = user.to_string();
        let bytes = zeroize::Zeroizing::new(key.open(&pending, secret_aad(&id, "totp_pending"))?);
        let secret = TotpSecret::from_bytes(&bytes).ok_or_else(|| Error::Internal("stored TOTP secret".into()))?;
        let Some(step) = secret.verify(code, now_secs()) else { return Ok(None) };
        let codes = crypto::totp::recovery_codes();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| crypto::totp::recovery_code_hash(c)).collect();
        let sealed = key.seal(secret.as_bytes(), secret_aad(&id, "totp_secret"));
        let audit = draft(actor, origin, Some(enterprise), Action::AuthTotpEnable, Some(format!("user:{user}")));
        self.sign_in_store.enable_totp(enterprise, user, &sealed, step, &hashes, &audit).await?;
        Ok(Some(RecoveryCodes { recovery_codes: codes }))
    }

    /// Turns one-time codes off, proving the password; refused where the enterprise requires them.
    pub async fn disable_totp(&self, p: &Principal, origin: &Origin, password: &str) -> Result<()> {
        if self.policy_of(p.enterprise_id).await?.require_second_factor {
            let caller = Caller::User(p.clone());
            return Err(self.core.deny(&caller, Action::AuthTotpDisable, None, "second-factor-required", None).await);
        }
        if password.is_empty() {
            return Err(Error::Invalid(FieldError::new("password", Rule::Empty, "enter your password")));
        }
        let user = self.directory_store.get_user(p.enterprise_id, p.user_id).await?.ok_or(Error::Unauthenticated)?;
        let stored = user.password_hash.clone().ok_or(Error::InvalidCredentials)?;
        // Longer than any password we store: wrong, without spending argon2 time on it.
        if password.chars().count() > domain::validate::MAX_PASSWORD_CHARS
            || self.core.verify_password(password, stored).await?.is_none()
        {
            return Err(Error::Invalid(FieldError::new("password", Rule::InvalidValue, "the password is wrong")));
        }
        let audit = draft(
            &Caller::User(p.clone()),
            origin,
            Some(p.enterprise_id),
            Action::AuthTotpDisable,
            Some(format!("user:{}", p.user_id)),
        );
        self.sign_in_store.disable_totp(p.enterprise_id, p.user_id, &audit).await?;
        Ok(())
    }

    /// Checks a one-time code (or a recovery code) for a user who has TOTP, spending it.
    /// Returns the method that passed, or `None`.
    /// Whether `code` would pass [`Self::check_second_factor`] now, without spending it.
    pub(crate) async fn second_factor_valid(
        &self,
        user: &store::UserRow,
        secret_ct: &[u8],
        code: &str,
    ) -> Result<bool> {
        let key = self.core.keys.enterprise_key(user.enterprise_id).await?;
        let id = user.id.to_string();
        let bytes = zeroize::Zeroizing::new(key.open(secret_ct, secret_aad(&id, "totp_secret"))?);
        let secret = TotpSecret::from_bytes(&bytes).ok_or_else(|| Error::Internal("stored TOTP secret".into()))?;
        if let Some(step) = secret.verify(code, now_secs()) {
            let last = self.sign_in_store.sign_in_state(user.enterprise_id, user.id).await?.totp_last_step;
            return Ok(last.is_none_or(|last| step > last));
        }
        let hash = crypto::totp::recovery_code_hash(code);
        Ok(self.sign_in_store.recovery_code_unused(user.enterprise_id, user.id, &hash).await?)
    }

    pub(crate) async fn check_second_factor(
        &self,
        user: &store::UserRow,
        secret_ct: &[u8],
        code: &str,
    ) -> Result<Option<&'static str>> {
        let key = self.core.keys.enterprise_key(user.enterprise_id).await?;
        let id = user.id.to_string();
        let bytes = zeroize::Zeroizing::new(key.open(secret_ct, secret_aad(&id, "totp_secret"))?);
        let secret = TotpSecret::from_bytes(&bytes).ok_or_else(|| Error::Internal("stored TOTP secret".into()))?;
        if let Some(step) = secret.verify(code, now_secs()) {
            // A code is good once: a replayed (or older) step is refused.
            return Ok(self
                .sign_in_store
                .use_totp_step(user.enterprise_id, user.id, step)
                .await?
                .then_some("password+totp"));
        }
        let hash = crypto::totp::recovery_code_hash(code);
        Ok(self
            .sign_in_store
            .use_recovery_code(user.enterprise_id, user.id, &hash, Millis::now())
            .await?
            .then_some("password+recovery-code"))
    }
}

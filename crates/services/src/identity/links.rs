//! Single-use links to set a password. An enterprise admin invites someone whose account has no
//! password yet, or starts a reset for someone who forgot theirs; the link goes by mail when a
//! relay is configured, and the admin can always copy it. The token appears only in the link;
//! the store keeps its hash. Using the link sets a password under the enterprise's policy; a
//! reset also signs the person out everywhere, since whoever knew the old password may hold a
//! session.

use super::{Credentials, Directory, Sessions};
use crate::{draft, Caller, Error, Result};
use domain::audit::{Action, AuditDraft, Origin};
use domain::{EnterpriseId, FieldError, Millis, Rule, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// How long a link works.
pub const INVITATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
pub const RESET_LIFETIME: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LinkPurpose {
    /// For an account made without a password.
    Invitation,
    /// For an account whose password is to be replaced.
    PasswordReset,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::PasswordReset => "password-reset",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            LinkPurpose::Invitation => INVITATION_LIFETIME,
            LinkPurpose::PasswordReset => RESET_LIFETIME,
        }
    }
}

/// What the admin gets: the link (shown once), when it stops working, and whether it was mailed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CredentialLinkView {
    pub url: String,
    pub purpose: LinkPurpose,
    pub expires_at: String,
    /// Sent to the person's address (a mail relay is configured).
    pub mailed: bool,
}

/// What the link's page shows before the person chooses a password.
#[derive(Clone, Debug)]
pub struct LinkHolder {
    pub name: String,
    pub email: String,
    pub purpose: LinkPurpose,
}

pub struct CredentialLinks {
    core: Arc<crate::core::Core>,
    link_store: Arc<dyn store::CredentialLinkStore>,
    audit_store: Arc<dyn store::AuditStore>,
    directory_store: Arc<dyn store::DirectoryStore>,
    credentials: Arc<Credentials>,
    directory: Arc<Directory>,
    sessions: Arc<Sessions>,
}

impl CredentialLinks {
    pub(crate) fn new(
        core: Arc<crate::core::Core>,
        store: &Arc<dyn store::Store>,
        credentials: Arc<Credentials>,
        directory: Arc<Directory>,
        sessions: Arc<Sessions>,
    ) -> CredentialLinks {
        CredentialLinks {
            core,
            link_store: store.clone(),
            audit_store: store.clone(),
            directory_store: store.clone(),
            credentials,
            directory,
            sessions,
        }
    }

    /// An enterprise admin makes a link for `user`. An invitation is for an account without a
    /// password; a reset works for any account. Earlier unused links of the same kind stop working.
    pub async fn create(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        user: UserId,
        purpose: LinkPurpose,
    ) -> Result<CredentialLinkView> {
        self.core.require_enterprise_admin(caller, enterprise, Action::CredentialLinkCreate).await?;
        let row = self.directory_store.get_user(enterprise, user).await?.ok_or(Error::NotFound("user"))?;
        if row.disabled {
            return Err(Error::Conflict(FieldError::new(
                "user",
                Rule::InvalidValue,
                "this account is disabled; enable it first",
            )));
        }
        if purpose == LinkPurpose::Invitation && row.password_hash.is_some() {
            return Err(Error::Conflict(FieldError::new(
                "purpose",
                Rule::InvalidValue,
                "this person already has a password; send a password reset instead",
            )));
        }
        let view = self.directory.get_user(caller, enterprise, user).await?;
        let token = crypto::token::generate();
        let now = Millis::now();
        let expires_at = Millis(now.0 + purpose.lifetime().as_millis() as i64);
        let mailer = self.core.mailer().cloned();
        let audit = AuditDraft {
            detail: serde_json::json!({ "purpose": purpose.as_str(), "mailed": mailer.is_some() }).to_string(),
            ..draft(caller, origin, Some(enterprise), Action::CredentialLinkCreate, Some(format!("user:{user}")))
        };
        let link = store::CredentialLinkRow {
            token_hash: crypto::token::hash(&token),
            enterprise_id: enterprise,
            user_id: user,
            purpose: purpose.as_str().to_owned(),
            created_by: match caller {
                Caller::User(p) => Some(p.user_id),
                _ => None,
            },
            created_at: now,
            expires_at,
            used_at: None,
        };
        self.link_store.create_credential_link(&link, &audit).await?;
        let url = format!("{}/account/{token}", self.core.settings.public_url);
        if let Some(mailer) = &mailer {
            let (subject, opening) = match purpose {
                LinkPurpose::Invitation => {
                    ("You are invited to Conclave", "You have an account on your organisation's Conclave.")
                }
                LinkPurpose::PasswordReset => (
                    "Set a new Conclave password",
                    "An administrator of your organisation started a password reset for your account.",
                ),
            };
            let mail = crate::mail::Mail {
                to: view.email.clone(),
                subject: subject.to_owned(),
                body: format!(
                    "Hello {},\n\n{opening} Choose your password here; the link works once, until {}:\n{url}\n\n\
                     If you did not expect this, ignore this mail and tell your administrator.\n",
                    view.name,
                    expires_at.rfc3339(),
                ),
            };
            let mailer = mailer.clone();
            tokio::spawn(async move {
                if let Err(e) = mailer.send(mail).await {
                    tracing::warn!(error = %e, "a password link could not be mailed");
                }
            });
        }
        Ok(CredentialLinkView { url, purpose, expires_at: expires_at.rfc3339(), mailed: mailer.is_some() })
    }

    /// Who a link is for, while it still works: `Gone` once used or expired, `NotFound` for a
    /// token that never was.
    pub async fn holder(&self, token: &str) -> Result<LinkHolder> {
        let (link, user) = self.usable(token).await?;
        let text = self.credentials.personal_words(&user).await?;
        Ok(LinkHolder { name: text.name, email: text.email, purpose: purpose_of(&link)? })
    }

    /// Sets the password through the link. A password the policy refuses leaves the link usable.
    pub async fn redeem(&self, origin: &Origin, token: &str, password: &str) -> Result<LinkHolder> {
        let (link, user) = self.usable(token).await?;
        let purpose = purpose_of(&link)?;
        let now = Millis::now();
        if !self.link_store.claim_credential_link(&link.token_hash, now).await? {
            return Err(Error::Gone("this link was just used or has expired"));
        }
        let actor = Caller::User(super::principal_of(&user));
        if let Err(e) = self.credentials.set_new_password(&user, &actor, origin, password).await {
            self.link_store.release_credential_link(&link.token_hash, now).await?;
            return Err(e);
        }
        let audit = AuditDraft {
            detail: serde_json::json!({ "purpose": purpose.as_str() }).to_string(),
            ..draft(
                &actor,
                origin,
                Some(user.enterprise_id),
                Action::CredentialLinkUse,
                Some(format!("user:{}", user.id)),
            )
        };
        self.audit_store.append_audit(&audit).await?;
        if purpose == LinkPurpose::PasswordReset {
            self.sessions.end_other_sessions(&super::principal_of(&user), origin, None).await?;
        }
        let text = self.credentials.personal_words(&user).await?;
        Ok(LinkHolder { name: text.name, email: text.email, purpose })
    }

    async fn usable(&self, token: &str) -> Result<(store::CredentialLinkRow, store::UserRow)> {
        if token.is_empty() || token.len() > 128 {
            return Err(Error::NotFound("link"));
        }
        let link =
            self.link_store.credential_link(&crypto::token::hash(token)).await?.ok_or(Error::NotFound("link"))?;
        if link.used_at.is_some() || link.expires_at <= Millis::now() {
            return Err(Error::Gone("this link has been used or has expired; ask your administrator for a new one"));
        }
        let user = self
            .directory_store
            .get_user(link.enterprise_id, link.user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(Error::Gone("this account is disabled"))?;
        Ok((link, user))
    }
}

fn purpose_of(link: &store::CredentialLinkRow) -> Result<LinkPurpose> {
    match link.purpose.as_str() {
        "invitation" => Ok(LinkPurpose::Invitation),
        "password-reset" => Ok(LinkPurpose::PasswordReset),
        other => Err(Error::Internal(format!("unknown link purpose {other:?}"))),
    }
}

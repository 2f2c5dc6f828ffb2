//! What the single sign-on modules (OpenID Connect and SAML) share: URL checks, encoding, and
//! finding or creating the account a provider vouched for.

pub mod oidc;
pub mod saml;

use crate::{draft, Caller, Error, Result};
use domain::audit::{AuditDraft, Origin};
use domain::{EnterpriseId, Millis, Role, Roles};
use std::sync::Arc;

/// Single sign-on through OpenID Connect and SAML: provider settings, the sign-in round trip, and accounts provisioned from the provider's answer.
pub struct Sso {
    core: Arc<crate::core::Core>,
    directory_store: Arc<dyn store::DirectoryStore>,
    sign_in_store: Arc<dyn store::SignInStore>,
    policy_store: Arc<dyn store::PolicyStore>,
    audit_store: Arc<dyn store::AuditStore>,
    directory: Arc<crate::identity::Directory>,
    sessions: Arc<crate::identity::Sessions>,
    /// OpenID Connect: the HTTP client and the providers' cached metadata and keys.
    oidc: oidc::OidcClient,
}

impl Sso {
    pub(crate) fn new(
        core: Arc<crate::core::Core>,
        store: &Arc<dyn store::Store>,
        directory: Arc<crate::identity::Directory>,
        sessions: Arc<crate::identity::Sessions>,
    ) -> crate::Result<Sso> {
        Ok(Sso {
            core,
            directory_store: store.clone(),
            sign_in_store: store.clone(),
            policy_store: store.clone(),
            audit_store: store.clone(),
            directory,
            sessions,
            oidc: oidc::OidcClient::new()?,
        })
    }
}

/// Provider settings are policy documents of the kinds `sso-oidc` and `sso-saml`.
impl Sso {
    /// The enterprise's OpenID provider: settings as JSON and the sealed client secret.
    pub(crate) async fn oidc_config(&self, enterprise: EnterpriseId) -> Result<Option<(String, Vec<u8>)>> {
        Ok(self
            .policy_store
            .policy_document(enterprise, store::kinds::SSO_OIDC)
            .await?
            .map(|d| (d.document, d.sealed_ct.unwrap_or_default())))
    }

    /// The enterprise's SAML identity provider settings as JSON.
    pub(crate) async fn saml_config(&self, enterprise: EnterpriseId) -> Result<Option<String>> {
        Ok(self.policy_store.policy_document(enterprise, store::kinds::SSO_SAML).await?.map(|d| d.document))
    }

    /// Every enterprise's settings of one kind, to find the enterprise of an email domain.
    pub(crate) async fn configs(&self, kind: &str) -> Result<Vec<(EnterpriseId, String)>> {
        Ok(self
            .policy_store
            .policy_documents_of_kind(kind)
            .await?
            .into_iter()
            .map(|d| (d.enterprise_id, d.document))
            .collect())
    }
}

/// An identity provider's URL: https, or plain http to this machine when the operator allowed it
/// (`allow_http_loopback`, for a provider on the same host and for tests).
pub(crate) fn provider_url_ok(url: &str, allow_http_loopback: bool) -> bool {
    let lower = url.to_ascii_lowercase();
    let loopback = allow_http_loopback
        && ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|p| lower.starts_with(p));
    (lower.starts_with("https://") || loopback) && !url.contains(char::is_whitespace) && url.len() <= 500
}

/// The most a provider's answer (discovery, keys, tokens, metadata) may weigh: a provider that
/// streams without end must not fill this server's memory.
pub(crate) const MAX_PROVIDER_RESPONSE_BYTES: usize = 1024 * 1024;

/// Reads a provider's answer, refusing it once it grows past [`MAX_PROVIDER_RESPONSE_BYTES`].
pub(crate) async fn read_capped(mut response: reqwest::Response) -> std::result::Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > MAX_PROVIDER_RESPONSE_BYTES as u64) {
        return Err(format!("the answer is larger than {MAX_PROVIDER_RESPONSE_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_PROVIDER_RESPONSE_BYTES {
            return Err(format!("the answer is larger than {MAX_PROVIDER_RESPONSE_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Which single sign-on protocol an attempt used, as audit events name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsoMethod {
    Oidc,
    Saml,
}

impl SsoMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SsoMethod::Oidc => "oidc",
            SsoMethod::Saml => "saml",
        }
    }
}

/// A provider configuration that names the email domains it signs in.
pub(crate) trait ForDomains: serde::de::DeserializeOwned {
    fn allowed_domains(&self) -> &[String];
}

/// The enterprise (and its provider settings) that signs in people with this email's domain.
/// Domains are unique across enterprises, so at most one matches.
pub(crate) fn provider_for_email<T: ForDomains>(
    configs: Vec<(EnterpriseId, String)>,
    email: &str,
) -> Result<(EnterpriseId, T, String)> {
    let email = domain::validate::email("email", email).map_err(Error::Invalid)?;
    let wanted = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    for (enterprise, json) in configs {
        let settings: T = serde_json::from_str(&json).map_err(|e| Error::Internal(e.to_string()))?;
        if settings.allowed_domains().contains(&wanted) {
            return Ok((enterprise, settings, email));
        }
    }
    Err(Error::Invalid(domain::FieldError::new(
        "email",
        domain::Rule::InvalidValue,
        "single sign-on is not set up for this email's domain",
    )))
}

/// Where `Sso::start` sends the browser, and what the browser must keep to finish there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoStart {
    /// OpenID Connect: the authorization URL and the state the browser keeps (login CSRF).
    Oidc { url: String, state: String },
    /// SAML: the IdP's sign-on URL with the request, and the request id the browser keeps.
    Saml { url: String, request_id: String },
}

impl Sso {
    /// Starts single sign-on for `email`: through OpenID Connect when the email's domain has
    /// such a provider, else through SAML (which refuses when neither is set up). `fresh` asks the
    /// provider to authenticate the person again even if it has a session of its own (to confirm
    /// an admin, A5); for OpenID Connect the answer is then refused unless it says so.
    pub async fn start(&self, email: &str, redirect_uri: &str, fresh: bool) -> Result<SsoStart> {
        let email = domain::validate::email("email", email).map_err(Error::Invalid)?;
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
        let mut has_oidc = false;
        for (_, json) in self.configs(store::kinds::SSO_OIDC).await? {
            let settings: oidc::OidcSettings =
                serde_json::from_str(&json).map_err(|e| Error::Internal(e.to_string()))?;
            has_oidc |= settings.allowed_domains().contains(&domain);
        }
        if has_oidc {
            let (url, state) = self.oidc_start(&email, redirect_uri, fresh).await?;
            Ok(SsoStart::Oidc { url, state })
        } else {
            let (url, request_id) = self.saml_start(&email, fresh).await?;
            Ok(SsoStart::Saml { url, request_id })
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
pub(crate) fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// At most this many allowed domains or admin groups per provider.
pub const MAX_SSO_LIST: usize = 100;
/// The longest group name a provider may send that we compare with.
pub const MAX_GROUP_CHARS: usize = 200;
/// The longest domain name (RFC 1035).
pub const MAX_DOMAIN_CHARS: usize = 253;

/// Group names from the identity provider that make someone an admin: at most
/// [`MAX_SSO_LIST`], each 1 to [`MAX_GROUP_CHARS`] characters without hidden characters.
pub(crate) fn check_groups(field: &str, groups: &[String]) -> Result<()> {
    if groups.len() > MAX_SSO_LIST {
        return Err(Error::Invalid(domain::FieldError::new(
            field,
            domain::Rule::TooLong,
            format!("at most {MAX_SSO_LIST} groups"),
        )));
    }
    for g in groups {
        let n = g.chars().count();
        if n == 0 || n > MAX_GROUP_CHARS || g.chars().any(domain::validate::is_hidden_character) {
            return Err(Error::Invalid(domain::FieldError::new(
                field,
                domain::Rule::InvalidValue,
                format!("each group name is 1 to {MAX_GROUP_CHARS} visible characters"),
            )));
        }
    }
    Ok(())
}

/// A valid email domain such as `example.org`, lower-cased.
pub(crate) fn check_domains(domains: &[String]) -> Result<Vec<String>> {
    if domains.len() > MAX_SSO_LIST {
        return Err(Error::Invalid(domain::FieldError::new(
            "allowed_domains",
            domain::Rule::TooLong,
            format!("at most {MAX_SSO_LIST} domains"),
        )));
    }
    if domains.is_empty() {
        return Err(Error::Invalid(domain::FieldError::new(
            "allowed_domains",
            domain::Rule::Required,
            "name at least one email domain",
        )));
    }
    domains
        .iter()
        .map(|d| {
            let d = d.trim().to_ascii_lowercase();
            let ok = d.contains('.')
                && d.len() <= MAX_DOMAIN_CHARS
                && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if ok {
                Ok(d)
            } else {
                Err(Error::Invalid(domain::FieldError::new(
                    "allowed_domains",
                    domain::Rule::InvalidValue,
                    format!("{d:?} is not a domain such as example.org"),
                )))
            }
        })
        .collect()
}

impl Sso {
    /// Refuses email domains another enterprise already signs in through single sign-on: a domain
    /// has one identity provider, so nobody can redirect another organisation's people.
    /// Audits a provider's answer that never reached the checks: the provider reported an error,
    /// or the answer lacked its code, state or SAMLResponse. `provider_error` comes from the
    /// request, so only an OAuth-style error code (letters and underscores, at most 64) is kept.
    pub async fn record_refused_sso_answer(
        &self,
        origin: &Origin,
        method: SsoMethod,
        provider_error: Option<&str>,
    ) -> Result<()> {
        let reason = match provider_error {
            Some(code)
                if !code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
            {
                format!("provider-error:{code}")
            }
            Some(_) => "provider-error".to_owned(),
            None => "incomplete-answer".to_owned(),
        };
        self.audit_sso_failure(origin, method.as_str(), None, &reason).await
    }

    /// The audit event of a failed single sign-on (`method` is "oidc" or "saml").
    pub(crate) async fn audit_sso_failure(
        &self,
        origin: &Origin,
        method: &str,
        enterprise: Option<EnterpriseId>,
        reason: &str,
    ) -> Result<()> {
        let audit = AuditDraft {
            at: Millis::now(),
            actor: domain::audit::Actor::Anonymous,
            origin: origin.clone(),
            enterprise_id: enterprise,
            team_id: None,
            action: domain::audit::Action::AuthSignIn,
            target: None,
            outcome: domain::audit::Outcome::Failure,
            detail: serde_json::json!({ "method": method, "reason": reason }).to_string(),
        };
        self.audit_store.append_audit(&audit).await?;
        Ok(())
    }

    pub(crate) async fn domains_free(&self, enterprise: EnterpriseId, domains: &[String]) -> Result<()> {
        let mut taken: Vec<(EnterpriseId, Vec<String>)> = Vec::new();
        for (other, json) in
            self.configs(store::kinds::SSO_OIDC).await?.into_iter().chain(self.configs(store::kinds::SSO_SAML).await?)
        {
            let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| Error::Internal(e.to_string()))?;
            let list = value["allowed_domains"].as_array().cloned().unwrap_or_default();
            taken.push((other, list.iter().filter_map(|d| d.as_str().map(str::to_owned)).collect()));
        }
        for d in domains {
            if taken.iter().any(|(other, list)| *other != enterprise && list.contains(d)) {
                return Err(Error::Conflict(domain::FieldError::new(
                    "allowed_domains",
                    domain::Rule::Duplicate,
                    format!("{d} already signs in through another organisation's identity provider"),
                )));
            }
        }
        Ok(())
    }

    /// The account for an email a provider vouched for: created just in time (an enterprise admin
    /// if `admin_by_group`), or the existing one, raised to enterprise admin if `admin_by_group`.
    /// Groups never lower anyone: an admin set by hand stays one, so no enterprise loses its last.
    pub(crate) async fn sso_account(
        &self,
        origin: &Origin,
        enterprise: EnterpriseId,
        email: &str,
        name: &str,
        admin_by_group: bool,
        via: &str,
    ) -> Result<store::UserRow> {
        let existing = self
            .directory_store
            .find_users_by_email_index(&self.core.keys.email_index(email))
            .await?
            .into_iter()
            .find(|u| u.enterprise_id == enterprise);
        match existing {
            Some(u) if u.disabled => Err(Error::SsoFailed("this account is disabled".into())),
            Some(u) if !u.roles.has(Role::EnterpriseAdmin) && admin_by_group => {
                let roles = u.roles.with(Role::EnterpriseAdmin);
                let audit = AuditDraft {
                    detail: serde_json::json!({ "role": "enterprise-admin", "via": via }).to_string(),
                    ..draft(
                        &Caller::System,
                        origin,
                        Some(enterprise),
                        domain::audit::Action::UserRole,
                        Some(format!("user:{}", u.id)),
                    )
                };
                self.sign_in_store.set_user_roles(enterprise, u.id, roles, Millis::now(), &audit).await?;
                self.directory_store.get_user(enterprise, u.id).await?.ok_or(Error::NotFound("user"))
            }
            Some(u) => Ok(u),
            None => {
                let roles = if admin_by_group { Roles::of(Role::EnterpriseAdmin) } else { Roles::MEMBER };
                let name = if name.trim().is_empty() { email } else { name };
                let new = crate::identity::directory::NewUser {
                    email: email.to_owned(),
                    name: name.to_owned(),
                    roles,
                    via: Some(via.to_owned()),
                    password: None,
                };
                let view = self.directory.create_user(&Caller::System, origin, enterprise, new).await?;
                self.directory_store.get_user(enterprise, view.id).await?.ok_or(Error::NotFound("user"))
            }
        }
    }
}

//! OpenID Connect single sign-on (A2): the authorization code flow with PKCE, state and nonce.
//!
//! A started sign-in is a row found by the hash of its `state` and deleted when the provider
//! sends the person back, so a state works once; the PKCE verifier and nonce are sealed in it.
//! The ID token's signature is checked against the provider's keys (fetched again when a token
//! names a key we do not have: the provider rotated), and its issuer, audience, expiry and nonce
//! are checked before anyone is signed in. Accounts are created just in time for the allowed
//! email domains; a groups claim can make people enterprise admins and team members.

use super::Sso;
use super::{hex_of, percent, provider_for_email, provider_url_ok, read_capped, ForDomains};
use crate::{draft, Caller, Error, Result};
use crypto::Aad;
use domain::audit::{Action, AuditDraft, Origin};
use domain::{EnterpriseId, FieldError, Millis, Rule, TeamId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// How long a started sign-in may take.
const LOGIN_TTL_MS: i64 = 10 * 60 * 1000;
/// Clock skew allowed when checking token times.
const SKEW_SECS: i64 = 60;
/// Keys are fetched again at most this often when a token names an unknown key.
const JWKS_REFRESH: Duration = Duration::from_secs(10);

/// An enterprise's provider, as its admin configures it (the client secret is kept apart, sealed).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The provider's issuer URL (https; http only on this machine, for tests).
    #[schema(min_length = 1, max_length = 500, pattern = "^https?://")]
    pub issuer: String,
    #[schema(min_length = 1, max_length = 200)]
    pub client_id: String,
    /// Email domains whose people may sign in (and get accounts just in time).
    #[schema(schema_with = oidcsettings_allowed_domains_schema)]
    pub allowed_domains: Vec<String>,
    /// The ID-token claim listing the person's groups, e.g. "groups".
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub groups_claim: Option<String>,
    /// Members of these groups become enterprise admins when their account is created.
    #[serde(default)]
    #[schema(schema_with = oidcsettings_admin_groups_schema)]
    pub admin_groups: Vec<String>,
    /// Members of a group are put in the mapped team at each sign-in.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub team_groups: BTreeMap<String, TeamId>,
    /// Password sign-in is off, except for enterprise admins with one-time codes (break-glass).
    #[serde(default)]
    pub sso_only: bool,
    /// The provider manages every address itself and does not send `email_verified` (some
    /// enterprise directories): its addresses are taken as verified when the claim is missing.
    /// An explicit `false` is refused whatever this says.
    #[serde(default)]
    pub trust_emails_without_verified_claim: bool,
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(FieldError::new(field, Rule::InvalidValue, message))
}

/// The longest client secret accepted (providers issue 32 to 128 characters).
pub const MAX_CLIENT_SECRET_CHARS: usize = 1000;

impl ForDomains for OidcSettings {
    fn allowed_domains(&self) -> &[String] {
        &self.allowed_domains
    }
}

impl OidcSettings {
    fn validate(&self, allow_http_loopback: bool) -> Result<()> {
        if !provider_url_ok(&self.issuer, allow_http_loopback) {
            return Err(invalid("issuer", "must be an https:// URL"));
        }
        if self.client_id.trim().is_empty() || self.client_id.len() > 200 {
            return Err(invalid("client_id", "must be 1 to 200 characters"));
        }
        if let Some(claim) = &self.groups_claim {
            if claim.trim().is_empty() || claim.chars().count() > 100 {
                return Err(invalid("groups_claim", "must be 1 to 100 characters, or left out"));
            }
        }
        super::check_groups("admin_groups", &self.admin_groups)?;
        Ok(())
    }
}

/// The HTTP client and each provider's discovery document and keys, cached.
pub(crate) struct OidcClient {
    http: reqwest::Client,
    discovery: RwLock<HashMap<String, Value>>,
    jwks: RwLock<HashMap<String, (Value, Instant)>>,
}

impl OidcClient {
    pub(crate) fn new() -> Result<OidcClient> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        Ok(OidcClient { http, discovery: RwLock::new(HashMap::new()), jwks: RwLock::new(HashMap::new()) })
    }

    /// The shared HTTP client (also used to fetch SAML metadata).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Fetches a JSON document from the provider. Failures are told in our words (the HTTP
    /// client's own text goes to the log only, since it may reach a sign-in page).
    async fn get_json(&self, url: &str) -> Result<Value> {
        let response = self.http.get(url).send().await.map_err(|e| {
            tracing::warn!(url, error = %e, "the identity provider could not be reached");
            Error::SsoFailed("the identity provider could not be reached".to_owned())
        })?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            tracing::warn!(url, status, "the identity provider answered with an error");
            return Err(Error::SsoFailed(format!("the identity provider answered with an error (HTTP {status})")));
        }
        let body = read_capped(response).await.map_err(|e| {
            tracing::warn!(url, error = %e, "the identity provider's answer could not be read");
            Error::SsoFailed("the identity provider's answer could not be read".to_owned())
        })?;
        serde_json::from_slice(&body).map_err(|_| {
            tracing::warn!(url, "the identity provider's answer is not JSON");
            Error::SsoFailed("the identity provider's answer is not the JSON document expected".to_owned())
        })
    }

    async fn discover(&self, issuer: &str) -> Result<Value> {
        if let Some(doc) = self.discovery.read().expect("discovery cache").get(issuer) {
            return Ok(doc.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let doc = self.get_json(&url).await?;
        if doc["issuer"].as_str() != Some(issuer) {
            return Err(Error::SsoFailed("the provider's discovery document names another issuer".into()));
        }
        self.discovery.write().expect("discovery cache").insert(issuer.to_owned(), doc.clone());
        Ok(doc)
    }

    async fn keys(&self, jwks_uri: &str, refresh: bool) -> Result<Value> {
        if let Some((keys, at)) = self.jwks.read().expect("jwks cache").get(jwks_uri) {
            if !refresh || at.elapsed() < JWKS_REFRESH {
                return Ok(keys.clone());
            }
        }
        let keys = self.get_json(jwks_uri).await?;
        self.jwks.write().expect("jwks cache").insert(jwks_uri.to_owned(), (keys.clone(), Instant::now()));
        Ok(keys)
    }
}

#[derive(Serialize, Deserialize)]
struct LoginSecrets {
    nonce: String,
    verifier: String,
    redirect_uri: String,
    /// Set when the provider was asked to authenticate the person again (`prompt=login`,
    /// `max_age=0`): the second this sign-in started, which the ID token's `auth_time` must not
    /// precede.
    #[serde(default)]
    fresh_since: Option<i64>,
}

fn login_aad(state_hash: &str) -> Aad<'_> {
    Aad { table: "oidc_logins", row: state_hash, column: "secrets" }
}

impl Sso {
    /// The enterprise's provider settings (enterprise admins).
    pub async fn oidc_settings(&self, caller: &Caller, enterprise: EnterpriseId) -> Result<Option<OidcSettings>> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SsoOidcRead).await?;
        self.oidc_settings_of(enterprise).await
    }

    async fn oidc_settings_of(&self, enterprise: EnterpriseId) -> Result<Option<OidcSettings>> {
        match self.oidc_config(enterprise).await? {
            Some((json, _)) => Ok(Some(
                serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored OIDC settings: {e}")))?,
            )),
            None => Ok(None),
        }
    }

    /// Sets the provider. The client secret is required the first time and kept when omitted later.
    pub async fn put_oidc_settings(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        settings: OidcSettings,
        client_secret: Option<&str>,
    ) -> Result<OidcSettings> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SsoOidcConfigure).await?;
        settings.validate(self.core.settings.allow_http_loopback_sso)?;
        if client_secret.is_some_and(|s| s.chars().count() > MAX_CLIENT_SECRET_CHARS) {
            return Err(invalid("client_secret", format!("must be at most {MAX_CLIENT_SECRET_CHARS} characters")));
        }
        for team in settings.team_groups.values() {
            self.directory_store
                .get_team(enterprise, *team)
                .await?
                .ok_or_else(|| invalid("team_groups", format!("no team {team}")))?;
        }
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let row = enterprise.to_string();
        // The label names the table the secret first lived in; it only binds the ciphertext to its
        // purpose, and existing secrets were sealed with it.
        let aad = Aad { table: "oidc_configs", row: &row, column: "client_secret" };
        let secret_ct =
            match (client_secret.map(str::trim).filter(|s| !s.is_empty()), self.oidc_config(enterprise).await?) {
                (Some(secret), _) => key.seal_str(secret, aad),
                (None, Some((_, existing))) => existing,
                (None, None) => {
                    return Err(Error::Invalid(FieldError::new(
                        "client_secret",
                        Rule::Required,
                        "the client secret is required",
                    )))
                }
            };
        let mut settings = settings;
        settings.allowed_domains = super::check_domains(&settings.allowed_domains)?;
        self.domains_free(enterprise, &settings.allowed_domains).await?;
        // A provider people cannot sign in through is refused now, with the reason, rather than
        // saved and found broken by the first person who tries.
        self.oidc.discovery.write().expect("discovery cache").remove(&settings.issuer);
        let doc = self.oidc.discover(&settings.issuer).await.map_err(|e| match e {
            Error::SsoFailed(why) => invalid("issuer", format!("Conclave could not use this provider: {why}")),
            other => other,
        })?;
        for endpoint in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
            if doc[endpoint].as_str().is_none() {
                return Err(invalid("issuer", format!("the provider's discovery document has no {endpoint}")));
            }
        }
        let json = serde_json::to_string(&settings).expect("settings serialise");
        let audit = AuditDraft {
            detail: json.clone(),
            ..draft(caller, origin, Some(enterprise), Action::SsoOidcConfigure, None)
        };
        crate::core::policies::replace(
            &*self.policy_store,
            caller,
            enterprise,
            store::kinds::SSO_OIDC,
            &json,
            Some(&secret_ct),
            &audit,
        )
        .await?;
        Ok(settings)
    }

    /// Starts a sign-in for the person with `email`: finds their enterprise by domain and
    /// returns the provider's authorization URL to send the browser to.
    /// Also returns the state, which the caller keeps in the browser (a cookie) and hands back to
    /// [`Sso::oidc_callback`]: a sign-in finishes only in the browser that started it.
    pub async fn oidc_start(&self, email: &str, redirect_uri: &str, fresh: bool) -> Result<(String, String)> {
        let (enterprise, settings, email) =
            provider_for_email::<OidcSettings>(self.configs(store::kinds::SSO_OIDC).await?, email)?;
        let doc = self.oidc.discover(&settings.issuer).await?;
        let endpoint = doc["authorization_endpoint"]
            .as_str()
            .ok_or_else(|| Error::SsoFailed("no authorization endpoint".into()))?;
        // The browser is sent there: never to a plain-http or non-web address.
        if !provider_url_ok(endpoint, self.core.settings.allow_http_loopback_sso) {
            return Err(Error::SsoFailed("the provider's authorization address is not https".into()));
        }
        let (state, nonce, verifier) =
            (crypto::token::generate(), crypto::token::generate(), crypto::token::generate());
        let state_hash = crypto::token::hash(&state);
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let secrets = serde_json::to_vec(&LoginSecrets {
            nonce: nonce.clone(),
            verifier: verifier.clone(),
            redirect_uri: redirect_uri.to_owned(),
            fresh_since: fresh.then(|| Millis::now().0 / 1000),
        })
        .expect("secrets serialise");
        let sealed = key.seal(&secrets, login_aad(&hex_of(&state_hash)));
        self.sign_in_store.create_oidc_login(&state_hash, enterprise, &sealed, Millis::now()).await?;
        let url = format!(
            "{endpoint}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={state}&nonce={nonce}\
             &code_challenge={}&code_challenge_method=S256&login_hint={}",
            percent(&settings.client_id),
            percent(redirect_uri),
            percent(if settings.groups_claim.is_some() {
                "openid email profile groups"
            } else {
                "openid email profile"
            }),
            crypto::token::pkce_challenge(&verifier),
            percent(&email),
        );
        let url = if fresh { format!("{url}&prompt=login&max_age=0") } else { url };
        Ok((url, state))
    }

    /// Finishes a sign-in when the provider sends the person back with `code` and `state`.
    pub async fn oidc_callback(
        &self,
        origin: &Origin,
        code: &str,
        state: &str,
        browser_state: Option<&str>,
    ) -> Result<crate::identity::sessions::SignedIn> {
        // Login CSRF: someone else's finished sign-in link must not sign this browser in.
        if !browser_state.is_some_and(|b| crypto::ct_eq(b.as_bytes(), state.as_bytes())) {
            self.sso_failure(origin, None, "state-from-another-browser").await?;
            return Err(Error::SsoFailed("this sign-in was started in another browser; start again here".into()));
        }
        let state_hash = crypto::token::hash(state);
        let Some((enterprise, sealed, created)) = self.sign_in_store.take_oidc_login(&state_hash).await? else {
            self.sso_failure(origin, None, "unknown-or-used-state").await?;
            return Err(Error::SsoFailed("this sign-in link is not valid or was already used; start again".into()));
        };
        match self.finish_oidc(origin, enterprise, &sealed, created, code, &state_hash).await {
            Ok(signed_in) => Ok(signed_in),
            Err(e) => {
                self.sso_failure(origin, Some(enterprise), &e.to_string()).await?;
                Err(e)
            }
        }
    }

    async fn sso_failure(&self, origin: &Origin, enterprise: Option<EnterpriseId>, reason: &str) -> Result<()> {
        self.audit_sso_failure(origin, "oidc", enterprise, reason).await
    }

    async fn finish_oidc(
        &self,
        origin: &Origin,
        enterprise: EnterpriseId,
        sealed: &[u8],
        created: Millis,
        code: &str,
        state_hash: &[u8],
    ) -> Result<crate::identity::sessions::SignedIn> {
        if Millis::now().0 - created.0 > LOGIN_TTL_MS {
            return Err(Error::SsoFailed("the sign-in took too long; start again".into()));
        }
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let secrets: LoginSecrets = serde_json::from_slice(&key.open(sealed, login_aad(&hex_of(state_hash)))?)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let settings = self
            .oidc_settings_of(enterprise)
            .await?
            .ok_or_else(|| Error::SsoFailed("single sign-on was turned off".into()))?;
        let (_, secret_ct) = self
            .oidc_config(enterprise)
            .await?
            .ok_or_else(|| Error::SsoFailed("single sign-on was turned off".into()))?;
        let row = enterprise.to_string();
        let client_secret = zeroize::Zeroizing::new(
            key.open_str(&secret_ct, Aad { table: "oidc_configs", row: &row, column: "client_secret" })?,
        );
        let doc = self.oidc.discover(&settings.issuer).await?;
        let token_endpoint =
            doc["token_endpoint"].as_str().ok_or_else(|| Error::SsoFailed("no token endpoint".into()))?;
        let jwks_uri = doc["jwks_uri"].as_str().ok_or_else(|| Error::SsoFailed("no jwks_uri".into()))?;
        // The discovery document names where the code and the keys are fetched: the same rule as
        // for the issuer, so a provider cannot point this server at plain http elsewhere.
        let allow_loopback = self.core.settings.allow_http_loopback_sso;
        if !provider_url_ok(token_endpoint, allow_loopback) || !provider_url_ok(jwks_uri, allow_loopback) {
            return Err(Error::SsoFailed("the provider's token or key address is not https".into()));
        }
        let response = self
            .oidc
            .http
            .post(token_endpoint)
            .basic_auth(&settings.client_id, Some(client_secret.as_str()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &secrets.redirect_uri),
                ("code_verifier", &secrets.verifier),
            ])
            .send()
            .await
            .map_err(|e| Error::SsoFailed(format!("token request: {e}")))?;
        if !response.status().is_success() {
            return Err(Error::SsoFailed(format!("the provider refused the code ({})", response.status())));
        }
        let body = read_capped(response).await.map_err(|e| Error::SsoFailed(format!("token response: {e}")))?;
        let tokens: Value =
            serde_json::from_slice(&body).map_err(|e| Error::SsoFailed(format!("token response: {e}")))?;
        let id_token = tokens["id_token"].as_str().ok_or_else(|| Error::SsoFailed("no ID token".into()))?;
        let claims = self.verify_id_token(id_token, jwks_uri, &settings, &secrets.nonce).await?;
        if let Some(since) = secrets.fresh_since {
            authenticated_since(&claims, since)?;
        }
        self.sign_in_from_claims(origin, enterprise, &settings, &claims, secrets.fresh_since.is_some()).await
    }

    /// Checks the ID token: signature (keys fetched again once if it names an unknown key),
    /// issuer, audience, expiry, issue time and nonce.
    async fn verify_id_token(
        &self,
        token: &str,
        jwks_uri: &str,
        settings: &OidcSettings,
        nonce: &str,
    ) -> Result<Value> {
        let bad = |why: &str| Error::SsoFailed(format!("the ID token {why}"));
        let keys = self.oidc.keys(jwks_uri, false).await?;
        let claims = match crypto::jwt::parse(token).map_err(|e| bad(&e.to_string()))?.verify(&keys) {
            Ok(claims) => claims,
            Err(crypto::jwt::JwtError::UnknownKey(_)) => {
                let keys = self.oidc.keys(jwks_uri, true).await?;
                crypto::jwt::parse(token)
                    .map_err(|e| bad(&e.to_string()))?
                    .verify(&keys)
                    .map_err(|e| bad(&e.to_string()))?
            }
            Err(e) => return Err(bad(&e.to_string())),
        };
        check_claims(&claims, settings, nonce, Millis::now().0 / 1000)?;
        Ok(claims)
    }

    async fn sign_in_from_claims(
        &self,
        origin: &Origin,
        enterprise: EnterpriseId,
        settings: &OidcSettings,
        claims: &Value,
        proved_now: bool,
    ) -> Result<crate::identity::sessions::SignedIn> {
        let email =
            claims["email"].as_str().ok_or_else(|| Error::SsoFailed("the provider sent no email address".into()))?;
        // Accounts are matched by email, so the provider must vouch for it: a missing claim, or
        // anything but true (some providers send the string "true"), is refused, unless the admin
        // said this provider never sends the claim.
        let verified = match &claims["email_verified"] {
            Value::Bool(b) => *b,
            Value::String(s) => s == "true",
            Value::Null => settings.trust_emails_without_verified_claim,
            _ => false,
        };
        if !verified {
            return Err(Error::SsoFailed("the provider has not confirmed that this email address is verified".into()));
        }
        let email = domain::validate::email("email", email)
            .map_err(|_| Error::SsoFailed("the email address is not valid".into()))?;
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        if !settings.allowed_domains.iter().any(|d| d == domain) {
            return Err(Error::SsoFailed(format!("people of {domain} may not sign in here")));
        }
        let groups: Vec<String> = settings
            .groups_claim
            .as_deref()
            .and_then(|c| claims[c].as_array())
            .map(|a| a.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let name = claims["name"].as_str().unwrap_or("").to_owned();
        let admin = groups.iter().any(|g| settings.admin_groups.contains(g));
        let user = self.sso_account(origin, enterprise, &email, &name, admin, "oidc-groups").await?;
        for (group, team) in &settings.team_groups {
            if groups.contains(group) {
                let members = self.directory_store.list_team_members(enterprise, *team).await?;
                if !members.iter().any(|m| m.user_id == user.id) {
                    self.directory.put_team_member(&Caller::System, origin, enterprise, *team, user.id, false).await?;
                }
            }
        }
        self.sessions.open_session(origin, &user, domain::AuthMethod::Oidc, "oidc", proved_now).await
    }
}

/// For a sign-in that asked the provider to authenticate the person again: the ID token must
/// say when it did (`auth_time`, required by OpenID Connect when `max_age` was sent), and that
/// must not be before the sign-in started (a little clock skew allowed).
pub(crate) fn authenticated_since(claims: &Value, since: i64) -> Result<()> {
    match claims["auth_time"].as_i64() {
        Some(t) if t >= since - SKEW_SECS => Ok(()),
        Some(_) => Err(Error::SsoFailed("the provider did not ask you to sign in again; try again".into())),
        None => Err(Error::SsoFailed(
            "the provider did not say when you signed in, so this cannot confirm it is you".into(),
        )),
    }
}

/// The checks on a verified ID token's claims: issuer, audience (and `azp` when there are
/// several), expiry and issue time with a little clock skew, and this sign-in's nonce.
pub fn check_claims(claims: &Value, settings: &OidcSettings, nonce: &str, now: i64) -> Result<()> {
    let bad = |why: &str| Error::SsoFailed(format!("the ID token {why}"));
    if claims["iss"].as_str() != Some(settings.issuer.as_str()) {
        return Err(bad("comes from another issuer"));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(a) => *a == settings.client_id,
        Value::Array(list) => {
            list.iter().any(|a| a.as_str() == Some(settings.client_id.as_str()))
                && (list.len() == 1 || claims["azp"].as_str() == Some(settings.client_id.as_str()))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(bad("is meant for another client"));
    }
    match claims["exp"].as_i64() {
        Some(exp) if exp + SKEW_SECS > now => {}
        _ => return Err(bad("has expired")),
    }
    if claims["iat"].as_i64().is_some_and(|iat| iat > now + SKEW_SECS) {
        return Err(bad("was issued in the future"));
    }
    match claims["nonce"].as_str() {
        Some(n) if crypto::ct_eq(n.as_bytes(), nonce.as_bytes()) => Ok(()),
        _ => Err(bad("does not carry this sign-in's nonce")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_sign_in_must_have_authenticated_after_it_started() {
        let since = 1_800_000_000;
        assert!(authenticated_since(&serde_json::json!({ "auth_time": since + 3 }), since).is_ok());
        assert!(authenticated_since(&serde_json::json!({ "auth_time": since - 30 }), since).is_ok(), "clock skew");
        let old = authenticated_since(&serde_json::json!({ "auth_time": since - 3600 }), since).unwrap_err();
        assert!(old.to_string().contains("did not ask you to sign in again"), "{old}");
        assert!(authenticated_since(&serde_json::json!({}), since).is_err(), "no auth_time, no confirmation");
    }

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://idp.example".into(),
            client_id: "conclave".into(),
            allowed_domains: vec!["acme.example".into()],
            groups_claim: None,
            admin_groups: vec![],
            team_groups: BTreeMap::new(),
            sso_only: false,
            trust_emails_without_verified_claim: false,
        }
    }

    fn claims() -> Value {
        serde_json::json!({ "iss": "https://idp.example", "aud": "conclave", "exp": 2_000, "iat": 1_000, "nonce": "n-1" })
    }

    fn refused(mut change: impl FnMut(&mut Value), nonce: &str) -> String {
        let mut c = claims();
        change(&mut c);
        match check_claims(&c, &settings(), nonce, 1_500) {
            Err(Error::SsoFailed(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn each_claim_rule_refuses_with_its_reason() {
        assert!(check_claims(&claims(), &settings(), "n-1", 1_500).is_ok());
        assert!(refused(|c| c["iss"] = "https://evil.example".into(), "n-1").contains("another issuer"));
        assert!(refused(|c| c["aud"] = "someone-else".into(), "n-1").contains("another client"));
        assert!(
            refused(|c| c["aud"] = serde_json::json!(["conclave", "other"]), "n-1").contains("another client"),
            "azp needed"
        );
        assert!(refused(|c| c["exp"] = 1_000.into(), "n-1").contains("expired"));
        assert!(refused(|c| c["iat"] = 9_999.into(), "n-1").contains("future"));
        assert!(refused(
            |c| {
                c.as_object_mut().unwrap().remove("nonce");
            },
            "n-1"
        )
        .contains("nonce"));
        assert!(refused(|_| {}, "n-2").contains("nonce"), "a nonce from another sign-in");
        let mut multi = claims();
        multi["aud"] = serde_json::json!(["conclave", "other"]);
        multi["azp"] = "conclave".into();
        assert!(check_claims(&multi, &settings(), "n-1", 1_500).is_ok());
    }

    #[test]
    fn provider_settings_are_validated() {
        let bad = |f: fn(&mut OidcSettings)| {
            let mut s = settings();
            f(&mut s);
            s.validate(true).unwrap_err()
        };
        assert!(matches!(bad(|s| s.issuer = "http://idp.example".into()), Error::Invalid(f) if f.field == "issuer"));
        assert!(matches!(bad(|s| s.client_id = " ".into()), Error::Invalid(f) if f.field == "client_id"));
        let domains = |d: &[&str]| super::super::check_domains(&d.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(matches!(domains(&[]), Err(Error::Invalid(f)) if f.field == "allowed_domains"));
        assert!(matches!(domains(&["not a domain"]), Err(Error::Invalid(f)) if f.field == "allowed_domains"));
        assert_eq!(domains(&[" Acme.Example "]).unwrap(), ["acme.example"]);
        let mut local = settings();
        local.issuer = "http://127.0.0.1:4000".into();
        assert!(local.validate(true).is_ok(), "plain http to this machine when allowed");
        assert!(matches!(local.validate(false), Err(Error::Invalid(f)) if f.field == "issuer"));
    }
}

// The OpenAPI schemas of list fields whose items have limits too.
domain::string_list_schema!(fn oidcsettings_admin_groups_schema: max_items = 100, max_length = 200);
domain::string_list_schema!(fn oidcsettings_allowed_domains_schema: max_items = 100, max_length = 253, pattern = "^[A-Za-z0-9.-]+$");

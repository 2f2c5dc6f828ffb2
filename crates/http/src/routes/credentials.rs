//! The password policy (enterprise admins), changing one's own password, and one-time codes.

use crate::extract::{enterprise, ApiJson, Auth, ClientOrigin};
use crate::problem::{Problem, ProblemDocument};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::password_policy::{CharClass, PasswordPolicy};
use domain::Rule;
use serde::Deserialize;
use services::credentials::{PasswordPolicyView, RecoveryCodes, TotpEnrolment, TotpStatus};
use utoipa::ToSchema;

/// GET /api/v1/enterprises/{id}/password-policy — the policy and its checklist (any member).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/password-policy", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    responses((status = 200, body = PasswordPolicyView), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PasswordPolicyView>, Problem> {
    Ok(Json(state.services.credentials.password_policy(&auth.caller(), enterprise(&id)?).await?))
}

/// The policy as an admin sends it; every setting is required so nothing changes by omission.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// 8 to 256.
    #[schema(minimum = 8, maximum = 256)]
    pub min_length: u32,
    /// Any of `lowercase`, `uppercase`, `digit`, `symbol`.
    #[schema(schema_with = policyrequest_required_classes_schema)]
    pub required_classes: Vec<String>,
    /// zxcvbn score 0 to 4.
    #[schema(minimum = 0, maximum = 4)]
    pub min_strength: u8,
    #[schema(schema_with = policyrequest_deny_words_schema)]
    pub deny_words: Vec<String>,
    /// Previous passwords that may not be reused, 0 to 24.
    #[schema(minimum = 0, maximum = 24)]
    pub history: u32,
    /// Days until a password must be changed at sign-in; null for never.
    #[schema(minimum = 1, maximum = 3650)]
    pub max_age_days: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    pub lockout_threshold: u32,
    /// 1 to 1440.
    #[schema(minimum = 1, maximum = 1440)]
    pub lockout_minutes: u32,
    pub require_second_factor: bool,
}

/// PUT /api/v1/enterprises/{id}/password-policy — enterprise admins set the policy. Stricter
/// rules apply when each person next sets a password; nobody is locked out by the change.
#[utoipa::path(put, path = "/api/v1/enterprises/{enterprise_id}/password-policy", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)), request_body = PolicyRequest,
    responses((status = 200, body = PasswordPolicyView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_policy(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PolicyRequest>,
) -> Result<Json<PasswordPolicyView>, Problem> {
    let mut classes = Vec::new();
    for raw in &body.required_classes {
        classes.push(CharClass::parse(raw).ok_or_else(|| {
            Problem::invalid(
                "required_classes",
                Rule::InvalidValue,
                &format!("required_classes: {raw:?} is not a character class (lowercase, uppercase, digit, symbol)"),
            )
        })?);
    }
    let policy = PasswordPolicy {
        min_length: body.min_length,
        required_classes: classes,
        min_strength: body.min_strength,
        deny_words: body.deny_words,
        history: body.history,
        max_age_days: body.max_age_days,
        lockout_threshold: body.lockout_threshold,
        lockout_minutes: body.lockout_minutes,
        require_second_factor: body.require_second_factor,
    };
    Ok(Json(state.services.credentials.put_password_policy(&auth.caller(), &origin, enterprise(&id)?, policy).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub current_password: String,
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// POST /api/v1/me/password — change your password; the policy names each rule it breaks.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    request_body = PasswordChangeRequest,
    responses((status = 204, description = "Changed"), (status = 422, description = "Wrong current password, or the policy refused the new one", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<PasswordChangeRequest>,
) -> Result<StatusCode, Problem> {
    state.check_account_rate(&auth.principal.user_id.to_string())?;
    state
        .services
        .sessions
        .change_password(&auth.principal, &origin, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/me/totp — whether one-time codes are on, required, and recovery codes left.
#[utoipa::path(get, path = "/api/v1/me/totp", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = TotpStatus)))]
pub async fn totp_status(State(state): State<AppState>, auth: Auth) -> Result<Json<TotpStatus>, Problem> {
    Ok(Json(state.services.credentials.totp_status(&auth.principal).await?))
}

/// POST /api/v1/me/totp — start enrolment: a new secret with its QR code (SVG).
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = TotpEnrolment)))]
pub async fn start_totp(State(state): State<AppState>, auth: Auth) -> Result<Response, Problem> {
    let enrolment = state.services.credentials.start_totp_enrolment(&auth.principal).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(enrolment)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
}

/// POST /api/v1/me/totp/confirm — confirm with a code; returns ten single-use recovery codes.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Response, Problem> {
    let codes = state.services.credentials.confirm_totp(&auth.principal, &origin, &body.code).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(codes)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// DELETE /api/v1/me/totp — turn one-time codes off (with the password); refused when required.
#[utoipa::path(delete, path = "/api/v1/me/totp", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    request_body = PasswordRequest,
    responses((status = 204, description = "Turned off"), (status = 403, description = "Required by the enterprise", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn disable_totp(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> Result<StatusCode, Problem> {
    state.check_account_rate(&auth.principal.user_id.to_string())?;
    state.services.credentials.disable_totp(&auth.principal, &origin, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/enterprises/{id}/sso/oidc — the OpenID provider settings (enterprise admins).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/sso/oidc", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    responses((status = 200, body = Option<services::sso::oidc::OidcSettings>), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_oidc(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Option<services::sso::oidc::OidcSettings>>, Problem> {
    Ok(Json(state.services.sso.oidc_settings(&auth.caller(), enterprise(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcRequest {
    pub settings: services::sso::oidc::OidcSettings,
    /// Required the first time; omit to keep the stored one. Never returned.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub client_secret: Option<String>,
}

/// PUT /api/v1/enterprises/{id}/sso/oidc — connect the enterprise's OpenID provider.
#[utoipa::path(put, path = "/api/v1/enterprises/{enterprise_id}/sso/oidc", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)), request_body = OidcRequest,
    responses((status = 200, body = services::sso::oidc::OidcSettings), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_oidc(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OidcRequest>,
) -> Result<Json<services::sso::oidc::OidcSettings>, Problem> {
    let settings = state
        .services
        .sso
        .put_oidc_settings(&auth.caller(), &origin, enterprise(&id)?, body.settings, body.client_secret.as_deref())
        .await?;
    Ok(Json(settings))
}

/// GET /api/v1/enterprises/{id}/sso/saml — the SAML identity provider settings (enterprise admins).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/sso/saml", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    responses((status = 200, body = Option<services::sso::saml::SamlSettings>), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_saml(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Option<services::sso::saml::SamlSettings>>, Problem> {
    Ok(Json(state.services.sso.saml_settings(&auth.caller(), enterprise(&id)?).await?))
}

/// The IdP from its metadata (XML or a URL), or from the three values directly.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlRequest {
    #[serde(default)]
    #[schema(max_length = 1048576)]
    pub idp_metadata: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^https?://")]
    pub idp_metadata_url: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub idp_entity_id: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^https?://")]
    pub idp_sso_url: Option<String>,
    /// PEM.
    #[serde(default)]
    #[schema(max_length = 65536)]
    pub idp_certificate: Option<String>,
    #[schema(schema_with = samlrequest_allowed_domains_schema)]
    pub allowed_domains: Vec<String>,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    #[schema(schema_with = samlrequest_admin_groups_schema)]
    pub admin_groups: Vec<String>,
    /// This service's address as the IdP knows it; default: the configured public URL.
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^https?://")]
    pub sp_base_url: Option<String>,
    /// Password sign-in is off, except for enterprise admins with one-time codes (break-glass).
    #[serde(default)]
    pub sso_only: bool,
}

/// PUT /api/v1/enterprises/{id}/sso/saml — connect the enterprise's SAML identity provider.
#[utoipa::path(put, path = "/api/v1/enterprises/{enterprise_id}/sso/saml", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)), request_body = SamlRequest,
    responses((status = 200, body = services::sso::saml::SamlSettings), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_saml(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SamlRequest>,
) -> Result<Json<services::sso::saml::SamlSettings>, Problem> {
    let (entity, sso, cert) = match (&body.idp_metadata, &body.idp_metadata_url) {
        (Some(xml), _) => state.services.sso.idp_metadata_from_xml(&auth.caller(), enterprise(&id)?, xml).await?,
        (None, Some(url)) => state.services.sso.fetch_idp_metadata(&auth.caller(), enterprise(&id)?, url).await?,
        (None, None) => (
            body.idp_entity_id.clone().unwrap_or_default(),
            body.idp_sso_url.clone().unwrap_or_default(),
            body.idp_certificate.clone().unwrap_or_default(),
        ),
    };
    let settings = services::sso::saml::SamlSettings {
        idp_entity_id: entity,
        idp_sso_url: sso,
        idp_certificate: cert,
        allowed_domains: body.allowed_domains,
        allow_idp_initiated: body.allow_idp_initiated,
        admin_groups: body.admin_groups,
        sp_base_url: body.sp_base_url.unwrap_or_else(|| state.services.core.settings().public_url.clone()),
        sso_only: body.sso_only,
    };
    Ok(Json(state.services.sso.put_saml_settings(&auth.caller(), &origin, enterprise(&id)?, settings).await?))
}

// The OpenAPI schemas of list fields whose items have limits too.
domain::string_list_schema!(fn policyrequest_deny_words_schema: max_items = 200, max_length = 64);
domain::string_list_schema!(fn policyrequest_required_classes_schema: max_items = 4, max_length = 9, pattern = "^(lowercase|uppercase|digit|symbol)$");
domain::string_list_schema!(fn samlrequest_admin_groups_schema: max_items = 100, max_length = 200);
domain::string_list_schema!(fn samlrequest_allowed_domains_schema: max_items = 100, max_length = 253, pattern = "^[A-Za-z0-9.-]+$");

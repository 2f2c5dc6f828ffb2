//! Sign-in, sign-out, the current user, and the user's own devices.

use crate::extract::{parse_id, ApiJson, Auth, AuthEvenLocked, ClientOrigin, SESSION_COOKIE};
use crate::problem::{Problem, ProblemDocument};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::SessionId;
use serde::{Deserialize, Serialize};
use services::directory::{EnterpriseView, UserView};
use services::sessions::{DeviceView, SignedIn};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schema(min_length = 3, max_length = 254, format = Email)]
    pub email: String,
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
    /// The one-time code from an authenticator app, or a recovery code, when the account has
    /// one-time codes (or is enrolling, after `POST /api/v1/sessions/totp-enrolment`).
    #[serde(default)]
    #[schema(max_length = 64)]
    pub otp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionCreated {
    /// Bearer token for API clients. Shown once; the server keeps only its hash.
    pub token: String,
    /// Send as `X-CSRF-Token` on state-changing requests authenticated by the cookie.
    pub csrf_token: String,
    pub expires_at: String,
    pub user: UserView,
    /// Only after a sign-in that completed one-time-code enrolment: show once, then forget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub user: UserView,
    pub enterprise: EnterpriseView,
    #[schema(value_type = String, format = Uuid)]
    pub session_id: SessionId,
    pub csrf_token: String,
    /// Until when this session may use the admin consoles without authenticating again (absent
    /// when it may not); each admin action moves it forward.
    pub elevated_until: Option<String>,
    /// The PIN settings and whether this session is locked.
    pub pin: services::guard::PinView,
}

/// The `Set-Cookie` value that carries a new session to a browser.
pub(crate) fn session_cookie(token: &str, max_age_secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .expect("tokens are URL-safe base64")
}

pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_str(&format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"))
        .expect("static")
}

pub(crate) async fn sign_in(
    state: &AppState,
    origin: &domain::audit::Origin,
    email: &str,
    password: &str,
    otp: Option<&str>,
) -> Result<SignedIn, Problem> {
    state.check_sign_in_rate(origin.ip.as_deref())?;
    state.check_account_rate(email)?;
    Ok(state.services.sessions.sign_in_with(origin, email, password, otp).await?)
}

/// The answer to a successful sign-in: the cookie for browsers, the token for API clients.
async fn session_response(state: &AppState, signed_in: SignedIn) -> Result<Response, Problem> {
    let caller = services::Caller::User(signed_in.principal.clone());
    let user = state
        .services
        .directory
        .get_user(&caller, signed_in.principal.enterprise_id, signed_in.principal.user_id)
        .await?;
    let cookie = session_cookie(&signed_in.token, state.services.settings().session_lifetime.as_secs());
    let body = SessionCreated {
        token: signed_in.token,
        csrf_token: signed_in.csrf_token,
        expires_at: signed_in.expires_at.rfc3339(),
        user,
        recovery_codes: signed_in.recovery_codes,
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookie);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpiredPasswordRequest {
    #[schema(min_length = 3, max_length = 254, format = Email)]
    pub email: String,
    /// The expired password.
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub otp: Option<String>,
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// POST /api/v1/sessions/expired-password — replace an expired password and sign in.
#[utoipa::path(post, path = "/api/v1/sessions/expired-password", tag = "sessions", request_body = ExpiredPasswordRequest, responses(
    (status = 201, description = "Password changed and signed in", body = SessionCreated),
    (status = 401, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, description = "The new password breaks the policy", body = ProblemDocument, content_type = "application/problem+json"),
    (status = 429, body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn change_expired_password(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<ExpiredPasswordRequest>,
) -> Result<Response, Problem> {
    state.check_sign_in_rate(origin.ip.as_deref())?;
    state.check_account_rate(&body.email)?;
    let signed_in = state
        .services
        .sessions
        .change_expired_password(&origin, &body.email, &body.password, body.otp.as_deref(), &body.new_password)
        .await?;
    session_response(&state, signed_in).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentRequest {
    #[schema(min_length = 3, max_length = 254, format = Email)]
    pub email: String,
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// POST /api/v1/sessions/totp-enrolment — for accounts that must set up one-time codes before
/// signing in: returns a secret (and QR code); then sign in with a code from it.
#[utoipa::path(post, path = "/api/v1/sessions/totp-enrolment", tag = "sessions", request_body = EnrolmentRequest, responses(
    (status = 200, body = services::credentials::TotpEnrolment),
    (status = 401, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 403, description = "Not required for this account", body = ProblemDocument, content_type = "application/problem+json"),
    (status = 429, body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn enrol_at_sign_in(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<EnrolmentRequest>,
) -> Result<Response, Problem> {
    state.check_sign_in_rate(origin.ip.as_deref())?;
    state.check_account_rate(&body.email)?;
    let enrolment = state.services.sessions.enrol_totp_at_sign_in(&origin, &body.email, &body.password).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(enrolment)).into_response())
}

/// POST /api/v1/sessions — sign in with email and password.
///
/// Answers alike for an unknown email and a wrong password. Sets the session cookie for browsers
/// and returns a bearer token for API clients.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = SignInRequest, responses(
    (status = 201, description = "Signed in", body = SessionCreated),
    (status = 401, description = "Wrong email or password", body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, description = "Invalid field", body = ProblemDocument, content_type = "application/problem+json"),
    (status = 429, description = "Too many attempts", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn create_session(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<SignInRequest>,
) -> Result<Response, Problem> {
    let signed_in = sign_in(&state, &origin, &body.email, &body.password, body.otp.as_deref()).await?;
    session_response(&state, signed_in).await
}

/// DELETE /api/v1/sessions/current — sign out: the session ends on the server.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions", security(("bearer" = []), ("cookie" = [])), responses(
    (status = 204, description = "Signed out"),
    (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn delete_current_session(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    locked: AuthEvenLocked,
) -> Result<Response, Problem> {
    // A locked session may still sign out.
    state.services.sessions.sign_out(&locked.auth.principal, &origin).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear_cookie())]).into_response())
}

/// GET /api/v1/me — the signed-in user, their enterprise, and the session's CSRF token.
#[utoipa::path(get, path = "/api/v1/me", tag = "sessions", security(("bearer" = []), ("cookie" = [])), responses(
    (status = 200, description = "The current user", body = MeView),
    (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn get_me(State(state): State<AppState>, locked: AuthEvenLocked) -> Result<Response, Problem> {
    let auth = locked.auth;
    let caller = auth.caller();
    let p = &auth.principal;
    let now = domain::Millis::now();
    let user = state.services.directory.get_user(&caller, p.enterprise_id, p.user_id).await?;
    let enterprise = state.services.directory.get_enterprise(&caller, p.enterprise_id).await?;
    let body = MeView {
        user,
        enterprise,
        session_id: p.session_id,
        csrf_token: state.services.sessions.csrf_token_for(&auth.token),
        elevated_until: p.auth.elevated_until.filter(|u| u.0 > now.0).map(domain::Millis::rfc3339),
        pin: state.services.sessions.pin_settings(p, locked.lock).await?,
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// GET /api/v1/me/teams — the teams you belong to (their channels are yours to join).
#[utoipa::path(get, path = "/api/v1/me/teams", tag = "directory", security(("bearer" = []), ("cookie" = [])), responses(
    (status = 200, description = "Your teams", body = [services::directory::TeamView]),
    (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn list_my_teams(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<services::directory::TeamView>>, Problem> {
    Ok(Json(state.services.directory.my_teams(&auth.principal).await?))
}

/// GET /api/v1/me/devices — the caller's signed-in devices.
#[utoipa::path(get, path = "/api/v1/me/devices", tag = "sessions", security(("bearer" = []), ("cookie" = [])), responses(
    (status = 200, description = "Open sessions with their devices", body = [DeviceView]),
    (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn list_my_devices(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<DeviceView>>, Problem> {
    Ok(Json(state.services.sessions.list_devices(&auth.principal).await?))
}

/// DELETE /api/v1/me/devices/{session_id} — sign one of your devices out.
#[utoipa::path(delete, path = "/api/v1/me/devices/{session_id}", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    params(("session_id" = String, Path, description = "Session id from the device list")),
    responses(
        (status = 204, description = "That device is signed out"),
        (status = 404, description = "No such open session of yours", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn end_my_device(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(session_id): Path<String>,
) -> Result<StatusCode, Problem> {
    let session = parse_id(&session_id, "session", SessionId::parse)?;
    state.services.sessions.end_device(&auth.principal, &origin, session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/sessions/wipe-acknowledgement — the device of a session an admin ended confirms
/// it erased what it held. Sent with that session's own credentials (bearer token, or the cookie
/// with its CSRF token); the session stays ended and the cookie is cleared.
#[utoipa::path(post, path = "/api/v1/sessions/wipe-acknowledgement", tag = "sessions", security(("bearer" = []), ("cookie" = [])), responses(
    (status = 204, description = "Acknowledged; the admin console shows it"),
    (status = 404, description = "No wipe is waiting for these credentials", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn acknowledge_wipe(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    headers: axum::http::HeaderMap,
) -> Result<Response, Problem> {
    let (token, via_cookie) = crate::extract::session_token(&headers)
        .ok_or_else(|| Problem::new(crate::problem::Kind::NotFound, "no wipe is waiting for these credentials"))?;
    // A page that was open when its session ended proves the request is its own with the CSRF
    // token it was given; a page loaded afterwards never got one, and relies on the layer that
    // refuses cross-site requests (an acknowledgement only records that the device erased).
    let csrf = headers
        .get(crate::extract::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| via_cookie && !v.is_empty())
        .map(str::to_owned);
    state.services.sessions.acknowledge_wipe(&origin, &token, csrf.as_deref()).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear_cookie())]).into_response())
}

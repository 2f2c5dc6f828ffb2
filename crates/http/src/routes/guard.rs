//! Elevation for the admin consoles (A5) and the PIN lock (A6): authenticating again, locking
//! and unlocking a session, a person's PIN, and the enterprise's rules for both.

use crate::extract::{enterprise, ApiJson, Auth, AuthEvenLocked, ClientOrigin};
use crate::problem::{Problem, ProblemDocument};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use domain::session_policy::{LockState, SessionPolicy};
use serde::{Deserialize, Serialize};
use services::guard::{ElevationView, PinView};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElevationRequest {
    /// The account's password.
    #[schema(max_length = 256)]
    pub password: String,
    /// The one-time code (or a recovery code), when the account has one-time codes.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub code: Option<String>,
}

/// POST /api/v1/sessions/current/elevation — authenticate again to use the admin consoles.
#[utoipa::path(post, path = "/api/v1/sessions/current/elevation", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    request_body = ElevationRequest,
    responses(
        (status = 200, description = "Admin actions are allowed until `elevated_until`, which each one moves forward", body = ElevationView),
        (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Wrong password or code (counted towards the account's lockout)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 423, description = "The session is locked behind its PIN", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "The account is locked after too many failures", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn elevate(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<ElevationRequest>,
) -> Result<Json<ElevationView>, Problem> {
    // Each try costs an argon2id hash: bounded per person like sign-in.
    state.check_account_rate(&auth.principal.user_id.to_string())?;
    Ok(Json(state.services.sessions.elevate(&auth.principal, &origin, &body.password, body.code.as_deref()).await?))
}

/// POST /api/v1/sessions/current/lock — lock this session now (the page was hidden or started).
#[utoipa::path(post, path = "/api/v1/sessions/current/lock", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Locked: content answers 423 until the PIN is entered"),
        (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "No PIN is set", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn lock(State(state): State<AppState>, auth: AuthEvenLocked) -> Result<StatusCode, Problem> {
    state.services.sessions.lock(&auth.auth.principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    /// 4 to 12 digits.
    #[schema(min_length = 4, max_length = 12, pattern = "^[0-9]{4,12}$")]
    pub pin: String,
}

/// POST /api/v1/sessions/current/unlock — enter the PIN to unlock this session.
#[utoipa::path(post, path = "/api/v1/sessions/current/unlock", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    request_body = UnlockRequest,
    responses(
        (status = 204, description = "Unlocked"),
        (status = 401, description = "Not signed in, or too many wrong PINs: the session ended and the device must erase what it holds (`wipe-required`)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Wrong PIN, with the tries left", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn unlock(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: AuthEvenLocked,
    ApiJson(body): ApiJson<UnlockRequest>,
) -> Result<StatusCode, Problem> {
    state.check_account_rate(&auth.auth.principal.user_id.to_string())?;
    state.services.sessions.unlock(&auth.auth.principal, &origin, &body.pin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/me/pin — your PIN settings and whether this session is locked.
#[utoipa::path(get, path = "/api/v1/me/pin", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = PinView),
        (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn get_pin(State(state): State<AppState>, auth: AuthEvenLocked) -> Result<Json<PinView>, Problem> {
    Ok(Json(state.services.sessions.pin_settings(&auth.auth.principal, auth.lock).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinRequest {
    /// The new PIN: 4 to 12 digits.
    #[schema(min_length = 4, max_length = 12, pattern = "^[0-9]{4,12}$")]
    pub pin: String,
    /// Minutes without use before the session locks: 0 (whenever the page is started or
    /// hidden), 1, 5, 15, 30 or 60, at most what the organisation allows.
    #[schema(minimum = 0, maximum = 60)]
    pub lock_after_minutes: u32,
    /// The PIN now set, when changing it.
    #[serde(default)]
    #[schema(min_length = 4, max_length = 12, pattern = "^[0-9]{4,12}$")]
    pub current_pin: Option<String>,
}

/// PUT /api/v1/me/pin — set or change your PIN and when your sessions lock.
///
/// A locked session may call this only to set a first PIN its organisation requires.
#[utoipa::path(put, path = "/api/v1/me/pin", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    request_body = PinRequest,
    responses(
        (status = 200, body = PinView),
        (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The PIN or delay breaks a rule, or the current PIN is wrong", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 423, description = "The session is locked: unlock it first", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn put_pin(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: AuthEvenLocked,
    ApiJson(body): ApiJson<PinRequest>,
) -> Result<Json<PinView>, Problem> {
    // Only the "set one first" lock lets this through; a locked session with a PIN must unlock.
    if auth.lock == LockState::Locked {
        return Err(services::Error::PinRequired { pin_set: true }.into());
    }
    let p = &auth.auth.principal;
    state.check_account_rate(&p.user_id.to_string())?;
    Ok(Json(
        state
            .services
            .sessions
            .set_pin(p, &origin, &body.pin, body.lock_after_minutes, body.current_pin.as_deref())
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemovePinRequest {
    #[schema(min_length = 4, max_length = 12, pattern = "^[0-9]{4,12}$")]
    pub current_pin: String,
}

/// DELETE /api/v1/me/pin — remove your PIN (not when your organisation requires one).
#[utoipa::path(delete, path = "/api/v1/me/pin", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    request_body = RemovePinRequest,
    responses(
        (status = 200, body = PinView),
        (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No PIN is set", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Wrong PIN, or the organisation requires one", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 423, description = "The session is locked", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn delete_pin(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<RemovePinRequest>,
) -> Result<Json<PinView>, Problem> {
    state.check_account_rate(&auth.principal.user_id.to_string())?;
    Ok(Json(state.services.sessions.remove_pin(&auth.principal, &origin, &body.current_pin).await?))
}

/// An enterprise's rules for elevation and the PIN lock.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionPolicyDocument {
    /// Minutes without an admin action before the admin consoles ask to authenticate again.
    #[schema(minimum = 5, maximum = 60)]
    pub elevation_minutes: u32,
    /// Every member must set a PIN before they see content.
    pub pin_required: bool,
    /// The longest lock delay a member may choose: 0, 1, 5, 15, 30 or 60 minutes.
    #[schema(minimum = 0, maximum = 60)]
    pub pin_max_lock_minutes: u32,
    /// Wrong PINs in a row after which the session ends and the device is wiped.
    #[schema(minimum = 3, maximum = 10)]
    pub pin_attempts: u32,
}

impl From<SessionPolicy> for SessionPolicyDocument {
    fn from(p: SessionPolicy) -> Self {
        SessionPolicyDocument {
            elevation_minutes: p.elevation_minutes,
            pin_required: p.pin_required,
            pin_max_lock_minutes: p.pin_max_lock_minutes,
            pin_attempts: p.pin_attempts,
        }
    }
}

/// GET /api/v1/enterprises/{enterprise_id}/session-policy — the elevation and PIN rules (any member).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/session-policy", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    responses(
        (status = 200, body = SessionPolicyDocument),
        (status = 401, description = "Not signed in", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of this enterprise", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "Malformed enterprise id", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn get_session_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<SessionPolicyDocument>, Problem> {
    Ok(Json(state.services.sessions.session_policy(&auth.caller(), enterprise(&id)?).await?.into()))
}

/// PUT /api/v1/enterprises/{enterprise_id}/session-policy — enterprise admins set the rules.
#[utoipa::path(put, path = "/api/v1/enterprises/{enterprise_id}/session-policy", tag = "sign-in", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    request_body = SessionPolicyDocument,
    responses(
        (status = 200, body = SessionPolicyDocument),
        (status = 401, description = "Not signed in, or the admin session lapsed (`reauthentication-required`)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "Not an enterprise admin here", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "A rule is out of range", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn put_session_policy(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SessionPolicyDocument>,
) -> Result<Json<SessionPolicyDocument>, Problem> {
    let policy = SessionPolicy {
        elevation_minutes: body.elevation_minutes,
        pin_required: body.pin_required,
        pin_max_lock_minutes: body.pin_max_lock_minutes,
        pin_attempts: body.pin_attempts,
    };
    Ok(Json(
        state.services.sessions.put_session_policy(&auth.caller(), &origin, enterprise(&id)?, policy).await?.into(),
    ))
}

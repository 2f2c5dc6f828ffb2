//! Enterprise administration: users, teams, memberships, the enterprise audit log.
//! Who may do what is decided by the services; these handlers only parse and render.

use crate::extract::{enterprise, parse_id, ApiJson, Auth, ClientOrigin};
use crate::problem::{Problem, ProblemDocument};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use domain::{Role, Roles, Rule, TeamId, UserId};
use serde::Deserialize;
use services::audit::{AuditEventView, AuditReportFilter, CatalogueEntry};
use services::directory::{EnterpriseView, NewUser, TeamMemberView, TeamView, UserView};
use services::sessions::DeviceView;
use utoipa::{IntoParams, ToSchema};

fn user(raw: &str) -> Result<UserId, Problem> {
    parse_id(raw, "user", UserId::parse)
}
fn team(raw: &str) -> Result<TeamId, Problem> {
    parse_id(raw, "team", TeamId::parse)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(min_length = 3, max_length = 254, format = Email)]
    pub email: String,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `member`, `team-admin`, `enterprise-admin` or `security`. Give this or `roles`.
    #[schema(pattern = "^(member|team-admin|enterprise-admin|security)$")]
    pub role: Option<String>,
    /// Several roles at once, e.g. `["enterprise-admin", "security"]`.
    #[schema(schema_with = createuserrequest_roles_schema)]
    pub roles: Option<Vec<String>>,
    /// Initial password (8 to 256 characters). Omit for an account without password sign-in.
    #[schema(min_length = 8, max_length = 256)]
    pub password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// True disables the account and ends all its sessions.
    pub disabled: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeamRequest {
    pub archived: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMemberRequest {
    #[serde(default)]
    pub is_admin: bool,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Return events with a sequence number below this (for paging back).
    #[param(minimum = 0)]
    pub before: Option<i64>,
    /// At most this many events (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Only events from this IPv4 or IPv6 address.
    #[param(max_length = 45)]
    pub ip: Option<String>,
    /// Only events from this network: an IPv4 /24 or an IPv6 /64, such as `203.0.113.0/24`.
    #[param(max_length = 49)]
    pub network: Option<String>,
}

fn parse_role(field: &str, raw: &str) -> Result<Role, Problem> {
    Role::parse(raw).ok_or_else(|| {
        Problem::invalid(field, Rule::InvalidValue, "must be one of member, team-admin, enterprise-admin, security")
    })
}

/// The roles of a new account: `role`, `roles`, or both (their union); at least one is needed.
fn parse_roles(role: Option<&str>, roles: Option<&[String]>) -> Result<Roles, Problem> {
    if role.is_none() && roles.is_none() {
        return Err(Problem::invalid("role", Rule::Empty, "give the account a role (or a list of roles)"));
    }
    // Four roles exist; a longer list can only repeat them.
    if roles.is_some_and(|r| r.len() > 4) {
        return Err(Problem::invalid("roles", Rule::TooLong, "at most 4 roles"));
    }
    let mut set = Roles::MEMBER;
    if let Some(raw) = role {
        set = set.with(parse_role("role", raw)?);
    }
    for raw in roles.unwrap_or_default() {
        set = set.with(parse_role("roles", raw)?);
    }
    Ok(set)
}

/// GET /api/v1/enterprises/{enterprise_id} — the enterprise (its members only).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    responses((status = 200, body = EnterpriseView), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_enterprise(
    State(state): State<AppState>,
    auth: Auth,
    Path(eid): Path<String>,
) -> Result<Json<EnterpriseView>, Problem> {
    Ok(Json(state.services.directory.get_enterprise(&auth.caller(), enterprise(&eid)?).await?))
}

/// GET /api/v1/enterprises/{enterprise_id}/users — every account (enterprise admins).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/users", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    responses((status = 200, body = [UserView]), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    Path(eid): Path<String>,
) -> Result<Json<Vec<UserView>>, Problem> {
    Ok(Json(state.services.directory.list_users(&auth.caller(), enterprise(&eid)?).await?))
}

/// POST /api/v1/enterprises/{enterprise_id}/users — create an account (enterprise admins).
#[utoipa::path(post, path = "/api/v1/enterprises/{enterprise_id}/users", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)), request_body = CreateUserRequest,
    responses(
        (status = 201, body = UserView),
        (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Email already used in this enterprise", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn create_user(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(eid): Path<String>,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserView>), Problem> {
    let enterprise = enterprise(&eid)?;
    let roles = parse_roles(body.role.as_deref(), body.roles.as_deref())?;
    let new = NewUser { email: body.email, name: body.name, roles, via: None, password: body.password };
    let created = state.services.directory.create_user(&auth.caller(), &origin, enterprise, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// PATCH /api/v1/enterprises/{enterprise_id}/users/{user_id} — disable or re-enable an account.
#[utoipa::path(patch, path = "/api/v1/enterprises/{enterprise_id}/users/{user_id}", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("user_id" = String, Path)), request_body = UpdateUserRequest,
    responses((status = 200, body = UserView), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn update_user(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, uid)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<UserView>, Problem> {
    let (enterprise, user) = (enterprise(&eid)?, user(&uid)?);
    Ok(Json(
        state.services.directory.set_user_disabled(&auth.caller(), &origin, enterprise, user, body.disabled).await?,
    ))
}

/// What kind of single-use link to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialLinkRequest {
    /// `invitation` (an account without a password) or `password-reset`.
    #[schema(value_type = String, pattern = "^(invitation|password-reset)$")]
    pub purpose: services::links::LinkPurpose,
}

/// POST /api/v1/enterprises/{enterprise_id}/users/{user_id}/credential-links — an enterprise admin
/// makes a single-use link for someone to set their password (mailed when a relay is set up).
#[utoipa::path(post, path = "/api/v1/enterprises/{enterprise_id}/users/{user_id}/credential-links", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("user_id" = String, Path)), request_body = CredentialLinkRequest,
    responses((status = 201, body = services::links::CredentialLinkView),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "An invitation for an account that has a password, or a disabled account", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn create_credential_link(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, uid)): Path<(String, String)>,
    ApiJson(body): ApiJson<CredentialLinkRequest>,
) -> Result<(StatusCode, Json<services::links::CredentialLinkView>), Problem> {
    let (enterprise, user) = (enterprise(&eid)?, user(&uid)?);
    let link = state.services.links.create(&auth.caller(), &origin, enterprise, user, body.purpose).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// GET /api/v1/enterprises/{enterprise_id}/users/{user_id}/devices — a user's signed-in devices (enterprise admins).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/users/{user_id}/devices", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = [DeviceView]), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_user_devices(
    State(state): State<AppState>,
    auth: Auth,
    Path((eid, uid)): Path<(String, String)>,
) -> Result<Json<Vec<DeviceView>>, Problem> {
    Ok(Json(state.services.sessions.list_user_devices(&auth.caller(), enterprise(&eid)?, user(&uid)?).await?))
}

/// GET /api/v1/enterprises/{enterprise_id}/teams — the enterprise's teams (any member).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/teams", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    responses((status = 200, body = [TeamView]), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_teams(
    State(state): State<AppState>,
    auth: Auth,
    Path(eid): Path<String>,
) -> Result<Json<Vec<TeamView>>, Problem> {
    Ok(Json(state.services.directory.list_teams(&auth.caller(), enterprise(&eid)?).await?))
}

/// POST /api/v1/enterprises/{enterprise_id}/teams — create a team (enterprise admins).
#[utoipa::path(post, path = "/api/v1/enterprises/{enterprise_id}/teams", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)), request_body = CreateTeamRequest,
    responses((status = 201, body = TeamView), (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn create_team(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(eid): Path<String>,
    ApiJson(body): ApiJson<CreateTeamRequest>,
) -> Result<(StatusCode, Json<TeamView>), Problem> {
    let created = state.services.directory.create_team(&auth.caller(), &origin, enterprise(&eid)?, &body.name).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// PATCH /api/v1/enterprises/{enterprise_id}/teams/{team_id} — archive or restore a team.
#[utoipa::path(patch, path = "/api/v1/enterprises/{enterprise_id}/teams/{team_id}", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("team_id" = String, Path)), request_body = UpdateTeamRequest,
    responses((status = 200, body = TeamView), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn update_team(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, tid)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateTeamRequest>,
) -> Result<Json<TeamView>, Problem> {
    Ok(Json(
        state
            .services
            .directory
            .set_team_archived(&auth.caller(), &origin, enterprise(&eid)?, team(&tid)?, body.archived)
            .await?,
    ))
}

/// GET /api/v1/enterprises/{enterprise_id}/teams/{team_id}/members — a team's members.
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/teams/{team_id}/members", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("team_id" = String, Path)),
    responses((status = 200, body = [TeamMemberView]), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_team_members(
    State(state): State<AppState>,
    auth: Auth,
    Path((eid, tid)): Path<(String, String)>,
) -> Result<Json<Vec<TeamMemberView>>, Problem> {
    Ok(Json(state.services.directory.list_team_members(&auth.caller(), enterprise(&eid)?, team(&tid)?).await?))
}

/// PUT /api/v1/enterprises/{enterprise_id}/teams/{team_id}/members/{user_id} — add a member or change their team-admin flag.
#[utoipa::path(put, path = "/api/v1/enterprises/{enterprise_id}/teams/{team_id}/members/{user_id}", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("team_id" = String, Path), ("user_id" = String, Path)), request_body = PutMemberRequest,
    responses((status = 204), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_team_member(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, tid, uid)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<PutMemberRequest>,
) -> Result<StatusCode, Problem> {
    state
        .services
        .directory
        .put_team_member(&auth.caller(), &origin, enterprise(&eid)?, team(&tid)?, user(&uid)?, body.is_admin)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// DELETE /api/v1/enterprises/{enterprise_id}/teams/{team_id}/members/{user_id} — remove a member.
#[utoipa::path(delete, path = "/api/v1/enterprises/{enterprise_id}/teams/{team_id}/members/{user_id}", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("team_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn remove_team_member(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, tid, uid)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    state
        .services
        .directory
        .remove_team_member(&auth.caller(), &origin, enterprise(&eid)?, team(&tid)?, user(&uid)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/enterprises/{enterprise_id}/audit — the enterprise's audit events, newest first (enterprise admins).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/audit", tag = "audit", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), AuditQuery),
    responses((status = 200, body = [AuditEventView]), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_audit(
    State(state): State<AppState>,
    auth: Auth,
    Path(eid): Path<String>,
    uri: Uri,
) -> Result<Json<Vec<AuditEventView>>, Problem> {
    let query: AuditQuery = crate::extract::parse_query(&uri)?;
    if query.before.is_some_and(|b| b < 0) {
        return Err(Problem::invalid("before", Rule::InvalidValue, "must be a sequence number (0 or more)"));
    }
    let events = state
        .services
        .compliance
        .enterprise_audit_filtered(
            &auth.caller(),
            enterprise(&eid)?,
            &AuditReportFilter { ip: query.ip, network: query.network },
            query.before,
            query.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(events))
}

/// GET /api/v1/audit/catalogue — every action the audit trail records, with its scope, target
/// and detail fields (any signed-in person).
#[utoipa::path(get, path = "/api/v1/audit/catalogue", tag = "audit", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = [CatalogueEntry]), (status = 401, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn audit_catalogue(_signed_in: Auth) -> Json<Vec<CatalogueEntry>> {
    Json(services::audit::catalogue())
}

/// DELETE /api/v1/enterprises/{enterprise_id}/users/{user_id}/devices/{session_id} — sign one of
/// a user's devices out and have it erase what it holds of Conclave (enterprise admins).
#[utoipa::path(delete, path = "/api/v1/enterprises/{enterprise_id}/users/{user_id}/devices/{session_id}", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("user_id" = String, Path), ("session_id" = String, Path)),
    responses((status = 204, description = "Signed out; the device is told to erase what it holds"),
        (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such user, or no such open session of theirs", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn end_user_device(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, uid, sid)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    let session = parse_id(&sid, "session", domain::SessionId::parse)?;
    let (e, u) = (enterprise(&eid)?, user(&uid)?);
    state.services.sessions.end_user_devices(&auth.caller(), &origin, e, u, Some(session)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, ToSchema)]
pub struct EndedView {
    /// How many sessions ended (each device is told to erase what it holds).
    pub ended: usize,
}

/// DELETE /api/v1/enterprises/{enterprise_id}/users/{user_id}/devices — sign every device of a
/// user out and have each erase what it holds of Conclave (enterprise admins).
#[utoipa::path(delete, path = "/api/v1/enterprises/{enterprise_id}/users/{user_id}/devices", tag = "directory", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = EndedView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn end_user_devices(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, uid)): Path<(String, String)>,
) -> Result<Json<EndedView>, Problem> {
    let (e, u) = (enterprise(&eid)?, user(&uid)?);
    let ended = state.services.sessions.end_user_devices(&auth.caller(), &origin, e, u, None).await?;
    Ok(Json(EndedView { ended }))
}

// The OpenAPI schemas of list fields whose items have limits too.
domain::string_list_schema!(fn createuserrequest_roles_schema: max_items = 4, max_length = 16, pattern = "^(member|team-admin|enterprise-admin|security)$", nullable = true);

//! Message control (M2–M5): the enterprise's policy templates, a conversation's default
//! template, and per message: fetch one, forward, the forward tree, recall and reveal.

use crate::extract::{enterprise, id_in_body, parse_id, ApiJson, Auth, ClientOrigin};
use crate::problem::{Problem, ProblemDocument};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use domain::{ConversationId, MessageId, MessagePolicyId, Rule};
use serde::Deserialize;
use services::messaging::control::{ForwardTreeView, RecallReceipt};
use services::messaging::policies::{MessagePolicyView, PolicyRules};
use services::messaging::scheduled::ScheduledView;
use services::messaging::{ConversationView, MessageView};
use utoipa::ToSchema;

fn policy(raw: &str) -> Result<MessagePolicyId, Problem> {
    parse_id(raw, "message policy", MessagePolicyId::parse)
}

fn message_path(cid: &str, mid: &str) -> Result<(ConversationId, MessageId), Problem> {
    Ok((parse_id(cid, "conversation", ConversationId::parse)?, parse_id(mid, "message", MessageId::parse)?))
}

/// A template as an admin writes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagePolicyRequest {
    /// 1 to 80 characters, unique among the enterprise's active templates.
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    #[serde(default)]
    pub rules: PolicyRules,
    /// On update: the version you read; a newer one refuses the change (409).
    #[schema(minimum = 1)]
    pub expected_version: Option<i64>,
}

/// GET /api/v1/enterprises/{enterprise_id}/message-policies — the templates senders may pick
/// (enterprise admins also see retired ones).
#[utoipa::path(get, path = "/api/v1/enterprises/{enterprise_id}/message-policies", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)),
    responses((status = 200, body = [MessagePolicyView]), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_policies(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<MessagePolicyView>>, Problem> {
    Ok(Json(state.services.message_policies.list(&auth.caller(), enterprise(&id)?).await?))
}

/// POST /api/v1/enterprises/{enterprise_id}/message-policies — enterprise admins add a template.
#[utoipa::path(post, path = "/api/v1/enterprises/{enterprise_id}/message-policies", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path)), request_body = MessagePolicyRequest,
    responses((status = 201, body = MessagePolicyView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Another active template has the name", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn create_policy(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MessagePolicyRequest>,
) -> Result<(StatusCode, Json<MessagePolicyView>), Problem> {
    let created = state
        .services
        .message_policies
        .create(&auth.caller(), &origin, enterprise(&id)?, &body.name, &body.rules)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// PUT /api/v1/enterprises/{enterprise_id}/message-policies/{policy_id} — replace a template's
/// name and rules. Messages already sent keep the rules they were sent under.
#[utoipa::path(put, path = "/api/v1/enterprises/{enterprise_id}/message-policies/{policy_id}", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("policy_id" = String, Path)), request_body = MessagePolicyRequest,
    responses((status = 200, body = MessagePolicyView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such active template", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn update_policy(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, pid)): Path<(String, String)>,
    ApiJson(body): ApiJson<MessagePolicyRequest>,
) -> Result<Json<MessagePolicyView>, Problem> {
    let (e, p) = (enterprise(&eid)?, policy(&pid)?);
    if body.expected_version.is_some_and(|v| v < 1) {
        return Err(Problem::invalid("expected_version", Rule::InvalidValue, "must be a version you read (1 or more)"));
    }
    let updated = state
        .services
        .message_policies
        .update(&auth.caller(), &origin, e, p, &body.name, &body.rules, body.expected_version)
        .await?;
    Ok(Json(updated))
}

/// DELETE /api/v1/enterprises/{enterprise_id}/message-policies/{policy_id} — retire a template:
/// senders can no longer pick it; it stays listed (retired) for admins and sent messages keep it.
#[utoipa::path(delete, path = "/api/v1/enterprises/{enterprise_id}/message-policies/{policy_id}", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("enterprise_id" = String, Path), ("policy_id" = String, Path)),
    responses((status = 200, body = MessagePolicyView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Already retired", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn retire_policy(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((eid, pid)): Path<(String, String)>,
) -> Result<Json<MessagePolicyView>, Problem> {
    let (e, p) = (enterprise(&eid)?, policy(&pid)?);
    Ok(Json(state.services.message_policies.retire(&auth.caller(), &origin, e, p).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultPolicyRequest {
    /// The template, or `null` for none.
    #[schema(format = Uuid)]
    pub policy_id: Option<String>,
}

/// PUT /api/v1/conversations/{conversation_id}/default-policy — the template this
/// conversation's messages get when the sender picks none (enterprise admins who are members,
/// and a group's owner).
#[utoipa::path(put, path = "/api/v1/conversations/{conversation_id}/default-policy", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)), request_body = DefaultPolicyRequest,
    responses((status = 200, body = ConversationView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn set_default_policy(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(cid): Path<String>,
    ApiJson(body): ApiJson<DefaultPolicyRequest>,
) -> Result<Json<ConversationView>, Problem> {
    let c = parse_id(&cid, "conversation", ConversationId::parse)?;
    let p = body.policy_id.as_deref().map(|raw| id_in_body("policy_id", raw, MessagePolicyId::parse)).transpose()?;
    Ok(Json(state.services.messaging.set_default_policy(&auth.principal, &origin, c, p).await?))
}

/// GET /api/v1/conversations/{conversation_id}/messages/{message_id} — one message as you may
/// see it now (what a client fetches after a `pending` live event or a `message-changed`).
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)),
    responses((status = 200, body = MessageView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 410, description = "Recalled", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_message(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
) -> Result<Json<MessageView>, Problem> {
    let (c, m) = message_path(&cid, &mid)?;
    Ok(Json(state.services.messaging.get_message(&auth.principal, c, m).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardRequest {
    /// The conversation to forward into (one of yours).
    #[schema(format = Uuid)]
    pub conversation_id: String,
}

/// POST /api/v1/conversations/{conversation_id}/messages/{message_id}/forward — copy a message
/// you can read into another of your conversations. The copy remembers its lineage and keeps
/// the strictest rules of its ancestors.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/forward", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)), request_body = ForwardRequest,
    responses((status = 201, body = MessageView),
        (status = 403, description = "Its policy forbids forwarding, or you cannot read it here and now", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 410, description = "Recalled", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn forward(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
    ApiJson(body): ApiJson<ForwardRequest>,
) -> Result<(StatusCode, Json<MessageView>), Problem> {
    let (c, m) = message_path(&cid, &mid)?;
    let to = id_in_body("conversation_id", &body.conversation_id, ConversationId::parse)?;
    let copy = state.services.messaging.forward(&auth.principal, &origin, c, m, to).await?;
    Ok((StatusCode::CREATED, Json(copy)))
}

/// GET /api/v1/conversations/{conversation_id}/messages/{message_id}/forwards — every copy
/// forwarded from a message, at every depth, and who read each (its sender, the original's
/// author and enterprise admins).
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/forwards", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)),
    responses((status = 200, body = ForwardTreeView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 410, description = "Recalled", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn forwards(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
) -> Result<Json<ForwardTreeView>, Problem> {
    let (c, m) = message_path(&cid, &mid)?;
    Ok(Json(state.services.messaging.forwards(&auth.principal, c, m).await?))
}

/// POST /api/v1/conversations/{conversation_id}/messages/{message_id}/recall — remove a message
/// and every copy forwarded from it, everywhere, destroying their content (its sender, the
/// original's author and enterprise admins). The answer counts what was removed where.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/recall", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)),
    responses((status = 200, body = RecallReceipt), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 410, description = "Already recalled", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn recall(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
) -> Result<Json<RecallReceipt>, Problem> {
    let (c, m) = message_path(&cid, &mid)?;
    Ok(Json(state.services.messaging.recall(&auth.principal, &origin, c, m).await?))
}

/// POST /api/v1/conversations/{conversation_id}/messages/{message_id}/reveal — reveal a
/// burn-after-reading message and start your countdown (once).
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/reveal", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)),
    responses((status = 200, body = MessageView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 410, description = "Recalled", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Not a burn-after-reading message", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn reveal(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
) -> Result<Json<MessageView>, Problem> {
    let (c, m) = message_path(&cid, &mid)?;
    Ok(Json(state.services.messaging.reveal(&auth.principal, c, m).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// 1 byte to 64 KiB of UTF-8.
    #[schema(min_length = 1, max_length = 65536)]
    pub body: String,
    /// When to deliver it (RFC 3339): later than now, at most a year and a day ahead.
    #[schema(format = DateTime)]
    pub deliver_at: String,
    /// Send under this message policy template (else the conversation's default, if any).
    #[schema(format = Uuid)]
    pub policy_id: Option<String>,
}

/// POST /api/v1/conversations/{conversation_id}/scheduled — write a message now, delivered at
/// `deliver_at` by the server (once, across restarts), as if sent then.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/scheduled", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)), request_body = ScheduleRequest,
    responses((status = 201, body = ScheduledView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn schedule(
    State(state): State<AppState>,
    auth: Auth,
    Path(cid): Path<String>,
    ApiJson(body): ApiJson<ScheduleRequest>,
) -> Result<(StatusCode, Json<ScheduledView>), Problem> {
    let c = parse_id(&cid, "conversation", ConversationId::parse)?;
    let at = domain::validate::moment("deliver_at", &body.deliver_at)
        .map_err(|e| Problem::field(crate::problem::Kind::InvalidField, &e))?;
    let p = body.policy_id.as_deref().map(|raw| id_in_body("policy_id", raw, MessagePolicyId::parse)).transpose()?;
    let scheduled = state.services.messaging.schedule(&auth.principal, c, &body.body, p, at).await?;
    Ok((StatusCode::CREATED, Json(scheduled)))
}

/// GET /api/v1/conversations/{conversation_id}/scheduled — your messages waiting here, soonest first.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/scheduled", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)),
    responses((status = 200, body = [ScheduledView]), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_scheduled(
    State(state): State<AppState>,
    auth: Auth,
    Path(cid): Path<String>,
) -> Result<Json<Vec<ScheduledView>>, Problem> {
    let c = parse_id(&cid, "conversation", ConversationId::parse)?;
    Ok(Json(state.services.messaging.scheduled(&auth.principal, c).await?))
}

/// DELETE /api/v1/conversations/{conversation_id}/scheduled/{message_id} — cancel one of your
/// waiting messages.
#[utoipa::path(delete, path = "/api/v1/conversations/{conversation_id}/scheduled/{message_id}", tag = "message control", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)),
    responses((status = 204, description = "Cancelled"), (status = 404, description = "None waiting (delivered, cancelled, or not yours)", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn cancel_scheduled(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let (c, m) = message_path(&cid, &mid)?;
    state.services.messaging.cancel_scheduled(&auth.principal, c, m).await?;
    Ok(StatusCode::NO_CONTENT)
}

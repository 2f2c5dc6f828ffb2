//! Conversations, messages, receipts, and the live WebSocket.

use crate::extract::{parse_id, parse_query, ApiJson, Auth, ClientOrigin};
use crate::live::MAX_CLIENT_FRAME;
use crate::problem::{Kind, Problem, ProblemDocument};
use crate::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::{ConversationId, MessageId, Rule, UserId};
use serde::Deserialize;
use services::messaging::{ConversationView, MessageView};
use utoipa::{IntoParams, ToSchema};

fn conversation(raw: &str) -> Result<ConversationId, Problem> {
    parse_id(raw, "conversation", ConversationId::parse)
}

fn user_in_body(field: &str, raw: &str) -> Result<UserId, Problem> {
    crate::extract::id_in_body(field, raw, UserId::parse)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDirectRequest {
    /// The other person.
    #[schema(format = Uuid)]
    pub user_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub title: String,
    /// Other members (the caller is added as owner).
    #[serde(default)]
    #[schema(schema_with = creategrouprequest_member_ids_schema)]
    pub member_ids: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// 1 byte to 64 KiB of UTF-8, not only white space.
    #[schema(min_length = 1, max_length = 65536)]
    pub body: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// 1 byte to 64 KiB of UTF-8, not only white space.
    #[schema(min_length = 1, max_length = 65536)]
    pub body: String,
    /// Reply in the thread of this top-level message of the same conversation.
    #[schema(format = Uuid)]
    pub thread_root_id: Option<String>,
    /// Send under this message policy template (else the conversation's default, if any).
    #[schema(format = Uuid)]
    pub policy_id: Option<String>,
    /// A new message id (UUID) chosen by the client, so that sending again after a lost answer
    /// cannot make a copy: the same id sent again by the same person here answers 200 with the
    /// message stored the first time.
    #[schema(format = Uuid)]
    pub id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The highest sequence number read.
    #[schema(minimum = 0)]
    pub seq: i64,
}

/// A member's own settings for one conversation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    /// Mute: no notifications and a quiet unread badge, on every device.
    pub muted: bool,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ReadView {
    pub last_read_seq: i64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Page back: messages with a lower sequence number, newest first (default: from the newest).
    #[param(minimum = 0)]
    pub before: Option<i64>,
    /// Catch up: messages with a higher sequence number, oldest first. Not with `before`.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// GET /api/v1/directory — the enabled people of your enterprise, to start conversations with.
#[utoipa::path(get, path = "/api/v1/directory", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = [services::directory::ColleagueView]), (status = 401, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_colleagues(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<services::directory::ColleagueView>>, Problem> {
    Ok(Json(state.services.directory.list_colleagues(&auth.principal).await?))
}

/// GET /api/v1/conversations — your conversations with unread counts, most recent first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = [ConversationView]), (status = 401, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_conversations(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<ConversationView>>, Problem> {
    Ok(Json(state.services.messaging.list_conversations(&auth.principal).await?))
}

/// POST /api/v1/conversations/direct — open the direct conversation with someone (created once per pair).
#[utoipa::path(post, path = "/api/v1/conversations/direct", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    request_body = OpenDirectRequest,
    responses((status = 200, body = ConversationView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn open_direct(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<OpenDirectRequest>,
) -> Result<Json<ConversationView>, Problem> {
    let other = user_in_body("user_id", &body.user_id)?;
    Ok(Json(state.services.messaging.open_direct(&auth.principal, &origin, other).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinTeamRequest {
    #[schema(format = Uuid)]
    pub team_id: String,
}

/// POST /api/v1/conversations/team — join your team's channel (opened on first use).
#[utoipa::path(post, path = "/api/v1/conversations/team", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    request_body = JoinTeamRequest,
    responses((status = 200, body = ConversationView), (status = 403, description = "Not in that team", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn join_team_channel(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<JoinTeamRequest>,
) -> Result<Json<ConversationView>, Problem> {
    let team = domain::TeamId::parse(&body.team_id)
        .ok_or_else(|| Problem::invalid("team_id", Rule::InvalidValue, "team_id: must be a team id"))?;
    Ok(Json(state.services.messaging.join_team_channel(&auth.principal, &origin, team).await?))
}

/// POST /api/v1/conversations/group — create a group conversation.
#[utoipa::path(post, path = "/api/v1/conversations/group", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    request_body = CreateGroupRequest,
    responses((status = 201, body = ConversationView), (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn create_group(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<CreateGroupRequest>,
) -> Result<(StatusCode, Json<ConversationView>), Problem> {
    let members = body.member_ids.iter().map(|m| user_in_body("member_ids", m)).collect::<Result<Vec<_>, _>>()?;
    let created = state.services.messaging.create_group(&auth.principal, &origin, &body.title, &members).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// GET /api/v1/conversations/{conversation_id} — one conversation (members only).
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)),
    responses((status = 200, body = ConversationView), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_conversation(
    State(state): State<AppState>,
    auth: Auth,
    Path(cid): Path<String>,
) -> Result<Json<ConversationView>, Problem> {
    Ok(Json(state.services.messaging.get_conversation(&auth.principal, conversation(&cid)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// The colleague to add (an enabled user of your enterprise).
    #[schema(format = Uuid)]
    pub user_id: String,
}

/// POST /api/v1/conversations/{id}/members — the group's owner adds a colleague.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/members", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)), request_body = AddMemberRequest,
    responses((status = 200, body = ConversationView), (status = 403, description = "Not the group's owner", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Not a group, or the group is full", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn add_member(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(cid): Path<String>,
    ApiJson(body): ApiJson<AddMemberRequest>,
) -> Result<Json<ConversationView>, Problem> {
    let user = user_in_body("user_id", &body.user_id)?;
    Ok(Json(state.services.messaging.add_group_member(&auth.principal, &origin, conversation(&cid)?, user).await?))
}

/// DELETE /api/v1/conversations/{id}/members/{user_id} — the owner removes a member, or a member leaves.
#[utoipa::path(delete, path = "/api/v1/conversations/{conversation_id}/members/{user_id}", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 403, description = "Not the group's owner", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The owner cannot leave", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Not a group", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn remove_member(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path((cid, uid)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let user = parse_id(&uid, "user", UserId::parse)?;
    state.services.messaging.remove_group_member(&auth.principal, &origin, conversation(&cid)?, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/conversations/{conversation_id}/messages — history, paged by sequence number.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/messages", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), MessagesQuery),
    responses((status = 200, body = [MessageView]), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Malformed cursor", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_messages(
    State(state): State<AppState>,
    auth: Auth,
    Path(cid): Path<String>,
    uri: Uri,
) -> Result<Json<Vec<MessageView>>, Problem> {
    let q: MessagesQuery = parse_query(&uri)?;
    let id = conversation(&cid)?;
    for (field, cursor) in [("before", q.before), ("after", q.after)] {
        if cursor.is_some_and(|c| c < 0) {
            return Err(Problem::invalid(field, Rule::InvalidValue, "must be a sequence number (0 or more)"));
        }
    }
    Ok(Json(
        state.services.messaging.list_messages(&auth.principal, id, q.before, q.after, q.limit.unwrap_or(50)).await?,
    ))
}

/// POST /api/v1/conversations/{conversation_id}/messages — send a message.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/messages", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)), request_body = NewMessage,
    responses((status = 201, body = MessageView),
        (status = 200, description = "This id was sent here by this person before: the message stored then, nothing new stored", body = MessageView),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The id is already used by another message", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "A bad body, or a thread root that is not a top-level message here", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn send_message(
    State(state): State<AppState>,
    auth: Auth,
    Path(cid): Path<String>,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<(StatusCode, Json<MessageView>), Problem> {
    let root = body
        .thread_root_id
        .map(|r| {
            MessageId::parse(&r)
                .ok_or_else(|| Problem::invalid("thread_root_id", Rule::InvalidValue, "must be a message id"))
        })
        .transpose()?;
    let policy = body
        .policy_id
        .as_deref()
        .map(|raw| crate::extract::id_in_body("policy_id", raw, domain::MessagePolicyId::parse))
        .transpose()?;
    let client_id = body
        .id
        .as_deref()
        .map(|raw| MessageId::parse(raw).ok_or_else(|| Problem::invalid("id", Rule::InvalidValue, "must be a UUID")))
        .transpose()?;
    let sent = state
        .services
        .messaging
        .post_once(&auth.principal, conversation(&cid)?, &body.body, root, policy, client_id)
        .await?;
    let status = if sent.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(sent.message)))
}

/// GET /api/v1/conversations/{conversation_id}/messages/{message_id}/thread — a thread's root and
/// its replies, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/thread", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)),
    responses((status = 200, body = services::messaging::ThreadView),
        (status = 404, description = "No such top-level message, or not a member", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn thread(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
) -> Result<Json<services::messaging::ThreadView>, Problem> {
    let (c, m) = (conversation(&cid)?, parse_id(&mid, "message", MessageId::parse)?);
    Ok(Json(state.services.messaging.thread(&auth.principal, c, m).await?))
}

/// PATCH /api/v1/conversations/{conversation_id}/messages/{message_id} — edit your own message.
#[utoipa::path(patch, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)), request_body = MessageBody,
    responses((status = 200, body = MessageView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn edit_message(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
    ApiJson(body): ApiJson<MessageBody>,
) -> Result<Json<MessageView>, Problem> {
    let (c, m) = (conversation(&cid)?, parse_id(&mid, "message", MessageId::parse)?);
    Ok(Json(state.services.messaging.edit_message(&auth.principal, c, m, &body.body).await?))
}

/// DELETE /api/v1/conversations/{conversation_id}/messages/{message_id} — delete your own message; its content is destroyed.
#[utoipa::path(delete, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path)),
    responses((status = 200, body = MessageView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn delete_message(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid)): Path<(String, String)>,
) -> Result<Json<MessageView>, Problem> {
    let (c, m) = (conversation(&cid)?, parse_id(&mid, "message", MessageId::parse)?);
    Ok(Json(state.services.messaging.delete_message(&auth.principal, c, m).await?))
}

/// PUT /api/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji} — react with an emoji.
#[utoipa::path(put, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path), ("emoji" = String, Path, description = "One emoji, percent-encoded")),
    responses((status = 200, description = "The message's reactions now", body = [services::messaging::ReactionView]),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The message already carries the most different reactions", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Not a single emoji", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn add_reaction(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid, emoji)): Path<(String, String, String)>,
) -> Result<Json<Vec<services::messaging::ReactionView>>, Problem> {
    let (c, m) = (conversation(&cid)?, parse_id(&mid, "message", MessageId::parse)?);
    Ok(Json(state.services.messaging.react(&auth.principal, c, m, &emoji, true).await?))
}

/// DELETE /api/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji} — take your reaction back.
#[utoipa::path(delete, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("message_id" = String, Path), ("emoji" = String, Path)),
    responses((status = 200, description = "The message's reactions now", body = [services::messaging::ReactionView]),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, mid, emoji)): Path<(String, String, String)>,
) -> Result<Json<Vec<services::messaging::ReactionView>>, Problem> {
    let (c, m) = (conversation(&cid)?, parse_id(&mid, "message", MessageId::parse)?);
    Ok(Json(state.services.messaging.react(&auth.principal, c, m, &emoji, false).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find (all of them); "quoted words" must appear together in that order.
    #[param(min_length = 1, max_length = 200)]
    pub q: String,
    /// Only in this conversation.
    #[param(format = Uuid)]
    pub conversation_id: Option<String>,
    /// Only messages this person sent (a user id).
    #[param(format = Uuid)]
    pub from: Option<String>,
    /// Only messages sent before this moment (RFC 3339, or a date YYYY-MM-DD meaning its start, UTC).
    #[param(max_length = 40, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub before: Option<String>,
    /// Only messages sent after this moment (same forms).
    #[param(max_length = 40, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub after: Option<String>,
    /// Only messages that carry a file.
    pub has_file: Option<bool>,
}

/// A moment from a query parameter: RFC 3339, or a plain date (its first instant, UTC).
fn moment(field: &str, raw: &str) -> Result<domain::Millis, Problem> {
    let rfc3339 = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339).ok();
    let date = time::Date::parse(raw, time::macros::format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.midnight().assume_utc());
    rfc3339
        .or(date)
        .map(|t| domain::Millis((t.unix_timestamp_nanos() / 1_000_000) as i64))
        .ok_or_else(|| Problem::invalid(field, Rule::InvalidValue, "must be a date (2026-12-03) or an RFC 3339 moment"))
}

/// GET /api/v1/search — find messages by their words, in the conversations you are in now. The
/// server stores only keyed blind tokens of words, never the words.
#[utoipa::path(get, path = "/api/v1/search", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(SearchParams),
    responses((status = 200, description = "Newest first, at most 50", body = [services::messaging::search::SearchHit]),
        (status = 422, description = "An empty or over-long query, an unknown filter or a bad value", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn search(
    State(state): State<AppState>,
    auth: Auth,
    uri: Uri,
) -> Result<Json<Vec<services::messaging::search::SearchHit>>, Problem> {
    let params: SearchParams = parse_query(&uri)?;
    let query = services::messaging::search::SearchQuery {
        q: params.q,
        conversation: params
            .conversation_id
            .map(|c| {
                ConversationId::parse(&c)
                    .ok_or_else(|| Problem::invalid("conversation_id", Rule::InvalidValue, "must be a conversation id"))
            })
            .transpose()?,
        from: params
            .from
            .map(|u| UserId::parse(&u).ok_or_else(|| Problem::invalid("from", Rule::InvalidValue, "must be a user id")))
            .transpose()?,
        before: params.before.map(|b| moment("before", &b)).transpose()?,
        after: params.after.map(|a| moment("after", &a)).transpose()?,
        has_file: params.has_file.unwrap_or(false),
    };
    Ok(Json(state.services.messaging.search(&auth.principal, &query).await?))
}

/// POST /api/v1/conversations/{conversation_id}/typing — tell the other members you are writing.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/typing", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)),
    responses((status = 204, description = "The others were told"), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn typing(State(state): State<AppState>, auth: Auth, Path(cid): Path<String>) -> Result<StatusCode, Problem> {
    state.services.messaging.typing(&auth.principal, conversation(&cid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// PUT /api/v1/conversations/{conversation_id}/preferences — mute or unmute it for yourself.
#[utoipa::path(put, path = "/api/v1/conversations/{conversation_id}/preferences", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)), request_body = PreferencesRequest,
    responses((status = 200, body = ConversationView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn set_preferences(
    State(state): State<AppState>,
    auth: Auth,
    Path(cid): Path<String>,
    ApiJson(body): ApiJson<PreferencesRequest>,
) -> Result<Json<ConversationView>, Problem> {
    Ok(Json(state.services.messaging.set_muted(&auth.principal, conversation(&cid)?, body.muted).await?))
}

/// POST /api/v1/conversations/{conversation_id}/read — move your read receipt forward.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/read", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path)), request_body = ReadRequest,
    responses((status = 200, body = ReadView), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn mark_read(
    State(state): State<AppState>,
    auth: Auth,
    Path(cid): Path<String>,
    ApiJson(body): ApiJson<ReadRequest>,
) -> Result<Json<ReadView>, Problem> {
    let stored = state.services.messaging.mark_read(&auth.principal, conversation(&cid)?, body.seq).await?;
    Ok(Json(ReadView { last_read_seq: stored }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name (its last path component is kept).
    #[param(min_length = 1, max_length = 255)]
    pub name: String,
    /// Optional text sent with the file (as a message body: up to 64 KiB).
    #[param(max_length = 65536)]
    pub caption: Option<String>,
    /// Send under this message policy template (else the conversation's default, if any).
    #[param(format = Uuid)]
    pub policy_id: Option<String>,
}

/// POST /api/v1/conversations/{conversation_id}/attachments — upload a file as a new message.
///
/// The request body is the file itself, streamed; its `Content-Type` is recorded. Files are
/// sealed in chunks as they arrive. Over the size limit (default 100 MiB): 413, nothing kept.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/attachments", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 201, body = MessageView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 413, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn upload_attachment(
    State(state): State<AppState>,
    auth: Auth,
    Path(cid): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<MessageView>), Problem> {
    let q: UploadQuery = parse_query(&uri)?;
    let id = conversation(&cid)?;
    let media_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let policy = q
        .policy_id
        .as_deref()
        .map(|raw| crate::extract::id_in_body("policy_id", raw, domain::MessagePolicyId::parse))
        .transpose()?;
    let stream = body.into_data_stream();
    let sent = state
        .services
        .attachments
        .send_attachment(
            &auth.principal,
            id,
            &services::attachments::Upload { name: &q.name, media_type, caption: q.caption.as_deref(), policy },
            stream,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

/// GET /api/v1/conversations/{conversation_id}/attachments/{attachment_id} — download a file (members only).
///
/// Always served as a download (`Content-Disposition: attachment`, `nosniff`, a sandboxing CSP).
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/attachments/{attachment_id}", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn download_attachment(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, aid)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let (c, a) = (conversation(&cid)?, parse_id(&aid, "attachment", domain::AttachmentId::parse)?);
    let (meta, stream) = state.services.attachments.open_attachment(&auth.principal, c, a).await?;
    Ok(file_response(&meta.name, &meta.content_type, meta.size, stream))
}

/// GET /api/v1/conversations/{conversation_id}/attachments/{attachment_id}/thumbnail — an image's
/// preview (members only).
///
/// Drawn by the server when the image arrived (PNG or JPEG, at most 640 pixels on its longer
/// side); shown inline, since the server made it. Other files answer 422.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/attachments/{attachment_id}/thumbnail", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    params(("conversation_id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, description = "The preview", content_type = "image/png"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The file is not an image", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn thumbnail(
    State(state): State<AppState>,
    auth: Auth,
    Path((cid, aid)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let (c, a) = (conversation(&cid)?, parse_id(&aid, "attachment", domain::AttachmentId::parse)?);
    let (meta, stream) = state.services.attachments.open_thumbnail(&auth.principal, c, a).await?;
    let mut response = axum::body::Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    let content_type = if meta.content_type == "image/jpeg" { "image/jpeg" } else { "image/png" };
    h.insert(header::CONTENT_TYPE, axum::http::HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, axum::http::HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-store"));
    Ok(response)
}

/// A stored file as a download: never rendered by the browser (`attachment`, `nosniff` from the
/// app-wide headers, and a sandboxing CSP of its own).
pub(crate) fn file_response(
    name: &str,
    content_type: &str,
    size: i64,
    stream: futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>,
) -> Response {
    let disposition = content_disposition(name);
    let mut response = axum::body::Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    let value = |s: &str| {
        axum::http::HeaderValue::from_str(s)
            .unwrap_or_else(|_| axum::http::HeaderValue::from_static("application/octet-stream"))
    };
    h.insert(header::CONTENT_TYPE, value(content_type));
    h.insert(header::CONTENT_LENGTH, size.into());
    h.insert(
        header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_str(&disposition)
            .unwrap_or_else(|_| axum::http::HeaderValue::from_static("attachment")),
    );
    h.insert(header::CONTENT_SECURITY_POLICY, axum::http::HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-store"));
    response
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
fn content_disposition(name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// GET /api/v1/ws — the live event stream (WebSocket upgrade).
///
/// Server frames are JSON events (`message-created`, `message-edited`, `message-deleted`,
/// `receipt`, `conversation-created`, `member-joined`, `member-left`, `session-ended`), preceded
/// by `{"type":"ready"}`. The only client frame is `{"type":"ping"}`. Close codes: 4001 session
/// ended or expired, 4008 too slow, 4009 resynchronise (both: fetch `messages?after=<last seq>`),
/// 1007 not JSON or not UTF-8, 1003 binary, 1009 too large, 1002 protocol error.
#[utoipa::path(get, path = "/api/v1/ws", tag = "messaging", security(("bearer" = []), ("cookie" = [])),
    responses((status = 101, description = "Switching to WebSocket"),
        (status = 400, description = "Not a WebSocket request", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "Cross-site origin", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn websocket(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, Problem> {
    // Cross-site WebSocket hijacking: browsers always send Origin, and it must be this site.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host =
            headers.get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()));
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        if host.is_none() || origin_host != host {
            return Err(Problem::new(Kind::Forbidden, "WebSocket connections must come from this site"));
        }
    }
    let upgrade =
        upgrade.map_err(|_| Problem::new(Kind::MalformedBody, "use a WebSocket upgrade request for this path"))?;
    let hub = state.hub.clone();
    let services = state.services.clone();
    let (user, session, token) = (auth.principal.user_id, auth.principal.session_id, auth.token);
    Ok(upgrade
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .read_buffer_size(MAX_CLIENT_FRAME)
        .write_buffer_size(0)
        .on_upgrade(move |socket| crate::live::serve(socket, hub, services, token, user, session))
        .into_response())
}

// The OpenAPI schemas of list fields whose items have limits too.
domain::string_list_schema!(fn creategrouprequest_member_ids_schema: max_items = 1000, max_length = 36, format = Uuid);

//! The security desk's API: public intake and status for finders (no account, rate limited per
//! address), and the security team's inbox, keys and pages.

use crate::extract::{parse_id, parse_query, ApiJson, Auth, ClientOrigin};
use crate::problem::{Problem, ProblemDocument};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::advisory::AdvisoryInput;
use domain::desk::{DeskPage, ReportInput};
use domain::desk_clock::ClockSettings;
use domain::incident::IncidentInput;
use domain::{ReportId, Rule};
use serde::Deserialize;
use services::desk::disclosure::AdvisoryView;
use services::desk::incidents::{IncidentEntryInput, IncidentSummary, IncidentView, OutsiderIncidentView};
use services::desk::triage::{DeskDashboard, TeamMemberView, TriageInput};
use services::desk::{
    DeskKeyView, DeskPageView, DeskPolicy, FinderCredential, FinderReportView, KeyAlgorithm, Receipt, ReportSummary,
    ReportView,
};
use utoipa::{IntoParams, ToSchema};

/// A vulnerability report. Either the plain fields, or `encrypted` holding the whole report as
/// an ASCII-armoured OpenPGP message to the organisation's key.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReportRequest {
    /// One line of at most 200 characters; with `encrypted`, optional and up to 800 bytes.
    #[schema(max_length = 800)]
    pub title: String,
    #[schema(max_length = 65536)]
    pub description: String,
    #[schema(schema_with = reportrequest_affected_urls_schema)]
    pub affected_urls: Vec<String>,
    #[schema(schema_with = reportrequest_ip_addresses_schema)]
    pub ip_addresses: Vec<String>,
    #[schema(schema_with = reportrequest_timestamps_schema)]
    pub timestamps: Vec<String>,
    #[schema(max_length = 262144)]
    pub logs: String,
    #[schema(max_length = 524288)]
    pub encrypted: String,
    /// Optional: for the hall of fame if `credit` is true.
    #[schema(max_length = 100)]
    pub name: String,
    /// Optional: verified by a link before any mail is sent to it.
    #[schema(max_length = 254)]
    pub email: String,
    pub credit: bool,
}

impl From<ReportRequest> for ReportInput {
    fn from(r: ReportRequest) -> ReportInput {
        ReportInput {
            title: r.title,
            description: r.description,
            affected_urls: r.affected_urls,
            ip_addresses: r.ip_addresses,
            timestamps: r.timestamps,
            logs: r.logs,
            encrypted: r.encrypted,
            name: r.name,
            email: r.email,
            credit: r.credit,
        }
    }
}

/// POST /api/v1/security/reports — anyone may report; the receipt code is shown only here.
#[utoipa::path(post, path = "/api/v1/security/reports", tag = "security-desk", request_body = ReportRequest,
    responses((status = 201, body = Receipt), (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn submit_report(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<ReportRequest>,
) -> Result<Response, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let receipt = state.services.desk.submit_report(&origin, &body.into()).await?;
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(receipt)).into_response())
}

/// The receipt code, or the status-link token from a notice mail.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    #[serde(default)]
    #[schema(max_length = 64)]
    pub receipt_code: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub status_link: Option<String>,
}

fn credential<'a>(code: &'a Option<String>, link: &'a Option<String>) -> Result<FinderCredential<'a>, Problem> {
    match (code, link) {
        (Some(code), None) => Ok(FinderCredential::ReceiptCode(code)),
        (None, Some(link)) => Ok(FinderCredential::StatusLink(link)),
        _ => Err(Problem::invalid(
            "receipt_code",
            Rule::Required,
            "receipt_code: give the receipt code or the status link, one of them",
        )),
    }
}

/// POST /api/v1/security/reports/status — the finder's view. A wrong code gets 404, like a
/// malformed one; the code travels in the body so it never lands in access logs.
#[utoipa::path(post, path = "/api/v1/security/reports/status", tag = "security-desk", request_body = StatusRequest,
    responses((status = 200, body = FinderReportView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn report_status(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<StatusRequest>,
) -> Result<Response, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let view = state.services.desk.finder_status(credential(&body.receipt_code, &body.status_link)?).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinderReplyRequest {
    #[serde(default)]
    #[schema(max_length = 64)]
    pub receipt_code: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub status_link: Option<String>,
    #[schema(min_length = 1, max_length = 32768)]
    pub body: String,
}

/// POST /api/v1/security/reports/replies — the finder writes to the security team.
#[utoipa::path(post, path = "/api/v1/security/reports/replies", tag = "security-desk", request_body = FinderReplyRequest,
    responses((status = 200, body = FinderReportView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The report is closed", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn finder_reply(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<FinderReplyRequest>,
) -> Result<Response, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let view = state.services.desk.finder_reply(credential(&body.receipt_code, &body.status_link)?, &body.body).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response())
}

/// POST /api/v1/security/reports/withdrawal — the finder withdraws their report.
#[utoipa::path(post, path = "/api/v1/security/reports/withdrawal", tag = "security-desk", request_body = StatusRequest,
    responses((status = 200, body = FinderReportView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The report is resolved or closed and can no longer be withdrawn", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn finder_withdraw(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<StatusRequest>,
) -> Result<Response, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let view = state.services.desk.finder_withdraw(credential(&body.receipt_code, &body.status_link)?).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response())
}

/// GET /api/v1/desk/reports — the security team's inbox: open reports by the soonest due clock
/// (overdue first), then the rest, newest first.
#[utoipa::path(get, path = "/api/v1/desk/reports", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = [ReportSummary]), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_reports(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<ReportSummary>>, Problem> {
    Ok(Json(state.services.desk.desk_reports(&auth.caller()).await?))
}

fn report_id(raw: &str) -> Result<ReportId, Problem> {
    parse_id(raw, "report", ReportId::parse)
}

/// GET /api/v1/desk/reports/{id} — one report, decrypted, with the finder's details and thread.
#[utoipa::path(get, path = "/api/v1/desk/reports/{report_id}", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path)),
    responses((status = 200, body = ReportView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_report(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let view = state.services.desk.desk_report(&auth.caller(), report_id(&id)?).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamReplyRequest {
    #[schema(min_length = 1, max_length = 32768)]
    pub body: String,
}

/// POST /api/v1/desk/reports/{id}/replies — the security team writes to the finder.
#[utoipa::path(post, path = "/api/v1/desk/reports/{report_id}/replies", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path)), request_body = TeamReplyRequest,
    responses((status = 200, body = ReportView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn team_reply(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TeamReplyRequest>,
) -> Result<Json<ReportView>, Problem> {
    Ok(Json(state.services.desk.desk_reply(&auth.caller(), &origin, report_id(&id)?, &body.body).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRequest {
    /// One of the report's `state_choices`: acknowledged, triaging, needs-info, accepted,
    /// fixing, resolved, disclosed, closed, duplicate, informative, not-applicable or spam.
    #[schema(pattern = "^[a-z-]{3,20}$")]
    pub state: String,
    /// Required with `duplicate`: the report this one repeats.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub duplicate_of: Option<String>,
}

/// PUT /api/v1/desk/reports/{id}/state — move a report along the state machine; a verified
/// finder is notified (except of spam).
#[utoipa::path(put, path = "/api/v1/desk/reports/{report_id}/state", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path)), request_body = StateRequest,
    responses((status = 200, body = ReportView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The state machine does not allow this move from the current state (`allowed` lists what it does), or someone changed the state meanwhile", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn set_state(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StateRequest>,
) -> Result<Json<ReportView>, Problem> {
    let new_state = domain::desk::ReportState::parse(&body.state)
        .ok_or_else(|| Problem::invalid("state", Rule::InvalidValue, "state: not a report state"))?;
    let duplicate_of = body
        .duplicate_of
        .as_deref()
        .map(|d| {
            ReportId::parse(d.trim())
                .ok_or_else(|| Problem::invalid("duplicate_of", Rule::InvalidValue, "duplicate_of: not a report id"))
        })
        .transpose()?;
    Ok(Json(
        state.services.desk.set_report_state(&auth.caller(), &origin, report_id(&id)?, new_state, duplicate_of).await?,
    ))
}

/// PUT /api/v1/desk/reports/{id}/triage — assign the report and set its CVSS vectors (scored by
/// the server). Every field is replaced; null clears it.
#[utoipa::path(put, path = "/api/v1/desk/reports/{report_id}/triage", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path)), request_body = TriageInput,
    responses((status = 200, body = ReportView), (status = 422, description = "A vector that does not parse (the detail names the metric), or an assignee outside the security team", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn set_triage(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TriageInput>,
) -> Result<Json<ReportView>, Problem> {
    Ok(Json(state.services.desk.set_report_triage(&auth.caller(), &origin, report_id(&id)?, body).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    #[schema(max_length = 32768)]
    pub body: String,
}

/// POST /api/v1/desk/reports/{id}/notes — an internal note, never shown to the finder.
#[utoipa::path(post, path = "/api/v1/desk/reports/{report_id}/notes", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path)), request_body = NoteRequest,
    responses((status = 200, body = ReportView), (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn add_note(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteRequest>,
) -> Result<Json<ReportView>, Problem> {
    Ok(Json(state.services.desk.add_report_note(&auth.caller(), &origin, report_id(&id)?, &body.body).await?))
}

/// GET /api/v1/desk/team — the security team members a report can be assigned to.
#[utoipa::path(get, path = "/api/v1/desk/team", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = [TeamMemberView])))]
pub async fn list_team(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<TeamMemberView>>, Problem> {
    Ok(Json(state.services.desk.desk_team(&auth.caller()).await?))
}

/// GET /api/v1/desk/dashboard — open reports by state and severity, clocks at risk, the share of
/// clocks met over 90 days, the median time to a first response, recent reminders.
#[utoipa::path(get, path = "/api/v1/desk/dashboard", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = DeskDashboard)))]
pub async fn dashboard(State(state): State<AppState>, auth: Auth) -> Result<Json<DeskDashboard>, Problem> {
    Ok(Json(state.services.desk.desk_dashboard(&auth.caller()).await?))
}

/// GET /api/v1/desk/clocks — the response clocks, working week, time zone and holidays.
#[utoipa::path(get, path = "/api/v1/desk/clocks", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ClockSettings)))]
pub async fn get_clocks(State(state): State<AppState>, auth: Auth) -> Result<Json<ClockSettings>, Problem> {
    Ok(Json(state.services.desk.desk_clocks(&auth.caller()).await?))
}

/// PUT /api/v1/desk/clocks — replace the clock settings; every due time follows at once.
#[utoipa::path(put, path = "/api/v1/desk/clocks", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    request_body = ClockSettings,
    responses((status = 200, body = ClockSettings), (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_clocks(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<ClockSettings>,
) -> Result<Json<ClockSettings>, Problem> {
    Ok(Json(state.services.desk.put_desk_clocks(&auth.caller(), &origin, body).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayImport {
    /// The text of an iCalendar (RFC 5545) file: each event's dates become days off.
    #[schema(max_length = 524288)]
    pub calendar: String,
}

/// POST /api/v1/desk/clocks/holidays — add the days off of an iCalendar file to the holidays.
#[utoipa::path(post, path = "/api/v1/desk/clocks/holidays", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    request_body = HolidayImport,
    responses((status = 200, body = ClockSettings), (status = 422, description = "The file does not parse, or an event is not a date", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn import_holidays(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<HolidayImport>,
) -> Result<Json<ClockSettings>, Problem> {
    Ok(Json(state.services.desk.import_holidays(&auth.caller(), &origin, &body.calendar).await?))
}

/// GET /api/v1/desk/keys — the organisation's OpenPGP keys, active first, with expiry warnings.
#[utoipa::path(get, path = "/api/v1/desk/keys", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = [DeskKeyView]), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn list_keys(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<DeskKeyView>>, Problem> {
    Ok(Json(state.services.desk.list_desk_keys(&auth.caller()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateKeyRequest {
    /// "Security Team <security@example.org>"
    #[schema(min_length = 1, max_length = 200)]
    pub user_id: String,
    /// `ed25519` (default: Ed25519 with a Cv25519 subkey) or `rsa4096`.
    #[serde(default)]
    #[schema(pattern = "^(ed25519|rsa4096)$")]
    pub algorithm: Option<String>,
    /// 1 to 1095; default 365.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1095)]
    pub valid_days: Option<u32>,
}

/// POST /api/v1/desk/keys — generate a new key; it becomes the active one.
#[utoipa::path(post, path = "/api/v1/desk/keys", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    request_body = GenerateKeyRequest,
    responses((status = 201, body = DeskKeyView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn generate_key(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<GenerateKeyRequest>,
) -> Result<(StatusCode, Json<DeskKeyView>), Problem> {
    let algorithm = match body.algorithm.as_deref() {
        None | Some("ed25519") => KeyAlgorithm::Ed25519,
        Some("rsa4096") => KeyAlgorithm::Rsa4096,
        Some(_) => return Err(Problem::invalid("algorithm", Rule::InvalidValue, "algorithm: use ed25519 or rsa4096")),
    };
    let view = state
        .services
        .desk
        .generate_desk_key(&auth.caller(), &origin, &body.user_id, algorithm, body.valid_days.unwrap_or(365))
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportKeyRequest {
    /// An ASCII-armoured private key block without a passphrase.
    #[schema(min_length = 1, max_length = 65536)]
    pub armored_key: String,
}

/// POST /api/v1/desk/keys/import — import an existing private key; it becomes the active one.
#[utoipa::path(post, path = "/api/v1/desk/keys/import", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    request_body = ImportKeyRequest,
    responses((status = 201, body = DeskKeyView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn import_key(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<ImportKeyRequest>,
) -> Result<(StatusCode, Json<DeskKeyView>), Problem> {
    let view = state.services.desk.import_desk_key(&auth.caller(), &origin, &body.armored_key).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

fn page_name(raw: &str) -> Result<DeskPage, Problem> {
    DeskPage::parse(raw).ok_or_else(|| Problem::new(crate::problem::Kind::NotFound, "no such page"))
}

/// GET /api/v1/desk/pages/{page} — a public page's Markdown (`policy`, `rules`, `how-to-report`).
#[utoipa::path(get, path = "/api/v1/desk/pages/{page}", tag = "security-desk",
    params(("page" = String, Path)),
    responses((status = 200, body = DeskPageView), (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_page(State(state): State<AppState>, Path(page): Path<String>) -> Result<Json<DeskPageView>, Problem> {
    Ok(Json(state.services.desk.desk_page(page_name(&page)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageRequest {
    /// Markdown; raw HTML and script links are refused.
    #[schema(min_length = 1, max_length = 65536)]
    pub markdown: String,
}

/// PUT /api/v1/desk/pages/{page} — the security team edits a public page.
#[utoipa::path(put, path = "/api/v1/desk/pages/{page}", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("page" = String, Path)), request_body = PageRequest,
    responses((status = 200, body = DeskPageView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Raw HTML or an unsafe link", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_page(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(page): Path<String>,
    ApiJson(body): ApiJson<PageRequest>,
) -> Result<Json<DeskPageView>, Problem> {
    Ok(Json(state.services.desk.put_desk_page(&auth.caller(), &origin, page_name(&page)?, &body.markdown).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// The file's name (1 to 255 characters).
    #[param(min_length = 1, max_length = 255)]
    pub name: String,
}

const RECEIPT_HEADER: &str = "x-receipt-code";
const STATUS_LINK_HEADER: &str = "x-status-link";

/// The finder's credential from headers, so it stays out of URLs and logs.
fn header_credential(headers: &HeaderMap) -> Result<FinderCredential<'_>, Problem> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match (get(RECEIPT_HEADER), get(STATUS_LINK_HEADER)) {
        (Some(code), None) => Ok(FinderCredential::ReceiptCode(code)),
        (None, Some(link)) => Ok(FinderCredential::StatusLink(link)),
        _ => Err(Problem::invalid(
            RECEIPT_HEADER,
            Rule::Required,
            "send the receipt code in X-Receipt-Code (or the status link in X-Status-Link)",
        )),
    }
}

/// POST /api/v1/security/reports/files — the finder attaches a file (the body) to their report.
///
/// Accepted: PNG, JPEG, GIF, WebP, PDF, text, JSON, pcap, pcapng, MP4 and ZIP, checked by
/// content; at most 10 MiB each.
#[utoipa::path(post, path = "/api/v1/security/reports/files", tag = "security-desk",
    params(FileQuery, ("X-Receipt-Code" = Option<String>, Header), ("X-Status-Link" = Option<String>, Header)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 200, body = FinderReportView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 413, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Refused type or content", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn finder_upload(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Result<Json<FinderReportView>, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let q: FileQuery = parse_query(&uri)?;
    let credential = header_credential(&headers)?;
    // Prove the report is theirs before reading a byte of the file.
    state.services.desk.finder_status(credential).await?;
    let media_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let staged = state.services.desk.stage_desk_file(&q.name, media_type, body.into_data_stream()).await?;
    Ok(Json(state.services.desk.finder_attach(credential, vec![staged]).await?))
}

/// POST /api/v1/security/reports/files/{file_id}/download — a file of the finder's report; the
/// credential comes in the body.
#[utoipa::path(post, path = "/api/v1/security/reports/files/{file_id}/download", tag = "security-desk",
    params(("file_id" = String, Path)), request_body = StatusRequest,
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn finder_download(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    Path(file_id): Path<String>,
    ApiJson(body): ApiJson<StatusRequest>,
) -> Result<Response, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let file = parse_id(&file_id, "file", domain::AttachmentId::parse)?;
    let (view, stream) =
        state.services.desk.finder_file(credential(&body.receipt_code, &body.status_link)?, file).await?;
    Ok(super::messaging::file_response(&view.name, &view.content_type, view.size, stream))
}

/// POST /api/v1/desk/reports/{report_id}/files — the team sends the finder a file (the body).
#[utoipa::path(post, path = "/api/v1/desk/reports/{report_id}/files", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path), FileQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 200, body = ReportView), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 413, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn team_upload(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Result<Json<ReportView>, Problem> {
    let q: FileQuery = parse_query(&uri)?;
    let id = report_id(&id)?;
    let caller = auth.caller();
    // The role and the report are checked before a byte is stored.
    state.services.desk.desk_report(&caller, id).await?;
    let media_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let staged = state.services.desk.stage_desk_file(&q.name, media_type, body.into_data_stream()).await?;
    Ok(Json(state.services.desk.team_attach(&caller, &origin, id, vec![staged]).await?))
}

/// GET /api/v1/desk/reports/{report_id}/files/{file_id} — download a report's file (security team).
#[utoipa::path(get, path = "/api/v1/desk/reports/{report_id}/files/{file_id}", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path), ("file_id" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn team_download(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, file_id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let file = parse_id(&file_id, "file", domain::AttachmentId::parse)?;
    let (view, stream) = state.services.desk.team_file(&auth.caller(), report_id(&id)?, file).await?;
    Ok(super::messaging::file_response(&view.name, &view.content_type, view.size, stream))
}

/// GET /api/v1/desk/settings — what the desk keeps of finders' data.
#[utoipa::path(get, path = "/api/v1/desk/settings", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = DeskPolicy), (status = 403, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_settings(State(state): State<AppState>, auth: Auth) -> Result<Json<DeskPolicy>, Problem> {
    Ok(Json(state.services.desk.desk_policy(&auth.caller()).await?))
}

/// PUT /api/v1/desk/settings — the security team turns keeping finders' IP addresses on or off
/// and sets how long contact data outlives a closed report.
#[utoipa::path(put, path = "/api/v1/desk/settings", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    request_body = DeskPolicy,
    responses((status = 200, body = DeskPolicy), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_settings(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<DeskPolicy>,
) -> Result<Json<DeskPolicy>, Problem> {
    Ok(Json(state.services.desk.put_desk_policy(&auth.caller(), &origin, &body).await?))
}

/// GET /api/v1/desk/reports/{id}/advisory — the report's advisory draft (null before the first).
#[utoipa::path(get, path = "/api/v1/desk/reports/{report_id}/advisory", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path)), responses((status = 200, body = Option<AdvisoryView>)))]
pub async fn get_advisory(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Option<AdvisoryView>>, Problem> {
    Ok(Json(state.services.desk.desk_advisory(&auth.caller(), report_id(&id)?).await?))
}

/// PUT /api/v1/desk/reports/{id}/advisory — save the draft as a new version; the finder is told
/// there is a draft to read and agree to.
#[utoipa::path(put, path = "/api/v1/desk/reports/{report_id}/advisory", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path)), request_body = AdvisoryInput,
    responses((status = 200, body = AdvisoryView),
        (status = 409, description = "The report is not accepted, or the advisory is published", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn put_advisory(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AdvisoryInput>,
) -> Result<Json<AdvisoryView>, Problem> {
    Ok(Json(state.services.desk.save_advisory(&auth.caller(), &origin, report_id(&id)?, &body).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// Needed when the finder has not agreed to the current version: why publishing without them
    /// is right (10 to 500 characters). Kept in the audit trail.
    #[serde(default)]
    #[schema(min_length = 10, max_length = 500)]
    pub override_reason: Option<String>,
}

/// POST /api/v1/desk/reports/{id}/advisory/publish — publish the advisory and mark the report
/// disclosed.
#[utoipa::path(post, path = "/api/v1/desk/reports/{report_id}/advisory/publish", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("report_id" = String, Path)), request_body = PublishRequest,
    responses((status = 200, body = AdvisoryView),
        (status = 409, description = "Before the proposed date, the report not resolved, or no agreement from the finder and no override (`field` says which)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn publish_advisory(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PublishRequest>,
) -> Result<Json<AdvisoryView>, Problem> {
    let reason = body.override_reason.as_deref();
    Ok(Json(state.services.desk.publish_advisory(&auth.caller(), &origin, report_id(&id)?, reason).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    #[serde(default)]
    #[schema(max_length = 64)]
    pub receipt_code: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub status_link: Option<String>,
    /// The version of the draft the finder read and agrees to.
    #[schema(minimum = 1)]
    pub version: i64,
}

/// POST /api/v1/security/reports/advisory/consent — the finder agrees to a version of the draft.
#[utoipa::path(post, path = "/api/v1/security/reports/advisory/consent", tag = "security-desk", request_body = ConsentRequest,
    responses((status = 200, body = FinderReportView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The team saved a newer version (read it first), or the advisory is published", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn finder_consent(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<ConsentRequest>,
) -> Result<Response, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let view =
        state.services.desk.finder_consent(credential(&body.receipt_code, &body.status_link)?, body.version).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response())
}

/// POST /api/v1/incidents — a member of the desk's enterprise reports a security incident.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    request_body = IncidentInput,
    responses((status = 201, body = IncidentCreated), (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks its rule: a category outside the nine, an end before the start, a report before the incident", body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn member_incident(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    ApiJson(body): ApiJson<IncidentInput>,
) -> Result<(StatusCode, Json<IncidentCreated>), Problem> {
    let id = state.services.desk.report_incident_as_member(&auth.caller(), &origin, &body).await?;
    Ok((StatusCode::CREATED, Json(IncidentCreated { id })))
}

#[derive(serde::Serialize, ToSchema)]
pub struct IncidentCreated {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
}

/// POST /api/v1/security/incidents — an outsider reports an incident; the receipt code is
/// shown once.
#[utoipa::path(post, path = "/api/v1/security/incidents", tag = "security-desk", request_body = IncidentInput,
    responses((status = 201, body = Receipt), (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn outsider_incident(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<IncidentInput>,
) -> Result<Response, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let receipt = state.services.desk.report_incident_as_outsider(&body).await?;
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(receipt)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentStatusRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub receipt_code: String,
}

/// POST /api/v1/security/incidents/status — the state of an outsider's incident report.
#[utoipa::path(post, path = "/api/v1/security/incidents/status", tag = "security-desk", request_body = IncidentStatusRequest,
    responses((status = 200, body = OutsiderIncidentView), (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn outsider_incident_status(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<IncidentStatusRequest>,
) -> Result<Response, Problem> {
    state.check_public_rate(origin.ip.as_deref())?;
    let view = state.services.desk.outsider_incident(&body.receipt_code).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response())
}

fn incident_id(raw: &str) -> Result<uuid::Uuid, Problem> {
    parse_id(raw, "incident", |s| uuid::Uuid::parse_str(s).ok())
}

/// GET /api/v1/desk/incidents — the incidents, newest first.
#[utoipa::path(get, path = "/api/v1/desk/incidents", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = [IncidentSummary])))]
pub async fn list_incidents(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<IncidentSummary>>, Problem> {
    Ok(Json(state.services.desk.desk_incidents(&auth.caller()).await?))
}

/// GET /api/v1/desk/incidents/{id} — one incident with its timeline; also its JSON export.
#[utoipa::path(get, path = "/api/v1/desk/incidents/{incident_id}", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("incident_id" = String, Path)), responses((status = 200, body = IncidentView)))]
pub async fn get_incident(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<IncidentView>, Problem> {
    Ok(Json(state.services.desk.desk_incident(&auth.caller(), incident_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentStateRequest {
    /// One of the incident's `state_choices`.
    #[schema(pattern = "^[a-z]{6,13}$")]
    pub state: String,
}

/// PUT /api/v1/desk/incidents/{id}/state — move the incident along its states.
#[utoipa::path(put, path = "/api/v1/desk/incidents/{incident_id}/state", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("incident_id" = String, Path)), request_body = IncidentStateRequest,
    responses((status = 200, body = IncidentView),
        (status = 409, description = "Not allowed from the current state (`allowed` lists what is)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn move_incident(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IncidentStateRequest>,
) -> Result<Json<IncidentView>, Problem> {
    let to = domain::incident::IncidentState::parse(body.state.trim())
        .ok_or_else(|| Problem::invalid("state", Rule::InvalidValue, "state: not an incident state"))?;
    Ok(Json(state.services.desk.move_incident(&auth.caller(), &origin, incident_id(&id)?, to).await?))
}

/// POST /api/v1/desk/incidents/{id}/entries — a note or a notice on the timeline.
#[utoipa::path(post, path = "/api/v1/desk/incidents/{incident_id}/entries", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("incident_id" = String, Path)), request_body = IncidentEntryInput,
    responses((status = 200, body = IncidentView), (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn add_incident_entry(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IncidentEntryInput>,
) -> Result<Json<IncidentView>, Problem> {
    Ok(Json(state.services.desk.add_incident_entry(&auth.caller(), &origin, incident_id(&id)?, &body).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentClockRequest {
    /// Hours from awareness until an authority must be told (1 to 8784); null clears the clock.
    #[schema(minimum = 1, maximum = 8784)]
    pub hours: Option<i64>,
}

/// PUT /api/v1/desk/incidents/{id}/clock — set or clear the notification clock.
#[utoipa::path(put, path = "/api/v1/desk/incidents/{incident_id}/clock", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("incident_id" = String, Path)), request_body = IncidentClockRequest,
    responses((status = 200, body = IncidentView), (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn set_incident_clock(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IncidentClockRequest>,
) -> Result<Json<IncidentView>, Problem> {
    Ok(Json(state.services.desk.set_incident_clock(&auth.caller(), &origin, incident_id(&id)?, body.hours).await?))
}

/// POST /api/v1/desk/incidents/{id}/evidence — attach an evidence file (the body); it is sealed
/// and its SHA-256 recorded on the timeline.
#[utoipa::path(post, path = "/api/v1/desk/incidents/{incident_id}/evidence", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("incident_id" = String, Path), FileQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses((status = 200, body = IncidentView), (status = 413, body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, body = ProblemDocument, content_type = "application/problem+json")))]
pub async fn add_incident_evidence(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    auth: Auth,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::body::Body,
) -> Result<Json<IncidentView>, Problem> {
    let q: FileQuery = parse_query(&uri)?;
    let view = state
        .services
        .desk
        .add_incident_evidence(&auth.caller(), &origin, incident_id(&id)?, &q.name, body.into_data_stream())
        .await?;
    Ok(Json(view))
}

/// GET /api/v1/desk/incidents/{id}/evidence/{file_id} — download an evidence file.
#[utoipa::path(get, path = "/api/v1/desk/incidents/{incident_id}/evidence/{file_id}", tag = "security-desk", security(("bearer" = []), ("cookie" = [])),
    params(("incident_id" = String, Path), ("file_id" = String, Path)),
    responses((status = 200, description = "The file, as it was received", content_type = "application/octet-stream")))]
pub async fn incident_evidence(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, file_id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let file = parse_id(&file_id, "file", domain::AttachmentId::parse)?;
    let (name, size, stream) = state.services.desk.incident_evidence(&auth.caller(), incident_id(&id)?, file).await?;
    // Evidence is never rendered by the browser: always a download of opaque bytes.
    Ok(super::messaging::file_response(&name, "application/octet-stream", size as i64, stream))
}

// The OpenAPI schemas of list fields whose items have limits too.
domain::string_list_schema!(fn reportrequest_affected_urls_schema: max_items = 50, max_length = 2048, pattern = "^https?://");
domain::string_list_schema!(fn reportrequest_ip_addresses_schema: max_items = 50, max_length = 43);
domain::string_list_schema!(fn reportrequest_timestamps_schema: max_items = 50, max_length = 100);

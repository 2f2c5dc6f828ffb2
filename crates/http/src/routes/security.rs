//! The organisation's public security pages (D1, D2, D3, D5): /security, the report form and the
//! status page (plain HTML forms: they work without JavaScript), security.txt, the public key at
//! its Encryption URL, HKP (`/pks/lookup`) and WKD (`/.well-known/openpgpkey/...`).

use crate::extract::{request_host, ClientOrigin};
use crate::pages;
use crate::problem::{Kind, Problem};
use crate::AppState;
use axum::extract::{DefaultBodyLimit, FromRequest as _, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use domain::desk::{DeskPage, ReportInput};
use serde::Deserialize;
use services::desk::{FinderCredential, FinderReportView, PublishedKey};

/// A report form with its files: five files of 10 MiB and the text fields.
const UPLOAD_FORM_BYTES: usize = 5 * 10 * 1024 * 1024 + 2 * 1024 * 1024;

/// A security page with one paragraph: a confirmation, or an error in plain words.
fn notice(status: StatusCode, title: &str, text: &str, error: bool, id: Option<&str>) -> Response {
    pages::render(status, &pages::SecurityNotice { title, text, error, id })
}

async fn security_page(State(state): State<AppState>) -> Result<Response, Problem> {
    let s = &state.services;
    let mut sections = Vec::new();
    for page in [DeskPage::Policy, DeskPage::Rules, DeskPage::HowToReport] {
        sections.push(pages::PageSection { id: page.as_str(), html: s.desk.desk_page(page).await?.html });
    }
    let key = s.desk.published_key().await?.as_ref().map(pages::KeyFacts::of);
    let names = s.desk.hall_of_fame().await?;
    Ok(pages::render(StatusCode::OK, &pages::SecurityIndex { title: "Security", sections, key, names }))
}

/// The report form, with what the finder typed kept after an error.
fn report_form(status: StatusCode, error: Option<&str>, input: &ReportInput) -> Response {
    pages::render(status, &pages::ReportForm { title: "Report a vulnerability", error, input })
}

fn split_lines(s: &str) -> Vec<String> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// What a problem means to a person filling in a form.
fn sentence(problem: &Problem) -> String {
    match problem.status().as_u16() {
        429 => "Too many attempts from your address. Wait a minute and try again.".to_owned(),
        404 => "No report matches that receipt code. Check it and try again.".to_owned(),
        400 | 409 | 413 | 422 => problem.detail.clone(),
        _ => "The desk is unavailable right now. Try again shortly.".to_owned(),
    }
}

fn with_retry_after(response: Response, problem: &Problem) -> Response {
    problem.with_retry_after(response)
}

/// The text fields and staged files of a multipart form (or the fields of a URL-encoded one).
struct FormParts {
    fields: Vec<(String, String)>,
    files: Vec<services::desk::files::StagedFile>,
}

impl FormParts {
    fn get(&self, name: &str) -> String {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
    fn opt(&self, name: &str) -> Option<String> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// Longest text field accepted in a multipart form (the report's logs are the largest).
const MAX_FORM_FIELD: usize = 600 * 1024;

/// Who may send files with a form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FilesFrom {
    /// Anyone (a new report).
    Anyone,
    /// The finder of an existing report: the receipt code or status link, which the page puts
    /// before the file input, is checked before a byte of any file is written.
    Finder,
}

/// Reads a form. File parts are sealed to disk as they stream in; on any error the files already
/// staged are removed, so a refused form leaves nothing behind. Text fields are read with a cap,
/// never buffered beyond it.
///
/// A refusal comes with the text fields read until then (and no files), so the page can show the
/// finder's words again instead of an empty form.
async fn read_form(
    state: &AppState,
    request: axum::extract::Request,
    from: FilesFrom,
) -> Result<FormParts, (Problem, FormParts)> {
    let nothing = || FormParts { fields: Vec::new(), files: Vec::new() };
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(request, state).await.map_err(|_| {
            (Problem::invalid("form", domain::Rule::InvalidValue, "the form could not be read; try again"), nothing())
        })?;
        return Ok(FormParts { fields, files: Vec::new() });
    }
    let mut multipart = axum::extract::Multipart::from_request(request, state).await.map_err(|_| {
        (Problem::invalid("form", domain::Rule::InvalidValue, "the form could not be read; try again"), nothing())
    })?;
    let mut parts = FormParts { fields: Vec::new(), files: Vec::new() };
    let result: Result<(), Problem> = async {
        let mut finder_checked = false;
        while let Some(mut field) = multipart.next_field().await.map_err(|e| {
            Problem::invalid("form", domain::Rule::InvalidValue, &format!("the upload was interrupted: {e}"))
        })? {
            let name = field.name().unwrap_or("").to_owned();
            match field.file_name().map(str::to_owned) {
                // A file input left empty still sends a part with an empty file name.
                Some(file) if file.is_empty() => {}
                Some(file) => {
                    if parts.files.len() >= services::desk::files::MAX_FILES_PER_UPLOAD {
                        return Err(Problem::invalid("files", domain::Rule::TooLong, "files: at most 5 files at once"));
                    }
                    if from == FilesFrom::Finder && !finder_checked {
                        let code = parts.opt("receipt_code");
                        let link = parts.opt("status_link");
                        let credential = match (&code, &link) {
                            (Some(code), _) => FinderCredential::ReceiptCode(code),
                            (None, Some(link)) => FinderCredential::StatusLink(link),
                            (None, None) => {
                                return Err(Problem::invalid(
                                    "receipt_code",
                                    domain::Rule::Required,
                                    "Enter your receipt code.",
                                ))
                            }
                        };
                        state.services.desk.finder_status(credential).await?;
                        finder_checked = true;
                    }
                    let media_type = field.content_type().unwrap_or("").to_owned();
                    let staged = state.services.desk.stage_desk_file(&file, &media_type, field).await?;
                    parts.files.push(staged);
                }
                None => {
                    let unreadable =
                        || Problem::invalid(&name, domain::Rule::InvalidValue, "the form could not be read; try again");
                    let mut bytes = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
                        if bytes.len() + chunk.len() > MAX_FORM_FIELD {
                            return Err(Problem::invalid(&name, domain::Rule::TooLong, &format!("{name}: too long")));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    let text = String::from_utf8(bytes).map_err(|_| unreadable())?;
                    parts.fields.push((name, text));
                }
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(parts),
        Err(problem) => {
            state.services.desk.discard_staged(std::mem::take(&mut parts.files)).await;
            Err((problem, parts))
        }
    }
}

fn report_input(parts: &FormParts) -> ReportInput {
    ReportInput {
        title: parts.get("title"),
        description: parts.get("description"),
        affected_urls: split_lines(&parts.get("affected_urls")),
        ip_addresses: split_lines(&parts.get("ip_addresses")),
        timestamps: split_lines(&parts.get("timestamps")),
        logs: parts.get("logs"),
        encrypted: parts.get("encrypted"),
        name: parts.get("name"),
        email: parts.get("email"),
        credit: parts.opt("credit").is_some(),
    }
}

async fn post_report(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    request: axum::extract::Request,
) -> Response {
    // The limit is spent before the body is read, so a flood of uploads stops at the door.
    if let Err(problem) = state.check_public_rate(origin.ip.as_deref()) {
        return with_retry_after(
            report_form(problem.status(), Some(&sentence(&problem)), &ReportInput::default()),
            &problem,
        );
    }
    let parts = match read_form(&state, request, FilesFrom::Anyone).await {
        Ok(parts) => parts,
        Err((problem, read)) => {
            // The finder's text comes back (files must be chosen again: browsers never refill them).
            return report_form(problem.status(), Some(&sentence(&problem)), &report_input(&read));
        }
    };
    let input = report_input(&parts);
    let result =
        state.services.desk.submit_report_with_files(&origin, &input, parts.files).await.map_err(Problem::from);
    match result {
        Ok(receipt) => pages::render(
            StatusCode::CREATED,
            &pages::ReportReceived { title: "Report received", code: &receipt.receipt_code },
        ),
        Err(problem) => with_retry_after(report_form(problem.status(), Some(&sentence(&problem)), &input), &problem),
    }
}

#[derive(Deserialize)]
struct CodeForm {
    receipt_code: String,
}

/// The receipt as a file to keep. The code comes back in the body (never a URL), and the page
/// that offered it was served only to the finder who just submitted.
async fn download_receipt(Form(form): Form<CodeForm>) -> Response {
    let Some(code) = domain::desk::normalise_receipt_code(&form.receipt_code) else {
        return notice(StatusCode::UNPROCESSABLE_ENTITY, "Receipt", "That is not a receipt code.", true, None);
    };
    let text = format!(
        "Security report receipt\r\n\r\nReceipt code: {code}\r\n\r\nKeep this file private. With the code you can read the \
         status of your report and write to the security team at /security/status.\r\n"
    );
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"security-report-receipt.txt\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

fn status_form(status: StatusCode, error: Option<&str>) -> Response {
    pages::render(status, &pages::StatusForm { title: "Follow up on a report", error })
}

fn status_page(credential: FinderCredential<'_>, view: &FinderReportView, notice: Option<&str>) -> Response {
    pages::render(StatusCode::OK, &pages::Status::new(credential, view, notice))
}

async fn post_status(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return status_form(StatusCode::BAD_REQUEST, Some("Enter your receipt code.")) };
    let result = match state.check_public_rate(origin.ip.as_deref()) {
        Ok(()) => state
            .services
            .desk
            .finder_status(FinderCredential::ReceiptCode(&form.receipt_code))
            .await
            .map_err(Problem::from),
        Err(p) => Err(p),
    };
    match result {
        Ok(view) => status_page(FinderCredential::ReceiptCode(&form.receipt_code), &view, None),
        Err(problem) => with_retry_after(status_form(problem.status(), Some(&sentence(&problem))), &problem),
    }
}

#[derive(Deserialize)]
struct LinkQuery {
    link: Option<String>,
}

/// GET /security/status — the code form, or, with `?link=` from a notice mail, the report.
async fn get_status(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    Query(q): Query<LinkQuery>,
) -> Response {
    let Some(link) = q.link.filter(|l| !l.is_empty()) else { return status_form(StatusCode::OK, None) };
    if let Err(problem) = state.check_public_rate(origin.ip.as_deref()) {
        return with_retry_after(status_form(problem.status(), Some(&sentence(&problem))), &problem);
    }
    match state.services.desk.finder_status(FinderCredential::StatusLink(&link)).await.map_err(Problem::from) {
        Ok(view) => status_page(FinderCredential::StatusLink(&link), &view, None),
        Err(problem) => status_form(
            problem.status(),
            Some(
                "That status link is no longer valid (each notice replaces the previous link). Use your receipt code.",
            ),
        ),
    }
}

async fn post_status_reply(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    request: axum::extract::Request,
) -> Response {
    if let Err(problem) = state.check_public_rate(origin.ip.as_deref()) {
        return with_retry_after(status_form(problem.status(), Some(&sentence(&problem))), &problem);
    }
    let mut parts = match read_form(&state, request, FilesFrom::Finder).await {
        Ok(parts) => parts,
        Err((problem, _)) => return status_form(problem.status(), Some(&sentence(&problem))),
    };
    let (code, link, body) = (parts.opt("receipt_code"), parts.opt("status_link"), parts.get("body"));
    let credential = match (&code, &link) {
        (Some(code), _) => FinderCredential::ReceiptCode(code),
        (None, Some(link)) => FinderCredential::StatusLink(link),
        (None, None) => {
            state.services.desk.discard_staged(std::mem::take(&mut parts.files)).await;
            return status_form(StatusCode::UNPROCESSABLE_ENTITY, Some("Enter your receipt code."));
        }
    };
    let files = std::mem::take(&mut parts.files);
    let result = state.services.desk.finder_reply_with_files(credential, &body, files).await.map_err(Problem::from);
    after_finder_action(&state, credential, result).await
}

#[derive(Deserialize)]
struct FileForm {
    receipt_code: Option<String>,
    status_link: Option<String>,
    file_id: String,
}

/// POST /security/status/file — one of the report's files, for the finder.
async fn post_status_file(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    Form(form): Form<FileForm>,
) -> Response {
    if let Err(problem) = state.check_public_rate(origin.ip.as_deref()) {
        return with_retry_after(status_form(problem.status(), Some(&sentence(&problem))), &problem);
    }
    let credential = match (&form.receipt_code, &form.status_link) {
        (Some(code), _) => FinderCredential::ReceiptCode(code),
        (None, Some(link)) => FinderCredential::StatusLink(link),
        (None, None) => return status_form(StatusCode::UNPROCESSABLE_ENTITY, Some("Enter your receipt code.")),
    };
    let Some(file) = domain::AttachmentId::parse(&form.file_id) else {
        return status_form(StatusCode::NOT_FOUND, Some("No such file."));
    };
    match state.services.desk.finder_file(credential, file).await {
        Ok((view, stream)) => super::messaging::file_response(&view.name, &view.content_type, view.size, stream),
        Err(e) => {
            let problem = Problem::from(e);
            status_form(problem.status(), Some(&sentence(&problem)))
        }
    }
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

/// GET /security/verify — a button, not an automatic confirmation: mail scanners that open
/// links must not confirm addresses on their own.
async fn get_verify(Query(q): Query<TokenForm>) -> Response {
    pages::render(StatusCode::OK, &pages::VerifyAddress { title: "Confirm your address", token: &q.token })
}

async fn post_verify(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Err(problem) = state.check_public_rate(origin.ip.as_deref()) {
        return with_retry_after(
            notice(problem.status(), "Confirm your address", &sentence(&problem), true, None),
            &problem,
        );
    }
    match state.services.desk.verify_finder_email(&form.token).await {
        Ok(()) => notice(
            StatusCode::OK,
            "Address confirmed",
            "Thank you. We will let you know at this address when your report changes.",
            false,
            Some("verified"),
        ),
        Err(_) => notice(
            StatusCode::NOT_FOUND,
            "Confirm your address",
            "This confirmation link is invalid, expired (links work for 7 days) or was already used.",
            true,
            None,
        ),
    }
}

async fn security_txt(State(state): State<AppState>) -> Result<Response, Problem> {
    let body = state.services.desk.security_txt().await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], body)
        .into_response())
}

fn no_key() -> Problem {
    Problem::new(Kind::NotFound, "this organisation has not published an OpenPGP key")
}

/// A search that names no key of ours, when one is published: the answer says which one is.
fn not_this_key(key: &PublishedKey) -> Problem {
    Problem::new(
        Kind::NotFound,
        format!("no key here matches that search; this organisation publishes 0x{}", key.view.fingerprint),
    )
}

async fn key_asc(State(state): State<AppState>) -> Result<Response, Problem> {
    let key = state.services.desk.published_key().await?.ok_or_else(no_key)?;
    Ok(([(header::CONTENT_TYPE, "application/pgp-keys"), (header::CACHE_CONTROL, "max-age=3600")], key.armored)
        .into_response())
}

#[derive(Deserialize)]
struct HkpQuery {
    op: Option<String>,
    search: Option<String>,
    #[allow(dead_code)]
    options: Option<String>,
    #[allow(dead_code)]
    exact: Option<String>,
    #[allow(dead_code)]
    fingerprint: Option<String>,
}

/// Whether an HKP search names this key: `0x` + the fingerprint, long or short key id of the key
/// or of one of its subkeys (gpg asks by the subkey it encrypts to), or text found in a user id
/// (such as the email address).
fn hkp_matches(key: &PublishedKey, search: &str) -> bool {
    let s = search.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let hex = hex.to_ascii_uppercase();
        return hex.len() >= 8
            && (key.view.fingerprint.ends_with(&hex) || key.subkey_fingerprints.iter().any(|f| f.ends_with(&hex)));
    }
    let lower = s.to_lowercase();
    !lower.is_empty() && key.view.user_ids.iter().any(|u| u.to_lowercase().contains(&lower))
}

/// Percent-escapes what HKP's machine-readable index must not carry raw.
fn hkp_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b == b':' || b == b'%' || !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// GET /pks/lookup — HKP (draft-gallagher-openpgp-hkp): `op=get` returns the armoured key,
/// `op=index` its machine-readable listing.
async fn hkp_lookup(State(state): State<AppState>, Query(q): Query<HkpQuery>) -> Result<Response, Problem> {
    let search = q.search.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        Problem::invalid("search", domain::Rule::Required, "search: give a fingerprint (0x...) or an email address")
    })?;
    let published = state.services.desk.published_key().await?.ok_or_else(no_key)?;
    let key = Some(&published).filter(|k| hkp_matches(k, &search)).ok_or_else(|| not_this_key(&published));
    match q.op.as_deref() {
        Some("get") => {
            let key = key?;
            Ok(([(header::CONTENT_TYPE, "application/pgp-keys")], key.armored.clone()).into_response())
        }
        Some("index") | Some("vindex") => {
            let key = key?;
            let mut out = format!(
                "info:1:1\npub:{}:{}:{}:{}:{}:\n",
                key.view.fingerprint,
                key.algorithm_id,
                key.bits,
                key.created_unix,
                key.expires_unix.map(|e| e.to_string()).unwrap_or_default()
            );
            for uid in &key.view.user_ids {
                out.push_str(&format!("uid:{}:{}::\n", hkp_escape(uid), key.created_unix));
            }
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
        }
        _ => Err(Problem::invalid("op", domain::Rule::InvalidValue, "op: this key server supports get and index")),
    }
}

/// The key whose user ids include `local@domain` for a WKD hash, served binary as WKD requires.
async fn wkd_key(state: &AppState, hash: &str, domain: Option<&str>) -> Result<Response, Problem> {
    let key = state.services.desk.published_key().await?.ok_or_else(no_key)?;
    let matches = key.view.user_ids.iter().filter_map(|u| extract_email(u)).any(|email| {
        let (local, email_domain) = email.rsplit_once('@').unwrap_or((&email, ""));
        services::desk::wkd_hash(local) == hash && domain.is_none_or(|d| d.eq_ignore_ascii_case(email_domain))
    });
    if !matches {
        return Err(no_key());
    }
    Ok(([(header::CONTENT_TYPE, "application/octet-stream"), (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], key.binary)
        .into_response())
}

fn extract_email(user_id: &str) -> Option<String> {
    let inner = match (user_id.rfind('<'), user_id.rfind('>')) {
        (Some(a), Some(b)) if a < b => &user_id[a + 1..b],
        _ => user_id,
    };
    inner.contains('@').then(|| inner.trim().to_owned())
}

/// Direct method: the domain is the host the request came to (unless it is an address, as in
/// tests and before DNS is set up, when any of the key's domains is accepted).
async fn wkd_direct(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(hash): Path<String>,
) -> Result<Response, Problem> {
    let host = request_host(&headers, &uri);
    let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    let is_address = name.parse::<std::net::IpAddr>().is_ok() || name.starts_with('[') || name == "localhost";
    wkd_key(&state, &hash, if is_address { None } else { Some(name) }).await
}

async fn wkd_advanced(
    State(state): State<AppState>,
    Path((domain, hash)): Path<(String, String)>,
) -> Result<Response, Problem> {
    wkd_key(&state, &hash, Some(&domain)).await
}

async fn wkd_policy() -> Response {
    // An empty policy file: WKD is supported, with default settings.
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "").into_response()
}

#[derive(Deserialize)]
struct ConsentForm {
    receipt_code: Option<String>,
    status_link: Option<String>,
    version: i64,
}

#[derive(Deserialize)]
struct CredentialForm {
    receipt_code: Option<String>,
    status_link: Option<String>,
}

/// The status page again after a finder's action, with the refusal above it when there was one.
async fn after_finder_action(
    state: &AppState,
    credential: FinderCredential<'_>,
    result: Result<FinderReportView, Problem>,
) -> Response {
    match result {
        Ok(view) => status_page(credential, &view, None),
        Err(problem) if problem.status() == StatusCode::NOT_FOUND => {
            status_form(StatusCode::NOT_FOUND, Some(&sentence(&problem)))
        }
        Err(problem) => match state.services.desk.finder_status(credential).await {
            Ok(view) => {
                let mut response = status_page(credential, &view, Some(&sentence(&problem)));
                *response.status_mut() = problem.status();
                response
            }
            Err(_) => status_form(problem.status(), Some(&sentence(&problem))),
        },
    }
}

/// The rate check and the credential each finder form starts with; `Err` is the page to answer.
fn finder_form<'a>(
    state: &AppState,
    origin: &domain::audit::Origin,
    code: &'a Option<String>,
    link: &'a Option<String>,
) -> Result<FinderCredential<'a>, Box<Response>> {
    if let Err(problem) = state.check_public_rate(origin.ip.as_deref()) {
        return Err(Box::new(with_retry_after(status_form(problem.status(), Some(&sentence(&problem))), &problem)));
    }
    match (code, link) {
        (Some(code), _) => Ok(FinderCredential::ReceiptCode(code)),
        (None, Some(link)) => Ok(FinderCredential::StatusLink(link)),
        (None, None) => Err(Box::new(status_form(StatusCode::UNPROCESSABLE_ENTITY, Some("Enter your receipt code.")))),
    }
}

/// POST /security/status/consent — the finder agrees to the version of the draft advisory shown.
async fn post_status_consent(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<ConsentForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return status_form(StatusCode::BAD_REQUEST, Some("Enter your receipt code.")) };
    let credential = match finder_form(&state, &origin, &form.receipt_code, &form.status_link) {
        Ok(credential) => credential,
        Err(page) => return *page,
    };
    let result = state.services.desk.finder_consent(credential, form.version).await.map_err(Problem::from);
    after_finder_action(&state, credential, result).await
}

/// POST /security/status/withdraw — the finder withdraws the report.
async fn post_status_withdraw(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<CredentialForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else { return status_form(StatusCode::BAD_REQUEST, Some("Enter your receipt code.")) };
    let credential = match finder_form(&state, &origin, &form.receipt_code, &form.status_link) {
        Ok(credential) => credential,
        Err(page) => return *page,
    };
    let result = state.services.desk.finder_withdraw(credential).await.map_err(Problem::from);
    after_finder_action(&state, credential, result).await
}

fn incident_page(
    status: StatusCode,
    error: Option<&str>,
    input: &domain::incident::IncidentInput,
    received: Option<&str>,
    state: Option<&services::desk::incidents::OutsiderIncidentView>,
) -> Response {
    let title = if received.is_some() {
        "Incident reported"
    } else if state.is_some() {
        "Your incident report"
    } else {
        "Report an incident"
    };
    pages::render(
        status,
        &pages::IncidentPage {
            title,
            error,
            input,
            categories: services::desk::Desk::incident_categories(),
            received,
            state,
        },
    )
}

#[derive(Deserialize, Default)]
struct IncidentForm {
    #[serde(default)]
    details: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    occurred_at: String,
    #[serde(default)]
    ended_at: String,
    #[serde(default)]
    reported_at: String,
    #[serde(default)]
    location: String,
}

/// GET /security/incident — the form, with the time of reporting filled in (editable).
async fn get_incident_form(State(state): State<AppState>) -> Response {
    // The organisation's own clock: a civil time in its zone, which the reporter can correct.
    let now = state.services.desk.desk_local_now().await.map(|(now, _)| now).unwrap_or_default();
    let input = domain::incident::IncidentInput { reported_at: now, ..Default::default() };
    incident_page(StatusCode::OK, None, &input, None, None)
}

/// POST /security/incident — an outsider reports an incident; the receipt code is shown once.
async fn post_incident(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<IncidentForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let input = domain::incident::IncidentInput {
        details: form.details,
        category: form.category,
        occurred_at: form.occurred_at,
        ended_at: Some(form.ended_at).filter(|e| !e.trim().is_empty()),
        reported_at: form.reported_at,
        location: form.location,
    };
    if let Err(problem) = state.check_public_rate(origin.ip.as_deref()) {
        return with_retry_after(
            incident_page(problem.status(), Some(&sentence(&problem)), &input, None, None),
            &problem,
        );
    }
    match state.services.desk.report_incident_as_outsider(&input).await.map_err(Problem::from) {
        Ok(receipt) => incident_page(StatusCode::CREATED, None, &input, Some(&receipt.receipt_code), None),
        Err(problem) => incident_page(problem.status(), Some(&sentence(&problem)), &input, None, None),
    }
}

/// POST /security/incident/status — an incident's state, for its receipt code.
async fn post_incident_status(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let empty = domain::incident::IncidentInput::default();
    let Ok(Form(form)) = form else {
        return incident_page(StatusCode::BAD_REQUEST, Some("Enter your receipt code."), &empty, None, None);
    };
    if let Err(problem) = state.check_public_rate(origin.ip.as_deref()) {
        return with_retry_after(
            incident_page(problem.status(), Some(&sentence(&problem)), &empty, None, None),
            &problem,
        );
    }
    match state.services.desk.outsider_incident(&form.receipt_code).await.map_err(Problem::from) {
        Ok(view) => incident_page(StatusCode::OK, None, &empty, None, Some(&view)),
        Err(problem) => incident_page(problem.status(), Some(&sentence(&problem)), &empty, None, None),
    }
}

/// GET /security/advisories — the published advisories.
async fn advisories_page(State(state): State<AppState>) -> Result<Response, Problem> {
    let advisories = state.services.desk.published_advisories().await?;
    Ok(pages::render(StatusCode::OK, &pages::Advisories { title: "Security advisories", advisories: &advisories }))
}

/// GET /security/advisories/{id}, `…/csaf.json`, `…/osv.json` — one advisory, as a page or JSON.
async fn advisory_page(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, Problem> {
    let a = state.services.desk.published_advisory(&id).await?;
    Ok(pages::render(StatusCode::OK, &pages::Advisory { title: &a.title, a: &a }))
}

async fn advisory_json(
    State(state): State<AppState>,
    Path((id, format)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let a = state.services.desk.published_advisory(&id).await?;
    let base = state.services.settings().public_url.clone();
    let doc = match format.as_str() {
        "csaf.json" => services::desk::exports::csaf(&base, &a),
        "osv.json" => services::desk::exports::osv(&base, &a),
        _ => return Err(Problem::new(crate::problem::Kind::NotFound, "no such advisory format")),
    };
    Ok(([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc)).into_response())
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/security", get(security_page))
        .route(
            "/security/report",
            get(|| async { report_form(StatusCode::OK, None, &ReportInput::default()) })
                .post(post_report)
                .layer(DefaultBodyLimit::max(UPLOAD_FORM_BYTES)),
        )
        .route("/security/receipt", post(download_receipt))
        .route("/security/status", get(get_status).post(post_status))
        .route("/security/verify", get(get_verify).post(post_verify))
        .route("/security/status/reply", post(post_status_reply).layer(DefaultBodyLimit::max(UPLOAD_FORM_BYTES)))
        .route("/security/status/file", post(post_status_file))
        .route("/security/status/consent", post(post_status_consent))
        .route("/security/status/withdraw", post(post_status_withdraw))
        .route("/security/advisories", get(advisories_page))
        .route("/security/incident", get(get_incident_form).post(post_incident))
        .route("/security/incident/status", post(post_incident_status))
        .route("/security/advisories/{id}", get(advisory_page))
        .route("/security/advisories/{id}/{format}", get(advisory_json))
        .route("/security/key.asc", get(key_asc))
        .route("/.well-known/security.txt", get(security_txt))
        .route("/security.txt", get(security_txt))
        .route("/pks/lookup", get(hkp_lookup))
        .route("/.well-known/openpgpkey/policy", get(wkd_policy))
        .route("/.well-known/openpgpkey/hu/{hash}", get(wkd_direct))
        .route("/.well-known/openpgpkey/{domain}/policy", get(wkd_policy))
        .route("/.well-known/openpgpkey/{domain}/hu/{hash}", get(wkd_advanced))
}

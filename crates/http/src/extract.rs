//! Extractors that turn requests into checked values or problems: strict JSON bodies, the
//! authenticated caller (with CSRF enforcement for cookie sessions), and the request's origin.

use crate::problem::{Kind, Problem};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use bytes::Bytes;
use domain::audit::Origin;
use domain::Rule;
use serde::de::DeserializeOwned;
use services::Principal;
use std::net::SocketAddr;

/// The session cookie. `__Host-` makes browsers insist on Secure, Path=/ and no Domain.
pub const SESSION_COOKIE: &str = "__Host-conclave_session";
/// The header a cookie-authenticated, state-changing request must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
const MAX_USER_AGENT_BYTES: usize = 512;

/// A JSON body that must be `application/json`, within the body limit, and match `T` exactly
/// (types declare `deny_unknown_fields`). Failures name the field and the rule.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(req.headers()) {
            return Err(Problem::new(Kind::UnsupportedMediaType, "send the body as application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(Kind::PayloadTooLarge, "the body is over the size limit")
            } else {
                Problem::new(Kind::MalformedBody, "the body could not be read")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses JSON into `T`, turning serde's message into a field and a rule.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = match result {
        Ok(v) => v,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            return Err(classify(&path, &inner));
        }
    };
    de.end().map_err(|e| Problem::new(Kind::MalformedBody, format!("trailing data after the JSON value ({e})")))?;
    Ok(value)
}

fn classify(path: &str, e: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    let message = e.to_string();
    if !matches!(e.classify(), Category::Data) {
        return Problem::new(Kind::MalformedBody, message);
    }
    let quoted = |s: &str| s.split('`').nth(1).map(str::to_owned);
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let clean = message.split(" at line ").next().unwrap_or(&message).to_owned();
    if message.starts_with("unknown field") {
        let name = quoted(&message).unwrap_or_default();
        // serde_path_to_error already puts an unknown field's own name at the end of the path.
        let field = if path.ends_with(&name) { path.trim_start_matches('.').to_owned() } else { join(&name) };
        Problem::invalid(&field, Rule::UnknownField, &format!("{name}: this field is not accepted here"))
    } else if message.starts_with("missing field") {
        let name = quoted(&message).unwrap_or_default();
        Problem::invalid(&join(&name), Rule::Required, &format!("{name}: this field is required"))
    } else if message.starts_with("invalid type") {
        Problem::invalid(path.trim_start_matches('.'), Rule::WrongType, &clean)
    } else {
        Problem::invalid(path.trim_start_matches('.'), Rule::InvalidValue, &clean)
    }
}

/// Where the request came from, for audit events and device records.
pub struct ClientOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for ClientOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientOrigin(origin_of(parts)))
    }
}

pub fn origin_of(parts: &Parts) -> Origin {
    let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string());
    let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| {
        let mut end = ua.len().min(MAX_USER_AGENT_BYTES);
        while !ua.is_char_boundary(end) {
            end -= 1;
        }
        ua[..end].to_owned()
    });
    Origin { ip, user_agent }
}

/// The authenticated caller. Bearer tokens are for API clients; the cookie is for the web client
/// and, on state-changing methods, requires the CSRF header.
pub struct Auth {
    pub principal: Principal,
    pub token: String,
    pub via_cookie: bool,
}

impl Auth {
    pub fn caller(&self) -> services::Caller {
        services::Caller::User(self.principal.clone())
    }
}

pub fn session_token(headers: &HeaderMap) -> Option<(String, bool)> {
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.trim_start().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token)
    });
    if let Some(bearer) = bearer {
        return Some((bearer.trim().to_owned(), false));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| (value.to_owned(), true))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let (token, via_cookie) =
            session_token(&parts.headers).ok_or_else(|| Problem::new(Kind::Unauthenticated, "sign in first"))?;
        let mut principal =
            state.services.sessions.authenticate_with_input(&token, input_at(&parts.headers, via_cookie)).await?;
        // Refusals are audited with where the request came from.
        principal.origin = origin_of(parts);
        check_csrf(parts, state, &token, via_cookie)?;
        Ok(Auth { principal, token, via_cookie })
    }
}

/// The authenticated caller of one of the few routes a session locked behind its PIN may use
/// (who am I, unlock, set a first PIN, sign out), with the lock state.
pub struct AuthEvenLocked {
    pub auth: Auth,
    pub lock: domain::session_policy::LockState,
}

impl FromRequestParts<AppState> for AuthEvenLocked {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let (token, via_cookie) =
            session_token(&parts.headers).ok_or_else(|| Problem::new(Kind::Unauthenticated, "sign in first"))?;
        let (mut principal, lock) =
            state.services.sessions.authenticate_even_locked(&token, input_at(&parts.headers, via_cookie)).await?;
        principal.origin = origin_of(parts);
        check_csrf(parts, state, &token, via_cookie)?;
        Ok(AuthEvenLocked { auth: Auth { principal, token, via_cookie }, lock })
    }
}

/// The header in which the web client says when the person last used the page (milliseconds
/// since the epoch), so its background requests do not keep a PIN lock away.
pub const INPUT_AT_HEADER: &str = "x-conclave-input-at";

/// When the person behind this request last used their device: what a browser says in
/// [`INPUT_AT_HEADER`] (nothing if it says nothing), or now for an API client, whose every
/// request is someone's doing.
fn input_at(headers: &HeaderMap, via_cookie: bool) -> Option<domain::Millis> {
    if !via_cookie {
        return Some(domain::Millis::now());
    }
    headers.get(INPUT_AT_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok()).map(domain::Millis)
}

/// A cookie session's state-changing request must carry the session's CSRF token.
fn check_csrf(parts: &Parts, state: &AppState, token: &str, via_cookie: bool) -> Result<(), Problem> {
    if via_cookie && !is_safe(&parts.method) {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !state.services.sessions.csrf_matches(token, sent) {
            return Err(Problem::new(Kind::CsrfRejected, "send the session's X-CSRF-Token header"));
        }
    }
    Ok(())
}

/// Parses an id sent in a body: a malformed one is refused by field.
pub fn id_in_body<T>(field: &str, raw: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, Problem> {
    parse(raw.trim()).ok_or_else(|| Problem::invalid(field, Rule::InvalidValue, "must be an id"))
}

/// Parses the enterprise id of a path; a malformed one is simply not found.
pub fn enterprise(raw: &str) -> Result<domain::EnterpriseId, Problem> {
    parse_id(raw, "enterprise", domain::EnterpriseId::parse)
}

/// Parses a path id; a malformed id cannot name anything, so it is simply not found.
pub fn parse_id<T>(raw: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, Problem> {
    parse(raw).ok_or_else(|| Problem::new(Kind::NotFound, format!("no such {what}")))
}

/// Parses the query string into `T` (which declares `deny_unknown_fields`); a malformed or
/// unknown parameter is a 422 naming `query`.
pub fn parse_query<T: DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, Problem> {
    let raw = uri.query().unwrap_or("");
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        query_problem(&path, &err.into_inner().to_string())
    })
}

/// A refusal of a query string in our words, naming the parameter (the parser's text stays out).
fn query_problem(path: &str, message: &str) -> Problem {
    let quoted = message.split('`').nth(1).unwrap_or_default();
    if message.starts_with("unknown field") {
        Problem::invalid(quoted, Rule::UnknownField, &format!("{quoted}: this parameter is not accepted here"))
    } else if message.starts_with("missing field") {
        Problem::invalid(quoted, Rule::Required, &format!("{quoted}: this parameter is required"))
    } else {
        let name = path.trim_start_matches('.');
        let name = if name.is_empty() { "query" } else { name };
        Problem::invalid(
            name,
            Rule::InvalidValue,
            &format!("{name}: this value does not have the form this parameter takes"),
        )
    }
}

/// The host the request named (HTTP/1.1 Host or the HTTP/2 authority), without the port.
pub fn request_host(headers: &HeaderMap, uri: &Uri) -> String {
    let raw = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned());
    raw.rsplit_once('@').map_or(raw.clone(), |(_, h)| h.to_owned())
}

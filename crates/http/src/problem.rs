//! RFC 9457 problem details: the one place where errors become HTTP responses.
//!
//! Every error kind has a stable `type` (a relative URI under `/problems/`, which serves a short
//! explanation), so clients branch on `type`, never on `detail` text. 5xx answers carry a generic
//! detail; the real cause goes to the log with the request id, never to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::{FieldError, Rule};
use serde::Serialize;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem, as handlers and extractors produce it. Small on purpose: it travels in `Result`s.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: Kind,
    pub detail: String,
    /// For validation errors: the field and the rule it broke.
    pub field: Option<Box<(String, Rule)>>,
    retry_after: Option<u64>,
    /// For a password the policy refused: every rule it broke.
    pub failures: Option<Vec<domain::password_policy::PolicyFailure>>,
    /// For `pin-required`: whether the person has a PIN (false: they must set one first).
    pub pin_set: Option<bool>,
    /// For a refused state change: the states allowed from the current one.
    pub allowed: Option<Vec<&'static str>>,
}

/// The problem+json document on the wire (RFC 9457 members plus `field` and `rule`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemDocument {
    /// Stable URI reference naming the kind of problem, e.g. `/problems/invalid-field`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// For `password-policy`: each rule the password broke, as `{rule, message}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub failures: Option<Vec<domain::password_policy::PolicyFailure>>,
    /// For `pin-required`: false when the person must set a PIN before going on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_set: Option<bool>,
    /// For a refused state change (`conflict` on `state`): the states allowed from the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<&'static str>>,
}

/// The problem kinds, with their status and title. `/problems/{slug}` explains each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MalformedBody,
    InvalidField,
    UnsupportedMediaType,
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    Forbidden,
    Unauthenticated,
    InvalidCredentials,
    CsrfRejected,
    Conflict,
    RateLimited,
    Unavailable,
    Internal,
    AccountLocked,
    PasswordExpired,
    SecondFactorRequired,
    SecondFactorEnrolmentRequired,
    PasswordPolicy,
    SsoRequired,
    SsoFailed,
    Gone,
    Recalled,
    MessagePolicy,
    WipeRequired,
    ReauthenticationRequired,
    PinRequired,
}

impl Kind {
    pub const ALL: [Kind; 27] = [
        Kind::MalformedBody,
        Kind::InvalidField,
        Kind::UnsupportedMediaType,
        Kind::PayloadTooLarge,
        Kind::NotFound,
        Kind::MethodNotAllowed,
        Kind::Forbidden,
        Kind::Unauthenticated,
        Kind::InvalidCredentials,
        Kind::CsrfRejected,
        Kind::Conflict,
        Kind::RateLimited,
        Kind::Unavailable,
        Kind::Internal,
        Kind::AccountLocked,
        Kind::PasswordExpired,
        Kind::SecondFactorRequired,
        Kind::SecondFactorEnrolmentRequired,
        Kind::PasswordPolicy,
        Kind::SsoRequired,
        Kind::SsoFailed,
        Kind::Gone,
        Kind::Recalled,
        Kind::MessagePolicy,
        Kind::WipeRequired,
        Kind::ReauthenticationRequired,
        Kind::PinRequired,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Kind::MalformedBody => "malformed-body",
            Kind::InvalidField => "invalid-field",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::PayloadTooLarge => "payload-too-large",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::Forbidden => "forbidden",
            Kind::Unauthenticated => "unauthenticated",
            Kind::InvalidCredentials => "invalid-credentials",
            Kind::CsrfRejected => "csrf-rejected",
            Kind::Conflict => "conflict",
            Kind::RateLimited => "rate-limited",
            Kind::Unavailable => "unavailable",
            Kind::Internal => "internal",
            Kind::AccountLocked => "account-locked",
            Kind::PasswordExpired => "password-expired",
            Kind::SecondFactorRequired => "second-factor-required",
            Kind::SecondFactorEnrolmentRequired => "second-factor-enrolment-required",
            Kind::PasswordPolicy => "password-policy",
            Kind::SsoRequired => "sso-required",
            Kind::SsoFailed => "sso-failed",
            Kind::Gone => "gone",
            Kind::Recalled => "recalled",
            Kind::MessagePolicy => "message-policy",
            Kind::WipeRequired => "wipe-required",
            Kind::ReauthenticationRequired => "reauthentication-required",
            Kind::PinRequired => "pin-required",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Kind::MalformedBody => StatusCode::BAD_REQUEST,
            Kind::InvalidField => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::Forbidden | Kind::CsrfRejected => StatusCode::FORBIDDEN,
            Kind::Unauthenticated | Kind::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::AccountLocked => StatusCode::TOO_MANY_REQUESTS,
            Kind::PasswordExpired | Kind::SecondFactorEnrolmentRequired => StatusCode::FORBIDDEN,
            Kind::SecondFactorRequired => StatusCode::UNAUTHORIZED,
            Kind::PasswordPolicy => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::SsoRequired => StatusCode::FORBIDDEN,
            Kind::SsoFailed => StatusCode::UNAUTHORIZED,
            Kind::Gone => StatusCode::GONE,
            Kind::Recalled => StatusCode::GONE,
            Kind::MessagePolicy => StatusCode::FORBIDDEN,
            Kind::WipeRequired => StatusCode::UNAUTHORIZED,
            Kind::ReauthenticationRequired => StatusCode::UNAUTHORIZED,
            Kind::PinRequired => StatusCode::LOCKED,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kind::MalformedBody => "The request body is not valid JSON",
            Kind::InvalidField => "A field of the request is invalid",
            Kind::UnsupportedMediaType => "The request body has the wrong content type",
            Kind::PayloadTooLarge => "The request body is too large",
            Kind::NotFound => "Not found",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::Forbidden => "Not allowed",
            Kind::Unauthenticated => "Sign-in required",
            Kind::InvalidCredentials => "The email or password is wrong",
            Kind::CsrfRejected => "The request failed the cross-site request forgery check",
            Kind::Conflict => "The request conflicts with existing data",
            Kind::RateLimited => "Too many requests",
            Kind::Unavailable => "The service is temporarily unavailable",
            Kind::Internal => "Internal server error",
            Kind::AccountLocked => "The account is locked for a while",
            Kind::PasswordExpired => "The password has expired",
            Kind::SecondFactorRequired => "A one-time code is required",
            Kind::SecondFactorEnrolmentRequired => "One-time codes must be set up first",
            Kind::PasswordPolicy => "The password does not meet the policy",
            Kind::SsoRequired => "Sign in through single sign-on",
            Kind::SsoFailed => "Single sign-on failed",
            Kind::Gone => "No longer available",
            Kind::Recalled => "The message was recalled",
            Kind::MessagePolicy => "The message's policy does not allow this",
            Kind::WipeRequired => "Signed out by an administrator: erase this device's data",
            Kind::ReauthenticationRequired => "Authenticate again to use the admin console",
            Kind::PinRequired => "This session is locked: enter the PIN",
        }
    }

    /// A longer explanation, served at `/problems/{slug}`.
    pub fn explanation(self) -> &'static str {
        match self {
            Kind::MalformedBody => "The body could not be parsed as JSON. Check quoting, commas and brackets.",
            Kind::InvalidField => "One field broke a rule. The `field` member names it and `rule` names the rule (required, empty, too-long, invalid-email, unknown-field, wrong-type, ...). Nothing was written.",
            Kind::UnsupportedMediaType => "Send JSON bodies with `Content-Type: application/json`.",
            Kind::PayloadTooLarge => "The body is over this endpoint's size limit. Nothing was written.",
            Kind::NotFound => "There is no such resource, or you may not know whether there is one.",
            Kind::MethodNotAllowed => "The path exists but does not accept this HTTP method; the OpenAPI document at /api/openapi.json lists what each path accepts.",
            Kind::Forbidden => "You are signed in, but your role does not allow this action in this enterprise.",
            Kind::Unauthenticated => "Send a session cookie or `Authorization: Bearer <token>`. The session may have ended or expired.",
            Kind::InvalidCredentials => "The email and password do not match an active account. For privacy, the answer does not say which part was wrong.",
            Kind::CsrfRejected => "Requests authenticated by cookie must carry the session's `X-CSRF-Token` header and must not come from another site.",
            Kind::Conflict => "The change would duplicate something unique, such as an email within an enterprise. Nothing was written.",
            Kind::RateLimited => "Wait for the number of seconds in `Retry-After`, then try again.",
            Kind::Unavailable => "A dependency such as the database is not answering. Try again shortly.",
            Kind::Internal => "Something failed on the server. The response carries a request id (`x-request-id`) that operators can find in the logs.",
            Kind::AccountLocked => "Too many sign-ins failed in a row, so the account is locked for the number of seconds in `Retry-After`. Nothing is wrong with the account otherwise.",
            Kind::PasswordExpired => "The organisation's policy says the password is too old. Send the old and a new password to `POST /api/v1/sessions/expired-password`; the answer is a session.",
            Kind::SecondFactorRequired => "The password was right. Sign in again with `otp`: the code from your authenticator app, or one of your recovery codes.",
            Kind::SecondFactorEnrolmentRequired => "The organisation requires one-time codes. Get a secret from `POST /api/v1/sessions/totp-enrolment`, add it to an authenticator app, then sign in with a code from it.",
            Kind::PasswordPolicy => "The new password broke rules of the organisation's policy; `failures` lists each one with a sentence. Nothing was changed.",
            Kind::SsoRequired => "The organisation has turned password sign-in off: use its identity provider (`/sso/start`). Enterprise admins with one-time codes may still use their password.",
            Kind::SsoFailed => "The identity provider's answer was refused (wrong or reused state, a token from another issuer or audience, an expired token, a bad signature, a domain that is not allowed, ...). No account or session was created; start again.",
            Kind::Gone => "It existed but works no more: a single-use link that was used or has expired. Ask for a new one.",
            Kind::Recalled => "Its sender or an administrator recalled the message: it and every copy forwarded from it were removed and their content destroyed. Nothing can bring it back.",
            Kind::WipeRequired => "An administrator ended this device's session and asked it to erase what it holds of Conclave (stored data, caches). Erase it, confirm at `POST /api/v1/sessions/wipe-acknowledgement` with the same credentials, then sign in again.",
            Kind::ReauthenticationRequired => "Admin actions need a session that authenticated recently: within the organisation's window (15 minutes unless it set 5 to 60) of the last admin action. Send the password, and the one-time code if the account has them, to `POST /api/v1/sessions/current/elevation`, then repeat the request. Nothing was changed.",
            Kind::PinRequired => "The session locked after the person's chosen time without use (or the client locked it). Send the PIN to `POST /api/v1/sessions/current/unlock`, then repeat the request. With `pin_set: false` the organisation requires a PIN and none is set: set one at `PUT /api/v1/me/pin` first. Too many wrong PINs end the session and wipe the device.",
            Kind::MessagePolicy => "The message was sent under a policy that forbids this here and now: it may not be forwarded or copied, or it is readable only at other times, from other networks or on other kinds of device. `detail` says which.",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.slug() == slug)
    }
}

/// "device_name" → "Device name", "members[2]" → "Members", "current_pin" → "Current PIN".
fn field_label(field: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field);
    let bare = last.split('[').next().unwrap_or(last).replace('_', " ");
    let words: Vec<String> =
        bare.trim().split(' ').map(|w| if w == "pin" { "PIN".to_owned() } else { w.to_owned() }).collect();
    let joined = words.join(" ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "The request".to_owned(),
    }
}

/// A field error as a sentence: the label, then the rule's wording without any field name the
/// message already carried.
fn field_sentence(e: &FieldError) -> String {
    let mut message = e.message.trim();
    // Some messages start with the field's name already ("name: too long"), sometimes twice.
    while let Some(rest) = message.strip_prefix(e.field.as_str()).and_then(|r| r.strip_prefix(':')) {
        message = rest.trim_start();
    }
    let label = field_label(&e.field);
    let reads_on = ["must ", "is ", "are ", "cannot ", "may ", "should ", "needs ", "has ", "does "];
    if reads_on.iter().any(|w| message.starts_with(w)) {
        format!("{label} {message}")
    } else {
        format!("{label}: {message}")
    }
}

impl Problem {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Problem {
        Problem {
            kind,
            detail: detail.into(),
            field: None,
            retry_after: None,
            failures: None,
            pin_set: None,
            allowed: None,
        }
    }

    /// The `field` member names the field as the API spells it; the detail, read by people, names
    /// it as they would ("Device name must not be empty"), once.
    pub fn field(kind: Kind, e: &FieldError) -> Problem {
        Problem { field: Some(Box::new((e.field.clone(), e.rule))), ..Problem::new(kind, field_sentence(e)) }
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// Adds this problem's Retry-After to a response rendered some other way (an HTML page).
    pub fn with_retry_after(&self, mut response: axum::response::Response) -> axum::response::Response {
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        response
    }

    pub fn document(&self) -> ProblemDocument {
        ProblemDocument {
            kind: format!("/problems/{}", self.kind.slug()),
            title: self.kind.title(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
            field: self.field.as_ref().map(|f| f.0.clone()),
            rule: self.field.as_ref().map(|f| f.1.as_str()),
            failures: self.failures.clone(),
            pin_set: self.pin_set,
            allowed: self.allowed.clone(),
        }
    }

    pub fn invalid(field: &str, rule: Rule, message: &str) -> Problem {
        Problem::field(Kind::InvalidField, &FieldError::new(field, rule, message))
    }

    pub fn rate_limited(retry_after_secs: u64) -> Problem {
        Problem {
            retry_after: Some(retry_after_secs.max(1)),
            ..Problem::new(Kind::RateLimited, format!("try again in {} seconds", retry_after_secs.max(1)))
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.document()).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.kind == Kind::Unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"conclave\""));
        }
        if self.kind == Kind::ReauthenticationRequired {
            // The step-up challenge of RFC 9470: the token is good, the authentication too old.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"conclave\", error=\"insufficient_user_authentication\""),
            );
        }
        response
    }
}

/// Service errors become problems here and nowhere else.
impl From<services::Error> for Problem {
    fn from(e: services::Error) -> Problem {
        use services::Error as E;
        match e {
            E::Invalid(f) => Problem::field(Kind::InvalidField, &f),
            E::Conflict(f) => Problem::field(Kind::Conflict, &f),
            E::Transition { from, to, allowed } => {
                let detail = if allowed.is_empty() {
                    format!("from {from} it cannot move to {to}, or to any other state")
                } else {
                    format!("from {from} it cannot move to {to}; it can move to {}", allowed.join(", "))
                };
                Problem {
                    field: Some(Box::new(("state".to_owned(), Rule::InvalidValue))),
                    allowed: Some(allowed),
                    ..Problem::new(Kind::Conflict, detail)
                }
            }
            E::NotFound(what) => Problem::new(Kind::NotFound, format!("no such {what}")),
            E::Forbidden => Problem::new(Kind::Forbidden, "your role does not allow this"),
            E::Unauthenticated => Problem::new(Kind::Unauthenticated, "sign in first"),
            E::InvalidCredentials => {
                Problem::new(Kind::InvalidCredentials, "check the email and password and try again")
            }
            E::TooLarge(why) => Problem::new(Kind::PayloadTooLarge, why),
            E::Unavailable(why) => {
                tracing::warn!(error = %why, "dependency unavailable");
                Problem::new(Kind::Unavailable, "try again shortly")
            }
            E::Locked(secs) => Problem {
                retry_after: Some(secs.max(1)),
                ..Problem::new(Kind::AccountLocked, format!("try again in {} seconds", secs.max(1)))
            },
            E::PasswordExpired => Problem::new(Kind::PasswordExpired, "choose a new password to go on"),
            E::SecondFactorRequired => {
                Problem::new(Kind::SecondFactorRequired, "enter the one-time code from your authenticator app")
            }
            E::SecondFactorEnrolmentRequired => Problem::new(
                Kind::SecondFactorEnrolmentRequired,
                "your organisation requires a one-time code; set up an authenticator app first",
            ),
            E::PasswordPolicy(failures) => Problem {
                field: Some(Box::new(("password".to_owned(), Rule::InvalidValue))),
                failures: Some(failures.clone()),
                ..Problem::new(
                    Kind::PasswordPolicy,
                    failures.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "),
                )
            },
            E::SsoOnly => Problem::new(Kind::SsoRequired, "your organisation signs in through single sign-on"),
            E::SsoFailed(why) => Problem::new(Kind::SsoFailed, why),
            E::Gone(why) => Problem::new(Kind::Gone, why),
            E::Recalled => Problem::new(Kind::Recalled, "the message was recalled by its sender or an administrator"),
            E::PolicyRefused(why) => Problem::new(Kind::MessagePolicy, why),
            E::WipeRequired => Problem::new(
                Kind::WipeRequired,
                "this device was signed out by an administrator; erase what it holds and sign in again",
            ),
            E::ReauthenticationRequired => Problem::new(
                Kind::ReauthenticationRequired,
                "your admin session lapsed: enter your password again to go on",
            ),
            E::PinRequired { pin_set } => Problem {
                pin_set: Some(pin_set),
                ..Problem::new(
                    Kind::PinRequired,
                    if pin_set {
                        "enter your PIN to go on"
                    } else {
                        "your organisation requires a PIN: set one to go on"
                    },
                )
            },
            E::Internal(why) => {
                tracing::error!(error = %why, "internal error");
                Problem::new(Kind::Internal, "the server failed; quote the x-request-id header when reporting this")
            }
        }
    }
}

#[cfg(test)]
mod field_sentence_tests {
    use super::*;

    #[test]
    fn details_name_fields_as_people_do_and_only_once() {
        let say = |field: &str, message: &str| field_sentence(&FieldError::new(field, Rule::Empty, message));
        assert_eq!(say("title", "must not be empty"), "Title must not be empty");
        assert_eq!(say("device_name", "device_name: device_name: too long"), "Device name: too long");
        assert_eq!(say("member_ids[3]", "must be a user id"), "Member ids must be a user id");
        assert_eq!(say("role", "give the account a role"), "Role: give the account a role");
        assert_eq!(say("current_pin", "is wrong"), "Current PIN is wrong");
    }
}

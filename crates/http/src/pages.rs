//! Server-rendered pages, each an askama template in `crates/http/templates/`: the compiler checks
//! every variable a template uses, and every value is HTML-escaped unless the template marks it
//! `|safe` (only markup this server produced: rendered and cleaned Markdown, its own QR codes).

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use domain::desk::ReportInput;
use services::credentials::TotpEnrolment;
use services::desk::{FinderCredential, FinderReportView, PublishedKey};

/// Renders `page` with `status`; never cached (pages carry personal data or one-time secrets).
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CACHE_CONTROL, "no-store")],
                "This page could not be shown.\n",
            )
                .into_response()
        }
    }
}

/// The sign-in form, also for an expired password (with the new-password field) and for
/// enrolment in one-time codes (with the secret to scan).
#[derive(Template)]
#[template(path = "signin.html")]
pub(crate) struct SignIn<'a> {
    pub title: &'a str,
    /// Why the person is here, when it was not their choice (signed out elsewhere, say).
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
    pub email: &'a str,
    pub expired: bool,
    pub enrolment: Option<&'a TotpEnrolment>,
}

impl<'a> SignIn<'a> {
    pub fn new(error: Option<&'a str>, email: &'a str) -> SignIn<'a> {
        SignIn { title: "Sign in", notice: None, error, email, expired: false, enrolment: None }
    }
}

/// The page behind a single-use link: choose a password, then a confirmation.
#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct Account<'a> {
    pub title: &'a str,
    pub heading: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub token: &'a str,
    pub error: Option<&'a str>,
    pub done: Option<&'a str>,
}

/// A page that says one thing and offers one way on: an unknown address, a console that is
/// not for the person's role.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message<'a> {
    pub title: &'a str,
    pub heading: &'a str,
    pub text: &'a str,
    pub link_href: &'a str,
    pub link_text: &'a str,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub(crate) struct RecoveryCodes<'a> {
    pub title: &'a str,
    pub codes: &'a [String],
}

/// Moves the browser on to the identity provider: a refresh, not a redirect, because the CSP's
/// form-action would stop a form from leading to another site.
#[derive(Template)]
#[template(path = "sso_continue.html")]
pub(crate) struct SsoContinue<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub url: &'a str,
}

/// One paragraph on a security page: a confirmation or an error.
#[derive(Template)]
#[template(path = "security/notice.html")]
pub(crate) struct SecurityNotice<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub error: bool,
    pub id: Option<&'a str>,
}

pub(crate) struct PageSection {
    pub id: &'static str,
    /// Rendered and cleaned by the desk service.
    pub html: String,
}

pub(crate) struct KeyFacts {
    pub fingerprint: String,
    pub fingerprint_spaced: String,
    pub key_id: String,
    pub algorithm: String,
    pub expires: String,
}

impl KeyFacts {
    pub fn of(key: &PublishedKey) -> KeyFacts {
        let v = &key.view;
        KeyFacts {
            fingerprint: v.fingerprint.clone(),
            // In groups of four, as people compare them.
            fingerprint_spaced: v
                .fingerprint
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            key_id: v.key_id.clone(),
            algorithm: v.algorithm.clone(),
            expires: v.expires_at.clone().unwrap_or_else(|| "never".to_owned()),
        }
    }
}

#[derive(Template)]
#[template(path = "security/index.html")]
pub(crate) struct SecurityIndex<'a> {
    pub title: &'a str,
    pub sections: Vec<PageSection>,
    pub key: Option<KeyFacts>,
    pub names: Vec<String>,
}

/// The report form, with what the finder typed kept after an error.
#[derive(Template)]
#[template(path = "security/report.html")]
pub(crate) struct ReportForm<'a> {
    pub title: &'a str,
    pub error: Option<&'a str>,
    pub input: &'a ReportInput,
}

#[derive(Template)]
#[template(path = "security/received.html")]
pub(crate) struct ReportReceived<'a> {
    pub title: &'a str,
    pub code: &'a str,
}

#[derive(Template)]
#[template(path = "security/status_form.html")]
pub(crate) struct StatusForm<'a> {
    pub title: &'a str,
    pub error: Option<&'a str>,
}

/// The finder's report. The credential travels in hidden fields of each form (never in a URL).
#[derive(Template)]
#[template(path = "security/status.html")]
pub(crate) struct Status<'a> {
    pub title: &'a str,
    pub notice: Option<&'a str>,
    pub view: &'a FinderReportView,
    pub credential_name: &'a str,
    pub credential_value: &'a str,
}

impl<'a> Status<'a> {
    pub fn new(credential: FinderCredential<'a>, view: &'a FinderReportView, notice: Option<&'a str>) -> Status<'a> {
        let (credential_name, credential_value) = match credential {
            FinderCredential::ReceiptCode(code) => ("receipt_code", code),
            FinderCredential::StatusLink(link) => ("status_link", link),
        };
        Status { title: "Your report", notice, view, credential_name, credential_value }
    }
}

/// The public incident form, the receipt after it, or an incident's state for its receipt code.
#[derive(Template)]
#[template(path = "security/incident.html")]
pub(crate) struct IncidentPage<'a> {
    pub title: &'a str,
    pub error: Option<&'a str>,
    pub input: &'a domain::incident::IncidentInput,
    pub categories: Vec<(&'static str, &'static str)>,
    pub received: Option<&'a str>,
    pub state: Option<&'a services::desk::incidents::OutsiderIncidentView>,
}

#[derive(Template)]
#[template(path = "security/advisories.html")]
pub(crate) struct Advisories<'a> {
    pub title: &'a str,
    pub advisories: &'a [domain::advisory::PublishedAdvisory],
}

#[derive(Template)]
#[template(path = "security/advisory.html")]
pub(crate) struct Advisory<'a> {
    pub title: &'a str,
    pub a: &'a domain::advisory::PublishedAdvisory,
}

#[derive(Template)]
#[template(path = "security/verify.html")]
pub(crate) struct VerifyAddress<'a> {
    pub title: &'a str,
    pub token: &'a str,
}

/// Template filters.
mod filters {
    /// An RFC 3339 moment as people read it: "3 December 2026, 06:37 UTC". Text that is not
    /// such a moment passes through unchanged.
    pub fn readable_time<T: std::fmt::Display>(value: T, _: &dyn askama::Values) -> askama::Result<String> {
        let text = value.to_string();
        let format =
            time::macros::format_description!("[day padding:none] [month repr:long] [year], [hour]:[minute] UTC");
        Ok(time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .ok()
            .and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&format).ok())
            .unwrap_or(text))
    }
}

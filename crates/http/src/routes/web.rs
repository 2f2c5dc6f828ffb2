//! The web client's pages and assets, embedded in the binary (no front-end build step).
//!
//! Sign-in is a plain HTML form that works without JavaScript; the signed-in pages load their
//! script from `/assets/`, never inline, so the CSP can forbid inline script outright.

use crate::extract::ClientOrigin;
use crate::pages;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use domain::Role;
use serde::Deserialize;
use services::credentials::TotpEnrolment;
use services::sso::SsoStart;

const APP_HTML: &str = include_str!("../../assets/app.html");
const ADMIN_HTML: &str = include_str!("../../assets/admin.html");
const DESK_HTML: &str = include_str!("../../assets/desk.html");
const SETTINGS_HTML: &str = include_str!("../../assets/settings.html");

/// Embedded assets: name, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("../../assets/style.css")),
    ("favicon.svg", "image/svg+xml", include_str!("../../assets/favicon.svg")),
    ("signin.js", "text/javascript; charset=utf-8", include_str!("../../assets/signin.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../../assets/api.js")),
    ("guard.js", "text/javascript; charset=utf-8", include_str!("../../assets/guard.js")),
    ("markdown.js", "text/javascript; charset=utf-8", include_str!("../../assets/markdown.js")),
    ("live.js", "text/javascript; charset=utf-8", include_str!("../../assets/live.js")),
    ("settings.js", "text/javascript; charset=utf-8", include_str!("../../assets/settings.js")),
    ("chat.js", "text/javascript; charset=utf-8", include_str!("../../assets/chat.js")),
    ("admin.js", "text/javascript; charset=utf-8", include_str!("../../assets/admin.js")),
    ("policies.js", "text/javascript; charset=utf-8", include_str!("../../assets/policies.js")),
    ("desk.js", "text/javascript; charset=utf-8", include_str!("../../assets/desk.js")),
];

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    otp: Option<String>,
}

fn signin_page(status: StatusCode, error: Option<&str>, email: &str) -> Response {
    pages::render(status, &pages::SignIn::new(error, email))
}

/// The sign-in form with the one-time-code enrolment after it.
fn enrol_page(error: &str, email: &str, enrolment: &TotpEnrolment) -> Response {
    pages::render(
        StatusCode::FORBIDDEN,
        &pages::SignIn { enrolment: Some(enrolment), ..pages::SignIn::new(Some(error), email) },
    )
}

/// Shown when the password has expired: the same form, plus the new password, posted to
/// `/signin/expired` (and the enrolment when one-time codes are due as well).
fn expired_page(email: &str, error: Option<&str>, enrolment: Option<&TotpEnrolment>) -> Response {
    let error = error.unwrap_or("Your password has expired. Enter it once more with a new one.");
    pages::render(
        StatusCode::FORBIDDEN,
        &pages::SignIn { expired: true, enrolment, ..pages::SignIn::new(Some(error), email) },
    )
}

#[derive(Deserialize)]
struct SignInQuery {
    why: Option<String>,
}

/// GET /signin — the sign-in form, saying why when the person did not choose to be here.
async fn get_signin(
    query: Result<axum::extract::Query<SignInQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let notice = match query.as_ref().ok().and_then(|q| q.why.as_deref()) {
        Some("ended") => Some(
            "Your session ended: you were signed out on another device or by an administrator, or the \
             session ran out. Sign in again to continue.",
        ),
        Some("signed-out") => Some("You are signed out."),
        Some("wiped") => Some(
            "An administrator signed this device out, and what it held of Conclave was erased. Sign in \
             again if you may.",
        ),
        _ => None,
    };
    pages::render(StatusCode::OK, &pages::SignIn { notice, ..pages::SignIn::new(None, "") })
}

/// POST /signin — the form's target: sets the session cookie and goes to the app.
async fn post_signin(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return signin_page(StatusCode::BAD_REQUEST, Some("Enter your email and password."), "");
    };
    match super::sessions::sign_in(
        &state,
        &origin,
        &form.email,
        &form.password,
        form.otp.as_deref().filter(|o| !o.is_empty()),
    )
    .await
    {
        Ok(signed_in) => signed_in_page(&state, &signed_in),
        Err(problem) => {
            use crate::problem::Kind;
            match problem.kind {
                Kind::PasswordExpired => return expired_page(&form.email, None, None),
                Kind::SecondFactorEnrolmentRequired => {
                    let enrolment =
                        state.services.sessions.enrol_totp_at_sign_in(&origin, &form.email, &form.password).await;
                    return match enrolment {
                        Ok(e) => enrol_page(
                            "Set up your authenticator app, then enter your password and a code from it.",
                            &form.email,
                            &e,
                        ),
                        Err(_) => signin_page(
                            StatusCode::UNAUTHORIZED,
                            Some("That email and password do not match an active account."),
                            &form.email,
                        ),
                    };
                }
                _ => {}
            }
            let message = match problem.kind {
                Kind::RateLimited => "Too many attempts. Wait a minute and try again.".to_owned(),
                Kind::AccountLocked => {
                    format!("Too many failed sign-ins: this account is locked. {}.", capitalise(&problem.detail))
                }
                Kind::SecondFactorRequired => {
                    "Enter the one-time code from your authenticator app (or a recovery code).".to_owned()
                }
                Kind::InvalidCredentials => "That email, password or code does not match an active account.".to_owned(),
                Kind::InvalidField | Kind::PasswordPolicy => problem.detail.clone(),
                Kind::SsoRequired => {
                    "Your organisation signs in through single sign-on: use the form below.".to_owned()
                }
                _ => "Sign-in is unavailable right now. Try again shortly.".to_owned(),
            };
            problem.with_retry_after(signin_page(problem.status(), Some(&message), &form.email))
        }
    }
}

/// Where a browser goes once signed in: the app, or first a page with the recovery codes when
/// this sign-in completed a one-time-code enrolment (they are shown once, never again).
fn signed_in_page(state: &AppState, signed_in: &services::sessions::SignedIn) -> Response {
    let cookie =
        super::sessions::session_cookie(&signed_in.token, state.services.settings().session_lifetime.as_secs());
    let mut response = match &signed_in.recovery_codes {
        None => Redirect::to("/app").into_response(),
        Some(codes) => pages::render(StatusCode::OK, &pages::RecoveryCodes { title: "Recovery codes", codes }),
    };
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// The sign-in page for a rate-limited attempt, with Retry-After.
fn too_many(problem: &crate::problem::Problem, email: &str) -> Response {
    problem.with_retry_after(signin_page(
        problem.status(),
        Some("Too many attempts. Wait a minute and try again."),
        email,
    ))
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

#[derive(Deserialize)]
struct ExpiredForm {
    email: String,
    password: String,
    #[serde(default)]
    otp: Option<String>,
    new_password: String,
}

/// POST /signin/expired — replaces an expired password and signs in (no JavaScript needed).
async fn post_expired(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<ExpiredForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return signin_page(StatusCode::BAD_REQUEST, Some("Enter your email and passwords."), "");
    };
    let limited = state.check_sign_in_rate(origin.ip.as_deref()).and_then(|()| state.check_account_rate(&form.email));
    if let Err(problem) = limited {
        return too_many(&problem, &form.email);
    }
    let otp = form.otp.as_deref().filter(|o| !o.is_empty());
    match state
        .services
        .sessions
        .change_expired_password(&origin, &form.email, &form.password, otp, &form.new_password)
        .await
    {
        Ok(signed_in) => signed_in_page(&state, &signed_in),
        Err(e) => {
            let problem = crate::problem::Problem::from(e);
            if problem.kind == crate::problem::Kind::SecondFactorEnrolmentRequired {
                // One-time codes are due as well: show the secret; the next submission, with a code
                // from it, replaces the password and enrols in one step.
                if let Ok(enrolment) =
                    state.services.sessions.enrol_totp_at_sign_in(&origin, &form.email, &form.password).await
                {
                    let message = if otp.is_some() {
                        "That code did not match. Scan this new code, then submit again with a code from it."
                    } else {
                        "Your organisation requires one-time codes. Scan this code, then submit again with a code from your app."
                    };
                    return expired_page(&form.email, Some(message), Some(&enrolment));
                }
            }
            let message = match problem.kind {
                crate::problem::Kind::PasswordPolicy | crate::problem::Kind::InvalidField => {
                    format!("The new password was not accepted: {}.", problem.detail)
                }
                _ => "That email and password do not match an account with an expired password.".to_owned(),
            };
            expired_page(&form.email, Some(&message), None)
        }
    }
}

#[derive(Deserialize)]
struct SsoStartForm {
    email: String,
    /// "1" when an admin confirms who they are (A5): the provider is asked to authenticate them
    /// again, and the browser comes back to the admin console.
    #[serde(default)]
    fresh: Option<String>,
}

/// Remembers, for the few minutes a sign-in takes, that it confirms an admin.
const RETURN_COOKIE: &str = "__Host-conclave_return";

/// POST /sso/start — sends the browser to the identity provider (OpenID Connect or SAML) of the
/// email's domain.
async fn sso_start(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<SsoStartForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return signin_page(StatusCode::BAD_REQUEST, Some("Enter your work email."), "");
    };
    // Per address and per account, as for passwords: starting sign-ins for one person from many
    // addresses is limited too.
    let limited = state.check_sign_in_rate(origin.ip.as_deref()).and_then(|()| state.check_account_rate(&form.email));
    if let Err(problem) = limited {
        return too_many(&problem, &form.email);
    }
    // The provider sends the browser back to the configured public URL, never to a host the
    // request named: a forged Host must not steer where the authorization code goes.
    let redirect_uri = format!("{}/sso/oidc/callback", state.services.core.settings().public_url);
    // Either way the browser keeps what binds the sign-in to it (login CSRF): the OpenID state,
    // or the SAML request id.
    let fresh = form.fresh.as_deref() == Some("1");
    let started = state.services.sso.start(&form.email, &redirect_uri, fresh).await.map(|start| match start {
        // Lax, not Strict: the provider sends the browser back with a cross-site navigation.
        SsoStart::Oidc { url, state } => (url, format!("{SSO_COOKIE}={state}; Path=/; Secure; HttpOnly; SameSite=Lax")),
        // None: the IdP posts the answer back across sites, and Lax cookies skip such posts.
        SsoStart::Saml { url, request_id } => {
            (url, format!("{SAML_COOKIE}={request_id}; Path=/; Secure; HttpOnly; SameSite=None"))
        }
    });
    match started {
        Ok((url, cookie)) => {
            let mut response = continue_page(&url);
            if let Ok(value) = HeaderValue::from_str(&format!("{cookie}; Max-Age=600")) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            if fresh {
                response.headers_mut().append(
                    header::SET_COOKIE,
                    HeaderValue::from_static(
                        "__Host-conclave_return=admin; Path=/; Secure; HttpOnly; SameSite=None; Max-Age=600",
                    ),
                );
            }
            response
        }
        Err(e) => {
            let problem = crate::problem::Problem::from(e);
            signin_page(problem.status(), Some(&problem.detail), &form.email)
        }
    }
}

#[derive(Deserialize)]
struct SsoCallback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// GET /sso/oidc/callback — the provider sends the browser back here with a code.
/// Holds the OpenID Connect state in the browser that started the sign-in.
const SSO_COOKIE: &str = "__Host-conclave_sso";
/// Holds the id of the SAML request this browser started.
const SAML_COOKIE: &str = "__Host-conclave_saml";

/// The value of the cookie `name`, if the request carries it.
fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(name).and_then(|rest| rest.strip_prefix('=')).map(str::to_owned))
        .next()
}

async fn sso_callback(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SsoCallback>,
) -> Response {
    let browser_state = cookie_value(&headers, SSO_COOKIE);
    if let Err(problem) = state.check_sign_in_rate(origin.ip.as_deref()) {
        return too_many(&problem, "");
    }
    let (Some(code), Some(sso_state)) = (q.code, q.state) else {
        if let Err(e) =
            state.services.sso.record_refused_sso_answer(&origin, services::SsoMethod::Oidc, q.error.as_deref()).await
        {
            return signin_page(
                crate::problem::Problem::from(e).status(),
                Some("Sign-in is unavailable right now."),
                "",
            );
        }
        let why = q
            .error
            .map(|e| format!("The identity provider answered: {e}."))
            .unwrap_or_else(|| "The identity provider's answer was incomplete.".to_owned());
        return signin_page(StatusCode::BAD_REQUEST, Some(&why), "");
    };
    match state.services.sso.oidc_callback(&origin, &code, &sso_state, browser_state.as_deref()).await {
        Ok(signed_in) => {
            let cookie =
                super::sessions::session_cookie(&signed_in.token, state.services.settings().session_lifetime.as_secs());
            let mut response = arrived_from_provider(&headers);
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static("__Host-conclave_sso=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"),
            );
            response
        }
        Err(e) => {
            let problem = crate::problem::Problem::from(e);
            signin_page(problem.status(), Some(&format!("Single sign-on failed: {}", problem.detail)), "")
        }
    }
}

/// A page that moves the browser on to `url` (see [`pages::SsoContinue`]).
fn continue_page(url: &str) -> Response {
    pages::render(
        StatusCode::OK,
        &pages::SsoContinue { title: "Single sign-on", text: "Continuing to your organisation's sign-in…", url },
    )
}

/// After a sign-in at the identity provider: a page of ours that moves on to the app. A redirect
/// would not do: the browser came here from the provider's site, and a redirect chain that began
/// on another site does not carry our SameSite=Strict session cookie, so `/app` would see no
/// session. A refresh from this page is a navigation that starts on our own site.
/// A sign-in that confirmed an admin goes back to the admin console.
fn arrived_from_provider(headers: &axum::http::HeaderMap) -> Response {
    let confirming = cookie_value(headers, RETURN_COOKIE).as_deref() == Some("admin");
    let url = if confirming { "/admin" } else { "/app" };
    let mut response = pages::render(
        StatusCode::OK,
        &pages::SsoContinue { title: "Signed in", text: "Signed in. Opening Conclave…", url },
    );
    if confirming {
        response.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static("__Host-conclave_return=; Path=/; Secure; HttpOnly; SameSite=None; Max-Age=0"),
        );
    }
    response
}

/// GET /saml/metadata — this service provider's SAML metadata, for the IdP's administrator.
async fn saml_metadata(State(state): State<AppState>) -> Response {
    let base = &state.services.core.settings().public_url;
    ([(header::CONTENT_TYPE, "application/samlmetadata+xml")], services::sso::saml::sp_metadata(base)).into_response()
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
}

/// POST /saml/acs — the assertion consumer service (HTTP-POST binding).
async fn saml_acs(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    headers: axum::http::HeaderMap,
    form: Result<Form<AcsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let browser_request = cookie_value(&headers, SAML_COOKIE);
    if let Err(problem) = state.check_sign_in_rate(origin.ip.as_deref()) {
        return too_many(&problem, "");
    }
    let Ok(Form(form)) = form else {
        if let Err(e) = state.services.sso.record_refused_sso_answer(&origin, services::SsoMethod::Saml, None).await {
            return signin_page(
                crate::problem::Problem::from(e).status(),
                Some("Sign-in is unavailable right now."),
                "",
            );
        }
        return signin_page(StatusCode::BAD_REQUEST, Some("The identity provider's answer was incomplete."), "");
    };
    match state.services.sso.saml_acs(&origin, &form.saml_response, browser_request.as_deref()).await {
        Ok(signed_in) => {
            let cookie =
                super::sessions::session_cookie(&signed_in.token, state.services.settings().session_lifetime.as_secs());
            let mut response = arrived_from_provider(&headers);
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static("__Host-conclave_saml=; Path=/; Secure; HttpOnly; SameSite=None; Max-Age=0"),
            );
            response
        }
        Err(e) => {
            let problem = crate::problem::Problem::from(e);
            signin_page(problem.status(), Some(&format!("Single sign-on failed: {}", problem.detail)), "")
        }
    }
}

fn page(html: &'static str) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// A signed-in page: without a session the browser goes to sign in; a console the person's roles
/// do not open shows a plain page saying so, not the console with buttons that would all fail
/// (the API refuses them either way). The page is only the shell (content comes through the
/// API), so a session locked behind its PIN gets it too and the page shows the lock screen.
fn console(
    auth: Result<crate::extract::AuthEvenLocked, crate::problem::Problem>,
    html: &'static str,
    needs: Option<Role>,
) -> Response {
    let Ok(crate::extract::AuthEvenLocked { auth, .. }) = auth else {
        return Redirect::to("/signin").into_response();
    };
    match needs {
        Some(role) if !auth.principal.roles.has(role) => {
            let (heading, text) = match role {
                Role::Security => (
                    "The security desk is for the security team",
                    "Your account does not have the security role. If you should triage reports, ask an \
                     enterprise admin to give you that role.",
                ),
                _ => (
                    "The admin console is for enterprise admins",
                    "Your account cannot manage people, teams or sign-in rules. If you need to, ask one of \
                     your organisation's enterprise admins.",
                ),
            };
            pages::render(
                StatusCode::FORBIDDEN,
                &pages::Message {
                    title: heading,
                    heading,
                    text,
                    link_href: "/app",
                    link_text: "Back to your conversations",
                },
            )
        }
        _ => page(html),
    }
}

/// The page of a link that works no more, or never did.
fn dead_link_page(status: StatusCode, text: &str) -> Response {
    pages::render(
        status,
        &pages::Message {
            title: "Link not usable",
            heading: "This link does not work",
            text,
            link_href: "/signin",
            link_text: "Go to the sign-in page",
        },
    )
}

fn account_heading(purpose: services::links::LinkPurpose) -> &'static str {
    match purpose {
        services::links::LinkPurpose::Invitation => "Welcome to Conclave",
        services::links::LinkPurpose::PasswordReset => "Set a new password",
    }
}

/// GET /account/{token} — the page behind an invitation or reset link.
async fn get_account(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.services.links.holder(&token).await {
        Ok(holder) => pages::render(
            StatusCode::OK,
            &pages::Account {
                title: account_heading(holder.purpose),
                heading: account_heading(holder.purpose),
                name: &holder.name,
                email: &holder.email,
                token: &token,
                error: None,
                done: None,
            },
        ),
        Err(e) => link_error(e),
    }
}

fn link_error(e: services::Error) -> Response {
    match e {
        services::Error::Gone(why) => dead_link_page(StatusCode::GONE, &capitalise(why)),
        services::Error::NotFound(_) => dead_link_page(
            StatusCode::NOT_FOUND,
            "It is not a link Conclave made, or it was copied only in part. Ask your administrator for a new one.",
        ),
        other => {
            let problem = crate::problem::Problem::from(other);
            dead_link_page(problem.status(), "Conclave could not check this link just now. Try again shortly.")
        }
    }
}

#[derive(Deserialize)]
struct AccountForm {
    password: String,
    password_again: String,
}

/// POST /account/{token} — sets the password through the link.
async fn post_account(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    Path(token): Path<String>,
    form: Result<Form<AccountForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let holder = match state.services.links.holder(&token).await {
        Ok(holder) => holder,
        Err(e) => return link_error(e),
    };
    let again = |status: StatusCode, error: &str| {
        pages::render(
            status,
            &pages::Account {
                title: account_heading(holder.purpose),
                heading: account_heading(holder.purpose),
                name: &holder.name,
                email: &holder.email,
                token: &token,
                error: Some(error),
                done: None,
            },
        )
    };
    let Ok(Form(form)) = form else {
        return again(StatusCode::BAD_REQUEST, "Enter the new password twice.");
    };
    if form.password != form.password_again {
        return again(StatusCode::UNPROCESSABLE_ENTITY, "The two passwords differ. Type the same one twice.");
    }
    match state.services.links.redeem(&origin, &token, &form.password).await {
        Ok(done) => pages::render(
            StatusCode::OK,
            &pages::Account {
                title: "Password set",
                heading: "Your password is set",
                name: &done.name,
                email: &done.email,
                token: "",
                error: None,
                done: Some("Sign in with your email and the password you just chose."),
            },
        ),
        Err(e @ (services::Error::Gone(_) | services::Error::NotFound(_))) => link_error(e),
        Err(e) => {
            let problem = crate::problem::Problem::from(e);
            again(problem.status(), &capitalise(&problem.detail))
        }
    }
}

/// The HTML answer for a browser that asked for an address nothing serves. Under the public
/// security pages the way back is to them (a finder has no conversations to go to).
pub(crate) fn not_found_page(path: &str) -> Response {
    let public = path.starts_with("/security") || path.starts_with("/.well-known");
    let (link_href, link_text) =
        if public { ("/security", "Go to the security pages") } else { ("/app", "Go to your conversations") };
    pages::render(
        StatusCode::NOT_FOUND,
        &pages::Message {
            title: "Not found",
            heading: "There is nothing at this address",
            text: "The link may be mistyped, or what it pointed to was removed.",
            link_href,
            link_text,
        },
    )
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app") }))
        .route("/signin", get(get_signin).post(post_signin))
        .route("/signin/expired", axum::routing::post(post_expired))
        .route("/sso/start", axum::routing::post(sso_start))
        .route("/sso/oidc/callback", get(sso_callback))
        .route("/saml/metadata", get(saml_metadata))
        .route("/saml/acs", axum::routing::post(saml_acs))
        .route("/app", get(|auth| async { console(auth, APP_HTML, None) }))
        .route("/settings", get(|auth| async { console(auth, SETTINGS_HTML, None) }))
        .route("/admin", get(|auth| async { console(auth, ADMIN_HTML, Some(Role::EnterpriseAdmin)) }))
        .route("/desk", get(|auth| async { console(auth, DESK_HTML, Some(Role::Security)) }))
        .route("/account/{token}", get(get_account).post(post_account))
        .route("/assets/{name}", get(asset))
        .route("/favicon.ico", get(|| async { asset(Path("favicon.svg".to_owned())).await }))
}

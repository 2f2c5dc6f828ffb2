//! The web client's pages and assets, embedded in the binary (no front-end build step).
//!
//! Sign-in is a plain HTML form that works without JavaScript; the signed-in pages load their
//! script from `/assets/`, never inline, so the CSP can forbid inline script outright.

use crate::extract::ClientOrigin;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

const SIGNIN_HTML: &str = include_str!("../../assets/signin.html");
const APP_HTML: &str = include_str!("../../assets/app.html");
const ADMIN_HTML: &str = include_str!("../../assets/admin.html");

/// Embedded assets: name, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("../../assets/style.css")),
    ("common.js", "text/javascript; charset=utf-8", include_str!("../../assets/common.js")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../assets/app.js")),
    ("chat.js", "text/javascript; charset=utf-8", include_str!("../../assets/chat.js")),
    ("admin.js", "text/javascript; charset=utf-8", include_str!("../../assets/admin.js")),
];

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn signin_page(status: StatusCode, error: Option<&str>, email: &str) -> Response {
    let alert = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(e))).unwrap_or_default();
    let body = SIGNIN_HTML.replace("<!--error-->", &alert).replace("{{email}}", &escape_html(email));
    (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

/// GET /signin — the sign-in form.
async fn get_signin() -> Response {
    signin_page(StatusCode::OK, None, "")
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
    match super::sessions::sign_in(&state, &origin, &form.email, &form.password).await {
        Ok(signed_in) => {
            let cookie =
                super::sessions::session_cookie(&signed_in.token, state.services.settings().session_lifetime.as_secs());
            let mut response = Redirect::to("/app").into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(problem) => {
            let message = match problem.status().as_u16() {
                429 => "Too many attempts. Wait a minute and try again.".to_owned(),
                401 => "That email and password do not match an active account.".to_owned(),
                422 => problem.detail.clone(),
                _ => "Sign-in is unavailable right now. Try again shortly.".to_owned(),
            };
            let mut response = signin_page(problem.status(), Some(&message), &form.email);
            if let Some(secs) = problem.retry_after() {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
    }
}

fn page(html: &'static str) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
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
        .route("/app", get(|| async { page(APP_HTML) }))
        .route("/admin", get(|| async { page(ADMIN_HTML) }))
        .route("/assets/{name}", get(asset))
}

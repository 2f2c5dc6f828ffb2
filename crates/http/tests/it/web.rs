//! The web client's server side: the no-JavaScript sign-in form and the embedded pages.

use crate::{app, req, PASSWORD};
use axum::http::{Method, StatusCode};
use domain::Role;

#[tokio::test]
async fn the_sign_in_form_sets_the_cookie_and_redirects() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let form = format!("email=ada%40acme.example&password={}", PASSWORD.replace(' ', "+"));
    let r = req(Method::POST, "/signin").raw("application/x-www-form-urlencoded", form).send(&app).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/app");
    let cookie = r.header("set-cookie");
    for attribute in ["__Host-conclave_session=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
}

#[tokio::test]
async fn a_failed_form_sign_in_shows_an_escaped_message() {
    let app = app().await;
    let form = "email=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%40x.example&password=wrongwrong";
    let r = req(Method::POST, "/signin").raw("application/x-www-form-urlencoded", form).send(&app).await;
    assert!(r.status.is_client_error());
    let html = r.text();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(!html.contains("<script>alert"), "input is escaped");
    assert!(r.header("set-cookie").is_empty());
}

#[tokio::test]
async fn pages_load_scripts_only_from_assets() {
    let app = app().await;
    for page in ["/signin", "/app", "/admin"] {
        let html = req(Method::GET, page).send(&app).await.text();
        for (i, _) in html.match_indices("<script") {
            assert!(html[i..].starts_with("<script src=\"/assets/"), "{page} has an inline script");
        }
        assert!(!html.contains(" style=\""), "{page} has an inline style");
    }
    let js = req(Method::GET, "/assets/common.js").send(&app).await;
    assert!(js.header("content-type").starts_with("text/javascript"));
    assert_eq!(req(Method::GET, "/assets/missing.js").send(&app).await.status, StatusCode::NOT_FOUND);
    assert_eq!(req(Method::GET, "/").send(&app).await.header("location"), "/app");
}

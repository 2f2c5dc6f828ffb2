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

/// Signs in through the form and returns the session cookie, as a browser would hold it.
async fn cookie_for(app: &crate::TestApp, email: &str) -> String {
    let form = format!("email={}&password={}", email.replace('@', "%40"), PASSWORD.replace(' ', "+"));
    let r = req(Method::POST, "/signin").raw("application/x-www-form-urlencoded", form).send(app).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    r.header("set-cookie").split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn consoles_need_a_session_and_say_plainly_when_they_are_not_for_your_role() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "mo@acme.example", Role::Member).await;
    app.user(e, "root@acme.example", Role::EnterpriseAdmin).await;
    for page in ["/app", "/admin", "/desk"] {
        let r = req(Method::GET, page).send(&app).await;
        assert_eq!((r.status, r.header("location")), (StatusCode::SEE_OTHER, "/signin"), "{page}");
    }
    let member = cookie_for(&app, "mo@acme.example").await;
    let home = req(Method::GET, "/app").header("cookie", &member).send(&app).await;
    assert_eq!(home.status, StatusCode::OK);
    for (page, words) in [("/admin", "for enterprise admins"), ("/desk", "for the security team")] {
        let r = req(Method::GET, page).header("cookie", &member).send(&app).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{page}");
        let html = r.text();
        assert!(html.contains(words) && html.contains("href=\"/app\""), "{page}: {html}");
        assert!(!html.contains("<script"), "{page}: no console code for a member");
    }
    let admin = cookie_for(&app, "root@acme.example").await;
    assert_eq!(req(Method::GET, "/admin").header("cookie", &admin).send(&app).await.status, StatusCode::OK);
    assert_eq!(req(Method::GET, "/desk").header("cookie", &admin).send(&app).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn browsers_get_an_error_page_api_clients_get_problem_json_and_there_is_a_favicon() {
    let app = app().await;
    let page = req(Method::GET, "/no/such/page")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send(&app)
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.text().contains("nothing at this address"), "{}", page.text());
    assert!(page.text().contains("href=\"/app\""), "the way back is to the app: {}", page.text());
    // A finder who mistyped a security page is sent back to those pages, not to the app.
    let public = req(Method::GET, "/security/no-such-advisory").header("accept", "text/html").send(&app).await;
    assert_eq!(public.status, StatusCode::NOT_FOUND);
    assert!(
        public.text().contains("href=\"/security\"") && !public.text().contains("href=\"/app\""),
        "{}",
        public.text()
    );
    let api = req(Method::GET, "/no/such/page").header("accept", "application/json").send(&app).await;
    assert_eq!(api.header("content-type"), "application/problem+json");
    let under_api = req(Method::GET, "/api/v1/nothing").header("accept", "text/html").send(&app).await;
    assert_eq!(
        (under_api.status, under_api.header("content-type")),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
    let icon = req(Method::GET, "/favicon.ico").send(&app).await;
    assert_eq!((icon.status, icon.header("content-type")), (StatusCode::OK, "image/svg+xml"));
    for path in ["/signin", "/security"] {
        assert!(req(Method::GET, path).send(&app).await.text().contains("rel=\"icon\""), "{path} names the icon");
    }
}

#[tokio::test]
async fn the_sign_in_page_says_why_you_were_signed_out() {
    let app = app().await;
    let ended = req(Method::GET, "/signin?why=ended").send(&app).await.text();
    assert!(ended.contains("Your session ended"), "{ended}");
    let chosen = req(Method::GET, "/signin?why=signed-out").send(&app).await.text();
    assert!(chosen.contains("You are signed out."));
    let plain = req(Method::GET, "/signin?why=%3Cb%3E").send(&app).await.text();
    assert!(!plain.contains("role=\"status\""), "an unknown reason shows nothing");
}

#[tokio::test]
async fn pages_load_scripts_only_from_assets() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "root@acme.example", Role::EnterpriseAdmin).await;
    let cookie = cookie_for(&app, "root@acme.example").await;
    for page in ["/signin", "/app", "/settings", "/admin", "/security"] {
        let html = req(Method::GET, page).header("cookie", &cookie).send(&app).await.text();
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(tag.contains(" src=\"/assets/"), "{page} has an inline script: {tag}");
        }
        assert!(!html.contains(" style=\""), "{page} has an inline style");
    }
    // Every module a page or another module imports is served: a missing one stops the page.
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for entry in std::fs::read_dir(&assets).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let text = std::fs::read_to_string(assets.join(&name)).unwrap_or_default();
        for (i, _) in text.match_indices("\"/assets/") {
            let path = &text[i + 1..i + 1 + text[i + 1..].find('"').unwrap()];
            let reply = req(Method::GET, path).send(&app).await;
            assert_eq!(reply.status, StatusCode::OK, "{name} refers to {path}, which is not served");
        }
    }
    let js = req(Method::GET, "/assets/api.js").send(&app).await;
    assert!(js.header("content-type").starts_with("text/javascript"));
    assert_eq!(req(Method::GET, "/assets/missing.js").send(&app).await.status, StatusCode::NOT_FOUND);
    assert_eq!(req(Method::GET, "/").send(&app).await.header("location"), "/app");
}

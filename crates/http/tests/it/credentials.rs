//! Password policy, password changes and one-time codes over HTTP: precise problems for each refusal.

use crate::{app, req, PASSWORD};
use axum::http::{Method, StatusCode};
use domain::Role;
use serde_json::json;

fn policy(overrides: serde_json::Value) -> serde_json::Value {
    let mut base = json!({
        "min_length": 12, "required_classes": [], "min_strength": 2, "deny_words": [], "history": 5,
        "max_age_days": null, "lockout_threshold": 3, "lockout_minutes": 10, "require_second_factor": false
    });
    for (k, v) in overrides.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[tokio::test]
async fn policies_are_validated_and_enforced_with_every_failure_named() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "admin@acme.example", Role::EnterpriseAdmin).await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let admin = app.token("admin@acme.example").await;
    let ada = app.token("ada@acme.example").await;
    let path = format!("/api/v1/enterprises/{e}/password-policy");

    let stored_before = req(Method::GET, &path).bearer(&admin).send(&app).await.text();
    for (bad, field) in [
        (json!({ "min_length": 7 }), "min_length"),
        (json!({ "min_length": 257 }), "min_length"),
        (json!({ "required_classes": ["emoji"] }), "required_classes"),
        (json!({ "lockout_minutes": 0 }), "lockout_minutes"),
    ] {
        let r = req(Method::PUT, &path).bearer(&admin).json(&policy(bad)).send(&app).await;
        assert_eq!(r.problem(422, "invalid-field")["field"], field);
    }
    req(Method::PUT, &path).bearer(&ada).json(&policy(json!({}))).send(&app).await.problem(403, "forbidden");
    let stored_after = req(Method::GET, &path).bearer(&admin).send(&app).await.text();
    assert_eq!(stored_before, stored_after, "no refused policy was stored");
    let r = req(Method::PUT, &path)
        .bearer(&admin)
        .json(&policy(json!({ "required_classes": ["digit", "symbol"], "min_length": 16 })))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let read = req(Method::GET, &path).bearer(&ada).send(&app).await.json();
    assert_eq!(read["policy"]["min_length"], 16);

    let r = req(Method::POST, "/api/v1/me/password")
        .bearer(&ada)
        .json(&json!({ "current_password": PASSWORD, "new_password": "tidalquartz" }))
        .send(&app)
        .await;
    let problem = r.problem(422, "password-policy");
    let failed: Vec<&str> =
        problem["failures"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(failed[..3], ["min-length", "class:digit", "class:symbol"]);
    let r = req(Method::POST, "/api/v1/me/password")
        .bearer(&ada)
        .json(&json!({ "current_password": PASSWORD, "new_password": "Tidal-Quartz-Ember-1984!" }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());

    // Three wrong passwords lock the account: 429 with Retry-After, even for the right one.
    for _ in 0..3 {
        let r = req(Method::POST, "/api/v1/sessions")
            .json(&json!({ "email": "ada@acme.example", "password": "not it at all" }))
            .send(&app)
            .await;
        r.problem(401, "invalid-credentials");
    }
    let r = req(Method::POST, "/api/v1/sessions")
        .json(&json!({ "email": "ada@acme.example", "password": "Tidal-Quartz-Ember-1984!" }))
        .send(&app)
        .await;
    r.problem(429, "account-locked");
    assert!(r.header("retry-after").parse::<u64>().unwrap() > 500);
}

#[tokio::test]
async fn one_time_codes_over_http() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let ada = app.token("ada@acme.example").await;
    let started = req(Method::POST, "/api/v1/me/totp").bearer(&ada).send(&app).await.json();
    assert!(started["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let secret = crypto::totp::TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let r =
        req(Method::POST, "/api/v1/me/totp/confirm").bearer(&ada).json(&json!({ "code": "12345" })).send(&app).await;
    r.problem(422, "invalid-field");
    let step = domain::Millis::now().0 / 1000 / crypto::totp::STEP_SECONDS;
    let r = req(Method::POST, "/api/v1/me/totp/confirm")
        .bearer(&ada)
        .json(&json!({ "code": secret.code_at_step(step) }))
        .send(&app)
        .await;
    assert_eq!(r.json()["recovery_codes"].as_array().unwrap().len(), 10);

    let sign_in = |otp: Option<String>| {
        req(Method::POST, "/api/v1/sessions")
            .json(&json!({ "email": "ada@acme.example", "password": PASSWORD, "otp": otp }))
    };
    sign_in(None).send(&app).await.problem(401, "second-factor-required");
    let next = secret.code_at_step(step + 1);
    assert_eq!(sign_in(Some(next.clone())).send(&app).await.status, StatusCode::CREATED);
    sign_in(Some(next)).send(&app).await.problem(401, "invalid-credentials");
    let status = req(Method::GET, "/api/v1/me/totp").bearer(&ada).send(&app).await.json();
    assert_eq!((status["enabled"].as_bool(), status["recovery_codes_left"].as_i64()), (Some(true), Some(10)));
    req(Method::DELETE, "/api/v1/me/totp")
        .bearer(&ada)
        .json(&json!({ "password": "wrong" }))
        .send(&app)
        .await
        .problem(422, "invalid-field");
    let r = req(Method::DELETE, "/api/v1/me/totp").bearer(&ada).json(&json!({ "password": PASSWORD })).send(&app).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let events = app.store.audit_page(0, 1000).await.unwrap();
    let methods: Vec<&str> =
        events.iter().filter(|ev| ev.draft.action == "auth.sign-in").map(|ev| ev.draft.detail.as_str()).collect();
    assert!(methods.iter().any(|d| d.contains("\"password+totp\"")), "{methods:?}");
    assert!(methods.iter().any(|d| d.contains("code-required")), "{methods:?}");
}

/// The secret shown on a sign-in page (`<code id="totp-secret">`), and a current code from it.
fn code_from_page(html: &str) -> String {
    let at = html.find("id=\"totp-secret\">").expect("the page shows the key") + "id=\"totp-secret\">".len();
    let secret = &html[at..at + html[at..].find('<').unwrap()];
    let secret = crypto::totp::TotpSecret::from_base32(secret).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    secret.code_at_step(now / crypto::totp::STEP_SECONDS)
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!("{k}={}", v.replace('%', "%25").replace('@', "%40").replace(' ', "+").replace('!', "%21"))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn the_no_javascript_forms_enrol_at_sign_in_and_show_the_recovery_codes_once() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let required = domain::password_policy::PasswordPolicy {
        require_second_factor: true,
        ..domain::password_policy::PasswordPolicy::default()
    };
    app.services
        .credentials
        .put_password_policy(&services::Caller::Operator, &Default::default(), e, required)
        .await
        .unwrap();
    let post =
        |fields: &[(&str, &str)]| req(Method::POST, "/signin").raw("application/x-www-form-urlencoded", form(fields));
    let first = post(&[("email", "ada@acme.example"), ("password", PASSWORD)]).send(&app).await;
    assert_eq!(first.status, StatusCode::FORBIDDEN);
    assert!(first.header("set-cookie").is_empty(), "no session before the second factor");
    let code = code_from_page(&first.text());
    let done = post(&[("email", "ada@acme.example"), ("password", PASSWORD), ("otp", &code)]).send(&app).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.header("set-cookie").starts_with("__Host-conclave_session="));
    assert_eq!(done.header("cache-control"), "no-store");
    assert_eq!(done.text().matches("<li><code>").count(), 10, "the ten recovery codes, once");
    assert!(done.text().contains("href=\"/app\""));
}

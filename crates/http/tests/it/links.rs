//! Invitations and admin-started password resets: single-use links to set a password.

use crate::{app, req, PASSWORD};
use axum::http::{Method, StatusCode};
use domain::Role;
use serde_json::json;
use services::directory::NewUser;
use services::Caller;

fn form(password: &str, again: &str) -> String {
    format!("password={}&password_again={}", password.replace(' ', "+"), again.replace(' ', "+"))
}

#[tokio::test]
async fn an_invited_person_sets_a_password_once_through_the_link() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "root@acme.example", Role::EnterpriseAdmin).await;
    app.user(e, "mo@acme.example", Role::Member).await;
    let admin = app.token("root@acme.example").await;
    let new = NewUser {
        email: "ines@acme.example".into(),
        name: "Ines Invited".into(),
        roles: Role::Member.into(),
        via: None,
        password: None,
    };
    let ines = app.services.directory.create_user(&Caller::Operator, &Default::default(), e, new).await.unwrap();
    assert!(!ines.has_password);
    let path = format!("/api/v1/enterprises/{e}/users/{}/credential-links", ines.id);

    // Only enterprise admins make links; a member's attempt is refused and audited.
    let member = app.token("mo@acme.example").await;
    let denied_before = app.store.audit_count().await.unwrap();
    req(Method::POST, &path)
        .bearer(&member)
        .json(&json!({ "purpose": "invitation" }))
        .send(&app)
        .await
        .problem(403, "forbidden");
    assert_eq!(app.store.audit_count().await.unwrap(), denied_before + 1, "the refusal is audited");
    req(Method::POST, &path)
        .bearer(&admin)
        .json(&json!({ "purpose": "promotion" }))
        .send(&app)
        .await
        .problem(422, "invalid-field");

    let made = req(Method::POST, &path).bearer(&admin).json(&json!({ "purpose": "invitation" })).send(&app).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let link = made.json();
    let url = link["url"].as_str().unwrap();
    let token =
        url.strip_prefix("https://chat.example.org/account/").expect("the link names the public URL").to_owned();
    assert_eq!(link["mailed"], false, "no relay in tests: the admin copies the link");
    let page = req(Method::GET, &format!("/account/{token}")).send(&app).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Ines Invited") && page.text().contains("Welcome to Conclave"));

    // Mistakes leave the link usable: two different passwords, then one the policy refuses.
    let post =
        |body: String| req(Method::POST, &format!("/account/{token}")).raw("application/x-www-form-urlencoded", body);
    let differ = post(form(PASSWORD, "something else")).send(&app).await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.text().contains("differ"));
    let weak = post(form("short", "short")).send(&app).await;
    assert!(weak.status.is_client_error() && weak.text().contains("role=\"alert\""), "{}", weak.text());
    let set = post(form(PASSWORD, PASSWORD)).send(&app).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert!(set.text().contains("Your password is set"));
    // The password works, and the link does not work twice.
    app.token("ines@acme.example").await;
    let again = post(form(PASSWORD, PASSWORD)).send(&app).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.text().contains("This link does not work"));
    assert_eq!(req(Method::GET, &format!("/account/{token}")).send(&app).await.status, StatusCode::GONE);
    assert_eq!(req(Method::GET, "/account/not-a-real-token").send(&app).await.status, StatusCode::NOT_FOUND);
    // Ines has a password now: a second invitation makes no sense, a reset does.
    let twice = req(Method::POST, &path)
        .bearer(&admin)
        .json(&json!({ "purpose": "invitation" }))
        .send(&app)
        .await
        .problem(409, "conflict");
    assert_eq!(twice["field"], "purpose");
}

#[tokio::test]
async fn a_reset_signs_the_person_out_everywhere_and_only_the_newest_link_works() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "root@acme.example", Role::EnterpriseAdmin).await;
    let mo = app.user(e, "mo@acme.example", Role::Member).await;
    let admin = app.token("root@acme.example").await;
    let old_session = app.token("mo@acme.example").await;
    let path = format!("/api/v1/enterprises/{e}/users/{}/credential-links", mo.id);
    let token_of = |v: serde_json::Value| v["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let first = token_of(
        req(Method::POST, &path).bearer(&admin).json(&json!({ "purpose": "password-reset" })).send(&app).await.json(),
    );
    let second = token_of(
        req(Method::POST, &path).bearer(&admin).json(&json!({ "purpose": "password-reset" })).send(&app).await.json(),
    );
    assert_eq!(
        req(Method::GET, &format!("/account/{first}")).send(&app).await.status,
        StatusCode::GONE,
        "replaced by the newer link"
    );
    let page = req(Method::GET, &format!("/account/{second}")).send(&app).await;
    assert!(page.text().contains("Set a new password"));
    let new_password = "lantern meadow copper 42";
    let set = req(Method::POST, &format!("/account/{second}"))
        .raw("application/x-www-form-urlencoded", form(new_password, new_password))
        .send(&app)
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(
        req(Method::GET, "/api/v1/me").bearer(&old_session).send(&app).await.status,
        StatusCode::UNAUTHORIZED,
        "signed out everywhere"
    );
    let signed_in = req(Method::POST, "/api/v1/sessions")
        .json(&json!({ "email": "mo@acme.example", "password": new_password }))
        .send(&app)
        .await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.text());
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    let mo = app.user(e, "mo@acme.example", Role::Member).await;
    let token = "expired-link-token-for-the-test";
    let now = domain::Millis::now();
    let link = store::CredentialLinkRow {
        token_hash: crypto::token::hash(token),
        enterprise_id: e,
        user_id: mo.id,
        purpose: "password-reset".into(),
        created_by: None,
        created_at: domain::Millis(now.0 - 2 * 86_400_000),
        expires_at: domain::Millis(now.0 - 86_400_000),
        used_at: None,
    };
    let audit = domain::audit::AuditDraft {
        at: now,
        actor: domain::audit::Actor::Operator,
        origin: Default::default(),
        enterprise_id: Some(e),
        team_id: None,
        action: domain::audit::Action::CredentialLinkCreate,
        target: None,
        outcome: domain::audit::Outcome::Success,
        detail: "{}".into(),
    };
    app.store.create_credential_link(&link, &audit).await.unwrap();
    let page = req(Method::GET, &format!("/account/{token}")).send(&app).await;
    assert_eq!(page.status, StatusCode::GONE);
    let post = req(Method::POST, &format!("/account/{token}"))
        .raw("application/x-www-form-urlencoded", form(PASSWORD, PASSWORD))
        .send(&app)
        .await;
    assert_eq!(post.status, StatusCode::GONE);
}

//! Every malformed request gets a precise problem and writes nothing.

use crate::{app, req, TestApp};
use axum::http::Method;
use domain::Role;
use serde_json::json;

async fn admin_app() -> (TestApp, String, String) {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "admin@acme.example", Role::EnterpriseAdmin).await;
    let token = app.token("admin@acme.example").await;
    (app, e.to_string(), token)
}

#[tokio::test]
async fn bad_user_bodies_are_refused_with_field_and_rule_and_write_nothing() {
    let (app, e, token) = admin_app().await;
    let eid = domain::EnterpriseId::parse(&e).unwrap();
    app.user(eid, "taken@acme.example", Role::Member).await;
    let users_before = app.n_users(eid).await;
    let events_before = app.store.audit_count().await.unwrap();
    let path = format!("/api/v1/enterprises/{e}/users");
    let ok =
        json!({ "email": "new@acme.example", "name": "New Person", "role": "member", "password": "long enough pw" });
    let with = |key: &str, value: serde_json::Value| {
        let mut body = ok.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases: Vec<(serde_json::Value, u16, &str, &str, &str)> = vec![
        (with("extra", json!(1)), 422, "invalid-field", "extra", "unknown-field"),
        (without("email"), 422, "invalid-field", "email", "required"),
        (with("name", json!(5)), 422, "invalid-field", "name", "wrong-type"),
        (with("name", json!("   ")), 422, "invalid-field", "name", "empty"),
        (with("name", json!("n".repeat(101))), 422, "invalid-field", "name", "too-long"),
        (with("email", json!("not-an-email")), 422, "invalid-field", "email", "invalid-email"),
        (with("role", json!("owner")), 422, "invalid-field", "role", "invalid-value"),
        (with("password", json!("short")), 422, "invalid-field", "password", "too-short"),
        (with("email", json!("TAKEN@acme.example")), 409, "conflict", "email", "duplicate"),
    ];
    for (body, status, kind, field, rule) in cases {
        let reply = req(Method::POST, &path).bearer(&token).json(&body).send(&app).await;
        let problem = reply.problem(status, kind);
        assert_eq!(
            (problem["field"].as_str(), problem["rule"].as_str()),
            (Some(field), Some(rule)),
            "{body}: {problem}"
        );
        // The detail names the field as people do, once, never as `field: field: ...`.
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.to_lowercase().starts_with(field), "detail names the field: {problem}");
        assert!(!detail.contains(&format!("{field}:")), "no internal field prefix: {problem}");
    }
    assert_eq!(app.n_users(eid).await, users_before, "nothing written");
    assert_eq!(app.store.audit_count().await.unwrap(), events_before, "no audit event for refused input");
}

#[tokio::test]
async fn malformed_bodies_wrong_types_and_oversize_are_refused() {
    let (app, e, token) = admin_app().await;
    let eid = domain::EnterpriseId::parse(&e).unwrap();
    let users_before = app.n_users(eid).await;
    let path = format!("/api/v1/enterprises/{e}/users");
    let reply = req(Method::POST, &path).bearer(&token).raw("application/json", "{\"email\": ").send(&app).await;
    reply.problem(400, "malformed-body");
    let reply = req(Method::POST, &path).bearer(&token).raw("application/json", "{} {}").send(&app).await;
    assert!(reply.status.is_client_error());
    let reply = req(Method::POST, &path).bearer(&token).raw("application/json", "[1,2]").send(&app).await;
    reply.problem(422, "invalid-field");
    let reply = req(Method::POST, &path).bearer(&token).raw("text/plain", "{}").send(&app).await;
    reply.problem(415, "unsupported-media-type");
    let reply = req(Method::POST, &path).bearer(&token).send(&app).await;
    reply.problem(415, "unsupported-media-type");
    let huge = json!({ "email": "big@acme.example", "name": "x".repeat(300 * 1024), "role": "member" });
    let reply = req(Method::POST, &path).bearer(&token).json(&huge).send(&app).await;
    reply.problem(413, "payload-too-large");
    assert_eq!(app.n_users(eid).await, users_before);
}

#[tokio::test]
async fn malformed_ids_and_unknown_resources_are_not_found() {
    let (app, e, token) = admin_app().await;
    for path in [
        "/api/v1/enterprises/not-a-uuid/users".to_owned(),
        format!("/api/v1/enterprises/{e}/users/not-a-uuid"),
        format!("/api/v1/enterprises/{e}/teams/00000000-0000-0000-0000-000000000000/members"),
    ] {
        let method = if path.ends_with("not-a-uuid") { Method::PATCH } else { Method::GET };
        let reply = req(method, &path).bearer(&token).json(&json!({ "disabled": true })).send(&app).await;
        reply.problem(404, "not-found");
    }
    let reply =
        req(Method::DELETE, "/api/v1/me/devices/00000000-0000-0000-0000-000000000000").bearer(&token).send(&app).await;
    reply.problem(404, "not-found");
}

#[tokio::test]
async fn bad_sign_in_bodies_and_bad_audit_queries_are_precise() {
    let (app, e, token) = admin_app().await;
    let reply = req(Method::POST, "/api/v1/sessions").json(&json!({ "email": "admin@acme.example" })).send(&app).await;
    assert_eq!(reply.problem(422, "invalid-field")["field"], "password");
    let reply =
        req(Method::POST, "/api/v1/sessions").json(&json!({ "email": "nope", "password": "x" })).send(&app).await;
    assert_eq!(reply.problem(422, "invalid-field")["rule"], "invalid-email");
    let reply = req(Method::GET, &format!("/api/v1/enterprises/{e}/audit?limit=lots")).bearer(&token).send(&app).await;
    let problem = reply.problem(422, "invalid-field");
    assert_eq!((problem["field"].as_str(), problem["rule"].as_str()), (Some("limit"), Some("invalid-value")));
    assert!(!problem["detail"].as_str().unwrap().contains("digit"), "our words, not the parser's: {problem}");
    let reply = req(Method::GET, &format!("/api/v1/enterprises/{e}/audit?limit=2")).bearer(&token).send(&app).await;
    assert_eq!(reply.json().as_array().unwrap().len(), 2);
}

/// #14 item 7: the limits the API document states are the server's; each of those added with
/// them is refused by field (or, for a finder's credential, simply not found).
#[tokio::test]
async fn documented_limits_are_enforced_by_field() {
    let (app, e, token) = admin_app().await;
    let eid = domain::EnterpriseId::parse(&e).unwrap();
    app.user(eid, "sec@acme.example", Role::Security).await;
    let security = app.token("sec@acme.example").await;
    let field_of = |reply: crate::Reply| reply.problem(422, "invalid-field")["field"].as_str().unwrap().to_owned();
    let sign_in = json!({ "email": "admin@acme.example", "password": "wrong but short", "otp": "1".repeat(65) });
    assert_eq!(field_of(req(Method::POST, "/api/v1/sessions").json(&sign_in).send(&app).await), "otp");

    let roles = json!({ "email": "r@acme.example", "name": "R", "roles": vec!["member"; 5] });
    let users = format!("/api/v1/enterprises/{e}/users");
    assert_eq!(field_of(req(Method::POST, &users).bearer(&token).json(&roles).send(&app).await), "roles");

    let policies = format!("/api/v1/enterprises/{e}/message-policies");
    let devices = json!({ "name": "Five devices", "rules": { "devices": ["web", "web", "web", "web", "web"] } });
    assert_eq!(field_of(req(Method::POST, &policies).bearer(&token).json(&devices).send(&app).await), "devices");
    let stale = json!({ "name": "Any", "rules": {}, "expected_version": 0 });
    let one = format!("{policies}/{}", domain::MessagePolicyId::new());
    assert_eq!(field_of(req(Method::PUT, &one).bearer(&token).json(&stale).send(&app).await), "expected_version");

    let oidc = format!("/api/v1/enterprises/{e}/sso/oidc");
    let groups: Vec<String> = (0..101).map(|i| format!("group-{i}")).collect();
    let settings = json!({ "issuer": "https://idp.acme.example", "client_id": "conclave", "allowed_domains": ["acme.example"],
        "admin_groups": groups });
    let body = json!({ "settings": settings, "client_secret": "s" });
    assert_eq!(field_of(req(Method::PUT, &oidc).bearer(&token).json(&body).send(&app).await), "admin_groups");
    let body = json!({ "settings": { "issuer": "https://idp.acme.example", "client_id": "conclave",
        "allowed_domains": ["acme.example"] }, "client_secret": "s".repeat(1001) });
    assert_eq!(field_of(req(Method::PUT, &oidc).bearer(&token).json(&body).send(&app).await), "client_secret");
    let saml = format!("/api/v1/enterprises/{e}/sso/saml");
    let body = json!({ "idp_entity_id": "https://idp.acme.example/saml", "idp_sso_url": "https://idp.acme.example/sso",
        "idp_certificate": "A".repeat(70_000), "allowed_domains": ["acme.example"] });
    assert_eq!(field_of(req(Method::PUT, &saml).bearer(&token).json(&body).send(&app).await), "idp_certificate");

    let clocks = req(Method::GET, "/api/v1/desk/clocks").bearer(&security).send(&app).await.json();
    let mut long_zone = clocks.clone();
    long_zone["time_zone"] = json!(format!("Europe/{}", "x".repeat(64)));
    let put = |body: serde_json::Value| req(Method::PUT, "/api/v1/desk/clocks").bearer(&security).json(&body);
    assert_eq!(field_of(put(long_zone).send(&app).await), "time_zone");
    let mut eight = clocks.clone();
    eight["working_days"] =
        json!(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "monday"]);
    assert_eq!(field_of(put(eight).send(&app).await), "working_days");

    let audit = format!("/api/v1/enterprises/{e}/audit?before=-1");
    assert_eq!(field_of(req(Method::GET, &audit).bearer(&token).send(&app).await), "before");
    let audit = format!("/api/v1/enterprises/{e}/audit?ip={}", "1".repeat(46));
    assert_eq!(field_of(req(Method::GET, &audit).bearer(&token).send(&app).await), "ip");

    // A finder's credential longer than any issued is not found (the same answer as a wrong one).
    let status = req(Method::POST, "/api/v1/security/reports/status")
        .json(&json!({ "receipt_code": "A".repeat(65) }))
        .send(&app)
        .await;
    status.problem(404, "not-found");
    let status = req(Method::POST, "/api/v1/security/reports/status")
        .json(&json!({ "status_link": "a".repeat(129) }))
        .send(&app)
        .await;
    status.problem(404, "not-found");
}

//! Elevation for admin work (A5) and the PIN lock (A6), over the wire: the server refuses a
//! lapsed admin session with `reauthentication-required` and a locked one with `pin-required`,
//! whatever the client does.

use crate::{req, TestApp, PASSWORD};
use axum::http::Method;
use domain::{Millis, Role, SessionId};
use serde_json::{json, Value};

struct Office {
    app: TestApp,
    enterprise: String,
    admin: String,
    ada: String,
}

async fn office() -> Office {
    // The PIN and elevation routes share the per-person sign-in limit; these tests make more
    // attempts than a minute allows (the limit has tests of its own).
    let app = crate::app_with(http_api::HttpSettings { sign_in_per_minute: 100, ..Default::default() }).await;
    let e = app.enterprise("Acme").await;
    app.user(e, "root@acme.example", Role::EnterpriseAdmin).await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let admin = app.token("root@acme.example").await;
    let ada = app.token("ada@acme.example").await;
    Office { app, enterprise: e.to_string(), admin, ada }
}

async fn me(o: &Office, token: &str) -> Value {
    let reply = req(Method::GET, "/api/v1/me").bearer(token).send(&o.app).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// Ends the session's elevation as fifteen idle minutes would.
async fn lapse(o: &Office, token: &str) {
    let id = SessionId::parse(me(o, token).await["session_id"].as_str().unwrap()).unwrap();
    o.app.store.set_session_elevation(id, Millis(Millis::now().0 - 1), None).await.unwrap();
}

fn users(o: &Office) -> String {
    format!("/api/v1/enterprises/{}/users", o.enterprise)
}

#[tokio::test]
async fn a_lapsed_admin_session_must_authenticate_again_and_then_resumes() {
    let o = office().await;
    let signed_in = me(&o, &o.admin).await;
    assert!(signed_in["elevated_until"].is_string(), "an admin who just signed in is elevated: {signed_in}");
    assert!(me(&o, &o.ada).await["elevated_until"].is_null(), "a member is never elevated");
    assert_eq!(req(Method::GET, &users(&o)).bearer(&o.admin).send(&o.app).await.status, 200);

    lapse(&o, &o.admin).await;
    for (method, path, body) in [
        (Method::GET, users(&o), None),
        (Method::POST, users(&o), Some(json!({ "email": "new@acme.example", "name": "New", "role": "member" }))),
        (Method::GET, format!("/api/v1/enterprises/{}/audit", o.enterprise), None),
    ] {
        let mut r = req(method, &path).bearer(&o.admin);
        if let Some(body) = &body {
            r = r.json(body);
        }
        let reply = r.send(&o.app).await;
        assert!(
            reply.header("www-authenticate").contains("insufficient_user_authentication"),
            "the step-up challenge of RFC 9470"
        );
        reply.problem(401, "reauthentication-required");
    }
    assert_eq!(o.app.n_users(domain::EnterpriseId::parse(&o.enterprise).unwrap()).await, 2, "nothing was created");
    // Member routes do not need elevation.
    assert_eq!(req(Method::GET, "/api/v1/conversations").bearer(&o.admin).send(&o.app).await.status, 200);

    let elevation = "/api/v1/sessions/current/elevation";
    let wrong = req(Method::POST, elevation).bearer(&o.admin).json(&json!({ "password": "nope" })).send(&o.app).await;
    assert_eq!(wrong.problem(422, "invalid-field")["field"], "password");
    let missing = req(Method::POST, elevation).bearer(&o.admin).json(&json!({ "password": "" })).send(&o.app).await;
    assert_eq!(missing.problem(422, "invalid-field")["rule"], "required");
    let unknown = req(Method::POST, elevation)
        .bearer(&o.admin)
        .json(&json!({ "password": PASSWORD, "pin": 1 }))
        .send(&o.app)
        .await;
    assert_eq!(unknown.problem(422, "invalid-field")["field"], "pin");
    req(Method::GET, &users(&o)).bearer(&o.admin).send(&o.app).await.problem(401, "reauthentication-required");

    let ok = req(Method::POST, elevation).bearer(&o.admin).json(&json!({ "password": PASSWORD })).send(&o.app).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["window_minutes"], 15);
    assert_eq!(req(Method::GET, &users(&o)).bearer(&o.admin).send(&o.app).await.status, 200, "resumes");

    // Elevation gives no role: a member who authenticates again is still refused admin work.
    let member = req(Method::POST, elevation).bearer(&o.ada).json(&json!({ "password": PASSWORD })).send(&o.app).await;
    assert_eq!(member.status, 200);
    req(Method::GET, &users(&o)).bearer(&o.ada).send(&o.app).await.problem(403, "forbidden");

    // The refusal and both outcomes of re-authenticating are in the audit trail.
    let audit = req(Method::GET, &format!("/api/v1/enterprises/{}/audit?limit=100", o.enterprise))
        .bearer(&o.admin)
        .send(&o.app)
        .await
        .json();
    let events = audit["events"].as_array().or(audit.as_array()).unwrap().clone();
    let text = serde_json::to_string(&events).unwrap();
    assert!(text.contains("\\\"rule\\\":\\\"elevation\\\"") || text.contains("elevation"), "{text}");
    assert!(events.iter().filter(|e| e["action"] == "session.elevate").count() >= 3, "{text}");
}

#[tokio::test]
async fn the_window_is_the_enterprises_to_set_within_bounds() {
    let o = office().await;
    let path = format!("/api/v1/enterprises/{}/session-policy", o.enterprise);
    let read = req(Method::GET, &path).bearer(&o.ada).send(&o.app).await.json();
    assert_eq!(
        read,
        json!({ "elevation_minutes": 15, "pin_required": false, "pin_max_lock_minutes": 60, "pin_attempts": 5 })
    );
    let good = json!({ "elevation_minutes": 5, "pin_required": false, "pin_max_lock_minutes": 15, "pin_attempts": 3 });
    for (change, field) in [
        (json!({ "elevation_minutes": 4 }), "elevation_minutes"),
        (json!({ "elevation_minutes": 61 }), "elevation_minutes"),
        (json!({ "pin_max_lock_minutes": 7 }), "pin_max_lock_minutes"),
        (json!({ "pin_attempts": 11 }), "pin_attempts"),
        (json!({ "colour": "red" }), "colour"),
    ] {
        let mut body = good.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        let reply = req(Method::PUT, &path).bearer(&o.admin).json(&body).send(&o.app).await;
        assert_eq!(reply.problem(422, "invalid-field")["field"], field, "{body}");
    }
    req(Method::PUT, &path).bearer(&o.ada).json(&good).send(&o.app).await.problem(403, "forbidden");
    let saved = req(Method::PUT, &path).bearer(&o.admin).json(&good).send(&o.app).await;
    assert_eq!(saved.json(), good);
    let elevated = req(Method::POST, "/api/v1/sessions/current/elevation")
        .bearer(&o.admin)
        .json(&json!({ "password": PASSWORD }))
        .send(&o.app)
        .await
        .json();
    assert_eq!(elevated["window_minutes"], 5);
    // A lapsed admin cannot change the rules either.
    lapse(&o, &o.admin).await;
    req(Method::PUT, &path).bearer(&o.admin).json(&good).send(&o.app).await.problem(401, "reauthentication-required");
}

async fn set_pin(o: &Office, token: &str, body: Value) -> crate::Reply {
    req(Method::PUT, "/api/v1/me/pin").bearer(token).json(&body).send(&o.app).await
}

#[tokio::test]
async fn a_locked_session_sees_no_content_until_the_pin_is_entered() {
    let o = office().await;
    let content = "/api/v1/conversations";
    for (body, field) in [
        (json!({ "pin": "12a4", "lock_after_minutes": 5 }), "pin"),
        (json!({ "pin": "123", "lock_after_minutes": 5 }), "pin"),
        (json!({ "pin": "1234567890123", "lock_after_minutes": 5 }), "pin"),
        (json!({ "pin": "1234", "lock_after_minutes": 7 }), "lock_after_minutes"),
        (json!({ "pin": "1234", "lock_after_minutes": 5, "colour": 1 }), "colour"),
    ] {
        assert_eq!(set_pin(&o, &o.ada, body.clone()).await.problem(422, "invalid-field")["field"], field, "{body}");
    }
    req(Method::POST, "/api/v1/sessions/current/lock").bearer(&o.ada).send(&o.app).await.problem(422, "invalid-field");
    let set = set_pin(&o, &o.ada, json!({ "pin": "2468", "lock_after_minutes": 5 })).await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["lock_after_minutes"], 5);

    assert_eq!(req(Method::POST, "/api/v1/sessions/current/lock").bearer(&o.ada).send(&o.app).await.status, 204);
    let locked = req(Method::GET, content).bearer(&o.ada).send(&o.app).await.problem(423, "pin-required");
    assert_eq!(locked["pin_set"], true);
    req(Method::GET, "/api/v1/search?q=hello").bearer(&o.ada).send(&o.app).await.problem(423, "pin-required");
    assert_eq!(me(&o, &o.ada).await["pin"]["locked"], true, "the lock screen can still say who is locked");
    set_pin(&o, &o.ada, json!({ "pin": "1357", "lock_after_minutes": 5, "current_pin": "2468" }))
        .await
        .problem(423, "pin-required");

    let unlock = "/api/v1/sessions/current/unlock";
    let wrong = req(Method::POST, unlock).bearer(&o.ada).json(&json!({ "pin": "0000" })).send(&o.app).await;
    assert!(wrong.problem(422, "invalid-field")["detail"].as_str().unwrap().contains("4 more"), "{}", wrong.text());
    req(Method::GET, content).bearer(&o.ada).send(&o.app).await.problem(423, "pin-required");
    assert_eq!(req(Method::POST, unlock).bearer(&o.ada).json(&json!({ "pin": "2468" })).send(&o.app).await.status, 204);
    assert_eq!(req(Method::GET, content).bearer(&o.ada).send(&o.app).await.status, 200);

    // Changing the PIN needs the current one; removing it too.
    let change = set_pin(&o, &o.ada, json!({ "pin": "1357", "lock_after_minutes": 1 })).await;
    assert_eq!(change.problem(422, "invalid-field")["field"], "current_pin");
    let change = set_pin(&o, &o.ada, json!({ "pin": "1357", "lock_after_minutes": 1, "current_pin": "2468" })).await;
    assert_eq!(change.status, 200, "{}", change.text());
    let remove =
        req(Method::DELETE, "/api/v1/me/pin").bearer(&o.ada).json(&json!({ "current_pin": "1357" })).send(&o.app).await;
    assert_eq!(remove.json()["set"], false);
}

#[tokio::test]
async fn too_many_wrong_pins_end_the_session_and_wipe_the_device() {
    let o = office().await;
    assert_eq!(set_pin(&o, &o.ada, json!({ "pin": "2468", "lock_after_minutes": 0 })).await.status, 200);
    req(Method::POST, "/api/v1/sessions/current/lock").bearer(&o.ada).send(&o.app).await;
    let unlock = "/api/v1/sessions/current/unlock";
    for _ in 0..4 {
        req(Method::POST, unlock)
            .bearer(&o.ada)
            .json(&json!({ "pin": "1111" }))
            .send(&o.app)
            .await
            .problem(422, "invalid-field");
    }
    req(Method::POST, unlock)
        .bearer(&o.ada)
        .json(&json!({ "pin": "1111" }))
        .send(&o.app)
        .await
        .problem(401, "wipe-required");
    // The right PIN is too late now: the session ended and the device must erase.
    req(Method::POST, unlock)
        .bearer(&o.ada)
        .json(&json!({ "pin": "2468" }))
        .send(&o.app)
        .await
        .problem(401, "wipe-required");
    req(Method::GET, "/api/v1/conversations").bearer(&o.ada).send(&o.app).await.problem(401, "wipe-required");
    let ack = req(Method::POST, "/api/v1/sessions/wipe-acknowledgement").bearer(&o.ada).send(&o.app).await;
    assert_eq!(ack.status, 204);
    req(Method::GET, "/api/v1/conversations").bearer(&o.ada).send(&o.app).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn an_enterprise_that_requires_a_pin_holds_content_until_one_is_set() {
    let o = office().await;
    let path = format!("/api/v1/enterprises/{}/session-policy", o.enterprise);
    let rules = json!({ "elevation_minutes": 15, "pin_required": true, "pin_max_lock_minutes": 15, "pin_attempts": 5 });
    assert_eq!(req(Method::PUT, &path).bearer(&o.admin).json(&rules).send(&o.app).await.status, 200);
    let held = req(Method::GET, "/api/v1/conversations").bearer(&o.ada).send(&o.app).await.problem(423, "pin-required");
    assert_eq!(held["pin_set"], false);
    let view = me(&o, &o.ada).await;
    assert_eq!((view["pin"]["required"].clone(), view["pin"]["set"].clone()), (json!(true), json!(false)));
    let too_long = set_pin(&o, &o.ada, json!({ "pin": "2468", "lock_after_minutes": 30 })).await;
    assert_eq!(too_long.problem(422, "invalid-field")["field"], "lock_after_minutes");
    assert_eq!(set_pin(&o, &o.ada, json!({ "pin": "2468", "lock_after_minutes": 15 })).await.status, 200);
    assert_eq!(req(Method::GET, "/api/v1/conversations").bearer(&o.ada).send(&o.app).await.status, 200);
    let remove =
        req(Method::DELETE, "/api/v1/me/pin").bearer(&o.ada).json(&json!({ "current_pin": "2468" })).send(&o.app).await;
    assert_eq!(remove.problem(422, "invalid-field")["field"], "pin", "required by the organisation");
}

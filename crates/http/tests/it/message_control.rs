//! Message control over the wire: templates by API, a file under no-copy, forward, recall and
//! the `recalled` problem, and no trace of recalled plaintext in the database or the files.

use crate::{app, req, TestApp};
use axum::http::{Method, StatusCode};
use domain::Role;
use serde_json::{json, Value};

struct Office {
    app: TestApp,
    enterprise: String,
    admin: String,
    ada: String,
    bob: String,
    /// Ada and Bob.
    ab: String,
    /// Bob and Cy.
    bc: String,
}

async fn office() -> Office {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "root@acme.example", Role::EnterpriseAdmin).await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let bob = app.user(e, "bob@acme.example", Role::Member).await;
    let cy = app.user(e, "cy@acme.example", Role::Member).await;
    let (admin, ada, b) = (
        app.token("root@acme.example").await,
        app.token("ada@acme.example").await,
        app.token("bob@acme.example").await,
    );
    let open = |token: &str, other: String| {
        req(Method::POST, "/api/v1/conversations/direct").bearer(token).json(&json!({ "user_id": other }))
    };
    let ab = open(&ada, bob.id.to_string()).send(&app).await.json()["id"].as_str().unwrap().to_owned();
    let bc = open(&b, cy.id.to_string()).send(&app).await.json()["id"].as_str().unwrap().to_owned();
    Office { app, enterprise: e.to_string(), admin, ada, bob: b, ab, bc }
}

async fn create(o: &Office, body: Value) -> crate::Reply {
    let path = format!("/api/v1/enterprises/{}/message-policies", o.enterprise);
    req(Method::POST, &path).bearer(&o.admin).json(&body).send(&o.app).await
}

#[tokio::test]
async fn templates_are_managed_by_api_and_bad_ones_are_refused_by_field() {
    let o = office().await;
    for (body, field) in [
        (json!({ "name": "X", "rules": { "colour": "red" } }), "rules.colour"),
        (json!({ "name": "X", "rules": { "devices": ["fax"] } }), "rules.devices[0]"),
        (json!({ "name": "X", "rules": { "networks": ["10.0.0.0/99"] } }), "networks[0]"),
        (
            json!({ "name": "X", "rules": { "expire_after_seconds": 10, "burn_after_seconds": 20 } }),
            "burn_after_seconds",
        ),
    ] {
        let problem = create(&o, body).await.problem(422, "invalid-field");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let created = create(&o, json!({ "name": "Board", "rules": { "no_forward": true } })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let list = format!("/api/v1/enterprises/{}/message-policies", o.enterprise);
    let listed = req(Method::GET, &list).bearer(&o.ada).send(&o.app).await.json();
    assert_eq!(listed[0]["name"], "Board", "members list what they may pick");
    req(Method::POST, &list)
        .bearer(&o.ada)
        .json(&json!({ "name": "Mine" }))
        .send(&o.app)
        .await
        .problem(403, "forbidden");
    let one = format!("{list}/{id}");
    let updated = req(Method::PUT, &one)
        .bearer(&o.admin)
        .json(&json!({ "name": "Board only", "rules": { "no_forward": true }, "expected_version": 1 }))
        .send(&o.app)
        .await;
    assert_eq!(updated.json()["version"], 2);
    let retired = req(Method::DELETE, &one).bearer(&o.admin).send(&o.app).await;
    assert!(retired.json()["retired_at"].is_string());
    req(Method::DELETE, &one).bearer(&o.admin).send(&o.app).await.problem(409, "conflict");
    let send = format!("/api/v1/conversations/{}/messages", o.ab);
    let problem = req(Method::POST, &send)
        .bearer(&o.ada)
        .json(&json!({ "body": "hi", "policy_id": id }))
        .send(&o.app)
        .await
        .problem(422, "invalid-field");
    assert_eq!(problem["field"], "policy_id");
}

#[tokio::test]
async fn a_no_copy_file_is_shown_but_not_downloaded_and_a_no_forward_message_stays_put() {
    let o = office().await;
    let id = create(&o, json!({ "name": "Closed", "rules": { "no_copy": true, "no_forward": true } })).await.json()
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let upload = format!("/api/v1/conversations/{}/attachments?name=plan.txt&policy_id={id}", o.ab);
    let sent = req(Method::POST, &upload).bearer(&o.ada).raw("text/plain", "the plan").send(&o.app).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let message = sent.json();
    assert_eq!(message["control"]["no_copy"], true);
    let file = format!("/api/v1/conversations/{}/attachments/{}", o.ab, message["attachment"]["id"].as_str().unwrap());
    let refused = req(Method::GET, &file).bearer(&o.bob).send(&o.app).await.problem(403, "message-policy");
    assert!(refused["detail"].as_str().unwrap().contains("not downloaded"), "{refused}");
    let e = domain::EnterpriseId::parse(&o.enterprise).unwrap();
    let audit = o.app.services.compliance.enterprise_audit(&services::Caller::Operator, e, None, 20).await.unwrap();
    assert!(audit.iter().any(|ev| ev.action == "message.read" && ev.outcome == "denied"), "the refusal is audited");
    assert_eq!(req(Method::GET, &file).bearer(&o.ada).send(&o.app).await.status, StatusCode::OK, "the sender keeps it");
    let forward = format!("/api/v1/conversations/{}/messages/{}/forward", o.ab, message["id"].as_str().unwrap());
    let refused = req(Method::POST, &forward)
        .bearer(&o.bob)
        .json(&json!({ "conversation_id": o.bc }))
        .send(&o.app)
        .await
        .problem(403, "message-policy");
    assert!(refused["detail"].as_str().unwrap().contains("forbids forwarding"));
}

#[tokio::test]
async fn a_recalled_copy_answers_gone_and_leaves_no_plaintext_behind() {
    let o = office().await;
    let secret = "zebra-lantern-quartz";
    let send = format!("/api/v1/conversations/{}/messages", o.ab);
    let sent = req(Method::POST, &send).bearer(&o.ada).json(&json!({ "body": secret })).send(&o.app).await.json();
    let upload = format!("/api/v1/conversations/{}/attachments?name=notes.txt", o.ab);
    let file =
        req(Method::POST, &upload).bearer(&o.ada).raw("text/plain", format!("file {secret}")).send(&o.app).await.json();
    let mut copies = Vec::new();
    for original in [&sent, &file] {
        let path = format!("/api/v1/conversations/{}/messages/{}/forward", o.ab, original["id"].as_str().unwrap());
        let r = req(Method::POST, &path).bearer(&o.bob).json(&json!({ "conversation_id": o.bc })).send(&o.app).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        copies.push(r.json());
    }
    assert_eq!(copies[0]["forwarded"]["hops"], 1);
    let tree = format!("/api/v1/conversations/{}/messages/{}/forwards", o.ab, sent["id"].as_str().unwrap());
    let tree = req(Method::GET, &tree).bearer(&o.ada).send(&o.app).await.json();
    assert_eq!(tree["copies"].as_array().unwrap().len(), 1);
    for original in [&sent, &file] {
        let path = format!("/api/v1/conversations/{}/messages/{}/recall", o.ab, original["id"].as_str().unwrap());
        let receipt = req(Method::POST, &path).bearer(&o.ada).send(&o.app).await;
        assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.text());
        assert_eq!(receipt.json()["removed"], 2);
        req(Method::POST, &path).bearer(&o.ada).send(&o.app).await.problem(410, "recalled");
    }
    let copy = format!("/api/v1/conversations/{}/messages/{}", o.bc, copies[0]["id"].as_str().unwrap());
    req(Method::GET, &copy).bearer(&o.bob).send(&o.app).await.problem(410, "recalled");
    // The file is deleted and the database keeps no trace of the words.
    o.app.services.run_due_jobs().await.unwrap();
    let files: Vec<_> = std::fs::read_dir(o.app._dir.path().join("files")).unwrap().collect();
    assert!(files.is_empty(), "{files:?}");
    for entry in std::fs::read_dir(o.app._dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{path:?} holds the plaintext");
        }
    }
}

#[tokio::test]
async fn names_that_hide_or_reorder_text_are_refused_and_signed_in_answers_are_not_cached() {
    let o = office().await;
    // U+202E (right-to-left override) would make "invoice<U+202E>txt.exe" read as "invoiceexe.txt".
    let upload = format!("/api/v1/conversations/{}/attachments?name=invoice%E2%80%AEtxt.exe", o.ab);
    let problem = req(Method::POST, &upload)
        .bearer(&o.ada)
        .raw("text/plain", "x")
        .send(&o.app)
        .await
        .problem(422, "invalid-field");
    assert_eq!((problem["field"].as_str(), problem["rule"].as_str()), (Some("name"), Some("control-characters")));
    let group = req(Method::POST, "/api/v1/conversations/group")
        .bearer(&o.ada)
        .json(&json!({ "title": "Board\u{2066} room", "member_ids": [] }))
        .send(&o.app)
        .await
        .problem(422, "invalid-field");
    assert_eq!(group["field"], "title");
    let template = create(&o, json!({ "name": "Eyes\u{200F} only" })).await.problem(422, "invalid-field");
    assert_eq!(template["field"], "name");
    // Any answer to a signed-in request says no-store; the scheme is matched in any case.
    let list = req(Method::GET, "/api/v1/conversations")
        .header("authorization", &format!("bearer {}", o.ada))
        .send(&o.app)
        .await;
    assert_eq!(list.status, StatusCode::OK, "a lower-case scheme is accepted");
    assert_eq!(list.header("cache-control"), "no-store");
    let users = format!("/api/v1/enterprises/{}/users", o.enterprise);
    assert_eq!(req(Method::GET, &users).bearer(&o.admin).send(&o.app).await.header("cache-control"), "no-store");
}

#[tokio::test]
async fn the_new_endpoints_refuse_bad_input_by_field_and_write_nothing() {
    let o = office().await;
    let scheduled = format!("/api/v1/conversations/{}/scheduled", o.ab);
    for (body, field) in [
        (json!({ "body": "hi", "deliver_at": "tomorrow" }), "deliver_at"),
        (json!({ "body": "hi", "deliver_at": "2001-01-01T00:00:00Z" }), "deliver_at"),
        (json!({ "body": "", "deliver_at": "2099-01-01T00:00:00Z" }), "body"),
        (json!({ "body": "hi", "deliver_at": "2099-01-01T00:00:00Z", "policy_id": "x" }), "policy_id"),
        (json!({ "body": "hi", "deliver_at": "2099-01-01T00:00:00Z", "colour": 1 }), "colour"),
    ] {
        let problem =
            req(Method::POST, &scheduled).bearer(&o.ada).json(&body).send(&o.app).await.problem(422, "invalid-field");
        assert_eq!(problem["field"], field, "{body}");
    }
    assert_eq!(req(Method::GET, &scheduled).bearer(&o.ada).send(&o.app).await.json(), json!([]), "nothing was written");
    let default = format!("/api/v1/conversations/{}/default-policy", o.ab);
    let problem = req(Method::PUT, &default)
        .bearer(&o.admin)
        .json(&json!({ "policy_id": "nope" }))
        .send(&o.app)
        .await
        .problem(422, "invalid-field");
    assert_eq!(problem["field"], "policy_id");
    let sent = req(Method::POST, &format!("/api/v1/conversations/{}/messages", o.ab))
        .bearer(&o.ada)
        .json(&json!({ "body": "plain" }))
        .send(&o.app)
        .await
        .json();
    let forward = format!("/api/v1/conversations/{}/messages/{}/forward", o.ab, sent["id"].as_str().unwrap());
    let problem = req(Method::POST, &forward)
        .bearer(&o.bob)
        .json(&json!({ "conversation_id": "nope" }))
        .send(&o.app)
        .await
        .problem(422, "invalid-field");
    assert_eq!(problem["field"], "conversation_id");
    let reveal = format!("/api/v1/conversations/{}/messages/{}/reveal", o.ab, sent["id"].as_str().unwrap());
    let problem = req(Method::POST, &reveal).bearer(&o.bob).send(&o.app).await.problem(422, "invalid-field");
    assert_eq!(problem["field"], "message_id", "only burn-after-reading messages are revealed");
    let devices = format!("/api/v1/enterprises/{}/users/{}/devices/not-a-session", o.enterprise, uuid::Uuid::now_v7());
    req(Method::DELETE, &devices).bearer(&o.admin).send(&o.app).await.problem(404, "not-found");
    let ack = req(Method::POST, "/api/v1/sessions/wipe-acknowledgement").bearer(&o.bob).send(&o.app).await;
    ack.problem(404, "not-found");
}

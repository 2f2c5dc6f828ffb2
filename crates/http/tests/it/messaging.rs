//! Messaging over HTTP and the WebSocket, against a real listener for the live parts.

use crate::{app, req, TestApp};
use axum::http::{Method, StatusCode};
use domain::Role;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

pub(crate) struct Pair {
    pub(crate) app: TestApp,
    pub(crate) a: String,
    pub(crate) b: String,
    pub(crate) c: String,
    pub(crate) b_id: String,
    pub(crate) conversation: String,
}

pub(crate) async fn pair_for_files() -> Pair {
    pair().await
}

/// Ada and Bob in a direct conversation; Cy is in the enterprise but not in it.
async fn pair() -> Pair {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let bob = app.user(e, "bob@acme.example", Role::Member).await;
    app.user(e, "cy@acme.example", Role::Member).await;
    let a = app.token("ada@acme.example").await;
    let b = app.token("bob@acme.example").await;
    let c = app.token("cy@acme.example").await;
    let r = req(Method::POST, "/api/v1/conversations/direct")
        .bearer(&a)
        .json(&json!({ "user_id": bob.id }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let conversation = r.json()["id"].as_str().unwrap().to_owned();
    Pair { app, a, b, c, b_id: bob.id.to_string(), conversation }
}

async fn send(p: &Pair, token: &str, body: &str) -> Value {
    let r = req(Method::POST, &format!("/api/v1/conversations/{}/messages", p.conversation))
        .bearer(token)
        .json(&json!({ "body": body }))
        .send(&p.app)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn what_you_send_is_never_unread_for_you_and_receipts_survive_a_reload() {
    let p = pair().await;
    for i in 0..60 {
        send(&p, &p.b, &format!("note {i}")).await;
    }
    let bobs = req(Method::GET, "/api/v1/conversations").bearer(&p.b).send(&p.app).await.json();
    assert_eq!((bobs[0]["unread"].as_i64(), bobs[0]["last_read_seq"].as_i64()), (Some(0), Some(60)));
    let adas = req(Method::GET, "/api/v1/conversations").bearer(&p.a).send(&p.app).await.json();
    assert_eq!(adas[0]["unread"], 60);
    // Ada's list says how far Bob has read, so a fresh page can draw "seen" at once.
    assert_eq!(adas[0]["read_up_to"], json!([{ "user_id": p.b_id, "seq": 60 }]));
}

#[tokio::test]
async fn send_read_edit_delete_and_page_history() {
    let p = pair().await;
    let first = send(&p, &p.a, "hello Bob").await;
    assert_eq!((first["seq"].as_i64(), first["body"].as_str()), (Some(1), Some("hello Bob")));
    for i in 0..4 {
        send(&p, &p.b, &format!("reply {i}")).await;
    }
    let listed = req(Method::GET, "/api/v1/conversations").bearer(&p.a).send(&p.app).await.json();
    assert_eq!(listed[0]["unread"], 4, "Ada's own message is not unread for her");
    let path = format!("/api/v1/conversations/{}/messages", p.conversation);
    let newest = req(Method::GET, &format!("{path}?limit=2")).bearer(&p.a).send(&p.app).await.json();
    assert_eq!(newest.as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect::<Vec<_>>(), vec![5, 4]);
    let caught_up = req(Method::GET, &format!("{path}?after=3")).bearer(&p.a).send(&p.app).await.json();
    assert_eq!(caught_up.as_array().unwrap().len(), 2);
    let read = req(Method::POST, &format!("/api/v1/conversations/{}/read", p.conversation))
        .bearer(&p.a)
        .json(&json!({ "seq": 5 }))
        .send(&p.app)
        .await;
    assert_eq!(read.json()["last_read_seq"], 5);

    let msg = format!("{path}/{}", first["id"].as_str().unwrap());
    req(Method::PATCH, &msg)
        .bearer(&p.b)
        .json(&json!({ "body": "not yours" }))
        .send(&p.app)
        .await
        .problem(403, "forbidden");
    // Nothing was written: the text and the absence of an edit mark are as before.
    let history = req(Method::GET, &path).bearer(&p.a).send(&p.app).await.json();
    let unchanged = history.as_array().unwrap().iter().find(|m| m["id"] == first["id"]).unwrap().clone();
    assert_eq!((unchanged["body"].clone(), unchanged["edited_at"].is_null()), (first["body"].clone(), true));
    let edited =
        req(Method::PATCH, &msg).bearer(&p.a).json(&json!({ "body": "hello again" })).send(&p.app).await.json();
    assert_eq!(edited["body"], "hello again");
    assert!(edited["edited_at"].is_string());
    let deleted = req(Method::DELETE, &msg).bearer(&p.a).send(&p.app).await.json();
    assert_eq!((deleted["deleted"].as_bool(), deleted["body"].is_null()), (Some(true), true));
    req(Method::DELETE, &msg).bearer(&p.a).send(&p.app).await.problem(404, "not-found");
}

#[tokio::test]
async fn outsiders_get_the_same_answer_as_for_a_conversation_that_does_not_exist() {
    let p = pair().await;
    send(&p, &p.a, "private").await;
    let unknown = "00000000-0000-7000-8000-000000000000";
    for id in [p.conversation.as_str(), unknown] {
        let read = req(Method::GET, &format!("/api/v1/conversations/{id}/messages")).bearer(&p.c).send(&p.app).await;
        let sent = req(Method::POST, &format!("/api/v1/conversations/{id}/messages"))
            .bearer(&p.c)
            .json(&json!({ "body": "hi" }))
            .send(&p.app)
            .await;
        let got = req(Method::GET, &format!("/api/v1/conversations/{id}")).bearer(&p.c).send(&p.app).await;
        for r in [read, sent, got] {
            assert_eq!(r.problem(404, "not-found")["detail"], "no such conversation");
        }
    }
    let history = req(Method::GET, &format!("/api/v1/conversations/{}/messages", p.conversation))
        .bearer(&p.a)
        .send(&p.app)
        .await
        .json();
    assert_eq!(history.as_array().unwrap().len(), 1, "nothing was written by the outsider");
}

#[tokio::test]
async fn bad_messages_conversations_and_cursors_are_precise_and_write_nothing() {
    let p = pair().await;
    let path = format!("/api/v1/conversations/{}/messages", p.conversation);
    for (body, rule) in [
        (json!({ "body": "" }), "empty"),
        (json!({ "body": " \n" }), "empty"),
        (json!({ "body": "x".repeat(64 * 1024 + 1) }), "too-long"),
    ] {
        let r = req(Method::POST, &path).bearer(&p.a).json(&body).send(&p.app).await;
        assert_eq!(r.problem(422, "invalid-field")["rule"], rule);
    }
    let invalid_utf8 = b"{\"body\": \"\xff\xfe\"}".to_vec();
    req(Method::POST, &path)
        .bearer(&p.a)
        .raw("application/json", invalid_utf8)
        .send(&p.app)
        .await
        .problem(400, "malformed-body");
    req(Method::GET, &format!("{path}?before=abc")).bearer(&p.a).send(&p.app).await.problem(422, "invalid-field");
    req(Method::GET, &format!("{path}?before=3&after=1")).bearer(&p.a).send(&p.app).await.problem(422, "invalid-field");
    req(Method::GET, &format!("{path}?cursor=1")).bearer(&p.a).send(&p.app).await.problem(422, "invalid-field");
    let r = req(Method::GET, &format!("{path}?after=-1")).bearer(&p.a).send(&p.app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "after");
    // A client-chosen id must be a UUID.
    let bad_id = json!({ "body": "hello", "id": "not-a-uuid" });
    let r = req(Method::POST, &path).bearer(&p.a).json(&bad_id).send(&p.app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "id");
    let direct = "/api/v1/conversations/direct";
    let me = req(Method::GET, "/api/v1/me").bearer(&p.a).send(&p.app).await.json();
    let r = req(Method::POST, direct).bearer(&p.a).json(&json!({ "user_id": me["user"]["id"] })).send(&p.app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "user_id");
    req(Method::POST, direct)
        .bearer(&p.a)
        .json(&json!({ "user_id": "nope" }))
        .send(&p.app)
        .await
        .problem(422, "invalid-field");
    let other_e = p.app.enterprise("Other").await;
    let stranger = p.app.user(other_e, "s@other.example", Role::Member).await;
    req(Method::POST, direct)
        .bearer(&p.a)
        .json(&json!({ "user_id": stranger.id }))
        .send(&p.app)
        .await
        .problem(404, "not-found");
    let r = req(Method::POST, "/api/v1/conversations/group")
        .bearer(&p.a)
        .json(&json!({ "title": " ", "member_ids": [p.b_id] }))
        .send(&p.app)
        .await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "title");
    let history = req(Method::GET, &path).bearer(&p.a).send(&p.app).await.json();
    assert!(history.as_array().unwrap().is_empty());
    assert_eq!(
        req(Method::GET, "/api/v1/conversations").bearer(&p.a).send(&p.app).await.json().as_array().unwrap().len(),
        1
    );
}

/// Serves the test app on a real port (plain HTTP; TLS is the binary's job).
pub async fn listen(app: &TestApp) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    port
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(
    port: u16,
    token: &str,
    origin: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("ws://127.0.0.1:{port}/api/v1/ws").into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    assert_eq!(next_json(&mut socket).await["type"], "ready");
    Ok(socket)
}

async fn next_message(socket: &mut Socket) -> Message {
    tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("a frame within 5 s")
        .expect("open")
        .expect("ok")
}

pub(crate) async fn next_json(socket: &mut Socket) -> Value {
    match next_message(socket).await {
        Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

async fn close_code(socket: &mut Socket) -> u16 {
    match next_message(socket).await {
        Message::Close(Some(frame)) => frame.code.into(),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn members_see_messages_and_receipts_arrive_live() {
    let p = pair().await;
    let port = listen(&p.app).await;
    let mut bob = connect(port, &p.b, None).await.unwrap();
    let mut ada = connect(port, &p.a, Some(&format!("http://127.0.0.1:{port}"))).await.unwrap();
    let mut cy = connect(port, &p.c, None).await.unwrap();
    let sent = send(&p, &p.a, "live hello").await;
    for socket in [&mut bob, &mut ada] {
        let event = next_json(socket).await;
        assert_eq!(event["type"], "message-created");
        assert_eq!(event["message"]["body"], "live hello");
        assert_eq!(event["message"]["seq"], sent["seq"]);
    }
    req(Method::POST, &format!("/api/v1/conversations/{}/read", p.conversation))
        .bearer(&p.b)
        .json(&json!({ "seq": 1 }))
        .send(&p.app)
        .await;
    let receipt = next_json(&mut ada).await;
    assert_eq!(
        (receipt["type"].as_str(), receipt["user_id"].as_str(), receipt["seq"].as_i64()),
        (Some("receipt"), Some(p.b_id.as_str()), Some(1))
    );
    // Cy, not a member, got nothing: the next thing Cy sees is the answer to a ping.
    cy.send(Message::Text(r#"{"type":"ping"}"#.into())).await.unwrap();
    assert_eq!(next_json(&mut cy).await["type"], "pong");
}

#[tokio::test]
async fn bad_frames_close_only_that_connection_with_a_reason() {
    let p = pair().await;
    let port = listen(&p.app).await;
    let mut healthy = connect(port, &p.b, None).await.unwrap();
    let mut garbage = connect(port, &p.a, None).await.unwrap();
    garbage.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(close_code(&mut garbage).await, 1007);
    let mut binary = connect(port, &p.a, None).await.unwrap();
    binary.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(close_code(&mut binary).await, 1003);
    let mut oversized = connect(port, &p.a, None).await.unwrap();
    oversized.send(Message::Text("x".repeat(10_000).into())).await.unwrap();
    assert_eq!(close_code(&mut oversized).await, 1009);
    // A text frame that is not UTF-8 (sent as a raw frame: the client library would refuse it).
    let mut not_utf8 = connect(port, &p.a, None).await.unwrap();
    let frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![0xff_u8, 0xfe, 0xfd],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    not_utf8.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(close_code(&mut not_utf8).await, 1007);
    healthy.send(Message::Text(r#"{"type":"ping"}"#.into())).await.unwrap();
    assert_eq!(next_json(&mut healthy).await["type"], "pong");
    send(&p, &p.a, "still delivered").await;
    assert_eq!(next_json(&mut healthy).await["message"]["body"], "still delivered");
}

#[tokio::test]
async fn the_websocket_refuses_strangers_and_other_sites() {
    let p = pair().await;
    let port = listen(&p.app).await;
    assert!(connect(port, "made-up", None).await.is_err(), "an unknown token gets no socket");
    let err = connect(port, &p.a, Some("https://evil.example")).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let r = req(Method::GET, "/api/v1/ws").bearer(&p.a).send(&p.app).await;
    r.problem(400, "malformed-body");
}

#[tokio::test]
async fn members_see_their_enterprise_directory_only() {
    let p = pair().await;
    let other = p.app.enterprise("Other").await;
    p.app.user(other, "stranger@other.example", Role::Member).await;
    let people = req(Method::GET, "/api/v1/directory").bearer(&p.c).send(&p.app).await.json();
    let emails: Vec<&str> = people.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, vec!["ada@acme.example", "bob@acme.example", "cy@acme.example"]);
    req(Method::GET, "/api/v1/directory").send(&p.app).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn ending_a_session_closes_its_websocket_and_only_that_one() {
    let p = pair().await;
    let port = listen(&p.app).await;
    let other_session = p.app.token("ada@acme.example").await;
    let mut ending = connect(port, &p.a, None).await.unwrap();
    let mut staying = connect(port, &other_session, None).await.unwrap();
    let out = req(Method::DELETE, "/api/v1/sessions/current").bearer(&p.a).send(&p.app).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(next_json(&mut ending).await["type"], "session-ended");
    assert_eq!(close_code(&mut ending).await, 4001);
    staying.send(Message::Text(r#"{"type":"ping"}"#.into())).await.unwrap();
    assert_eq!(next_json(&mut staying).await["type"], "pong", "Ada's other session stays connected");
}

#[tokio::test]
async fn group_membership_changes_over_http_arrive_live_and_are_refused_precisely() {
    let p = pair().await;
    let port = listen(&p.app).await;
    let r = req(Method::POST, "/api/v1/conversations/group")
        .bearer(&p.a)
        .json(&json!({ "title": "Plans", "member_ids": [p.b_id] }))
        .send(&p.app)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let group = r.json()["id"].as_str().unwrap().to_owned();
    let members = format!("/api/v1/conversations/{group}/members");
    let cy_id = req(Method::GET, "/api/v1/me").bearer(&p.c).send(&p.app).await.json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut cy = connect(port, &p.c, None).await.unwrap();

    // Bob is not the owner; a malformed id; the direct conversation is not a group.
    let r = req(Method::POST, &members).bearer(&p.b).json(&json!({ "user_id": cy_id })).send(&p.app).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = req(Method::POST, &members).bearer(&p.a).json(&json!({ "user_id": "nope" })).send(&p.app).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = req(Method::POST, &format!("/api/v1/conversations/{}/members", p.conversation))
        .bearer(&p.a)
        .json(&json!({ "user_id": cy_id }))
        .send(&p.app)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["type"], "/problems/invalid-field");

    let r = req(Method::POST, &members).bearer(&p.a).json(&json!({ "user_id": cy_id })).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["member_ids"].as_array().unwrap().len(), 3);
    let joined = next_json(&mut cy).await;
    assert_eq!((joined["type"].as_str(), joined["user_id"].as_str()), (Some("member-joined"), Some(cy_id.as_str())));

    let r = req(Method::DELETE, &format!("{members}/{cy_id}")).bearer(&p.b).send(&p.app).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = req(Method::DELETE, &format!("{members}/{cy_id}")).bearer(&p.a).send(&p.app).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let left = next_json(&mut cy).await;
    assert_eq!((left["type"].as_str(), left["user_id"].as_str()), (Some("member-left"), Some(cy_id.as_str())));
    let r = req(Method::GET, &format!("/api/v1/conversations/{group}")).bearer(&p.c).send(&p.app).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = req(Method::DELETE, &format!("{members}/{cy_id}")).bearer(&p.a).send(&p.app).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let owner_id = req(Method::GET, "/api/v1/me").bearer(&p.a).send(&p.app).await.json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = req(Method::DELETE, &format!("{members}/{owner_id}")).bearer(&p.a).send(&p.app).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
}

#[tokio::test]
async fn reactions_are_emoji_counted_per_person_bounded_and_gone_with_their_message() {
    let p = pair().await;
    let m = send(&p, &p.a, "Shall we ship?").await;
    let id = m["id"].as_str().unwrap();
    let base = format!("/api/v1/conversations/{}/messages/{id}/reactions", p.conversation);
    let thumbs = "%F0%9F%91%8D"; // 👍
    for token in [&p.a, &p.b, &p.b] {
        let r = req(Method::PUT, &format!("{base}/{thumbs}")).bearer(token).send(&p.app).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let listed = req(Method::GET, &format!("/api/v1/conversations/{}/messages", p.conversation))
        .bearer(&p.b)
        .send(&p.app)
        .await
        .json();
    assert_eq!(
        listed[0]["reactions"],
        json!([{ "emoji": "👍", "count": 2, "user_ids": [listed[0]["sender_id"], p.b_id] }]),
        "once per person"
    );
    // Not an emoji, and not a member: refused, nothing changed.
    let word = req(Method::PUT, &format!("{base}/ok")).bearer(&p.a).send(&p.app).await.problem(422, "invalid-field");
    assert_eq!((word["field"].as_str(), word["rule"].as_str()), (Some("emoji"), Some("invalid-value")));
    req(Method::PUT, &format!("{base}/{thumbs}")).bearer(&p.c).send(&p.app).await.problem(404, "not-found");
    let elsewhere =
        format!("/api/v1/conversations/{}/messages/{}/reactions/{thumbs}", p.conversation, uuid::Uuid::now_v7());
    req(Method::PUT, &elsewhere).bearer(&p.a).send(&p.app).await.problem(404, "not-found");
    // Taking one back.
    let after = req(Method::DELETE, &format!("{base}/{thumbs}")).bearer(&p.b).send(&p.app).await.json();
    assert_eq!(after[0]["count"], 1);
    // At most 20 different emoji on one message.
    let emoji: Vec<char> = ('\u{1F600}'..='\u{1F614}').collect();
    for e in &emoji[..19] {
        let path = format!("{base}/{}", utf8_percent(&e.to_string()));
        assert_eq!(req(Method::PUT, &path).bearer(&p.a).send(&p.app).await.status, StatusCode::OK);
    }
    let over = format!("{base}/{}", utf8_percent(&emoji[19].to_string()));
    let refused = req(Method::PUT, &over).bearer(&p.a).send(&p.app).await.problem(409, "conflict");
    assert_eq!(refused["field"], "emoji");
    // Deleting the message takes its reactions with it.
    req(Method::DELETE, &format!("/api/v1/conversations/{}/messages/{id}", p.conversation))
        .bearer(&p.a)
        .send(&p.app)
        .await;
    req(Method::PUT, &format!("{base}/{thumbs}")).bearer(&p.b).send(&p.app).await.problem(404, "not-found");
    let listed = req(Method::GET, &format!("/api/v1/conversations/{}/messages", p.conversation))
        .bearer(&p.b)
        .send(&p.app)
        .await
        .json();
    assert_eq!(listed[0]["reactions"], json!([]));
}

fn utf8_percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn presence_comes_from_sessions_and_typing_is_for_members_only() {
    let p = pair().await;
    // Ada, Bob and Cy signed in (the pair made their tokens); a colleague who never did is offline.
    let e = p.app.services.directory.list_enterprises(&services::Caller::Operator).await.unwrap()[0].id;
    p.app.user(e, "dee@acme.example", Role::Member).await;
    let people = req(Method::GET, "/api/v1/directory").bearer(&p.a).send(&p.app).await.json();
    let presence = |email: &str| {
        people.as_array().unwrap().iter().find(|c| c["email"] == email).unwrap()["presence"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(presence("bob@acme.example"), "online");
    assert_eq!(presence("dee@acme.example"), "offline");
    let path = format!("/api/v1/conversations/{}/typing", p.conversation);
    assert_eq!(req(Method::POST, &path).bearer(&p.a).send(&p.app).await.status, StatusCode::NO_CONTENT);
    req(Method::POST, &path).bearer(&p.c).send(&p.app).await.problem(404, "not-found");
}

fn search_path(q: &str, more: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!("/api/v1/search?q={q}{more}")
}

async fn search(p: &Pair, token: &str, q: &str, more: &str) -> Vec<String> {
    let r = req(Method::GET, &search_path(q, more)).bearer(token).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json().as_array().unwrap().iter().map(|h| h["message"]["body"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn search_finds_words_and_phrases_where_you_may_read_and_stores_no_plaintext() {
    let p = pair().await;
    send(&p, &p.a, "The quarterly Zebra report is ready").await;
    let bobs = send(&p, &p.b, "Another zebra sighting, report follows").await;
    send(&p, &p.b, "Nothing to see here").await;
    assert_eq!(
        search(&p, &p.a, "zebra", "").await,
        ["Another zebra sighting, report follows", "The quarterly Zebra report is ready"],
        "newest first, any case"
    );
    assert_eq!(search(&p, &p.a, "zebra report", "").await.len(), 2, "every word, any order");
    assert_eq!(search(&p, &p.a, "\"quarterly zebra\"", "").await, ["The quarterly Zebra report is ready"]);
    assert!(search(&p, &p.a, "\"zebra quarterly\"", "").await.is_empty(), "a phrase keeps its order");
    assert_eq!(search(&p, &p.a, "zebra", &format!("&from={}", p.b_id)).await.len(), 1);
    assert_eq!(search(&p, &p.b, "zebra", &format!("&conversation_id={}", p.conversation)).await.len(), 2);
    assert!(search(&p, &p.a, "zebra", "&after=2999-01-01").await.is_empty());
    assert!(search(&p, &p.a, "zebra", "&has_file=true").await.is_empty());
    // Cy is in the enterprise but not in the conversation.
    assert!(search(&p, &p.c, "zebra", "").await.is_empty());
    // An edit replaces the words; a deletion removes them.
    let adas = search(&p, &p.a, "quarterly", "").await;
    assert_eq!(adas.len(), 1);
    let path = format!("/api/v1/conversations/{}/messages", p.conversation);
    let first = req(Method::GET, &format!("{path}?limit=10")).bearer(&p.a).send(&p.app).await.json();
    let ada_id = first.as_array().unwrap().iter().find(|m| m["seq"] == 1).unwrap()["id"].as_str().unwrap().to_owned();
    let r = req(Method::PATCH, &format!("{path}/{ada_id}"))
        .bearer(&p.a)
        .json(&json!({ "body": "annual figures" }))
        .send(&p.app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(search(&p, &p.a, "quarterly", "").await.is_empty());
    assert_eq!(search(&p, &p.a, "annual", "").await, ["annual figures"]);
    let r = req(Method::DELETE, &format!("{path}/{}", bobs["id"].as_str().unwrap())).bearer(&p.b).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(search(&p, &p.a, "sighting", "").await.is_empty());
    // The database holds no searched word in any form.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(p.app._dir.path()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            bytes.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&bytes).to_lowercase();
    for word in ["zebra", "quarterly", "annual", "sighting"] {
        assert!(!text.contains(word), "{word} is stored in plaintext");
    }
}

#[tokio::test]
async fn bad_searches_are_refused_precisely() {
    let p = pair().await;
    let refused = |path: String| {
        let p = &p;
        async move { req(Method::GET, &path).bearer(&p.a).send(&p.app).await.problem(422, "invalid-field") }
    };
    let empty = refused(search_path("  ", "")).await;
    assert_eq!((empty["field"].as_str(), empty["rule"].as_str()), (Some("q"), Some("empty")));
    let long = refused(search_path(&"a".repeat(201), "")).await;
    assert_eq!((long["field"].as_str(), long["rule"].as_str()), (Some("q"), Some("too-long")));
    let no_word = refused(search_path("- !", "")).await;
    assert_eq!(no_word["field"], "q");
    let missing = refused("/api/v1/search".to_owned()).await;
    assert_eq!((missing["field"].as_str(), missing["rule"].as_str()), (Some("q"), Some("required")));
    let unknown = refused(search_path("x1", "&colour=red")).await;
    assert_eq!((unknown["field"].as_str(), unknown["rule"].as_str()), (Some("colour"), Some("unknown-field")));
    assert_eq!(refused(search_path("x1", "&before=yesterday")).await["field"], "before");
    assert_eq!(refused(search_path("x1", "&has_file=maybe")).await["field"], "has_file");
    assert_eq!(refused(search_path("x1", "&from=bob")).await["field"], "from");
    assert_eq!(refused(search_path("x1", "&conversation_id=7")).await["field"], "conversation_id");
    let backwards = refused(search_path("x1", "&before=2026-01-01&after=2026-02-01")).await;
    assert_eq!(backwards["field"], "before");
    // Signed out: no search at all.
    assert_eq!(req(Method::GET, &search_path("zebra", "")).send(&p.app).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn threads_collect_replies_under_their_root_and_refuse_bad_roots() {
    let p = pair().await;
    let root = send(&p, &p.a, "Shall we move the launch to Friday?").await;
    let root_id = root["id"].as_str().unwrap();
    let path = format!("/api/v1/conversations/{}/messages", p.conversation);
    let reply = |token: &str, body: &str, to: &str| {
        req(Method::POST, &path).bearer(token).json(&json!({ "body": body, "thread_root_id": to }))
    };
    let r = reply(&p.b, "Friday works for me.", root_id).send(&p.app).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["thread_root_id"], root_id);
    reply(&p.a, "Then Friday it is.", root_id).send(&p.app).await;
    let history = req(Method::GET, &format!("{path}?limit=10")).bearer(&p.b).send(&p.app).await.json();
    let listed_root = history.as_array().unwrap().iter().find(|m| m["id"] == root_id).unwrap().clone();
    assert_eq!(listed_root["reply_count"], 2);
    assert!(listed_root["last_reply_at"].is_string());
    let thread = req(Method::GET, &format!("{path}/{root_id}/thread")).bearer(&p.b).send(&p.app).await.json();
    assert_eq!(thread["root"]["id"], root_id);
    let bodies: Vec<&str> = thread["replies"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Friday works for me.", "Then Friday it is."]);
    // Not a member: no thread. A reply to a reply, or to a message elsewhere: refused by field.
    req(Method::GET, &format!("{path}/{root_id}/thread")).bearer(&p.c).send(&p.app).await.problem(404, "not-found");
    let nested = thread["replies"][0]["id"].as_str().unwrap();
    let refused = reply(&p.a, "and another", nested).send(&p.app).await.problem(422, "invalid-field");
    assert_eq!((refused["field"].as_str(), refused["rule"].as_str()), (Some("thread_root_id"), Some("invalid-value")));
    let elsewhere = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        reply(&p.a, "lost", &elsewhere).send(&p.app).await.problem(422, "invalid-field")["field"],
        "thread_root_id"
    );
    assert_eq!(reply(&p.a, "lost", "nope").send(&p.app).await.problem(422, "invalid-field")["field"], "thread_root_id");
    let after = req(Method::GET, &format!("{path}/{root_id}/thread")).bearer(&p.a).send(&p.app).await.json();
    assert_eq!(after["replies"].as_array().unwrap().len(), 2, "nothing was added by the refusals");
    req(Method::GET, &format!("{path}/{nested}/thread")).bearer(&p.a).send(&p.app).await.problem(404, "not-found");
}

/// The conversation as `token` sees it in their list.
async fn listed(p: &Pair, token: &str) -> Value {
    let r = req(Method::GET, "/api/v1/conversations").bearer(token).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json().as_array().unwrap().iter().find(|c| c["id"] == p.conversation.as_str()).cloned().unwrap()
}

#[tokio::test]
async fn mentions_are_counted_by_the_server_apart_from_unread_and_survive_a_reload() {
    let p = pair().await;
    send(&p, &p.b, "morning all").await;
    send(&p, &p.b, "@Ada can you look? cy@acme.example knows too").await;
    send(&p, &p.b, "@channel standup in 5").await;
    // A name that is not a member of the conversation counts for nobody.
    send(&p, &p.b, "@cy are you there?").await;
    let ada = listed(&p, &p.a).await;
    assert_eq!(
        (ada["unread"].as_i64(), ada["mentions"].as_i64(), ada["everyone_mentions"].as_i64()),
        (Some(4), Some(1), Some(1))
    );
    // Bob's own mentions do not count for Bob.
    let bob = listed(&p, &p.b).await;
    assert_eq!((bob["unread"].as_i64(), bob["mentions"].as_i64()), (Some(0), Some(0)));
    // Editing the mention away takes it off the count.
    let edited = send(&p, &p.b, "@ada one more").await;
    assert_eq!(listed(&p, &p.a).await["mentions"], 2);
    let path = format!("/api/v1/conversations/{}/messages/{}", p.conversation, edited["id"].as_str().unwrap());
    let r = req(Method::PATCH, &path).bearer(&p.b).json(&json!({ "body": "one more" })).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(listed(&p, &p.a).await["mentions"], 1);
    // Reading clears them.
    let last = listed(&p, &p.a).await["last_seq"].as_i64().unwrap();
    let read = format!("/api/v1/conversations/{}/read", p.conversation);
    req(Method::POST, &read).bearer(&p.a).json(&json!({ "seq": last })).send(&p.app).await;
    let ada = listed(&p, &p.a).await;
    assert_eq!(
        (ada["unread"].as_i64(), ada["mentions"].as_i64(), ada["everyone_mentions"].as_i64()),
        (Some(0), Some(0), Some(0))
    );
}

#[tokio::test]
async fn muting_is_kept_by_the_server_for_the_one_member_only() {
    let p = pair().await;
    let path = format!("/api/v1/conversations/{}/preferences", p.conversation);
    assert_eq!(listed(&p, &p.a).await["muted"], false);
    let r = req(Method::PUT, &path).bearer(&p.a).json(&json!({ "muted": true })).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["muted"], true);
    assert_eq!(listed(&p, &p.a).await["muted"], true, "a fresh list, as another device sees it");
    assert_eq!(listed(&p, &p.b).await["muted"], false);
    req(Method::PUT, &path).bearer(&p.c).json(&json!({ "muted": true })).send(&p.app).await.problem(404, "not-found");
    let r = req(Method::PUT, &path).bearer(&p.a).json(&json!({ "muted": "yes" })).send(&p.app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "muted");
    let r = req(Method::PUT, &path).bearer(&p.a).json(&json!({ "muted": false, "loud": true })).send(&p.app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "loud");
    assert_eq!(listed(&p, &p.a).await["muted"], true, "refusals changed nothing");
}

#[tokio::test]
async fn page_sizes_out_of_range_are_refused_by_name_not_quietly_changed() {
    let p = pair().await;
    let path = |limit: &str| format!("/api/v1/conversations/{}/messages?limit={limit}", p.conversation);
    for limit in ["0", "201", "501"] {
        let problem = req(Method::GET, &path(limit)).bearer(&p.a).send(&p.app).await.problem(422, "invalid-field");
        assert_eq!(problem["field"], "limit", "{limit}");
    }
    for limit in ["1", "200"] {
        assert_eq!(req(Method::GET, &path(limit)).bearer(&p.a).send(&p.app).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_send_repeated_with_its_id_answers_200_with_the_stored_message_and_a_taken_id_409() {
    let p = pair().await;
    let path = format!("/api/v1/conversations/{}/messages", p.conversation);
    let id = domain::MessageId::new().to_string();
    let once = json!({ "body": "only once", "id": id });
    assert_eq!(req(Method::POST, &path).bearer(&p.a).json(&once).send(&p.app).await.status, 201);
    let again = req(Method::POST, &path).bearer(&p.a).json(&once).send(&p.app).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
    let taken = req(Method::POST, &path).bearer(&p.b).json(&json!({ "body": "mine", "id": id })).send(&p.app).await;
    assert_eq!(taken.problem(409, "conflict")["field"], "id");
    let history = req(Method::GET, &path).bearer(&p.a).send(&p.app).await.json();
    assert_eq!(history.as_array().unwrap().len(), 1, "stored once: {history}");
}

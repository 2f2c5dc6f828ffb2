//! Two Conclave nodes on one PostgreSQL database, with events between them over the real NATS
//! server: a message sent through node 1 reaches a WebSocket connected to node 2. Each node has
//! its own store pool, NATS connection, services and hub, as separate processes would.

use crate::messaging::{connect, listen, next_json};
use crate::{req, TestApp, PASSWORD};
use axum::http::{Method, StatusCode};
use domain::Role;
use serde_json::json;
use services::directory::NewUser;
use services::{Caller, KeyringSource, Services};
use std::sync::Arc;

async fn node(url: &str, schema: &str, ring: Arc<crypto::MasterKeyring>) -> Option<TestApp> {
    let nats_url = test_support::nats_url();
    let (store, bus) =
        match (store_postgres::connect_in_schema(url, Some(schema)).await, bus::NatsBus::connect(&nats_url).await) {
            (Ok(store), Ok(bus)) => (store, bus),
            (Err(e), _) => return skip(&e.to_string()),
            (_, Err(e)) => return skip(&e.to_string()),
        };
    let store: Arc<dyn store::Store> = Arc::new(store);
    let settings = test_support::settings();
    let services =
        Arc::new(Services::build(store.clone(), Arc::new(bus), KeyringSource::Fixed(ring), settings).await.unwrap());
    let state = http_api::AppState::new(services.clone(), None, http_api::HttpSettings::default());
    state.start_live().await.unwrap();
    Some(TestApp { router: http_api::app(state), services, store, _dir: tempfile::tempdir().unwrap() })
}

fn skip(why: &str) -> Option<TestApp> {
    test_support::skip_unless_ci("PostgreSQL or NATS", why)
}

#[tokio::test]
async fn a_message_sent_on_node_1_arrives_live_on_node_2() {
    let url = test_support::postgres_url();
    let schema = test_support::SchemaGuard(test_support::unique_schema("nodes"));
    let ring = Arc::new(crypto::MasterKeyring::generate());
    let Some(node1) = node(&url, &schema.0, ring.clone()).await else { return };
    let Some(node2) = node(&url, &schema.0, ring).await else { return };

    let e = node1
        .services
        .directory
        .create_enterprise(&Caller::Operator, &Default::default(), "Two Nodes Inc")
        .await
        .unwrap()
        .id;
    for email in ["ada@nodes.example", "bob@nodes.example"] {
        let new = NewUser {
            email: email.into(),
            name: email.into(),
            roles: Role::Member.into(),
            via: None,
            password: Some(PASSWORD.into()),
        };
        node1.services.directory.create_user(&Caller::Operator, &Default::default(), e, new).await.unwrap();
    }
    let ada = node1.token("ada@nodes.example").await;
    let bob = node2.token("bob@nodes.example").await;
    let bob_id = req(Method::GET, "/api/v1/me").bearer(&bob).send(&node2).await.json()["user"]["id"].clone();

    let port2 = listen(&node2).await;
    let mut bob_socket = connect(port2, &bob, None).await.unwrap();

    let conversation = req(Method::POST, "/api/v1/conversations/direct")
        .bearer(&ada)
        .json(&json!({ "user_id": bob_id }))
        .send(&node1)
        .await
        .json();
    let created = next_json(&mut bob_socket).await;
    assert_eq!(created["type"], "conversation-created");
    let path = format!("/api/v1/conversations/{}/messages", conversation["id"].as_str().unwrap());
    let sent = req(Method::POST, &path).bearer(&ada).json(&json!({ "body": "across the cluster" })).send(&node1).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let event = next_json(&mut bob_socket).await;
    assert_eq!(event["type"], "message-created");
    assert_eq!(event["message"]["body"], "across the cluster");

    // The nodes close their pools before the guard drops the schema.
    drop((node1, node2));
}

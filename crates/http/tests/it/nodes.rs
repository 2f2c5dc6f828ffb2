//! Two Conclave nodes on one PostgreSQL database, with events between them over the real NATS
//! server: a message sent through node 1 reaches a WebSocket connected to node 2. Each node has
//! its own store pool, NATS connection, services and hub, as separate processes would.

use crate::messaging::{connect, listen, next_json};
use crate::{req, TestApp, PASSWORD};
use axum::http::{Method, StatusCode};
use domain::Role;
use serde_json::json;
use services::directory::NewUser;
use services::{Caller, KeyringSource, Services, Settings};
use std::sync::Arc;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

async fn node(url: &str, schema: &str, ring: Arc<crypto::MasterKeyring>) -> Option<TestApp> {
    let nats_url = std::env::var("CONCLAVE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let (store, bus) = match (
        store_postgres::PostgresStore::connect_in_schema(url, Some(schema)).await,
        bus::NatsBus::connect(&nats_url).await,
    ) {
        (Ok(store), Ok(bus)) => (store, bus),
        (Err(e), _) => return skip(&e.to_string()),
        (_, Err(e)) => return skip(&e.to_string()),
    };
    let store: Arc<dyn store::Store> = Arc::new(store);
    let settings = Settings {
        password_cost: crypto::password::Cost { memory_kib: 64, iterations: 1, parallelism: 1 },
        ..Settings::default()
    };
    let services =
        Arc::new(Services::build(store.clone(), Arc::new(bus), KeyringSource::Fixed(ring), settings).await.unwrap());
    let state = http_api::AppState::new(services.clone(), None, http_api::HttpSettings::default());
    state.start_live().await.unwrap();
    Some(TestApp { router: http_api::app(state), services, store, _dir: tempfile::tempdir().unwrap() })
}

fn skip(why: &str) -> Option<TestApp> {
    assert!(!in_ci(), "PostgreSQL and NATS are required under CI: {why}");
    eprintln!("skipping the two-node test: {why}");
    None
}

#[tokio::test]
async fn a_message_sent_on_node_1_arrives_live_on_node_2() {
    let url = std::env::var("CONCLAVE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("nodes_{}", uuid::Uuid::new_v4().simple());
    let ring = Arc::new(crypto::MasterKeyring::generate());
    let Some(node1) = node(&url, &schema, ring.clone()).await else { return };
    let Some(node2) = node(&url, &schema, ring).await else { return };

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

    drop((node1, node2));
    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await;
    }
}

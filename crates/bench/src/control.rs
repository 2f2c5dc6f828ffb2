//! `control`: message control at scale, in-process on SQLite.
//!
//! - Recall: one message forwarded into 100 groups, 100 copies in each (a chain of 100 hops
//!   through the groups, and 99 copies of each group's first copy), 10,000 copies in all; one
//!   listener per group subscribed to live events (100 clients). Measured: until the recall call
//!   returns (the store holds no copy: one transaction), and until the last listener has been told.
//!   Baseline in the same run: recalling a message that was never forwarded.
//! - Policy cost: sending and reading history under a template with a network and device rule
//!   (evaluated for every reader and message) against the same without a template, interleaved
//!   in rounds so drift hits both alike; the figure is the ratio of the medians.

use domain::audit::Origin;
use domain::message_policy::ReaderDevice;
use domain::{ConversationId, Roles};
use futures_util::StreamExt as _;
use serde_json::json;
use services::messaging::policies::PolicyRules;
use services::messaging::{Event, LiveDelivery};
use services::{Caller, KeyringSource, Principal, Services, Settings};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";
const GROUPS: usize = 100;
const PER_GROUP: usize = 100;

pub fn run() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn store::Store> = Arc::new(store_sqlite::open(&dir.path().join("control.db")).await.unwrap());
        let settings = Settings {
            public_url: "https://bench.example".into(),
            // Sign-ins are not what is measured here.
            password_cost: crypto::password::Cost { memory_kib: 64, iterations: 1, parallelism: 1 },
            ..Settings::default()
        };
        let ring = Arc::new(crypto::MasterKeyring::generate());
        let services =
            Services::build(store, Arc::new(bus::InProcessBus::new(1 << 16)), KeyringSource::Fixed(ring), settings)
                .await
                .unwrap();
        recall(&services).await;
        policy_cost(&services).await;
    });
}

async fn person(services: &Services, e: domain::EnterpriseId, email: &str, roles: Roles) -> Principal {
    let origin = Origin::default();
    let new = services::directory::NewUser {
        email: email.into(),
        name: email.into(),
        roles,
        via: None,
        password: Some(PASSWORD.into()),
    };
    services.directory.create_user(&Caller::Operator, &origin, e, new).await.unwrap();
    services.sessions.sign_in(&origin, email, PASSWORD).await.unwrap().principal
}

async fn recall(services: &Services) {
    let origin = Origin::default();
    let e = services.directory.create_enterprise(&Caller::Operator, &origin, "Recall").await.unwrap().id;
    let author = person(services, e, "author@bench.example", Roles::MEMBER).await;
    let relay = person(services, e, "relay@bench.example", Roles::MEMBER).await;
    let mut groups: Vec<ConversationId> = Vec::with_capacity(GROUPS);
    for g in 0..GROUPS {
        let listener = person(services, e, &format!("listener{g}@bench.example"), Roles::MEMBER).await;
        let group =
            services.messaging.create_group(&relay, &origin, &format!("Group {g}"), &[listener.user_id]).await.unwrap();
        groups.push(group.id);
    }
    let dm = services.messaging.open_direct(&author, &origin, relay.user_id).await.unwrap().id;
    let original = services.messaging.send_message(&author, dm, "the figures were wrong").await.unwrap();
    let started = Instant::now();
    let mut parent = (dm, original.id);
    for group in &groups {
        let first = services.messaging.forward(&relay, &origin, parent.0, parent.1, *group).await.unwrap();
        for _ in 1..PER_GROUP {
            services.messaging.forward(&relay, &origin, *group, first.id, *group_other(&groups, *group)).await.unwrap();
        }
        parent = (*group, first.id);
    }
    let fill_s = started.elapsed().as_secs_f64();
    eprintln!("control: {} copies forwarded in {fill_s:.1} s", GROUPS * PER_GROUP);

    // Baseline: recalling a message nobody forwarded.
    let single = services.messaging.send_message(&author, dm, "a message never forwarded").await.unwrap();
    let t = Instant::now();
    services.messaging.recall(&author, &origin, dm, single.id).await.unwrap();
    let single_ms = t.elapsed().as_secs_f64() * 1000.0;

    let mut live = services.core.subscribe_events().await.unwrap();
    let t = Instant::now();
    let receipt = services.messaging.recall(&author, &origin, dm, original.id).await.unwrap();
    let stored_ms = t.elapsed().as_secs_f64() * 1000.0;
    // Every group's listener must hear about its copies.
    let mut told: HashSet<ConversationId> = HashSet::new();
    let mut removed = 0usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    while told.len() < GROUPS && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(10), live.next()).await {
            Ok(Some(LiveDelivery::Event(ev))) => {
                if let Event::MessagesRemoved { conversation_id, message_ids, .. } = &ev.event {
                    if groups.contains(conversation_id) {
                        told.insert(*conversation_id);
                        removed += message_ids.len();
                    }
                }
            }
            Ok(Some(LiveDelivery::Lagged(n))) => eprintln!("control: the subscriber lagged by {n}"),
            _ => break,
        }
    }
    let clients_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{}",
        json!({
            "bench": "control.recall",
            "copies": receipt.removed - 1,
            "conversations": receipt.conversations.len(),
            "listeners_told": told.len(),
            "copies_announced": removed,
            "store_ms": (stored_ms * 10.0).round() / 10.0,
            "last_client_ms": (clients_ms * 10.0).round() / 10.0,
            "baseline_single_recall_ms": (single_ms * 10.0).round() / 10.0,
            "target_ms": 2000,
            "note": "in-process: listeners are event subscribers on this node, not WebSockets; the store is SQLite",
        })
    );
}

/// Another group than `g` (copies of a group's first copy go into the next group).
fn group_other(groups: &[ConversationId], g: ConversationId) -> &ConversationId {
    let i = groups.iter().position(|x| *x == g).unwrap();
    &groups[(i + 1) % groups.len()]
}

async fn policy_cost(services: &Services) {
    let origin = Origin::default();
    let e = services.directory.create_enterprise(&Caller::Operator, &origin, "Policy").await.unwrap().id;
    let admin = person(services, e, "admin@policy.example", Roles::MEMBER.with(domain::Role::EnterpriseAdmin)).await;
    let ada = person(services, e, "ada@policy.example", Roles::MEMBER).await;
    let mut bob = person(services, e, "bob@policy.example", Roles::MEMBER).await;
    bob.origin.ip = Some("10.20.30.40".into());
    let rules = PolicyRules {
        networks: Some((0..16).map(|i| format!("10.{i}.0.0/16")).chain(["10.20.0.0/16".to_owned()]).collect()),
        devices: Some(vec![ReaderDevice::Web, ReaderDevice::Api]),
        expire_after_seconds: Some(86_400),
        ..PolicyRules::default()
    };
    let template =
        services.message_policies.create(&Caller::User(admin), &origin, e, "Office", &rules).await.unwrap().id;
    let carol = person(services, e, "carol@policy.example", Roles::MEMBER).await;
    // Two groups alike but for the template, so the difference is the policy's alone.
    let members = [bob.user_id, carol.user_id];
    let plain = services.messaging.create_group(&ada, &origin, "Plain", &members).await.unwrap().id;
    let controlled = services.messaging.create_group(&ada, &origin, "Controlled", &members).await.unwrap().id;
    let (rounds, per_round) = (20, 50);
    let (mut send_plain, mut send_policy, mut read_plain, mut read_policy) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        for (policy, conversation, out) in
            [(None, plain, &mut send_plain), (Some(template), controlled, &mut send_policy)]
        {
            let t = Instant::now();
            for n in 0..per_round {
                services.messaging.post(&ada, conversation, &format!("status report {n}"), None, policy).await.unwrap();
            }
            out.push(t.elapsed().as_secs_f64() * 1e6 / per_round as f64);
        }
        for (conversation, out) in [(plain, &mut read_plain), (controlled, &mut read_policy)] {
            let t = Instant::now();
            let page = services.messaging.list_messages(&bob, conversation, None, None, 200).await.unwrap();
            assert!(page.iter().all(|m| m.body.is_some()), "bob reads from inside the network");
            out.push(t.elapsed().as_secs_f64() * 1e6 / page.len() as f64);
        }
    }
    let (sp, sc, rp, rc) =
        (crate::median(send_plain), crate::median(send_policy), crate::median(read_plain), crate::median(read_policy));
    println!(
        "{}",
        json!({
            "bench": "control.policy-cost",
            "send_us_per_message": (sc * 10.0).round() / 10.0,
            "baseline_send_us_per_message": (sp * 10.0).round() / 10.0,
            "send_ratio": ((sc / sp) * 1000.0).round() / 1000.0,
            "read_us_per_message": (rc * 10.0).round() / 10.0,
            "baseline_read_us_per_message": (rp * 10.0).round() / 10.0,
            "read_ratio": ((rc / rp) * 1000.0).round() / 1000.0,
            "target_ratio": 1.10,
            "note": "read: a 200-message history page per round, each message evaluated for the reader (17 networks, 2 device kinds)",
        })
    );
}

//! The same behaviour from both buses; the NATS half talks to the real server at
//! `CONCLAVE_TEST_NATS_URL` (default `nats://127.0.0.1:4222`) and fails under `CI=true` if it
//! cannot.

use bus::{Bus, Delivery, InProcessBus, NatsBus};
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::time::Duration;

use test_support::nats_url;

async fn nats() -> Option<NatsBus> {
    match NatsBus::connect(&nats_url()).await {
        Ok(bus) => Some(bus),
        Err(e) => test_support::skip_unless_ci("NATS", e),
    }
}

/// A prefix no other test run shares, so parallel runs on one NATS server do not see each other.
fn prefix() -> String {
    format!("test{}", uuid::Uuid::new_v4().simple())
}

async fn next(sub: &mut bus::Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), sub.next()).await.expect("a delivery within 5 s").expect("open")
}

async fn delivers_exact_and_wildcard(publisher: &dyn Bus, subscriber: &dyn Bus) {
    let p = prefix();
    let mut exact = subscriber.subscribe(&format!("{p}.a")).await.unwrap();
    let mut below = subscriber.subscribe(&format!("{p}.>")).await.unwrap();
    publisher.publish(&format!("{p}.b"), Bytes::from_static(b"one")).await.unwrap();
    publisher.publish(&format!("{p}.a"), Bytes::from_static(b"two")).await.unwrap();
    assert_eq!(
        next(&mut exact).await,
        Delivery::Event { subject: format!("{p}.a"), payload: Bytes::from_static(b"two") }
    );
    assert_eq!(
        next(&mut below).await,
        Delivery::Event { subject: format!("{p}.b"), payload: Bytes::from_static(b"one") }
    );
    assert_eq!(
        next(&mut below).await,
        Delivery::Event { subject: format!("{p}.a"), payload: Bytes::from_static(b"two") }
    );
    assert!(publisher.publish(&format!("{p}.>"), Bytes::new()).await.is_err(), "no wildcard when publishing");
    assert!(subscriber.subscribe("bad subject").await.is_err());
}

#[tokio::test]
async fn in_process_delivers_exact_and_wildcard_subjects() {
    let bus = InProcessBus::default();
    delivers_exact_and_wildcard(&bus, &bus).await;
}

#[tokio::test]
async fn nats_delivers_between_two_connections_like_two_nodes() {
    let Some(node1) = nats().await else { return };
    let Some(node2) = nats().await else { return };
    delivers_exact_and_wildcard(&node1, &node2).await;
}

#[tokio::test]
async fn a_slow_in_process_subscriber_is_told_it_lagged_instead_of_buffering() {
    let bus = InProcessBus::new(4);
    let p = prefix();
    let mut slow = bus.subscribe(&format!("{p}.>")).await.unwrap();
    for i in 0..10u8 {
        bus.publish(&format!("{p}.x"), Bytes::from(vec![i])).await.unwrap();
    }
    assert_eq!(next(&mut slow).await, Delivery::Lagged(6));
    assert_eq!(next(&mut slow).await, Delivery::Event { subject: format!("{p}.x"), payload: Bytes::from(vec![6]) });
}

#[tokio::test]
async fn a_slow_nats_subscriber_is_told_it_lagged_instead_of_losing_events_silently() {
    let Some(publisher) = nats().await else { return };
    let subscriber = match NatsBus::connect_with_capacity(&nats_url(), 4).await {
        Ok(bus) => bus,
        Err(e) => panic!("NATS answered once but not twice: {e}"),
    };
    let p = prefix();
    let mut slow = subscriber.subscribe(&format!("{p}.>")).await.unwrap();
    // Nothing is reported while nothing is lost (the connection's own start is long past).
    assert!(tokio::time::timeout(Duration::from_millis(300), slow.next()).await.is_err(), "no gap yet");
    // Far more than the subscription's buffer of 4, while nobody reads: the client drops some.
    for i in 0..2_000u32 {
        publisher.publish(&format!("{p}.x"), Bytes::from(i.to_be_bytes().to_vec())).await.unwrap();
    }
    publisher.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut lagged = false;
    while let Ok(Some(delivery)) = tokio::time::timeout(Duration::from_secs(2), slow.next()).await {
        if matches!(delivery, Delivery::Lagged(_)) {
            lagged = true;
            break;
        }
    }
    assert!(lagged, "the dropped messages are reported as a gap");
}

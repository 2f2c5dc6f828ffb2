//! The bus (O2): how an event published on one node reaches the WebSocket hubs of every node.
//!
//! Two implementations behind [`Bus`]: [`InProcessBus`] for a single node (the default) and
//! [`NatsBus`] for several nodes sharing a NATS server. Subjects are dot-separated tokens; a
//! subscription may end in `>` to match every subject below a prefix, as in NATS.
//!
//! Architecture invariant: the bus is the only cross-node fan-out path. It carries events, never
//! the source of truth: a subscriber that falls behind is told so ([`Delivery::Lagged`]) and
//! resynchronises from the store instead of being buffered without bound.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt as _;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid subject {0:?}: use dot-separated tokens of letters, digits, '-' or '_', optionally ending in '>'"
    )]
    InvalidSubject(String),
    #[error("the bus is unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Event {
        subject: String,
        payload: Bytes,
    },
    /// This subscriber fell behind and `n` events were dropped for it; it must resynchronise.
    Lagged(u64),
}

pub type Subscription = BoxStream<'static, Delivery>;

#[async_trait]
pub trait Bus: Send + Sync {
    /// Publishes to an exact subject (no wildcard).
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<()>;
    /// Subscribes to an exact subject or a `prefix.>` pattern.
    async fn subscribe(&self, pattern: &str) -> Result<Subscription>;
    /// `in-process` or `nats`.
    fn kind(&self) -> &'static str;
}

fn check_subject(subject: &str, allow_wildcard: bool) -> Result<()> {
    let tokens: Vec<&str> = subject.split('.').collect();
    let last = tokens.len() - 1;
    let ok = tokens.iter().enumerate().all(|(i, t)| {
        (allow_wildcard && i == last && *t == ">")
            || (!t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    });
    if ok && subject.len() <= 256 {
        Ok(())
    } else {
        Err(Error::InvalidSubject(subject.to_owned()))
    }
}

/// Whether `subject` matches `pattern` (exact, or `prefix.>` for anything below `prefix`).
pub fn matches(pattern: &str, subject: &str) -> bool {
    match pattern.strip_suffix(">") {
        Some(prefix) => subject.len() > prefix.len() && subject.starts_with(prefix),
        None => pattern == subject,
    }
}

/// One node: a broadcast channel with a bounded buffer per subscriber.
pub struct InProcessBus {
    sender: tokio::sync::broadcast::Sender<(String, Bytes)>,
}

impl InProcessBus {
    /// `capacity` events may wait for the slowest subscriber before it is told it lagged.
    pub fn new(capacity: usize) -> InProcessBus {
        InProcessBus { sender: tokio::sync::broadcast::channel(capacity.max(1)).0 }
    }
}

impl Default for InProcessBus {
    fn default() -> InProcessBus {
        InProcessBus::new(4096)
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<()> {
        check_subject(subject, false)?;
        // No subscribers is not an error: nobody is connected to hear it.
        let _ = self.sender.send((subject.to_owned(), payload));
        Ok(())
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscription> {
        check_subject(pattern, true)?;
        let pattern = pattern.to_owned();
        let stream = tokio_stream::wrappers::BroadcastStream::new(self.sender.subscribe()).filter_map(move |item| {
            let delivery = match item {
                Ok((subject, payload)) if matches(&pattern, &subject) => Some(Delivery::Event { subject, payload }),
                Ok(_) => None,
                Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => Some(Delivery::Lagged(n)),
            };
            std::future::ready(delivery)
        });
        Ok(stream.boxed())
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}

/// Several nodes: core NATS publish/subscribe. Core NATS keeps nothing: messages dropped for a
/// slow subscriber, or published while this node was cut off from the server, are gone. The
/// client reports both as events, and every subscription then yields [`Delivery::Lagged`], so
/// the live layer tells its clients to fetch what they missed from the database.
pub struct NatsBus {
    client: async_nats::Client,
    gaps: tokio::sync::broadcast::Sender<u64>,
}

/// How many messages the NATS client buffers per subscription before it drops (and reports it).
const NATS_SUBSCRIPTION_CAPACITY: usize = 65_536;

impl NatsBus {
    pub async fn connect(url: &str) -> Result<NatsBus> {
        NatsBus::connect_with_capacity(url, NATS_SUBSCRIPTION_CAPACITY).await
    }

    /// As [`NatsBus::connect`], with the per-subscription buffer size (tests make it small).
    pub async fn connect_with_capacity(url: &str, capacity: usize) -> Result<NatsBus> {
        let (gaps, _) = tokio::sync::broadcast::channel(16);
        let signal = gaps.clone();
        let client = async_nats::ConnectOptions::new()
            .name("conclave")
            .connection_timeout(std::time::Duration::from_secs(5))
            .subscription_capacity(capacity.max(1))
            .event_callback(move |event| {
                let signal = signal.clone();
                async move {
                    match event {
                        // Dropped for a slow subscriber, or lost while disconnected (and not
                        // redelivered after the reconnect): either way, a gap.
                        async_nats::Event::SlowConsumer(_) | async_nats::Event::Disconnected => {
                            let _ = signal.send(1);
                        }
                        async_nats::Event::Connected => {
                            let _ = signal.send(1);
                        }
                        _ => {}
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to NATS at {url}: {e}")))?;
        Ok(NatsBus { client, gaps })
    }

    /// The largest message the server accepts, in bytes (its `max_payload`).
    pub fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// Waits until everything published so far has reached the server.
    pub async fn flush(&self) -> Result<()> {
        self.client.flush().await.map_err(|e| Error::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<()> {
        check_subject(subject, false)?;
        self.client.publish(subject.to_owned(), payload).await.map_err(|e| Error::Unavailable(e.to_string()))
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscription> {
        check_subject(pattern, true)?;
        let subscriber =
            self.client.subscribe(pattern.to_owned()).await.map_err(|e| Error::Unavailable(e.to_string()))?;
        // `flush` only empties the client's write buffer. To know the server has registered the
        // subscription before the caller relies on it, make one round trip on this connection:
        // a request nobody answers comes back as "no responders" after the SUB was processed.
        let probe = format!("_conclave.probe.{}", self.client.new_inbox().replace('.', "_"));
        match self.client.request(probe, Bytes::new()).await {
            Ok(_) => {}
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
            Err(e) => return Err(Error::Unavailable(format!("NATS did not confirm the subscription: {e}"))),
        }
        let events = subscriber.map(|m| Delivery::Event { subject: m.subject.to_string(), payload: m.payload });
        let gaps = tokio_stream::wrappers::BroadcastStream::new(self.gaps.subscribe()).map(|gap| match gap {
            Ok(n) => Delivery::Lagged(n),
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => Delivery::Lagged(n),
        });
        Ok(futures_util::stream::select(events, gaps).boxed())
    }

    fn kind(&self) -> &'static str {
        "nats"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_patterns() {
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
        assert!(!matches("a.>", "ab.c"));
        assert!(check_subject("conclave.enterprise.01-ab_c", false).is_ok());
        for bad in ["", "a..b", "a.>", "a b", "a.*"] {
            assert!(check_subject(bad, false).is_err(), "{bad}");
        }
        assert!(check_subject("a.>", true).is_ok());
        assert!(check_subject("a.>.b", true).is_err());
    }
}

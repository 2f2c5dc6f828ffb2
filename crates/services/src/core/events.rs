//! Live events, once for every domain: each is sealed under its enterprise's data key (bound to
//! its topic) and published on the bus, so NATS never carries plaintext; every node subscribes
//! once and its WebSocket hub hands each opened event to the local connections of its recipients.
//! Messaging publishes conversation events, identity `session-ended`; later domains add theirs.

use super::Core;
use crate::protocol::{Addressed, Event, LiveDelivery};
use crate::{Error, Result};
use bytes::Bytes;
use crypto::{Aad, DataKey};
use domain::{ConversationId, EnterpriseId, UserId};
use futures_util::StreamExt as _;
use std::sync::Arc;

/// The bus subject prefix for live events: `conclave.events.conversation.<id>` for a
/// conversation's events, `conclave.events.session.<user id>` for a user's session events.
pub const EVENTS_SUBJECT: &str = "conclave.events";

pub(crate) fn conversation_topic(id: ConversationId) -> String {
    format!("conversation.{id}")
}

impl Core {
    /// Seals and publishes. A bus failure is logged, not returned: the message is stored, and
    /// clients catch up from history when they notice the gap in sequence numbers.
    pub(crate) async fn publish(
        &self,
        enterprise: EnterpriseId,
        key: &DataKey,
        topic: &str,
        recipients: Vec<UserId>,
        event: Event,
    ) {
        let addressed = Addressed { recipients, event };
        let json = serde_json::to_vec(&addressed).expect("events serialise");
        let sealed = key.seal(&json, Aad { table: "bus", row: topic, column: "event" });
        let mut payload = Vec::with_capacity(16 + sealed.len());
        payload.extend_from_slice(enterprise.0.as_bytes());
        payload.extend_from_slice(&sealed);
        let subject = format!("{EVENTS_SUBJECT}.{topic}");
        if let Err(e) = self.bus.publish(&subject, Bytes::from(payload)).await {
            tracing::warn!(error = %e, "publishing a live event failed; clients will catch up from history");
        }
    }

    /// Tells every node that sessions of `user` ended (one, or all when `session` is `None`), so
    /// their WebSockets get `session-ended` and close.
    pub(crate) async fn publish_session_ended(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        session: Option<domain::SessionId>,
        wipe: bool,
    ) {
        match self.keys.enterprise_key(enterprise).await {
            Ok(key) => {
                let topic = format!("session.{user}");
                let event = Event::SessionEnded { session_id: session, wipe };
                self.publish(enterprise, &key, &topic, vec![user], event).await
            }
            Err(e) => tracing::warn!(error = %e, "could not announce an ended session"),
        }
    }

    /// Every live event published on any node, opened. The WebSocket hub of this node
    /// subscribes once and hands each event to the local connections of its recipients.
    pub async fn subscribe_events(self: &Arc<Self>) -> Result<futures_util::stream::BoxStream<'static, LiveDelivery>> {
        let stream =
            self.bus.subscribe(&format!("{EVENTS_SUBJECT}.>")).await.map_err(|e| Error::Unavailable(e.to_string()))?;
        let core = self.clone();
        Ok(stream
            .filter_map(move |delivery| {
                let core = core.clone();
                async move {
                    match delivery {
                        bus::Delivery::Lagged(n) => Some(LiveDelivery::Lagged(n)),
                        bus::Delivery::Event { subject, payload } => match core.open_event(&subject, &payload).await {
                            Ok(addressed) => Some(LiveDelivery::Event(Arc::new(addressed))),
                            Err(e) => {
                                tracing::warn!(error = %e, subject, "dropping a bus event that does not open");
                                None
                            }
                        },
                    }
                }
            })
            .boxed())
    }

    async fn open_event(&self, subject: &str, payload: &[u8]) -> Result<Addressed> {
        let topic = subject.strip_prefix(EVENTS_SUBJECT).and_then(|s| s.strip_prefix('.')).unwrap_or_default();
        if payload.len() < 16 {
            return Err(Error::Internal("short bus payload".into()));
        }
        let enterprise =
            EnterpriseId(uuid::Uuid::from_slice(&payload[..16]).map_err(|e| Error::Internal(e.to_string()))?);
        let key = self.keys.enterprise_key(enterprise).await?;
        let json = key.open(&payload[16..], Aad { table: "bus", row: topic, column: "event" })?;
        serde_json::from_slice(&json).map_err(|e| Error::Internal(e.to_string()))
    }
}

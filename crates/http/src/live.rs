//! The WebSocket hub: one bus subscription per node, fanned out to this node's connections.
//!
//! Each connection gets a bounded queue of pre-serialised events (shared `Arc<str>`, serialised
//! once per event, not once per recipient). A connection whose queue is full is cut off with
//! close code [`CLOSE_TOO_SLOW`] rather than buffered without bound; the client then fetches
//! history after the last sequence number it saw and reconnects. That is also the resume
//! protocol: on every (re)connect the server sends `{"type":"ready"}` once the connection is
//! registered, and the client catches up with `GET .../messages?after=<last seen seq>`.

use domain::{SessionId, UserId};
use futures_util::StreamExt as _;
use services::messaging::{Event, LiveDelivery};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Events a connection may have queued before it counts as too slow.
pub const QUEUE_PER_CONNECTION: usize = 256;
/// Close code: the client fell behind; it should catch up from history and reconnect.
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code: this node missed events on the bus; every client must resynchronise.
pub const CLOSE_RESYNC: u16 = 4009;
/// Close code: the session ended; the client erases what it holds and signs in again.
pub const CLOSE_SESSION_ENDED: u16 = 4001;

/// Why the hub dropped a connection's queue; the connection task turns it into a close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    TooSlow,
    Resync,
    SessionEnded,
}

pub(crate) struct Connection {
    id: u64,
    session: SessionId,
    sender: mpsc::Sender<Arc<str>>,
    cut: Arc<Mutex<Option<Cut>>>,
}

#[derive(Default)]
pub struct Hub {
    connections: Mutex<HashMap<UserId, Vec<Connection>>>,
    next_id: AtomicU64,
}

/// A registered connection's end: its queue, and why the hub cut it if it did.
pub(crate) struct Registration {
    pub id: u64,
    pub events: mpsc::Receiver<Arc<str>>,
    pub cut: Arc<Mutex<Option<Cut>>>,
}

impl Hub {
    pub(crate) fn register(&self, user: UserId, session: SessionId) -> Registration {
        let (sender, events) = mpsc::channel(QUEUE_PER_CONNECTION);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(Mutex::new(None));
        self.connections.lock().expect("hub lock").entry(user).or_default().push(Connection {
            id,
            session,
            sender,
            cut: cut.clone(),
        });
        metrics::gauge!("conclave_websocket_connections").increment(1.0);
        Registration { id, events, cut }
    }

    pub(crate) fn unregister(&self, user: UserId, id: u64) {
        let mut map = self.connections.lock().expect("hub lock");
        if let Some(list) = map.get_mut(&user) {
            let before = list.len();
            list.retain(|c| c.id != id);
            if list.len() < before {
                metrics::gauge!("conclave_websocket_connections").decrement(1.0);
            }
            if list.is_empty() {
                map.remove(&user);
            }
        }
    }

    /// Hands one event to every local connection of its recipients.
    fn dispatch(&self, recipients: &[UserId], text: Arc<str>) {
        let mut map = self.connections.lock().expect("hub lock");
        for user in recipients {
            let Some(list) = map.get_mut(user) else { continue };
            list.retain(|c| match c.sender.try_send(text.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    *c.cut.lock().expect("cut lock") = Some(Cut::TooSlow);
                    metrics::counter!("conclave_websocket_cut_total", "reason" => "too-slow").increment(1);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
    }

    /// Delivers `session-ended` to the connections of the ended session(s) and cuts them.
    fn end_sessions(&self, user: UserId, session: Option<SessionId>, text: Arc<str>) {
        let mut map = self.connections.lock().expect("hub lock");
        let Some(list) = map.get_mut(&user) else { return };
        list.retain(|c| {
            if session.is_some_and(|s| s != c.session) {
                return true;
            }
            let _ = c.sender.try_send(text.clone());
            *c.cut.lock().expect("cut lock") = Some(Cut::SessionEnded);
            false
        });
    }

    /// Cuts every connection (the node missed events).
    fn cut_all(&self) {
        let mut map = self.connections.lock().expect("hub lock");
        for c in map.values().flatten() {
            *c.cut.lock().expect("cut lock") = Some(Cut::Resync);
        }
        map.clear();
    }

    /// Subscribes to the bus and dispatches until the subscription ends.
    pub async fn start(self: &Arc<Self>, services: &Arc<services::Services>) -> Result<(), services::Error> {
        let mut events = services.core.subscribe_events().await?;
        let hub = self.clone();
        tokio::spawn(async move {
            while let Some(delivery) = events.next().await {
                match delivery {
                    LiveDelivery::Event(addressed) => {
                        let text: Arc<str> = serde_json::to_string(&addressed.event).expect("events serialise").into();
                        match addressed.event {
                            Event::SessionEnded { session_id } => {
                                for user in &addressed.recipients {
                                    hub.end_sessions(*user, session_id, text.clone());
                                }
                            }
                            _ => hub.dispatch(&addressed.recipients, text),
                        }
                    }
                    LiveDelivery::Lagged(n) => {
                        tracing::warn!(missed = n, "the hub fell behind the bus; asking every client to resynchronise");
                        hub.cut_all();
                    }
                }
            }
            tracing::warn!("the bus subscription ended; live delivery stopped");
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_that_stops_reading_is_cut_not_buffered() {
        let hub = Hub::default();
        let user = UserId::new();
        let mut slow = hub.register(user, SessionId::new());
        let mut fast = hub.register(user, SessionId::new());
        for i in 0..QUEUE_PER_CONNECTION {
            hub.dispatch(&[user], Arc::from(format!("{i}")));
            assert!(fast.events.try_recv().is_ok());
        }
        assert_eq!(*slow.cut.lock().unwrap(), None);
        hub.dispatch(&[user], Arc::from("one too many"));
        assert_eq!(*slow.cut.lock().unwrap(), Some(Cut::TooSlow));
        assert!(fast.events.try_recv().is_ok(), "the other connection is unaffected");
        // The slow one can drain what was queued, then sees its queue closed.
        let mut drained = 0;
        while slow.events.try_recv().is_ok() {
            drained += 1;
        }
        assert_eq!(drained, QUEUE_PER_CONNECTION);
        assert!(matches!(slow.events.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }

    #[test]
    fn events_reach_only_their_recipients() {
        let hub = Hub::default();
        let (a, b) = (UserId::new(), UserId::new());
        let mut ra = hub.register(a, SessionId::new());
        let mut rb = hub.register(b, SessionId::new());
        hub.dispatch(&[a], Arc::from("for a"));
        assert_eq!(&*ra.events.try_recv().unwrap(), "for a");
        assert!(rb.events.try_recv().is_err());
        hub.unregister(b, rb.id);
        hub.cut_all();
        assert_eq!(*ra.cut.lock().unwrap(), Some(Cut::Resync));
    }
}

#[cfg(test)]
mod session_tests {
    use super::*;

    #[test]
    fn ending_a_session_cuts_only_its_connections() {
        let hub = Hub::default();
        let user = UserId::new();
        let (laptop, phone) = (SessionId::new(), SessionId::new());
        let mut on_laptop = hub.register(user, laptop);
        let mut on_phone = hub.register(user, phone);
        hub.end_sessions(user, Some(phone), Arc::from("ended"));
        assert_eq!(*on_phone.cut.lock().unwrap(), Some(Cut::SessionEnded));
        assert_eq!(&*on_phone.events.try_recv().unwrap(), "ended", "the event arrives before the close");
        assert_eq!(*on_laptop.cut.lock().unwrap(), None);
        hub.end_sessions(user, None, Arc::from("all"));
        assert_eq!(*on_laptop.cut.lock().unwrap(), Some(Cut::SessionEnded));
        assert!(on_laptop.events.try_recv().is_ok());
    }
}

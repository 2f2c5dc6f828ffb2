//! The WebSocket hub: one bus subscription per node, fanned out to this node's connections.
//!
//! Each connection gets a bounded queue of pre-serialised events (shared `Arc<str>`, serialised
//! once per event, not once per recipient). A connection whose queue is full is cut off with
//! close code [`CLOSE_TOO_SLOW`] rather than buffered without bound; the client then fetches
//! history after the last sequence number it saw and reconnects. That is also the resume
//! protocol: on every (re)connect the server sends `{"type":"ready"}` once the connection is
//! registered, and the client catches up with `GET .../messages?after=<last seen seq>`.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use domain::{SessionId, UserId};
use futures_util::StreamExt as _;
use services::messaging::{Event, LiveDelivery};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// How often a live connection's pings are written down as session activity.
const SEEN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Largest frame a client may send; clients only send small control frames.
pub const MAX_CLIENT_FRAME: usize = 4096;
/// Events a connection may have queued before it counts as too slow.
pub const QUEUE_PER_CONNECTION: usize = 256;
/// Close code: the client fell behind; it should catch up from history and reconnect.
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code: this node missed events on the bus; every client must resynchronise.
pub const CLOSE_RESYNC: u16 = 4009;
/// Close code: the session ended; the client erases what it holds and signs in again.
pub const CLOSE_SESSION_ENDED: u16 = 4001;
/// The session locked behind its PIN (A6): unlock, then reconnect.
pub const CLOSE_LOCKED: u16 = 4003;
/// How often an open socket reads its session's lock state again at the latest.
const LOCK_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Keeps the connection gauge true when the hub lets go of `n` connections.
/// Whether a text frame from a client is the one message clients send: `{"type":"ping"}`.
pub fn is_client_ping(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).ok().is_some_and(|v| v == serde_json::json!({ "type": "ping" }))
}

fn removed(n: usize) {
    if n > 0 {
        metrics::gauge!("conclave_websocket_connections").decrement(n as f64);
    }
}

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

/// A registered connection's end: its queue, and why the hub cut it if it did. Dropping it
/// unregisters the connection, so no way out of a connection task (an error, a panic, a
/// cancelled future) can leave a dead entry in the hub.
pub(crate) struct Registration {
    pub id: u64,
    pub events: mpsc::Receiver<Arc<str>>,
    pub cut: Arc<Mutex<Option<Cut>>>,
    hub: Arc<Hub>,
    user: UserId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.user, self.id);
    }
}

impl Hub {
    pub(crate) fn register(self: &Arc<Self>, user: UserId, session: SessionId) -> Registration {
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
        Registration { id, events, cut, hub: self.clone(), user }
    }

    fn unregister(&self, user: UserId, id: u64) {
        let mut map = self.connections.lock().expect("hub lock");
        if let Some(list) = map.get_mut(&user) {
            let before = list.len();
            list.retain(|c| c.id != id);
            removed(before - list.len());
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
            let before = list.len();
            list.retain(|c| match c.sender.try_send(text.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    *c.cut.lock().expect("cut lock") = Some(Cut::TooSlow);
                    metrics::counter!("conclave_websocket_cut_total", "reason" => "too-slow").increment(1);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
            removed(before - list.len());
        }
    }

    /// Delivers `session-ended` to the connections of the ended session(s) and cuts them.
    fn end_sessions(&self, user: UserId, session: Option<SessionId>, text: Arc<str>) {
        let mut map = self.connections.lock().expect("hub lock");
        let Some(list) = map.get_mut(&user) else { return };
        let before = list.len();
        list.retain(|c| {
            if session.is_some_and(|s| s != c.session) {
                return true;
            }
            let _ = c.sender.try_send(text.clone());
            *c.cut.lock().expect("cut lock") = Some(Cut::SessionEnded);
            false
        });
        removed(before - list.len());
    }

    /// Cuts every connection (the node missed events).
    fn cut_all(&self) {
        let mut map = self.connections.lock().expect("hub lock");
        for c in map.values().flatten() {
            *c.cut.lock().expect("cut lock") = Some(Cut::Resync);
        }
        removed(map.values().map(Vec::len).sum());
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
                            Event::SessionEnded { session_id, .. } => {
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

/// The close frame for a frame the server could not read (RFC 6455 section 7.4.1), by the
/// WebSocket library's error kind: 1007 for text that is not UTF-8, 1009 for a frame over the
/// limit, 1002 for anything else against the protocol.
fn read_error_close(e: axum::Error) -> Message {
    match e.into_inner().downcast::<tungstenite::Error>().map(|e| *e) {
        Ok(tungstenite::Error::Utf8(_)) => close(1007, "text frames must be UTF-8"),
        Ok(tungstenite::Error::Capacity(_)) => close(1009, "frame too large"),
        _ => close(1002, "protocol error"),
    }
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// Serves one upgraded connection until it closes: `ready`, then events from the hub, pongs for
/// the client's pings, and a close frame that says why it ended.
pub(crate) async fn serve(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    services: Arc<services::Services>,
    token: String,
    user: UserId,
    session: domain::SessionId,
) {
    let mut registration = hub.register(user, session);
    drop(hub);
    // The session may have ended between the upgrade's check and this registration; its
    // `session-ended` event would then have gone to nobody. Checking again after registering
    // closes that gap: any later end reaches this registration. A session that simply runs out
    // sends no event, so the socket also closes itself at the session's expiry.
    let clock = match services.sessions.session_clock(&token).await {
        Ok(clock) => clock,
        Err(e) => {
            // Only an ended session sends the client to sign in; anything else (the database
            // busy, a failover) is a server error the client retries after.
            let frame = match e {
                services::Error::Unauthenticated | services::Error::WipeRequired => {
                    close(CLOSE_SESSION_ENDED, "the session ended: sign in again")
                }
                services::Error::PinRequired { .. } => close(CLOSE_LOCKED, "the session is locked: enter your PIN"),
                _ => close(1011, "the server could not check the session; reconnect shortly"),
            };
            let _ = socket.send(frame).await;
            return;
        }
    };
    let at = |m: domain::Millis| {
        let left = u64::try_from(m.0 - domain::Millis::now().0).unwrap_or(0);
        tokio::time::Instant::now() + std::time::Duration::from_millis(left)
    };
    let deadline = at(clock.expires_at);
    // Events stop when the session locks: the session is read again when its delay runs out (a
    // request may have kept it open meanwhile), and every half minute in any case, since it may
    // also lock by other ways (the client locks it, a PIN is set, the enterprise requires one).
    let next_check = |locks_at: Option<domain::Millis>| {
        let soon = tokio::time::Instant::now() + LOCK_RECHECK;
        locks_at.map_or(soon, |l| at(l).min(soon))
    };
    let lock_check = tokio::time::sleep_until(next_check(clock.locks_at));
    tokio::pin!(lock_check);
    let mut last_seen_written = tokio::time::Instant::now();
    let expiry = tokio::time::sleep_until(deadline);
    tokio::pin!(expiry);
    if socket.send(Message::Text(r#"{"type":"ready"}"#.into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            () = &mut lock_check => {
                match services.sessions.session_clock(&token).await {
                    Ok(clock) => lock_check.as_mut().reset(next_check(clock.locks_at)),
                    Err(services::Error::PinRequired { .. }) => {
                        let _ = socket.send(close(CLOSE_LOCKED, "the session is locked: enter your PIN")).await;
                        break;
                    }
                    Err(services::Error::Unauthenticated | services::Error::WipeRequired) => {
                        let _ = socket.send(close(CLOSE_SESSION_ENDED, "the session ended: sign in again")).await;
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "could not check a session's lock; closing its socket");
                        let _ = socket.send(close(1011, "the server could not check the session; reconnect shortly")).await;
                        break;
                    }
                }
            }
            () = &mut expiry => {
                let _ = socket.send(close(CLOSE_SESSION_ENDED, "the session expired: sign in again")).await;
                break;
            }
            event = registration.events.recv() => match event {
                Some(text) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                None => {
                    let cut = *registration.cut.lock().expect("cut lock");
                    let frame = match cut {
                        Some(Cut::TooSlow) => close(CLOSE_TOO_SLOW, "too slow: fetch history after your last seq, then reconnect"),
                        Some(Cut::SessionEnded) => close(CLOSE_SESSION_ENDED, "the session ended: sign in again"),
                        _ => close(CLOSE_RESYNC, "resynchronise: fetch history after your last seq, then reconnect"),
                    };
                    let _ = socket.send(frame).await;
                    break;
                }
            },
            incoming = socket.recv() => match incoming {
                None | Some(Ok(Message::Close(_))) => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "closing a WebSocket after a protocol error");
                    let _ = socket.send(read_error_close(e)).await;
                    break;
                }
                Some(Ok(Message::Text(text))) => {
                    if !is_client_ping(text.as_str()) {
                        let _ = socket.send(close(1007, "expected {\"type\":\"ping\"}")).await;
                        break;
                    }
                    if socket.send(Message::Text(r#"{"type":"pong"}"#.into())).await.is_err() {
                        break;
                    }
                    // A connected client is someone present: presence reads session activity. Once a
                    // minute is enough for "online" (two minutes) and keeps pings off the writer.
                    if last_seen_written.elapsed() >= SEEN_EVERY {
                        last_seen_written = tokio::time::Instant::now();
                        if let Err(e) = services.sessions.seen(session).await {
                            tracing::debug!(error = %e, "could not record a session's activity");
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = socket.send(close(1003, "binary frames are not accepted")).await;
                    break;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_that_stops_reading_is_cut_not_buffered() {
        let hub = Arc::new(Hub::default());
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
        let hub = Arc::new(Hub::default());
        let (a, b) = (UserId::new(), UserId::new());
        let mut ra = hub.register(a, SessionId::new());
        let mut rb = hub.register(b, SessionId::new());
        hub.dispatch(&[a], Arc::from("for a"));
        assert_eq!(&*ra.events.try_recv().unwrap(), "for a");
        assert!(rb.events.try_recv().is_err());
        drop(rb);
        assert!(!hub.connections.lock().unwrap().contains_key(&b), "dropping a registration unregisters it");
        hub.cut_all();
        assert_eq!(*ra.cut.lock().unwrap(), Some(Cut::Resync));
    }
}

#[cfg(test)]
mod session_tests {
    use super::*;

    #[test]
    fn ending_a_session_cuts_only_its_connections() {
        let hub = Arc::new(Hub::default());
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

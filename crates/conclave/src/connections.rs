//! What a stranger can make the server hold open: connections. Each one counts against its
//! address and against the whole process from the moment it is accepted, before the TLS
//! handshake, until it closes (an upgraded WebSocket included); over either limit it is closed at
//! once and a line is logged (at most one every ten seconds, so a flood cannot fill the log).
//! Time limits live beside it in `serve`: the TLS handshake, the request head (which also bounds
//! an idle kept-alive HTTP/1.1 connection) and each read of a request body. An HTTP/2 connection
//! has no request head to wait for between requests, and a client that answers the server's
//! pings would keep one open for ever; so an HTTP/2 connection with no request in flight (the
//! answer's body included) for the idle time is closed here.

use axum_server::accept::Accept;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How many connections may be open at once.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub per_address: usize,
    pub total: usize,
}

#[derive(Default)]
struct Open {
    by_address: HashMap<IpAddr, usize>,
    total: usize,
}

struct Counts {
    limits: Limits,
    /// Addresses held to the total only (trusted reverse proxies carry many clients).
    exempt: Option<Box<dyn Fn(IpAddr) -> bool + Send + Sync>>,
    open: Mutex<Open>,
    last_warned: Mutex<Option<Instant>>,
}

impl Counts {
    /// Counts a new connection from `ip`, or says why it may not open. IPv6 addresses count by
    /// their /64, since one host is commonly given a whole /64.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let ip = per_host(ip);
        let mut open = self.open.lock().expect("connection counts");
        if open.total >= self.limits.total {
            return Err("the server's connection limit");
        }
        let exempt = self.exempt.as_ref().is_some_and(|f| f(ip));
        let mine = open.by_address.entry(ip).or_insert(0);
        if *mine >= self.limits.per_address && !exempt {
            return Err("the per-address connection limit");
        }
        *mine += 1;
        open.total += 1;
        Ok(Slot { counts: self.clone(), ip })
    }

    fn warn(&self, ip: IpAddr, why: &str) {
        let mut last = self.last_warned.lock().expect("warn clock");
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return;
        }
        *last = Some(Instant::now());
        let open = self.open.lock().expect("connection counts");
        tracing::warn!(
            client = %ip,
            from_this_address = open.by_address.get(&ip).copied().unwrap_or(0),
            open = open.total,
            per_address_limit = self.limits.per_address,
            total_limit = self.limits.total,
            "refused a connection at {why}; further refusals in the next 10 s are not logged"
        );
    }
}

/// The key an address counts under: itself for IPv4, its /64 for IPv6.
fn per_host(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

/// One open connection's place in the counts, given back when the connection closes.
struct Slot {
    counts: Arc<Counts>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().expect("connection counts");
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                // The map holds only addresses with open connections, so it cannot grow without bound.
                open.by_address.remove(&self.ip);
            }
        }
    }
}

/// An acceptor that bounds open connections, in front of `inner` (the TLS handshake), and gives
/// a connection `first_request_within` to send its first byte once the handshake is done: the
/// HTTP layer's own header timeout starts only after it has seen which protocol the client
/// speaks, so a client that completes the handshake and then says nothing would wait forever.
#[derive(Clone)]
pub struct BoundedAcceptor<A> {
    inner: A,
    counts: Arc<Counts>,
    first_request_within: Duration,
    /// An HTTP/2 connection with nothing in flight for this long is closed.
    idle_within: Duration,
}

impl<A> BoundedAcceptor<A> {
    pub fn new(inner: A, limits: Limits, first_request_within: Duration) -> Self {
        BoundedAcceptor {
            inner,
            counts: Arc::new(Counts { limits, exempt: None, open: Mutex::default(), last_warned: Mutex::default() }),
            first_request_within,
            idle_within: first_request_within,
        }
    }

    /// Holds addresses for which `exempt` is true to the total limit only.
    pub fn exempt_from_per_address(self, exempt: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Self {
        let counts = Counts {
            limits: self.counts.limits,
            exempt: Some(Box::new(exempt)),
            open: Mutex::default(),
            last_warned: Mutex::default(),
        };
        BoundedAcceptor { counts: Arc::new(counts), ..self }
    }
}

impl<A, S> Accept<TcpStream, S> for BoundedAcceptor<A>
where
    A: Accept<TcpStream, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Counted<A::Stream>;
    type Service = Tracked<A::Service>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let ip = match stream.peer_addr() {
            Ok(addr) => addr.ip(),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let slot = match self.counts.admit(ip) {
            Ok(slot) => slot,
            Err(why) => {
                self.counts.warn(ip, why);
                // Dropping the stream closes it.
                return Box::pin(std::future::ready(Err(io::Error::other("connection limit"))));
            }
        };
        let accepting = self.inner.accept(stream, service);
        let within = self.first_request_within;
        let idle_within = self.idle_within;
        Box::pin(async move {
            let (stream, service) = accepting.await?;
            let deadline = Some(Box::pin(tokio::time::sleep(within)));
            let activity = Arc::new(Activity::default());
            Ok((
                Counted {
                    inner: stream,
                    opening_deadline: deadline,
                    opening_bytes: 0,
                    opening: Vec::new(),
                    http2: false,
                    idle_within,
                    idle: None,
                    activity: activity.clone(),
                    write_stall: None,
                    _slot: slot,
                },
                Tracked { inner: service, activity },
            ))
        })
    }
}

/// The bytes that tell the HTTP layer which protocol a client speaks (the length of the
/// HTTP/2 preface); until they have arrived no HTTP timeout runs yet, so this one does.
const OPENING_BYTES: usize = 24;
/// How long a write may wait for a client that stopped reading before the connection closes.
const WRITE_STALL: Duration = Duration::from_secs(60);

/// A write at least this large is an answer going out, not a ping (a PING frame is 17 bytes,
/// under 64 once sealed in a TLS record).
const BUSY_WRITE_BYTES: usize = 128;

/// The HTTP/2 connection preface's first bytes.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// What a connection's requests are doing, shared by its stream and its service.
#[derive(Default)]
struct Activity {
    /// Requests whose answer (body included) is not finished.
    in_flight: AtomicUsize,
    /// Bumped whenever a request starts or finishes, so the idle clock restarts.
    changes: AtomicU64,
}

/// A connection that gives its place back when it closes, and is closed when it sends too
/// little at the start, stops reading, or (HTTP/2) sits idle.
pub struct Counted<T> {
    inner: T,
    /// Until the opening bytes have arrived: when the connection is closed for sending too little.
    opening_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    opening_bytes: usize,
    /// The first bytes, to tell HTTP/2 by its preface.
    opening: Vec<u8>,
    http2: bool,
    idle_within: Duration,
    /// While an HTTP/2 connection has nothing in flight: when it closes, and at which change.
    idle: Option<(u64, Pin<Box<tokio::time::Sleep>>)>,
    activity: Arc<Activity>,
    /// While a write waits on the client: when it gives up.
    write_stall: Option<Pin<Box<tokio::time::Sleep>>>,
    _slot: Slot,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if this.opening.len() < HTTP2_PREFACE.len() {
                    let fresh = &buf.filled()[before..];
                    let want = (HTTP2_PREFACE.len() - this.opening.len()).min(fresh.len());
                    this.opening.extend_from_slice(&fresh[..want]);
                    this.http2 = this.opening == HTTP2_PREFACE;
                }
                this.opening_bytes += buf.filled().len() - before;
                // A short HTTP/1.1 request may be all a client sends; once it has been answered
                // the deadline closes the kept-alive connection no sooner than the HTTP layer's
                // own idle timeout would.
                if this.opening_bytes >= OPENING_BYTES {
                    this.opening_deadline = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let expired = this.opening_deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no request arrived in time")));
                }
                if this.http2 && this.idle_expired(cx) {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle HTTP/2 connection")));
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Counted<T> {
    /// Whether an HTTP/2 connection has had nothing in flight for the idle time. The clock starts
    /// at the last request's end; a read wakes this (the server's pings every
    /// `header_timeout_seconds` see to that even when the client sends nothing).
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.activity.in_flight.load(Ordering::SeqCst) > 0 {
            self.idle = None;
            return false;
        }
        let change = self.activity.changes.load(Ordering::SeqCst);
        if self.idle.as_ref().is_none_or(|(at, _)| *at != change) {
            self.idle = Some((change, Box::pin(tokio::time::sleep(self.idle_within))));
        }
        self.idle.as_mut().is_some_and(|(_, sleep)| sleep.as_mut().poll(cx).is_ready())
    }

    /// An answer still being written out (a slow client taking a large download after its body
    /// has been handed over) keeps an HTTP/2 connection busy; the server's own pings (a few dozen
    /// bytes) do not.
    fn note_written(&self, outcome: &Poll<io::Result<usize>>) {
        if matches!(outcome, Poll::Ready(Ok(n)) if *n >= BUSY_WRITE_BYTES) {
            self.activity.changes.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Passes a write's outcome through, timing how long it has been waiting on the client.
    fn watch_write<R>(&mut self, cx: &mut Context<'_>, outcome: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match outcome {
            Poll::Ready(r) => {
                self.write_stall = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let stall = self.write_stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL)));
                if stall.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_written(&outcome);
        self.watch_write(cx, outcome)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch_write(cx, outcome)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_written(&outcome);
        self.watch_write(cx, outcome)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_address_and_in_total_and_given_back() {
        let counts = Arc::new(Counts {
            limits: Limits { per_address: 2, total: 3 },
            exempt: None,
            open: Mutex::default(),
            last_warned: Mutex::default(),
        });
        let (a, b, c) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), [10, 0, 0, 3].into());
        let a1 = counts.admit(a).unwrap();
        let _a2 = counts.admit(a).unwrap();
        assert_eq!(counts.admit(a).err(), Some("the per-address connection limit"));
        let _b1 = counts.admit(b).unwrap();
        assert_eq!(counts.admit(c).err(), Some("the server's connection limit"));
        drop(a1);
        let _c1 = counts.admit(c).unwrap();
        assert_eq!(counts.open.lock().unwrap().by_address.len(), 3);
        drop(_c1);
        assert!(!counts.open.lock().unwrap().by_address.contains_key(&c), "closed addresses leave the map");
    }

    #[test]
    fn ipv6_addresses_count_by_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(per_host(a), per_host(b));
        assert_ne!(per_host(a), per_host(c));
        assert_eq!(per_host("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}

/// A connection's service, counting the requests in flight for its idle clock.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// One request in flight; its end (the answer's body finished or dropped) is counted once.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        activity.changes.fetch_add(1, Ordering::SeqCst);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changes.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S, B, R> tower::Service<axum::http::Request<B>> for Tracked<S>
where
    S: tower::Service<axum::http::Request<B>, Response = axum::http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = axum::http::Response<TrackedBody<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let in_flight = InFlight::start(&self.activity);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| TrackedBody { inner: body, _in_flight: in_flight }))
        })
    }
}

/// An answer's body, holding its request in flight until it is finished or dropped.
pub struct TrackedBody<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B: http_body::Body + Unpin> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

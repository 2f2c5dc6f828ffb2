//! What a stranger can make the server hold open: connections. Each one counts against its
//! address and against the whole process from the moment it is accepted, before the TLS
//! handshake, until it closes (an upgraded WebSocket included); over either limit it is closed at
//! once and a line is logged (at most one every ten seconds, so a flood cannot fill the log).
//! Time limits live beside it in `serve`: the TLS handshake, the request head (which also bounds
//! an idle kept-alive connection) and each read of a request body.

use axum_server::accept::Accept;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
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
    /// Counts a new connection from `ip`, or says why it may not open.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
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
}

impl<A> BoundedAcceptor<A> {
    pub fn new(inner: A, limits: Limits, first_request_within: Duration) -> Self {
        BoundedAcceptor {
            inner,
            counts: Arc::new(Counts { limits, exempt: None, open: Mutex::default(), last_warned: Mutex::default() }),
            first_request_within,
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
        BoundedAcceptor { inner: self.inner, counts: Arc::new(counts), first_request_within: self.first_request_within }
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
    type Service = A::Service;
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
        Box::pin(async move {
            let (stream, service) = accepting.await?;
            let deadline = Some(Box::pin(tokio::time::sleep(within)));
            Ok((Counted { inner: stream, first_byte_deadline: deadline, _slot: slot }, service))
        })
    }
}

/// A connection that gives its place back when it closes.
pub struct Counted<T> {
    inner: T,
    /// Until the first byte arrives: when the connection is closed for sending nothing.
    first_byte_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    _slot: Slot,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.first_byte_deadline = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let expired = this.first_byte_deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no request arrived in time")))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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
}

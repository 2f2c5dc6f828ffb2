//! HTTP/2 answers given before the request body was read (#14 item 10).
//!
//! A handler may refuse a request before reading its body: a missing session (401), a declared
//! size over the limit (413), a refused origin. Over HTTP/1.1 the connection is simply closed
//! after the answer. Over HTTP/2 the stream must end, and the server ends it with RST_STREAM
//! (NO_ERROR), which RFC 9113 §8.1 allows; but widely used clients (curl 7.x among them) then
//! throw away the answer they already received, and a client that sent `Expect: 100-continue`
//! never learns why. So when an HTTP/2 answer is ready and the body is not finished, the rest of
//! the body is read and discarded first, within [`DRAIN_BYTES`] and [`DRAIN_TIME`]: the stream
//! then ends normally and the client reads the status. A body beyond those bounds is not read
//! (a stranger must not make us swallow gigabytes); its stream is reset as before.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Version};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// At most this much of a refused body is read to end its stream cleanly: well above the JSON
/// body limit, far below an upload's.
pub const DRAIN_BYTES: u64 = 1024 * 1024;
/// And for at most this long.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);
/// At most this many bodies are drained at once, across all connections: past it an early answer
/// ends its stream with a reset as before, so strangers cannot make the server read for them at
/// will.
pub const MAX_DRAINS: usize = 32;

fn drains() -> &'static tokio::sync::Semaphore {
    static DRAINS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    DRAINS.get_or_init(|| tokio::sync::Semaphore::new(MAX_DRAINS))
}

/// The request body, shared with the middleware so that what the handler left unread can still
/// be read after it answered.
struct SharedBody(Arc<Mutex<Option<Body>>>);

impl http_body::Body for SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut slot = self.0.lock().expect("request body lock");
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().expect("request body lock").as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.0.lock().expect("request body lock").as_ref().map(|b| b.size_hint()).unwrap_or_default()
    }
}

/// Middleware: on HTTP/2, finish reading a body the handler left unread before answering.
pub async fn finish_http2_body(req: Request, next: Next) -> Response {
    if req.version() != Version::HTTP_2 || req.body().is_end_stream() {
        return next.run(req).await;
    }
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = req.into_parts();
    let slot = Arc::new(Mutex::new(Some(body)));
    let response = next.run(Request::from_parts(parts, Body::new(SharedBody(slot.clone())))).await;
    let rest = slot.lock().expect("request body lock").take();
    if let Some(rest) = rest.filter(|b| !b.is_end_stream()) {
        if declared.is_none_or(|n| n <= DRAIN_BYTES) {
            if let Ok(_permit) = drains().try_acquire() {
                drain(rest).await;
            }
        }
    }
    response
}

/// Reads and discards what is left of a body, within the bounds; gives up quietly past them.
async fn drain(mut body: Body) {
    use http_body_util::BodyExt as _;
    let read = async {
        let mut total = 0u64;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return };
            if let Some(data) = frame.data_ref() {
                total += data.len() as u64;
                if total > DRAIN_BYTES {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

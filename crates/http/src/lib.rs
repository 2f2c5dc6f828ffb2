//! Conclave's HTTP surface (API boundary): the JSON API, the web client's pages and assets,
//! health, metrics and the OpenAPI document.
//!
//! Architecture invariants:
//! - The only HTTP-aware crate. Handlers parse, call one service method, render; they never decide
//!   who may do what (services do) and never touch the store or keys (this crate cannot: it does
//!   not depend on `store`).
//! - Errors reach the wire only through [`problem::Problem`].
//! - No inline script or style anywhere: the CSP forbids it, and every page loads `/assets/*`.

mod early_answer;
pub mod extract;
pub mod live;
mod pages;
pub mod problem;
pub mod proxy;
mod routes;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use problem::{Kind, Problem};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use routes::{openapi, NO_ROUTE_DETAIL};

/// HTTP-level settings.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Largest request body accepted by JSON endpoints.
    pub max_body_bytes: usize,
    /// Sign-in attempts allowed per client IP per minute (bursts up to this many).
    pub sign_in_per_minute: u32,
    /// Reports and receipt-code look-ups allowed per client IP per minute on the public desk.
    pub public_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (empty: the header is ignored).
    pub trusted_proxies: proxy::TrustedProxies,
    /// Who may read `/metrics`: clients in these networks (default: this machine only)...
    pub metrics_networks: proxy::TrustedProxies,
    /// ...or anyone presenting this bearer token (for a scraper elsewhere).
    pub metrics_token: Option<String>,
    /// The longest wait between two pieces of a request body; a body that stalls longer is
    /// refused and its connection closed.
    pub body_timeout: std::time::Duration,
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            max_body_bytes: 256 * 1024,
            sign_in_per_minute: 10,
            public_per_minute: 10,
            trusted_proxies: proxy::TrustedProxies::default(),
            metrics_networks: proxy::TrustedProxies::parse(&["127.0.0.0/8", "::1"]).expect("loopback networks parse"),
            metrics_token: None,
            body_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Above this many client addresses in the sign-in limiter, idle ones are dropped.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Everything a handler can reach, passed explicitly (no globals).
#[derive(Clone)]
pub struct AppState {
    pub services: Arc<services::Services>,
    pub metrics: Option<PrometheusHandle>,
    pub settings: Arc<HttpSettings>,
    /// This node's WebSocket connections; started with [`AppState::start_live`].
    pub hub: Arc<live::Hub>,
    sign_in_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    public_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Sign-in attempts per account (keyed by the email's hash, whatever IP they come from).
    account_limiter: Arc<DefaultKeyedRateLimiter<u64>>,
    account_hash_key: std::collections::hash_map::RandomState,
}

impl AppState {
    pub fn new(
        services: Arc<services::Services>,
        metrics: Option<PrometheusHandle>,
        settings: HttpSettings,
    ) -> AppState {
        let per_minute = NonZeroU32::new(settings.sign_in_per_minute.max(1)).expect("at least one");
        let settings_public_per_minute = settings.public_per_minute;
        AppState {
            services,
            metrics,
            settings: Arc::new(settings),
            hub: Arc::new(live::Hub::default()),
            sign_in_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            account_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            account_hash_key: std::collections::hash_map::RandomState::new(),
            public_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(settings_public_per_minute.max(1)).expect("at least one"),
            ))),
        }
    }

    /// Subscribes this node's hub to the bus, so connected clients receive live events.
    pub async fn start_live(&self) -> Result<(), services::Error> {
        self.hub.start(&self.services).await
    }

    /// Spends one sign-in attempt for `ip`; a 429 problem with Retry-After when none is left.
    /// Requests without a known peer address share one bucket, which errs on the side of refusing.
    pub fn check_sign_in_rate(&self, ip: Option<&str>) -> Result<(), Problem> {
        spend(&self.sign_in_limiter, ip)
    }

    /// Spends one sign-in attempt for the account named by `email` (known or not, so the answer
    /// says nothing about which accounts exist). Spreading guesses over many addresses does not help.
    pub fn check_account_rate(&self, email: &str) -> Result<(), Problem> {
        use std::hash::{BuildHasher as _, Hasher as _};
        // A keyed hash (per process) so the limiter holds no email addresses.
        let mut hasher = self.account_hash_key.build_hasher();
        hasher.write(email.trim().to_lowercase().as_bytes());
        let key = hasher.finish();
        if self.account_limiter.len() > MAX_TRACKED_ADDRESSES {
            self.account_limiter.retain_recent();
        }
        self.account_limiter.check_key(&key).map_err(|not_until| {
            use governor::clock::{Clock, DefaultClock};
            Problem::rate_limited(not_until.wait_time_from(DefaultClock::default().now()).as_secs() + 1)
        })
    }

    /// Spends one public-desk request (a report, a receipt-code look-up) for `ip`. The address is
    /// only held in memory for the limiter's minute, never stored.
    pub fn check_public_rate(&self, ip: Option<&str>) -> Result<(), Problem> {
        spend(&self.public_limiter, ip)
    }
}

/// The rate-limit bucket of a client address. An IPv6 client usually holds a whole /64, so the
/// bucket is the /64: otherwise one client could spread attempts over 2^64 addresses.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

fn spend(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: Option<&str>) -> Result<(), Problem> {
    let key = limit_key(ip.and_then(|ip| ip.parse().ok()).unwrap_or(IpAddr::from([0, 0, 0, 0])));
    // Forget addresses whose buckets are full again, so the map cannot grow without bound.
    if limiter.len() > MAX_TRACKED_ADDRESSES {
        limiter.retain_recent();
    }
    limiter.check_key(&key).map_err(|not_until| {
        use governor::clock::{Clock, DefaultClock};
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        Problem::rate_limited(wait.as_secs() + 1)
    })
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The whole application: routes plus transport policy as layers.
pub fn app(state: AppState) -> Router {
    let max_body = state.settings.max_body_bytes;
    let body_timeout = state.settings.body_timeout;
    let trusted_proxies = Arc::new(state.settings.trusted_proxies.clone());
    let request_id = HeaderName::from_static("x-request-id");
    let static_header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    routes::router(state)
        .layer(DefaultBodyLimit::max(max_body))
        // A body that stops arriving is refused (and its connection closed) instead of held.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(body_timeout))
        .layer(middleware::from_fn(refuse_cross_site))
        .layer(middleware::from_fn(no_store_when_signed_in))
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn_with_state(trusted_proxies, proxy::resolve_client))
        // Outside everything that reads the body, so it sees what they left unread.
        .layer(middleware::from_fn(early_answer::finish_http2_body))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path only, never the query string: tokens must not reach logs.
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                }))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(static_header(header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"))
                .layer(static_header(header::CONTENT_SECURITY_POLICY, CSP))
                .layer(static_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(static_header(header::X_FRAME_OPTIONS, "DENY"))
                .layer(static_header(header::REFERRER_POLICY, "no-referrer"))
                .layer(static_header(HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
                .layer(static_header(HeaderName::from_static("cross-origin-resource-policy"), "same-origin"))
                .layer(static_header(
                    HeaderName::from_static("permissions-policy"),
                    "camera=(), microphone=(), geolocation=()",
                )),
        )
}

/// Refuses state-changing requests a browser marks as cross-site: defence in depth on top of
/// SameSite cookies and the CSRF token, and the guard for the sign-in form (login CSRF).
async fn refuse_cross_site(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let cross_site = req.headers().get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site");
    // The SAML assertion consumer is posted to by the identity provider's page, across sites by
    // design; what it accepts is proven by the signed assertion, not by a cookie.
    let acs = req.uri().path() == "/saml/acs";
    if unsafe_method && cross_site && !acs {
        return Problem::new(Kind::CsrfRejected, "cross-site requests may not change anything").into_response();
    }
    next.run(req).await
}

/// Whatever answers a request made with a session (messages, people, audit, devices) must not be
/// kept by a browser's or a proxy's cache: every such response says `no-store` unless its handler
/// chose otherwise.
async fn no_store_when_signed_in(req: Request, next: Next) -> Response {
    let signed_in = extract::session_token(req.headers()).is_some();
    let mut response = next.run(req).await;
    if signed_in && !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The method as a metrics label, from a fixed list: a made-up method must not become a new
/// series (a stranger could otherwise grow `/metrics` without bound, one request at a time).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method()).to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("conclave_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("conclave_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// How long a shutting-down server waits for requests in flight.
pub const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_metrics_label() {
        for made_up in ["FOO", "BREW", "PROPFIND", "X-1"] {
            assert_eq!(method_label(&Method::from_bytes(made_up.as_bytes()).unwrap()), "other");
        }
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }
}

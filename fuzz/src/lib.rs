//! What the fuzz targets share: the whole HTTP application on a throwaway SQLite database, built
//! once per fuzzing process, with a signed-in admin whose token the request templates carry.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Method, Request};
use http_body_util::BodyExt as _;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery staple";

pub struct App {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    _dir: tempfile::TempDir,
}

/// The application, made on first use.
pub fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (router, token) = runtime.block_on(async {
            let store: Arc<dyn store::Store> = Arc::new(store_sqlite::open(&dir.path().join("fuzz.db")).await.unwrap());
            let settings = services::Settings { files_dir: Some(dir.path().join("files")), ..test_support::settings() };
            let ring = Arc::new(crypto::MasterKeyring::generate());
            let services = Arc::new(
                services::Services::build(
                    store,
                    Arc::new(bus::InProcessBus::default()),
                    services::KeyringSource::Fixed(ring),
                    settings,
                )
                .await
                .unwrap(),
            );
            let origin = domain::audit::Origin::default();
            let operator = services::Caller::Operator;
            let e = services.directory.create_enterprise(&operator, &origin, "Fuzz").await.unwrap().id;
            let admin = services::directory::NewUser {
                email: "admin@fuzz.example".into(),
                name: "Fuzz Admin".into(),
                roles: domain::Roles::parse("enterprise-admin,security").unwrap(),
                via: None,
                password: Some(PASSWORD.into()),
            };
            services.directory.create_user(&operator, &origin, e, admin).await.unwrap();
            let signed_in = services.sessions.sign_in(&origin, "admin@fuzz.example", PASSWORD).await.unwrap();
            let http = http_api::HttpSettings {
                sign_in_per_minute: 1_000_000,
                public_per_minute: 1_000_000,
                // The fuzzer's requests come from 203.0.113.5, which may speak for others.
                trusted_proxies: http_api::proxy::TrustedProxies::parse(&["203.0.113.5/32"]).unwrap(),
                ..http_api::HttpSettings::default()
            };
            let state = http_api::AppState::new(services, None, http);
            (http_api::app(state), signed_in.token)
        });
        App { runtime, router, token, _dir: dir }
    })
}

/// The requests the fuzzer fills in: every route that reads a body a stranger or a member sends.
/// `{id}` paths use a made-up id: the body is parsed before the id is looked up.
const TEMPLATES: &[(&str, &str, &str, bool)] = &[
    ("POST", "/api/v1/sessions", "application/json", false),
    ("POST", "/api/v1/conversations/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/messages", "application/json", true),
    ("POST", "/api/v1/conversations/group", "application/json", true),
    ("PUT", "/api/v1/desk/reports/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/triage", "application/json", true),
    ("PUT", "/api/v1/desk/clocks", "application/json", true),
    ("POST", "/api/v1/security/incidents", "application/json", false),
    ("POST", "/security/report", "multipart/form-data; boundary=fuzzboundary", false),
    ("POST", "/security/report", "application/x-www-form-urlencoded", false),
    ("POST", "/saml/acs", "application/x-www-form-urlencoded", false),
    ("PUT", "/api/v1/me/pin", "application/json", true),
    ("POST", "/api/v1/security/reports/withdrawal", "application/json", false),
    ("POST", "/security/status", "application/x-www-form-urlencoded", false),
];

/// One request from fuzz input: the first byte picks a template; the first line after it is an
/// `X-Forwarded-For` value, the second a `User-Agent`, the rest the body. Any answer is fine
/// except a server error: bad input must be refused, never crash or fail inside.
pub fn request(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let (method, path, content_type, signed_in) = TEMPLATES[usize::from(pick.wrapping_sub(b'0')) % TEMPLATES.len()];
    let mut lines = rest.splitn(3, |b| *b == b'\n');
    let forwarded = lines.next().unwrap_or_default();
    let agent = lines.next().unwrap_or_default();
    let body = lines.next().unwrap_or_default().to_vec();
    let app = app();
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 5], 40000))));
    if let Ok(v) = HeaderValue::from_bytes(forwarded) {
        req.headers_mut().insert("x-forwarded-for", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(agent) {
        req.headers_mut().insert(header::USER_AGENT, v);
    }
    if signed_in {
        let bearer = HeaderValue::from_str(&format!("Bearer {}", app.token)).unwrap();
        req.headers_mut().insert(header::AUTHORIZATION, bearer);
    }
    let status = app.runtime.block_on(async {
        let response = app.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let _ = response.into_body().collect().await;
        status
    });
    assert!(!status.is_server_error(), "{method} {path} answered {status}");
}

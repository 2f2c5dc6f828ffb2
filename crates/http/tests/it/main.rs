//! HTTP tests through the real router (`tower::ServiceExt::oneshot`), on a real SQLite store.

mod api;
mod attachments;
mod bad_input;
mod credentials;
mod desk;
mod guard;
mod links;
mod matrix;
mod message_control;
mod messaging;
mod nodes;
mod oidc;
mod saml;
mod web;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use domain::{EnterpriseId, Role};
use http_api::{AppState, HttpSettings};
use http_body_util::BodyExt as _;
use serde_json::Value;
use services::directory::NewUser;
use services::{Caller, KeyringSource, Services, Settings};
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt as _;

pub const PASSWORD: &str = "correct horse battery";
/// The attachment limit in these tests, small enough to exceed cheaply.
pub const MAX_TEST_ATTACHMENT: u64 = 300 * 1024;

pub struct TestApp {
    pub router: Router,
    pub services: Arc<Services>,
    pub store: Arc<dyn store::Store>,
    pub _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    /// Asserts a problem+json answer of this status and type, and returns the body.
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.header("content-type"), "application/problem+json");
        let body = self.json();
        assert_eq!(body["type"], format!("/problems/{kind}"), "{body}");
        assert_eq!(body["status"], status);
        body
    }
}

pub async fn app() -> TestApp {
    app_with(HttpSettings::default()).await
}

pub async fn app_with(http: HttpSettings) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn store::Store> = Arc::new(store_sqlite::open(&dir.path().join("c.db")).await.unwrap());
    app_on(store, dir, http).await
}

/// The app on a given store (the authorization matrix runs on PostgreSQL too).
pub async fn app_on(store: Arc<dyn store::Store>, dir: tempfile::TempDir, http: HttpSettings) -> TestApp {
    let settings = Settings {
        files_dir: Some(dir.path().join("files")),
        max_attachment_bytes: MAX_TEST_ATTACHMENT,
        ..test_support::settings()
    };
    let ring = Arc::new(crypto::MasterKeyring::generate());
    let services = Arc::new(
        Services::build(store.clone(), Arc::new(bus::InProcessBus::default()), KeyringSource::Fixed(ring), settings)
            .await
            .unwrap(),
    );
    let state = AppState::new(services.clone(), None, http);
    state.start_live().await.unwrap();
    let router = http_api::app(state);
    TestApp { router, services, store, _dir: dir }
}

/// A request under construction.
pub struct Req {
    inner: Request<Body>,
}

pub fn req(method: Method, path: &str) -> Req {
    let mut inner = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    inner.extensions_mut().insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 5], 40000))));
    Req { inner }
}

impl Req {
    pub fn header(mut self, name: &'static str, value: &str) -> Req {
        self.inner.headers_mut().insert(name, value.parse().unwrap());
        self
    }
    pub fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }
    pub fn from_ip(mut self, ip: [u8; 4]) -> Req {
        self.inner.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        self
    }
    pub fn json(self, body: &Value) -> Req {
        self.raw("application/json", serde_json::to_vec(body).unwrap())
    }
    pub fn stream(mut self, content_type: &str, body: Body) -> Req {
        self.inner.headers_mut().insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        *self.inner.body_mut() = body;
        self
    }
    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Req {
        self.inner.headers_mut().insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        *self.inner.body_mut() = Body::from(body.into());
        self
    }
    pub async fn send(self, app: &TestApp) -> Reply {
        let response = app.router.clone().oneshot(self.inner).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, body }
    }
}

impl TestApp {
    pub async fn enterprise(&self, name: &str) -> EnterpriseId {
        self.services.directory.create_enterprise(&Caller::Operator, &Default::default(), name).await.unwrap().id
    }

    pub async fn user(&self, enterprise: EnterpriseId, email: &str, role: Role) -> services::directory::UserView {
        let new = NewUser {
            email: email.into(),
            name: format!("Person {email}"),
            roles: role.into(),
            via: None,
            password: Some(PASSWORD.into()),
        };
        self.services.directory.create_user(&Caller::Operator, &Default::default(), enterprise, new).await.unwrap()
    }

    /// Signs in through the API; returns the JSON body (token, csrf_token, user) and the cookie.
    pub async fn sign_in(&self, email: &str) -> (Value, String) {
        let reply = req(Method::POST, "/api/v1/sessions")
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send(self)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let cookie = reply.header("set-cookie").split(';').next().unwrap().to_owned();
        (reply.json(), cookie)
    }

    pub async fn token(&self, email: &str) -> String {
        self.sign_in(email).await.0["token"].as_str().unwrap().to_owned()
    }

    pub async fn n_users(&self, enterprise: EnterpriseId) -> usize {
        self.services.directory.list_users(&Caller::Operator, enterprise).await.unwrap().len()
    }
}

/// An attribute value as the browser reads it: the page escapes `&`, quotes and angle brackets
/// (as named or numeric references, whichever the template engine writes).
pub fn unescape_attribute(value: &str) -> String {
    [
        ("&amp;", "&"),
        ("&#38;", "&"),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&lt;", "<"),
        ("&#60;", "<"),
        ("&gt;", ">"),
        ("&#62;", ">"),
    ]
    .iter()
    .fold(value.to_owned(), |v, (from, to)| v.replace(from, to))
}

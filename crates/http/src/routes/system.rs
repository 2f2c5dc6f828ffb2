//! Operational endpoints: health, readiness, metrics, the OpenAPI document, problem type pages.

use crate::problem::{Kind, Problem, ProblemDocument};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// GET /healthz — the process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "Alive", body = String)))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReadyView {
    pub status: &'static str,
    pub backend: &'static str,
    pub migrations_applied: usize,
}

/// GET /readyz — the database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "system", responses(
    (status = 200, description = "Ready", body = ReadyView),
    (status = 503, description = "Not ready", body = ProblemDocument, content_type = "application/problem+json")
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ReadyView>, Problem> {
    let readiness = state.services.readiness().await?;
    if !readiness.pending.is_empty() {
        return Err(Problem::new(Kind::Unavailable, format!("migrations pending: {:?}", readiness.pending)));
    }
    Ok(Json(ReadyView { status: "ready", backend: readiness.backend, migrations_applied: readiness.applied }))
}

/// GET /metrics — Prometheus text format, for the configured networks (default: this machine)
/// or a scraper presenting the metrics token. Anyone else learns nothing, not even the series.
async fn metrics(
    State(state): State<AppState>,
    crate::extract::ClientOrigin(origin): crate::extract::ClientOrigin,
    headers: axum::http::HeaderMap,
) -> Response {
    let from_allowed_network = origin
        .ip
        .as_deref()
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| state.settings.metrics_networks.contains(ip));
    let with_token = match (&state.settings.metrics_token, crate::extract::session_token(&headers)) {
        (Some(expected), Some((sent, false))) => {
            bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), sent.as_bytes()))
        }
        _ => false,
    };
    if !from_allowed_network && !with_token {
        return Problem::new(
            Kind::Forbidden,
            "metrics are served to the configured networks, or with the metrics token",
        )
        .into_response();
    }
    let body = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// GET /problems/{slug} — what a problem type means.
async fn problem_page(Path(slug): Path<String>) -> Response {
    match Kind::from_slug(&slug) {
        Some(kind) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n\nHTTP status {}.\n\n{}\n", kind.title(), kind.status().as_u16(), kind.explanation()),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such problem type\n").into_response(),
    }
}

pub(super) fn router(doc: Arc<utoipa::openapi::OpenApi>) -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/problems/{slug}", get(problem_page))
        .route("/api/openapi.json", get(move || async move { Json(doc.as_ref().clone()) }))
}

//! Route table. API routes are registered through `utoipa_axum::routes!`, which adds each handler
//! to the router and to the OpenAPI document at once: an API route cannot exist undocumented.

mod credentials;
mod desk;
mod directory;
mod guard;
mod message_control;
mod messaging;
mod security;
mod sessions;
mod system;
mod web;

use crate::AppState;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Conclave API", description = "Secure enterprise messaging. Errors are RFC 9457 application/problem+json."),
    modifiers(&SecuritySchemes),
    components(schemas(crate::problem::ProblemDocument))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::extract::SESSION_COOKIE,
                "Web session; state-changing requests also need the X-CSRF-Token header.",
            ))),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
        .routes(routes!(sessions::create_session))
        .routes(routes!(sessions::delete_current_session))
        .routes(routes!(sessions::acknowledge_wipe))
        .routes(routes!(sessions::change_expired_password))
        .routes(routes!(sessions::enrol_at_sign_in))
        .routes(routes!(sessions::get_me))
        .routes(routes!(guard::elevate))
        .routes(routes!(guard::lock))
        .routes(routes!(guard::unlock))
        .routes(routes!(guard::get_pin, guard::put_pin, guard::delete_pin))
        .routes(routes!(guard::get_session_policy, guard::put_session_policy))
        .routes(routes!(credentials::get_policy, credentials::put_policy))
        .routes(routes!(credentials::change_password))
        .routes(routes!(credentials::totp_status, credentials::start_totp, credentials::disable_totp))
        .routes(routes!(credentials::confirm_totp))
        .routes(routes!(credentials::get_oidc, credentials::put_oidc))
        .routes(routes!(credentials::get_saml, credentials::put_saml))
        .routes(routes!(sessions::list_my_devices))
        .routes(routes!(sessions::list_my_teams))
        .routes(routes!(sessions::end_my_device))
        .routes(routes!(directory::get_enterprise))
        .routes(routes!(directory::list_users, directory::create_user))
        .routes(routes!(directory::update_user))
        .routes(routes!(directory::list_user_devices, directory::end_user_devices))
        .routes(routes!(directory::end_user_device))
        .routes(routes!(directory::create_credential_link))
        .routes(routes!(directory::list_teams, directory::create_team))
        .routes(routes!(directory::update_team))
        .routes(routes!(directory::list_team_members))
        .routes(routes!(directory::put_team_member, directory::remove_team_member))
        .routes(routes!(directory::list_audit))
        .routes(routes!(directory::audit_catalogue))
        .routes(routes!(messaging::list_colleagues))
        .routes(routes!(messaging::list_conversations))
        .routes(routes!(messaging::open_direct))
        .routes(routes!(messaging::create_group))
        .routes(routes!(messaging::join_team_channel))
        .routes(routes!(messaging::get_conversation))
        .routes(routes!(messaging::add_member))
        .routes(routes!(messaging::remove_member))
        .routes(routes!(messaging::list_messages, messaging::send_message))
        .routes(routes!(message_control::get_message, messaging::edit_message, messaging::delete_message))
        .routes(routes!(message_control::list_policies, message_control::create_policy))
        .routes(routes!(message_control::update_policy, message_control::retire_policy))
        .routes(routes!(message_control::set_default_policy))
        .routes(routes!(message_control::forward))
        .routes(routes!(message_control::forwards))
        .routes(routes!(message_control::recall))
        .routes(routes!(message_control::reveal))
        .routes(routes!(message_control::schedule, message_control::list_scheduled))
        .routes(routes!(message_control::cancel_scheduled))
        .routes(routes!(messaging::add_reaction, messaging::remove_reaction))
        .routes(routes!(messaging::typing))
        .routes(routes!(messaging::thread))
        .routes(routes!(messaging::search))
        .routes(routes!(messaging::mark_read))
        .routes(routes!(messaging::set_preferences))
        .routes(routes!(messaging::thumbnail))
        .routes(routes!(messaging::upload_attachment))
        .routes(routes!(messaging::download_attachment))
        .routes(routes!(messaging::websocket))
        .routes(routes!(desk::submit_report))
        .routes(routes!(desk::report_status))
        .routes(routes!(desk::finder_reply))
        .routes(routes!(desk::finder_upload))
        .routes(routes!(desk::finder_download))
        .routes(routes!(desk::team_upload))
        .routes(routes!(desk::team_download))
        .routes(routes!(desk::list_reports))
        .routes(routes!(desk::get_report))
        .routes(routes!(desk::team_reply))
        .routes(routes!(desk::set_state))
        .routes(routes!(desk::set_triage))
        .routes(routes!(desk::add_note))
        .routes(routes!(desk::list_team))
        .routes(routes!(desk::dashboard))
        .routes(routes!(desk::get_clocks, desk::put_clocks))
        .routes(routes!(desk::import_holidays))
        .routes(routes!(desk::finder_withdraw))
        .routes(routes!(desk::get_advisory, desk::put_advisory))
        .routes(routes!(desk::publish_advisory))
        .routes(routes!(desk::finder_consent))
        .routes(routes!(desk::member_incident))
        .routes(routes!(desk::outsider_incident))
        .routes(routes!(desk::outsider_incident_status))
        .routes(routes!(desk::list_incidents))
        .routes(routes!(desk::get_incident))
        .routes(routes!(desk::move_incident))
        .routes(routes!(desk::add_incident_entry))
        .routes(routes!(desk::set_incident_clock))
        .routes(routes!(desk::add_incident_evidence))
        .routes(routes!(desk::incident_evidence))
        .routes(routes!(desk::list_keys, desk::generate_key))
        .routes(routes!(desk::import_key))
        .routes(routes!(desk::get_page, desk::put_page))
        .routes(routes!(desk::get_settings, desk::put_settings))
}

/// The OpenAPI document, generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().split_for_parts().1;
    complete_responses(&mut doc);
    doc
}

pub(crate) fn router(state: AppState) -> Router {
    let (api, mut doc) = api_router().split_for_parts();
    complete_responses(&mut doc);
    let doc = std::sync::Arc::new(doc);
    api.merge(system::router(doc))
        .merge(web::router())
        .merge(security::router())
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

/// The detail of the 404 for paths no route serves (handlers' own 404s say what was not found).
pub const NO_ROUTE_DETAIL: &str = "nothing is served at this path";

/// Browsers (asking for HTML, outside the API) get a page; API clients keep problem+json.
async fn no_route(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("text/html")));
    if wants_html && !uri.path().starts_with("/api/") {
        return web::not_found_page(uri.path());
    }
    crate::problem::Problem::new(crate::problem::Kind::NotFound, NO_ROUTE_DETAIL).into_response()
}

async fn wrong_method() -> crate::problem::Problem {
    crate::problem::Problem::new(crate::problem::Kind::MethodNotAllowed, "this path does not accept that method")
}

/// The answers every operation can give beyond its own, added to the document so it lists them
/// all (#14 item 7): 401 and 423 wherever a session is needed (423 except on the routes a
/// locked session may use), 403 where roles and policies decide, 404 wherever the path (or a
/// conversation request's body) names something, and for a body 400 (not JSON), 413 (too
/// large), 415 (wrong content type) and 422 (a field broke a rule). The authorization matrix
/// test fails on any answer an operation gives that its entry does not list.
fn complete_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    crate::problem::CONTENT_TYPE,
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ProblemDocument"))).build(),
                )
                .build(),
        )
    };
    const LOCK_SCREEN: [&str; 5] = [
        "/api/v1/me",
        "/api/v1/me/pin",
        "/api/v1/sessions/current",
        "/api/v1/sessions/current/lock",
        "/api/v1/sessions/current/unlock",
    ];
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses.entry(status.to_owned()).or_insert_with(|| problem(description));
            };
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                add("401", "Not signed in or the session ended (`unauthenticated`, `wipe-required`); an admin action on a lapsed admin session (`reauthentication-required`)");
                if !LOCK_SCREEN.contains(&path.as_str()) {
                    add("423", "The session is locked behind its PIN, or one must be set first (`pin-required`)");
                }
            }
            let scoped = ["/api/v1/enterprises/", "/api/v1/desk/", "/api/v1/conversations"];
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) && scoped.iter().any(|p| path.starts_with(p))
            {
                add("403", "Your role does not allow this here (`forbidden`), or the message's policy does not (`message-policy`)");
            }
            if path.contains('{') || (operation.request_body.is_some() && path.starts_with("/api/v1/conversations")) {
                add("404", "Nothing with that id, or nothing you may know of");
            }
            if operation.request_body.is_some() {
                add("400", "The body is not valid JSON (`malformed-body`)");
                add("413", "The body is larger than this server accepts (`payload-too-large`)");
                add("415", "The body has the wrong content type (`unsupported-media-type`)");
                add("422", "A field broke a rule; `field` and `rule` say which (`invalid-field`)");
            }
        }
    }
}

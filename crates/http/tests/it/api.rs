//! The API end to end: sessions, CSRF, tenant boundaries, rate limits, headers, OpenAPI coverage.

use crate::{app, app_with, req};
use axum::http::{Method, StatusCode};
use domain::Role;
use serde_json::{json, Value};

#[tokio::test]
async fn sign_in_use_and_sign_out_with_a_bearer_token() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let (body, cookie) = app.sign_in("ada@acme.example").await;
    assert!(cookie.starts_with("__Host-conclave_session="));
    let token = body["token"].as_str().unwrap();
    let me = req(Method::GET, "/api/v1/me").bearer(token).send(&app).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["user"]["email"], "ada@acme.example");
    assert_eq!(me.json()["enterprise"]["name"], "Acme");
    let devices = req(Method::GET, "/api/v1/me/devices").bearer(token).send(&app).await.json();
    assert_eq!(devices[0]["ip"], "203.0.113.5");
    assert_eq!(devices[0]["sign_in_method"], "password", "the device list says how each device signed in");
    let out = req(Method::DELETE, "/api/v1/sessions/current").bearer(token).send(&app).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    let after = req(Method::GET, "/api/v1/me").bearer(token).send(&app).await;
    after.problem(401, "unauthenticated");
    assert!(after.header("www-authenticate").starts_with("Bearer"));
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "ada@acme.example", Role::Member).await;
    let a = req(Method::POST, "/api/v1/sessions")
        .json(&json!({ "email": "nobody@acme.example", "password": "whatever1" }))
        .send(&app)
        .await;
    let b = req(Method::POST, "/api/v1/sessions")
        .json(&json!({ "email": "ada@acme.example", "password": "whatever1" }))
        .send(&app)
        .await;
    assert_eq!(a.status, b.status);
    assert_eq!(a.body, b.body);
    a.problem(401, "invalid-credentials");
    assert!(a.header("set-cookie").is_empty());
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_header_to_change_anything() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "admin@acme.example", Role::EnterpriseAdmin).await;
    let (body, cookie) = app.sign_in("admin@acme.example").await;
    let csrf = body["csrf_token"].as_str().unwrap();
    let path = format!("/api/v1/enterprises/{e}/teams");
    let team = json!({ "name": "Platform" });

    let reply = req(Method::POST, &path).header("cookie", &cookie).json(&team).send(&app).await;
    reply.problem(403, "csrf-rejected");
    let reply = req(Method::POST, &path)
        .header("cookie", &cookie)
        .header("x-csrf-token", "forged")
        .json(&team)
        .send(&app)
        .await;
    reply.problem(403, "csrf-rejected");
    let reply = req(Method::POST, &path)
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .header("sec-fetch-site", "cross-site")
        .json(&team)
        .send(&app)
        .await;
    reply.problem(403, "csrf-rejected");
    let listed = req(Method::GET, &path).header("cookie", &cookie).send(&app).await;
    assert_eq!(listed.json().as_array().unwrap().len(), 0, "nothing was created by the refused requests");

    let reply =
        req(Method::POST, &path).header("cookie", &cookie).header("x-csrf-token", csrf).json(&team).send(&app).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let me = req(Method::GET, "/api/v1/me").header("cookie", &cookie).send(&app).await.json();
    assert_eq!(me["csrf_token"], csrf);
}

#[tokio::test]
async fn other_tenants_and_weaker_roles_are_refused() {
    let app = app().await;
    let a = app.enterprise("A").await;
    let b = app.enterprise("B").await;
    app.user(a, "admin@a.example", Role::EnterpriseAdmin).await;
    app.user(a, "member@a.example", Role::Member).await;
    let b_user = app.user(b, "user@b.example", Role::Member).await;
    let admin_a = app.token("admin@a.example").await;
    let member_a = app.token("member@a.example").await;

    req(Method::GET, &format!("/api/v1/enterprises/{b}/users"))
        .bearer(&admin_a)
        .send(&app)
        .await
        .problem(403, "forbidden");
    req(Method::GET, &format!("/api/v1/enterprises/{b}")).bearer(&admin_a).send(&app).await.problem(404, "not-found");
    req(Method::PATCH, &format!("/api/v1/enterprises/{b}/users/{}", b_user.id))
        .bearer(&admin_a)
        .json(&json!({ "disabled": true }))
        .send(&app)
        .await
        .problem(403, "forbidden");
    req(Method::GET, &format!("/api/v1/enterprises/{b}/users/{}/devices", b_user.id))
        .bearer(&admin_a)
        .send(&app)
        .await
        .problem(403, "forbidden");
    req(Method::GET, &format!("/api/v1/enterprises/{a}/users"))
        .bearer(&member_a)
        .send(&app)
        .await
        .problem(403, "forbidden");
    req(Method::GET, &format!("/api/v1/enterprises/{a}/audit"))
        .bearer(&member_a)
        .send(&app)
        .await
        .problem(403, "forbidden");
    req(Method::POST, &format!("/api/v1/enterprises/{a}/teams"))
        .bearer(&member_a)
        .json(&json!({ "name": "Mine" }))
        .send(&app)
        .await
        .problem(403, "forbidden");
    req(Method::GET, "/api/v1/me").send(&app).await.problem(401, "unauthenticated");
    req(Method::GET, "/api/v1/me").bearer("made-up-token").send(&app).await.problem(401, "unauthenticated");
    assert!(!app.services.directory.get_user(&services::Caller::Operator, b, b_user.id).await.unwrap().disabled);
}

#[tokio::test]
async fn an_admin_manages_users_teams_and_reads_the_audit_log() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "admin@acme.example", Role::EnterpriseAdmin).await;
    let token = app.token("admin@acme.example").await;
    let created = req(Method::POST, &format!("/api/v1/enterprises/{e}/users"))
        .bearer(&token)
        .json(&json!({ "email": "Bob@Acme.example", "name": "Bob", "role": "team-admin", "password": "quiet orchard lantern 42" }))
        .send(&app)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let bob = created.json();
    assert_eq!(bob["email"], "bob@acme.example");
    let bob_id = bob["id"].as_str().unwrap();
    let team = req(Method::POST, &format!("/api/v1/enterprises/{e}/teams"))
        .bearer(&token)
        .json(&json!({ "name": "Platform" }))
        .send(&app)
        .await
        .json();
    let team_id = team["id"].as_str().unwrap();
    let put = req(Method::PUT, &format!("/api/v1/enterprises/{e}/teams/{team_id}/members/{bob_id}"))
        .bearer(&token)
        .json(&json!({ "is_admin": true }))
        .send(&app)
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.text());
    let members = req(Method::GET, &format!("/api/v1/enterprises/{e}/teams/{team_id}/members"))
        .bearer(&token)
        .send(&app)
        .await
        .json();
    assert_eq!(members[0]["is_admin"], true);
    let disabled = req(Method::PATCH, &format!("/api/v1/enterprises/{e}/users/{bob_id}"))
        .bearer(&token)
        .json(&json!({ "disabled": true }))
        .send(&app)
        .await
        .json();
    assert_eq!(disabled["disabled"], true);
    let archived = req(Method::PATCH, &format!("/api/v1/enterprises/{e}/teams/{team_id}"))
        .bearer(&token)
        .json(&json!({ "archived": true }))
        .send(&app)
        .await
        .json();
    assert_eq!(archived["archived"], true);
    let removed = req(Method::DELETE, &format!("/api/v1/enterprises/{e}/teams/{team_id}/members/{bob_id}"))
        .bearer(&token)
        .send(&app)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let audit = req(Method::GET, &format!("/api/v1/enterprises/{e}/audit")).bearer(&token).send(&app).await.json();
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|ev| ev["action"].as_str().unwrap()).collect();
    for expected in [
        "user.create",
        "team.create",
        "team.member.put",
        "user.disable",
        "team.archive",
        "team.member.remove",
        "auth.sign-in",
    ] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let dump = audit.to_string();
    assert!(
        !dump.contains("bob@acme.example") && !dump.contains("Platform"),
        "audit events carry ids, not personal data"
    );
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_ip_with_retry_after() {
    let app = app_with(http_api::HttpSettings { sign_in_per_minute: 3, ..Default::default() }).await;
    let body = json!({ "email": "x@acme.example", "password": "whatever1" });
    for _ in 0..3 {
        let r = req(Method::POST, "/api/v1/sessions").from_ip([198, 51, 100, 1]).json(&body).send(&app).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let limited = req(Method::POST, "/api/v1/sessions").from_ip([198, 51, 100, 1]).json(&body).send(&app).await;
    limited.problem(429, "rate-limited");
    assert!(limited.header("retry-after").parse::<u64>().unwrap() >= 1);
    // The same account from another address is limited too (per account, whatever the IP)...
    let other_ip = req(Method::POST, "/api/v1/sessions").from_ip([198, 51, 100, 2]).json(&body).send(&app).await;
    other_ip.problem(429, "rate-limited");
    // ...while another account from that address is not.
    let other = json!({ "email": "y@acme.example", "password": "whatever1" });
    let r = req(Method::POST, "/api/v1/sessions").from_ip([198, 51, 100, 2]).json(&other).send(&app).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn behind_a_trusted_proxy_limits_and_device_records_use_the_client_address() {
    let trusted_proxies = http_api::proxy::TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
    let app = app_with(http_api::HttpSettings { sign_in_per_minute: 2, trusted_proxies, ..Default::default() }).await;
    let enterprise = app.enterprise("Acme").await;
    app.user(enterprise, "proxied@acme.example", Role::Member).await;
    let wrong = |email: &str| json!({ "email": email, "password": "whatever1" });
    let via_proxy = |client: &str, email: &str| {
        req(Method::POST, "/api/v1/sessions")
            .from_ip([10, 0, 0, 2])
            .header("x-forwarded-for", client)
            .json(&wrong(email))
    };
    // Two clients behind the same proxy have a bucket each.
    for _ in 0..2 {
        assert_eq!(via_proxy("198.51.100.7", "a@acme.example").send(&app).await.status, StatusCode::UNAUTHORIZED);
    }
    via_proxy("198.51.100.7", "b@acme.example").send(&app).await.problem(429, "rate-limited");
    assert_eq!(via_proxy("198.51.100.8", "c@acme.example").send(&app).await.status, StatusCode::UNAUTHORIZED);
    // A client cannot escape its bucket by forging the header: the proxy appends the real address.
    via_proxy("192.0.2.1, 198.51.100.7", "d@acme.example").send(&app).await.problem(429, "rate-limited");
    // From an untrusted peer the header is ignored: the peer's own bucket is spent.
    for _ in 0..2 {
        let r = req(Method::POST, "/api/v1/sessions")
            .from_ip([203, 0, 113, 77])
            .header("x-forwarded-for", "198.51.100.99")
            .json(&wrong("e@acme.example"))
            .send(&app)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let spent = req(Method::POST, "/api/v1/sessions")
        .from_ip([203, 0, 113, 77])
        .header("x-forwarded-for", "198.51.100.100")
        .json(&wrong("f@acme.example"))
        .send(&app)
        .await;
    spent.problem(429, "rate-limited");
    // The device record names the client, not the proxy.
    let signed_in = req(Method::POST, "/api/v1/sessions")
        .from_ip([10, 0, 0, 2])
        .header("x-forwarded-for", "198.51.100.50")
        .json(&json!({ "email": "proxied@acme.example", "password": crate::PASSWORD }))
        .send(&app)
        .await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.text());
    let token = signed_in.json()["token"].as_str().unwrap().to_owned();
    let devices = req(Method::GET, "/api/v1/me/devices").bearer(&token).send(&app).await.json();
    assert_eq!(devices[0]["ip"], "198.51.100.50", "{devices}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = app().await;
    for path in ["/healthz", "/signin", "/api/v1/me", "/assets/chat.js", "/nowhere"] {
        let r = req(Method::GET, path).send(&app).await;
        let csp = r.header("content-security-policy");
        assert!(
            csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(r.header("strict-transport-security").starts_with("max-age="), "{path}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(r.header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(r.header("x-request-id").len(), 36, "{path}");
    }
}

#[tokio::test]
async fn health_readiness_metrics_and_problem_pages_answer() {
    let app = app().await;
    assert_eq!(req(Method::GET, "/healthz").send(&app).await.text(), "ok\n");
    let ready = req(Method::GET, "/readyz").send(&app).await;
    assert_eq!(ready.json()["backend"], "sqlite");
    assert_eq!(ready.json()["status"], "ready");
    // Metrics are for this machine (or a configured network, or the metrics token) only.
    req(Method::GET, "/metrics").send(&app).await.problem(403, "forbidden");
    let local = req(Method::GET, "/metrics").from_ip([127, 0, 0, 1]).send(&app).await;
    assert!(local.header("content-type").starts_with("text/plain"), "{}", local.text());
    let scraped =
        crate::app_with(http_api::HttpSettings { metrics_token: Some("scrape-me".into()), ..Default::default() }).await;
    assert_eq!(req(Method::GET, "/metrics").bearer("scrape-me").send(&scraped).await.status, StatusCode::OK);
    req(Method::GET, "/metrics").bearer("scrape-you").send(&scraped).await.problem(403, "forbidden");
    let page = req(Method::GET, "/problems/invalid-field").send(&app).await;
    assert!(page.text().contains("Nothing was written"));
}

/// Every operation in the OpenAPI document is served by the router (and, by construction through
/// `utoipa_axum::routes!`, every API route is in the document).
#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let app = app().await;
    let doc = req(Method::GET, "/api/openapi.json").send(&app).await.json();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 16, "{:?}", paths.keys());
    let mut n_operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{enterprise_id}", "00000000-0000-0000-0000-000000000001")
            .replace("{user_id}", "00000000-0000-0000-0000-000000000002")
            .replace("{team_id}", "00000000-0000-0000-0000-000000000003")
            .replace("{session_id}", "00000000-0000-0000-0000-000000000004");
        for (method, op) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no response"
            );
            let r = req(method.clone(), &concrete).send(&app).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let routed = r.status != StatusCode::NOT_FOUND || r.header("content-type") == "application/problem+json";
            assert!(routed, "{method} {path} is documented but not routed");
            n_operations += 1;
        }
    }
    assert!(n_operations >= 19, "{n_operations}");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_problems_too() {
    let app = app().await;
    let r = req(Method::GET, "/api/v1/nothing-here").send(&app).await;
    assert_eq!(r.problem(404, "not-found")["detail"], http_api::NO_ROUTE_DETAIL);
    req(Method::PUT, "/api/v1/sessions").send(&app).await.problem(405, "method-not-allowed");
}

#[tokio::test]
async fn the_audit_catalogue_is_served_and_a_refusal_shows_in_the_log_with_its_origin() {
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "admin@acme.example", Role::EnterpriseAdmin).await;
    app.user(e, "member@acme.example", Role::Member).await;
    let admin = app.token("admin@acme.example").await;
    let member = app.token("member@acme.example").await;
    req(Method::GET, "/api/v1/audit/catalogue").send(&app).await.problem(401, "unauthenticated");
    let catalogue = req(Method::GET, "/api/v1/audit/catalogue").bearer(&member).send(&app).await;
    assert_eq!(catalogue.status, StatusCode::OK);
    let entries = catalogue.json();
    let sign_in = entries.as_array().unwrap().iter().find(|a| a["action"] == "auth.sign-in").unwrap();
    assert_eq!((sign_in["scope"].as_str(), sign_in["target"].as_str()), (Some("enterprise"), Some("session")));
    let doc = req(Method::GET, "/api/openapi.json").send(&app).await.json();
    assert!(doc["paths"]["/api/v1/audit/catalogue"]["get"].is_object(), "the catalogue is in the API document");
    assert!(doc["components"]["schemas"]["CatalogueEntry"].is_object(), "with its entry's schema");

    req(Method::GET, &format!("/api/v1/enterprises/{e}/users"))
        .bearer(&member)
        .send(&app)
        .await
        .problem(403, "forbidden");
    let log = req(Method::GET, &format!("/api/v1/enterprises/{e}/audit")).bearer(&admin).send(&app).await.json();
    let denied = log.as_array().unwrap().iter().find(|ev| ev["outcome"] == "denied").expect("the refusal is logged");
    assert_eq!(denied["action"], "user.list");
    assert!(denied["actor"].as_str().unwrap().starts_with("user:"));
    assert!(denied["ip"].is_string(), "the refusal carries the request's address: {denied}");
    // Several roles in one request, and a clear refusal for an unknown one.
    let both = req(Method::POST, &format!("/api/v1/enterprises/{e}/users"))
        .bearer(&admin)
        .json(&json!({ "email": "sec@acme.example", "name": "Sec", "roles": ["enterprise-admin", "security"] }))
        .send(&app)
        .await;
    assert_eq!(both.status, StatusCode::CREATED);
    assert_eq!(both.json()["roles"], json!(["enterprise-admin", "security"]));
    assert_eq!(both.json()["role"], "enterprise-admin");
    let refused = req(Method::POST, &format!("/api/v1/enterprises/{e}/users"))
        .bearer(&admin)
        .json(&json!({ "email": "x@acme.example", "name": "X", "roles": ["root"] }))
        .send(&app)
        .await
        .problem(422, "invalid-field");
    assert_eq!(refused["field"], "roles", "{refused}");
    let roleless = req(Method::POST, &format!("/api/v1/enterprises/{e}/users"))
        .bearer(&admin)
        .json(&json!({ "email": "y@acme.example", "name": "Y" }))
        .send(&app)
        .await
        .problem(422, "invalid-field");
    assert_eq!(roleless["field"], "role", "{roleless}");
    let users = req(Method::GET, &format!("/api/v1/enterprises/{e}/users")).bearer(&admin).send(&app).await.json();
    assert_eq!(users.as_array().unwrap().len(), 3, "the refused accounts were not created");
}

/// #14 item 7: every field a client sends documents the limit the server enforces: strings a
/// length, a format or a set of values; numbers a range; lists a largest size. A field added
/// without one fails here (the message lists them all).
#[tokio::test]
async fn every_request_field_documents_its_limit() {
    let app = app().await;
    let doc = req(Method::GET, "/api/openapi.json").send(&app).await.json();
    let schemas = doc["components"]["schemas"].as_object().unwrap().clone();
    let name_of = |r: &Value| r["$ref"].as_str().map(|s| s.rsplit('/').next().unwrap().to_owned());
    let bounded_string = |s: &Value| ["maxLength", "format", "enum", "pattern"].iter().any(|k| !s[*k].is_null());
    // A number states its largest value; a 64-bit cursor, sequence or version number its
    // smallest, the type giving the rest.
    let bounded_number = |s: &Value| !s["maximum"].is_null() || (!s["minimum"].is_null() && s["format"] == "int64");
    let kind = |s: &Value| match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).find(|t| *t != "null").unwrap_or("").to_owned(),
        _ => String::new(),
    };
    let mut unbounded = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for content in op["requestBody"]["content"].as_object().into_iter().flat_map(|c| c.values()) {
                pending.extend(name_of(&content["schema"]));
            }
            for p in op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "query") {
                let s = &p["schema"];
                let ok = match kind(s).as_str() {
                    "string" => bounded_string(s),
                    "integer" | "number" => bounded_number(s),
                    _ => true,
                };
                if !ok {
                    unbounded.push(format!("query {} of {} {path}", p["name"], method.to_uppercase()));
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for (field, s) in schemas[&name]["properties"].as_object().into_iter().flatten() {
            let refs: Vec<String> = std::iter::once(s)
                .chain(s["oneOf"].as_array().into_iter().flatten())
                .chain(s["allOf"].as_array().into_iter().flatten())
                .chain(std::iter::once(&s["items"]))
                .filter_map(name_of)
                .collect();
            if !refs.is_empty() {
                pending.extend(refs);
                if kind(s) != "array" {
                    continue;
                }
            }
            let ok = match kind(s).as_str() {
                "string" => bounded_string(s),
                "integer" | "number" => bounded_number(s),
                "array" => {
                    !s["maxItems"].is_null()
                        && (kind(&s["items"]) != "string" || bounded_string(&s["items"]))
                        && (!matches!(kind(&s["items"]).as_str(), "integer" | "number") || bounded_number(&s["items"]))
                }
                _ => true,
            };
            if !ok {
                unbounded.push(format!("{name}.{field}"));
            }
        }
    }
    unbounded.sort();
    assert!(unbounded.is_empty(), "{} request fields document no limit:\n{}", unbounded.len(), unbounded.join("\n"));
}

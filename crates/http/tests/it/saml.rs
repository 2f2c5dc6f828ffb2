//! SAML 2.0 sign-in against a real identity provider: the npm `saml-idp`, started by the test with
//! a key pair made by `openssl`. Responses that were tampered with, unsigned, wrapped, meant for
//! another service, expired or replayed are all refused, and no account is made for them.

use crate::{app_with, req, TestApp};
use axum::http::{Method, StatusCode};
use base64::Engine as _;
use domain::Role;
use services::Caller;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Idp {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn idp() -> Option<Idp> {
    let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
    let run = e2e.join("node_modules/saml-idp/bin/run.js");
    if !run.exists() || Command::new("openssl").arg("version").stdout(Stdio::null()).status().is_err() {
        assert!(std::env::var_os("CI").is_none(), "saml-idp (npm ci in e2e/) and openssl are required under CI");
        eprintln!("skipping: saml-idp or openssl is missing");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("idp-key.pem"), dir.path().join("idp-cert.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-idp", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("node")
        .arg(run)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--issuer", "urn:test:idp"])
        .args(["--acsUrl", "https://chat.example.org/saml/acs", "--audience", "https://chat.example.org/saml/metadata"])
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let idp = Idp { child, port, _dir: dir };
    for _ in 0..400 {
        if reqwest::get(format!("http://127.0.0.1:{port}/metadata")).await.is_ok_and(|r| r.status().is_success()) {
            return Some(idp);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("saml-idp did not start");
}

/// The value of a hidden input in the IdP's HTML (Handlebars escapes `=` as `&#x3D;`).
fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).or_else(|| html.find(&format!("name='{name}'"))).expect(name);
    let rest = &html[at..];
    let v = rest.find("value=").unwrap() + 7;
    let quote = rest.as_bytes()[v - 1] as char;
    rest[v..v + rest[v..].find(quote).unwrap()].replace("&#x3D;", "=").replace("&#x2F;", "/").replace("&#43;", "+")
}

/// SP-initiated: our start page, the IdP's page, its sign-in, and the SAMLResponse it posts back.
/// Starts at /sso/start like a browser; returns the IdP's answer and the cookie the browser got.
async fn sp_initiated(app: &TestApp, idp: &Idp, email: &str) -> (String, String) {
    let r = req(Method::POST, "/sso/start")
        .header("host", "localhost")
        .raw("application/x-www-form-urlencoded", format!("email={}", email.replace('@', "%40")))
        .send(app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cookie = r.header("set-cookie").split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-conclave_saml=_"), "{cookie}");
    assert!(r.header("set-cookie").contains("SameSite=None") && r.header("set-cookie").contains("HttpOnly"));
    let page = r.text();
    let at = page.find("id=\"sso-continue\" href=\"").unwrap() + "id=\"sso-continue\" href=\"".len();
    let url = crate::unescape_attribute(&page[at..at + page[at..].find('"').unwrap()]);
    assert!(url.starts_with(&format!("http://127.0.0.1:{}/saml/sso?SAMLRequest=", idp.port)), "{url}");
    let login = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let authn = hidden(&login, "_authnRequest");
    (sign_at_idp(idp, Some(&authn), email).await, cookie)
}

async fn sign_at_idp(idp: &Idp, authn: Option<&str>, email: &str) -> String {
    let mut form = vec![("userName", email), ("email", email), ("displayName", "Test Person")];
    if let Some(a) = authn {
        form.push(("_authnRequest", a));
    }
    let html = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/signin", idp.port))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden(&html, "SAMLResponse")
}

async fn post_acs(app: &TestApp, response: &str) -> crate::Reply {
    post_acs_with(app, response, None).await
}

/// The IdP's page posting to the ACS, in a browser holding `cookie` (if any).
async fn post_acs_with(app: &TestApp, response: &str, cookie: Option<&str>) -> crate::Reply {
    let body = format!("SAMLResponse={}", response.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"));
    let mut r = req(Method::POST, "/saml/acs").header("host", "localhost").header("sec-fetch-site", "cross-site");
    if let Some(cookie) = cookie {
        r = r.header("cookie", cookie);
    }
    r.raw("application/x-www-form-urlencoded", body).send(app).await
}

fn xml_of(response: &str) -> String {
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(response).unwrap()).unwrap()
}

fn encoded(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml)
}

async fn settings(idp: &Idp, pairs: &[(&str, &str)]) {
    reqwest::Client::new().post(format!("http://127.0.0.1:{}/settings", idp.port)).form(pairs).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_sign_in_works_and_every_forged_or_stale_response_is_refused() {
    let Some(idp) = idp().await else { return };
    let app = app_with(http_api::HttpSettings { sign_in_per_minute: 1000, ..Default::default() }).await;
    let e = app.enterprise("Acme").await;
    app.user(e, "admin@acme.example", Role::EnterpriseAdmin).await;
    let admin = app.token("admin@acme.example").await;
    app.user(e, "member@acme.example", Role::Member).await;
    let member = app.token("member@acme.example").await;

    // Bad settings are refused; then the IdP is connected from its metadata URL.
    let path = format!("/api/v1/enterprises/{e}/sso/saml");
    // Only admins configure, and the server fetches nothing for anyone else.
    let r = req(Method::PUT, &path)
        .bearer(&member)
        .json(&serde_json::json!({ "idp_metadata_url": format!("http://127.0.0.1:{}/metadata", idp.port), "allowed_domains": ["acme.example"] }))
        .send(&app)
        .await;
    r.problem(403, "forbidden");
    let r = req(Method::PUT, &path)
        .bearer(&admin)
        .json(&serde_json::json!({ "idp_entity_id": "urn:x", "idp_sso_url": "https://idp.example/sso", "idp_certificate": "nope", "allowed_domains": ["acme.example"] }))
        .send(&app)
        .await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "idp_certificate");
    let r = req(Method::PUT, &path)
        .bearer(&admin)
        .header("host", "localhost")
        .json(&serde_json::json!({ "idp_metadata_url": format!("http://127.0.0.1:{}/metadata", idp.port), "allowed_domains": ["acme.example"], "allow_idp_initiated": true }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["idp_entity_id"], "urn:test:idp");
    // Another organisation cannot claim the same email domain (or the same IdP).
    let other = app.enterprise("Rival").await;
    let rival = services::sso::saml::SamlSettings {
        idp_entity_id: "urn:rival:idp".into(),
        idp_sso_url: "https://idp.rival.example/sso".into(),
        idp_certificate: r.json()["idp_certificate"].as_str().unwrap().to_owned(),
        allowed_domains: vec!["acme.example".into()],
        allow_idp_initiated: false,
        admin_groups: vec![],
        sp_base_url: "https://rival.example".into(),
        sso_only: false,
    };
    let err =
        app.services.sso.put_saml_settings(&Caller::Operator, &Default::default(), other, rival).await.unwrap_err();
    assert!(matches!(err, services::Error::Conflict(ref f) if f.field == "allowed_domains"), "{err:?}");
    // The metadata names the public URL whatever Host the request sent.
    let metadata = req(Method::GET, "/saml/metadata").header("host", "evil.example").send(&app).await;
    assert!(metadata.text().contains("https://chat.example.org/saml/acs"), "{}", metadata.text());
    assert!(!metadata.text().contains("evil.example"));

    // The sign-in page's single sign-on form finds SAML for this domain (no OpenID provider here);
    // an email of a domain with neither is refused with the reason.
    let r = req(Method::POST, "/sso/start")
        .raw("application/x-www-form-urlencoded", "email=eve%40nowhere.example")
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("not set up for this email"), "{}", r.text());
    let via_form = req(Method::POST, "/sso/start")
        .header("host", "localhost")
        .raw("application/x-www-form-urlencoded", "email=ada%40acme.example")
        .send(&app)
        .await;
    assert!(
        via_form.text().contains(&format!("http://127.0.0.1:{}/saml/sso?SAMLRequest=", idp.port)),
        "{}",
        via_form.text()
    );

    // SP-initiated: signed in, account made just in time.
    let (response, cookie) = sp_initiated(&app, &idp, "ada@acme.example").await;
    // Login CSRF: the answer posted by another browser (no cookie, or another request's) is
    // refused, and the request stays open for the browser that started it.
    let elsewhere = post_acs(&app, &response).await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    assert!(elsewhere.text().contains("another browser"), "{}", elsewhere.text());
    let (_, other_cookie) = sp_initiated(&app, &idp, "ada@acme.example").await;
    let crossed = post_acs_with(&app, &response, Some(&other_cookie)).await;
    assert!(crossed.text().contains("another browser"), "{}", crossed.text());
    let ok = post_acs_with(&app, &response, Some(&cookie)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert!(ok.header("set-cookie").starts_with("__Host-conclave_session="));
    let users = app.services.directory.list_users(&Caller::Operator, e).await.unwrap();
    let ada = users.iter().find(|u| u.email == "ada@acme.example").expect("made just in time");
    assert_eq!(ada.name, "Test Person");

    // The same response again: its request was answered and its assertion used.
    let replay = post_acs_with(&app, &response, Some(&cookie)).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);

    // IdP-initiated (allowed here), then replayed: refused as an assertion already used.
    let idp_initiated = sign_at_idp(&idp, None, "bob@acme.example").await;
    assert_eq!(post_acs(&app, &idp_initiated).await.status, StatusCode::OK);
    let again = post_acs(&app, &idp_initiated).await;
    assert!(again.text().contains("already used"), "{}", again.text());

    let refused = |expect: &'static str| {
        move |reply: crate::Reply| {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
            assert!(reply.text().contains(expect), "expected {expect:?} in {}", reply.text());
        }
    };

    // Tampered: an attribute changed after signing.
    let fresh = sign_at_idp(&idp, None, "carol@acme.example").await;
    let tampered = xml_of(&fresh).replace("carol@acme.example", "root@acme.example");
    refused("signature")(post_acs(&app, &encoded(&tampered)).await);

    // Unsigned: every signature removed.
    let fresh = sign_at_idp(&idp, None, "carol@acme.example").await;
    let mut unsigned = xml_of(&fresh);
    while let (Some(a), Some(b)) = (unsigned.find("<Signature"), unsigned.find("</Signature>")) {
        unsigned.replace_range(a..b + "</Signature>".len(), "");
    }
    refused("not signed")(post_acs(&app, &encoded(&unsigned)).await);

    // Signature wrapping: a forged, unsigned assertion placed beside the signed one.
    let fresh = xml_of(&sign_at_idp(&idp, None, "carol@acme.example").await);
    let start = fresh.find("<saml:Assertion").unwrap();
    let end = fresh.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let mut forged = fresh[start..end].replace("carol@acme.example", "root@acme.example");
    while let (Some(a), Some(b)) = (forged.find("<Signature"), forged.find("</Signature>")) {
        forged.replace_range(a..b + "</Signature>".len(), "");
    }
    let forged = forged.replacen("ID=\"", "ID=\"forged", 1);
    let wrapped = format!("{}{}{}", &fresh[..start], forged, &fresh[start..]);
    refused("exactly one assertion")(post_acs(&app, &encoded(&wrapped)).await);

    // Meant for another service, and expired.
    settings(&idp, &[("audience", "urn:someone-else")]).await;
    refused("another service")(post_acs(&app, &sign_at_idp(&idp, None, "carol@acme.example").await).await);
    settings(&idp, &[("audience", "https://chat.example.org/saml/metadata"), ("lifetimeInSeconds", "-3600")]).await;
    refused("expired")(post_acs(&app, &sign_at_idp(&idp, None, "carol@acme.example").await).await);
    settings(&idp, &[("lifetimeInSeconds", "3600")]).await;

    // Not base64, not XML: a clear refusal.
    refused("not base64")(post_acs(&app, "%%%").await);

    let users = app.services.directory.list_users(&Caller::Operator, e).await.unwrap();
    assert!(
        !users.iter().any(|u| u.email.starts_with("carol") || u.email.starts_with("root")),
        "no account for a refused response"
    );
    // Each refusal above is one failed sign-in in the audit log: two from other browsers, two
    // replays, a changed attribute,
    // an unsigned response, a wrapped one, another audience, an expired one, and bad base64.
    let saml_failures = |events: &[domain::audit::AuditEvent]| {
        events
            .iter()
            .filter(|ev| {
                ev.draft.action == "auth.sign-in"
                    && ev.draft.outcome == domain::audit::Outcome::Failure
                    && ev.draft.detail.contains("\"saml\"")
            })
            .count()
    };
    let events = app.store.audit_page(0, 1000).await.unwrap();
    assert_eq!(saml_failures(&events), 10, "one audit event per refused response");
    assert!(
        events
            .iter()
            .filter(|ev| ev.draft.detail.contains("\"saml\"") && ev.draft.outcome == domain::audit::Outcome::Failure)
            .any(|ev| ev.draft.enterprise_id == Some(e)),
        "a refusal from the organisation's IdP is in its own audit report"
    );

    // A post without a SAMLResponse is refused, and audited too.
    let empty =
        req(Method::POST, "/saml/acs").raw("application/x-www-form-urlencoded", "RelayState=x").send(&app).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let events = app.store.audit_page(0, 1000).await.unwrap();
    assert_eq!(saml_failures(&events), 11);
    assert!(events.last().unwrap().draft.detail.contains("incomplete-answer"));

    // Only an admin may hand the server metadata XML to parse.
    let r = req(Method::PUT, &path)
        .bearer(&member)
        .json(&serde_json::json!({ "idp_metadata": "<EntityDescriptor/>", "allowed_domains": ["acme.example"] }))
        .send(&app)
        .await;
    r.problem(403, "forbidden");

    // "Single sign-on only" for a SAML organisation turns password sign-in off for members.
    let current: serde_json::Value = req(Method::GET, &path).bearer(&admin).send(&app).await.json();
    let r = req(Method::PUT, &path)
        .bearer(&admin)
        .header("host", "localhost")
        .json(&serde_json::json!({
            "idp_entity_id": current["idp_entity_id"], "idp_sso_url": current["idp_sso_url"],
            "idp_certificate": current["idp_certificate"], "allowed_domains": ["acme.example"],
            "allow_idp_initiated": true, "sso_only": true,
        }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["sso_only"], true);
    let password = req(Method::POST, "/api/v1/sessions")
        .json(&serde_json::json!({ "email": "member@acme.example", "password": crate::PASSWORD }))
        .send(&app)
        .await;
    password.problem(403, "sso-required");

    // An admin confirming who they are (A5): the request asks the IdP to authenticate again
    // (ForceAuthn), the IdP says it did just now, and the new session starts elevated. A plain
    // SAML sign-in does not.
    let plain = {
        let (response, cookie) = sp_initiated(&app, &idp, "admin@acme.example").await;
        post_acs_with(&app, &response, Some(&cookie)).await
    };
    let plain_token =
        plain.header("set-cookie").split(';').next().unwrap().trim_start_matches("__Host-conclave_session=").to_owned();
    let me = req(Method::GET, "/api/v1/me").bearer(&plain_token).send(&app).await.json();
    assert!(me["elevated_until"].is_null(), "a sign-in the IdP may have answered from its own session: {me}");
    let r = req(Method::POST, "/sso/start")
        .header("host", "localhost")
        .raw("application/x-www-form-urlencoded", "email=admin%40acme.example&fresh=1")
        .send(&app)
        .await;
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-conclave_saml=_f"))
        .expect("a request marked as asking for a fresh sign-in");
    let page = r.text();
    let at = page.find("id=\"sso-continue\" href=\"").unwrap() + "id=\"sso-continue\" href=\"".len();
    let url = crate::unescape_attribute(&page[at..at + page[at..].find('"').unwrap()]);
    let login = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let response = sign_at_idp(&idp, Some(&hidden(&login, "_authnRequest")), "admin@acme.example").await;
    let confirmed = post_acs_with(&app, &response, Some(&cookie)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    let token = confirmed
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-conclave_session=")
        .to_owned();
    let me = req(Method::GET, "/api/v1/me").bearer(&token).send(&app).await.json();
    assert!(me["elevated_until"].is_string(), "the confirmed admin is elevated: {me}");
}

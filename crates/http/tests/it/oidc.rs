//! Single sign-on against a real OpenID provider: the npm `oidc-provider` started by the test
//! (`e2e/oidc-provider.mjs`; `scripts/test` installs it). Under CI a missing provider fails.

use crate::{app, req, TestApp};
use axum::http::{Method, StatusCode};
use domain::Role;
use services::sso::oidc::OidcSettings;
use services::Caller;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "provider-client-secret";

struct Provider {
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn e2e_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e")
}

/// Starts the provider (or returns `None` outside CI when Node or the package is missing).
async fn provider(port: u16, kid: &str) -> Option<Provider> {
    let script = e2e_dir().join("oidc-provider.mjs");
    let installed = e2e_dir().join("node_modules/oidc-provider").exists();
    if !installed || Command::new("node").arg("--version").stdout(Stdio::null()).status().is_err() {
        assert!(std::env::var_os("CI").is_none(), "the OpenID provider is required under CI (npm ci in e2e/)");
        eprintln!("skipping: node or oidc-provider is not installed (run npm ci in e2e/)");
        return None;
    }
    let child = Command::new("node")
        .arg(script)
        .args([
            "--port",
            &port.to_string(),
            "--client-id",
            "conclave",
            "--client-secret",
            SECRET,
            "--kid",
            kid,
            "--auto-login",
        ])
        .args(["--redirect", "https://chat.example.org/sso/oidc/callback"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let provider = Provider { child };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(provider);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the OpenID provider did not start");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Follows the provider's redirects (keeping its cookies) until it sends the browser back to
/// Conclave; returns the callback's path and query.
async fn through_provider(client: &reqwest::Client, mut url: String) -> String {
    for _ in 0..10 {
        let response = client.get(&url).send().await.unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let Some(location) = location else {
            panic!("the provider stopped at {url}: {}", response.text().await.unwrap_or_default())
        };
        if let Some(rest) = location.strip_prefix("https://chat.example.org") {
            return rest.to_owned();
        }
        url = if location.starts_with('/') {
            format!("{}{location}", &url[..url.find("/auth").unwrap_or(url.len())])
        } else {
            location
        };
        if !url.starts_with("http") {
            panic!("unexpected redirect {url}");
        }
    }
    panic!("too many redirects")
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Starts a sign-in; returns the provider's URL and the cookie that binds it to this browser.
async fn start(app: &TestApp, email: &str) -> (String, String) {
    // A forged Host changes nothing: the provider is told to return to the public URL.
    let r = req(Method::POST, "/sso/start")
        .header("host", "evil.example")
        .raw("application/x-www-form-urlencoded", format!("email={}", email.replace('@', "%40")))
        .send(app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let page = r.text();
    let at = page.find("id=\"sso-continue\" href=\"").expect("a continue link") + "id=\"sso-continue\" href=\"".len();
    let cookie = r.header("set-cookie").split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-conclave_sso="), "{cookie}");
    let authorize = crate::unescape_attribute(&page[at..at + page[at..].find('"').unwrap()]);
    assert!(authorize.contains("redirect_uri=https%3A%2F%2Fchat.example.org%2Fsso%2Foidc%2Fcallback"), "{authorize}");
    (authorize, cookie)
}

async fn configure(app: &TestApp, e: domain::EnterpriseId, port: u16, sso_only: bool) {
    let team =
        app.services.directory.create_team(&Caller::Operator, &Default::default(), e, "Engineering").await.unwrap();
    let settings = OidcSettings {
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: "conclave".into(),
        allowed_domains: vec!["acme.example".into()],
        groups_claim: Some("groups".into()),
        admin_groups: vec!["conclave-admins".into()],
        team_groups: [("engineering".to_owned(), team.id)].into_iter().collect(),
        sso_only,
        trust_emails_without_verified_claim: false,
    };
    app.services
        .sso
        .put_oidc_settings(&Caller::Operator, &Default::default(), e, settings, Some(SECRET))
        .await
        .unwrap();
}

// Multi-threaded: the provider is another process, and the test blocks on nothing but I/O.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_through_the_provider_and_bad_answers_are_refused() {
    let port = free_port();
    let Some(first) = provider(port, "key-1").await else { return };
    // Many sign-ins from one test address: lift the per-address limit for this test.
    let app = crate::app_with(http_api::HttpSettings { sign_in_per_minute: 100, ..Default::default() }).await;
    let e = app.enterprise("Acme").await;
    configure(&app, e, port, false).await;

    // Ada gets an account just in time, joins the mapped team, and is signed in.
    let client = browser();
    let (authorize, cookie) = start(&app, "ada@acme.example").await;
    assert!(
        authorize.contains("code_challenge_method=S256")
            && authorize.contains("nonce=")
            && authorize.contains("state=")
    );
    let callback = through_provider(&client, authorize).await;
    // The finished link alone, in another browser (no cookie), signs nobody in: login CSRF.
    let elsewhere = req(Method::GET, &callback).send(&app).await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    assert!(elsewhere.text().contains("another browser"), "{}", elsewhere.text());
    let signed = req(Method::GET, &callback).header("cookie", &cookie).send(&app).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text());
    // A page of ours moves on to the app, so the next request starts on this site and carries
    // the SameSite=Strict session cookie.
    assert!(signed.text().contains("content=\"0;url=/app\""), "{}", signed.text());
    assert!(signed.header("set-cookie").starts_with("__Host-conclave_session="));
    let users = app.services.directory.list_users(&Caller::Operator, e).await.unwrap();
    let ada = users.iter().find(|u| u.email == "ada@acme.example").expect("created just in time");
    assert_eq!(ada.role, Role::Member);
    let teams = app.services.directory.list_teams(&Caller::Operator, e).await.unwrap();
    let members = app.services.directory.list_team_members(&Caller::Operator, e, teams[0].id).await.unwrap();
    assert!(members.iter().any(|m| m.user_id == ada.id), "the groups claim put Ada in Engineering");
    // Nobody at the shell did this: the account and the team place are the system's work.
    let events = app.store.audit_page(0, 1000).await.unwrap();
    let target = format!("user:{}", ada.id);
    for action in ["user.create", "team.member.put"] {
        let ev = events.iter().find(|ev| ev.draft.action == action && ev.draft.target.as_deref() == Some(&target));
        assert_eq!(ev.map(|ev| ev.draft.actor.encode()).as_deref(), Some("system"), "{action}");
    }

    // The same answer again: the state was used up.
    let replay = req(Method::GET, &callback).header("cookie", &cookie).send(&app).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(replay.text().contains("already used"));
    let forged = req(Method::GET, "/sso/oidc/callback?code=x&state=not-a-state")
        .header("cookie", "__Host-conclave_sso=not-a-state")
        .send(&app)
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    // An admin group makes an enterprise admin.
    let (authorize, cookie) = start(&app, "admin.ops@acme.example").await;
    let callback = through_provider(&browser(), authorize).await;
    assert_eq!(req(Method::GET, &callback).header("cookie", &cookie).send(&app).await.status, StatusCode::OK);
    let users = app.services.directory.list_users(&Caller::Operator, e).await.unwrap();
    assert_eq!(users.iter().find(|u| u.email == "admin.ops@acme.example").unwrap().role, Role::EnterpriseAdmin);

    // An existing member in the provider's admin group (this provider puts addresses starting
    // with "admin" there) is raised to enterprise admin at their next sign-in.
    app.user(e, "admin.late@acme.example", Role::Member).await;
    let (authorize, cookie) = start(&app, "admin.late@acme.example").await;
    let callback = through_provider(&browser(), authorize).await;
    assert_eq!(req(Method::GET, &callback).header("cookie", &cookie).send(&app).await.status, StatusCode::OK);
    let users = app.services.directory.list_users(&Caller::Operator, e).await.unwrap();
    assert_eq!(users.iter().find(|u| u.email == "admin.late@acme.example").unwrap().role, Role::EnterpriseAdmin);

    // A domain without single sign-on is refused at the start; a token for another domain at the end.
    let r = req(Method::POST, "/sso/start")
        .raw("application/x-www-form-urlencoded", "email=eve%40other.example")
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let (authorize, cookie) = start(&app, "ada@acme.example").await;
    let authorize = authorize.replace("login_hint=ada%40acme.example", "login_hint=eve%40evil.example");
    let callback = through_provider(&browser(), authorize).await;
    let refused = req(Method::GET, &callback).header("cookie", &cookie).send(&app).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.text().contains("evil.example may not sign in here"), "{}", refused.text());
    let n = app.services.directory.list_users(&Caller::Operator, e).await.unwrap().len();
    assert_eq!(n, 3, "no account for the refused sign-in");

    // The provider does not vouch for the address (email_verified false): refused, since
    // accounts are matched by email.
    let (authorize, cookie) = start(&app, "unverified.ada@acme.example").await;
    let callback = through_provider(&browser(), authorize).await;
    let unverified = req(Method::GET, &callback).header("cookie", &cookie).send(&app).await;
    assert_eq!(unverified.status, StatusCode::UNAUTHORIZED);
    assert!(unverified.text().contains("not confirmed that this email address is verified"), "{}", unverified.text());
    assert_eq!(app.services.directory.list_users(&Caller::Operator, e).await.unwrap().len(), 3);

    // A provider that never sends the claim: refused, until the admin says it manages every
    // address itself.
    let (authorize, cookie) = start(&app, "noclaim.bo@acme.example").await;
    let callback = through_provider(&browser(), authorize).await;
    assert_eq!(req(Method::GET, &callback).header("cookie", &cookie).send(&app).await.status, StatusCode::UNAUTHORIZED);
    let mut trusting = app.services.sso.oidc_settings(&Caller::Operator, e).await.unwrap().unwrap();
    trusting.trust_emails_without_verified_claim = true;
    app.services.sso.put_oidc_settings(&Caller::Operator, &Default::default(), e, trusting, None).await.unwrap();
    let (authorize, cookie) = start(&app, "noclaim.bo@acme.example").await;
    let callback = through_provider(&browser(), authorize).await;
    let trusted = req(Method::GET, &callback).header("cookie", &cookie).send(&app).await;
    assert_eq!(trusted.status, StatusCode::OK, "{}", trusted.text());
    assert_eq!(app.services.directory.list_users(&Caller::Operator, e).await.unwrap().len(), 4);

    // The provider rotates its signing key: Conclave fetches the new keys and goes on.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let Some(_second) = provider(port, "key-2").await else { return };
    tokio::time::sleep(Duration::from_secs(11)).await; // past the key refresh interval
    let (authorize, cookie) = start(&app, "ada@acme.example").await;
    let callback = through_provider(&browser(), authorize).await;
    let after_rotation = req(Method::GET, &callback).header("cookie", &cookie).send(&app).await;
    assert_eq!(after_rotation.status, StatusCode::OK, "{}", after_rotation.text());

    // The provider sends the browser back with an error (the person declined): refused, audited.
    let declined = req(Method::GET, "/sso/oidc/callback?error=access_denied&state=x").send(&app).await;
    assert_eq!(declined.status, StatusCode::BAD_REQUEST);
    assert!(declined.text().contains("access_denied"));

    let events = app.store.audit_page(0, 1000).await.unwrap();
    let oidc: Vec<&str> = events
        .iter()
        .filter(|ev| ev.draft.action == "auth.sign-in" && ev.draft.detail.contains("oidc"))
        .map(|ev| ev.draft.detail.as_str())
        .collect();
    assert!(oidc.iter().any(|d| d.contains("unknown-or-used-state")));
    assert!(oidc.iter().any(|d| d.contains("not confirmed that this email address is verified")), "{oidc:?}");
    assert!(oidc.iter().any(|d| d.contains("provider-error:access_denied")), "{oidc:?}");
    assert!(oidc.iter().filter(|d| !d.contains("reason")).count() >= 3, "{oidc:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_only_turns_passwords_off_except_for_break_glass_admins() {
    let port = free_port();
    let Some(_provider) = provider(port, "key-1").await else { return };
    let app = app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "member@acme.example", Role::Member).await;
    app.user(e, "root@acme.example", Role::EnterpriseAdmin).await;
    let root = app
        .services
        .sessions
        .sign_in(&Default::default(), "root@acme.example", crate::PASSWORD)
        .await
        .unwrap()
        .principal;
    let enrolment = app.services.credentials.start_totp_enrolment(&root).await.unwrap();
    let secret = crypto::totp::TotpSecret::from_base32(&enrolment.secret).unwrap();
    let step = domain::Millis::now().0 / 1000 / crypto::totp::STEP_SECONDS;
    app.services.credentials.confirm_totp(&root, &Default::default(), &secret.code_at_step(step)).await.unwrap();
    configure(&app, e, port, true).await;

    let sign_in = |email: &str, otp: Option<String>| {
        req(Method::POST, "/api/v1/sessions")
            .json(&serde_json::json!({ "email": email, "password": crate::PASSWORD, "otp": otp }))
    };
    sign_in("member@acme.example", None).send(&app).await.problem(403, "sso-required");
    sign_in("root@acme.example", None).send(&app).await.problem(401, "second-factor-required");
    let r = sign_in("root@acme.example", Some(secret.code_at_step(step + 1))).send(&app).await;
    assert_eq!(r.status, StatusCode::CREATED, "break-glass: {}", r.text());
}

#[tokio::test]
async fn a_provider_that_does_not_answer_is_refused_when_saved_in_plain_words() {
    let app = crate::app().await;
    let e = app.enterprise("Acme").await;
    app.user(e, "root@acme.example", domain::Role::EnterpriseAdmin).await;
    let admin = app.token("root@acme.example").await;
    let nobody = free_port();
    let body = serde_json::json!({
        "settings": {
            "issuer": format!("http://127.0.0.1:{nobody}"), "client_id": "conclave", "allowed_domains": ["acme.example"],
            "groups_claim": null, "admin_groups": [], "team_groups": {}, "sso_only": false,
            "trust_emails_without_verified_claim": false,
        },
        "client_secret": "s3cret-value",
    });
    let refused = req(Method::PUT, &format!("/api/v1/enterprises/{e}/sso/oidc"))
        .bearer(&admin)
        .json(&body)
        .send(&app)
        .await
        .problem(422, "invalid-field");
    assert_eq!(refused["field"], "issuer", "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains("could not be reached"), "{detail}");
    assert!(!detail.contains("error sending request") && !detail.contains("Connection refused"), "our words: {detail}");
    // Nothing was stored: the sign-in page offers no provider for the domain.
    assert!(app.services.sso.oidc_settings(&Caller::Operator, e).await.unwrap().is_none());
}

/// An admin who signs in only through the provider confirms who they are there (A5): the
/// provider is asked to authenticate again (`prompt=login`, `max_age=0`), the answer must say
/// when it did, and the browser goes back to the admin console with an elevated session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_without_a_password_confirms_through_the_provider() {
    let port = free_port();
    let Some(_provider) = provider(port, "key-1").await else { return };
    let app = crate::app_with(http_api::HttpSettings { sign_in_per_minute: 100, ..Default::default() }).await;
    let e = app.enterprise("Acme").await;
    configure(&app, e, port, false).await;

    let fresh = req(Method::POST, "/sso/start")
        .raw("application/x-www-form-urlencoded", "email=admin.ops%40acme.example&fresh=1")
        .send(&app)
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text());
    let page = fresh.text();
    let at = page.find("id=\"sso-continue\" href=\"").unwrap() + "id=\"sso-continue\" href=\"".len();
    let authorize = crate::unescape_attribute(&page[at..at + page[at..].find('"').unwrap()]);
    assert!(authorize.contains("prompt=login") && authorize.contains("max_age=0"), "{authorize}");
    let cookies: Vec<String> = fresh
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    assert!(cookies.iter().any(|c| c == "__Host-conclave_return=admin"), "{cookies:?}");
    let callback = through_provider(&browser(), authorize).await;
    let signed = req(Method::GET, &callback).header("cookie", &cookies.join("; ")).send(&app).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text());
    assert!(signed.text().contains("content=\"0;url=/admin\""), "back to the console: {}", signed.text());
    let session = signed.header("set-cookie").split(';').next().unwrap().to_owned();
    let token = session.trim_start_matches("__Host-conclave_session=");
    let me = req(Method::GET, "/api/v1/me").bearer(token).send(&app).await.json();
    assert!(me["elevated_until"].is_string(), "the confirmed admin is elevated: {me}");
    // Without a password, the elevation endpoint says where to confirm instead.
    let refused = req(Method::POST, "/api/v1/sessions/current/elevation")
        .bearer(token)
        .json(&serde_json::json!({ "password": "anything at all" }))
        .send(&app)
        .await;
    assert!(refused.problem(422, "invalid-field")["detail"].as_str().unwrap().contains("single sign-on"));
}

//! The security desk over HTTP: the no-JavaScript forms, the JSON API, security.txt, HKP and
//! WKD, and interoperability with GnuPG (`gpg`), which must be installed (under CI it is).

use crate::{app, app_with, req, Reply, TestApp};
use axum::http::{Method, StatusCode};
use domain::Role;
use serde_json::json;
use std::process::{Command, Stdio};

fn form(fields: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn post_form(path: &str, fields: &[(&str, &str)]) -> crate::Req {
    req(Method::POST, path).raw("application/x-www-form-urlencoded", form(fields))
}

/// The receipt code on the confirmation page.
fn receipt_code(page: &Reply) -> String {
    let text = page.text();
    let start = text.find("id=\"receipt-code\">").expect("a receipt code is shown") + "id=\"receipt-code\">".len();
    text[start..start + 29].to_owned()
}

/// An enterprise with a security-team member; returns the team member's token.
async fn desk_app(app: &TestApp) -> String {
    let e = app.enterprise("Acme").await;
    app.user(e, "sec@acme.example", Role::Security).await;
    app.user(e, "member@acme.example", Role::Member).await;
    app.token("sec@acme.example").await
}

#[tokio::test]
async fn a_finder_uses_the_forms_without_javascript_from_report_to_reply() {
    let app = app().await;
    let security = desk_app(&app).await;
    let page = req(Method::GET, "/security").send(&app).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Rules of engagement") && page.text().contains("Hall of fame"));
    assert!(!page.text().contains("<script"), "the public pages need no script");
    assert_eq!(req(Method::GET, "/security/report").send(&app).await.status, StatusCode::OK);

    // A bad form comes back with the finder's text kept and the problem named.
    let bad = post_form(
        "/security/report",
        &[("title", "XSS"), ("description", "details"), ("affected_urls", "javascript:alert(1)")],
    )
    .send(&app)
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("is not an http:// or https:// URL") && bad.text().contains(">details</textarea>"));

    let done = post_form(
        "/security/report",
        &[
            ("title", "Session fixation"),
            ("description", "The session id survives sign-in."),
            ("affected_urls", "https://chat.example.org/signin\nhttps://chat.example.org/app"),
            ("ip_addresses", "203.0.113.9"),
            ("timestamps", "2026-11-20 09:00 UTC"),
            ("name", "Ada Finder"),
            ("credit", "on"),
        ],
    )
    .send(&app)
    .await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text());
    assert!(done.text().contains("Save this receipt code now"));
    let code = receipt_code(&done);

    let file = post_form("/security/receipt", &[("receipt_code", &code)]).send(&app).await;
    assert!(file.header("content-disposition").starts_with("attachment"));
    assert!(file.text().contains(&code));

    let status = post_form("/security/status", &[("receipt_code", &code.to_lowercase())]).send(&app).await;
    assert_eq!(status.status, StatusCode::OK);
    assert!(status.text().contains("Session fixation") && status.text().contains("data-state=\"new\">New<"));
    assert!(status.text().contains("What to expect</dt><dd>A first answer within 3 working days"), "{}", status.text());

    // The team answers through the API; the finder reads and replies through the form.
    let inbox = req(Method::GET, "/api/v1/desk/reports").bearer(&security).send(&app).await.json();
    let id = inbox[0]["id"].as_str().unwrap().to_owned();
    let r = req(Method::POST, &format!("/api/v1/desk/reports/{id}/replies"))
        .bearer(&security)
        .json(&json!({ "body": "Confirmed; which browser did you use?" }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let replied = post_form("/security/status/reply", &[("receipt_code", &code), ("body", "Firefox 128 on Linux.")])
        .send(&app)
        .await;
    assert_eq!(replied.status, StatusCode::OK);
    let text = replied.text();
    assert!(text.find("which browser").unwrap() < text.find("Firefox 128").unwrap(), "the thread is in order");

    let wrong = post_form("/security/status", &[("receipt_code", "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA")]).send(&app).await;
    let malformed = post_form("/security/status", &[("receipt_code", "hello")]).send(&app).await;
    assert_eq!((wrong.status, malformed.status), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(wrong.text(), malformed.text(), "a wrong code and a malformed one are answered alike");
}

#[tokio::test]
async fn a_bad_or_used_confirmation_link_gets_a_clear_page() {
    let app = app().await;
    desk_app(&app).await;
    // The link in the mail opens a page with a button (mail scanners follow links, not forms).
    let page = req(Method::GET, "/security/verify?token=not-a-real-token").send(&app).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("action=\"/security/verify\""));
    let refused = post_form("/security/verify", &[("token", "not-a-real-token")]).send(&app).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert!(
        refused.text().contains("invalid, expired (links work for 7 days) or was already used"),
        "{}",
        refused.text()
    );
}

#[tokio::test]
async fn the_json_api_validates_limits_and_guards_the_inbox() {
    let app = app_with(http_api::HttpSettings { public_per_minute: 3, ..Default::default() }).await;
    let security = desk_app(&app).await;
    let member = app.token("member@acme.example").await;

    let r =
        req(Method::POST, "/api/v1/security/reports").json(&json!({ "title": "x", "colour": "red" })).send(&app).await;
    assert_eq!(r.problem(422, "invalid-field")["rule"], "unknown-field");
    let r = req(Method::POST, "/api/v1/security/reports").raw("application/json", "{\"title\": ").send(&app).await;
    r.problem(400, "malformed-body");
    let r = req(Method::POST, "/api/v1/security/reports")
        .json(&json!({ "title": "x", "description": "y", "ip_addresses": ["999.1.1.1"] }))
        .send(&app)
        .await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "ip_addresses[0]");
    let r = req(Method::POST, "/api/v1/security/reports")
        .json(&json!({ "title": "Clickjacking", "description": "No frame-ancestors on /x." }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    let code = r.json()["receipt_code"].as_str().unwrap().to_owned();
    let r =
        req(Method::POST, "/api/v1/security/reports/status").json(&json!({ "receipt_code": code })).send(&app).await;
    assert_eq!(r.json()["state"], "new");
    // Three public requests per minute (bodies that fail to parse are refused before counting).
    let r =
        req(Method::POST, "/api/v1/security/reports/status").json(&json!({ "receipt_code": code })).send(&app).await;
    r.problem(429, "rate-limited");
    assert!(r.header("retry-after").parse::<u64>().unwrap() >= 1);
    let other = req(Method::POST, "/api/v1/security/reports/status")
        .from_ip([198, 51, 100, 1])
        .json(&json!({ "receipt_code": "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA" }))
        .send(&app)
        .await;
    other.problem(404, "not-found");

    req(Method::GET, "/api/v1/desk/reports").send(&app).await.problem(401, "unauthenticated");
    req(Method::GET, "/api/v1/desk/reports").bearer(&member).send(&app).await.problem(403, "forbidden");
    let inbox = req(Method::GET, "/api/v1/desk/reports").bearer(&security).send(&app).await.json();
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    req(Method::GET, "/api/v1/desk/reports/not-an-id").bearer(&security).send(&app).await.problem(404, "not-found");

    let r = req(Method::PUT, "/api/v1/desk/pages/policy")
        .bearer(&security)
        .json(&json!({ "markdown": "Fine\n\n<script>alert(1)</script>" }))
        .send(&app)
        .await;
    assert!(r.problem(422, "invalid-field")["detail"].as_str().unwrap().contains("raw HTML"));
    req(Method::PUT, "/api/v1/desk/pages/policy")
        .bearer(&member)
        .json(&json!({ "markdown": "# x" }))
        .send(&app)
        .await
        .problem(403, "forbidden");
    req(Method::GET, "/api/v1/desk/pages/nope").send(&app).await.problem(404, "not-found");
    let r = req(Method::POST, "/api/v1/desk/keys")
        .bearer(&security)
        .json(&json!({ "user_id": "S <s@acme.example>", "algorithm": "dsa" }))
        .send(&app)
        .await;
    r.problem(422, "invalid-field");
    let r = req(Method::POST, "/api/v1/desk/keys/import")
        .bearer(&security)
        .json(&json!({ "armored_key": "not a key" }))
        .send(&app)
        .await;
    r.problem(422, "invalid-field");
}

/// GnuPG in a throw-away home directory.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new() -> Option<Gpg> {
        if Command::new("gpg").arg("--version").stdout(Stdio::null()).status().is_err() {
            assert!(std::env::var_os("CI").is_none(), "gpg is required under CI (apt-get install gnupg dirmngr)");
            eprintln!("skipping: gpg is not installed");
            return None;
        }
        let home = tempfile::Builder::new().prefix("g").tempdir_in("/tmp").unwrap();
        Some(Gpg { home })
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> (bool, String, String) {
        use std::io::Write as _;
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--batch", "--no-tty", "--trust-model", "always"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").arg("--homedir").arg(self.home.path()).args(["--kill", "all"]).status();
    }
}

/// An app whose desk has generated its key for security@acme.example: the app, the security
/// team's token, and the key's fingerprint.
async fn app_with_desk_key() -> (TestApp, String, String) {
    let app = app().await;
    let security = desk_app(&app).await;
    let r = req(Method::POST, "/api/v1/desk/keys")
        .bearer(&security)
        .json(&json!({ "user_id": "Acme Security <security@acme.example>" }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let fingerprint = r.json()["fingerprint"].as_str().unwrap().to_owned();
    (app, security, fingerprint)
}

// Multi-threaded: the server keeps answering while this thread waits for gpg.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnupg_fetches_the_key_over_hkp_verifies_security_txt_and_encrypts_a_report() {
    let Some(gpg) = Gpg::new() else { return };
    let (app, security, fingerprint) = app_with_desk_key().await;
    let port = crate::messaging::listen(&app).await;

    // HKP: gpg's own key-server client asks /pks/lookup?op=get&options=mr&search=0x<fingerprint>.
    let (ok, _, err) = gpg.run(&["--keyserver", &format!("hkp://127.0.0.1:{port}"), "--recv-keys", &fingerprint], b"");
    assert!(ok, "gpg --recv-keys failed: {err}");
    let (_, listed, _) = gpg.run(&["--with-colons", "--list-keys", &fingerprint], b"");
    assert!(listed.contains(&format!("fpr:::::::::{fingerprint}:")), "{listed}");
    assert!(listed.contains("Acme Security <security@acme.example>"));

    // The machine-readable index.
    let index = req(Method::GET, "/pks/lookup?op=index&options=mr&search=security%40acme.example").send(&app).await;
    assert!(index.text().starts_with(&format!("info:1:1\npub:{fingerprint}:22:")), "{}", index.text());
    // Asked by the subkey it encrypts to (as gpg does when it refreshes a key), the key server
    // answers with the whole key; a miss says which key is published.
    let subkey = listed
        .lines()
        .filter_map(|l| l.strip_prefix("fpr:::::::::").and_then(|r| r.strip_suffix(':')))
        .find(|f| *f != fingerprint)
        .expect("the key has a subkey")
        .to_owned();
    let by_subkey = req(Method::GET, &format!("/pks/lookup?op=get&options=mr&search=0x{subkey}")).send(&app).await;
    assert_eq!(by_subkey.status, StatusCode::OK, "{}", by_subkey.text());
    assert!(by_subkey.text().contains("BEGIN PGP PUBLIC KEY BLOCK"));
    let miss =
        req(Method::GET, "/pks/lookup?op=get&search=0xDEADBEEFDEADBEEF").send(&app).await.problem(404, "not-found");
    assert!(miss["detail"].as_str().unwrap().contains(&format!("publishes 0x{fingerprint}")), "{miss}");
    req(Method::GET, "/pks/lookup?op=get").send(&app).await.problem(422, "invalid-field");

    // security.txt: text/plain, cleartext-signed, and gpg verifies the signature.
    // Served whatever host the request names, and always naming the configured address: a forged
    // Host header cannot make the organisation's key sign someone else's contact details.
    let txt = req(Method::GET, "/.well-known/security.txt").header("host", "evil.example").send(&app).await;
    assert!(!txt.text().contains("evil.example"), "{}", txt.text());
    assert_eq!(txt.header("content-type"), "text/plain; charset=utf-8");
    assert!(txt.text().contains("Contact: https://chat.example.org/security/report"));
    let (ok, _, err) = gpg.run(&["--verify"], &txt.body);
    assert!(ok && err.contains("Good signature"), "gpg --verify: {err}");
    let mut tampered = txt.text().replace("Preferred-Languages: en", "Preferred-Languages: fr");
    tampered.push('\n');
    let (ok, _, _) = gpg.run(&["--verify"], tampered.as_bytes());
    assert!(!ok, "a changed security.txt must not verify");

    // WKD: gpg computes the same hash, and the binary key it finds there imports.
    let wks =
        Command::new("/usr/lib/gnupg/gpg-wks-client").args(["--print-wkd-hash", "security@acme.example"]).output();
    let hash = match wks {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
        }
        _ => services::desk::wkd_hash("security"),
    };
    assert_eq!(hash, services::desk::wkd_hash("security"));
    let direct = req(Method::GET, &format!("/.well-known/openpgpkey/hu/{hash}?l=security")).send(&app).await;
    assert_eq!((direct.status, direct.header("content-type")), (StatusCode::OK, "application/octet-stream"));
    let advanced =
        req(Method::GET, &format!("/.well-known/openpgpkey/acme.example/hu/{hash}?l=security")).send(&app).await;
    assert_eq!(advanced.body, direct.body);
    req(Method::GET, &format!("/.well-known/openpgpkey/other.example/hu/{hash}"))
        .send(&app)
        .await
        .problem(404, "not-found");
    assert_eq!(req(Method::GET, "/.well-known/openpgpkey/policy").send(&app).await.status, StatusCode::OK);
    let fresh = Gpg::new().unwrap();
    let (ok, _, err) = fresh.run(&["--import"], &direct.body);
    assert!(ok, "the WKD key imports: {err}");

    // A finder encrypts with gpg; the desk shows the plaintext to the team.
    let (ok, armored, err) =
        gpg.run(&["--encrypt", "--armor", "--recipient", &fingerprint], b"RCE via the avatar upload.\nPoC attached.\n");
    assert!(ok, "{err}");
    let r = req(Method::POST, "/api/v1/security/reports").json(&json!({ "encrypted": armored })).send(&app).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let inbox = req(Method::GET, "/api/v1/desk/reports").bearer(&security).send(&app).await.json();
    let report = req(Method::GET, &format!("/api/v1/desk/reports/{}", inbox[0]["id"].as_str().unwrap()))
        .bearer(&security)
        .send(&app)
        .await
        .json();
    assert_eq!(report["was_encrypted"], true);
    assert!(report["description"].as_str().unwrap().starts_with("RCE via the avatar upload."));

    // Encrypted to some other key: refused with a reason, nothing stored.
    let (ok, _, _) =
        gpg.run(&["--quick-generate-key", "--passphrase", "", "Other <o@example.org>", "ed25519", "sign", "1d"], b"");
    assert!(ok);
    let (_, listed, _) = gpg.run(&["--with-colons", "--list-keys", "o@example.org"], b"");
    let other_fpr = listed.lines().find(|l| l.starts_with("fpr:")).unwrap().split(':').nth(9).unwrap().to_owned();
    let (ok, _, err) = gpg.run(&["--quick-add-key", "--passphrase", "", &other_fpr, "cv25519", "encr", "1d"], b"");
    assert!(ok, "{err}");
    let (_, stray, _) = gpg.run(&["--encrypt", "--armor", "--recipient", "o@example.org"], b"wrong key");
    let r = req(Method::POST, "/api/v1/security/reports").json(&json!({ "encrypted": stray })).send(&app).await;
    assert!(r.problem(422, "invalid-field")["detail"].as_str().unwrap().contains("different key"));
    let r = req(Method::POST, "/api/v1/security/reports")
        .json(&json!({ "encrypted": "-----BEGIN PGP MESSAGE-----\n\nbm90IHBncA==\n-----END PGP MESSAGE-----\n" }))
        .send(&app)
        .await;
    r.problem(422, "invalid-field");
    assert_eq!(
        req(Method::GET, "/api/v1/desk/reports").bearer(&security).send(&app).await.json().as_array().unwrap().len(),
        1
    );

    // An RSA 4096 key exported from gpg imports (the organisation's existing key), once it has
    // a subkey that can encrypt; without one it is refused with the reason.
    let (ok, _, err) = gpg.run(
        &["--quick-generate-key", "--passphrase", "", "Acme Old <old@acme.example>", "rsa4096", "sign,cert", "1y"],
        b"",
    );
    assert!(ok, "{err}");
    let export = || {
        gpg.run(
            &["--export-secret-keys", "--armor", "--pinentry-mode", "loopback", "--passphrase", "", "old@acme.example"],
            b"",
        )
        .1
    };
    let r = req(Method::POST, "/api/v1/desk/keys/import")
        .bearer(&security)
        .json(&json!({ "armored_key": export() }))
        .send(&app)
        .await;
    assert!(r.problem(422, "invalid-field")["detail"].as_str().unwrap().contains("no subkey that can encrypt"));
    let (_, listed, _) = gpg.run(&["--with-colons", "--list-keys", "old@acme.example"], b"");
    let old_fpr = listed.lines().find(|l| l.starts_with("fpr:")).unwrap().split(':').nth(9).unwrap().to_owned();
    let (ok, _, err) = gpg.run(&["--quick-add-key", "--passphrase", "", &old_fpr, "rsa4096", "encr", "1y"], b"");
    assert!(ok, "{err}");
    let r = req(Method::POST, "/api/v1/desk/keys/import")
        .bearer(&security)
        .json(&json!({ "armored_key": export() }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["algorithm"], "rsa4096");
    let (ok, rsa_armored, _) = gpg.run(&["--encrypt", "--armor", "--recipient", "old@acme.example"], b"to the RSA key");
    assert!(ok);
    let r = req(Method::POST, "/api/v1/security/reports").json(&json!({ "encrypted": rsa_armored })).send(&app).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

/// Serves the app over TLS with a certificate for `names`, issued by a CA made for this test.
/// Returns the port and the CA certificate (PEM).
async fn serve_tls(app: &TestApp, names: &[&str]) -> (u16, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name.push(DnType::CommonName, "Conclave WKD test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut leaf_params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = axum_server::from_tcp_rustls(
        listener,
        axum_server::tls_rustls::RustlsConfig::from_config(std::sync::Arc::new(config)),
    );
    let router = app.router.clone();
    tokio::spawn(async move {
        server.serve(router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    (port, ca.pem())
}

/// An HTTP proxy that answers every CONNECT, whatever host it names, with a tunnel to `port` on
/// this machine. Records each CONNECT line, so the test sees which host gpg asked for.
async fn connect_proxy(port: u16) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let first = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
                log.lock().unwrap().push(first.clone());
                if !first.starts_with("CONNECT ") {
                    let _ = client.write_all(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n").await;
                    return;
                }
                let Ok(mut upstream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return };
                if client.write_all(b"HTTP/1.0 200 Connection established\r\n\r\n").await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (proxy_port, seen)
}

// Multi-threaded: the server and the proxy keep answering while this thread waits for gpg.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnupg_locates_the_key_by_wkd_with_both_layouts() {
    // `gpg --locate-keys` looks the domain up and checks the certificate against the system's
    // trusted CAs. The test gives gpg (and the dirmngr it starts) a private mount namespace in
    // which the CA bundle is this test's CA and, for the advanced layout, /etc/hosts names
    // openpgpkey.acme.example; the machine's own files are untouched. The proxy carries gpg's
    // connections for acme.example to the test server.
    let Some(_) = Gpg::new() else { return };
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    let namespace: &[&str] = if is_root { &["--mount"] } else { &["--map-root-user", "--mount"] };
    let usable = Command::new("unshare").args(namespace).arg("true").status().is_ok_and(|s| s.success())
        && std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists();
    if !usable {
        assert!(std::env::var_os("CI").is_none(), "the WKD test needs unshare and /etc/ssl/certs under CI");
        eprintln!("skipping: no private mount namespace for gpg here");
        return;
    }
    let (app, _, fingerprint) = app_with_desk_key().await;
    let (tls_port, ca_pem) = serve_tls(&app, &["acme.example", "openpgpkey.acme.example"]).await;
    let (proxy_port, seen) = connect_proxy(tls_port).await;

    for (layout, host) in [("advanced", "openpgpkey.acme.example"), ("direct", "acme.example")] {
        let gpg = Gpg::new().unwrap();
        let home = gpg.home.path();
        std::fs::write(home.join("ca.pem"), &ca_pem).unwrap();
        let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        if layout == "advanced" {
            // The advanced layout is used only when the openpgpkey subdomain resolves.
            hosts.push_str("\n127.0.0.1 openpgpkey.acme.example\n");
        }
        std::fs::write(home.join("hosts"), hosts).unwrap();
        std::fs::write(
            home.join("dirmngr.conf"),
            format!("http-proxy http://127.0.0.1:{proxy_port}\nstandard-resolver\n"),
        )
        .unwrap();
        let script = format!(
            "mount --bind {h}/ca.pem /etc/ssl/certs/ca-certificates.crt && mount --bind {h}/hosts /etc/hosts && \
             exec gpg --homedir {h} --batch --no-tty --trust-model always \
             --auto-key-locate clear,wkd,nodefault --locate-keys security@acme.example",
            h = home.display()
        );
        let out = tokio::task::spawn_blocking(move || {
            Command::new("unshare").args(namespace).args(["sh", "-c", &script]).output().unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{layout}: gpg --locate-keys failed: {stderr}");
        let (_, listed, _) = gpg.run(&["--with-colons", "--list-keys", "security@acme.example"], b"");
        assert!(listed.contains(&format!("fpr:::::::::{fingerprint}:")), "{layout}: {listed}");
        let connects = std::mem::take(&mut *seen.lock().unwrap());
        assert!(connects.iter().any(|c| c.starts_with(&format!("CONNECT {host}:443 "))), "{layout}: {connects:?}");
    }
}

/// A multipart/form-data body with text fields and files (name, type, bytes).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "conclave-test-boundary-7f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    for (name, media, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: {media}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR screenshot";

#[tokio::test]
async fn files_travel_with_the_form_and_the_api_and_bad_files_are_refused() {
    let app = app().await;
    let security = desk_app(&app).await;
    let member = app.token("member@acme.example").await;
    let fields = [("title", "IDOR on invoices"), ("description", "Change the id, see other invoices.")];

    // A refused type: the form comes back with the reason and nothing is stored.
    let (ct, body) = multipart(&fields, &[("evil.svg", "image/svg+xml", b"<svg onload=alert(1)>")]);
    let refused = req(Method::POST, "/security/report").raw(&ct, body).send(&app).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("not accepted"));
    assert!(refused.text().contains("Change the id, see other invoices."), "the finder's words come back");
    let empty = req(Method::GET, "/api/v1/desk/reports").bearer(&security).send(&app).await.json();
    assert_eq!(empty.as_array().unwrap().len(), 0);

    // A screenshot larger than the JSON body limit (256 KiB) but inside this server's file limit.
    let big_png = [PNG, &vec![0u8; 290 * 1024]].concat();
    let (ct, body) = multipart(&fields, &[("shot.png", "image/png", &big_png), ("", "application/octet-stream", b"")]);
    let done = req(Method::POST, "/security/report").raw(&ct, body).send(&app).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text());
    let code = receipt_code(&done);
    // A reply form with files and a wrong receipt code: refused before any file is written.
    let on_disk = || std::fs::read_dir(app._dir.path().join("files")).map(|d| d.count()).unwrap_or(0);
    let before = on_disk();
    let wrong = "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE";
    let (ct, body) = multipart(&[("receipt_code", wrong), ("body", "")], &[("more.png", "image/png", PNG)]);
    let refused =
        req(Method::POST, "/security/status/reply").from_ip([198, 51, 100, 77]).raw(&ct, body).send(&app).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text());
    assert_eq!(on_disk(), before, "nothing staged for an unproven finder");
    // The refusal comes before the file is read at all: with a file part that never ends, the
    // answer still arrives (reading the file first would wait for its end forever).
    let (ct, whole) = multipart(&[("receipt_code", wrong)], &[("endless.png", "image/png", PNG)]);
    let cut = whole.len() - "\r\n--conclave-test-boundary-7f3a--\r\n".len();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Vec<u8>, std::io::Error>>();
    tx.send(Ok(whole[..cut].to_vec())).unwrap();
    let endless = axum::body::Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let early = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        req(Method::POST, "/security/status/reply").from_ip([198, 51, 100, 78]).stream(&ct, endless).send(&app),
    )
    .await
    .expect("refused before the file ended");
    assert_eq!(early.status, StatusCode::NOT_FOUND);
    drop(tx);
    assert_eq!(on_disk(), before);
    let id = req(Method::GET, "/api/v1/desk/reports").bearer(&security).send(&app).await.json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = req(Method::GET, &format!("/api/v1/desk/reports/{id}")).bearer(&security).send(&app).await.json();
    let file_id = report["files"][0]["id"].as_str().unwrap().to_owned();
    let download =
        req(Method::GET, &format!("/api/v1/desk/reports/{id}/files/{file_id}")).bearer(&security).send(&app).await;
    assert_eq!(download.body, big_png);
    assert!(download.header("content-disposition").starts_with("attachment"));
    assert_eq!(download.header("content-security-policy"), "default-src 'none'; sandbox");
    req(Method::GET, &format!("/api/v1/desk/reports/{id}/files/{file_id}"))
        .bearer(&member)
        .send(&app)
        .await
        .problem(403, "forbidden");

    // The team sends a file over the API; the finder fetches it with the receipt code.
    let r = req(Method::POST, &format!("/api/v1/desk/reports/{id}/files?name=notes.txt"))
        .bearer(&security)
        .raw("text/plain", "Please retest after the fix.")
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let team_file = r.json()["files"][1]["id"].as_str().unwrap().to_owned();
    let got = req(Method::POST, &format!("/api/v1/security/reports/files/{team_file}/download"))
        .json(&json!({ "receipt_code": code }))
        .send(&app)
        .await;
    assert_eq!(got.text(), "Please retest after the fix.");
    req(Method::POST, &format!("/api/v1/security/reports/files/{team_file}/download"))
        .json(&json!({ "receipt_code": "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA" }))
        .send(&app)
        .await
        .problem(404, "not-found");

    // The finder uploads over the API with the code in a header; a lie about the type is refused.
    let r = req(Method::POST, "/api/v1/security/reports/files?name=trace.pcap")
        .header("x-receipt-code", &code)
        .raw("application/vnd.tcpdump.pcap", "not a capture")
        .send(&app)
        .await;
    assert!(r.problem(422, "invalid-field")["detail"].as_str().unwrap().contains("content is not"));
    let r = req(Method::POST, "/api/v1/security/reports/files?name=more.png")
        .raw("image/png", PNG.to_vec())
        .send(&app)
        .await;
    r.problem(422, "invalid-field");
    let r = req(Method::POST, "/api/v1/security/reports/files?name=more.png")
        .header("x-receipt-code", &code)
        .raw("image/png", PNG.to_vec())
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["files"].as_array().unwrap().len(), 3);
    let too_big = vec![b'a'; crate::MAX_TEST_ATTACHMENT as usize + 1];
    let r = req(Method::POST, "/api/v1/security/reports/files?name=big.txt")
        .header("x-receipt-code", &code)
        .raw("text/plain", too_big)
        .send(&app)
        .await;
    r.problem(413, "payload-too-large");

    // The finder's status page lists the files behind forms that post the code.
    let status = post_form("/security/status", &[("receipt_code", &code)]).send(&app).await;
    assert!(status.text().contains("notes.txt") && status.text().contains("action=\"/security/status/file\""));
    let file = post_form("/security/status/file", &[("receipt_code", &code), ("file_id", &team_file)]).send(&app).await;
    assert_eq!(file.text(), "Please retest after the fix.");
}

#[tokio::test]
async fn triage_refusals_name_the_rule_over_http() {
    let app = app().await;
    let security = desk_app(&app).await;
    let r = req(Method::POST, "/api/v1/security/reports")
        .json(&json!({ "title": "Missing rate limit", "description": "The reset form takes any number of tries." }))
        .send(&app)
        .await;
    let code = r.json()["receipt_code"].as_str().unwrap().to_owned();
    let inbox = req(Method::GET, "/api/v1/desk/reports").bearer(&security).send(&app).await.json();
    let id = inbox[0]["id"].as_str().unwrap().to_owned();
    let path = |rest: &str| format!("/api/v1/desk/reports/{id}/{rest}");

    // A move the state machine does not allow: 409, naming the states it does.
    let r = req(Method::PUT, &path("state")).bearer(&security).json(&json!({ "state": "disclosed" })).send(&app).await;
    let p = r.problem(409, "conflict");
    assert_eq!(p["field"], "state");
    assert!(p["allowed"].as_array().unwrap().iter().any(|s| s == "acknowledged"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("cannot move to disclosed"), "{p}");
    let r = req(Method::PUT, &path("state")).bearer(&security).json(&json!({ "state": "fixed" })).send(&app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "state");
    let r = req(Method::PUT, &path("state"))
        .bearer(&security)
        .json(&json!({ "state": "duplicate", "duplicate_of": "nope" }))
        .send(&app)
        .await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "duplicate_of");

    // A malformed CVSS vector: the detail names the bad metric.
    let r = req(Method::PUT, &path("triage"))
        .bearer(&security)
        .json(&json!({ "cvss_v4": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:Q/VA:H/SC:N/SI:N/SA:N" }))
        .send(&app)
        .await;
    let p = r.problem(422, "invalid-field");
    assert_eq!(p["field"], "cvss_v4");
    assert!(p["detail"].as_str().unwrap().contains("VI"), "{p}");
    let r = req(Method::PUT, &path("triage"))
        .bearer(&security)
        .json(&json!({ "cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N" }))
        .send(&app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["cvss_v3"]["score"], 6.1);

    // Clock settings and holiday files: precise refusals, nothing changed.
    let clocks = req(Method::GET, "/api/v1/desk/clocks").bearer(&security).send(&app).await.json();
    let mut bad = clocks.clone();
    bad["triage_days"] = json!(0);
    let r = req(Method::PUT, "/api/v1/desk/clocks").bearer(&security).json(&bad).send(&app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "triage_days");
    let r = req(Method::POST, "/api/v1/desk/clocks/holidays")
        .bearer(&security)
        .json(&json!({ "calendar": "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:31.12.2026\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n" }))
        .send(&app)
        .await;
    let p = r.problem(422, "invalid-field");
    assert_eq!(p["field"], "calendar");
    assert!(p["detail"].as_str().unwrap().contains("DTSTART"), "{p}");
    assert_eq!(req(Method::GET, "/api/v1/desk/clocks").bearer(&security).send(&app).await.json(), clocks);

    // The finder withdraws; afterwards the team can move it nowhere.
    let r = req(Method::POST, "/api/v1/security/reports/withdrawal")
        .json(&json!({ "receipt_code": code }))
        .send(&app)
        .await;
    assert_eq!(r.json()["state"], "withdrawn");
    let r = req(Method::PUT, &path("state")).bearer(&security).json(&json!({ "state": "triaging" })).send(&app).await;
    let p = r.problem(409, "conflict");
    assert_eq!(p["allowed"], json!([]));
    let r = req(Method::POST, "/api/v1/security/reports/withdrawal")
        .json(&json!({ "receipt_code": code }))
        .send(&app)
        .await;
    r.problem(409, "conflict");
}

#[tokio::test]
async fn incident_refusals_name_the_field_over_http() {
    let app = app().await;
    let security = desk_app(&app).await;
    let member = app.token("member@acme.example").await;
    let good = json!({ "details": "Badge reader accepted an expired card.", "occurred_at": "2026-12-03T08:00",
        "reported_at": "2026-12-03T09:00", "category": "unauthorised-access" });
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("category", json!("alien-invasion")), "category"),
        (with("ended_at", json!("2026-12-03T07:00")), "ended_at"),
        (with("occurred_at", json!("yesterday")), "occurred_at"),
    ] {
        let r = req(Method::POST, "/api/v1/incidents").bearer(&member).json(&body).send(&app).await;
        assert_eq!(r.problem(422, "invalid-field")["field"], field);
    }
    let list = req(Method::GET, "/api/v1/desk/incidents").bearer(&security).send(&app).await.json();
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was stored");
    let r = req(Method::POST, "/api/v1/incidents").bearer(&member).json(&good).send(&app).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = req(Method::PUT, &format!("/api/v1/desk/incidents/{id}/state"))
        .bearer(&security)
        .json(&json!({ "state": "recovered" }))
        .send(&app)
        .await;
    assert_eq!(r.problem(409, "conflict")["allowed"], json!(["investigating", "closed"]));
    let r = req(Method::POST, &format!("/api/v1/desk/incidents/{id}/entries"))
        .bearer(&security)
        .json(&json!({ "kind": "gossip", "text": "x" }))
        .send(&app)
        .await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "kind");
    let r = req(Method::PUT, &format!("/api/v1/desk/incidents/{id}/clock"))
        .bearer(&security)
        .json(&json!({ "hours": 0 }))
        .send(&app)
        .await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "hours");
}

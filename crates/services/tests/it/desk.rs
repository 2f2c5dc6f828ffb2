//! The security desk: anonymous intake with receipt codes, the finder's thread, the team-only
//! inbox, the organisation's key, encrypted reports, and pages that cannot carry script.

use crate::{origin, world, World};
use crypto::openpgp::{encrypt_to, KeyAlgorithm, OrgKey};
use domain::desk::{DeskPage, ReportInput, ReportState};
use domain::{Role, Rule};
use services::desk::FinderCredential;
use services::{Caller, Error};

fn code(c: &str) -> FinderCredential<'_> {
    FinderCredential::ReceiptCode(c)
}

fn report() -> ReportInput {
    ReportInput {
        title: "Open redirect on sign-in".into(),
        description: "The next= parameter accepts any host.".into(),
        affected_urls: vec!["https://chat.example.org/signin?next=https://evil.example".into()],
        ip_addresses: vec!["198.51.100.4".into()],
        timestamps: vec!["2026-11-22T10:00:00Z".into()],
        logs: "GET /signin?next=https://evil.example 302".into(),
        name: "Grace Finder".into(),
        email: "grace@finder.example".into(),
        credit: true,
        ..ReportInput::default()
    }
}

/// A desk enterprise with a security-team member and an ordinary admin.
async fn desk() -> (World, Caller, Caller) {
    let w = world().await;
    let e = w.enterprise("Acme").await;
    w.user(e, "sec@acme.example", Role::Security).await;
    w.user(e, "admin@acme.example", Role::EnterpriseAdmin).await;
    let security = w.caller("sec@acme.example").await;
    let admin = w.caller("admin@acme.example").await;
    (w, security, admin)
}

#[tokio::test]
async fn a_finder_reports_anonymously_and_follows_up_with_the_receipt_code_only() {
    let (w, security, admin) = desk().await;
    let receipt = w.services.desk.submit_report(&origin(), &report()).await.unwrap();
    assert_eq!(receipt.receipt_code.len(), 29);

    // The finder's view: state, timeframe, an empty thread; nothing about the finder.
    let view = w.services.desk.finder_status(code(&receipt.receipt_code.to_lowercase())).await.unwrap();
    assert_eq!((view.title.as_str(), view.state), ("Open redirect on sign-in", ReportState::New));
    assert!(view.thread.is_empty());

    // Wrong, malformed and empty codes all get the same answer.
    for wrong in ["AAAAA-AAAAA-AAAAA-AAAAA-AAAAA", "not a code", "", &receipt.receipt_code[..20]] {
        assert!(matches!(w.services.desk.finder_status(code(wrong)).await, Err(Error::NotFound("report"))), "{wrong}");
    }

    // Only the security role sees the inbox and the finder's details.
    assert!(matches!(w.services.desk.desk_reports(&admin).await, Err(Error::Forbidden)));
    let inbox = w.services.desk.desk_reports(&security).await.unwrap();
    assert_eq!(inbox.len(), 1);
    let full = w.services.desk.desk_report(&security, inbox[0].id).await.unwrap();
    assert_eq!(full.finder_email.as_deref(), Some("grace@finder.example"));
    assert_eq!(full.finder_ip, None, "no IP address is kept unless the team turns that on");
    assert!(!full.finder_email_verified);
    assert!(matches!(w.services.desk.desk_report(&admin, inbox[0].id).await, Err(Error::Forbidden)));

    // A two-way thread.
    w.services.desk.desk_reply(&security, &origin(), inbox[0].id, "Thanks, we can reproduce it.").await.unwrap();
    let view =
        w.services.desk.finder_reply(code(&receipt.receipt_code), "Happy to help. Anything else?").await.unwrap();
    let from: Vec<&str> = view.thread.iter().map(|t| t.from.as_str()).collect();
    assert_eq!(from, ["security-team", "finder"]);
    assert!(matches!(
        w.services.desk.finder_reply(code(&receipt.receipt_code), "  ").await,
        Err(Error::Invalid(ref f)) if f.rule == Rule::Empty
    ));
    assert!(matches!(
        w.services.desk.finder_reply(code("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"), "hi").await,
        Err(Error::NotFound(_))
    ));

    // Someone from another enterprise with the security role is not this desk's team.
    let other = w.enterprise("Other").await;
    w.user(other, "sec@other.example", Role::Security).await;
    let outsider = w.caller("sec@other.example").await;
    assert!(matches!(w.services.desk.desk_reports(&outsider).await, Err(Error::Forbidden)));
}

#[tokio::test]
async fn finder_details_and_reports_are_stored_only_as_ciphertext() {
    let (w, _, _) = desk().await;
    let receipt = w.services.desk.submit_report(&origin(), &report()).await.unwrap();
    let db = std::fs::read(w.dir.path().join("c.db")).unwrap();
    let wal = std::fs::read(w.dir.path().join("c.db-wal")).unwrap_or_default();
    for needle in ["grace@finder.example", "Grace Finder", "Open redirect", "evil.example", &receipt.receipt_code] {
        for bytes in [&db, &wal] {
            assert!(!bytes.windows(needle.len()).any(|win| win == needle.as_bytes()), "{needle} found in plaintext");
        }
    }
}

#[tokio::test]
async fn bad_reports_are_refused_and_nothing_is_stored() {
    let (w, security, _) = desk().await;
    let cases = [
        (ReportInput { title: "".into(), ..report() }, "title"),
        (ReportInput { affected_urls: vec!["ftp://x".into()], ..report() }, "affected_urls[0]"),
        (ReportInput { email: "not-an-email".into(), ..report() }, "email"),
        (ReportInput { name: "".into(), ..report() }, "name"),
        (ReportInput { description: "".into(), encrypted: "garbage".into(), ..report() }, "encrypted"),
    ];
    for (input, field) in cases {
        match w.services.desk.submit_report(&origin(), &input).await {
            Err(Error::Invalid(f)) => assert_eq!(f.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(w.services.desk.desk_reports(&security).await.unwrap().is_empty());
}

#[tokio::test]
async fn encrypted_reports_are_decrypted_for_the_team_and_wrong_keys_are_named() {
    let (w, security, admin) = desk().await;
    let encrypted_input = |armored: String| ReportInput {
        title: String::new(),
        description: String::new(),
        logs: String::new(),
        encrypted: armored,
        ..report()
    };
    // No key yet: an encrypted report cannot be read, so it is refused with a reason.
    let stray = OrgKey::generate("Stray <s@example.org>", KeyAlgorithm::Ed25519, 30).unwrap();
    let err = w
        .services
        .desk
        .submit_report(&origin(), &encrypted_input(encrypt_to(&stray.public_armored(), b"x").unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(ref f) if f.message.contains("not published")), "{err:?}");

    assert!(matches!(
        w.services.desk.generate_desk_key(&admin, &origin(), "S <s@acme.example>", KeyAlgorithm::Ed25519, 365).await,
        Err(Error::Forbidden)
    ));
    let key = w
        .services
        .desk
        .generate_desk_key(&security, &origin(), "Acme Security <security@acme.example>", KeyAlgorithm::Ed25519, 365)
        .await
        .unwrap();
    assert!(key.active && !key.expiry_warning);
    let published = w.services.desk.published_key().await.unwrap().unwrap();
    assert_eq!(published.view.fingerprint, key.fingerprint);

    let armored = encrypt_to(&published.armored, b"Heap overflow in the image decoder.\nSteps: ...").unwrap();
    let receipt = w.services.desk.submit_report(&origin(), &encrypted_input(armored)).await.unwrap();
    let inbox = w.services.desk.desk_reports(&security).await.unwrap();
    let full = w.services.desk.desk_report(&security, inbox[0].id).await.unwrap();
    assert!(full.was_encrypted);
    assert!(full.description.starts_with("Heap overflow in the image decoder."));
    assert_eq!(w.services.desk.finder_status(code(&receipt.receipt_code)).await.unwrap().title, "Encrypted report");

    // A message to another key is refused, naming the reason; nothing is stored.
    let err = w
        .services
        .desk
        .submit_report(&origin(), &encrypted_input(encrypt_to(&stray.public_armored(), b"x").unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(ref f) if f.message.contains("different key")), "{err:?}");
    assert_eq!(w.services.desk.desk_reports(&security).await.unwrap().len(), 1);

    // Rotation: a new key becomes active, and reports to the old key still decrypt.
    let old_armored = published.armored.clone();
    w.services
        .desk
        .generate_desk_key(&security, &origin(), "Acme Security <security@acme.example>", KeyAlgorithm::Ed25519, 365)
        .await
        .unwrap();
    let keys = w.services.desk.list_desk_keys(&security).await.unwrap();
    assert_eq!(keys.iter().filter(|k| k.active).count(), 1);
    assert_eq!(keys.len(), 2);
    let late = encrypt_to(&old_armored, b"Sent to the old key.").unwrap();
    w.services.desk.submit_report(&origin(), &encrypted_input(late)).await.unwrap();
}

#[tokio::test]
async fn key_imports_refuse_public_expired_and_duplicate_keys() {
    let (w, security, _) = desk().await;
    let key = OrgKey::generate("Acme <security@acme.example>", KeyAlgorithm::Ed25519, 5).unwrap();
    let refuse = |armored: String| {
        let (w, security) = (&w, &security);
        async move { w.services.desk.import_desk_key(security, &origin(), &armored).await.unwrap_err() }
    };
    assert!(matches!(refuse(key.public_armored()).await, Error::Invalid(ref f) if f.message.contains("public key")));
    assert!(matches!(
        refuse("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----".into()).await,
        Error::Invalid(_)
    ));
    let view = w.services.desk.import_desk_key(&security, &origin(), &key.secret_armored()).await.unwrap();
    assert!(view.expiry_warning, "a key expiring within 30 days is flagged");
    assert!(matches!(refuse(key.secret_armored()).await, Error::Conflict(_)));
    assert_eq!(w.services.desk.list_desk_keys(&security).await.unwrap().len(), 1);
}

#[tokio::test]
async fn pages_are_markdown_without_html_and_only_the_team_edits_them() {
    let (w, security, admin) = desk().await;
    let default = w.services.desk.desk_page(DeskPage::Policy).await.unwrap();
    assert!(default.updated_at.is_none() && default.html.contains("<h2>"));
    assert!(matches!(
        w.services.desk.put_desk_page(&admin, &origin(), DeskPage::Policy, "# Ours").await,
        Err(Error::Forbidden)
    ));
    for hostile in ["# Hi\n\n<script>alert(1)</script>", "[x](javascript:alert(1))", "<b>bold</b>"] {
        assert!(matches!(
            w.services.desk.put_desk_page(&security, &origin(), DeskPage::Policy, hostile).await,
            Err(Error::Invalid(_))
        ));
    }
    assert!(w.services.desk.desk_page(DeskPage::Policy).await.unwrap().updated_at.is_none(), "nothing was saved");
    let saved = w
        .services
        .desk
        .put_desk_page(&security, &origin(), DeskPage::Policy, "# Our policy\n\nBe kind.")
        .await
        .unwrap();
    assert!(saved.html.contains("<h1>Our policy</h1>"));
}

#[tokio::test]
async fn security_txt_is_signed_and_names_the_form_the_key_and_the_policy() {
    let (w, security, _) = desk().await;
    let unsigned = w.services.desk.security_txt().await.unwrap();
    assert!(unsigned.contains("Contact: https://chat.example.org/security/report"));
    assert!(!unsigned.contains("Encryption:"));
    w.services
        .desk
        .generate_desk_key(&security, &origin(), "Acme Security <security@acme.example>", KeyAlgorithm::Ed25519, 365)
        .await
        .unwrap();
    let signed = w.services.desk.security_txt().await.unwrap();
    assert!(signed.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"));
    for line in [
        "Encryption: https://chat.example.org/security/key.asc",
        "Policy: https://chat.example.org/security",
        "Canonical: https://chat.example.org/.well-known/security.txt",
        "Preferred-Languages: en",
        "Expires: ",
    ] {
        assert!(signed.contains(line), "{line} missing from\n{signed}");
    }
}

#[tokio::test]
async fn notices_go_only_to_confirmed_addresses_over_smtp_with_a_status_link() {
    let mut sink = crate::smtp::SmtpSink::start().await;
    let mailer = std::sync::Arc::new(services::mail::SmtpMailer::new(&sink.settings()).unwrap());
    let mut settings = crate::settings();
    settings.desk.store_finder_ip = true;
    let w = crate::world_with(settings, |s| s.with_mailer(mailer)).await;
    let e = w.enterprise("Acme").await;
    w.user(e, "sec@acme.example", Role::Security).await;
    let security = w.caller("sec@acme.example").await;

    // Before confirmation only the confirmation mail goes out; replies send nothing.
    let receipt = w.services.desk.submit_report(&origin(), &report()).await.unwrap();
    let confirm = sink.next().await;
    assert_eq!(confirm.recipients, ["grace@finder.example"]);
    assert!(!confirm.data.contains("Open redirect"), "mails never carry the report");
    let verify = crate::smtp::link(&confirm, "https://chat.example.org/security/verify?token=");
    let id = w.services.desk.desk_reports(&security).await.unwrap()[0].id;
    w.services.desk.desk_reply(&security, &origin(), id, "Before you confirmed.").await.unwrap();
    sink.assert_quiet().await;

    let token = verify.split("token=").nth(1).unwrap();
    assert!(matches!(w.services.desk.verify_finder_email("not-the-token").await, Err(Error::NotFound(_))));
    w.services.desk.verify_finder_email(token).await.unwrap();
    assert!(matches!(w.services.desk.verify_finder_email(token).await, Err(Error::NotFound(_))), "links work once");
    let full = w.services.desk.desk_report(&security, id).await.unwrap();
    assert!(full.finder_email_verified);
    assert_eq!(full.finder_ip.as_deref(), Some("192.0.2.7"), "kept, sealed, because the desk turned it on");

    // A state change and a reply each send a notice with a fresh status link.
    w.services.desk.set_report_state(&security, &origin(), id, ReportState::Accepted, None).await.unwrap();
    let first = sink.next().await;
    assert!(first.data.contains("accepted"));
    let first_link = crate::smtp::link(&first, "https://chat.example.org/security/status?link=");
    w.services.desk.desk_reply(&security, &origin(), id, "Fix ships Friday.").await.unwrap();
    let second = crate::smtp::link(&sink.next().await, "https://chat.example.org/security/status?link=");
    let link_token = second.split("link=").nth(1).unwrap();
    let view = w.services.desk.finder_status(FinderCredential::StatusLink(link_token)).await.unwrap();
    assert_eq!(view.state, ReportState::Accepted);
    assert_eq!(view.thread.last().unwrap().body, "Fix ships Friday.");
    let old = first_link.split("link=").nth(1).unwrap();
    assert!(matches!(w.services.desk.finder_status(FinderCredential::StatusLink(old)).await, Err(Error::NotFound(_))));
    assert_eq!(w.services.desk.finder_status(code(&receipt.receipt_code)).await.unwrap().state, ReportState::Accepted);

    // Hall of fame: accepted and credited.
    assert_eq!(w.services.desk.hall_of_fame().await.unwrap(), ["Grace Finder"]);

    // Closing and the retention period purge contact details; the credited name stays public.
    w.services.desk.set_report_state(&security, &origin(), id, ReportState::Resolved, None).await.unwrap();
    let _ = sink.next().await;
    w.services.desk.set_report_state(&security, &origin(), id, ReportState::Closed, None).await.unwrap();
    let _ = sink.next().await;
    assert_eq!(w.services.desk.purge_closed_reports().await.unwrap(), 0, "within the retention period");
    let purge = domain::audit::AuditDraft::new(
        domain::audit::Action::DeskReportPurge,
        domain::audit::Actor::System,
        Default::default(),
    );
    let e = w.services.desk.desk_enterprise().await.unwrap();
    w.store
        .purge_finder_data(e, domain::Millis(domain::Millis::now().0 + 1), domain::Millis::now(), &purge)
        .await
        .unwrap();
    let purged = w.services.desk.desk_report(&security, id).await.unwrap();
    assert_eq!((purged.finder_email, purged.finder_ip), (None, None));
    assert_eq!(purged.finder_name.as_deref(), Some("Grace Finder"));
    assert!(matches!(
        w.services
            .desk
            .set_report_state(
                &Caller::User(w.principal("sec@acme.example").await),
                &origin(),
                domain::ReportId::new(),
                ReportState::Closed,
                None,
            )
            .await,
        Err(Error::NotFound(_))
    ));
}

fn chunks(bytes: &[u8]) -> futures_util::stream::Iter<std::vec::IntoIter<Result<bytes::Bytes, std::io::Error>>> {
    futures_util::stream::iter(bytes.chunks(1000).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect::<Vec<_>>())
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake but well-formed enough for the type check";

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn files_are_checked_by_type_and_content_and_refusals_leave_nothing() {
    let mut settings = crate::settings();
    let files_dir = tempfile::tempdir().unwrap();
    settings.files_dir = Some(files_dir.path().to_owned());
    settings.max_attachment_bytes = 64 * 1024;
    let w = crate::world_with(settings, |s| s).await;
    let e = w.enterprise("Acme").await;
    w.user(e, "sec@acme.example", Role::Security).await;
    let security = w.caller("sec@acme.example").await;

    for (name, media, bytes, why) in [
        ("x.svg", "image/svg+xml", &b"<svg onload=alert(1)>"[..], "not accepted"),
        ("x.html", "text/html", b"<script>", "not accepted"),
        ("run.exe", "application/octet-stream", b"MZ\x90\0", "not accepted"),
        ("shot.png", "image/png", b"<html>not a png</html>", "not a image/png"),
        ("empty.txt", "text/plain", b"", "empty"),
    ] {
        let err = w.services.desk.stage_desk_file(name, media, chunks(bytes)).await.unwrap_err();
        assert!(
            matches!(err, Error::Invalid(ref f) if f.field == "files" && f.message.contains(why)),
            "{name}: {err:?}"
        );
    }
    let big = vec![b'a'; 64 * 1024 + 1];
    assert!(matches!(
        w.services.desk.stage_desk_file("big.txt", "text/plain", chunks(&big)).await,
        Err(Error::TooLarge(_))
    ));
    assert_eq!(files_in(files_dir.path()), 0, "refused uploads leave no file");

    // A refused report removes the files staged for it.
    let staged = w.services.desk.stage_desk_file("shot.png", "application/octet-stream", chunks(PNG)).await.unwrap();
    assert_eq!(files_in(files_dir.path()), 1);
    let bad = ReportInput { title: String::new(), ..report() };
    assert!(w.services.desk.submit_report_with_files(&origin(), &bad, vec![staged]).await.is_err());
    assert_eq!(files_in(files_dir.path()), 0);

    // Accepted: the finder's screenshot and the team's reply file, each readable by both sides.
    let staged = w.services.desk.stage_desk_file("shot.png", "image/png", chunks(PNG)).await.unwrap();
    let receipt = w.services.desk.submit_report_with_files(&origin(), &report(), vec![staged]).await.unwrap();
    let id = w.services.desk.desk_reports(&security).await.unwrap()[0].id;
    let view = w.services.desk.desk_report(&security, id).await.unwrap();
    assert_eq!((view.files.len(), view.files[0].name.as_str(), view.files[0].from.as_str()), (1, "shot.png", "finder"));
    let (_, stream) = w.services.desk.team_file(&security, id, view.files[0].id).await.unwrap();
    let bytes: Vec<u8> =
        futures_util::StreamExt::collect::<Vec<_>>(stream).await.into_iter().flat_map(|c| c.unwrap()).collect();
    assert_eq!(bytes, PNG);
    let on_disk = std::fs::read(files_dir.path().join(view.files[0].id.to_string())).unwrap();
    assert!(!on_disk.windows(4).any(|w| w == b"IHDR"), "files are sealed on disk");

    let fix = w.services.desk.stage_desk_file("patch.txt", "text/plain", chunks(b"--- a\n+++ b\n")).await.unwrap();
    w.services.desk.team_attach(&security, &origin(), id, vec![fix]).await.unwrap();
    let finder = w.services.desk.finder_status(code(&receipt.receipt_code)).await.unwrap();
    assert_eq!(finder.files.iter().map(|f| f.from.as_str()).collect::<Vec<_>>(), ["finder", "security-team"]);
    let (file, _) = w.services.desk.finder_file(code(&receipt.receipt_code), finder.files[1].id).await.unwrap();
    assert_eq!(file.name, "patch.txt");
    assert!(matches!(
        w.services.desk.finder_file(code("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"), finder.files[1].id).await,
        Err(Error::NotFound(_))
    ));

    // Someone who is not on the team cannot attach; the staged file is removed.
    let before = files_in(files_dir.path());
    w.user(e, "member@acme.example", Role::Member).await;
    let member = w.caller("member@acme.example").await;
    let staged = w.services.desk.stage_desk_file("x.txt", "text/plain", chunks(b"hi")).await.unwrap();
    assert!(matches!(w.services.desk.team_attach(&member, &origin(), id, vec![staged]).await, Err(Error::Forbidden)));
    assert_eq!(files_in(files_dir.path()), before);
}

#[tokio::test]
async fn the_security_team_decides_whether_finder_addresses_are_kept() {
    let (w, security, admin) = desk().await;
    let policy = w.services.desk.desk_policy(&security).await.unwrap();
    assert_eq!((policy.store_finder_ip, policy.retention_days), (false, 180), "off by default");
    w.services.desk.submit_report(&origin(), &report()).await.unwrap();
    let on = services::desk::DeskPolicy { store_finder_ip: true, retention_days: 30 };
    assert!(matches!(w.services.desk.put_desk_policy(&admin, &origin(), &on).await, Err(Error::Forbidden)));
    let zero = services::desk::DeskPolicy { retention_days: 0, ..on.clone() };
    assert!(matches!(w.services.desk.put_desk_policy(&security, &origin(), &zero).await, Err(Error::Invalid(_))));
    w.services.desk.put_desk_policy(&security, &origin(), &on).await.unwrap();
    w.services.desk.submit_report(&origin(), &report()).await.unwrap();
    // The store lists newest first (the inbox orders by clocks instead).
    let e = w.services.desk.desk_enterprise().await.unwrap();
    let stored = w.store.list_reports(e).await.unwrap();
    let newest = w.services.desk.desk_report(&security, stored[0].id).await.unwrap();
    let oldest = w.services.desk.desk_report(&security, stored[1].id).await.unwrap();
    assert_eq!((newest.finder_ip.as_deref(), oldest.finder_ip.as_deref()), (Some("192.0.2.7"), None));
}

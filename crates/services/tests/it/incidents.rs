//! Security incidents (D8): members and outsiders report them; the team works them through their
//! states with a timeline, notices (one mailed over a real SMTP listener) and a notification clock.

use crate::{origin, world_with};
use domain::incident::{IncidentInput, IncidentState};
use domain::Role;
use services::desk::incidents::IncidentEntryInput;
use services::Error;

fn lost_laptop() -> IncidentInput {
    IncidentInput {
        details: "A laptop with customer exports was left on a train.\nIt was encrypted.".into(),
        occurred_at: "2026-12-03T18:40".into(),
        ended_at: None,
        reported_at: "2026-12-04T08:05".into(),
        location: "Regional train".into(),
        category: "theft-or-damage".into(),
    }
}

#[tokio::test]
async fn members_and_outsiders_report_and_the_team_works_the_incident() {
    let mut sink = crate::smtp::SmtpSink::start().await;
    let mailer = std::sync::Arc::new(services::mail::SmtpMailer::new(&sink.settings()).unwrap());
    let w = world_with(crate::settings(), |s| s.with_mailer(mailer)).await;
    let e = w.enterprise("Acme").await;
    let other = w.enterprise("Elsewhere").await;
    w.user(e, "sec@acme.example", Role::Security).await;
    w.user(e, "ada@acme.example", Role::Member).await;
    w.user(other, "eve@elsewhere.example", Role::Member).await;
    let security = w.caller("sec@acme.example").await;
    let ada = w.caller("ada@acme.example").await;
    let eve = w.caller("eve@elsewhere.example").await;
    let desk = &w.services.desk;

    // Bad input: precise refusals, nothing stored.
    let bad = |input: IncidentInput| async move { desk.report_incident_as_outsider(&input).await };
    for (input, field) in [
        (IncidentInput { category: "meteor".into(), ..lost_laptop() }, "category"),
        (IncidentInput { ended_at: Some("2026-12-03T18:00".into()), ..lost_laptop() }, "ended_at"),
        (IncidentInput { reported_at: "2026-12-01T08:00".into(), ..lost_laptop() }, "reported_at"),
    ] {
        match bad(input).await {
            Err(Error::Invalid(f)) => assert_eq!(f.field, field),
            other => panic!("{other:?}"),
        }
    }
    assert!(desk.desk_incidents(&security).await.unwrap().is_empty());

    // A member of the desk's enterprise reports from the web client; one of another cannot.
    let id = desk.report_incident_as_member(&ada, &origin(), &lost_laptop()).await.unwrap();
    assert!(matches!(desk.report_incident_as_member(&eve, &origin(), &lost_laptop()).await, Err(Error::Forbidden)));
    // An outsider reports with a receipt code and follows up with it.
    let receipt =
        desk.report_incident_as_outsider(&IncidentInput { category: "misuse".into(), ..lost_laptop() }).await.unwrap();
    assert_eq!(desk.outsider_incident(&receipt.receipt_code).await.unwrap().state, IncidentState::Reported);
    assert!(matches!(desk.outsider_incident("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA").await, Err(Error::NotFound(_))));

    // Only the security team reads incidents.
    assert!(matches!(desk.desk_incidents(&ada).await, Err(Error::Forbidden)));
    let list = desk.desk_incidents(&security).await.unwrap();
    assert_eq!(list.len(), 2);
    let view = desk.desk_incident(&security, id).await.unwrap();
    assert_eq!(
        (view.reported_by.as_str(), view.category_label.as_str()),
        ("Name of ada@acme.example", "Theft or damage")
    );

    // The state machine: reported cannot jump to contained.
    match desk.move_incident(&security, &origin(), id, IncidentState::Contained).await {
        Err(Error::Transition { allowed, .. }) => assert_eq!(allowed, ["investigating", "closed"]),
        other => panic!("{other:?}"),
    }
    let view = desk.move_incident(&security, &origin(), id, IncidentState::Investigating).await.unwrap();
    assert_eq!(view.state, IncidentState::Investigating);

    // A note about something that happened before the team learned it keeps both times.
    let note = IncidentEntryInput {
        kind: "note".into(),
        happened_at: Some("2026-12-03T19:02".into()),
        text: Some("The train operator's lost-property office has no laptop.".into()),
        ..Default::default()
    };
    let view = desk.add_incident_entry(&security, &origin(), id, &note).await.unwrap();
    let last = view.timeline.last().unwrap();
    assert_eq!((last.kind.as_str(), last.happened_at.as_deref()), ("note", Some("2026-12-03T19:02")));
    assert!(last.learned_at.starts_with("20"), "{}", last.learned_at);
    let missing = IncidentEntryInput { kind: "notice-authority".into(), ..Default::default() };
    assert!(
        matches!(desk.add_incident_entry(&security, &origin(), id, &missing).await, Err(Error::Invalid(f)) if f.field == "agency")
    );

    // A 72-hour notification clock runs from awareness; an authority notice meets it.
    assert!(matches!(desk.set_incident_clock(&security, &origin(), id, Some(0)).await, Err(Error::Invalid(_))));
    desk.set_incident_clock(&security, &origin(), id, Some(12)).await.unwrap();
    let dashboard = desk.desk_dashboard(&security).await.unwrap();
    assert_eq!(dashboard.incidents_at_risk.len(), 1, "twelve hours left: at risk");
    let states: Vec<(&str, u32)> =
        dashboard.open_incidents_by_state.iter().map(|c| (c.key.as_str(), c.count)).collect();
    assert_eq!(states, [("reported", 1), ("investigating", 1)]);
    let view = desk.set_incident_clock(&security, &origin(), id, Some(72)).await.unwrap();
    assert!(desk.desk_dashboard(&security).await.unwrap().incidents_at_risk.is_empty());
    assert_eq!(view.notification.as_ref().unwrap().status, "due");
    let authority = IncidentEntryInput {
        kind: "notice-authority".into(),
        agency: Some("Data protection authority".into()),
        reference: Some("DPA-2026-4411".into()),
        contact: Some("breach-desk@dpa.example".into()),
        ..Default::default()
    };
    let view = desk.add_incident_entry(&security, &origin(), id, &authority).await.unwrap();
    assert_eq!(view.notification.unwrap().status, "met");

    // A notice to an affected person can go out by mail from the desk.
    let affected = IncidentEntryInput {
        kind: "notice-affected".into(),
        who: Some("customer@example.org".into()),
        what: Some("A laptop holding your account export was lost; it was encrypted.".into()),
        send_mail: true,
        ..Default::default()
    };
    // Nothing goes out for a notice that is not recorded (no such incident).
    let nowhere = desk.add_incident_entry(&security, &origin(), uuid::Uuid::now_v7(), &affected).await;
    assert!(matches!(nowhere, Err(Error::NotFound(_))), "{nowhere:?}");
    sink.assert_quiet().await;
    let view = desk.add_incident_entry(&security, &origin(), id, &affected).await.unwrap();
    let mail = sink.next().await;
    assert_eq!(mail.recipients, ["customer@example.org"]);
    assert!(mail.data.contains("account export"), "{}", mail.data);
    let last = view.timeline.last().unwrap();
    assert!(last.body.mailed && last.body.how.as_deref() == Some("mail"));

    // The export is the view; another enterprise's team cannot read it.
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["timeline"].as_array().unwrap().len(), 4, "state, note and two notices: {json:#}");
    assert_eq!(
        desk.outsider_incident(&receipt.receipt_code).await.unwrap().category_label,
        "Misuse of systems or information"
    );
}

#[tokio::test]
async fn evidence_is_sealed_with_its_sha256_and_comes_back_byte_for_byte() {
    use futures_util::StreamExt;
    let files_dir = tempfile::tempdir().unwrap();
    let mut settings = crate::settings();
    settings.files_dir = Some(files_dir.path().to_owned());
    let w = world_with(settings, |s| s).await;
    let e = w.enterprise("Acme").await;
    w.user(e, "sec@acme.example", Role::Security).await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let security = w.caller("sec@acme.example").await;
    let ada = w.caller("ada@acme.example").await;
    let desk = &w.services.desk;
    let id = desk.report_incident_as_member(&ada, &origin(), &lost_laptop()).await.unwrap();
    let bytes = b"Dec  3 18:41 vpn: session for laptop-17 ended\n".repeat(2000);
    let chunks = || -> Vec<Result<bytes::Bytes, std::io::Error>> {
        bytes.chunks(4096).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect()
    };
    assert!(matches!(
        desk.add_incident_evidence(&ada, &origin(), id, "vpn.log", futures_util::stream::iter(chunks())).await,
        Err(Error::Forbidden)
    ));
    let view = desk
        .add_incident_evidence(&security, &origin(), id, "vpn.log", futures_util::stream::iter(chunks()))
        .await
        .unwrap();
    let entry = view.timeline.iter().find(|e| e.kind == "evidence").unwrap();
    let mut expected = crypto::Sha256::default();
    expected.update(&bytes);
    assert_eq!(entry.body.sha256.as_deref(), Some(hex::encode(expected.finish()).as_str()));
    assert_eq!(entry.body.size, Some(bytes.len() as u64));
    let file = entry.body.file_id.unwrap();
    let (name, size, mut stream) = desk.incident_evidence(&security, id, file).await.unwrap();
    let mut back = Vec::new();
    while let Some(chunk) = stream.next().await {
        back.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!((name.as_str(), size, back), ("vpn.log", bytes.len() as u64, bytes));
    assert!(matches!(desk.incident_evidence(&ada, id, file).await, Err(Error::Forbidden)));
    let empty: Vec<Result<bytes::Bytes, std::io::Error>> = vec![];
    assert!(matches!(
        desk.add_incident_evidence(&security, &origin(), id, "empty.txt", futures_util::stream::iter(empty)).await,
        Err(Error::Invalid(f)) if f.field == "file"
    ));
    // The refused empty upload left no file behind; the evidence is one sealed file.
    let files = std::fs::read_dir(files_dir.path()).unwrap().count();
    assert_eq!(files, 1);
    let on_disk = std::fs::read(std::fs::read_dir(files_dir.path()).unwrap().next().unwrap().unwrap().path()).unwrap();
    assert!(!on_disk.windows(20).any(|w| w == b"vpn: session for lap"), "sealed on disk");
}

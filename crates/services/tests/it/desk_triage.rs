//! Triage (D4): the state machine with its refusals, CVSS scoring, assignment, internal notes,
//! the finder's answer resuming paused clocks, withdrawal, clock settings and holiday import,
//! and reminders sent once over a real SMTP listener.

use crate::{origin, world, World};
use domain::audit::{Action, Outcome};
use domain::desk::{ReportInput, ReportState};
use domain::desk_clock::ClockSettings;
use domain::{Millis, Role, Rule};
use services::desk::triage::TriageInput;
use services::desk::FinderCredential;
use services::{Caller, Error};

fn anonymous_report(title: &str) -> ReportInput {
    ReportInput { title: title.into(), description: "Steps to reproduce are below.".into(), ..ReportInput::default() }
}

async fn desk(w: &World) -> (Caller, Caller, Caller) {
    let e = w.enterprise("Acme").await;
    w.user(e, "sec@acme.example", Role::Security).await;
    w.user(e, "sec2@acme.example", Role::Security).await;
    w.user(e, "member@acme.example", Role::Member).await;
    (w.caller("sec@acme.example").await, w.caller("sec2@acme.example").await, w.caller("member@acme.example").await)
}

async fn submit(w: &World, title: &str) -> (String, domain::ReportId) {
    let receipt = w.services.desk.submit_report(&origin(), &anonymous_report(title)).await.unwrap();
    let view = w.services.desk.finder_status(FinderCredential::ReceiptCode(&receipt.receipt_code)).await.unwrap();
    assert_eq!(view.title, title);
    let e = w.services.desk.desk_enterprise().await.unwrap();
    // Newest first: the one just submitted.
    let id = w.store.list_reports(e).await.unwrap().remove(0).id;
    (receipt.receipt_code, id)
}

#[tokio::test]
async fn reports_move_only_along_the_state_machine_and_refusals_are_audited() {
    let w = world().await;
    let (security, _, member) = desk(&w).await;
    let (code, id) = submit(&w, "Stored XSS in profile").await;
    let desk = &w.services.desk;

    // New cannot jump to resolved: 409 naming what it can move to, audited as a refusal, nothing
    // changed.
    let before = w.store.audit_count().await.unwrap();
    match desk.set_report_state(&security, &origin(), id, ReportState::Resolved, None).await {
        Err(Error::Transition { from: "new", to: "resolved", allowed }) => {
            assert!(allowed.contains(&"acknowledged") && allowed.contains(&"accepted"), "{allowed:?}");
            assert!(!allowed.contains(&"resolved"));
        }
        other => panic!("{other:?}"),
    }
    let e = desk.desk_enterprise().await.unwrap();
    let last = w.store.enterprise_audit(e, &Default::default(), i64::MAX, 1).await.unwrap().remove(0);
    assert_eq!((last.draft.action, last.draft.outcome), (Action::DeskReportState, Outcome::Denied));
    assert!(last.draft.detail.contains("state-machine"));
    assert_eq!(w.store.audit_count().await.unwrap(), before + 1);
    assert_eq!(desk.desk_report(&security, id).await.unwrap().state, ReportState::New);
    // Members outside the security team cannot move reports at all.
    assert!(matches!(
        desk.set_report_state(&member, &origin(), id, ReportState::Acknowledged, None).await,
        Err(Error::Forbidden)
    ));

    // Acknowledge (the finder's first response), then ask the finder for more.
    let view = desk.set_report_state(&security, &origin(), id, ReportState::Acknowledged, None).await.unwrap();
    assert!(view.state_choices.iter().all(|c| ReportState::Acknowledged.can_move_to(c.state)));
    assert_eq!(view.clocks[0].status, "met", "the acknowledgement answered the finder");
    desk.set_report_state(&security, &origin(), id, ReportState::Triaging, None).await.unwrap();
    let view = desk.set_report_state(&security, &origin(), id, ReportState::NeedsInfo, None).await.unwrap();
    let triage = view.clocks.iter().find(|c| c.kind == "triage").unwrap();
    assert_eq!(triage.status, "paused");
    assert!(triage.due_at.is_none(), "no due time while the report waits on the finder");

    // The finder answers: the report goes back to triaging and the clock runs again.
    let finder = desk.finder_reply(FinderCredential::ReceiptCode(&code), "Here is the payload.").await.unwrap();
    assert_eq!(finder.state, ReportState::Triaging);
    let view = desk.desk_report(&security, id).await.unwrap();
    let moved: Vec<(ReportState, &str)> = view.history.iter().map(|h| (h.to, h.by.as_str())).collect();
    assert_eq!(
        moved,
        [
            (ReportState::Acknowledged, "Name of sec@acme.example"),
            (ReportState::Triaging, "Name of sec@acme.example"),
            (ReportState::NeedsInfo, "Name of sec@acme.example"),
            (ReportState::Triaging, "finder"),
        ]
    );
    assert_eq!(view.clocks.iter().find(|c| c.kind == "triage").unwrap().status, "running");

    // A duplicate names its original, which must be another report of this desk.
    let invalid = |r: Result<_, Error>, field: &str| match r {
        Err(Error::Invalid(f)) => assert_eq!(f.field, field),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("accepted"),
    };
    invalid(desk.set_report_state(&security, &origin(), id, ReportState::Duplicate, None).await, "duplicate_of");
    invalid(desk.set_report_state(&security, &origin(), id, ReportState::Duplicate, Some(id)).await, "duplicate_of");
    invalid(
        desk.set_report_state(&security, &origin(), id, ReportState::Accepted, Some(domain::ReportId::new())).await,
        "duplicate_of",
    );
    let (_, original) = submit(&w, "Stored XSS in profile, again").await;
    let view = desk.set_report_state(&security, &origin(), id, ReportState::Duplicate, Some(original)).await.unwrap();
    assert_eq!(view.duplicate_of, Some(original));
    assert_eq!(view.state_choices.iter().map(|c| c.state).collect::<Vec<_>>(), [ReportState::Triaging]);

    // The finder cannot withdraw a closed report; an open one they can, and then nobody moves it.
    let view = desk.finder_status(FinderCredential::ReceiptCode(&code)).await.unwrap();
    assert_eq!(view.state, ReportState::Duplicate);
    assert!(matches!(desk.finder_withdraw(FinderCredential::ReceiptCode(&code)).await, Err(Error::Conflict(_))));
    let (code2, second) = submit(&w, "Open redirect").await;
    let view = desk.finder_withdraw(FinderCredential::ReceiptCode(&code2)).await.unwrap();
    assert_eq!(view.state, ReportState::Withdrawn);
    match desk.set_report_state(&security, &origin(), second, ReportState::Triaging, None).await {
        Err(Error::Transition { allowed, .. }) => assert!(allowed.is_empty()),
        other => panic!("{other:?}"),
    }
    let clocks = desk.desk_report(&security, second).await.unwrap().clocks;
    assert_eq!(clocks[0].status, "stopped", "withdrawn before any answer: neither met nor missed");
}

#[tokio::test]
async fn cvss_vectors_are_scored_by_the_server_and_notes_stay_with_the_team() {
    let w = world().await;
    let (security, other_security, member) = desk(&w).await;
    let (code, id) = submit(&w, "SQL injection in search").await;
    let desk = &w.services.desk;

    let bad =
        TriageInput { cvss_v3: Some("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()), ..Default::default() };
    match desk.set_report_triage(&security, &origin(), id, bad).await {
        Err(Error::Invalid(f)) => {
            assert_eq!((f.field.as_str(), f.rule), ("cvss_v3", Rule::InvalidValue));
            assert!(f.message.contains("AV (Attack Vector)"), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }
    let outsider = w.principal("member@acme.example").await.user_id;
    match desk
        .set_report_triage(&security, &origin(), id, TriageInput { assignee: Some(outsider), ..Default::default() })
        .await
    {
        Err(Error::Invalid(f)) => assert_eq!(f.field, "assignee"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        desk.set_report_triage(&member, &origin(), id, TriageInput::default()).await,
        Err(Error::Forbidden)
    ));
    let assignee = w.principal("sec2@acme.example").await.user_id;
    let view = desk
        .set_report_triage(
            &security,
            &origin(),
            id,
            TriageInput {
                assignee: Some(assignee),
                cvss_v3: Some(" cvss:3.1/av:n/ac:l/pr:n/ui:n/s:u/c:h/i:h/a:h".into()),
                cvss_v4: Some("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N".into()),
            },
        )
        .await
        .unwrap();
    let v3 = view.cvss_v3.unwrap();
    assert_eq!(
        (v3.vector.as_str(), v3.score, v3.severity.as_str()),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical")
    );
    assert_eq!(view.cvss_v4.unwrap().score, 9.3);
    assert_eq!(view.severity.as_deref(), Some("critical"));
    assert_eq!(view.assignee.unwrap().name, "Name of sec2@acme.example");
    let inbox = desk.desk_reports(&other_security).await.unwrap();
    assert_eq!((inbox[0].severity.as_deref(), inbox[0].score), (Some("critical"), Some(9.3)));

    // A critical report accepted gets the critical resolution budget.
    desk.set_report_state(&security, &origin(), id, ReportState::Accepted, None).await.unwrap();
    let view = desk.desk_report(&security, id).await.unwrap();
    let resolution = view.clocks.iter().find(|c| c.kind == "resolution").unwrap();
    assert_eq!((resolution.status.as_str(), resolution.budget_days), ("running", 10));

    // Internal notes: the team reads them, the finder never does.
    let view = desk.add_report_note(&security, &origin(), id, "Probably the legacy search endpoint.").await.unwrap();
    assert_eq!(view.notes[0].body, "Probably the legacy search endpoint.");
    assert!(matches!(desk.add_report_note(&member, &origin(), id, "x").await, Err(Error::Forbidden)));
    assert!(matches!(desk.add_report_note(&security, &origin(), id, " ").await, Err(Error::Invalid(_))));
    let finder = desk.finder_status(FinderCredential::ReceiptCode(&code)).await.unwrap();
    let seen = serde_json::to_string(&finder).unwrap();
    assert!(!seen.contains("legacy search"), "{seen}");
    assert!(!seen.contains("sec2"), "{seen}");
}

#[tokio::test]
async fn clock_settings_are_checked_and_holidays_import_from_icalendar() {
    let w = world().await;
    let (security, _, member) = desk(&w).await;
    let desk = &w.services.desk;
    let settings = desk.desk_clocks(&security).await.unwrap();
    assert_eq!((settings.first_response_days, settings.time_zone.as_str()), (3, "UTC"));
    assert!(matches!(desk.desk_clocks(&member).await, Err(Error::Forbidden)));

    let bad = ClockSettings { time_zone: "Europe/Atlantis".into(), ..settings.clone() };
    assert!(
        matches!(desk.put_desk_clocks(&security, &origin(), bad).await, Err(Error::Invalid(f)) if f.field == "time_zone")
    );
    let saved = desk
        .put_desk_clocks(&security, &origin(), ClockSettings { time_zone: "Europe/Berlin".into(), ..settings.clone() })
        .await
        .unwrap();
    assert_eq!(saved.time_zone, "Europe/Berlin");

    let before = desk.desk_clocks(&security).await.unwrap();
    for broken in
        ["not a calendar", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:tomorrow\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"]
    {
        match desk.import_holidays(&security, &origin(), broken).await {
            Err(Error::Invalid(f)) => assert_eq!(f.field, "calendar"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(desk.desk_clocks(&security).await.unwrap(), before, "nothing changed");
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Acme//EN\r\nBEGIN:VEVENT\r\nUID:a@acme\r\n\
               DTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas Day\r\nEND:VEVENT\r\n\
               END:VCALENDAR\r\n";
    let after = desk.import_holidays(&security, &origin(), ics).await.unwrap();
    assert_eq!(after.holidays.len(), 1);
    assert_eq!((after.holidays[0].date.as_str(), after.holidays[0].name.as_str()), ("2026-12-25", "Christmas Day"));
    assert_eq!(after.time_zone, "Europe/Berlin", "an import keeps the rest");
    assert!(matches!(desk.import_holidays(&member, &origin(), ics).await, Err(Error::Forbidden)));
}

#[tokio::test]
async fn reminders_go_to_the_assignee_then_escalate_to_the_team_once_each_over_smtp() {
    let mut sink = crate::smtp::SmtpSink::start().await;
    let mailer = std::sync::Arc::new(services::mail::SmtpMailer::new(&sink.settings()).unwrap());
    let w = crate::world_with(crate::settings(), |s| s.with_mailer(mailer)).await;
    let (security, _, _) = desk(&w).await;
    let desk = &w.services.desk;
    // A one-day first response with a three-day margin: due soon from the start.
    let settings = desk.desk_clocks(&security).await.unwrap();
    desk.put_desk_clocks(
        &security,
        &origin(),
        ClockSettings { first_response_days: 1, remind_before_hours: 72, ..settings },
    )
    .await
    .unwrap();
    let (_, id) = submit(&w, "Session fixation").await;
    let assignee = w.principal("sec2@acme.example").await.user_id;
    desk.set_report_triage(&security, &origin(), id, TriageInput { assignee: Some(assignee), ..Default::default() })
        .await
        .unwrap();

    let now = Millis::now();
    assert_eq!(desk.remind_clocks(now).await.unwrap(), 1);
    let mail = sink.next().await;
    assert_eq!(mail.recipients, ["sec2@acme.example"], "due soon: the assignee alone");
    assert!(mail.data.contains("Due soon: First response"), "{}", mail.data);
    assert!(!mail.data.contains("Steps to reproduce"), "reminders never carry the report's content");
    sink.assert_quiet().await;
    assert_eq!(desk.remind_clocks(now).await.unwrap(), 0, "once per clock");

    // A month later both the first-response and triage clocks have run out: the whole team hears.
    let later = Millis(now.0 + 30 * 86_400_000);
    assert_eq!(desk.remind_clocks(later).await.unwrap(), 2);
    let mut recipients = Vec::new();
    for _ in 0..4 {
        let mail = sink.next().await;
        assert!(mail.data.contains("Missed:"), "{}", mail.data);
        recipients.extend(mail.recipients);
    }
    recipients.sort();
    assert_eq!(recipients, ["sec2@acme.example", "sec2@acme.example", "sec@acme.example", "sec@acme.example"]);
    sink.assert_quiet().await;
    assert_eq!(desk.remind_clocks(later).await.unwrap(), 0, "each escalation once");

    let dashboard = desk.desk_dashboard(&security).await.unwrap();
    let kinds: Vec<(&str, &str)> = dashboard.reminders.iter().map(|r| (r.clock.as_str(), r.kind.as_str())).collect();
    assert_eq!(kinds.len(), 3);
    assert!(kinds.contains(&("First response", "due-soon")) && kinds.contains(&("Triage", "missed")));
    assert_eq!(dashboard.open_reports, 1);
    assert_eq!(dashboard.open_by_state[0].key, "new");
    assert_eq!(dashboard.at_risk.len(), 1);

    // The periodic job is scheduled with the others, so it runs once across the cluster.
    w.services.ensure_periodic_jobs().await.unwrap();
    let jobs = w.store.list_jobs().await.unwrap();
    assert!(jobs.iter().any(|j| j.kind == "desk.remind-clocks"), "{jobs:?}");
}

#[tokio::test]
async fn the_dashboard_counts_met_clocks_and_the_median_first_response() {
    let w = world().await;
    let (security, _, _) = desk(&w).await;
    let desk = &w.services.desk;
    let (_, a) = submit(&w, "One").await;
    let (_, b) = submit(&w, "Two").await;
    desk.desk_reply(&security, &origin(), a, "Thanks, looking.").await.unwrap();
    desk.set_report_state(&security, &origin(), b, ReportState::Spam, None).await.unwrap();
    let d = desk.desk_dashboard(&security).await.unwrap();
    assert_eq!(d.open_reports, 1);
    let first = d.clocks_last_90_days.iter().find(|c| c.kind == "first-response").unwrap();
    // Spam is not a response the finder hears of; only the reply counts.
    assert_eq!((first.met, first.missed, first.share_met), (1, 0, Some(1.0)));
    let triage = d.clocks_last_90_days.iter().find(|c| c.kind == "triage").unwrap();
    assert_eq!((triage.met, triage.missed), (1, 0), "spam decided the second report in time");
    assert!(d.median_first_response_hours.unwrap() < 1.0);
    assert_eq!(d.open_by_severity[0].key, "unscored");
}

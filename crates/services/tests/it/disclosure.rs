//! Coordinated disclosure (D6): drafts in versions, the finder's agreement to one version kept as
//! evidence, publication only on or after the proposed date with that agreement or an override
//! and its reason, and the public record with its CSAF 2.0 and OSV forms.

use crate::{origin, world};
use domain::advisory::{AdvisoryInput, AffectedProduct};
use domain::audit::Action;
use domain::desk::{ReportInput, ReportState};
use domain::{Role, Rule};
use services::desk::FinderCredential;
use services::Error;

fn draft(publish_on: &str) -> AdvisoryInput {
    AdvisoryInput {
        title: "Reset links work twice".into(),
        summary: "A password reset link could be used a second time within a day.".into(),
        affected: vec![AffectedProduct {
            product: "Conclave".into(),
            introduced: Some("1.2.0".into()),
            fixed: Some("1.4.2".into()),
        }],
        fix: "Upgrade to 1.4.2.".into(),
        cvss_v3: Some("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N".into()),
        cvss_v4: Some("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N".into()),
        cwe_id: Some("CWE-640".into()),
        cwe_name: Some("Weak Password Recovery Mechanism for Forgotten Password".into()),
        references: vec!["https://chat.example.org/changelog/1.4.2".into()],
        publish_on: publish_on.into(),
    }
}

fn today() -> String {
    domain::Millis::now().rfc3339()[..10].to_owned()
}

fn conflict_on(r: Result<impl std::fmt::Debug, Error>, field: &str) {
    match r {
        Err(Error::Conflict(f)) => assert_eq!(f.field, field, "{f:?}"),
        other => panic!("expected a conflict on {field}, got {other:?}"),
    }
}

#[tokio::test]
async fn the_finder_agrees_to_a_version_and_the_team_publishes_it() {
    let w = world().await;
    let e = w.enterprise("Acme").await;
    w.user(e, "sec@acme.example", Role::Security).await;
    w.user(e, "member@acme.example", Role::Member).await;
    let security = w.caller("sec@acme.example").await;
    let member = w.caller("member@acme.example").await;
    let desk = &w.services.desk;
    let input = ReportInput {
        title: "Reset link reuse".into(),
        description: "Open the link twice.".into(),
        name: "Grace Finder".into(),
        credit: true,
        ..ReportInput::default()
    };
    let receipt = desk.submit_report(&origin(), &input).await.unwrap();
    let code = FinderCredential::ReceiptCode(&receipt.receipt_code);
    let id = desk.desk_reports(&security).await.unwrap()[0].id;

    // Only for an accepted report, only by the team, only a valid draft.
    conflict_on(desk.save_advisory(&security, &origin(), id, &draft(&today())).await, "state");
    desk.set_report_state(&security, &origin(), id, ReportState::Accepted, None).await.unwrap();
    assert!(matches!(desk.save_advisory(&member, &origin(), id, &draft(&today())).await, Err(Error::Forbidden)));
    let bad = AdvisoryInput { cvss_v3: Some("CVSS:3.1/AV:N".into()), ..draft(&today()) };
    assert!(
        matches!(desk.save_advisory(&security, &origin(), id, &bad).await, Err(Error::Invalid(f)) if f.field == "cvss_v3")
    );

    let v1 = desk.save_advisory(&security, &origin(), id, &draft(&today())).await.unwrap();
    assert_eq!((v1.version, v1.public_id.as_str()), (1, format!("CONCLAVE-{}-0001", &today()[..4]).as_str()));
    assert_eq!(v1.credit.as_deref(), Some("Grace Finder"));
    assert_eq!(v1.cvss_v3_score, Some(6.8));

    // The finder reads version 1 and agrees; the team changes it: the agreement no longer counts.
    let seen = desk.finder_status(code).await.unwrap().advisory.unwrap();
    assert_eq!((seen.version, seen.agreed, seen.draft.title.as_str()), (1, false, "Reset links work twice"));
    assert!(desk.finder_consent(code, 1).await.unwrap().advisory.unwrap().agreed);
    let v2 = desk
        .save_advisory(
            &security,
            &origin(),
            id,
            &AdvisoryInput { fix: "Upgrade to 1.4.2 or later.".into(), ..draft(&today()) },
        )
        .await
        .unwrap();
    assert_eq!((v2.version, v2.consent_version, v2.consent_current), (2, Some(1), false));
    conflict_on(desk.finder_consent(code, 1).await, "version");

    // Publishing: the report must be resolved; without agreement an override needs its reason.
    conflict_on(desk.publish_advisory(&security, &origin(), id, None).await, "state");
    desk.set_report_state(&security, &origin(), id, ReportState::Resolved, None).await.unwrap();
    conflict_on(desk.publish_advisory(&security, &origin(), id, None).await, "consent");
    match desk.publish_advisory(&security, &origin(), id, Some("soon")).await {
        Err(Error::Invalid(f)) => assert_eq!((f.field.as_str(), f.rule), ("override_reason", Rule::TooShort)),
        other => panic!("{other:?}"),
    }
    assert!(desk.published_advisories().await.unwrap().is_empty(), "nothing published by the refusals");
    assert_eq!(desk.desk_report(&security, id).await.unwrap().state, ReportState::Resolved);

    // The finder agrees to version 2; the team publishes; the report is disclosed.
    desk.finder_consent(code, 2).await.unwrap();
    let published = desk.publish_advisory(&security, &origin(), id, None).await.unwrap();
    assert!(published.published_at.is_some() && published.override_reason.is_none());
    assert_eq!(desk.desk_report(&security, id).await.unwrap().state, ReportState::Disclosed);
    conflict_on(desk.save_advisory(&security, &origin(), id, &draft(&today())).await, "state");
    let public = desk.published_advisories().await.unwrap();
    assert_eq!(public.len(), 1);
    assert_eq!(
        (public[0].credit.as_deref(), public[0].fix.as_str()),
        (Some("Grace Finder"), "Upgrade to 1.4.2 or later.")
    );
    assert_eq!(desk.hall_of_fame().await.unwrap(), ["Grace Finder"]);
    let audit = w.store.enterprise_audit(e, &Default::default(), i64::MAX, 50).await.unwrap();
    let consent = audit.iter().filter(|a| a.draft.action == Action::DeskAdvisoryConsent).count();
    assert_eq!(consent, 2, "each agreement is evidence: version and hash, anonymous");
    let publish = audit.iter().find(|a| a.draft.action == Action::DeskAdvisoryPublish).unwrap();
    assert!(publish.draft.detail.contains("\"consent\":true"), "{}", publish.draft.detail);

    // The exports carry what the standards ask for.
    let base = "https://chat.example.org";
    let csaf = services::desk::exports::csaf(base, &public[0]);
    assert_eq!(csaf["document"]["csaf_version"], "2.0");
    assert_eq!(csaf["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"], 6.8);
    assert_eq!(csaf["vulnerabilities"][0]["cwe"]["id"], "CWE-640");
    assert_eq!(csaf["document"]["acknowledgments"][0]["names"][0], "Grace Finder");
    let osv = services::desk::exports::osv(base, &public[0]);
    let types: Vec<&str> = osv["severity"].as_array().unwrap().iter().map(|s| s["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["CVSS_V3", "CVSS_V4"]);
    assert_eq!(osv["credits"][0]["name"], "Grace Finder");
    crate::schemas::assert_valid_csaf(&csaf);
    crate::schemas::assert_valid_osv(&osv);
}

#[tokio::test]
async fn no_publication_before_the_date_and_no_credit_unless_asked() {
    let w = world().await;
    let e = w.enterprise("Acme").await;
    w.user(e, "sec@acme.example", Role::Security).await;
    let security = w.caller("sec@acme.example").await;
    let desk = &w.services.desk;
    let input = ReportInput {
        title: "Quiet finder".into(),
        description: "Details.".into(),
        name: "Not To Be Named".into(),
        credit: false,
        ..ReportInput::default()
    };
    desk.submit_report(&origin(), &input).await.unwrap();
    let id = desk.desk_reports(&security).await.unwrap()[0].id;
    desk.set_report_state(&security, &origin(), id, ReportState::Accepted, None).await.unwrap();
    desk.set_report_state(&security, &origin(), id, ReportState::Resolved, None).await.unwrap();
    let later = desk.save_advisory(&security, &origin(), id, &draft("2099-01-01")).await.unwrap();
    assert_eq!(later.credit, None);
    conflict_on(
        desk.publish_advisory(&security, &origin(), id, Some("The finder cannot be reached any more.")).await,
        "publish_on",
    );
    desk.save_advisory(&security, &origin(), id, &draft(&today())).await.unwrap();
    let published =
        desk.publish_advisory(&security, &origin(), id, Some("The finder cannot be reached any more.")).await.unwrap();
    assert_eq!(published.override_reason.as_deref(), Some("The finder cannot be reached any more."));
    let public = desk.published_advisories().await.unwrap();
    assert_eq!(public[0].credit, None);
    let text = serde_json::to_string(&public[0]).unwrap();
    assert!(!text.contains("Not To Be Named"));
    assert!(desk.hall_of_fame().await.unwrap().is_empty());
    let osv = services::desk::exports::osv("https://chat.example.org", &public[0]);
    assert!(osv.get("credits").is_none());
    crate::schemas::assert_valid_osv(&osv);
}

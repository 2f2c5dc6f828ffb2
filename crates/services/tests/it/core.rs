//! The shared core: refusals are audited with the true actor, automatic work is the system's,
//! a person may hold several roles, and periodic work runs through the durable job runner.

use crate::{origin, world, PASSWORD};
use domain::audit::{Action, Actor, Outcome};
use domain::password_policy::PasswordPolicy;
use domain::{Role, Roles};
use services::directory::NewUser;
use services::jobs::JobKind;
use services::{Caller, Error};

#[tokio::test]
async fn a_refusal_is_audited_as_denied_with_the_person_who_tried() {
    let w = world().await;
    let a = w.enterprise("A").await;
    let b = w.enterprise("B").await;
    let member = w.user(a, "member@a.example", Role::Member).await;
    let caller = w.caller("member@a.example").await;
    let before = w.store.audit_count().await.unwrap();

    assert!(matches!(w.services.directory.list_users(&caller, a).await, Err(Error::Forbidden)));
    assert!(matches!(w.services.compliance.enterprise_audit(&caller, b, None, 10).await, Err(Error::Forbidden)));
    assert!(matches!(w.services.directory.create_team(&caller, &origin(), a, "Mine").await, Err(Error::Forbidden)));

    let events = w.store.audit_page(before, 100).await.unwrap();
    let denied: Vec<_> = events.iter().filter(|e| e.draft.outcome == Outcome::Denied).collect();
    assert_eq!(
        denied.iter().map(|e| e.draft.action).collect::<Vec<_>>(),
        [Action::UserList, Action::AuditRead, Action::TeamCreate]
    );
    for e in &denied {
        assert_eq!(e.draft.actor, Actor::User { user_id: member.id });
        assert_eq!(e.draft.enterprise_id, Some(a), "recorded in the prober's own enterprise");
    }
    // The probe into B names B in the detail, and B's own log shows nothing of A's people.
    assert!(denied[1].draft.detail.contains(&b.to_string()), "{}", denied[1].draft.detail);
    assert!(w
        .store
        .enterprise_audit(b, &Default::default(), i64::MAX, 100)
        .await
        .unwrap()
        .iter()
        .all(|e| e.draft.outcome != Outcome::Denied));
    // An enterprise admin reads the refusals in their log.
    w.user(a, "admin@a.example", Role::EnterpriseAdmin).await;
    let admin = w.caller("admin@a.example").await;
    let log = w.services.compliance.enterprise_audit(&admin, a, None, 100).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "user.list" && e.outcome == "denied" && e.actor == format!("user:{}", member.id)));
}

#[tokio::test]
async fn enrolment_at_sign_in_is_the_persons_own_act_not_the_operators() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "admin@e.example", Role::EnterpriseAdmin).await;
    let admin = w.caller("admin@e.example").await;
    let ada = w.user(e, "ada@e.example", Role::Member).await;
    let policy = PasswordPolicy { require_second_factor: true, ..PasswordPolicy::default() };
    w.services.credentials.put_password_policy(&admin, &origin(), e, policy).await.unwrap();
    let enrolment = w.services.sessions.enrol_totp_at_sign_in(&origin(), "ada@e.example", PASSWORD).await.unwrap();
    let secret = crypto::totp::TotpSecret::from_base32(&enrolment.secret).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let code = secret.code_at_step(now / 30);
    w.services.sessions.sign_in_with(&origin(), "ada@e.example", PASSWORD, Some(&code)).await.unwrap();
    let events = w.store.audit_page(0, 1000).await.unwrap();
    let enabled = events.iter().find(|ev| ev.draft.action == Action::AuthTotpEnable).unwrap();
    assert_eq!(enabled.draft.actor, Actor::User { user_id: ada.id });
    // The operator did only what the test asked of the shell: the enterprise and the accounts.
    assert!(events.iter().all(|ev| ev.draft.actor != Actor::Operator
        || matches!(ev.draft.action, Action::EnterpriseCreate | Action::UserCreate)));
}

#[tokio::test]
async fn an_enterprise_admin_on_the_security_team_holds_both_roles() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let new = NewUser {
        email: "both@e.example".into(),
        name: "Both".into(),
        roles: Roles::of(Role::EnterpriseAdmin).with(Role::Security),
        via: None,
        password: Some(PASSWORD.into()),
    };
    let created = w.services.directory.create_user(&Caller::Operator, &origin(), e, new).await.unwrap();
    assert_eq!(created.role, Role::EnterpriseAdmin);
    assert_eq!(created.roles.to_vec(), [Role::EnterpriseAdmin, Role::Security]);
    let both = w.caller("both@e.example").await;
    // The admin console and the security desk both open for this one person.
    w.services.directory.list_users(&both, e).await.unwrap();
    w.services.desk.desk_reports(&both).await.unwrap();
    let Caller::User(p) = &both else { unreachable!() };
    assert!(p.has(Role::EnterpriseAdmin) && p.has(Role::Security) && !p.has(Role::TeamAdmin));
    assert_eq!(p.auth.method, domain::AuthMethod::Password);
}

#[tokio::test]
async fn periodic_jobs_are_scheduled_once_run_when_due_and_come_back_after_their_period() {
    let w = world().await;
    w.services.ensure_periodic_jobs().await.unwrap();
    w.services.ensure_periodic_jobs().await.unwrap();
    let jobs = w.store.list_jobs().await.unwrap();
    let mut kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [JobKind::SweepPartialFiles.name(), JobKind::PurgeClosedReports.name(), JobKind::RemindDeskClocks.name()]
    );
    assert_eq!(w.services.run_due_jobs().await.unwrap(), 3);
    assert_eq!(w.services.run_due_jobs().await.unwrap(), 0, "nothing is due until the next period");
    let now = domain::Millis::now().0;
    for job in w.store.list_jobs().await.unwrap() {
        assert!(job.lease_owner.is_none() && job.last_error.is_none(), "{job:?}");
        let period = JobKind::parse(&job.kind).unwrap().period().unwrap().as_millis() as i64;
        assert!(job.due_at.0 > now + period - 100_000, "next run one period later: {job:?}");
    }
}

#[test]
fn the_catalogue_lists_every_action_and_architecture_md_carries_it() {
    let catalogue = services::audit::catalogue();
    assert_eq!(catalogue.len(), Action::ALL.len());
    assert!(catalogue.iter().any(|c| c.action == "auth.sign-in" && c.detail_fields.contains(&"method")));
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ARCHITECTURE.md")).unwrap();
    assert!(
        doc.contains(&services::audit::catalogue_markdown()),
        "ARCHITECTURE.md's audit catalogue is stale; paste this table under \"Audit catalogue\":\n{}",
        services::audit::catalogue_markdown()
    );
}

#[tokio::test]
async fn an_audit_page_size_out_of_range_is_refused_by_name() {
    let w = crate::world().await;
    let e = w.enterprise("E").await;
    for limit in [0, 501] {
        match w.services.compliance.enterprise_audit(&services::Caller::Operator, e, None, limit).await {
            Err(services::Error::Invalid(f)) => assert_eq!(f.field, "limit"),
            other => panic!("{limit}: {other:?}"),
        }
    }
    assert!(w.services.compliance.enterprise_audit(&services::Caller::Operator, e, None, 500).await.is_ok());
}

#[tokio::test]
async fn audit_origins_are_sealed_at_rest_and_still_found_by_address_or_network() {
    use domain::audit::Origin;
    use services::audit::AuditReportFilter;
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "admin@e.example", Role::EnterpriseAdmin).await;
    let admin = w.caller("admin@e.example").await;
    let from = |ip: &str| Origin { ip: Some(ip.into()), user_agent: Some("QuietAgent/7.1 (sealed test)".into()) };
    for ip in ["198.51.100.23", "198.51.100.24", "203.0.113.9", "2001:db8:1:2::77"] {
        w.services.sessions.sign_in(&from(ip), "admin@e.example", PASSWORD).await.unwrap();
    }
    let report = |ip: Option<&str>, network: Option<&str>| {
        let filter = AuditReportFilter { ip: ip.map(str::to_owned), network: network.map(str::to_owned) };
        let (w, admin) = (&w, &admin);
        async move { w.services.compliance.enterprise_audit_filtered(admin, e, &filter, None, 100).await }
    };
    let one = report(Some("198.51.100.23"), None).await.unwrap();
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(one[0].ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(one[0].user_agent.as_deref(), Some("QuietAgent/7.1 (sealed test)"));
    let network = report(None, Some("198.51.100.0/24")).await.unwrap();
    assert_eq!(network.iter().filter_map(|v| v.ip.as_deref()).collect::<Vec<_>>(), ["198.51.100.24", "198.51.100.23"]);
    let v6 = report(None, Some("2001:db8:1:2::/64")).await.unwrap();
    assert_eq!(v6.len(), 1);
    assert_eq!(report(Some("2001:db8:1:2:0::77"), None).await.unwrap().len(), 1, "addresses match however written");
    // Refusals name the field.
    for (ip, network, field) in [
        (Some("not an address"), None, "ip"),
        (None, Some("198.51.100.0/16"), "network"),
        (None, Some("198.51.100.7/24"), "network"),
        (Some("198.51.100.23"), Some("198.51.100.0/24"), "network"),
    ] {
        match report(ip, network).await {
            Err(Error::Invalid(f)) => assert_eq!(f.field, field),
            other => panic!("{ip:?} {network:?}: {other:?}"),
        }
    }
    // The same address is a different index in another enterprise's log.
    let f = w.enterprise("F").await;
    w.user(f, "admin@f.example", Role::EnterpriseAdmin).await;
    w.services.sessions.sign_in(&from("198.51.100.23"), "admin@f.example", PASSWORD).await.unwrap();
    let index_in = |events: Vec<domain::audit::AuditEvent>| {
        events.into_iter().filter_map(|ev| ev.sealed_origin.and_then(|o| o.ip_index)).next().expect("an indexed event")
    };
    let in_e = index_in(w.store.enterprise_audit(e, &Default::default(), one[0].seq + 1, 1).await.unwrap());
    let in_f = index_in(w.store.enterprise_audit(f, &Default::default(), i64::MAX, 1).await.unwrap());
    assert_ne!(in_e, in_f, "one address, two tenants, two indexes");
    // Nothing of the address or the agent is in the database files, and the chain verifies
    // from the stored bytes alone.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(w.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("c.db") {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("198.51.100.23") && !text.contains("QuietAgent"), "a clear origin reached the database");
    let verdict = w.services.compliance.verify_audit_chain(&Caller::Operator, &|_, _| {}).await.unwrap();
    assert!(matches!(verdict, services::audit::ChainVerdict::Intact { .. }), "{verdict:?}");
}

//! Accounts, sign-in, sessions and the audit events they leave.

use crate::{origin, world, PASSWORD};
use domain::audit::{Action, Actor, Outcome};
use domain::{Role, Rule};
use services::directory::NewUser;
use services::{Caller, Error};

#[tokio::test]
async fn creating_a_user_validates_every_field_and_writes_nothing_on_failure() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let cases = [
        (
            NewUser {
                email: "not-an-email".into(),
                name: "N".into(),
                roles: Role::Member.into(),
                via: None,
                password: Some(PASSWORD.into()),
            },
            "email",
            Rule::InvalidEmail,
        ),
        (
            NewUser {
                email: "a@e.example".into(),
                name: "  ".into(),
                roles: Role::Member.into(),
                via: None,
                password: Some(PASSWORD.into()),
            },
            "name",
            Rule::Empty,
        ),
        (
            NewUser {
                email: "a@e.example".into(),
                name: "n".repeat(101),
                roles: Role::Member.into(),
                via: None,
                password: Some(PASSWORD.into()),
            },
            "name",
            Rule::TooLong,
        ),
        (
            NewUser {
                email: "a@e.example".into(),
                name: "N".into(),
                roles: Role::Member.into(),
                via: None,
                password: Some("short".into()),
            },
            "password",
            Rule::TooShort,
        ),
    ];
    let events_before = w.store.audit_count().await.unwrap();
    for (new, field, rule) in cases {
        match w.services.directory.create_user(&Caller::Operator, &origin(), e, new).await {
            Err(Error::Invalid(f)) => assert_eq!((f.field.as_str(), f.rule), (field, rule)),
            other => panic!("expected {field}/{rule:?}, got {other:?}"),
        }
    }
    assert!(w.services.directory.list_users(&Caller::Operator, e).await.unwrap().is_empty());
    assert_eq!(w.store.audit_count().await.unwrap(), events_before);
}

#[tokio::test]
async fn duplicate_emails_conflict_within_an_enterprise_only() {
    let w = world().await;
    let a = w.enterprise("A").await;
    let b = w.enterprise("B").await;
    w.user(a, "same@x.example", Role::Member).await;
    let dup = NewUser {
        email: "SAME@x.example".into(),
        name: "Other".into(),
        roles: Role::Member.into(),
        via: None,
        password: None,
    };
    match w.services.directory.create_user(&Caller::Operator, &origin(), a, dup.clone()).await {
        Err(Error::Conflict(f)) => {
            assert_eq!((f.field.as_str(), f.rule), ("email", Rule::Duplicate))
        }
        other => panic!("{other:?}"),
    }
    w.services.directory.create_user(&Caller::Operator, &origin(), b, dup).await.unwrap();
    assert_eq!(w.services.directory.list_users(&Caller::Operator, a).await.unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_answer_alike_and_are_audited() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let user = w.user(e, "ada@e.example", Role::Member).await;
    let unknown = w.services.sessions.sign_in(&origin(), "nobody@e.example", PASSWORD).await.unwrap_err();
    let wrong = w.services.sessions.sign_in(&origin(), "ada@e.example", "wrong password").await.unwrap_err();
    assert!(matches!(unknown, Error::InvalidCredentials));
    assert!(matches!(wrong, Error::InvalidCredentials));
    assert_eq!(unknown.to_string(), wrong.to_string());

    let events = w.store.audit_page(0, 100).await.unwrap();
    let failures: Vec<_> =
        events.iter().filter(|ev| ev.draft.action == "auth.sign-in" && ev.draft.outcome == Outcome::Failure).collect();
    assert_eq!(failures.len(), 2);
    assert!(failures[0].draft.detail.contains("unknown-account"));
    assert!(failures[1].draft.detail.contains("wrong-password"));
    assert_eq!(failures[1].draft.target, Some(format!("user:{}", user.id)));
    // The origin is stored sealed; the audit report opens it.
    assert!(failures[1].sealed_origin.as_ref().is_some_and(|o| o.ip_ct.is_some()));
    let report = w.services.compliance.enterprise_audit(&Caller::Operator, e, None, 100).await.unwrap();
    let seen = report.iter().find(|v| v.seq == failures[1].seq).expect("the failure is in the enterprise's report");
    assert_eq!(seen.ip.as_deref(), Some("192.0.2.7"));
    for ev in &events {
        assert!(!ev.draft.detail.contains("ada@"), "audit details never hold emails");
    }
}

#[tokio::test]
async fn sign_in_creates_a_device_bound_session_and_sign_out_ends_it() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "ada@e.example", Role::Member).await;
    let signed_in = w.services.sessions.sign_in(&origin(), "  ADA@e.example ", PASSWORD).await.unwrap();
    let principal = w.services.sessions.authenticate(&signed_in.token).await.unwrap();
    assert_eq!(principal, signed_in.principal);
    assert!(w.services.sessions.csrf_matches(&signed_in.token, &signed_in.csrf_token));
    assert!(!w.services.sessions.csrf_matches(&signed_in.token, "forged"));

    let devices = w.services.sessions.list_devices(&principal).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name, "Firefox on Linux");
    assert_eq!(devices[0].ip, "192.0.2.7");
    assert!(devices[0].current);

    w.services.sessions.sign_out(&principal, &origin()).await.unwrap();
    assert!(matches!(w.services.sessions.authenticate(&signed_in.token).await, Err(Error::Unauthenticated)));
    let actions: Vec<_> = w
        .store
        .audit_page(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.draft.action, e.draft.outcome, e.draft.actor))
        .collect();
    assert!(actions.contains(&(Action::AuthSignIn, Outcome::Success, Actor::User { user_id: principal.user_id })));
    assert!(actions.contains(&(Action::AuthSignOut, Outcome::Success, Actor::User { user_id: principal.user_id })));
}

#[tokio::test]
async fn a_user_signs_one_device_out_from_another() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "ada@e.example", Role::Member).await;
    let laptop = w.services.sessions.sign_in(&origin(), "ada@e.example", PASSWORD).await.unwrap();
    let phone = w.services.sessions.sign_in(&origin(), "ada@e.example", PASSWORD).await.unwrap();
    w.services.sessions.end_device(&laptop.principal, &origin(), phone.principal.session_id).await.unwrap();
    assert!(w.services.sessions.authenticate(&phone.token).await.is_err());
    assert!(w.services.sessions.authenticate(&laptop.token).await.is_ok());
}

#[tokio::test]
async fn disabled_accounts_cannot_sign_in_and_lose_their_sessions() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let user = w.user(e, "ada@e.example", Role::Member).await;
    let session = w.services.sessions.sign_in(&origin(), "ada@e.example", PASSWORD).await.unwrap();
    w.services.directory.set_user_disabled(&Caller::Operator, &origin(), e, user.id, true).await.unwrap();
    // Ended, and the device is told to erase what it holds.
    assert!(matches!(w.services.sessions.authenticate(&session.token).await, Err(Error::WipeRequired)));
    assert!(matches!(
        w.services.sessions.sign_in(&origin(), "ada@e.example", PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    w.services.directory.set_user_disabled(&Caller::Operator, &origin(), e, user.id, false).await.unwrap();
    w.services.sessions.sign_in(&origin(), "ada@e.example", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn weaker_stored_hashes_are_upgraded_at_sign_in() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let user = w.user(e, "ada@e.example", Role::Member).await;
    let weak =
        crypto::password::hash(PASSWORD, crypto::password::Cost { memory_kib: 32, iterations: 1, parallelism: 1 })
            .unwrap();
    w.store.set_password_hash(e, user.id, &weak, domain::Millis::now(), None).await.unwrap();
    w.services.sessions.sign_in(&origin(), "ada@e.example", PASSWORD).await.unwrap();
    let stored = w.store.get_user(e, user.id).await.unwrap().unwrap().password_hash.unwrap();
    assert!(stored.contains("m=64,t=1,p=1"), "{stored}");
}

#[tokio::test]
async fn the_chain_verifies_after_ordinary_work() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "ada@e.example", Role::Member).await;
    let _ = w.services.sessions.sign_in(&origin(), "ada@e.example", "nope nope").await;
    match w.services.compliance.verify_audit_chain(&Caller::Operator, &|_, _| {}).await.unwrap() {
        services::audit::ChainVerdict::Intact { events } => assert!(events >= 4, "{events}"),
        broken => panic!("{broken:?}"),
    }
}

#[tokio::test]
async fn a_pin_lock_is_audited_once_however_many_requests_it_refuses() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "ada@e.example", Role::Member).await;
    let signed_in = w.services.sessions.sign_in(&origin(), "ada@e.example", PASSWORD).await.unwrap();
    let s = &w.services.sessions;
    s.set_pin(&signed_in.principal, &origin(), "2468", 5, None).await.unwrap();
    let locks = |events: Vec<domain::audit::AuditEvent>| {
        events.into_iter().filter(|ev| ev.draft.action == Action::SessionLock).collect::<Vec<_>>()
    };
    // Idle past the delay: the first refused request records the lock, the rest add nothing.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", w.dir.path().join("c.db").display())).await.unwrap();
    sqlx::query("UPDATE sessions SET active_at = active_at - 600000").execute(&pool).await.unwrap();
    for _ in 0..5 {
        assert!(matches!(s.authenticate(&signed_in.token).await, Err(Error::PinRequired { pin_set: true })));
    }
    let recorded = locks(w.store.audit_page(0, 1000).await.unwrap());
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].draft.actor, Actor::System);
    assert!(recorded[0].draft.detail.contains("idle"));
    // Unlocked, then locked on request: recorded as the person's act.
    s.unlock(&w.services.sessions.authenticate_even_locked(&signed_in.token, None).await.unwrap().0, &origin(), "2468")
        .await
        .unwrap();
    s.lock(&signed_in.principal).await.unwrap();
    s.lock(&signed_in.principal).await.unwrap();
    let recorded = locks(w.store.audit_page(0, 1000).await.unwrap());
    assert_eq!(recorded.len(), 2, "a second lock of a locked session records nothing");
    assert_eq!(recorded[1].draft.actor, Actor::User { user_id: signed_in.principal.user_id });
    assert!(recorded[1].draft.detail.contains("requested"));
}

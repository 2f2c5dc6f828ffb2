//! The enterprise's sign-in rules: password policy, lockout, password age, one-time codes.

use crate::{origin, world, World, PASSWORD};
use crypto::totp::{TotpSecret, STEP_SECONDS};
use domain::password_policy::{CharClass, PasswordPolicy};
use domain::{EnterpriseId, Role};
use services::directory::NewUser;
use services::{Caller, Error};

async fn setup() -> (World, EnterpriseId, Caller) {
    let w = world().await;
    let e = w.enterprise("Acme").await;
    w.user(e, "admin@acme.example", Role::EnterpriseAdmin).await;
    let admin = w.caller("admin@acme.example").await;
    (w, e, admin)
}

fn rules(err: Error) -> Vec<String> {
    match err {
        Error::PasswordPolicy(failures) => failures.into_iter().map(|f| f.rule).collect(),
        other => panic!("expected a policy refusal, got {other:?}"),
    }
}

fn now() -> i64 {
    domain::Millis::now().0 / 1000
}

/// Runs SQL against the world's SQLite file: moves clocks back for age and lock tests.
async fn sql(w: &World, statement: &str) {
    let url = format!("sqlite://{}", w.dir.path().join("c.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(statement).execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn the_policy_names_every_rule_a_password_breaks_and_only_admins_set_it() {
    let (w, e, admin) = setup().await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let member = w.caller("ada@acme.example").await;
    let policy = PasswordPolicy {
        min_length: 14,
        required_classes: vec![CharClass::Uppercase, CharClass::Digit, CharClass::Symbol],
        deny_words: vec!["rocketry".into()],
        history: 2,
        ..PasswordPolicy::default()
    };
    assert!(matches!(
        w.services.credentials.put_password_policy(&member, &origin(), e, policy.clone()).await,
        Err(Error::Forbidden)
    ));
    for (bad, field) in [
        (PasswordPolicy { min_length: 7, ..policy.clone() }, "min_length"),
        (PasswordPolicy { min_length: 257, ..policy.clone() }, "min_length"),
        (PasswordPolicy { lockout_minutes: 0, ..policy.clone() }, "lockout_minutes"),
    ] {
        assert!(
            matches!(w.services.credentials.put_password_policy(&admin, &origin(), e, bad).await, Err(Error::Invalid(f)) if f.field == field)
        );
    }
    let view = w.services.credentials.put_password_policy(&admin, &origin(), e, policy).await.unwrap();
    assert!(view.checklist.iter().any(|(rule, _)| rule == "class:symbol"));
    assert_eq!(
        w.services.credentials.password_policy(&member, e).await.unwrap().policy.min_length,
        14,
        "members read it"
    );

    let new_user = |password: &str| NewUser {
        email: "grace@acme.example".into(),
        name: "Grace Hopper".into(),
        roles: Role::Member.into(),
        via: None,
        password: Some(password.into()),
    };
    let err = w.services.directory.create_user(&admin, &origin(), e, new_user("plainword")).await.unwrap_err();
    assert_eq!(rules(err)[..4], ["min-length", "class:uppercase", "class:digit", "class:symbol"]);
    let err = w.services.directory.create_user(&admin, &origin(), e, new_user("Password2024!!")).await.unwrap_err();
    assert!(rules(err).contains(&"deny-list".to_owned()));
    let err =
        w.services.directory.create_user(&admin, &origin(), e, new_user("Hopper-Grace-Compiler-9!")).await.unwrap_err();
    assert!(rules(err).contains(&"personal".to_owned()));
    let err = w
        .services
        .directory
        .create_user(&admin, &origin(), e, new_user("Rocketry-Summit-Lantern-9!"))
        .await
        .unwrap_err();
    assert!(rules(err).contains(&"personal".to_owned()), "the enterprise's own words");
    assert_eq!(w.services.directory.list_users(&admin, e).await.unwrap().len(), 2, "nothing was created");
    w.services.directory.create_user(&admin, &origin(), e, new_user("Quiet-Orchard-Lantern-42!")).await.unwrap();

    // Changing: the current password must be right, and the last ones may not come back.
    let grace = w
        .services
        .sessions
        .sign_in(&origin(), "grace@acme.example", "Quiet-Orchard-Lantern-42!")
        .await
        .unwrap()
        .principal;
    let laptop =
        w.services.sessions.sign_in(&origin(), "grace@acme.example", "Quiet-Orchard-Lantern-42!").await.unwrap();
    assert!(matches!(
        w.services.sessions.change_password(&grace, &origin(), "wrong", "Velvet-Harbor-Comet-77!").await,
        Err(Error::Invalid(f)) if f.field == "current_password"
    ));
    let err = w
        .services
        .sessions
        .change_password(&grace, &origin(), "Quiet-Orchard-Lantern-42!", "Quiet-Orchard-Lantern-42!")
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["reuse"]);
    w.services
        .sessions
        .change_password(&grace, &origin(), "Quiet-Orchard-Lantern-42!", "Velvet-Harbor-Comet-77!")
        .await
        .unwrap();
    // The change signs the other devices out (whoever knew the old password), not this one.
    assert!(matches!(w.services.sessions.authenticate(&laptop.token).await, Err(Error::Unauthenticated)));
    assert_eq!(w.services.sessions.list_devices(&grace).await.unwrap().len(), 1);
    let err = w
        .services
        .sessions
        .change_password(&grace, &origin(), "Velvet-Harbor-Comet-77!", "Quiet-Orchard-Lantern-42!")
        .await
        .unwrap_err();
    assert_eq!(rules(err), ["reuse"], "the previous password is in the history");
    assert!(w.services.sessions.sign_in(&origin(), "grace@acme.example", "Velvet-Harbor-Comet-77!").await.is_ok());
}

#[tokio::test]
async fn a_stricter_policy_never_locks_existing_users_out_and_old_passwords_expire_at_sign_in() {
    let (w, e, admin) = setup().await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let strict = PasswordPolicy { min_length: 40, max_age_days: Some(30), ..PasswordPolicy::default() };
    w.services.credentials.put_password_policy(&admin, &origin(), e, strict).await.unwrap();
    assert!(w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await.is_ok(), "still signs in");

    let old = domain::Millis::now().0 - 31 * 86_400_000;
    sql(&w, &format!("UPDATE users SET created_at = {old}, password_changed_at = {old}")).await;
    assert!(matches!(
        w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await,
        Err(Error::PasswordExpired)
    ));
    let err = w
        .services
        .sessions
        .change_expired_password(&origin(), "ada@acme.example", PASSWORD, None, "too short")
        .await
        .unwrap_err();
    assert!(rules(err).contains(&"min-length".to_owned()));
    let fresh = "a very long passphrase about tidal quartz and embers";
    let signed_in = w
        .services
        .sessions
        .change_expired_password(&origin(), "ada@acme.example", PASSWORD, None, fresh)
        .await
        .unwrap();
    assert_eq!(signed_in.principal.enterprise_id, e);
    assert!(w.services.sessions.sign_in(&origin(), "ada@acme.example", fresh).await.is_ok());
    assert!(
        matches!(
            w.services.sessions.change_expired_password(&origin(), "ada@acme.example", fresh, None, PASSWORD).await,
            Err(Error::Invalid(_))
        ),
        "only an expired password"
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_the_policys_minutes() {
    let (w, e, admin) = setup().await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let policy = PasswordPolicy { lockout_threshold: 3, lockout_minutes: 5, ..PasswordPolicy::default() };
    w.services.credentials.put_password_policy(&admin, &origin(), e, policy).await.unwrap();
    for _ in 0..2 {
        assert!(matches!(
            w.services.sessions.sign_in(&origin(), "ada@acme.example", "nope nope").await,
            Err(Error::InvalidCredentials)
        ));
    }
    assert!(
        w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await.is_ok(),
        "a success resets the count"
    );
    for _ in 0..3 {
        let _ = w.services.sessions.sign_in(&origin(), "ada@acme.example", "nope nope").await;
    }
    match w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await {
        Err(Error::Locked(secs)) => assert!((250..=301).contains(&secs), "{secs}"),
        other => panic!("expected a lock, got {other:?}"),
    }
    let past = domain::Millis::now().0 - 1;
    sql(&w, &format!("UPDATE users SET locked_until = {past}")).await;
    assert!(w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await.is_ok(), "the lock ends");
    let events = w.store.audit_page(0, 1000).await.unwrap();
    assert!(events.iter().any(|ev| ev.draft.action == "auth.lockout"));
    assert!(events.iter().any(|ev| ev.draft.action == "auth.sign-in" && ev.draft.detail.contains("\"locked\"")));
}

#[tokio::test]
async fn a_twin_account_in_another_enterprise_does_not_switch_lockout_off() {
    let (w, e, admin) = setup().await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let policy = PasswordPolicy { lockout_threshold: 3, lockout_minutes: 5, ..PasswordPolicy::default() };
    w.services.credentials.put_password_policy(&admin, &origin(), e, policy).await.unwrap();
    // Another enterprise holds an account with the same email.
    let other = w.enterprise("Elsewhere").await;
    w.user(other, "ada@acme.example", Role::Member).await;
    for _ in 0..3 {
        assert!(matches!(
            w.services.sessions.sign_in(&origin(), "ada@acme.example", "nope nope").await,
            Err(Error::InvalidCredentials)
        ));
    }
    // Acme's account is locked now; the right password opens only the twin, which is not.
    let signed_in = w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await.unwrap();
    assert_eq!(signed_in.principal.enterprise_id, other, "the locked account was skipped");
    // While Acme's account is locked, a wrong password is answered as locked and counts against
    // nobody: guesses aimed at Acme's account cannot lock the twin.
    for _ in 0..12 {
        assert!(matches!(
            w.services.sessions.sign_in(&origin(), "ada@acme.example", "nope nope").await,
            Err(Error::Locked(_))
        ));
    }
    assert!(
        w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await.is_ok(),
        "the twin is not locked"
    );
    let events = w.store.audit_page(0, 1000).await.unwrap();
    assert!(events.iter().any(|ev| ev.draft.action == "auth.lockout" && ev.draft.enterprise_id == Some(e)));
}

#[tokio::test]
async fn one_time_codes_enrol_sign_in_once_per_code_and_recover() {
    let (w, e, _) = setup().await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let ada = w.principal("ada@acme.example").await;
    let enrolment = w.services.credentials.start_totp_enrolment(&ada).await.unwrap();
    assert!(enrolment.qr_svg.starts_with("<svg"));
    assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/Acme:ada@acme.example?secret="));
    let secret = TotpSecret::from_base32(&enrolment.secret).unwrap();
    let step = now() / STEP_SECONDS;
    let codes =
        w.services.credentials.confirm_totp(&ada, &origin(), &secret.code_at_step(step)).await.unwrap().recovery_codes;
    assert_eq!(codes.len(), 10);

    assert!(matches!(
        w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await,
        Err(Error::SecondFactorRequired)
    ));
    // The code used to confirm is spent; the next step's code works once.
    let next = secret.code_at_step(step + 1);
    assert!(matches!(
        w.services
            .sessions
            .sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some(&secret.code_at_step(step)))
            .await,
        Err(Error::InvalidCredentials)
    ));
    assert!(w.services.sessions.sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some(&next)).await.is_ok());
    assert!(
        matches!(
            w.services.sessions.sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some(&next)).await,
            Err(Error::InvalidCredentials)
        ),
        "reused"
    );
    assert!(
        matches!(
            w.services
                .sessions
                .sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some(&secret.code_at_step(step + 5)))
                .await,
            Err(Error::InvalidCredentials)
        ),
        "outside the window"
    );
    assert!(w.services.sessions.sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some(&codes[0])).await.is_ok());
    assert!(
        matches!(
            w.services.sessions.sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some(&codes[0])).await,
            Err(Error::InvalidCredentials)
        ),
        "recovery codes work once"
    );
    assert_eq!(w.services.credentials.totp_status(&ada).await.unwrap().recovery_codes_left, 9);
    assert!(matches!(w.services.credentials.disable_totp(&ada, &origin(), "wrong").await, Err(Error::Invalid(_))));
    w.services.credentials.disable_totp(&ada, &origin(), PASSWORD).await.unwrap();
    assert!(w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn an_enterprise_that_requires_codes_has_members_enrol_before_they_get_in() {
    let (w, e, admin) = setup().await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let policy = PasswordPolicy { require_second_factor: true, ..PasswordPolicy::default() };
    w.services.credentials.put_password_policy(&admin, &origin(), e, policy).await.unwrap();
    assert!(matches!(
        w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await,
        Err(Error::SecondFactorEnrolmentRequired)
    ));
    assert!(matches!(
        w.services.sessions.enrol_totp_at_sign_in(&origin(), "ada@acme.example", "wrong pw").await,
        Err(Error::InvalidCredentials)
    ));
    let enrolment = w.services.sessions.enrol_totp_at_sign_in(&origin(), "ada@acme.example", PASSWORD).await.unwrap();
    let secret = TotpSecret::from_base32(&enrolment.secret).unwrap();
    let code = secret.code_at_step(now() / STEP_SECONDS);
    let signed_in =
        w.services.sessions.sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some(&code)).await.unwrap();
    assert_eq!(signed_in.recovery_codes.map(|c| c.len()), Some(10));
    let ada = signed_in.principal;
    assert!(
        matches!(w.services.credentials.disable_totp(&ada, &origin(), PASSWORD).await, Err(Error::Forbidden)),
        "required: cannot be turned off"
    );
}

#[tokio::test]
async fn an_expired_password_is_replaced_with_a_one_time_code_and_the_code_is_spent_once() {
    let (w, e, admin) = setup().await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let ada = w.principal("ada@acme.example").await;
    let secret =
        TotpSecret::from_base32(&w.services.credentials.start_totp_enrolment(&ada).await.unwrap().secret).unwrap();
    let step = now() / STEP_SECONDS;
    w.services.credentials.confirm_totp(&ada, &origin(), &secret.code_at_step(step - 1)).await.unwrap();
    let policy = PasswordPolicy { max_age_days: Some(30), ..PasswordPolicy::default() };
    w.services.credentials.put_password_policy(&admin, &origin(), e, policy).await.unwrap();
    let old = domain::Millis::now().0 - 31 * 86_400_000;
    sql(&w, &format!("UPDATE users SET created_at = {old}, password_changed_at = {old}")).await;
    let code = secret.code_at_step(step);
    // Signing in first finds the password expired; the code is checked, not spent, so the same
    // code works on the form that replaces the password. A wrong code is refused at once.
    assert!(matches!(
        w.services.sessions.sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some(&code)).await,
        Err(Error::PasswordExpired)
    ));
    assert!(matches!(
        w.services.sessions.sign_in_with(&origin(), "ada@acme.example", PASSWORD, Some("000000")).await,
        Err(Error::InvalidCredentials)
    ));
    let fresh = "a very long passphrase about tidal quartz and embers";
    // A new password the policy refuses spends nothing either.
    assert!(w
        .services
        .sessions
        .change_expired_password(&origin(), "ada@acme.example", PASSWORD, Some(&code), "short")
        .await
        .is_err());
    let signed_in = w
        .services
        .sessions
        .change_expired_password(&origin(), "ada@acme.example", PASSWORD, Some(&code), fresh)
        .await
        .unwrap();
    assert_eq!(signed_in.principal.user_id, ada.user_id);
    assert!(
        matches!(
            w.services.sessions.sign_in_with(&origin(), "ada@acme.example", fresh, Some(&code)).await,
            Err(Error::InvalidCredentials)
        ),
        "the code was spent by the change"
    );
    assert!(w
        .services
        .sessions
        .sign_in_with(&origin(), "ada@acme.example", fresh, Some(&secret.code_at_step(step + 1)))
        .await
        .is_ok());
}

#[tokio::test]
async fn an_expired_password_and_a_due_enrolment_are_done_in_one_step_with_the_recovery_codes() {
    let (w, e, admin) = setup().await;
    w.user(e, "ada@acme.example", Role::Member).await;
    let policy = PasswordPolicy { max_age_days: Some(30), require_second_factor: true, ..PasswordPolicy::default() };
    w.services.credentials.put_password_policy(&admin, &origin(), e, policy).await.unwrap();
    let old = domain::Millis::now().0 - 31 * 86_400_000;
    sql(&w, &format!("UPDATE users SET created_at = {old}, password_changed_at = {old}")).await;
    assert!(matches!(
        w.services.sessions.sign_in(&origin(), "ada@acme.example", PASSWORD).await,
        Err(Error::PasswordExpired)
    ));
    let fresh = "a very long passphrase about tidal quartz and embers";
    // Without a code: the enrolment is due first, and nothing changed.
    assert!(matches!(
        w.services.sessions.change_expired_password(&origin(), "ada@acme.example", PASSWORD, None, fresh).await,
        Err(Error::SecondFactorEnrolmentRequired)
    ));
    let enrolment = w.services.sessions.enrol_totp_at_sign_in(&origin(), "ada@acme.example", PASSWORD).await.unwrap();
    let secret = TotpSecret::from_base32(&enrolment.secret).unwrap();
    let code = secret.code_at_step(now() / STEP_SECONDS);
    let signed_in = w
        .services
        .sessions
        .change_expired_password(&origin(), "ada@acme.example", PASSWORD, Some(&code), fresh)
        .await
        .unwrap();
    assert_eq!(signed_in.recovery_codes.map(|c| c.len()), Some(10), "the recovery codes come with the session");
    let status = w.services.credentials.totp_status(&signed_in.principal).await.unwrap();
    assert!(status.enabled);
}

#[tokio::test]
async fn an_unknown_email_locks_like_a_real_account_so_locks_reveal_nothing() {
    let (w, e, _admin) = setup().await;
    w.user(e, "real@acme.example", Role::Member).await;
    let threshold = PasswordPolicy::default().lockout_threshold;
    for email in ["real@acme.example", "nobody@acme.example"] {
        for _ in 0..threshold {
            assert!(matches!(
                w.services.sessions.sign_in(&origin(), email, "nope nope").await,
                Err(Error::InvalidCredentials)
            ));
        }
        match w.services.sessions.sign_in(&origin(), email, "nope nope").await {
            Err(Error::Locked(secs)) => assert!(secs > 60, "{email}: {secs}"),
            other => panic!("{email}: expected a lock, got {other:?}"),
        }
    }
    // After the lock ends, a real account locks again at the next failure (the count is kept);
    // the decoy counter does the same (its unit test in auth.rs moves the clock).
    let past = domain::Millis::now().0 - 1;
    sql(&w, &format!("UPDATE users SET locked_until = {past}")).await;
    assert!(matches!(
        w.services.sessions.sign_in(&origin(), "real@acme.example", "nope").await,
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(w.services.sessions.sign_in(&origin(), "real@acme.example", "nope").await, Err(Error::Locked(_))));
}

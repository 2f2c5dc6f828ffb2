//! The sign-in store on both backends: lockout counting (also when failures race), one-time code
//! steps that are good once, recovery codes spent once, password history, single-use SAML and
//! OpenID Connect records, and the tenant boundary around all of it.

use super::{audit, enterprise, user};
use domain::Millis;
use store_conformance::conformance;

conformance!(failed_sign_ins_lock_at_the_threshold_and_a_reset_clears_them, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"lockout").await;
    let until = Millis(Millis::now().0 + 60_000);
    let first = store.record_failed_sign_in(e, u.id, 3, until).await.unwrap();
    assert_eq!((first.failed_sign_ins, first.locked_until), (1, None));
    store.record_failed_sign_in(e, u.id, 3, until).await.unwrap();
    let third = store.record_failed_sign_in(e, u.id, 3, until).await.unwrap();
    assert_eq!((third.failed_sign_ins, third.locked_until), (3, Some(until)));
    assert_eq!(store.sign_in_state(e, u.id).await.unwrap().locked_until, Some(until));
    store.reset_failed_sign_ins(e, u.id).await.unwrap();
    let state = store.sign_in_state(e, u.id).await.unwrap();
    assert_eq!((state.failed_sign_ins, state.locked_until), (0, None));
});

conformance!(concurrent_failures_are_each_counted, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"racing").await;
    let until = Millis(Millis::now().0 + 60_000);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.record_failed_sign_in(e, u.id, 10, until).await.unwrap() }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap().failed_sign_ins);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=12).collect::<Vec<i64>>(), "no failure is lost or counted twice");
    assert_eq!(store.sign_in_state(e, u.id).await.unwrap().locked_until, Some(until));
});

conformance!(a_one_time_code_step_is_good_once_and_never_earlier, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"totp").await;
    store.set_totp_pending(e, u.id, Some(&[7; 20])).await.unwrap();
    assert_eq!(store.sign_in_state(e, u.id).await.unwrap().totp_pending_ct, Some(vec![7; 20]));
    let codes = [vec![1; 32], vec![2; 32]];
    store.enable_totp(e, u.id, &[8; 20], 100, &codes, &audit("auth.totp-enable", Some(e))).await.unwrap();
    let state = store.sign_in_state(e, u.id).await.unwrap();
    assert_eq!(
        (state.totp_secret_ct, state.totp_pending_ct, state.totp_last_step),
        (Some(vec![8; 20]), None, Some(100))
    );
    assert!(!store.use_totp_step(e, u.id, 100).await.unwrap(), "the enrolment's step is spent");
    assert!(store.use_totp_step(e, u.id, 101).await.unwrap());
    assert!(!store.use_totp_step(e, u.id, 101).await.unwrap(), "a code is good once");
    assert!(!store.use_totp_step(e, u.id, 99).await.unwrap(), "an older code after a newer one");
    // Two sign-ins racing with the same code: exactly one wins.
    let (a, b) = tokio::join!(store.use_totp_step(e, u.id, 102), store.use_totp_step(e, u.id, 102));
    assert!(a.unwrap() ^ b.unwrap());
});

conformance!(recovery_codes_are_spent_once_and_replaced_on_reenrolment, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"recovery").await;
    let codes = [vec![1; 32], vec![2; 32], vec![3; 32]];
    store.enable_totp(e, u.id, &[8; 20], 1, &codes, &audit("auth.totp-enable", Some(e))).await.unwrap();
    assert_eq!(store.unused_recovery_codes(e, u.id).await.unwrap(), 3);
    assert!(store.recovery_code_unused(e, u.id, &codes[0]).await.unwrap());
    assert_eq!(store.unused_recovery_codes(e, u.id).await.unwrap(), 3, "looking spends nothing");
    assert!(store.use_recovery_code(e, u.id, &codes[0], Millis::now()).await.unwrap());
    assert!(!store.use_recovery_code(e, u.id, &codes[0], Millis::now()).await.unwrap(), "spent");
    assert!(!store.recovery_code_unused(e, u.id, &codes[0]).await.unwrap());
    assert!(!store.use_recovery_code(e, u.id, &[9; 32], Millis::now()).await.unwrap(), "unknown");
    assert_eq!(store.unused_recovery_codes(e, u.id).await.unwrap(), 2);
    let fresh = [vec![4; 32]];
    store.enable_totp(e, u.id, &[8; 20], 2, &fresh, &audit("auth.totp-enable", Some(e))).await.unwrap();
    assert!(!store.recovery_code_unused(e, u.id, &codes[1]).await.unwrap(), "old codes are gone");
    assert_eq!(store.unused_recovery_codes(e, u.id).await.unwrap(), 1);
    store.disable_totp(e, u.id, &audit("auth.totp-disable", Some(e))).await.unwrap();
    assert_eq!(store.unused_recovery_codes(e, u.id).await.unwrap(), 0);
    assert_eq!(store.sign_in_state(e, u.id).await.unwrap().totp_secret_ct, None);
});

conformance!(password_history_keeps_the_newest_and_clears_lockout, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"history").await;
    store.record_failed_sign_in(e, u.id, 1, Millis(Millis::now().0 + 60_000)).await.unwrap();
    for (i, hash) in ["h1", "h2", "h3", "h4"].iter().enumerate() {
        store
            .change_password(e, u.id, hash, Millis(1_000 + i as i64), 2, &audit("auth.password-change", Some(e)))
            .await
            .unwrap();
    }
    // The first old hash was the fixture's; each change moved the one before into the history.
    assert_eq!(store.password_history(e, u.id, 10).await.unwrap(), ["h3", "h2"], "two kept, newest first");
    assert_eq!(store.password_history(e, u.id, 1).await.unwrap(), ["h3"]);
    let state = store.sign_in_state(e, u.id).await.unwrap();
    assert_eq!((state.failed_sign_ins, state.locked_until, state.password_changed_at), (0, None, Some(Millis(1_003))));
});

conformance!(sign_in_rows_stay_inside_their_enterprise, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let u = user(&store, e, b"tenant").await;
    let codes = [vec![1; 32]];
    store.enable_totp(e, u.id, &[8; 20], 1, &codes, &audit("auth.totp-enable", Some(e))).await.unwrap();
    let until = Millis(Millis::now().0 + 60_000);
    assert!(matches!(store.sign_in_state(other, u.id).await, Err(store::Error::NotFound)));
    assert!(matches!(store.record_failed_sign_in(other, u.id, 1, until).await, Err(store::Error::NotFound)));
    assert!(!store.use_totp_step(other, u.id, 5).await.unwrap());
    assert!(!store.recovery_code_unused(other, u.id, &codes[0]).await.unwrap());
    assert!(!store.use_recovery_code(other, u.id, &codes[0], Millis::now()).await.unwrap());
    assert_eq!(store.unused_recovery_codes(other, u.id).await.unwrap(), 0);
    assert!(matches!(
        store.disable_totp(other, u.id, &audit("auth.totp-disable", Some(other))).await,
        Err(store::Error::NotFound)
    ));
    assert!(matches!(
        store.enable_totp(other, u.id, &[6; 20], 9, &[], &audit("auth.totp-enable", Some(other))).await,
        Err(store::Error::NotFound)
    ));
    store.set_totp_pending(other, u.id, Some(&[6; 20])).await.unwrap();
    store.reset_failed_sign_ins(other, u.id).await.unwrap();
    // Nothing the other tenant did reached the user.
    let state = store.sign_in_state(e, u.id).await.unwrap();
    assert_eq!((state.totp_pending_ct, state.totp_last_step, state.failed_sign_ins), (None, Some(1), 0));
    assert_eq!(store.unused_recovery_codes(e, u.id).await.unwrap(), 1);
});

conformance!(saml_requests_and_assertions_are_single_use, |store| {
    let e = enterprise(&store).await;
    let now = Millis::now();
    store.create_saml_request("_req1", e, now).await.unwrap();
    assert_eq!(store.take_saml_request("_req1").await.unwrap(), Some((e, now)));
    assert_eq!(store.take_saml_request("_req1").await.unwrap(), None, "an InResponseTo is good once");
    let expires = Millis(now.0 + 300_000);
    assert!(store.record_saml_assertion("_a1", e, expires).await.unwrap());
    assert!(!store.record_saml_assertion("_a1", e, expires).await.unwrap(), "a replayed assertion");
    // A request older than the table keeps is forgotten when the next one is made.
    store.create_saml_request("_old", e, Millis(now.0 - 7_200_000)).await.unwrap();
    store.create_saml_request("_req2", e, now).await.unwrap();
    assert_eq!(store.take_saml_request("_old").await.unwrap(), None);
});

conformance!(openid_sign_ins_in_flight_are_taken_once, |store| {
    let e = enterprise(&store).await;
    let now = Millis::now();
    store.create_oidc_login(&[3; 32], e, &[4; 50], now).await.unwrap();
    assert_eq!(store.take_oidc_login(&[3; 32]).await.unwrap(), Some((e, vec![4; 50], now)));
    assert_eq!(store.take_oidc_login(&[3; 32]).await.unwrap(), None);
});

//! The store conformance suite: every case runs against SQLite and PostgreSQL.

use domain::audit::{Action, Actor, AuditDraft, Origin, Outcome};
use domain::device::DeviceKind;
use domain::{AuthMethod, EnterpriseId, Millis, Role, Roles, SessionId, TeamId, UserId};
use std::sync::Arc;
use store::{
    EnterpriseRow, Error, KeyRow, MessageEdit, MessageIndex, MessagePage, MessageRow, ReactionChange, SessionRow,
    Store, TeamMemberRow, TeamRow, UserRow,
};
use store_conformance::conformance;

mod jobs;
mod links;
mod message_control;
mod policies;
mod sign_in;
mod upgrade;

/// A draft for the catalogue's `action`. A name outside the catalogue ("x", "test.1") stands for
/// "any action" where the case is about the row or the chain, not the event's kind; its name goes
/// into the detail so the events still differ.
fn audit(name: &str, enterprise: Option<EnterpriseId>) -> AuditDraft {
    let (action, detail) = match Action::parse(name) {
        Some(action) => (action, "{}".to_owned()),
        None => (Action::DeskReportState, format!(r#"{{"state":"{name}"}}"#)),
    };
    AuditDraft {
        at: Millis::now(),
        actor: Actor::Operator,
        origin: Origin { ip: Some("127.0.0.1".into()), user_agent: Some("test".into()) },
        enterprise_id: enterprise,
        team_id: None,
        action,
        target: None,
        outcome: Outcome::Success,
        detail,
    }
}

async fn enterprise(store: &Arc<dyn Store>) -> EnterpriseId {
    let id = EnterpriseId::new();
    let row = EnterpriseRow { id, name_ct: vec![1, 2, 3], created_at: Millis::now() };
    let key = KeyRow {
        id: format!("enterprise:{id}"),
        enterprise_id: Some(id),
        master_key_id: "mk-a".into(),
        wrapped: vec![9; 60],
        created_at: Millis::now(),
        rotated_at: None,
    };
    store.create_enterprise(&row, &key, &audit("enterprise.create", Some(id))).await.unwrap();
    id
}

fn user_row(enterprise: EnterpriseId, email_index: &[u8]) -> UserRow {
    UserRow {
        id: UserId::new(),
        enterprise_id: enterprise,
        email_index: email_index.to_vec(),
        email_ct: vec![4; 40],
        name_ct: vec![5; 40],
        roles: Roles::MEMBER,
        password_hash: Some("$argon2id$stub-for-store-tests".into()),
        disabled: false,
        created_at: Millis::now(),
        updated_at: Millis::now(),
    }
}

async fn user(store: &Arc<dyn Store>, enterprise: EnterpriseId, email_index: &[u8]) -> UserRow {
    let row = user_row(enterprise, email_index);
    store.create_user(&row, &audit("user.create", Some(enterprise))).await.unwrap();
    row
}

fn session_row(user: &UserRow, token_hash: &[u8], expires_at: Millis) -> SessionRow {
    SessionRow {
        wipe_requested_at: None,
        wipe_acknowledged_at: None,
        id: SessionId::new(),
        enterprise_id: user.enterprise_id,
        user_id: user.id,
        token_hash: token_hash.to_vec(),
        device_kind: DeviceKind::Browser,
        device_name_ct: vec![6; 30],
        ip_ct: vec![7; 30],
        created_at: Millis::now(),
        last_seen_at: Millis::now(),
        expires_at,
        ended_at: None,
        ended_reason: None,
        auth_method: AuthMethod::Password,
        elevated_until: None,
        active_at: Millis::now(),
        locked_at: None,
        pin_failures: 0,
    }
}

fn later() -> Millis {
    Millis(Millis::now().0 + 3_600_000)
}

conformance!(enterprises_are_created_with_their_key, |store| {
    let id = enterprise(&store).await;
    let got = store.get_enterprise(id).await.unwrap().unwrap();
    assert_eq!(got.name_ct, vec![1, 2, 3]);
    assert_eq!(store.list_enterprises().await.unwrap().len(), 1);
    let key = store.get_key(&format!("enterprise:{id}")).await.unwrap().unwrap();
    assert_eq!(key.enterprise_id, Some(id));
    assert!(store.get_enterprise(EnterpriseId::new()).await.unwrap().is_none());
});

conformance!(a_failed_action_writes_neither_row_nor_audit_event, |store| {
    let e = enterprise(&store).await;
    user(&store, e, b"idx-1").await;
    let events_before = store.audit_count().await.unwrap();
    let dup = user_row(e, b"idx-1");
    let err = store.create_user(&dup, &audit("user.create", Some(e))).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(store.audit_count().await.unwrap(), events_before, "the audit event must roll back with the action");
    assert_eq!(store.list_users(e).await.unwrap().len(), 1);
    assert!(store.get_user(e, dup.id).await.unwrap().is_none());
});

conformance!(email_indexes_are_unique_per_enterprise_not_globally, |store| {
    let a = enterprise(&store).await;
    let b = enterprise(&store).await;
    user(&store, a, b"same").await;
    user(&store, b, b"same").await;
    let found = store.find_users_by_email_index(b"same").await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(store.find_users_by_email_index(b"other").await.unwrap().is_empty());
});

conformance!(tenant_filters_hide_other_enterprises_rows, |store| {
    let a = enterprise(&store).await;
    let b = enterprise(&store).await;
    let alice = user(&store, a, b"alice").await;
    assert!(store.get_user(b, alice.id).await.unwrap().is_none());
    assert!(store.list_users(b).await.unwrap().is_empty());
    let err =
        store.set_user_disabled(b, alice.id, true, Millis::now(), &audit("user.disable", Some(b))).await.unwrap_err();
    assert!(matches!(err, Error::NotFound));
    assert!(!store.get_user(a, alice.id).await.unwrap().unwrap().disabled);

    let team =
        TeamRow { id: TeamId::new(), enterprise_id: b, name_ct: vec![1], archived: false, created_at: Millis::now() };
    store.create_team(&team, &audit("team.create", Some(b))).await.unwrap();
    assert!(store.get_team(a, team.id).await.unwrap().is_none());
    let member = TeamMemberRow { team_id: team.id, user_id: alice.id, is_admin: false, added_at: Millis::now() };
    let err = store.put_team_member(b, &member, &audit("team.member.put", Some(b))).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "a user of enterprise A must not join a team of enterprise B");
    let err = store.put_team_member(a, &member, &audit("team.member.put", Some(a))).await.unwrap_err();
    assert!(matches!(err, Error::NotFound));
});

conformance!(team_membership_round_trips, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"u").await;
    let team =
        TeamRow { id: TeamId::new(), enterprise_id: e, name_ct: vec![1], archived: false, created_at: Millis::now() };
    store.create_team(&team, &audit("team.create", Some(e))).await.unwrap();
    let member = TeamMemberRow { team_id: team.id, user_id: u.id, is_admin: false, added_at: Millis::now() };
    store.put_team_member(e, &member, &audit("team.member.put", Some(e))).await.unwrap();
    store
        .put_team_member(e, &TeamMemberRow { is_admin: true, ..member.clone() }, &audit("team.member.put", Some(e)))
        .await
        .unwrap();
    let members = store.list_team_members(e, team.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert!(members[0].is_admin);
    assert_eq!(store.teams_of_user(e, u.id).await.unwrap().iter().map(|t| t.id).collect::<Vec<_>>(), [team.id]);
    let other = enterprise(&store).await;
    assert!(store.teams_of_user(other, u.id).await.unwrap().is_empty(), "wrong tenant");
    // The team's channel: leaving the team leaves it too, in the same step.
    let mut channel = conversations::conversation(e, domain::messaging::ConversationKind::Team, u.id, None);
    channel.team_id = Some(team.id);
    store
        .create_conversation(&channel, &[conversations::member(&channel, u.id)], &audit("conversation.create", Some(e)))
        .await
        .unwrap();
    let left = store.remove_team_member(e, team.id, u.id, &audit("team.member.remove", Some(e))).await.unwrap();
    assert_eq!(left, Some(channel.id));
    assert!(store.teams_of_user(e, u.id).await.unwrap().is_empty());
    assert!(store.list_members(e, channel.id).await.unwrap().is_empty());
    // Nor can they join it again while outside the team.
    let again = conversations::member(&channel, u.id);
    assert!(!store.add_member(e, &again, &audit("conversation.join", Some(e))).await.unwrap());
    store.put_team_member(e, &member, &audit("team.member.put", Some(e))).await.unwrap();
    assert!(store.add_member(e, &again, &audit("conversation.join", Some(e))).await.unwrap(), "back in the team");
    store.remove_team_member(e, team.id, u.id, &audit("team.member.remove", Some(e))).await.unwrap();
    assert!(store.list_team_members(e, team.id).await.unwrap().is_empty());
    let err = store.remove_team_member(e, team.id, u.id, &audit("team.member.remove", Some(e))).await.unwrap_err();
    assert!(matches!(err, Error::NotFound));
    store.set_team_archived(e, team.id, true, &audit("team.archive", Some(e))).await.unwrap();
    assert!(store.list_teams(e).await.unwrap()[0].archived);
});

conformance!(started_sign_ins_are_single_use_and_stale_ones_are_forgotten, |store| {
    let e = enterprise(&store).await;
    let now = Millis::now();
    let long_ago = Millis(now.0 - 2 * 3_600_000);
    store.create_oidc_login(b"old-state", e, b"sealed", long_ago).await.unwrap();
    store.create_oidc_login(b"new-state", e, b"sealed", now).await.unwrap();
    assert!(store.take_oidc_login(b"old-state").await.unwrap().is_none(), "a stale start is forgotten");
    let (got, sealed, _) = store.take_oidc_login(b"new-state").await.unwrap().unwrap();
    assert_eq!((got, sealed), (e, b"sealed".to_vec()));
    assert!(store.take_oidc_login(b"new-state").await.unwrap().is_none(), "a state is good once");
    store.create_saml_request("_old", e, long_ago).await.unwrap();
    store.create_saml_request("_new", e, now).await.unwrap();
    assert!(store.take_saml_request("_old").await.unwrap().is_none());
    assert_eq!(store.take_saml_request("_new").await.unwrap().map(|(got, _)| got), Some(e));
    assert!(store.take_saml_request("_new").await.unwrap().is_none());
});

conformance!(sessions_open_expire_and_end, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"u").await;
    let other = user(&store, e, b"other").await;
    let live = session_row(&u, b"token-live", later());
    let expired = session_row(&u, b"token-old", Millis(Millis::now().0 - 1));
    store.create_session(&live, &audit("auth.sign-in", Some(e))).await.unwrap();
    store.create_session(&expired, &audit("auth.sign-in", Some(e))).await.unwrap();
    let now = Millis::now();
    assert_eq!(store.session_by_token_hash(b"token-live", now).await.unwrap().unwrap().id, live.id);
    assert!(store.session_by_token_hash(b"token-old", now).await.unwrap().is_none());
    assert_eq!(store.list_sessions(e, u.id, now).await.unwrap().len(), 1);

    let touched = Millis(now.0 + 5_000);
    store.touch_session(live.id, touched).await.unwrap();
    assert_eq!(store.list_sessions(e, u.id, now).await.unwrap()[0].last_seen_at, touched);

    let err = store.end_session(e, other.id, live.id, "x", now, &audit("session.end", Some(e))).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "one user cannot end another's session by id");
    store.end_session(e, u.id, live.id, "sign-out", now, &audit("auth.sign-out", Some(e))).await.unwrap();
    assert!(store.session_by_token_hash(b"token-live", now).await.unwrap().is_none());
    let err = store.end_session(e, u.id, live.id, "again", now, &audit("auth.sign-out", Some(e))).await.unwrap_err();
    assert!(matches!(err, Error::NotFound));
});

conformance!(an_admin_ends_sessions_with_a_wipe_and_the_device_acknowledges_once, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"u").await;
    let (one, two) = (session_row(&u, b"wipe-1", later()), session_row(&u, b"wipe-2", later()));
    for s in [&one, &two] {
        store.create_session(s, &audit("auth.sign-in", Some(e))).await.unwrap();
    }
    let now = Millis::now();
    let other = enterprise(&store).await;
    let across = store
        .end_and_wipe_sessions(other, u.id, Some(one.id), "ended-by-admin", now, &audit("session.end", Some(other)))
        .await;
    assert!(matches!(across, Err(Error::NotFound)), "not from another tenant");
    let ended = store
        .end_and_wipe_sessions(e, u.id, Some(one.id), "ended-by-admin", now, &audit("session.end", Some(e)))
        .await
        .unwrap();
    assert_eq!(ended, [one.id]);
    assert!(store.session_principal(b"wipe-1", now).await.unwrap().is_none());
    assert_eq!(store.session_awaiting_wipe(b"wipe-1").await.unwrap().unwrap().id, one.id);
    assert!(store.session_awaiting_wipe(b"wipe-2").await.unwrap().is_none(), "an open session has nothing to erase");
    assert!(store.acknowledge_wipe(one.id, now, &audit("session.wipe-acknowledge", Some(e))).await.unwrap());
    assert!(!store.acknowledge_wipe(one.id, now, &audit("session.wipe-acknowledge", Some(e))).await.unwrap(), "once");
    assert!(store.session_awaiting_wipe(b"wipe-1").await.unwrap().is_none());
    let all = store
        .end_and_wipe_sessions(e, u.id, None, "ended-by-admin", now, &audit("session.end", Some(e)))
        .await
        .unwrap();
    assert_eq!(all, [two.id], "every open one, and only those");
    let wiped = store.wiped_sessions(e, u.id, Millis(now.0 - 1)).await.unwrap();
    assert_eq!(wiped.len(), 2);
    assert!(wiped.iter().any(|s| s.id == one.id && s.wipe_acknowledged_at == Some(now)));
    assert!(store.wiped_sessions(other, u.id, Millis(0)).await.unwrap().is_empty());
});

conformance!(elevation_locks_and_pins_are_kept_per_session_and_user, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let u = user(&store, e, b"u").await;
    let s = session_row(&u, b"t1", later());
    store.create_session(&s, &audit("auth.sign-in", Some(e))).await.unwrap();
    let t = Millis(s.active_at.0 + 60_000);
    // Elevation: set with an audit event (re-authentication) or without (an admin action slides it).
    store.set_session_elevation(s.id, t, Some(&audit("session.elevate", Some(e)))).await.unwrap();
    store.set_session_elevation(s.id, Millis(t.0 + 1), None).await.unwrap();
    let found = store.session_principal(b"t1", Millis::now()).await.unwrap().unwrap();
    assert_eq!(found.session.elevated_until, Some(Millis(t.0 + 1)));
    assert!(matches!(store.set_session_elevation(SessionId::new(), t, None).await, Err(store::Error::NotFound)));
    // Activity only moves forward, and carries presence with it.
    store.mark_session_active(s.id, t).await.unwrap();
    store.mark_session_active(s.id, Millis(t.0 - 5)).await.unwrap();
    let found = store.session_principal(b"t1", Millis::now()).await.unwrap().unwrap();
    assert_eq!((found.session.active_at, found.session.last_seen_at), (t, t));
    // A PIN: none, set, read back with its delay (and on the session's principal), other enterprise blind.
    assert_eq!(store.user_pin(e, u.id).await.unwrap(), None);
    let pin = store::UserPin { hash: "$argon2id$pin".into(), lock_after: 300 };
    store.set_user_pin(e, u.id, Some(&pin), &audit("user.pin.set", Some(e))).await.unwrap();
    assert_eq!(store.user_pin(e, u.id).await.unwrap(), Some(pin.clone()));
    assert_eq!(store.user_pin(other, u.id).await.unwrap(), None);
    assert!(matches!(
        store.set_user_pin(other, u.id, Some(&pin), &audit("user.pin.set", Some(other))).await,
        Err(store::Error::NotFound)
    ));
    assert_eq!(store.session_principal(b"t1", Millis::now()).await.unwrap().unwrap().pin_lock_after, Some(300));
    // Lock, count wrong PINs, unlock (which forgets them and counts as activity).
    let before = store.audit_count().await.unwrap();
    assert!(store.lock_session(s.id, t, &audit("session.lock", Some(e))).await.unwrap());
    assert!(!store.lock_session(s.id, Millis(t.0 + 5), &audit("session.lock", Some(e))).await.unwrap(), "once");
    assert_eq!(store.audit_count().await.unwrap(), before + 1, "the lock is recorded once");
    // Each attempt is counted before it is checked; a right one is released, a wrong one audited.
    assert_eq!(store.reserve_pin_attempt(s.id, 3).await.unwrap(), Some(1));
    store.release_pin_attempt(s.id).await.unwrap();
    assert_eq!(store.reserve_pin_attempt(s.id, 3).await.unwrap(), Some(1));
    assert_eq!(store.record_pin_failure(s.id, &audit("session.unlock", Some(e))).await.unwrap(), 1);
    assert_eq!(store.reserve_pin_attempt(s.id, 3).await.unwrap(), Some(2));
    assert_eq!(store.record_pin_failure(s.id, &audit("session.unlock", Some(e))).await.unwrap(), 2);
    assert_eq!(store.reserve_pin_attempt(s.id, 2).await.unwrap(), None, "at the limit nothing more is counted");
    let found = store.session_principal(b"t1", Millis::now()).await.unwrap().unwrap();
    assert_eq!((found.session.locked_at, found.session.pin_failures), (Some(t), 2));
    let later_on = Millis(t.0 + 1000);
    store.unlock_session(s.id, later_on, &audit("session.unlock", Some(e))).await.unwrap();
    let found = store.session_principal(b"t1", Millis::now()).await.unwrap().unwrap();
    assert_eq!((found.session.locked_at, found.session.pin_failures, found.session.active_at), (None, 0, later_on));
    store.set_user_pin(e, u.id, None, &audit("user.pin.remove", Some(e))).await.unwrap();
    assert_eq!(store.user_pin(e, u.id).await.unwrap(), None);
    assert_eq!(store.session_principal(b"t1", Millis::now()).await.unwrap().unwrap().pin_lock_after, None);
    // An ended session can be neither locked, counted nor unlocked.
    store.end_session(e, u.id, s.id, "sign-out", Millis::now(), &audit("auth.sign-out", Some(e))).await.unwrap();
    assert!(matches!(store.lock_session(s.id, t, &audit("session.lock", Some(e))).await, Err(store::Error::NotFound)));
    assert!(matches!(store.reserve_pin_attempt(s.id, 5).await, Err(store::Error::NotFound)));
    assert!(matches!(
        store.record_pin_failure(s.id, &audit("session.unlock", Some(e))).await,
        Err(store::Error::NotFound)
    ));
    assert!(matches!(
        store.unlock_session(s.id, t, &audit("session.unlock", Some(e))).await,
        Err(store::Error::NotFound)
    ));
});

conformance!(disabling_a_user_ends_their_sessions, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"u").await;
    store.create_session(&session_row(&u, b"t1", later()), &audit("auth.sign-in", Some(e))).await.unwrap();
    let found = store.session_principal(b"t1", Millis::now()).await.unwrap().unwrap();
    assert_eq!((found.session.user_id, found.roles, found.pin_lock_after), (u.id, Roles::of(Role::Member), None));
    store.set_user_disabled(e, u.id, true, Millis::now(), &audit("user.disable", Some(e))).await.unwrap();
    assert!(store.session_by_token_hash(b"t1", Millis::now()).await.unwrap().is_none());
    assert!(store.session_principal(b"t1", Millis::now()).await.unwrap().is_none());
    assert!(store.get_user(e, u.id).await.unwrap().unwrap().disabled);
});

conformance!(audit_events_form_a_linked_chain, |store| {
    let e = enterprise(&store).await;
    for i in 0..5 {
        store.append_audit(&audit(&format!("test.{i}"), Some(e))).await.unwrap();
    }
    let events = store.audit_page(0, 100).await.unwrap();
    assert_eq!(events.len(), 6);
    let mut prev = domain::audit::GENESIS_HASH;
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev.seq, i as i64 + 1);
        assert_eq!(ev.prev_hash, prev);
        assert_eq!(ev.hash, crypto::chain_hash(&ev.canonical_bytes()));
        prev = ev.hash;
    }
    assert_eq!(store.audit_page(3, 2).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 5]);
    let newest = store.enterprise_audit(e, &Default::default(), i64::MAX, 2).await.unwrap();
    assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6, 5]);
    assert!(store.enterprise_audit(EnterpriseId::new(), &Default::default(), i64::MAX, 10).await.unwrap().is_empty());
});

conformance!(audit_origins_are_stored_sealed_and_found_by_blind_index, |store| {
    // The fixture installed the sealer already; installing another later changes nothing.
    store.install_audit_sealer(std::sync::Arc::new(store_conformance::MarkingSealer));
    let e = enterprise(&store).await;
    for ip in ["192.0.2.7", "192.0.2.8", "198.51.100.1", "192.0.2.7"] {
        let mut draft = audit("user.create", Some(e));
        draft.origin = Origin { ip: Some(ip.into()), user_agent: Some("agent".into()) };
        store.append_audit(&draft).await.unwrap();
    }
    let all = store.enterprise_audit(e, &Default::default(), i64::MAX, 10).await.unwrap();
    assert_eq!(all.len(), 5, "the enterprise's creation and the four events");
    for ev in &all {
        assert_eq!(ev.draft.origin, Origin::default(), "no clear origin is stored");
        assert_eq!(ev.hash, crypto::chain_hash(&ev.canonical_bytes()), "the chain covers the stored bytes");
    }
    let sealed = all[0].sealed_origin.clone().unwrap();
    assert_eq!(sealed.ip_ct.as_deref(), Some(&b"sealed:192.0.2.7"[..]));
    assert_eq!(sealed.user_agent_ct.as_deref(), Some(&b"sealed:agent"[..]));
    assert_eq!(sealed.key_id, "test");
    let made = {
        use store::AuditSealer as _;
        let origin = Origin { ip: Some("192.0.2.7".into()), user_agent: Some("agent".into()) };
        store_conformance::MarkingSealer.seal_origin(Some(e), all[0].seq, &origin)
    };
    assert_eq!(sealed, made, "the store keeps exactly what the sealer made");

    let by_ip = store::AuditFilter { ip_index: Some(b"ip:192.0.2.7".to_vec()), network_index: None };
    let found = store.enterprise_audit(e, &by_ip, i64::MAX, 10).await.unwrap();
    assert_eq!(found.iter().map(|ev| ev.seq).collect::<Vec<_>>(), vec![all[0].seq, all[3].seq]);
    let by_network = store::AuditFilter { ip_index: None, network_index: Some(b"net:192.0.2".to_vec()) };
    assert_eq!(store.enterprise_audit(e, &by_network, i64::MAX, 10).await.unwrap().len(), 3);
    let paged = store.enterprise_audit(e, &by_network, all[0].seq, 1).await.unwrap();
    assert_eq!(paged.iter().map(|ev| ev.seq).collect::<Vec<_>>(), vec![all[2].seq]);
    assert!(store.enterprise_audit(EnterpriseId::new(), &by_ip, i64::MAX, 10).await.unwrap().is_empty());
});

conformance!(concurrent_appends_keep_the_chain_linear, |store| {
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.append_audit(&audit(&format!("race.{i}"), None)).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = store.audit_page(0, 100).await.unwrap();
    assert_eq!(events.len(), 24);
    for pair in events.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
});

conformance!(key_rewrapping_is_compare_and_swap, |store| {
    let row = KeyRow {
        id: "blind-index".into(),
        enterprise_id: None,
        master_key_id: "mk-a".into(),
        wrapped: vec![1; 60],
        created_at: Millis::now(),
        rotated_at: None,
    };
    store.create_key(&row, &audit("key.create", None)).await.unwrap();
    assert!(matches!(store.create_key(&row, &audit("key.create", None)).await.unwrap_err(), Error::Conflict(_)));
    assert!(store.rewrap_key("blind-index", "mk-a", "mk-b", &[2; 60], Millis::now()).await.unwrap());
    assert!(
        !store.rewrap_key("blind-index", "mk-a", "mk-c", &[3; 60], Millis::now()).await.unwrap(),
        "a stale rotation must not overwrite"
    );
    let got = store.get_key("blind-index").await.unwrap().unwrap();
    assert_eq!((got.master_key_id.as_str(), got.wrapped), ("mk-b", vec![2; 60]));
    assert!(got.rotated_at.is_some());
    assert_eq!(store.list_keys().await.unwrap().len(), 1);
});

conformance!(migrations_are_applied_and_reported, |store| {
    assert_eq!(store.applied_migrations().await.unwrap(), store.known_migrations());
    store.ping().await.unwrap();
});

#[test]
fn both_backends_have_the_same_migration_versions() {
    let sqlite: Vec<(i64, &str)> = store_sqlite::MIGRATIONS.iter().map(|m| (m.version, m.name)).collect();
    let postgres: Vec<(i64, &str)> = store_postgres::MIGRATIONS.iter().map(|m| (m.version, m.name)).collect();
    assert_eq!(sqlite, postgres);
}

#[tokio::test]
async fn two_postgres_nodes_migrating_at_once_both_succeed() {
    let schema = store_conformance::unique_schema("migrate_race");
    let url = store_conformance::postgres_url();
    // The schema exists before the race, as a real database does; the race is over migrations.
    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.unwrap();
    }
    let (a, b) = tokio::join!(
        store_postgres::connect_in_schema(&url, Some(&schema)),
        store_postgres::connect_in_schema(&url, Some(&schema)),
    );
    match (a, b) {
        (Ok(a), Ok(b)) => {
            use store::Health as _;
            assert_eq!(a.applied_migrations().await.unwrap(), b.applied_migrations().await.unwrap());
            a.close().await;
            b.close().await;
            store_conformance::drop_schema(&schema);
        }
        (Err(e), _) | (_, Err(e)) => {
            let _: Option<()> = test_support::skip_unless_ci("PostgreSQL", e);
        }
    }
}

mod conversations {
    use super::*;
    use domain::messaging::{direct_key, ConversationKind, MemberRole};
    use domain::{ConversationId, MessageId};
    use store::{ConversationMemberRow, ConversationRow};

    pub fn conversation(e: EnterpriseId, kind: ConversationKind, by: UserId, key: Option<String>) -> ConversationRow {
        ConversationRow {
            id: ConversationId::new(),
            enterprise_id: e,
            kind,
            team_id: None,
            direct_key: key,
            title_ct: None,
            created_by: by,
            created_at: Millis::now(),
            last_seq: 0,
            default_policy_id: None,
        }
    }

    pub fn member(c: &ConversationRow, u: UserId) -> ConversationMemberRow {
        ConversationMemberRow {
            conversation_id: c.id,
            user_id: u,
            role: MemberRole::Member,
            joined_at: Millis::now(),
            last_read_seq: 0,
            muted: false,
        }
    }

    pub fn message(c: &ConversationRow, sender: UserId) -> MessageRow {
        MessageRow {
            id: MessageId::new(),
            conversation_id: c.id,
            seq: 0,
            sender_id: sender,
            body_ct: Some(vec![8; 40]),
            created_at: Millis::now(),
            edited_at: None,
            deleted_at: None,
            attachment: None,
            thread_root_id: None,
            control: None,
            forward: None,
            removed: None,
        }
    }

    /// A direct conversation between two new users of a new enterprise.
    pub async fn pair(store: &Arc<dyn Store>) -> (EnterpriseId, UserRow, UserRow, ConversationRow) {
        let e = enterprise(store).await;
        let a = user(store, e, b"a").await;
        let b = user(store, e, b"b").await;
        let c = conversation(e, ConversationKind::Direct, a.id, Some(direct_key(a.id, b.id)));
        store
            .create_conversation(&c, &[member(&c, a.id), member(&c, b.id)], &audit("conversation.create", Some(e)))
            .await
            .unwrap();
        (e, a, b, c)
    }
}

use conversations::{conversation, member, message, pair};

conformance!(direct_conversations_are_unique_per_pair, |store| {
    let (e, a, b, c) = pair(&store).await;
    let key = domain::messaging::direct_key(b.id, a.id);
    assert_eq!(store.find_direct(e, &key).await.unwrap().unwrap().id, c.id);
    let again = conversation(e, domain::messaging::ConversationKind::Direct, b.id, Some(key));
    let err = store
        .create_conversation(&again, &[member(&again, a.id), member(&again, b.id)], &audit("x", Some(e)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(store.list_conversations(e, a.id).await.unwrap().len(), 1);
    assert_eq!(store.list_members(e, c.id).await.unwrap().len(), 2);
});

conformance!(members_from_another_enterprise_are_refused_and_nothing_is_written, |store| {
    let (e, a, _, _) = pair(&store).await;
    let other = enterprise(&store).await;
    let stranger = user(&store, other, b"s").await;
    let events = store.audit_count().await.unwrap();
    let g = conversation(e, domain::messaging::ConversationKind::Group, a.id, None);
    let err = store
        .create_conversation(&g, &[member(&g, a.id), member(&g, stranger.id)], &audit("x", Some(e)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    assert!(store.conversation_for_member(e, g.id, a.id).await.unwrap().is_none(), "the conversation row rolled back");
    assert_eq!(store.audit_count().await.unwrap(), events);
});

conformance!(messages_get_sequence_numbers_and_only_members_may_append, |store| {
    let (e, a, b, c) = pair(&store).await;
    let first = store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap().0;
    let second = store.append_message(e, &message(&c, b.id), &MessageIndex::default()).await.unwrap().0;
    assert_eq!((first.seq, second.seq), (1, 2));
    let outsider = user(&store, e, b"outsider").await;
    assert!(matches!(
        store.append_message(e, &message(&c, outsider.id), &MessageIndex::default()).await,
        Err(Error::NotFound)
    ));
    let other = enterprise(&store).await;
    assert!(
        matches!(store.append_message(other, &message(&c, a.id), &MessageIndex::default()).await, Err(Error::NotFound)),
        "wrong tenant"
    );
    assert!(store.conversation_for_member(e, c.id, outsider.id).await.unwrap().is_none());
    // Sending moves the sender's receipt to the message sent, never back.
    let (conv, me) = store.conversation_for_member(e, c.id, a.id).await.unwrap().unwrap();
    assert_eq!((conv.last_seq, me.last_read_seq), (2, 1));
    assert_eq!(store.conversation_for_member(e, c.id, b.id).await.unwrap().unwrap().1.last_read_seq, 2);
    assert_eq!(store.list_messages(e, c.id, MessagePage::After(0), 10).await.unwrap().len(), 2);
});

conformance!(reactions_are_once_per_person_bounded_and_leave_with_their_message, |store| {
    let (e, a, b, c) = pair(&store).await;
    let m = store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap().0;
    let add = |at| ReactionChange::Add { max_distinct: 2, at: Millis(at) };
    store.set_reaction(e, c.id, m.id, a.id, "👍", add(1)).await.unwrap();
    store.set_reaction(e, c.id, m.id, a.id, "👍", add(2)).await.unwrap();
    let rows = store.set_reaction(e, c.id, m.id, b.id, "👍", add(3)).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.user_id).collect::<Vec<_>>(), [a.id, b.id], "once per person");
    store.set_reaction(e, c.id, m.id, b.id, "🎉", add(4)).await.unwrap();
    let err = store.set_reaction(e, c.id, m.id, b.id, "🔥", add(5)).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let rows = store.set_reaction(e, c.id, m.id, a.id, "👍", ReactionChange::Remove).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(store.reactions(e, c.id, &[m.id]).await.unwrap().len(), 2);
    store.delete_message(e, c.id, m.id, a.id, Millis(7)).await.unwrap();
    assert!(store.reactions(e, c.id, &[m.id]).await.unwrap().is_empty());
    assert!(matches!(store.set_reaction(e, c.id, m.id, b.id, "👍", add(8)).await, Err(Error::NotFound)));
});

conformance!(unread_counts_skip_your_own_and_deleted_messages, |store| {
    let (e, a, b, c) = pair(&store).await;
    let mut from_b = Vec::new();
    for _ in 0..3 {
        from_b.push(store.append_message(e, &message(&c, b.id), &MessageIndex::default()).await.unwrap().0);
    }
    store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap();
    // a's own message moved a's receipt past b's three: nothing unread for either.
    assert!(store.unread_counts(e, a.id, None).await.unwrap().is_empty());
    let more = store.append_message(e, &message(&c, b.id), &MessageIndex::default()).await.unwrap().0;
    store.append_message(e, &message(&c, b.id), &MessageIndex::default()).await.unwrap();
    let unread = |n| store::UnreadCount { conversation: c.id, unread: n, mentions: 0, everyone_mentions: 0 };
    assert_eq!(store.unread_counts(e, a.id, None).await.unwrap(), [unread(2)]);
    store.delete_message(e, c.id, more.id, b.id, Millis(5)).await.unwrap();
    assert_eq!(store.unread_counts(e, a.id, Some(c.id)).await.unwrap(), [unread(1)]);
    assert!(store.unread_counts(e, b.id, None).await.unwrap().is_empty());
    let other = enterprise(&store).await;
    assert!(store.unread_counts(other, a.id, None).await.unwrap().is_empty(), "wrong tenant");
});

conformance!(mentions_count_while_unread_and_follow_edits_and_deletes, |store| {
    let (e, a, b, c) = pair(&store).await;
    let named = [a.id];
    let to_a = MessageIndex { mentioned: &named, ..Default::default() };
    let to_all = MessageIndex { everyone: true, ..Default::default() };
    let m1 = store.append_message(e, &message(&c, b.id), &to_a).await.unwrap().0;
    let m2 = store.append_message(e, &message(&c, b.id), &to_all).await.unwrap().0;
    store.append_message(e, &message(&c, b.id), &MessageIndex::default()).await.unwrap();
    let counts = store.unread_counts(e, a.id, None).await.unwrap();
    assert_eq!(counts, [store::UnreadCount { conversation: c.id, unread: 3, mentions: 1, everyone_mentions: 1 }]);
    // An edit replaces whom the message names; a delete forgets it.
    let plain = MessageEdit { body_ct: &[1], index: MessageIndex::default(), at: Millis(9) };
    store.edit_message(e, c.id, m1.id, b.id, &plain).await.unwrap();
    store.delete_message(e, c.id, m2.id, b.id, Millis(10)).await.unwrap();
    let counts = store.unread_counts(e, a.id, None).await.unwrap();
    assert_eq!(counts, [store::UnreadCount { conversation: c.id, unread: 2, mentions: 0, everyone_mentions: 0 }]);
    let again = MessageEdit { body_ct: &[1], index: to_a, at: Millis(11) };
    store.edit_message(e, c.id, m1.id, b.id, &again).await.unwrap();
    assert_eq!(store.unread_counts(e, a.id, None).await.unwrap()[0].mentions, 1);
    // Reading past them clears them.
    store.mark_read(e, c.id, a.id, 100).await.unwrap();
    assert!(store.unread_counts(e, a.id, None).await.unwrap().is_empty());
});

conformance!(a_member_mutes_a_conversation_for_themselves_only, |store| {
    let (e, a, b, c) = pair(&store).await;
    assert!(store.set_muted(e, c.id, a.id, true).await.unwrap());
    let muted = |u: UserId| {
        let store = store.clone();
        async move { store.conversation_for_member(e, c.id, u).await.unwrap().unwrap().1.muted }
    };
    assert!(muted(a.id).await);
    assert!(!muted(b.id).await, "only for the one who muted");
    assert!(store.set_muted(e, c.id, a.id, false).await.unwrap());
    assert!(!muted(a.id).await);
    let stranger = user(&store, e, b"stranger").await;
    assert!(!store.set_muted(e, c.id, stranger.id, true).await.unwrap(), "not a member");
    let other = enterprise(&store).await;
    assert!(!store.set_muted(other, c.id, a.id, true).await.unwrap(), "wrong tenant");
    assert!(!muted(a.id).await);
});

conformance!(concurrent_appends_get_distinct_contiguous_sequence_numbers, |store| {
    let (e, a, _, c) = pair(&store).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, m) = (store.clone(), message(&c, a.id));
        tasks.push(tokio::spawn(
            async move { store.append_message(e, &m, &MessageIndex::default()).await.unwrap().0.seq },
        ));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
});

conformance!(only_the_sender_edits_or_deletes_and_deletion_destroys_the_body, |store| {
    let (e, a, b, c) = pair(&store).await;
    let m = store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap().0;
    assert!(matches!(
        store
            .edit_message(
                e,
                c.id,
                m.id,
                b.id,
                &MessageEdit { body_ct: &[1], index: MessageIndex::default(), at: Millis::now() }
            )
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(store.delete_message(e, c.id, m.id, b.id, Millis::now()).await, Err(Error::NotFound)));
    let edited = store
        .edit_message(
            e,
            c.id,
            m.id,
            a.id,
            &MessageEdit { body_ct: &[9; 10], index: MessageIndex::default(), at: Millis::now() },
        )
        .await
        .unwrap();
    assert_eq!(edited.body_ct, Some(vec![9; 10]));
    assert!(edited.edited_at.is_some());
    let deleted = store.delete_message(e, c.id, m.id, a.id, Millis::now()).await.unwrap();
    assert_eq!(deleted.body_ct, None);
    assert!(deleted.deleted_at.is_some());
    assert!(matches!(
        store
            .edit_message(
                e,
                c.id,
                m.id,
                a.id,
                &MessageEdit { body_ct: &[1], index: MessageIndex::default(), at: Millis::now() }
            )
            .await,
        Err(Error::NotFound)
    ));
    let stored = store.list_messages(e, c.id, MessagePage::After(0), 10).await.unwrap();
    assert_eq!(stored[0].body_ct, None, "the ciphertext is gone from the row");
});

conformance!(history_pages_both_ways, |store| {
    let (e, a, _, c) = pair(&store).await;
    for _ in 0..5 {
        store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap();
    }
    let seqs = |v: Vec<MessageRow>| v.into_iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.list_messages(e, c.id, MessagePage::Before(i64::MAX), 2).await.unwrap()), vec![5, 4]);
    assert_eq!(seqs(store.list_messages(e, c.id, MessagePage::Before(4), 2).await.unwrap()), vec![3, 2]);
    assert_eq!(seqs(store.list_messages(e, c.id, MessagePage::After(3), 10).await.unwrap()), vec![4, 5]);
});

conformance!(read_receipts_only_move_forward_and_stop_at_the_newest, |store| {
    let (e, a, b, c) = pair(&store).await;
    for _ in 0..3 {
        store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap();
    }
    assert_eq!(store.mark_read(e, c.id, b.id, 2).await.unwrap(), 2);
    assert_eq!(store.mark_read(e, c.id, b.id, 1).await.unwrap(), 2, "never lowered");
    assert_eq!(store.mark_read(e, c.id, b.id, 99).await.unwrap(), 3, "never past the newest");
    let outsider = user(&store, e, b"o").await;
    assert!(matches!(store.mark_read(e, c.id, outsider.id, 1).await, Err(Error::NotFound)));
});

conformance!(attachments_ride_on_messages_and_vanish_with_them, |store| {
    let (e, a, _, c) = pair(&store).await;
    let attachment = store::AttachmentMeta {
        id: domain::AttachmentId::new(),
        name_ct: vec![3; 20],
        content_type: "image/png".into(),
        size: 1234,
        thumbnail: Some(store::Thumbnail {
            id: domain::AttachmentId::new(),
            content_type: "image/png".into(),
            width: 640,
            height: 427,
        }),
    };
    let sent = store
        .append_message(
            e,
            &MessageRow { attachment: Some(attachment.clone()), ..message(&c, a.id) },
            &MessageIndex::default(),
        )
        .await
        .unwrap()
        .0;
    assert_eq!(sent.attachment.as_ref(), Some(&attachment));
    let found = store.get_attachment(e, c.id, attachment.id).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].attachment, Some(attachment.clone()));
    let (_, _, _, other) = pair(&store).await;
    assert!(
        store.get_attachment(e, other.id, attachment.id).await.unwrap().is_empty(),
        "not through another conversation"
    );
    store.delete_message(e, c.id, sent.id, a.id, Millis::now()).await.unwrap();
    assert!(store.get_attachment(e, c.id, attachment.id).await.unwrap().is_empty());
    let listed = store.list_messages(e, c.id, MessagePage::After(0), 10).await.unwrap();
    assert_eq!(listed[0].attachment.as_ref().map(|a| a.name_ct.len()), Some(0), "the sealed name is destroyed");
});

conformance!(members_are_removed_once_within_their_tenant, |store| {
    let (e, a, b, c) = pair(&store).await;
    let other = enterprise(&store).await;
    let events = store.audit_count().await.unwrap();
    assert!(!store.remove_member(other, c.id, b.id, &audit("x", Some(other))).await.unwrap(), "wrong tenant");
    assert_eq!(store.audit_count().await.unwrap(), events);
    assert!(store.remove_member(e, c.id, b.id, &audit("conversation.remove-member", Some(e))).await.unwrap());
    assert_eq!(store.audit_count().await.unwrap(), events + 1);
    assert!(!store.remove_member(e, c.id, b.id, &audit("x", Some(e))).await.unwrap(), "already gone");
    assert_eq!(store.audit_count().await.unwrap(), events + 1);
    assert!(store.conversation_for_member(e, c.id, b.id).await.unwrap().is_none());
    assert!(matches!(
        store.append_message(e, &message(&c, b.id), &MessageIndex::default()).await,
        Err(Error::NotFound)
    ));
    assert!(store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.is_ok());
});

mod desk_rows {
    use super::*;
    use domain::desk::ReportState;
    use store::{DeskKeyRow, ReportAuthor, ReportMessageRow, ReportRow};

    pub fn key(e: EnterpriseId, fingerprint: &str) -> DeskKeyRow {
        DeskKeyRow {
            fingerprint: fingerprint.into(),
            enterprise_id: e,
            key_id: fingerprint[24..].into(),
            algorithm: "ed25519".into(),
            algorithm_id: 22,
            bits: 256,
            user_ids: "[\"S <s@e.example>\"]".into(),
            secret_ct: vec![1; 40],
            public_armored: "-----BEGIN PGP PUBLIC KEY BLOCK-----".into(),
            public_binary: vec![2; 30],
            created_at: 1_790_000_000,
            expires_at: Some(1_800_000_000),
            added_at: Millis::now(),
            active: true,
            retired_at: None,
        }
    }

    pub fn report(e: EnterpriseId, lookup: &[u8]) -> ReportRow {
        ReportRow {
            id: domain::ReportId::new(),
            enterprise_id: e,
            receipt_lookup: lookup.to_vec(),
            receipt_hash: "$argon2id$x".into(),
            state: ReportState::New,
            content_ct: vec![5; 50],
            was_encrypted: false,
            finder_name_ct: Some(vec![6; 20]),
            finder_email_ct: Some(vec![8; 20]),
            email_token_hash: Some(lookup.iter().rev().copied().collect()),
            email_verified_at: None,
            finder_ip_ct: None,
            credit: true,
            created_at: Millis::now(),
            updated_at: Millis::now(),
            closed_at: None,
            purged_at: None,
            last_seq: 0,
            assignee: None,
            cvss_v3: None,
            cvss_v4: None,
            duplicate_of: None,
            first_response_at: None,
        }
    }

    /// A state change by the team (or the finder, with `by` = None).
    pub fn moved(
        r: &ReportRow,
        from: ReportState,
        to: ReportState,
        at: Millis,
        by: Option<domain::UserId>,
    ) -> store::ReportTransitionRow {
        store::ReportTransitionRow {
            report_id: r.id,
            seq: 0,
            from,
            to,
            actor: by.map_or(ReportAuthor::Finder, ReportAuthor::Team),
            at,
            duplicate_of: None,
        }
    }

    pub fn message(r: &ReportRow, author: ReportAuthor) -> ReportMessageRow {
        ReportMessageRow {
            id: domain::ReportMessageId::new(),
            report_id: r.id,
            seq: 0,
            author,
            body_ct: vec![7; 30],
            created_at: Millis::now(),
        }
    }
}

conformance!(desk_keys_rotate_with_one_active_key_per_enterprise, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let first = desk_rows::key(e, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1");
    store.add_desk_key(&first, &audit("desk.key.generate", Some(e))).await.unwrap();
    store
        .add_desk_key(&desk_rows::key(other, "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC3"), &audit("x", Some(other)))
        .await
        .unwrap();
    let second = desk_rows::key(e, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2");
    store.add_desk_key(&second, &audit("desk.key.generate", Some(e))).await.unwrap();
    let keys = store.desk_keys(e).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys.iter().filter(|k| k.active).map(|k| k.fingerprint.as_str()).collect::<Vec<_>>(),
        [second.fingerprint.as_str()]
    );
    assert!(keys.iter().find(|k| k.fingerprint == first.fingerprint).unwrap().retired_at.is_some());
    assert!(store.desk_keys(other).await.unwrap()[0].active, "other enterprises' keys are untouched");
    let events = store.audit_count().await.unwrap();
    let err = store.add_desk_key(&second, &audit("x", Some(e))).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(store.audit_count().await.unwrap(), events);
    assert_eq!(store.desk_keys(e).await.unwrap().iter().filter(|k| k.active).count(), 1, "the failed add rolled back");
});

conformance!(reports_are_found_by_lookup_and_threads_get_sequence_numbers, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let r = desk_rows::report(e, b"lookup-1");
    store.create_report(&r, &[], &audit("desk.report.submit", Some(e))).await.unwrap();
    assert_eq!(store.report_by_lookup(b"lookup-1").await.unwrap().unwrap(), r);
    assert!(store.report_by_lookup(b"lookup-2").await.unwrap().is_none());
    assert!(store.get_report(other, r.id).await.unwrap().is_none(), "tenant filter");
    let dup = desk_rows::report(e, b"lookup-1");
    assert!(matches!(store.create_report(&dup, &[], &audit("x", Some(e))).await, Err(Error::Conflict(_))));
    let team = user(&store, e, b"sec").await;
    let a = store
        .append_report_message(e, &desk_rows::message(&r, store::ReportAuthor::Finder), &audit("x", Some(e)))
        .await
        .unwrap();
    let b = store
        .append_report_message(e, &desk_rows::message(&r, store::ReportAuthor::Team(team.id)), &audit("x", Some(e)))
        .await
        .unwrap();
    assert_eq!((a.seq, b.seq), (1, 2));
    let thread = store.report_messages(e, r.id).await.unwrap();
    assert_eq!(
        thread.iter().map(|m| m.author).collect::<Vec<_>>(),
        [store::ReportAuthor::Finder, store::ReportAuthor::Team(team.id)]
    );
    assert_eq!(store.get_report(e, r.id).await.unwrap().unwrap().last_seq, 2);
    let missing = desk_rows::report(e, b"never-stored");
    assert!(matches!(
        store
            .append_report_message(e, &desk_rows::message(&missing, store::ReportAuthor::Finder), &audit("x", Some(e)))
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(store.list_reports(e).await.unwrap().len(), 1);
});

conformance!(report_emails_verify_once_states_close_and_retention_purges_contact_data, |store| {
    let e = enterprise(&store).await;
    let mut r = desk_rows::report(e, b"lookup-9");
    r.credit = false;
    store.create_report(&r, &[], &audit("desk.report.submit", Some(e))).await.unwrap();
    let token: Vec<u8> = b"lookup-9".iter().rev().copied().collect();
    let events = store.audit_count().await.unwrap();
    let epoch = Millis(0);
    assert!(store.verify_report_email(b"wrong", Millis::now(), epoch, &audit("x", Some(e))).await.unwrap().is_none());
    assert_eq!(store.audit_count().await.unwrap(), events);
    // A link older than the window (the report was made before `made_after`) has expired.
    let later = Millis(Millis::now().0 + 60_000);
    assert!(store.verify_report_email(&token, Millis::now(), later, &audit("x", Some(e))).await.unwrap().is_none());
    assert_eq!(store.audit_count().await.unwrap(), events);
    let verified =
        store.verify_report_email(&token, Millis::now(), epoch, &audit("x", Some(e))).await.unwrap().unwrap();
    assert!(verified.email_verified_at.is_some() && verified.email_token_hash.is_none());
    assert!(
        store.verify_report_email(&token, Millis::now(), epoch, &audit("x", Some(e))).await.unwrap().is_none(),
        "once"
    );

    store.set_report_access_token(e, r.id, b"access-1").await.unwrap();
    assert_eq!(store.report_by_access_token(b"access-1").await.unwrap().unwrap().id, r.id);
    store.set_report_access_token(e, r.id, b"access-2").await.unwrap();
    assert!(store.report_by_access_token(b"access-1").await.unwrap().is_none(), "a new link replaces the old");

    let other = enterprise(&store).await;
    let t = Millis::now();
    use domain::desk::ReportState as S;
    assert!(store
        .set_report_state(other, &desk_rows::moved(&r, S::New, S::Closed, t, None), &audit("x", Some(other)))
        .await
        .unwrap()
        .is_none());
    let closed = store
        .set_report_state(e, &desk_rows::moved(&r, S::New, S::Closed, t, None), &audit("x", Some(e)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.closed_at, Some(t));
    let reopened = store
        .set_report_state(e, &desk_rows::moved(&r, S::Closed, S::Triaging, t, None), &audit("x", Some(e)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reopened.closed_at, None);
    store
        .set_report_state(
            e,
            &desk_rows::moved(&r, S::Triaging, S::Spam, Millis(t.0 - 10_000), None),
            &audit("x", Some(e)),
        )
        .await
        .unwrap();
    let purge = audit("desk.report.purge", Some(e));
    let events = store.audit_count().await.unwrap();
    assert_eq!(store.purge_finder_data(e, Millis(t.0 - 20_000), t, &purge).await.unwrap(), 0, "not yet past retention");
    assert_eq!(store.audit_count().await.unwrap(), events, "a purge of nothing is not an event");
    let other = enterprise(&store).await;
    assert_eq!(store.purge_finder_data(other, Millis(t.0), t, &purge).await.unwrap(), 0, "another tenant's purge");
    assert_eq!(store.purge_finder_data(e, Millis(t.0), t, &purge).await.unwrap(), 1);
    let purged = store.get_report(e, r.id).await.unwrap().unwrap();
    assert_eq!((purged.finder_email_ct, purged.finder_name_ct, purged.purged_at), (None, None, Some(t)));
    assert!(store.report_by_access_token(b"access-2").await.unwrap().is_none());
    assert_eq!(store.purge_finder_data(e, Millis(t.0), t, &purge).await.unwrap(), 0, "purged once");
});

conformance!(message_rows_answer_only_inside_their_enterprise, |store| {
    let (e, a, b, c) = pair(&store).await;
    let m = store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap().0;
    let add = ReactionChange::Add { max_distinct: 5, at: Millis(1) };
    store.set_reaction(e, c.id, m.id, a.id, "👍", add).await.unwrap();
    // The right ids under another enterprise: nothing is read, nothing is changed.
    let other = enterprise(&store).await;
    assert!(store.list_members(other, c.id).await.unwrap().is_empty());
    assert!(store.list_messages(other, c.id, MessagePage::After(0), 10).await.unwrap().is_empty());
    assert!(store.get_message(other, c.id, m.id).await.unwrap().is_none());
    assert!(store.reactions(other, c.id, &[m.id]).await.unwrap().is_empty());
    assert!(matches!(store.set_reaction(other, c.id, m.id, b.id, "🎉", add).await, Err(Error::NotFound)));
    assert!(matches!(store.mark_read(other, c.id, b.id, 1).await, Err(Error::NotFound)));
    assert!(matches!(
        store
            .edit_message(
                other,
                c.id,
                m.id,
                a.id,
                &MessageEdit { body_ct: &[1], index: MessageIndex::default(), at: Millis(2) }
            )
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(store.delete_message(other, c.id, m.id, a.id, Millis(3)).await, Err(Error::NotFound)));
    let kept = store.get_message(e, c.id, m.id).await.unwrap().unwrap();
    assert_eq!((kept.body_ct, kept.edited_at, kept.deleted_at), (m.body_ct, None, None));
    assert_eq!(store.reactions(e, c.id, &[m.id]).await.unwrap().len(), 1);
    assert_eq!(store.list_members(e, c.id).await.unwrap().len(), 2);
});

conformance!(search_finds_messages_holding_every_token_in_conversations_you_are_in, |store| {
    let (e, a, b, c) = pair(&store).await;
    let (zebra, report, other_word) = (vec![1u8; 16], vec![2u8; 16], vec![3u8; 16]);
    let first = store
        .append_message(
            e,
            &MessageRow { created_at: Millis(1_000), ..message(&c, a.id) },
            &MessageIndex { words: &[zebra.clone(), report.clone()], ..Default::default() },
        )
        .await
        .unwrap()
        .0;
    let second = store
        .append_message(
            e,
            &MessageRow { created_at: Millis(2_000), ..message(&c, b.id) },
            &MessageIndex { words: std::slice::from_ref(&zebra), ..Default::default() },
        )
        .await
        .unwrap()
        .0;
    let ids = |rows: Vec<MessageRow>| rows.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let all = store::SearchFilter::default();
    let found = |words: Vec<Vec<u8>>, filter: store::SearchFilter| {
        let store = store.clone();
        async move { ids(store.search_messages(e, a.id, &words, &filter, 10).await.unwrap()) }
    };
    assert_eq!(found(vec![zebra.clone()], all.clone()).await, [second.id, first.id], "newest first");
    assert_eq!(found(vec![zebra.clone(), report.clone()], all.clone()).await, [first.id], "every word");
    assert!(found(vec![other_word.clone()], all.clone()).await.is_empty());
    assert!(found(vec![], all.clone()).await.is_empty());
    let by_b = store::SearchFilter { sender: Some(b.id), ..all.clone() };
    assert_eq!(found(vec![zebra.clone()], by_b).await, [second.id]);
    let window = store::SearchFilter { after: Some(Millis(1_500)), before: Some(Millis(2_500)), ..all.clone() };
    assert_eq!(found(vec![zebra.clone()], window).await, [second.id]);
    assert!(found(vec![zebra.clone()], store::SearchFilter { has_file: true, ..all.clone() }).await.is_empty());
    let elsewhere = store::SearchFilter { conversation: Some(domain::ConversationId::new()), ..all.clone() };
    assert!(found(vec![zebra.clone()], elsewhere).await.is_empty());
    assert_eq!(
        store.search_messages(e, b.id, std::slice::from_ref(&zebra), &all, 1).await.unwrap().len(),
        1,
        "the limit holds"
    );
    // Outsiders, other tenants, edits and deletions.
    let outsider = user(&store, e, b"outsider").await;
    assert!(store.search_messages(e, outsider.id, std::slice::from_ref(&zebra), &all, 10).await.unwrap().is_empty());
    let other = enterprise(&store).await;
    assert!(store.search_messages(other, a.id, std::slice::from_ref(&zebra), &all, 10).await.unwrap().is_empty());
    let edit = MessageEdit {
        body_ct: &[9; 10],
        index: MessageIndex { words: std::slice::from_ref(&other_word), ..Default::default() },
        at: Millis(3_000),
    };
    store.edit_message(e, c.id, first.id, a.id, &edit).await.unwrap();
    assert_eq!(found(vec![zebra.clone()], all.clone()).await, [second.id], "the edit replaced the words");
    assert_eq!(found(vec![other_word.clone()], all.clone()).await, [first.id]);
    store.delete_message(e, c.id, second.id, b.id, Millis(4_000)).await.unwrap();
    assert!(found(vec![zebra.clone()], all.clone()).await.is_empty(), "a deleted message is not found");
    // Leaving the conversation ends finding its messages.
    store.remove_member(e, c.id, a.id, &audit("conversation.leave", Some(e))).await.unwrap();
    assert!(found(vec![other_word], all).await.is_empty());
});

conformance!(search_intersects_words_of_every_density_the_same_way, |store| {
    // Eighty messages: `dense` is in all of them, `sparse` in two in twenty, `often` in one in ten,
    // and the two meet in half of `sparse`'s. On PostgreSQL `often` is merged with `sparse` (as
    // dense) and `dense` is probed (ten times as dense): whichever way a word is intersected, the
    // answer is the one worked out here from the messages. Two more messages share a time, one
    // with each of `sparse` and `often`: they must not count as one message holding both.
    let (e, a, b, c) = pair(&store).await;
    let (dense, sparse, often) = (vec![7u8; 16], vec![8u8; 16], vec![9u8; 16]);
    let mut sent = Vec::new();
    let send = |at: i64, sender: UserId, words: Vec<Vec<u8>>| {
        let store = store.clone();
        let row = MessageRow { created_at: Millis(at), ..message(&c, sender) };
        async move {
            let m =
                store.append_message(e, &row, &MessageIndex { words: &words, ..Default::default() }).await.unwrap().0;
            (m.id, at, sender, words)
        }
    };
    for k in 0..80i64 {
        let mut words = vec![dense.clone()];
        if k % 20 == 0 || k % 20 == 7 {
            words.push(sparse.clone());
        }
        if k % 10 == 0 {
            words.push(often.clone());
        }
        sent.push(send(1_000 * (k + 1), if k % 40 == 0 { a.id } else { b.id }, words).await);
    }
    sent.push(send(500, a.id, vec![dense.clone(), sparse.clone()]).await);
    sent.push(send(500, a.id, vec![dense.clone(), often.clone()]).await);
    let expected = |words: &[Vec<u8>], filter: &store::SearchFilter, limit: usize| {
        let mut hits: Vec<_> = sent
            .iter()
            .filter(|(_, at, sender, held)| {
                words.iter().all(|w| held.contains(w))
                    && filter.sender.is_none_or(|s| s == *sender)
                    && filter.before.is_none_or(|t| *at < t.0)
                    && filter.after.is_none_or(|t| *at > t.0)
            })
            .map(|(id, at, _, _)| (*at, id.to_string(), *id))
            .collect();
        hits.sort_by(|x, y| (y.0, &y.1).cmp(&(x.0, &x.1)));
        hits.into_iter().take(limit).map(|h| h.2).collect::<Vec<_>>()
    };
    let found = |words: Vec<Vec<u8>>, filter: store::SearchFilter, limit: u32| {
        let store = store.clone();
        async move {
            store
                .search_messages(e, a.id, &words, &filter, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        }
    };
    let all = store::SearchFilter::default();
    assert_eq!(expected(&[sparse.clone(), often.clone()], &all, 100).len(), 4, "the two meet four times");
    for words in [
        vec![sparse.clone(), often.clone()],
        vec![often.clone(), sparse.clone()],
        vec![dense.clone(), sparse.clone()],
        vec![often.clone(), dense.clone(), sparse.clone()],
    ] {
        let filters = [
            all.clone(),
            store::SearchFilter { sender: Some(a.id), ..all.clone() },
            store::SearchFilter { after: Some(Millis(5_000)), before: Some(Millis(61_000)), ..all.clone() },
            store::SearchFilter { before: Some(Millis(30_000)), ..all.clone() },
            store::SearchFilter { conversation: Some(c.id), ..all.clone() },
        ];
        for filter in filters {
            for limit in [2, 100] {
                assert_eq!(
                    found(words.clone(), filter.clone(), limit).await,
                    expected(&words, &filter, limit as usize),
                    "{filter:?}, limit {limit}"
                );
            }
        }
        let elsewhere = store::SearchFilter { conversation: Some(domain::ConversationId::new()), ..all.clone() };
        assert!(found(words.clone(), elsewhere, 10).await.is_empty(), "in another conversation");
        assert!(
            found(words, store::SearchFilter { has_file: true, ..all.clone() }, 10).await.is_empty(),
            "with a file"
        );
    }
    assert!(found(vec![sparse.clone(), vec![10u8; 16]], all.clone(), 10).await.is_empty(), "a word nowhere");
});

conformance!(team_channels_are_found_by_team_and_presence_reads_open_sessions, |store| {
    let e = enterprise(&store).await;
    let u = user(&store, e, b"present").await;
    let team =
        TeamRow { id: TeamId::new(), enterprise_id: e, name_ct: vec![1], archived: false, created_at: Millis::now() };
    store.create_team(&team, &audit("team.create", Some(e))).await.unwrap();
    assert!(store.find_team_conversation(e, team.id).await.unwrap().is_none());
    let mut channel = conversation(e, domain::messaging::ConversationKind::Team, u.id, None);
    channel.team_id = Some(team.id);
    store
        .create_conversation(&channel, &[member(&channel, u.id)], &audit("conversation.create", Some(e)))
        .await
        .unwrap();
    assert_eq!(store.find_team_conversation(e, team.id).await.unwrap().map(|c| c.id), Some(channel.id));
    let other = enterprise(&store).await;
    assert!(store.find_team_conversation(other, team.id).await.unwrap().is_none(), "wrong tenant");
    // Presence: the latest activity over a person's open sessions.
    let now = Millis::now();
    let one = session_row(&u, &[1; 32], later());
    let two = session_row(&u, &[2; 32], later());
    for s in [&one, &two] {
        store.create_session(s, &audit("auth.sign-in", Some(e))).await.unwrap();
    }
    store.touch_session(two.id, Millis(now.0 + 5_000)).await.unwrap();
    assert_eq!(store.last_activity(e, now).await.unwrap(), [(u.id, Millis(now.0 + 5_000))]);
    assert!(store.last_activity(other, now).await.unwrap().is_empty());
    assert!(
        store.last_activity(e, Millis(later().0 + 1)).await.unwrap().is_empty(),
        "expired sessions are not present"
    );
});

conformance!(password_hashes_and_roles_are_set_within_the_enterprise, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let u = user(&store, e, b"setter").await;
    let events = store.audit_count().await.unwrap();
    store.set_password_hash(e, u.id, "$argon2id$new", Millis(10), None).await.unwrap();
    assert_eq!(store.audit_count().await.unwrap(), events, "no draft, no event");
    store
        .set_password_hash(e, u.id, "$argon2id$newer", Millis(11), Some(&audit("auth.password-change", Some(e))))
        .await
        .unwrap();
    assert_eq!(store.audit_count().await.unwrap(), events + 1);
    assert_eq!(store.get_user(e, u.id).await.unwrap().unwrap().password_hash.as_deref(), Some("$argon2id$newer"));
    assert!(matches!(
        store.set_password_hash(other, u.id, "$argon2id$x", Millis(12), None).await,
        Err(Error::NotFound)
    ));
    let both = Roles::parse("enterprise-admin,security").unwrap();
    store.set_user_roles(e, u.id, both, Millis(13), &audit("user.role", Some(e))).await.unwrap();
    assert_eq!(store.get_user(e, u.id).await.unwrap().unwrap().roles, both);
    let err = store.set_user_roles(other, u.id, Roles::MEMBER, Millis(14), &audit("user.role", Some(other))).await;
    assert!(matches!(err, Err(Error::NotFound)), "{err:?}");
    assert_eq!(store.get_user(e, u.id).await.unwrap().unwrap().roles, both);
    assert!(["sqlite", "postgres"].contains(&store.backend()));
});

conformance!(desk_pages_are_replaced_per_enterprise_and_report_files_ride_on_reports, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let page = |markdown: &str| store::DeskPageRow {
        enterprise_id: e,
        page: domain::desk::DeskPage::Policy,
        markdown: markdown.into(),
        updated_at: Millis::now(),
        updated_by: None,
    };
    store.put_desk_page(&page("first"), &audit("desk.page.update", Some(e))).await.unwrap();
    store.put_desk_page(&page("second"), &audit("desk.page.update", Some(e))).await.unwrap();
    let pages = store.desk_pages(e).await.unwrap();
    assert_eq!(pages.iter().map(|p| p.markdown.as_str()).collect::<Vec<_>>(), ["second"]);
    assert!(store.desk_pages(other).await.unwrap().is_empty());
    let r = desk_rows::report(e, b"files-lookup");
    let file = |author| store::ReportFileRow {
        id: domain::AttachmentId::new(),
        report_id: r.id,
        author,
        name_ct: vec![4; 20],
        content_type: "text/plain".into(),
        size: 12,
        created_at: Millis::now(),
    };
    let at_start = file(store::ReportAuthor::Finder);
    store.create_report(&r, std::slice::from_ref(&at_start), &audit("desk.report.submit", Some(e))).await.unwrap();
    let team = user(&store, e, b"desk-team").await;
    let later_file = file(store::ReportAuthor::Team(team.id));
    store
        .add_report_files(e, std::slice::from_ref(&later_file), &audit("desk.report.team-files", Some(e)))
        .await
        .unwrap();
    let files = store.report_files(e, r.id).await.unwrap();
    assert_eq!(files.iter().map(|f| f.id).collect::<Vec<_>>(), [at_start.id, later_file.id]);
    assert_eq!(files[1].author, store::ReportAuthor::Team(team.id));
    let orphan = store::ReportFileRow { report_id: domain::ReportId::new(), ..file(store::ReportAuthor::Finder) };
    let events = store.audit_count().await.unwrap();
    assert!(
        store.add_report_files(e, &[orphan], &audit("desk.report.finder-files", Some(e))).await.is_err(),
        "no such report"
    );
    assert_eq!(store.audit_count().await.unwrap(), events, "nothing half-written");
});

conformance!(report_triage_keeps_transitions_notes_and_reminders_inside_their_enterprise, |store| {
    use domain::desk::ReportState as S;
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let team = user(&store, e, b"triage-team").await;
    let r = desk_rows::report(e, b"triage-1");
    store.create_report(&r, &[], &audit("desk.report.submit", Some(e))).await.unwrap();
    let original = desk_rows::report(e, b"triage-2");
    store.create_report(&original, &[], &audit("desk.report.submit", Some(e))).await.unwrap();
    let t = Millis(1_800_000_000_000);

    // A move from a state the report is no longer in is refused, and writes nothing.
    let events = store.audit_count().await.unwrap();
    let stale = desk_rows::moved(&r, S::Triaging, S::Accepted, t, Some(team.id));
    assert!(matches!(store.set_report_state(e, &stale, &audit("x", Some(e))).await, Err(Error::Conflict(_))));
    assert_eq!(store.audit_count().await.unwrap(), events);
    assert!(store.report_transitions(e, Some(r.id)).await.unwrap().is_empty());

    // The team's move the finder is told of is the first response; the finder's is not.
    let row = store
        .set_report_state(e, &desk_rows::moved(&r, S::New, S::NeedsInfo, t, Some(team.id)), &audit("x", Some(e)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.first_response_at, Some(t));
    let later = Millis(t.0 + 60_000);
    store
        .set_report_state(e, &desk_rows::moved(&r, S::NeedsInfo, S::Triaging, later, None), &audit("x", Some(e)))
        .await
        .unwrap();
    let dup = store::ReportTransitionRow {
        duplicate_of: Some(original.id),
        ..desk_rows::moved(&r, S::Triaging, S::Duplicate, Millis(later.0 + 1), Some(team.id))
    };
    let row = store.set_report_state(e, &dup, &audit("x", Some(e))).await.unwrap().unwrap();
    assert_eq!((row.state, row.duplicate_of, row.first_response_at), (S::Duplicate, Some(original.id), Some(t)));
    let moves = store.report_transitions(e, Some(r.id)).await.unwrap();
    assert_eq!(
        moves.iter().map(|m| (m.seq, m.to)).collect::<Vec<_>>(),
        [(1, S::NeedsInfo), (2, S::Triaging), (3, S::Duplicate)]
    );
    assert_eq!(moves[1].actor, store::ReportAuthor::Finder);
    assert_eq!(moves[2].duplicate_of, Some(original.id));
    assert_eq!(store.report_transitions(e, None).await.unwrap().len(), 3);
    assert!(store.report_transitions(other, None).await.unwrap().is_empty(), "tenant filter");
    assert!(store.report_transitions(other, Some(r.id)).await.unwrap().is_empty(), "tenant filter");

    // A team message sets the first response of a report that had none.
    let m = desk_rows::message(&original, store::ReportAuthor::Team(team.id));
    store.append_report_message(e, &m, &audit("x", Some(e))).await.unwrap();
    assert_eq!(store.get_report(e, original.id).await.unwrap().unwrap().first_response_at, Some(m.created_at));

    // Assignment and vectors; another enterprise cannot set them.
    let triage = store::ReportTriage {
        assignee: Some(team.id),
        cvss_v3: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
        cvss_v4: None,
    };
    assert!(store.set_report_triage(other, r.id, &triage, t, &audit("x", Some(other))).await.unwrap().is_none());
    let row = store.set_report_triage(e, r.id, &triage, t, &audit("x", Some(e))).await.unwrap().unwrap();
    assert_eq!((row.assignee, row.cvss_v3.as_deref()), (Some(team.id), triage.cvss_v3.as_deref()));

    // Notes stay with their enterprise.
    let note = store::ReportNoteRow {
        id: domain::ReportMessageId::new(),
        report_id: r.id,
        author: team.id,
        body_ct: vec![9; 40],
        created_at: t,
    };
    let events = store.audit_count().await.unwrap();
    assert!(matches!(store.add_report_note(other, &note, &audit("x", Some(other))).await, Err(Error::NotFound)));
    assert_eq!(store.audit_count().await.unwrap(), events);
    store.add_report_note(e, &note, &audit("desk.report.note", Some(e))).await.unwrap();
    assert_eq!(store.report_notes(e, r.id).await.unwrap(), std::slice::from_ref(&note));
    assert!(store.report_notes(other, r.id).await.unwrap().is_empty());

    // A reminder is recorded once per clock and kind; only the first call says to send it.
    let reminder =
        store::ReportReminderRow { report_id: r.id, clock: "triage".into(), kind: "due-soon".into(), sent_at: t };
    let events = store.audit_count().await.unwrap();
    assert!(store.record_report_reminder(e, &reminder, &audit("desk.report.reminder", Some(e))).await.unwrap());
    assert!(!store.record_report_reminder(e, &reminder, &audit("desk.report.reminder", Some(e))).await.unwrap());
    assert!(!store
        .record_report_reminder(
            other,
            &store::ReportReminderRow { kind: "missed".into(), ..reminder.clone() },
            &audit("x", Some(other))
        )
        .await
        .unwrap());
    assert_eq!(store.audit_count().await.unwrap(), events + 1, "one reminder, one event");
    let missed = store::ReportReminderRow { kind: "missed".into(), sent_at: later, ..reminder.clone() };
    assert!(store.record_report_reminder(e, &missed, &audit("desk.report.reminder", Some(e))).await.unwrap());
    assert_eq!(store.report_reminders(e, 10).await.unwrap(), [missed, reminder]);
    assert_eq!(store.report_reminders(e, 1).await.unwrap().len(), 1);
    assert!(store.report_reminders(other, 10).await.unwrap().is_empty());
});

conformance!(advisories_keep_versions_consent_and_publish_with_the_report_in_one_step, |store| {
    use domain::desk::ReportState as S;
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let team = user(&store, e, b"advisory-team").await;
    let mut r = desk_rows::report(e, b"advisory-1");
    r.state = S::Resolved;
    store.create_report(&r, &[], &audit("desk.report.submit", Some(e))).await.unwrap();
    let t = Millis(1_800_000_000_000);
    let draft = |ct: u8| store::AdvisoryRow {
        id: uuid::Uuid::now_v7(),
        enterprise_id: e,
        report_id: r.id,
        public_id: String::new(),
        version: 0,
        draft_ct: vec![ct; 40],
        draft_sha256: vec![ct; 32],
        publish_on: "2027-01-15".into(),
        consent_version: None,
        consent_sha256: None,
        consent_at: None,
        published_at: None,
        published_json: None,
        override_reason: None,
        created_at: t,
        updated_at: t,
    };
    // Another enterprise cannot draft for this report.
    let events = store.audit_count().await.unwrap();
    let foreign = store::AdvisoryRow { enterprise_id: other, ..draft(1) };
    assert!(matches!(store.save_advisory_draft(&foreign, &audit("x", Some(other))).await, Err(Error::NotFound)));
    assert_eq!(store.audit_count().await.unwrap(), events);

    let v1 = store.save_advisory_draft(&draft(1), &audit("desk.advisory.save", Some(e))).await.unwrap();
    assert_eq!((v1.version, v1.public_id.as_str()), (1, "CONCLAVE-2027-0001"));
    assert!(store.record_advisory_consent(e, v1.id, 1, &[1; 32], t, &audit("x", Some(e))).await.unwrap());
    let v2 = store.save_advisory_draft(&draft(2), &audit("desk.advisory.save", Some(e))).await.unwrap();
    assert_eq!(
        (v2.id, v2.version, v2.consent_version),
        (v1.id, 2, Some(1)),
        "the agreement names the version it was for"
    );
    // Agreement to an old version, with the wrong hash, or from another enterprise: nothing.
    assert!(!store.record_advisory_consent(e, v1.id, 1, &[1; 32], t, &audit("x", Some(e))).await.unwrap());
    assert!(!store.record_advisory_consent(e, v1.id, 2, &[9; 32], t, &audit("x", Some(e))).await.unwrap());
    assert!(!store.record_advisory_consent(other, v1.id, 2, &[2; 32], t, &audit("x", Some(other))).await.unwrap());
    assert_eq!(store.advisory_of_report(other, r.id).await.unwrap(), None);
    assert!(store.published_advisories(e).await.unwrap().is_empty());

    // Publishing a stale version, or with the report moved on, writes nothing.
    let disclose = desk_rows::moved(&r, S::Resolved, S::Disclosed, t, Some(team.id));
    let events = store.audit_count().await.unwrap();
    fn publication(
        advisory: uuid::Uuid,
        version: i64,
        disclose: &store::ReportTransitionRow,
    ) -> store::AdvisoryPublication<'_> {
        store::AdvisoryPublication {
            advisory,
            version,
            published_json: r#"{"id":"CONCLAVE-2027-0001"}"#,
            override_reason: Some("finder unreachable"),
            disclose,
        }
    }
    let stale = store.publish_advisory(e, &publication(v1.id, 1, &disclose), &audit("x", Some(e))).await;
    assert!(matches!(stale, Err(Error::Conflict(_))), "{stale:?}");
    let moved = desk_rows::moved(&r, S::Fixing, S::Disclosed, t, Some(team.id));
    assert!(matches!(
        store.publish_advisory(e, &publication(v1.id, 2, &moved), &audit("x", Some(e))).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.audit_count().await.unwrap(), events);
    assert!(store.advisory_of_report(e, r.id).await.unwrap().unwrap().published_at.is_none(), "rolled back");

    let published = store
        .publish_advisory(e, &publication(v1.id, 2, &disclose), &audit("desk.advisory.publish", Some(e)))
        .await
        .unwrap();
    assert_eq!((published.published_at, published.override_reason.as_deref()), (Some(t), Some("finder unreachable")));
    assert_eq!(store.get_report(e, r.id).await.unwrap().unwrap().state, S::Disclosed);
    assert_eq!(store.published_advisories(e).await.unwrap().len(), 1);
    assert!(store.published_advisories(other).await.unwrap().is_empty());
    assert!(matches!(store.save_advisory_draft(&draft(3), &audit("x", Some(e))).await, Err(Error::Conflict(_))));
});

conformance!(incidents_keep_their_timeline_and_state_inside_their_enterprise, |store| {
    use domain::incident::IncidentState as S;
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let team = user(&store, e, b"incident-team").await;
    let t = Millis(1_800_000_000_000);
    let incident = store::IncidentRow {
        id: uuid::Uuid::now_v7(),
        enterprise_id: e,
        reporter: None,
        receipt_lookup: Some(b"incident-lookup".to_vec()),
        receipt_hash: Some("$argon2id$x".into()),
        state: S::Reported,
        category: "misuse".into(),
        report_ct: vec![3; 40],
        occurred_at: "2026-12-01T10:00".into(),
        notify_within_hours: None,
        created_at: t,
        updated_at: t,
        closed_at: None,
        last_seq: 0,
    };
    store.create_incident(&incident, &audit("desk.incident.report", Some(e))).await.unwrap();
    assert_eq!(store.incident_by_lookup(b"incident-lookup").await.unwrap().unwrap().id, incident.id);
    assert_eq!(store.get_incident(other, incident.id).await.unwrap(), None);
    assert_eq!(store.list_incidents(e).await.unwrap().len(), 1);
    assert!(store.list_incidents(other).await.unwrap().is_empty());

    let entry = |kind: &str| store::IncidentEntryRow {
        incident_id: incident.id,
        seq: 0,
        kind: kind.into(),
        happened_at: Some("2026-12-01T09:55".into()),
        learned_at: t,
        author: Some(team.id),
        body_ct: vec![4; 30],
    };
    // A state change from a state it is not in is refused and writes nothing.
    let events = store.audit_count().await.unwrap();
    let stale = store
        .append_incident_entry(e, &entry("state"), Some((S::Contained, S::Eradicated)), &audit("x", Some(e)))
        .await;
    assert!(matches!(stale, Err(Error::Conflict(_))), "{stale:?}");
    assert_eq!(store.audit_count().await.unwrap(), events);
    assert!(store
        .append_incident_entry(other, &entry("note"), None, &audit("x", Some(other)))
        .await
        .unwrap()
        .is_none());
    let moved = store
        .append_incident_entry(
            e,
            &entry("state"),
            Some((S::Reported, S::Closed)),
            &audit("desk.incident.state", Some(e)),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.seq, 1);
    let row = store.get_incident(e, incident.id).await.unwrap().unwrap();
    assert_eq!((row.state, row.closed_at, row.last_seq), (S::Closed, Some(t), 1));
    store.append_incident_entry(e, &entry("note"), None, &audit("desk.incident.entry", Some(e))).await.unwrap();
    let timeline = store.incident_entries(e, incident.id).await.unwrap();
    assert_eq!(timeline.iter().map(|x| (x.seq, x.kind.as_str())).collect::<Vec<_>>(), [(1, "state"), (2, "note")]);
    assert!(store.incident_entries(other, incident.id).await.unwrap().is_empty());

    assert!(!store.set_incident_notify_hours(other, incident.id, Some(72), &audit("x", Some(other))).await.unwrap());
    assert!(store
        .set_incident_notify_hours(e, incident.id, Some(72), &audit("desk.incident.clock", Some(e)))
        .await
        .unwrap());
    assert_eq!(store.get_incident(e, incident.id).await.unwrap().unwrap().notify_within_hours, Some(72));
});

/// The names of a store trait file's methods.
fn trait_methods(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest =
                line.strip_prefix("async fn ").or_else(|| line.strip_prefix("fn ").filter(|r| r.contains("(&self")))?;
            Some(rest.split('(').next()?.trim().to_owned())
        })
        .collect()
}

/// Every method of every store trait is called by some case here, so each runs on both backends.
/// A new method without a case fails this test.
#[test]
fn every_store_method_has_a_conformance_case() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read_dir = |dir: std::path::PathBuf| {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(path).unwrap());
            }
        }
        out
    };
    let cases = read_dir(root.join("tests/it")).concat();
    let mut methods: Vec<String> = read_dir(root.join("../store/src")).iter().flat_map(|s| trait_methods(s)).collect();
    methods.sort();
    methods.dedup();
    assert!(methods.len() > 100, "the store's methods were found ({})", methods.len());
    let missing: Vec<&String> = methods.iter().filter(|m| !cases.contains(&format!(".{m}("))).collect();
    assert!(missing.is_empty(), "store methods no conformance case calls: {missing:?}");
    // The check notices a method nobody calls.
    let planted = trait_methods("pub trait X {\n    async fn never_called_anywhere(&self) -> Result<()>;\n}");
    assert_eq!(planted, ["never_called_anywhere"]);
    assert!(!cases.contains(&format!(".{}(", planted[0])));
}

conformance!(report_threads_and_files_answer_only_inside_their_enterprise, |store| {
    let e = enterprise(&store).await;
    let other = enterprise(&store).await;
    let r = desk_rows::report(e, b"tenant-lookup");
    store.create_report(&r, &[], &audit("desk.report.submit", Some(e))).await.unwrap();
    store
        .append_report_message(e, &desk_rows::message(&r, store::ReportAuthor::Finder), &audit("x", Some(e)))
        .await
        .unwrap();
    let file = store::ReportFileRow {
        id: domain::AttachmentId::new(),
        report_id: r.id,
        author: store::ReportAuthor::Finder,
        name_ct: vec![4; 20],
        content_type: "text/plain".into(),
        size: 3,
        created_at: Millis::now(),
    };
    store.add_report_files(e, std::slice::from_ref(&file), &audit("desk.report.finder-files", Some(e))).await.unwrap();
    let events = store.audit_count().await.unwrap();
    // The right report id under another enterprise: nothing is read, nothing is written.
    assert!(store.report_messages(other, r.id).await.unwrap().is_empty());
    assert!(store.report_files(other, r.id).await.unwrap().is_empty());
    let foreign = store
        .append_report_message(other, &desk_rows::message(&r, store::ReportAuthor::Finder), &audit("x", Some(other)))
        .await;
    assert!(matches!(foreign, Err(Error::NotFound)), "{foreign:?}");
    let more = store::ReportFileRow { id: domain::AttachmentId::new(), ..file.clone() };
    assert!(matches!(store.add_report_files(other, &[more], &audit("x", Some(other))).await, Err(Error::NotFound)));
    store.set_report_access_token(other, r.id, b"foreign-token").await.unwrap();
    assert!(store.report_by_access_token(b"foreign-token").await.unwrap().is_none());
    assert_eq!(store.audit_count().await.unwrap(), events, "no refused change left an event");
    assert_eq!(store.report_messages(e, r.id).await.unwrap().len(), 1);
    assert_eq!(store.report_files(e, r.id).await.unwrap().len(), 1);
});

conformance!(threads_are_one_level_deep_inside_their_conversation, |store| {
    let (e, a, b, c) = pair(&store).await;
    let root = store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap().0;
    let reply = |to| MessageRow { thread_root_id: Some(to), ..message(&c, b.id) };
    let first = store
        .append_message(e, &MessageRow { created_at: Millis(5_000), ..reply(root.id) }, &MessageIndex::default())
        .await
        .unwrap()
        .0;
    let second = store
        .append_message(e, &MessageRow { created_at: Millis(6_000), ..reply(root.id) }, &MessageIndex::default())
        .await
        .unwrap()
        .0;
    assert_eq!((first.seq, second.seq), (2, 3), "replies are messages of the conversation");
    let replies = store.thread_replies(e, c.id, root.id, 10).await.unwrap();
    assert_eq!(
        replies.iter().map(|m| (m.id, m.thread_root_id)).collect::<Vec<_>>(),
        [(first.id, Some(root.id)), (second.id, Some(root.id))]
    );
    let summary = store.thread_summaries(e, c.id, &[root.id, first.id]).await.unwrap();
    assert_eq!(summary, [store::ThreadSummary { root_id: root.id, replies: 2, last_reply_at: Millis(6_000) }]);
    // No reply to a reply, to a message elsewhere, or to a deleted one; nothing is written.
    let nested = store.append_message(e, &reply(first.id), &MessageIndex::default()).await;
    assert!(matches!(nested, Err(Error::Conflict(ref c)) if c == "messages.thread_root_id"), "{nested:?}");
    let (e2, x, _, elsewhere) = pair(&store).await;
    let foreign = store.append_message(e2, &message(&elsewhere, x.id), &MessageIndex::default()).await.unwrap().0;
    assert!(matches!(
        store.append_message(e, &reply(foreign.id), &MessageIndex::default()).await,
        Err(Error::Conflict(_))
    ));
    store.delete_message(e, c.id, second.id, b.id, Millis(7_000)).await.unwrap();
    assert_eq!(
        store.thread_summaries(e, c.id, &[root.id]).await.unwrap()[0].replies,
        1,
        "deleted replies do not count"
    );
    store.delete_message(e, c.id, root.id, a.id, Millis(8_000)).await.unwrap();
    assert!(matches!(
        store.append_message(e, &reply(root.id), &MessageIndex::default()).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.list_messages(e, c.id, MessagePage::After(0), 10).await.unwrap().len(), 3);
    // Another tenant sees no thread.
    assert!(store.thread_replies(e2, c.id, root.id, 10).await.unwrap().is_empty());
    assert!(store.thread_summaries(e2, c.id, &[root.id]).await.unwrap().is_empty());
});

//! Message control: templates, rules enforced per reader on every path, forwards and their
//! tree, recall of every copy, expiry by the job runner, burn after reading.

use crate::{origin, world, World};
use domain::device::DeviceKind;
use domain::message_policy::ReaderDevice;
use domain::{ConversationId, EnterpriseId, MessagePolicyId, Role};
use futures_util::StreamExt as _;
use services::messaging::policies::PolicyRules;
use services::messaging::{Event, LiveDelivery};
use services::{Caller, Error, Principal};
use std::time::Duration;

struct Cast {
    e: EnterpriseId,
    admin: Caller,
    a: Principal,
    b: Principal,
    c: Principal,
    ab: ConversationId,
    bc: ConversationId,
}

async fn cast(w: &World) -> Cast {
    let e = w.enterprise("E").await;
    w.user(e, "admin@e.example", Role::EnterpriseAdmin).await;
    w.user(e, "a@e.example", Role::Member).await;
    let b = w.user(e, "b@e.example", Role::Member).await;
    let c = w.user(e, "c@e.example", Role::Member).await;
    let (a, bp, cp) =
        (w.principal("a@e.example").await, w.principal("b@e.example").await, w.principal("c@e.example").await);
    let ab = w.services.messaging.open_direct(&a, &origin(), b.id).await.unwrap().id;
    let bc = w.services.messaging.open_direct(&bp, &origin(), c.id).await.unwrap().id;
    Cast { e, admin: w.caller("admin@e.example").await, a, b: bp, c: cp, ab, bc }
}

async fn template(w: &World, cast: &Cast, name: &str, rules: PolicyRules) -> MessagePolicyId {
    w.services.message_policies.create(&cast.admin, &origin(), cast.e, name, &rules).await.unwrap().id
}

fn field_of(e: Error) -> String {
    match e {
        Error::Invalid(f) | Error::Conflict(f) => f.field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[tokio::test]
async fn templates_are_for_admins_to_write_and_bad_rules_name_their_field() {
    let w = world().await;
    let cast = cast(&w).await;
    let policies = &w.services.message_policies;
    let member = Caller::User(cast.a.clone());
    let refused = policies.create(&member, &origin(), cast.e, "Mine", &PolicyRules::default()).await;
    assert!(matches!(refused, Err(Error::Forbidden)), "{refused:?}");
    let audit = w.services.compliance.enterprise_audit(&cast.admin, cast.e, None, 5).await.unwrap();
    assert!(audit.iter().any(|ev| ev.action == "message-policy.create" && ev.outcome == "denied"));
    let bad = [
        (PolicyRules { networks: Some(vec!["10.0.0.0/33".into()]), ..Default::default() }, "networks[0]"),
        (
            PolicyRules {
                readable_from: Some("2030-01-02T00:00:00Z".into()),
                readable_until: Some("2030-01-01T00:00:00Z".into()),
                ..Default::default()
            },
            "readable_until",
        ),
        (PolicyRules { readable_until: Some("2001-01-01T00:00:00Z".into()), ..Default::default() }, "readable_until"),
        (PolicyRules { readable_from: Some("tomorrow".into()), ..Default::default() }, "readable_from"),
        (
            PolicyRules { expire_after_seconds: Some(60), burn_after_seconds: Some(120), ..Default::default() },
            "burn_after_seconds",
        ),
        (PolicyRules { devices: Some(vec![]), ..Default::default() }, "devices"),
    ];
    for (rules, field) in bad {
        let e = policies.create(&cast.admin, &origin(), cast.e, "Bad", &rules).await.unwrap_err();
        assert_eq!(field_of(e), field);
    }
    assert_eq!(
        field_of(policies.create(&cast.admin, &origin(), cast.e, " ", &PolicyRules::default()).await.unwrap_err()),
        "name"
    );
    assert!(policies.list(&cast.admin, cast.e).await.unwrap().is_empty(), "nothing was written");
    let t = policies.create(&cast.admin, &origin(), cast.e, "Board", &PolicyRules::default()).await.unwrap();
    let twin = policies.create(&cast.admin, &origin(), cast.e, "Board", &PolicyRules::default()).await.unwrap_err();
    assert_eq!(field_of(twin), "name");
    let rules = PolicyRules { no_forward: true, networks: Some(vec!["10.1.2.3/8".into()]), ..Default::default() };
    let v2 = policies.update(&cast.admin, &origin(), cast.e, t.id, "Board", &rules, Some(1)).await.unwrap();
    assert_eq!(v2.rules.networks, Some(vec!["10.0.0.0/8".to_owned()]), "stored in canonical form");
    let stale = policies.update(&cast.admin, &origin(), cast.e, t.id, "Board", &rules, Some(1)).await.unwrap_err();
    assert_eq!(field_of(stale), "expected_version");
    policies.retire(&cast.admin, &origin(), cast.e, t.id).await.unwrap();
    assert!(policies.list(&member, cast.e).await.unwrap().is_empty(), "members see only what they may pick");
    assert_eq!(policies.list(&cast.admin, cast.e).await.unwrap().len(), 1, "admins see retired ones too");
    // Another enterprise's admin can neither read nor change them.
    let other = w.enterprise("Other").await;
    w.user(other, "x@o.example", Role::EnterpriseAdmin).await;
    let stranger = w.caller("x@o.example").await;
    assert!(matches!(policies.list(&stranger, cast.e).await, Err(Error::Forbidden)));
    assert!(matches!(policies.retire(&stranger, &origin(), cast.e, t.id).await, Err(Error::Forbidden)));
}

#[tokio::test]
async fn a_sender_picks_only_an_active_template_of_their_enterprise() {
    let w = world().await;
    let cast = cast(&w).await;
    let retired = template(&w, &cast, "Old", PolicyRules::default()).await;
    w.services.message_policies.retire(&cast.admin, &origin(), cast.e, retired).await.unwrap();
    let other = w.enterprise("Other").await;
    w.user(other, "x@o.example", Role::EnterpriseAdmin).await;
    let foreign = w
        .services
        .message_policies
        .create(&w.caller("x@o.example").await, &origin(), other, "Theirs", &PolicyRules::default())
        .await
        .unwrap()
        .id;
    for id in [MessagePolicyId::new(), retired, foreign] {
        let e = w.services.messaging.post(&cast.a, cast.ab, "hello", None, Some(id)).await.unwrap_err();
        assert_eq!(field_of(e), "policy_id");
    }
    assert!(w.services.messaging.list_messages(&cast.a, cast.ab, None, None, 50).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_restricted_message_shows_its_reader_why_and_never_its_content() {
    let w = world().await;
    let cast = cast(&w).await;
    let office =
        template(&w, &cast, "Office", PolicyRules { networks: Some(vec!["10.0.0.0/8".into()]), ..Default::default() })
            .await;
    let phones =
        template(&w, &cast, "Phones", PolicyRules { devices: Some(vec![ReaderDevice::Mobile]), ..Default::default() })
            .await;
    let later = template(
        &w,
        &cast,
        "Later",
        PolicyRules { readable_from: Some("2099-01-01T09:00:00Z".into()), ..Default::default() },
    )
    .await;
    let mut live = w.services.core.subscribe_events().await.unwrap();
    let sent = w.services.messaging.post(&cast.a, cast.ab, "the vault code is 4711", None, Some(office)).await.unwrap();
    assert_eq!(sent.body.as_deref(), Some("the vault code is 4711"), "the author reads their own words");
    // The live event carries no content, only that there is something to fetch.
    let event = loop {
        let LiveDelivery::Event(ev) = tokio::time::timeout(Duration::from_secs(5), live.next()).await.unwrap().unwrap()
        else {
            panic!("lagged")
        };
        if let Event::MessageCreated { message } = &ev.event {
            break message.clone();
        }
    };
    assert_eq!(event.body, None);
    assert_eq!(event.control.as_ref().unwrap().state, "pending");
    // From the wrong network: a placeholder with the reason, in history and by id.
    let history = w.services.messaging.list_messages(&cast.b, cast.ab, None, None, 50).await.unwrap();
    let control = history[0].control.as_ref().unwrap();
    assert_eq!((history[0].body.as_deref(), control.state.as_str()), (None, "restricted"));
    assert_eq!(control.reason.as_deref(), Some("readable only on the allowed networks"));
    // From the office network it opens.
    let mut at_office = cast.b.clone();
    at_office.origin.ip = Some("10.4.5.6".into());
    let one = w.services.messaging.get_message(&at_office, cast.ab, sent.id).await.unwrap();
    assert_eq!(one.body.as_deref(), Some("the vault code is 4711"));
    // Only on phones; only from 2099.
    let phone_only = w.services.messaging.post(&cast.a, cast.ab, "for phones", None, Some(phones)).await.unwrap();
    assert_eq!(w.services.messaging.get_message(&cast.b, cast.ab, phone_only.id).await.unwrap().body, None);
    let mut on_phone = cast.b.clone();
    on_phone.device = DeviceKind::Mobile;
    assert_eq!(
        w.services.messaging.get_message(&on_phone, cast.ab, phone_only.id).await.unwrap().body.as_deref(),
        Some("for phones")
    );
    let future = w.services.messaging.post(&cast.a, cast.ab, "from 2099", None, Some(later)).await.unwrap();
    let seen = w.services.messaging.get_message(&cast.b, cast.ab, future.id).await.unwrap();
    let control = seen.control.unwrap();
    assert_eq!(control.reason.as_deref(), Some("readable from 2099-01-01 09:00 UTC"));
    assert_eq!(control.opens_at.as_deref(), Some("2099-01-01T09:00:00Z"));
    // Search never finds words of a message under a reading policy.
    let query = services::messaging::search::SearchQuery { q: "vault".into(), ..Default::default() };
    assert!(w.services.messaging.search(&at_office, &query).await.unwrap().is_empty());
}

#[tokio::test]
async fn forwards_keep_their_lineage_and_the_strictest_rules_and_refusals_are_audited() {
    let w = world().await;
    let cast = cast(&w).await;
    let sealed = template(&w, &cast, "Sealed", PolicyRules { no_forward: true, ..Default::default() }).await;
    let brief = template(
        &w,
        &cast,
        "Brief",
        PolicyRules { expire_after_seconds: Some(3600), no_copy: true, ..Default::default() },
    )
    .await;
    let original = w.services.messaging.post(&cast.a, cast.ab, "quarterly numbers", None, Some(brief)).await.unwrap();
    let copy = w.services.messaging.forward(&cast.b, &origin(), cast.ab, original.id, cast.bc).await.unwrap();
    assert_eq!(copy.body.as_deref(), Some("quarterly numbers"));
    assert_eq!(copy.conversation_id, cast.bc);
    let lineage = copy.forwarded.as_ref().unwrap();
    assert_eq!((lineage.original_sender_id, lineage.hops), (cast.a.user_id, 1));
    let control = copy.control.as_ref().unwrap();
    assert!(control.no_copy, "the copy keeps its ancestor's rules");
    assert_eq!(control.expires_at, original.control.as_ref().unwrap().expires_at, "and never outlives it");
    // C forwards the copy back into the conversation with B: two hops from the original.
    let cb = w.services.messaging.open_direct(&cast.c, &origin(), cast.a.user_id).await.unwrap().id;
    let second = w.services.messaging.forward(&cast.c, &origin(), cast.bc, copy.id, cb).await.unwrap();
    assert_eq!(second.forwarded.as_ref().unwrap().hops, 2);
    // The author sees the count and the tree; a member who did not send it may not.
    let history = w.services.messaging.list_messages(&cast.a, cast.ab, None, None, 50).await.unwrap();
    assert_eq!(history[0].forward_count, 2);
    let tree = w.services.messaging.forwards(&cast.a, cast.ab, original.id).await.unwrap();
    assert_eq!(
        tree.copies.iter().map(|c| (c.hops, c.forwarded_by)).collect::<Vec<_>>(),
        [(1, cast.b.user_id), (2, cast.c.user_id)]
    );
    assert_eq!(tree.copies[0].recipients, [cast.c.user_id]);
    assert!(matches!(w.services.messaging.forwards(&cast.b, cast.ab, original.id).await, Err(Error::Forbidden)));
    // No forward: refused with the reason, and audited as denied.
    let secret = w.services.messaging.post(&cast.a, cast.ab, "eyes only", None, Some(sealed)).await.unwrap();
    let refused = w.services.messaging.forward(&cast.b, &origin(), cast.ab, secret.id, cast.bc).await.unwrap_err();
    assert!(matches!(refused, Error::PolicyRefused(ref why) if why.contains("forbids forwarding")), "{refused:?}");
    let audit = w.services.compliance.enterprise_audit(&cast.admin, cast.e, None, 10).await.unwrap();
    assert!(audit.iter().any(|ev| ev.action == "message.forward" && ev.outcome == "denied"));
    assert!(audit.iter().any(|ev| ev.action == "message.forward" && ev.outcome == "success"));
    // Only into your own conversations, and only what you can see.
    let plain = w.services.messaging.send_message(&cast.a, cast.ab, "plain").await.unwrap();
    let outside = w.services.messaging.forward(&cast.a, &origin(), cast.ab, plain.id, cast.bc).await.unwrap_err();
    assert_eq!(field_of(outside), "conversation_id");
    assert!(matches!(
        w.services.messaging.forward(&cast.c, &origin(), cast.ab, plain.id, cast.bc).await,
        Err(Error::NotFound(_))
    ));
    let office =
        template(&w, &cast, "Office", PolicyRules { networks: Some(vec!["10.0.0.0/8".into()]), ..Default::default() })
            .await;
    let gated = w.services.messaging.post(&cast.a, cast.ab, "office only", None, Some(office)).await.unwrap();
    let unseen = w.services.messaging.forward(&cast.b, &origin(), cast.ab, gated.id, cast.bc).await.unwrap_err();
    assert!(matches!(unseen, Error::PolicyRefused(_)), "{unseen:?}");
    assert_eq!(
        w.services.messaging.list_messages(&cast.c, cast.bc, None, None, 50).await.unwrap().len(),
        1,
        "only the one copy"
    );
}

#[tokio::test]
async fn a_recall_removes_every_copy_everywhere_at_once_and_for_good() {
    let w = world().await;
    let cast = cast(&w).await;
    let original = w.services.messaging.send_message(&cast.a, cast.ab, "wrong figures").await.unwrap();
    let copy = w.services.messaging.forward(&cast.b, &origin(), cast.ab, original.id, cast.bc).await.unwrap();
    let ca = w.services.messaging.open_direct(&cast.c, &origin(), cast.a.user_id).await.unwrap().id;
    let second = w.services.messaging.forward(&cast.c, &origin(), cast.bc, copy.id, ca).await.unwrap();
    // A member who did not write it may not recall it; the refusal is audited.
    assert!(matches!(
        w.services.messaging.recall(&cast.b, &origin(), cast.ab, original.id).await,
        Err(Error::Forbidden)
    ));
    let mut live = w.services.core.subscribe_events().await.unwrap();
    let receipt = w.services.messaging.recall(&cast.a, &origin(), cast.ab, original.id).await.unwrap();
    assert_eq!(receipt.removed, 3);
    assert_eq!(receipt.conversations.len(), 3);
    let mut removed = Vec::new();
    while removed.len() < 3 {
        let LiveDelivery::Event(ev) = tokio::time::timeout(Duration::from_secs(5), live.next()).await.unwrap().unwrap()
        else {
            panic!("lagged")
        };
        if let Event::MessagesRemoved { message_ids, reason, .. } = &ev.event {
            assert_eq!(reason, "recalled");
            removed.extend(message_ids.iter().copied());
        }
    }
    removed.sort();
    let mut expected = vec![original.id, copy.id, second.id];
    expected.sort();
    assert_eq!(removed, expected);
    for (who, conversation, id) in
        [(&cast.b, cast.ab, original.id), (&cast.c, cast.bc, copy.id), (&cast.a, ca, second.id)]
    {
        assert!(matches!(w.services.messaging.get_message(who, conversation, id).await, Err(Error::Recalled)));
        assert!(w.services.messaging.list_messages(who, conversation, None, None, 50).await.unwrap().is_empty());
    }
    assert!(matches!(
        w.services.messaging.recall(&cast.a, &origin(), cast.ab, original.id).await,
        Err(Error::Recalled)
    ));
    assert!(matches!(
        w.services.messaging.forward(&cast.b, &origin(), cast.ab, original.id, cast.bc).await,
        Err(Error::Recalled)
    ));
    let audit = w.services.compliance.enterprise_audit(&cast.admin, cast.e, None, 20).await.unwrap();
    let recall = audit.iter().find(|ev| ev.action == "message.recall" && ev.outcome == "success").unwrap();
    assert_eq!(recall.detail, r#"{"conversations":3,"copies":2}"#);
    assert!(audit.iter().any(|ev| ev.action == "message.recall" && ev.outcome == "denied"));
}

#[tokio::test]
async fn expiry_is_run_by_the_job_runner_and_burn_after_reading_counts_down() {
    let w = world().await;
    let cast = cast(&w).await;
    let short = template(&w, &cast, "Short", PolicyRules { expire_after_seconds: Some(1), ..Default::default() }).await;
    let burn = template(
        &w,
        &cast,
        "Burn",
        PolicyRules { burn_after_seconds: Some(30), expire_after_seconds: Some(600), ..Default::default() },
    )
    .await;
    let brief = w.services.messaging.post(&cast.a, cast.ab, "gone soon", None, Some(short)).await.unwrap();
    let jobs = w.store.list_jobs().await.unwrap();
    assert!(
        jobs.iter().any(|j| j.kind == "messages.expire" && j.payload.contains(&brief.id.to_string())),
        "scheduled with the message"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // Past its time it is gone even before the job runs (its thread too); the job then destroys it.
    assert!(matches!(w.services.messaging.get_message(&cast.b, cast.ab, brief.id).await, Err(Error::NotFound(_))));
    assert!(matches!(w.services.messaging.thread(&cast.b, cast.ab, brief.id).await, Err(Error::NotFound(_))));
    assert!(w.services.run_due_jobs().await.unwrap() >= 1);
    let row = w.store.find_message(cast.e, brief.id).await.unwrap().unwrap();
    assert_eq!((row.body_ct, row.removed), (None, Some(store::Removal::Expired)));
    // Burn after reading: concealed, revealed once, counted for the sender.
    let secret = w.services.messaging.post(&cast.a, cast.ab, "read me once", None, Some(burn)).await.unwrap();
    let concealed = w.services.messaging.get_message(&cast.b, cast.ab, secret.id).await.unwrap();
    assert_eq!((concealed.body, concealed.control.unwrap().state.as_str()), (None, "concealed"));
    let revealed = w.services.messaging.reveal(&cast.b, cast.ab, secret.id).await.unwrap();
    assert_eq!(revealed.body.as_deref(), Some("read me once"));
    assert!(revealed.control.as_ref().unwrap().burns_at.is_some());
    let again = w.services.messaging.reveal(&cast.b, cast.ab, secret.id).await.unwrap();
    assert_eq!(again.control.unwrap().burns_at, revealed.control.unwrap().burns_at, "the first countdown stands");
    let mine = w.services.messaging.get_message(&cast.a, cast.ab, secret.id).await.unwrap();
    assert_eq!(mine.control.unwrap().revealed_by, Some(1));
    let plain = w.services.messaging.send_message(&cast.a, cast.ab, "plain").await.unwrap();
    assert_eq!(field_of(w.services.messaging.reveal(&cast.b, cast.ab, plain.id).await.unwrap_err()), "message_id");
}

#[tokio::test]
async fn a_conversation_default_applies_when_the_sender_picks_none() {
    let w = world().await;
    let cast = cast(&w).await;
    let sealed = template(&w, &cast, "Sealed", PolicyRules { no_forward: true, ..Default::default() }).await;
    // A member of a direct conversation is no owner of a group: only admins set it there.
    assert!(matches!(
        w.services.messaging.set_default_policy(&cast.a, &origin(), cast.ab, Some(sealed)).await,
        Err(Error::Forbidden)
    ));
    let admin = w.principal("admin@e.example").await;
    let group = w.services.messaging.create_group(&admin, &origin(), "Board", &[cast.a.user_id]).await.unwrap();
    let view = w.services.messaging.set_default_policy(&admin, &origin(), group.id, Some(sealed)).await.unwrap();
    assert_eq!(view.default_policy_id, Some(sealed));
    let sent = w.services.messaging.send_message(&cast.a, group.id, "minutes").await.unwrap();
    assert!(sent.control.unwrap().no_forward);
    let bad = w.services.messaging.set_default_policy(&admin, &origin(), group.id, Some(MessagePolicyId::new())).await;
    assert_eq!(field_of(bad.unwrap_err()), "policy_id");
    let cleared = w.services.messaging.set_default_policy(&admin, &origin(), group.id, None).await.unwrap();
    assert_eq!(cleared.default_policy_id, None);
}

#[tokio::test]
async fn a_recall_cut_short_after_its_commit_is_finished_by_the_job_runner() {
    let files_dir = tempfile::tempdir().unwrap();
    let settings = services::Settings { files_dir: Some(files_dir.path().to_owned()), ..crate::settings() };
    let w = crate::world_with(settings, |s| s).await;
    let cast = cast(&w).await;
    let bytes = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"the old plan"))]);
    let upload =
        services::attachments::Upload { name: "plan.txt", media_type: "text/plain", caption: None, policy: None };
    let sent = w.services.attachments.send_attachment(&cast.a, cast.ab, &upload, bytes).await.unwrap();
    let copy = w.services.messaging.forward(&cast.b, &origin(), cast.ab, sent.id, cast.bc).await.unwrap();
    assert_eq!(std::fs::read_dir(files_dir.path()).unwrap().count(), 1, "the copy shares the file");
    // The process dies right after the recall's transaction commits, before it deletes the file:
    // here the store's step alone runs, with the job it schedules.
    let job = store::JobRow {
        key: format!("messages.shred-files:{}:0", sent.id),
        kind: "messages.shred-files".into(),
        payload: serde_json::json!({ "enterprise_id": cast.e, "conversation_id": cast.ab, "message_id": sent.id })
            .to_string(),
        due_at: domain::Millis::now(),
        lease_owner: None,
        lease_expires_at: None,
        attempts: 0,
        last_error: None,
        created_at: domain::Millis::now(),
        updated_at: domain::Millis::now(),
    };
    let remove = store::RemoveMessages {
        message: sent.id,
        removal: store::Removal::Recalled,
        with_copies: true,
        at: domain::Millis::now(),
        audit: None,
        job: Some(&job),
    };
    assert_eq!(w.store.remove_messages(cast.e, &remove).await.unwrap().len(), 2);
    assert!(matches!(w.services.messaging.get_message(&cast.c, cast.bc, copy.id).await, Err(Error::Recalled)));
    assert_eq!(std::fs::read_dir(files_dir.path()).unwrap().count(), 1, "the crash left the file");
    // After a restart the job runner finishes it; running it twice changes nothing.
    assert!(w.services.run_due_jobs().await.unwrap() >= 1);
    assert_eq!(std::fs::read_dir(files_dir.path()).unwrap().count(), 0);
    assert!(w.store.get_job(&job.key).await.unwrap().is_none(), "done once, then gone");
}

#[tokio::test]
async fn whoever_forwards_a_copy_stays_bound_by_its_rules_and_cannot_reword_it() {
    let w = world().await;
    let cast = cast(&w).await;
    let office = template(
        &w,
        &cast,
        "Office",
        PolicyRules { networks: Some(vec!["10.0.0.0/8".into()]), no_copy: true, ..Default::default() },
    )
    .await;
    let sent = w.services.messaging.post(&cast.a, cast.ab, "the floor plan", None, Some(office)).await.unwrap();
    let mut at_office = cast.b.clone();
    at_office.origin.ip = Some("10.9.8.7".into());
    let copy = w.services.messaging.forward(&at_office, &origin(), cast.ab, sent.id, cast.bc).await.unwrap();
    assert_eq!(copy.body.as_deref(), Some("the floor plan"), "read where it may be read");
    // From home, Bob's own copy is as closed to him as the original.
    let at_home = w.services.messaging.get_message(&cast.b, cast.bc, copy.id).await.unwrap();
    assert_eq!((at_home.body, at_home.control.unwrap().state.as_str()), (None, "restricted"));
    let history = w.services.messaging.list_messages(&cast.b, cast.bc, None, None, 50).await.unwrap();
    assert_eq!(history[0].body, None);
    // The original's author reads every copy of their words anywhere.
    let ca = w.services.messaging.open_direct(&cast.c, &origin(), cast.a.user_id).await.unwrap().id;
    let mut c_at_office = cast.c.clone();
    c_at_office.origin.ip = Some("10.1.1.1".into());
    let back = w.services.messaging.forward(&c_at_office, &origin(), cast.bc, copy.id, ca).await.unwrap();
    let seen = w.services.messaging.get_message(&cast.a, ca, back.id).await.unwrap();
    assert_eq!(seen.body.as_deref(), Some("the floor plan"));
    // A copy shows its author's words: whoever forwarded it cannot change them.
    let e = w.services.messaging.edit_message(&at_office, cast.bc, copy.id, "my words now").await.unwrap_err();
    assert_eq!(field_of(e), "message_id");
}

#[tokio::test]
async fn a_scheduled_message_is_delivered_by_the_job_runner_once_and_can_be_cancelled_before() {
    let w = world().await;
    let cast = cast(&w).await;
    let now = domain::Millis::now();
    let soon = domain::Millis(now.0 + 800);
    for (at, why) in
        [(domain::Millis(now.0 - 1_000), "past"), (domain::Millis(now.0 + 400 * 24 * 3600 * 1000), "too far")]
    {
        let e = w.services.messaging.schedule(&cast.a, cast.ab, "hello", None, at).await.unwrap_err();
        assert_eq!(field_of(e), "deliver_at", "{why}");
    }
    let outsider = w.services.messaging.schedule(&cast.c, cast.ab, "let me in", None, soon).await.unwrap_err();
    assert!(matches!(outsider, Error::NotFound(_)), "{outsider:?}");
    let brief =
        template(&w, &cast, "Brief", PolicyRules { expire_after_seconds: Some(3600), ..Default::default() }).await;
    let waiting = w.services.messaging.schedule(&cast.a, cast.ab, "good morning", Some(brief), soon).await.unwrap();
    let cancelled = w.services.messaging.schedule(&cast.a, cast.ab, "never mind", None, soon).await.unwrap();
    assert_eq!(w.services.messaging.scheduled(&cast.a, cast.ab).await.unwrap().len(), 2);
    assert!(w.services.messaging.scheduled(&cast.b, cast.ab).await.unwrap().is_empty(), "only the sender sees them");
    assert!(matches!(
        w.services.messaging.cancel_scheduled(&cast.b, cast.ab, cancelled.id).await,
        Err(Error::NotFound(_))
    ));
    w.services.messaging.cancel_scheduled(&cast.a, cast.ab, cancelled.id).await.unwrap();
    assert!(w.services.messaging.list_messages(&cast.b, cast.ab, None, None, 50).await.unwrap().is_empty(), "not yet");
    let mut live = w.services.core.subscribe_events().await.unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(w.services.run_due_jobs().await.unwrap(), 1, "the cancelled one has no job left");
    let history = w.services.messaging.list_messages(&cast.b, cast.ab, None, None, 50).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].id, history[0].body.as_deref()), (waiting.id, Some("good morning")));
    assert!(history[0].control.as_ref().unwrap().expires_at.is_some(), "under the template picked");
    let LiveDelivery::Event(ev) = tokio::time::timeout(Duration::from_secs(5), live.next()).await.unwrap().unwrap()
    else {
        panic!("lagged")
    };
    assert!(matches!(&ev.event, Event::MessageCreated { message } if message.id == waiting.id));
    assert!(w.services.messaging.scheduled(&cast.a, cast.ab).await.unwrap().is_empty());
    assert!(
        matches!(w.services.messaging.cancel_scheduled(&cast.a, cast.ab, waiting.id).await, Err(Error::NotFound(_))),
        "delivered: nothing to cancel"
    );
}

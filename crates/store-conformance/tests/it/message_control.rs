//! Message control: templates per enterprise, forward lineage, recall of a whole tree in one
//! transaction, expiry of one message, reveals, and shared files.

use crate::{audit, conversation, enterprise, member, message, pair};
use domain::messaging::ConversationKind;
use domain::{MessagePolicyId, Millis};
use store::{
    Error, ForwardLink, MessageIndex, MessagePage, MessagePolicyChange, MessagePolicyRow, MessageRow, Removal,
    RemoveMessages,
};
use store_conformance::conformance;

/// A job scheduled with a message (its payload does not matter to the store).
fn job_row(key: &str, kind: &str) -> store::JobRow {
    store::JobRow {
        key: key.into(),
        kind: kind.into(),
        payload: "{}".into(),
        due_at: Millis(9_000),
        lease_owner: None,
        lease_expires_at: None,
        attempts: 0,
        last_error: None,
        created_at: Millis(1),
        updated_at: Millis(1),
    }
}

fn template(e: domain::EnterpriseId, name: &str) -> MessagePolicyRow {
    MessagePolicyRow {
        id: MessagePolicyId::new(),
        enterprise_id: e,
        name: name.into(),
        rules: r#"{"no_forward":true}"#.into(),
        version: 1,
        created_at: Millis(1),
        updated_at: Millis(1),
        retired_at: None,
    }
}

conformance!(message_policy_templates_are_versioned_retired_and_kept_per_enterprise, |store| {
    let e = enterprise(&store).await;
    let t = template(e, "Board only");
    store.create_message_policy(&t, &audit("message-policy.create", Some(e))).await.unwrap();
    let twin = store.create_message_policy(&template(e, "Board only"), &audit("message-policy.create", Some(e))).await;
    assert!(matches!(twin, Err(Error::Conflict(ref c)) if c == "message_policies.name"), "{twin:?}");
    let change = MessagePolicyChange { name: "Board", rules: "{}", expected_version: Some(1), at: Millis(2) };
    let updated =
        store.update_message_policy(e, t.id, &change, &audit("message-policy.update", Some(e))).await.unwrap();
    assert_eq!((updated.version, updated.name.as_str(), updated.rules.as_str()), (2, "Board", "{}"));
    let stale = store.update_message_policy(e, t.id, &change, &audit("message-policy.update", Some(e))).await;
    assert!(matches!(stale, Err(Error::Conflict(ref c)) if c == "message_policies.version"), "{stale:?}");
    // Another enterprise neither sees nor changes it.
    let other = enterprise(&store).await;
    assert!(store.get_message_policy(other, t.id).await.unwrap().is_none());
    assert!(store.list_message_policies(other).await.unwrap().is_empty());
    let across = MessagePolicyChange { expected_version: None, ..change };
    assert!(matches!(
        store.update_message_policy(other, t.id, &across, &audit("message-policy.update", Some(other))).await,
        Err(Error::NotFound)
    ));
    // A conversation's default must be an active template of its enterprise.
    let (e2, a, _, c) = pair(&store).await;
    let mine = template(e2, "Mine");
    store.create_message_policy(&mine, &audit("message-policy.create", Some(e2))).await.unwrap();
    let set = |p| {
        let store = store.clone();
        async move { store.set_default_message_policy(e2, c.id, p, &audit("conversation.default-policy", Some(e2))).await }
    };
    assert!(matches!(set(Some(t.id)).await, Err(Error::NotFound)), "another enterprise's template");
    set(Some(mine.id)).await.unwrap();
    let read = store.conversation_for_member(e2, c.id, a.id).await.unwrap().unwrap().0;
    assert_eq!(read.default_policy_id, Some(mine.id));
    // Retiring keeps the row, frees the name and clears it as a default.
    let retired =
        store.retire_message_policy(e2, mine.id, Millis(3), &audit("message-policy.retire", Some(e2))).await.unwrap();
    assert_eq!(retired.retired_at, Some(Millis(3)));
    assert!(matches!(
        store.retire_message_policy(e2, mine.id, Millis(4), &audit("message-policy.retire", Some(e2))).await,
        Err(Error::NotFound)
    ));
    assert_eq!(store.conversation_for_member(e2, c.id, a.id).await.unwrap().unwrap().0.default_policy_id, None);
    assert!(matches!(set(Some(mine.id)).await, Err(Error::NotFound)), "a retired template");
    store.create_message_policy(&template(e2, "Mine"), &audit("message-policy.create", Some(e2))).await.unwrap();
    assert_eq!(store.list_message_policies(e2).await.unwrap().len(), 2);
});

conformance!(a_recall_removes_every_copy_at_any_depth_in_one_step, |store| {
    let (e, a, b, ab) = pair(&store).await;
    let cc = crate::user(&store, e, b"c").await;
    let dd = crate::user(&store, e, b"d").await;
    let bc = conversation(e, ConversationKind::Group, b.id, None);
    store
        .create_conversation(&bc, &[member(&bc, b.id), member(&bc, cc.id)], &audit("conversation.create", Some(e)))
        .await
        .unwrap();
    let cd = conversation(e, ConversationKind::Group, cc.id, None);
    store
        .create_conversation(&cd, &[member(&cd, cc.id), member(&cd, dd.id)], &audit("conversation.create", Some(e)))
        .await
        .unwrap();
    let attachment = store::AttachmentMeta {
        id: domain::AttachmentId::new(),
        name_ct: vec![3; 20],
        content_type: "text/plain".into(),
        size: 5,
        thumbnail: None,
    };
    let original = MessageRow { attachment: Some(attachment.clone()), ..message(&ab, a.id) };
    let original = store.append_message(e, &original, &MessageIndex::default()).await.unwrap().0;
    let copy = |c: &store::ConversationRow, by, parent: &MessageRow, hops| MessageRow {
        attachment: Some(attachment.clone()),
        forward: Some(ForwardLink { parent_id: parent.id, root_id: original.id, hops, original_sender_id: a.id }),
        ..message(c, by)
    };
    let words = [vec![7u8; 16]];
    let indexed = MessageIndex { words: &words, ..Default::default() };
    let first = store.append_message(e, &copy(&bc, b.id, &original, 1), &indexed).await.unwrap().0;
    let second = store.append_message(e, &copy(&cd, cc.id, &first, 2), &MessageIndex::default()).await.unwrap().0;
    assert_eq!(second.forward.as_ref().unwrap().hops, 2);
    let tree = store.forward_descendants(e, original.id).await.unwrap();
    assert_eq!(tree.iter().map(|m| m.id).collect::<Vec<_>>(), [first.id, second.id]);
    assert_eq!(
        store.forward_counts(e, &[original.id, first.id, second.id]).await.unwrap(),
        [(original.id, 2), (first.id, 1)]
    );
    assert!(store.forward_descendants(enterprise(&store).await, original.id).await.unwrap().is_empty(), "tenant");
    assert!(store.attachment_in_use(attachment.id).await.unwrap());
    // Recalling a copy takes its subtree only.
    let job = job_row(&format!("shred:{}", original.id), "messages.shred-files");
    let recall = |m| RemoveMessages {
        message: m,
        removal: Removal::Recalled,
        with_copies: true,
        at: Millis(50),
        audit: None,
        job: None,
    };
    let audited = audit("message.recall", Some(e));
    let whole = RemoveMessages { audit: Some(&audited), job: Some(&job), ..recall(original.id) };
    let other = enterprise(&store).await;
    assert!(store.remove_messages(other, &whole).await.unwrap().is_empty(), "another tenant removes nothing");
    let removed = store.remove_messages(e, &whole).await.unwrap();
    assert_eq!(removed.len(), 3);
    assert!(removed.iter().all(|m| m.body_ct.is_none() && m.removed == Some(Removal::Recalled)));
    assert!(removed.iter().all(|m| m.attachment.as_ref().is_some_and(|a| a.name_ct.is_empty())));
    assert!(store.get_job(&job.key).await.unwrap().is_some(), "the file job came with it");
    assert!(!store.attachment_in_use(attachment.id).await.unwrap());
    assert!(store.remove_messages(e, &whole).await.unwrap().is_empty(), "twice removes nothing");
    assert!(store.list_messages(e, bc.id, MessagePage::After(0), 10).await.unwrap().is_empty(), "gone from history");
    let found = store.get_message(e, bc.id, first.id).await.unwrap().unwrap();
    assert_eq!(found.removed, Some(Removal::Recalled), "but still known as recalled");
    assert!(store.search_messages(e, b.id, &words, &Default::default(), 10).await.unwrap().is_empty());
    // A copy of a recalled message cannot be made afterwards.
    let late = store.append_message(e, &copy(&bc, b.id, &original, 1), &MessageIndex::default()).await;
    assert!(matches!(late, Err(Error::Conflict(ref c)) if c == "messages.forwarded_from"), "{late:?}");
});

conformance!(an_expiry_removes_one_message_and_reveals_are_kept_once, |store| {
    let (e, a, b, c) = pair(&store).await;
    let m = store.append_message(e, &message(&c, a.id), &MessageIndex::default()).await.unwrap().0;
    let burns = store.reveal_message(e, m.id, b.id, Millis(10), Millis(70)).await.unwrap();
    assert_eq!(burns, Millis(70));
    let again = store.reveal_message(e, m.id, b.id, Millis(20), Millis(80)).await.unwrap();
    assert_eq!(again, Millis(70), "the first reveal stands");
    assert_eq!(store.reveals_for(e, b.id, &[m.id]).await.unwrap(), [(m.id, Millis(70))]);
    assert!(store.reveals_for(e, a.id, &[m.id]).await.unwrap().is_empty());
    assert_eq!(store.reveal_counts(e, &[m.id]).await.unwrap(), [(m.id, 1)]);
    let other = enterprise(&store).await;
    assert!(matches!(store.reveal_message(other, m.id, b.id, Millis(1), Millis(2)).await, Err(Error::NotFound)));
    assert!(store.reveal_counts(other, &[m.id]).await.unwrap().is_empty());
    let expire = RemoveMessages {
        message: m.id,
        removal: Removal::Expired,
        with_copies: false,
        at: Millis(100),
        audit: None,
        job: None,
    };
    let removed = store.remove_messages(e, &expire).await.unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].removed, Some(Removal::Expired));
    assert!(store.reveal_counts(e, &[m.id]).await.unwrap().is_empty(), "reveals go with it");
    assert_eq!(store.find_message(e, m.id).await.unwrap().unwrap().removed, Some(Removal::Expired));
    assert!(store.find_message(other, m.id).await.unwrap().is_none());
});

conformance!(scheduled_messages_wait_for_members_only_and_cancel_with_their_job, |store| {
    let (e, a, b, c) = pair(&store).await;
    let row = |sender: domain::UserId| store::ScheduledMessageRow {
        id: domain::MessageId::new(),
        enterprise_id: e,
        conversation_id: c.id,
        sender_id: sender,
        body_ct: vec![5; 30],
        policy_id: None,
        policy_rules: None,
        deliver_at: Millis(9_000),
        created_at: Millis(1),
    };
    let job = |key: &str| job_row(key, "messages.deliver");
    let mine = row(a.id);
    store.schedule_message(&mine, &job("deliver-1")).await.unwrap();
    assert!(store.get_job("deliver-1").await.unwrap().is_some(), "the job comes with it");
    let stranger = crate::user(&store, e, b"s").await;
    assert!(matches!(store.schedule_message(&row(stranger.id), &job("deliver-2")).await, Err(Error::NotFound)));
    assert!(store.get_job("deliver-2").await.unwrap().is_none(), "nothing half-written");
    assert_eq!(store.scheduled_messages(e, a.id, c.id).await.unwrap(), std::slice::from_ref(&mine));
    assert!(store.scheduled_messages(e, b.id, c.id).await.unwrap().is_empty());
    let other = enterprise(&store).await;
    assert!(store.get_scheduled_message(other, mine.id).await.unwrap().is_none());
    assert!(!store.cancel_scheduled_message(e, b.id, mine.id, "deliver-1").await.unwrap(), "not the sender");
    assert!(!store.cancel_scheduled_message(other, a.id, mine.id, "deliver-1").await.unwrap(), "another tenant");
    assert!(store.cancel_scheduled_message(e, a.id, mine.id, "deliver-1").await.unwrap());
    assert!(store.get_job("deliver-1").await.unwrap().is_none());
    assert!(store.get_scheduled_message(e, mine.id).await.unwrap().is_none());
    // Once delivered, the schedule is forgotten (only inside its enterprise).
    let second = row(a.id);
    store.schedule_message(&second, &job("deliver-3")).await.unwrap();
    store.delete_scheduled_message(other, second.id).await.unwrap();
    assert!(store.get_scheduled_message(e, second.id).await.unwrap().is_some(), "not from another tenant");
    store.delete_scheduled_message(e, second.id).await.unwrap();
    assert!(store.get_scheduled_message(e, second.id).await.unwrap().is_none());
});

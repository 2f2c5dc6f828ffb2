//! Conversations and messages: membership is the boundary, bodies are sealed, events go live.

use crate::{origin, world};
use domain::{ConversationId, MessageId, Role, Rule};
use futures_util::StreamExt as _;
use services::messaging::{Event, LiveDelivery};
use services::Error;
use std::time::Duration;

#[tokio::test]
async fn direct_conversations_need_someone_else_in_the_same_enterprise() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let other_e = w.enterprise("Other").await;
    w.user(e, "a@e.example", Role::Member).await;
    let b = w.user(e, "b@e.example", Role::Member).await;
    let stranger = w.user(other_e, "s@o.example", Role::Member).await;
    let a = w.principal("a@e.example").await;
    let err = w.services.messaging.open_direct(&a, &origin(), a.user_id).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(ref f) if f.field == "user_id"), "{err:?}");
    assert!(matches!(w.services.messaging.open_direct(&a, &origin(), stranger.id).await, Err(Error::NotFound(_))));
    let first = w.services.messaging.open_direct(&a, &origin(), b.id).await.unwrap();
    let again = w.services.messaging.open_direct(&a, &origin(), b.id).await.unwrap();
    assert_eq!(first.id, again.id, "one direct conversation per pair");
    let from_b = w
        .services
        .messaging
        .open_direct(&w.principal("b@e.example").await, &origin(), first.member_ids[0])
        .await
        .unwrap();
    assert_eq!(from_b.id, first.id);
    assert_eq!(w.services.messaging.list_conversations(&a).await.unwrap().len(), 1);
}

#[tokio::test]
async fn non_members_cannot_send_read_or_learn_that_a_conversation_exists() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "a@e.example", Role::Member).await;
    let b = w.user(e, "b@e.example", Role::Member).await;
    w.user(e, "c@e.example", Role::EnterpriseAdmin).await;
    let a = w.principal("a@e.example").await;
    let c = w.principal("c@e.example").await;
    let conv = w.services.messaging.open_direct(&a, &origin(), b.id).await.unwrap();
    w.services.messaging.send_message(&a, conv.id, "hello").await.unwrap();
    let unknown = ConversationId::new();
    for id in [conv.id, unknown] {
        assert!(matches!(
            w.services.messaging.send_message(&c, id, "let me in").await,
            Err(Error::NotFound("conversation"))
        ));
        assert!(matches!(
            w.services.messaging.list_messages(&c, id, None, None, 50).await,
            Err(Error::NotFound("conversation"))
        ));
        assert!(matches!(w.services.messaging.get_conversation(&c, id).await, Err(Error::NotFound("conversation"))));
        assert!(matches!(w.services.messaging.mark_read(&c, id, 1).await, Err(Error::NotFound("conversation"))));
    }
    assert_eq!(
        w.services.messaging.list_messages(&a, conv.id, None, None, 50).await.unwrap().len(),
        1,
        "nothing was added"
    );
}

#[tokio::test]
async fn bad_bodies_and_cursors_are_refused_and_nothing_is_written() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "a@e.example", Role::Member).await;
    let b = w.user(e, "b@e.example", Role::Member).await;
    let a = w.principal("a@e.example").await;
    let conv = w.services.messaging.open_direct(&a, &origin(), b.id).await.unwrap();
    for (body, rule) in [("", Rule::Empty), ("  \n ", Rule::Empty), (&*"x".repeat(64 * 1024 + 1), Rule::TooLong)] {
        match w.services.messaging.send_message(&a, conv.id, body).await {
            Err(Error::Invalid(f)) => assert_eq!((f.field.as_str(), f.rule), ("body", rule)),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        w.services.messaging.list_messages(&a, conv.id, Some(5), Some(1), 10).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(w.services.messaging.mark_read(&a, conv.id, -1).await, Err(Error::Invalid(_))));
    assert!(w.services.messaging.list_messages(&a, conv.id, None, None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_operator_sets_the_longest_message() {
    let settings = services::Settings { max_message_bytes: 16, ..crate::settings() };
    let w = crate::world_with(settings, |s| s).await;
    let e = w.enterprise("E").await;
    w.user(e, "a@e.example", Role::Member).await;
    let b = w.user(e, "b@e.example", Role::Member).await;
    let a = w.principal("a@e.example").await;
    let conv = w.services.messaging.open_direct(&a, &origin(), b.id).await.unwrap();
    assert!(w.services.messaging.send_message(&a, conv.id, "sixteen bytes ok").await.is_ok());
    match w.services.messaging.send_message(&a, conv.id, "seventeen bytes!!").await {
        Err(Error::Invalid(f)) => assert_eq!((f.field.as_str(), f.rule), ("body", Rule::TooLong)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn only_the_sender_edits_and_deletes_and_history_pages() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "a@e.example", Role::Member).await;
    w.user(e, "b@e.example", Role::Member).await;
    let a = w.principal("a@e.example").await;
    let b = w.principal("b@e.example").await;
    let conv = w.services.messaging.create_group(&a, &origin(), "Planning", &[b.user_id]).await.unwrap();
    assert_eq!(conv.title.as_deref(), Some("Planning"));
    let m = w.services.messaging.send_message(&a, conv.id, "first").await.unwrap();
    for i in 0..4 {
        w.services.messaging.send_message(&b, conv.id, &format!("reply {i}")).await.unwrap();
    }
    assert!(matches!(w.services.messaging.edit_message(&b, conv.id, m.id, "mine now").await, Err(Error::Forbidden)));
    assert!(matches!(w.services.messaging.delete_message(&b, conv.id, m.id).await, Err(Error::Forbidden)));
    assert!(matches!(
        w.services.messaging.edit_message(&a, conv.id, MessageId::new(), "x").await,
        Err(Error::NotFound(_))
    ));
    let edited = w.services.messaging.edit_message(&a, conv.id, m.id, "first, edited").await.unwrap();
    assert_eq!((edited.body.as_deref(), edited.edited_at.is_some()), (Some("first, edited"), true));
    let deleted = w.services.messaging.delete_message(&a, conv.id, m.id).await.unwrap();
    assert_eq!((deleted.body, deleted.deleted), (None, true));
    assert!(matches!(w.services.messaging.delete_message(&a, conv.id, m.id).await, Err(Error::NotFound(_))));

    let newest = w.services.messaging.list_messages(&a, conv.id, None, None, 2).await.unwrap();
    assert_eq!(newest.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![5, 4]);
    let older = w.services.messaging.list_messages(&a, conv.id, Some(4), None, 10).await.unwrap();
    assert_eq!(older.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3, 2, 1]);
    // Unread counts only others' messages that still exist: a's own (now deleted) first one
    // never counted for a, and b has read what b wrote.
    let view = w.services.messaging.get_conversation(&a, conv.id).await.unwrap();
    assert_eq!((view.last_seq, view.unread), (5, 4));
    assert_eq!(view.read_up_to, [services::messaging::ReadPosition { user_id: b.user_id, seq: 5 }]);
    let for_b = w.services.messaging.list_conversations(&b).await.unwrap();
    assert_eq!((for_b[0].unread, for_b[0].last_read_seq), (0, 5));
    assert_eq!(w.services.messaging.mark_read(&a, conv.id, 5).await.unwrap(), 5);
    assert_eq!(w.services.messaging.get_conversation(&a, conv.id).await.unwrap().unread, 0);
}

#[tokio::test]
async fn deleted_messages_leave_the_unread_count() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "a@e.example", Role::Member).await;
    let bob = w.user(e, "b@e.example", Role::Member).await;
    let (a, b) = (w.principal("a@e.example").await, w.principal("b@e.example").await);
    let conv = w.services.messaging.open_direct(&a, &origin(), bob.id).await.unwrap();
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(w.services.messaging.send_message(&b, conv.id, &format!("note {i}")).await.unwrap());
    }
    assert_eq!(w.services.messaging.list_conversations(&a).await.unwrap()[0].unread, 3);
    w.services.messaging.delete_message(&b, conv.id, sent[1].id).await.unwrap();
    assert_eq!(w.services.messaging.list_conversations(&a).await.unwrap()[0].unread, 2);
    assert_eq!(w.services.messaging.get_conversation(&a, conv.id).await.unwrap().unread, 2);
}

#[tokio::test]
async fn members_receive_events_and_the_bus_never_carries_plaintext() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "a@e.example", Role::Member).await;
    let b = w.user(e, "b@e.example", Role::Member).await;
    let a = w.principal("a@e.example").await;
    let mut live = w.services.core.subscribe_events().await.unwrap();
    let mut raw = w.bus.subscribe("conclave.>").await.unwrap();
    let conv = w.services.messaging.open_direct(&a, &origin(), b.id).await.unwrap();
    w.services.messaging.send_message(&a, conv.id, "the launch code is tulip").await.unwrap();
    let LiveDelivery::Event(created) = next(&mut live).await else { panic!("lagged") };
    assert!(matches!(created.event, Event::ConversationCreated { conversation_id } if conversation_id == conv.id));
    let LiveDelivery::Event(sent) = next(&mut live).await else { panic!("lagged") };
    assert_eq!(sent.recipients.len(), 2);
    assert!(
        matches!(&sent.event, Event::MessageCreated { message } if message.body.as_deref() == Some("the launch code is tulip"))
    );
    for _ in 0..2 {
        let delivery = tokio::time::timeout(Duration::from_secs(5), raw.next()).await.unwrap().unwrap();
        let bus::Delivery::Event { payload, .. } = delivery else { panic!() };
        assert!(!String::from_utf8_lossy(&payload).contains("tulip"));
        assert!(!String::from_utf8_lossy(&payload).contains(&b.id.to_string()), "recipients are sealed too");
    }
}

async fn next(s: &mut futures_util::stream::BoxStream<'static, LiveDelivery>) -> LiveDelivery {
    tokio::time::timeout(Duration::from_secs(5), s.next()).await.unwrap().unwrap()
}

#[tokio::test]
async fn team_members_join_their_team_channel_and_outsiders_cannot() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let admin = w.user(e, "admin@e.example", Role::EnterpriseAdmin).await;
    let ann = w.user(e, "ann@e.example", Role::Member).await;
    let ben = w.user(e, "ben@e.example", Role::Member).await;
    w.user(e, "out@e.example", Role::Member).await;
    let team = w.services.directory.create_team(&services::Caller::Operator, &origin(), e, "Platform").await.unwrap();
    for u in [ann.id, ben.id] {
        w.services
            .directory
            .put_team_member(&services::Caller::Operator, &origin(), e, team.id, u, false)
            .await
            .unwrap();
    }
    let ann_p = w.principal("ann@e.example").await;
    let channel = w.services.messaging.join_team_channel(&ann_p, &origin(), team.id).await.unwrap();
    assert_eq!((channel.kind, channel.title.as_deref()), (domain::messaging::ConversationKind::Team, Some("Platform")));
    let ben_view =
        w.services.messaging.join_team_channel(&w.principal("ben@e.example").await, &origin(), team.id).await.unwrap();
    assert_eq!(ben_view.id, channel.id, "one channel per team");
    assert_eq!(ben_view.member_ids.len(), 2);
    let again = w.services.messaging.join_team_channel(&ann_p, &origin(), team.id).await.unwrap();
    assert_eq!(again.member_ids.len(), 2, "joining twice changes nothing");
    let outsider = w.principal("out@e.example").await;
    assert!(matches!(
        w.services.messaging.join_team_channel(&outsider, &origin(), team.id).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(w.services.messaging.send_message(&outsider, channel.id, "hi").await, Err(Error::NotFound(_))));
    let admin_p = w.principal("admin@e.example").await;
    assert_eq!(w.services.messaging.join_team_channel(&admin_p, &origin(), team.id).await.unwrap().member_ids.len(), 3);
    assert!(admin_p.user_id == admin.id);
    assert!(matches!(
        w.services.messaging.join_team_channel(&ann_p, &origin(), domain::TeamId::new()).await,
        Err(Error::NotFound(_))
    ));

    // Removed from the team, Ben leaves its channel too: no more reading, sending or events,
    // and everyone (Ben included) is told.
    w.services.messaging.send_message(&ann_p, channel.id, "before").await.unwrap();
    let ben_p = w.principal("ben@e.example").await;
    let mut live = w.services.core.subscribe_events().await.unwrap();
    w.services.directory.remove_team_member(&services::Caller::Operator, &origin(), e, team.id, ben.id).await.unwrap();
    let LiveDelivery::Event(left) = next(&mut live).await else { panic!("lagged") };
    assert!(left.recipients.contains(&ben.id) && left.recipients.contains(&ann.id), "{:?}", left.recipients);
    assert!(
        matches!(left.event, Event::MemberLeft { conversation_id, user_id } if conversation_id == channel.id && user_id == ben.id)
    );
    assert!(matches!(
        w.services.messaging.send_message(&ben_p, channel.id, "still here?").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        w.services.messaging.list_messages(&ben_p, channel.id, None, None, 50).await,
        Err(Error::NotFound(_))
    ));
    let rest = w.services.messaging.join_team_channel(&ann_p, &origin(), team.id).await.unwrap();
    assert!(!rest.member_ids.contains(&ben.id));
    assert!(matches!(w.services.messaging.join_team_channel(&ben_p, &origin(), team.id).await, Err(Error::Forbidden)));
}

#[tokio::test]
async fn group_owners_add_and_remove_members_and_members_may_leave() {
    let w = world().await;
    let e = w.enterprise("E").await;
    let other_e = w.enterprise("Other").await;
    w.user(e, "owner@e.example", Role::Member).await;
    let ann = w.user(e, "ann@e.example", Role::Member).await;
    let ben = w.user(e, "ben@e.example", Role::Member).await;
    let stranger = w.user(other_e, "s@o.example", Role::Member).await;
    let owner = w.principal("owner@e.example").await;
    let ann_p = w.principal("ann@e.example").await;
    let group = w.services.messaging.create_group(&owner, &origin(), "Launch", &[ann.id]).await.unwrap();
    let mut live = w.services.core.subscribe_events().await.unwrap();

    // Only the owner adds; someone of another enterprise is unknown here.
    assert!(matches!(
        w.services.messaging.add_group_member(&ann_p, &origin(), group.id, ben.id).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        w.services.messaging.add_group_member(&owner, &origin(), group.id, stranger.id).await,
        Err(Error::NotFound("user"))
    ));
    let view = w.services.messaging.add_group_member(&owner, &origin(), group.id, ben.id).await.unwrap();
    assert_eq!(view.member_ids.len(), 3);
    let LiveDelivery::Event(joined) = next(&mut live).await else { panic!("lagged") };
    assert!(matches!(joined.event, Event::MemberJoined { user_id, .. } if user_id == ben.id));
    assert_eq!(joined.recipients.len(), 3, "the newcomer hears it too");
    let ben_p = w.principal("ben@e.example").await;
    w.services.messaging.send_message(&ben_p, group.id, "hello all").await.unwrap();
    let _ = next(&mut live).await;

    // Members cannot remove others; they can leave. The owner removes; the removed hear it last.
    assert!(matches!(
        w.services.messaging.remove_group_member(&ann_p, &origin(), group.id, ben.id).await,
        Err(Error::Forbidden)
    ));
    w.services.messaging.remove_group_member(&owner, &origin(), group.id, ben.id).await.unwrap();
    let LiveDelivery::Event(left) = next(&mut live).await else { panic!("lagged") };
    assert!(matches!(left.event, Event::MemberLeft { user_id, .. } if user_id == ben.id));
    assert!(left.recipients.contains(&ben.id));
    assert!(matches!(
        w.services.messaging.send_message(&ben_p, group.id, "still here?").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        w.services.messaging.remove_group_member(&owner, &origin(), group.id, ben.id).await,
        Err(Error::NotFound("member"))
    ));
    w.services.messaging.remove_group_member(&ann_p, &origin(), group.id, ann.id).await.unwrap();
    assert!(matches!(w.services.messaging.get_conversation(&ann_p, group.id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        w.services.messaging.remove_group_member(&owner, &origin(), group.id, owner.user_id).await,
        Err(Error::Conflict(_))
    ));

    // Direct conversations never change members.
    let direct = w.services.messaging.open_direct(&owner, &origin(), ann.id).await.unwrap();
    assert!(matches!(
        w.services.messaging.add_group_member(&owner, &origin(), direct.id, ben.id).await,
        Err(Error::Invalid(_))
    ));
    assert_eq!(w.services.messaging.get_conversation(&owner, direct.id).await.unwrap().member_ids.len(), 2);
}

#[tokio::test]
async fn a_send_repeated_with_its_id_is_stored_once_and_an_id_cannot_be_taken_over() {
    let w = world().await;
    let e = w.enterprise("E").await;
    w.user(e, "a@e.example", Role::Member).await;
    let b = w.user(e, "b@e.example", Role::Member).await;
    let c = w.user(e, "c@e.example", Role::Member).await;
    let a = w.principal("a@e.example").await;
    let pb = w.principal("b@e.example").await;
    let ab = w.services.messaging.open_direct(&a, &origin(), b.id).await.unwrap().id;
    let ac = w.services.messaging.open_direct(&a, &origin(), c.id).await.unwrap().id;
    let m = &w.services.messaging;
    let id = MessageId::new();
    let first = m.post_once(&a, ab, "hello once", None, None, Some(id)).await.unwrap();
    assert!(!first.replayed);
    assert_eq!(first.message.id, id, "the message keeps the client's id");
    let again = m.post_once(&a, ab, "hello once", None, None, Some(id)).await.unwrap();
    assert!(again.replayed);
    assert_eq!((again.message.id, again.message.seq), (first.message.id, first.message.seq));
    // Repeats racing each other still store one message.
    let racing = MessageId::new();
    let (x, y) = tokio::join!(
        m.post_once(&a, ab, "raced", None, None, Some(racing)),
        m.post_once(&a, ab, "raced", None, None, Some(racing))
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.message.seq, y.message.seq);
    assert!(x.replayed != y.replayed, "exactly one of the two stored it");
    let history = m.list_messages(&a, ab, None, None, 50).await.unwrap();
    assert_eq!(history.iter().filter(|v| v.id == id || v.id == racing).count(), 2, "{history:?}");
    // Someone else, or another conversation, cannot reuse the id.
    let taken = m.post_once(&pb, ab, "mine now", None, None, Some(id)).await.unwrap_err();
    assert!(matches!(taken, Error::Conflict(ref f) if f.field == "id"), "{taken:?}");
    let pc = w.principal("c@e.example").await;
    let outsider = m.post_once(&pc, ab, "probe", None, None, Some(id)).await.unwrap_err();
    assert!(matches!(outsider, Error::NotFound(_)), "a non-member learns nothing of the id: {outsider:?}");
    let elsewhere = m.post_once(&a, ac, "moved", None, None, Some(id)).await.unwrap_err();
    assert!(matches!(elsewhere, Error::Conflict(ref f) if f.field == "id"), "{elsewhere:?}");
    assert_eq!(m.list_messages(&a, ab, None, None, 50).await.unwrap().len(), history.len());
}

//! Conversations and messages (M1): direct and group conversations, sending, editing, deleting,
//! history, read receipts, and the live events other members receive.
//!
//! Authorization is membership: every method first loads the caller's membership with the
//! tenant filter, and a non-member gets `NotFound`, never a hint that the conversation exists.
//! Bodies are sealed under the enterprise's data key, bound to the message id. Live events travel
//! over the bus sealed too (bound to the conversation), so NATS never carries plaintext.

pub mod attachments;
pub mod control;
pub mod policies;
pub mod scheduled;
pub mod search;
pub mod thumbnails;

pub use crate::core::events::EVENTS_SUBJECT;
pub use crate::protocol::{
    Addressed, ConversationView, Event, LiveDelivery, MessageView, ReactionView, ReadPosition, ThreadView,
};
pub use attachments::Attachments;
pub use policies::MessagePolicies;

use crate::core::events::conversation_topic;
use crate::{draft, Caller, Error, Principal, Result};
use crypto::{Aad, DataKey};
use domain::audit::{Action, Origin};
use domain::messaging::{self, ConversationKind, MemberRole};
use domain::{validate, ConversationId, EnterpriseId, FieldError, MessageId, Millis, Rule, TeamId, UserId};
use std::sync::Arc;

/// Conversations, messages and read receipts.
pub struct Messaging {
    core: Arc<crate::core::Core>,
    conversation_store: Arc<dyn store::ConversationStore>,
    directory_store: Arc<dyn store::DirectoryStore>,
    scheduled_store: Arc<dyn store::ScheduledMessageStore>,
    policies: Arc<MessagePolicies>,
}

/// Whether a store conflict is the message id's uniqueness (SQLite names the column, PostgreSQL
/// the primary key), not some other constraint met at the same time.
fn is_message_id_conflict(constraint: &str) -> bool {
    constraint.contains("messages.id") || constraint == "messages_pkey"
}

/// A client-chosen message id that another message has already.
fn id_taken() -> Error {
    Error::Conflict(FieldError::new("id", Rule::InvalidValue, "is already used by another message; choose a new id"))
}

/// A sent message, and whether this send only repeated an earlier one with the same id.
#[derive(Clone, Debug)]
pub struct Posted {
    pub message: MessageView,
    pub replayed: bool,
}

impl Messaging {
    pub(crate) fn new(
        core: Arc<crate::core::Core>,
        store: &Arc<dyn store::Store>,
        policies: Arc<MessagePolicies>,
    ) -> Messaging {
        Messaging {
            core,
            conversation_store: store.clone(),
            directory_store: store.clone(),
            scheduled_store: store.clone(),
            policies,
        }
    }
}

/// What kind of conversation to create, with what only that kind has.
struct Shape {
    kind: ConversationKind,
    title: Option<String>,
    direct_key: Option<String>,
    team_id: Option<TeamId>,
}

impl Shape {
    fn direct(key: String) -> Shape {
        Shape { kind: ConversationKind::Direct, title: None, direct_key: Some(key), team_id: None }
    }
    fn group(title: String) -> Shape {
        Shape { kind: ConversationKind::Group, title: Some(title), direct_key: None, team_id: None }
    }
    fn team(team: TeamId, title: String) -> Shape {
        Shape { kind: ConversationKind::Team, title: Some(title), direct_key: None, team_id: Some(team) }
    }
}

pub(crate) fn body_aad(id: &str) -> Aad<'_> {
    Aad { table: "messages", row: id, column: "body" }
}

pub(crate) fn open_message(key: &DataKey, row: &store::MessageRow) -> Result<MessageView> {
    let id = row.id.to_string();
    let body = row.body_ct.as_ref().map(|ct| key.open_str(ct, body_aad(&id))).transpose()?;
    Ok(MessageView {
        id: row.id,
        conversation_id: row.conversation_id,
        seq: row.seq,
        sender_id: row.sender_id,
        body,
        created_at: row.created_at.rfc3339(),
        edited_at: row.edited_at.map(Millis::rfc3339),
        deleted: row.deleted_at.is_some(),
        attachment: match &row.attachment {
            Some(a) if row.deleted_at.is_none() => Some(crate::protocol::AttachmentView {
                id: a.id,
                name: key.open_str(&a.name_ct, attachments::name_aad(&a.id.to_string()))?,
                content_type: a.content_type.clone(),
                size: a.size,
                thumbnail: a.thumbnail.as_ref().map(crate::protocol::ThumbnailView::from),
            }),
            _ => None,
        },
        reactions: Vec::new(),
        thread_root_id: row.thread_root_id,
        reply_count: 0,
        last_reply_at: None,
        control: None,
        forwarded: None,
        forward_count: 0,
    })
}

pub(crate) fn not_found(e: store::Error) -> Error {
    match e {
        store::Error::NotFound => Error::NotFound("conversation"),
        e => e.into(),
    }
}

impl Messaging {
    pub(crate) async fn membership(
        &self,
        p: &Principal,
        conversation: ConversationId,
    ) -> Result<(store::ConversationRow, store::ConversationMemberRow)> {
        self.conversation_store
            .conversation_for_member(p.enterprise_id, conversation, p.user_id)
            .await?
            .ok_or(Error::NotFound("conversation"))
    }

    async fn conversation_view(
        &self,
        key: &DataKey,
        c: &store::ConversationRow,
        me: &store::ConversationMemberRow,
    ) -> Result<ConversationView> {
        let unread = self.conversation_store.unread_counts(c.enterprise_id, me.user_id, Some(c.id)).await?;
        self.conversation_view_with(key, c, me, unread.first()).await
    }

    /// The view when the unread count is already known (a list counts them in one query).
    async fn conversation_view_with(
        &self,
        key: &DataKey,
        c: &store::ConversationRow,
        me: &store::ConversationMemberRow,
        unread: Option<&store::UnreadCount>,
    ) -> Result<ConversationView> {
        let members = self.conversation_store.list_members(c.enterprise_id, c.id).await?;
        let id = c.id.to_string();
        let title = c
            .title_ct
            .as_ref()
            .map(|ct| key.open_str(ct, Aad { table: "conversations", row: &id, column: "title" }))
            .transpose()?;
        Ok(ConversationView {
            id: c.id,
            kind: c.kind,
            title,
            member_ids: members.iter().map(|m| m.user_id).collect(),
            owner_ids: members.iter().filter(|m| m.role == MemberRole::Owner).map(|m| m.user_id).collect(),
            last_seq: c.last_seq,
            last_read_seq: me.last_read_seq,
            unread: unread.map_or(0, |u| u.unread),
            mentions: unread.map_or(0, |u| u.mentions),
            everyone_mentions: unread.map_or(0, |u| u.everyone_mentions),
            muted: me.muted,
            read_up_to: members
                .iter()
                .filter(|m| m.user_id != me.user_id)
                .map(|m| ReadPosition { user_id: m.user_id, seq: m.last_read_seq })
                .collect(),
            created_at: c.created_at.rfc3339(),
            default_policy_id: c.default_policy_id,
        })
    }

    /// Opens (or returns the existing) direct conversation with `other`.
    pub async fn open_direct(&self, p: &Principal, origin: &Origin, other: UserId) -> Result<ConversationView> {
        if other == p.user_id {
            return Err(Error::Invalid(FieldError::new(
                "user_id",
                Rule::InvalidValue,
                "a direct conversation needs someone other than you",
            )));
        }
        let key_text = messaging::direct_key(p.user_id, other);
        if let Some(view) = self.existing_direct(p, &key_text).await? {
            return Ok(view);
        }
        match self.create_conversation(p, origin, Shape::direct(key_text.clone()), &[other]).await {
            // Both people opened it at once and the other request won: theirs is ours.
            Err(Error::Conflict(_)) => self.existing_direct(p, &key_text).await?.ok_or(Error::NotFound("conversation")),
            other => other,
        }
    }

    async fn existing_direct(&self, p: &Principal, key_text: &str) -> Result<Option<ConversationView>> {
        let Some(existing) = self.conversation_store.find_direct(p.enterprise_id, key_text).await? else {
            return Ok(None);
        };
        let (c, me) = self.membership(p, existing.id).await?;
        Ok(Some(self.conversation_view(&*self.core.keys.enterprise_key(p.enterprise_id).await?, &c, &me).await?))
    }

    /// Creates a group with a title; the caller is its owner.
    pub async fn create_group(
        &self,
        p: &Principal,
        origin: &Origin,
        title: &str,
        members: &[UserId],
    ) -> Result<ConversationView> {
        let title = validate::name("title", title).map_err(Error::Invalid)?;
        if members.len() > messaging::MAX_GROUP_MEMBERS {
            return Err(Error::Invalid(FieldError::new(
                "member_ids",
                Rule::TooLong,
                format!("at most {} members", messaging::MAX_GROUP_MEMBERS),
            )));
        }
        self.create_conversation(p, origin, Shape::group(title), members).await
    }

    async fn create_conversation(
        &self,
        p: &Principal,
        origin: &Origin,
        shape: Shape,
        others: &[UserId],
    ) -> Result<ConversationView> {
        let Shape { kind, title, direct_key, team_id } = shape;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let id = ConversationId::new();
        let row_id = id.to_string();
        let now = Millis::now();
        let row = store::ConversationRow {
            id,
            enterprise_id: p.enterprise_id,
            kind,
            team_id,
            direct_key,
            title_ct: title
                .as_ref()
                .map(|t| key.seal_str(t, Aad { table: "conversations", row: &row_id, column: "title" })),
            created_by: p.user_id,
            created_at: now,
            last_seq: 0,
            default_policy_id: None,
        };
        let mut member_ids = vec![p.user_id];
        for other in others {
            if !member_ids.contains(other) {
                member_ids.push(*other);
            }
        }
        let members: Vec<_> = member_ids
            .iter()
            .map(|u| store::ConversationMemberRow {
                conversation_id: id,
                user_id: *u,
                role: if *u == p.user_id { MemberRole::Owner } else { MemberRole::Member },
                joined_at: now,
                last_read_seq: 0,
                muted: false,
            })
            .collect();
        let audit = draft(
            &Caller::User(p.clone()),
            origin,
            Some(p.enterprise_id),
            Action::ConversationCreate,
            Some(format!("conversation:{id}")),
        );
        self.conversation_store.create_conversation(&row, &members, &audit).await.map_err(|e| match e {
            store::Error::NotFound => Error::NotFound("user"),
            store::Error::Conflict(_) => {
                Error::Conflict(FieldError::new("user_id", Rule::Duplicate, "that conversation exists"))
            }
            e => e.into(),
        })?;
        self.core
            .publish(
                p.enterprise_id,
                &key,
                &conversation_topic(id),
                member_ids.clone(),
                Event::ConversationCreated { conversation_id: id },
            )
            .await;
        let me = members.into_iter().next().expect("the creator is a member");
        self.conversation_view(&key, &row, &me).await
    }

    /// Opens the team's channel, creating it on first use, and makes the caller a member. Team
    /// members and enterprise admins may join; the channel is titled with the team's name.
    pub async fn join_team_channel(&self, p: &Principal, origin: &Origin, team: TeamId) -> Result<ConversationView> {
        let caller = Caller::User(p.clone());
        let team_row = self.directory_store.get_team(p.enterprise_id, team).await?.ok_or(Error::NotFound("team"))?;
        let in_team =
            self.directory_store.list_team_members(p.enterprise_id, team).await?.iter().any(|m| m.user_id == p.user_id);
        if !in_team && caller.is_enterprise_admin_of(p.enterprise_id) {
            // Reading a team one is not in is an admin's power, held to elevation like any.
            self.core.require_elevated(&caller, p.enterprise_id, Action::ConversationJoin).await?;
        } else if !in_team {
            let target = Some(format!("team:{team}"));
            return Err(self.core.deny(&caller, Action::ConversationJoin, None, "team-member", target).await);
        }
        if team_row.archived {
            return Err(Error::Invalid(FieldError::new("team_id", Rule::InvalidValue, "the team is archived")));
        }
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let existing = match self.conversation_store.find_team_conversation(p.enterprise_id, team).await? {
            Some(c) => c,
            None => {
                let name =
                    key.open_str(&team_row.name_ct, Aad { table: "teams", row: &team.to_string(), column: "name" })?;
                match self.create_conversation(p, origin, Shape::team(team, name), &[]).await {
                    Ok(view) => return Ok(view),
                    // Someone opened it at the same moment: join theirs.
                    Err(Error::Conflict(_)) => self
                        .conversation_store
                        .find_team_conversation(p.enterprise_id, team)
                        .await?
                        .ok_or(Error::NotFound("conversation"))?,
                    Err(e) => return Err(e),
                }
            }
        };
        let member = store::ConversationMemberRow {
            conversation_id: existing.id,
            user_id: p.user_id,
            role: MemberRole::Member,
            joined_at: Millis::now(),
            last_read_seq: 0,
            muted: false,
        };
        let audit = draft(
            &caller,
            origin,
            Some(p.enterprise_id),
            Action::ConversationJoin,
            Some(format!("conversation:{}", existing.id)),
        );
        if self.conversation_store.add_member(p.enterprise_id, &member, &audit).await? {
            let event = Event::MemberJoined { conversation_id: existing.id, user_id: p.user_id };
            self.publish_to_members(p.enterprise_id, &key, existing.id, event).await?;
        }
        self.get_conversation(p, existing.id).await
    }

    /// Adds a colleague to a group. Only the group's owner may; direct conversations never change
    /// members and team channels follow the team. Adding a member twice changes nothing.
    pub async fn add_group_member(
        &self,
        p: &Principal,
        origin: &Origin,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<ConversationView> {
        let (c, me) = self.group_owned_by(p, conversation).await?;
        let member = store::ConversationMemberRow {
            conversation_id: c.id,
            user_id: user,
            role: MemberRole::Member,
            joined_at: Millis::now(),
            last_read_seq: 0,
            muted: false,
        };
        let audit = draft(
            &Caller::User(p.clone()),
            origin,
            Some(p.enterprise_id),
            Action::ConversationAddMember,
            Some(format!("conversation:{conversation} user:{user}")),
        );
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let members = self.conversation_store.list_members(p.enterprise_id, conversation).await?;
        if members.len() >= messaging::MAX_GROUP_MEMBERS && !members.iter().any(|m| m.user_id == user) {
            return Err(Error::Invalid(FieldError::new(
                "user_id",
                Rule::TooLong,
                format!("a group has at most {} members", messaging::MAX_GROUP_MEMBERS),
            )));
        }
        if self.conversation_store.add_member(p.enterprise_id, &member, &audit).await.map_err(|e| match e {
            store::Error::NotFound => Error::NotFound("user"),
            e => e.into(),
        })? {
            let event = Event::MemberJoined { conversation_id: conversation, user_id: user };
            self.publish_to_members(p.enterprise_id, &key, conversation, event).await?;
        } else if !members.iter().any(|m| m.user_id == user) {
            // Nothing inserted and not a member: not an enabled user of this enterprise.
            return Err(Error::NotFound("user"));
        }
        self.conversation_view(&key, &c, &me).await
    }

    /// Removes a member from a group: the owner may remove anyone else, and any member may
    /// leave. The owner cannot leave (the group would have nobody to manage it).
    pub async fn remove_group_member(
        &self,
        p: &Principal,
        origin: &Origin,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<()> {
        let (c, me) = self.membership(p, conversation).await?;
        if c.kind != ConversationKind::Group {
            return Err(not_a_group());
        }
        if user == p.user_id {
            if me.role == MemberRole::Owner {
                return Err(Error::Conflict(FieldError::new(
                    "user_id",
                    Rule::InvalidValue,
                    "the owner cannot leave the group; remove the other members first or keep it",
                )));
            }
        } else if me.role != MemberRole::Owner {
            let caller = Caller::User(p.clone());
            let target = Some(format!("conversation:{conversation}"));
            return Err(self.core.deny(&caller, Action::ConversationRemoveMember, None, "group-owner", target).await);
        }
        let recipients: Vec<UserId> = self
            .conversation_store
            .list_members(p.enterprise_id, conversation)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        let audit = draft(
            &Caller::User(p.clone()),
            origin,
            Some(p.enterprise_id),
            if user == p.user_id { Action::ConversationLeave } else { Action::ConversationRemoveMember },
            Some(format!("conversation:{conversation} user:{user}")),
        );
        if !self.conversation_store.remove_member(p.enterprise_id, conversation, user, &audit).await? {
            return Err(Error::NotFound("member"));
        }
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let event = Event::MemberLeft { conversation_id: conversation, user_id: user };
        self.core.publish(p.enterprise_id, &key, &conversation_topic(conversation), recipients, event).await;
        Ok(())
    }

    /// The group and the caller's membership, if the caller owns it.
    async fn group_owned_by(
        &self,
        p: &Principal,
        conversation: ConversationId,
    ) -> Result<(store::ConversationRow, store::ConversationMemberRow)> {
        let (c, me) = self.membership(p, conversation).await?;
        if c.kind != ConversationKind::Group {
            return Err(not_a_group());
        }
        if me.role != MemberRole::Owner {
            let caller = Caller::User(p.clone());
            let target = Some(format!("conversation:{conversation}"));
            return Err(self.core.deny(&caller, Action::ConversationAddMember, None, "group-owner", target).await);
        }
        Ok((c, me))
    }

    /// The caller's conversations, most recently active first, with unread counts.
    pub async fn list_conversations(&self, p: &Principal) -> Result<Vec<ConversationView>> {
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let unread: std::collections::HashMap<_, _> = self
            .conversation_store
            .unread_counts(p.enterprise_id, p.user_id, None)
            .await?
            .into_iter()
            .map(|u| (u.conversation, u))
            .collect();
        let mut out = Vec::new();
        for (c, me) in self.conversation_store.list_conversations(p.enterprise_id, p.user_id).await? {
            out.push(self.conversation_view_with(&key, &c, &me, unread.get(&c.id)).await?);
        }
        Ok(out)
    }

    /// Mutes or unmutes a conversation for the caller, on every device they use.
    pub async fn set_muted(
        &self,
        p: &Principal,
        conversation: ConversationId,
        muted: bool,
    ) -> Result<ConversationView> {
        self.membership(p, conversation).await?;
        if !self.conversation_store.set_muted(p.enterprise_id, conversation, p.user_id, muted).await? {
            return Err(Error::NotFound("conversation"));
        }
        self.get_conversation(p, conversation).await
    }

    /// Whom a body names among the conversation's members. People are looked up only when the
    /// body names someone by handle, so most messages cost nothing here.
    async fn resolve_mentions(
        &self,
        p: &Principal,
        key: &DataKey,
        conversation: ConversationId,
        body: &str,
    ) -> Result<(Vec<UserId>, bool)> {
        self.resolve_mentions_by(p.enterprise_id, p.user_id, key, conversation, body).await
    }

    /// Whom a message by `sender` names, among the conversation's other members.
    pub(crate) async fn resolve_mentions_by(
        &self,
        enterprise: EnterpriseId,
        sender: UserId,
        key: &DataKey,
        conversation: ConversationId,
        body: &str,
    ) -> Result<(Vec<UserId>, bool)> {
        let found = messaging::mentions(body);
        if found.handles.is_empty() {
            return Ok((Vec::new(), found.everyone));
        }
        let members: std::collections::HashSet<UserId> = self
            .conversation_store
            .list_members(enterprise, conversation)
            .await?
            .iter()
            .map(|m| m.user_id)
            .filter(|u| *u != sender)
            .collect();
        let mut named = Vec::new();
        for user in self.directory_store.list_users(enterprise).await? {
            if !members.contains(&user.id) {
                continue;
            }
            let id = user.id.to_string();
            let email = key.open_str(&user.email_ct, Aad { table: "users", row: &id, column: "email" })?;
            let handle = email.split('@').next().unwrap_or_default().to_lowercase();
            if found.handles.contains(&handle) {
                named.push(user.id);
            }
        }
        Ok((named, found.everyone))
    }

    pub async fn get_conversation(&self, p: &Principal, conversation: ConversationId) -> Result<ConversationView> {
        let (c, me) = self.membership(p, conversation).await?;
        self.conversation_view(&*self.core.keys.enterprise_key(p.enterprise_id).await?, &c, &me).await
    }

    /// Sends a message; members connected anywhere receive it live.
    pub async fn send_message(&self, p: &Principal, conversation: ConversationId, body: &str) -> Result<MessageView> {
        self.post(p, conversation, body, None, None).await
    }

    /// Sends a message, top-level or (with `thread_root`) as a reply in that message's thread,
    /// under the template the sender picked (else the conversation's default, else none).
    /// A root that is not a live top-level message of this conversation is refused by field.
    pub async fn post(
        &self,
        p: &Principal,
        conversation: ConversationId,
        body: &str,
        thread_root: Option<MessageId>,
        policy: Option<domain::MessagePolicyId>,
    ) -> Result<MessageView> {
        Ok(self.post_once(p, conversation, body, thread_root, policy, None).await?.message)
    }

    /// [`Self::post`] with the message id chosen by the client, so a client that lost the answer
    /// (a dropped connection, a server restart) can send again without making a copy: a second
    /// send of the same id by the same person in the same conversation stores nothing and answers
    /// with the message stored the first time (`replayed`). An id already used by anyone else or
    /// anywhere else is refused by field.
    pub async fn post_once(
        &self,
        p: &Principal,
        conversation: ConversationId,
        body: &str,
        thread_root: Option<MessageId>,
        policy: Option<domain::MessagePolicyId>,
        client_id: Option<MessageId>,
    ) -> Result<Posted> {
        if let Some(id) = client_id {
            if let Some(earlier) = self.earlier_send(p, conversation, id).await? {
                return Ok(Posted { message: earlier, replayed: true });
            }
        }
        match self.post_new(p, conversation, body, thread_root, policy, client_id).await {
            // Two sends of one id raced and the other stored first.
            Err(Error::Conflict(f)) if f.field == "id" => match client_id {
                Some(id) => match self.earlier_send(p, conversation, id).await? {
                    Some(earlier) => Ok(Posted { message: earlier, replayed: true }),
                    None => Err(Error::Conflict(f)),
                },
                None => Err(Error::Conflict(f)),
            },
            other => other.map(|message| Posted { message, replayed: false }),
        }
    }

    /// The message this person already sent here with `id`, if any; an id taken by someone else's
    /// message (here or in another conversation) is a conflict.
    async fn earlier_send(
        &self,
        p: &Principal,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Option<MessageView>> {
        // Members only learn anything about the conversation's messages.
        self.membership(p, conversation).await?;
        match self.conversation_store.get_message(p.enterprise_id, conversation, id).await? {
            Some(row) if row.sender_id == p.user_id && row.removed.is_none() => {
                let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
                let view = open_message(&key, &row)?;
                Ok(Some(
                    self.present(p, &row, view, &control::PageFacts::default(), Millis::now())?
                        .ok_or(Error::NotFound("message"))?,
                ))
            }
            Some(_) => Err(id_taken()),
            None => Ok(None),
        }
    }

    async fn post_new(
        &self,
        p: &Principal,
        conversation: ConversationId,
        body: &str,
        thread_root: Option<MessageId>,
        policy: Option<domain::MessagePolicyId>,
        client_id: Option<MessageId>,
    ) -> Result<MessageView> {
        messaging::body("body", body, self.core.settings.max_message_bytes).map_err(Error::Invalid)?;
        let bad_root = || {
            Error::Invalid(FieldError::new(
                "thread_root_id",
                Rule::InvalidValue,
                "must be a message of this conversation that is not itself a reply and is not deleted",
            ))
        };
        let (c, _) = self.membership(p, conversation).await?;
        let rules = self.rules_for_new(p.enterprise_id, policy, &c).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let id = client_id.unwrap_or_default(); // the default id is a fresh one
        let now = Millis::now();
        let (control, jobs) = self.control_for_new(p.enterprise_id, conversation, id, rules.as_ref(), now)?;
        let row = store::MessageRow {
            id,
            conversation_id: conversation,
            seq: 0,
            sender_id: p.user_id,
            body_ct: Some(key.seal_str(body, body_aad(&id.to_string()))),
            created_at: now,
            edited_at: None,
            deleted_at: None,
            attachment: None,
            thread_root_id: thread_root,
            control,
            forward: None,
            removed: None,
        };
        let words = search::index_tokens(&key, body, rules.as_ref().map(|(_, r)| r));
        let (mentioned, everyone) = self.resolve_mentions(p, &key, conversation, body).await?;
        let index = store::MessageIndex { words: &words, mentioned: &mentioned, everyone, jobs: &jobs, audit: None };
        let (stored, members) =
            self.conversation_store.append_message(p.enterprise_id, &row, &index).await.map_err(|e| match e {
                store::Error::Conflict(c) if c == "messages.thread_root_id" => bad_root(),
                // The only other unique key a new message can meet is its id, which only a
                // client-chosen id can repeat.
                store::Error::Conflict(c) if client_id.is_some() && is_message_id_conflict(&c) => id_taken(),
                e => not_found(e),
            })?;
        self.announce(p, &key, members, &stored).await
    }

    /// The control a new message carries and the timed jobs it brings, from the picked rules.
    pub(crate) fn control_for_new(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        id: MessageId,
        rules: Option<&(domain::MessagePolicyId, domain::message_policy::Rules)>,
        now: Millis,
    ) -> Result<(Option<store::MessageControl>, Vec<store::JobRow>)> {
        let Some((policy_id, rules)) = rules else { return Ok((None, Vec::new())) };
        let expires_at = domain::message_policy::expires_at(rules, now, None);
        let job = control::MessageJob { enterprise_id: enterprise, conversation_id: conversation, message_id: id };
        let control = store::MessageControl {
            policy_id: Some(*policy_id),
            rules: serde_json::to_string(rules).map_err(|e| Error::Internal(e.to_string()))?,
            expires_at,
        };
        Ok((Some(control), control::timed_jobs(&job, rules, expires_at, now)))
    }

    /// Tells the members about a new message (what its policy lets an event carry) and returns
    /// the sender's view of it.
    pub(crate) async fn announce(
        &self,
        p: &Principal,
        key: &DataKey,
        members: Vec<UserId>,
        stored: &store::MessageRow,
    ) -> Result<MessageView> {
        let view = open_message(key, stored)?;
        let event = self.event_view(stored, &view)?;
        self.announce_new(p.enterprise_id, key, members, &event).await;
        self.present(p, stored, view, &control::PageFacts::default(), Millis::now())?.ok_or(Error::NotFound("message"))
    }

    /// Tells the conversation's members about a new message (text or file).
    pub(crate) async fn announce_new(
        &self,
        enterprise: EnterpriseId,
        key: &DataKey,
        members: Vec<UserId>,
        view: &MessageView,
    ) {
        let topic = conversation_topic(view.conversation_id);
        self.core.publish(enterprise, key, &topic, members, Event::MessageCreated { message: view.clone() }).await;
    }

    /// Edits the caller's own message. Someone else's message is `Forbidden`.
    pub async fn edit_message(
        &self,
        p: &Principal,
        conversation: ConversationId,
        id: MessageId,
        body: &str,
    ) -> Result<MessageView> {
        messaging::body("body", body, self.core.settings.max_message_bytes).map_err(Error::Invalid)?;
        self.membership(p, conversation).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let sealed = key.seal_str(body, body_aad(&id.to_string()));
        let existing = self.conversation_store.get_message(p.enterprise_id, conversation, id).await?;
        if existing.as_ref().is_some_and(|row| row.forward.is_some() && row.sender_id == p.user_id) {
            // A copy shows its author's words under their name: whoever forwarded it cannot change them.
            return Err(Error::Invalid(FieldError::new(
                "message_id",
                Rule::InvalidValue,
                "a forwarded copy keeps its author's words and cannot be edited",
            )));
        }
        let rules = match &existing {
            Some(row) => control::control_of(row)?.map(|(rules, _)| rules),
            None => None,
        };
        let words = search::index_tokens(&key, body, rules.as_ref());
        let (mentioned, everyone) = self.resolve_mentions(p, &key, conversation, body).await?;
        let index = store::MessageIndex { words: &words, mentioned: &mentioned, everyone, ..Default::default() };
        let edit = store::MessageEdit { body_ct: &sealed, index, at: Millis::now() };
        let row = match self.conversation_store.edit_message(p.enterprise_id, conversation, id, p.user_id, &edit).await
        {
            Ok(row) => row,
            Err(store::Error::NotFound) => {
                return Err(self.why_not_own(p, conversation, id, Action::MessageEdit).await)
            }
            Err(e) => return Err(e.into()),
        };
        let mut view = open_message(&key, &row)?;
        // An edit keeps the reactions: the event carries them so clients redraw the whole message.
        view.reactions = crate::protocol::ReactionView::group(
            &self.conversation_store.reactions(p.enterprise_id, conversation, &[id]).await?,
        );
        let event = self.event_view(&row, &view)?;
        self.publish_to_members(p.enterprise_id, &key, conversation, Event::MessageEdited { message: event }).await?;
        self.present(p, &row, view, &control::PageFacts::default(), Millis::now())?.ok_or(Error::NotFound("message"))
    }

    /// Deletes the caller's own message: the body is destroyed, the fact of the message stays.
    pub async fn delete_message(
        &self,
        p: &Principal,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<MessageView> {
        self.membership(p, conversation).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let row = match self
            .conversation_store
            .delete_message(p.enterprise_id, conversation, id, p.user_id, Millis::now())
            .await
        {
            Ok(row) => row,
            Err(store::Error::NotFound) => {
                return Err(self.why_not_own(p, conversation, id, Action::MessageDelete).await)
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(attachment) = &row.attachment {
            // The name was destroyed in the row; the file and its preview go with it, unless
            // another message (an original or a forwarded copy) still shows them.
            if self.conversation_store.attachment_in_use(attachment.id).await? {
                return self.finish_delete(p, &key, conversation, &row).await;
            }
            self.core.blobs.delete(attachment.id).await;
            if let Some(thumbnail) = &attachment.thumbnail {
                self.core.blobs.delete(thumbnail.id).await;
            }
        }
        self.finish_delete(p, &key, conversation, &row).await
    }

    async fn finish_delete(
        &self,
        p: &Principal,
        key: &DataKey,
        conversation: ConversationId,
        row: &store::MessageRow,
    ) -> Result<MessageView> {
        let view = open_message(key, row)?;
        self.publish_to_members(p.enterprise_id, key, conversation, Event::MessageDeleted { message: view.clone() })
            .await?;
        Ok(view)
    }

    /// After an edit or delete matched nothing: someone else's message is `Forbidden`; a
    /// missing or already deleted one is `NotFound`. (The caller is a member: checked before.)
    async fn why_not_own(&self, p: &Principal, conversation: ConversationId, id: MessageId, action: Action) -> Error {
        match self.conversation_store.get_message(p.enterprise_id, conversation, id).await {
            Ok(Some(m)) if m.deleted_at.is_none() => {
                let target = Some(format!("message:{id}"));
                self.core.deny(&Caller::User(p.clone()), action, None, "own-message", target).await
            }
            Ok(_) => Error::NotFound("message"),
            Err(e) => e.into(),
        }
    }

    /// History: `before` pages back from the newest (newest first); `after` catches up (oldest first).
    pub async fn list_messages(
        &self,
        p: &Principal,
        conversation: ConversationId,
        before: Option<i64>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageView>> {
        let page = match (before, after) {
            (Some(_), Some(_)) => {
                return Err(Error::Invalid(FieldError::new(
                    "after",
                    Rule::InvalidValue,
                    "give either before or after, not both",
                )))
            }
            (_, Some(after)) => store::MessagePage::After(after),
            (before, None) => store::MessagePage::Before(before.unwrap_or(i64::MAX)),
        };
        if !(1..=200).contains(&limit) {
            // Out of range is refused, not quietly changed: a client must learn its page was not it.
            return Err(Error::Invalid(FieldError::new("limit", Rule::InvalidValue, "must be 1 to 200")));
        }
        self.membership(p, conversation).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let rows = self.conversation_store.list_messages(p.enterprise_id, conversation, page, limit).await?;
        self.views(p, &key, conversation, &rows).await
    }

    /// Opens rows for their reader, with their reactions and, for thread roots, reply counts.
    async fn views(
        &self,
        p: &Principal,
        key: &DataKey,
        conversation: ConversationId,
        rows: &[store::MessageRow],
    ) -> Result<Vec<MessageView>> {
        let ids: Vec<MessageId> = rows.iter().filter(|m| m.deleted_at.is_none()).map(|m| m.id).collect();
        let reactions = self.conversation_store.reactions(p.enterprise_id, conversation, &ids).await?;
        let roots: Vec<MessageId> =
            rows.iter().filter(|m| m.deleted_at.is_none() && m.thread_root_id.is_none()).map(|m| m.id).collect();
        let threads = self.conversation_store.thread_summaries(p.enterprise_id, conversation, &roots).await?;
        let facts = self.page_facts(p, rows).await?;
        let now = Millis::now();
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            let view = {
                let mut view = open_message(key, m)?;
                let mine: Vec<store::ReactionRow> =
                    reactions.iter().filter(|r| r.message_id == m.id).cloned().collect();
                view.reactions = crate::protocol::ReactionView::group(&mine);
                if let Some(t) = threads.iter().find(|t| t.root_id == m.id) {
                    view.reply_count = t.replies;
                    view.last_reply_at = Some(t.last_reply_at.rfc3339());
                }
                view
            };
            out.extend(self.present(p, m, view, &facts, now)?);
        }
        Ok(out)
    }

    /// A thread: its root and up to 500 replies, oldest first. Members only.
    pub async fn thread(
        &self,
        p: &Principal,
        conversation: ConversationId,
        root: MessageId,
    ) -> Result<crate::protocol::ThreadView> {
        self.membership(p, conversation).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let root_row = self
            .conversation_store
            .get_message(p.enterprise_id, conversation, root)
            .await?
            .filter(|m| m.thread_root_id.is_none())
            .ok_or(Error::NotFound("message"))?;
        let replies = self.conversation_store.thread_replies(p.enterprise_id, conversation, root, 500).await?;
        // A root gone for this reader (expired, burned for them) has no thread to show.
        let root_view = self
            .views(p, &key, conversation, std::slice::from_ref(&root_row))
            .await?
            .pop()
            .ok_or(Error::NotFound("message"))?;
        let replies = self.views(p, &key, conversation, &replies).await?;
        Ok(crate::protocol::ThreadView { root: root_view, replies })
    }

    /// Moves the caller's read receipt forward; the other members see it live.
    /// The caller is typing: the other members are told live, on every node.
    pub async fn typing(&self, p: &Principal, conversation: ConversationId) -> Result<()> {
        self.membership(p, conversation).await?;
        let others: Vec<UserId> = self
            .conversation_store
            .list_members(p.enterprise_id, conversation)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .filter(|u| *u != p.user_id)
            .collect();
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let event = Event::Typing { conversation_id: conversation, user_id: p.user_id };
        self.core.publish(p.enterprise_id, &key, &conversation_topic(conversation), others, event).await;
        Ok(())
    }

    /// Adds or removes the caller's reaction on a message; every member sees the new set live.
    pub async fn react(
        &self,
        p: &Principal,
        conversation: ConversationId,
        message: MessageId,
        emoji: &str,
        add: bool,
    ) -> Result<Vec<crate::protocol::ReactionView>> {
        messaging::reaction("emoji", emoji).map_err(Error::Invalid)?;
        self.membership(p, conversation).await?;
        let max = messaging::MAX_REACTIONS_PER_MESSAGE;
        let change = if add {
            store::ReactionChange::Add { max_distinct: max, at: Millis::now() }
        } else {
            store::ReactionChange::Remove
        };
        let rows = self
            .conversation_store
            .set_reaction(p.enterprise_id, conversation, message, p.user_id, emoji, change)
            .await
            .map_err(|e| match e {
                store::Error::NotFound => Error::NotFound("message"),
                store::Error::Conflict(_) => Error::Conflict(FieldError::new(
                    "emoji",
                    Rule::TooLong,
                    format!("a message carries at most {max} different reactions"),
                )),
                e => e.into(),
            })?;
        let reactions = crate::protocol::ReactionView::group(&rows);
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let event = Event::ReactionsChanged {
            conversation_id: conversation,
            message_id: message,
            reactions: reactions.clone(),
        };
        self.publish_to_members(p.enterprise_id, &key, conversation, event).await?;
        Ok(reactions)
    }

    pub async fn mark_read(&self, p: &Principal, conversation: ConversationId, seq: i64) -> Result<i64> {
        if seq < 0 {
            return Err(Error::Invalid(FieldError::new("seq", Rule::InvalidValue, "must not be negative")));
        }
        self.membership(p, conversation).await?;
        let stored = self
            .conversation_store
            .mark_read(p.enterprise_id, conversation, p.user_id, seq)
            .await
            .map_err(not_found)?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        self.publish_to_members(
            p.enterprise_id,
            &key,
            conversation,
            Event::Receipt { conversation_id: conversation, user_id: p.user_id, seq: stored },
        )
        .await?;
        Ok(stored)
    }

    async fn publish_to_members(
        &self,
        enterprise: EnterpriseId,
        key: &DataKey,
        conversation: ConversationId,
        event: Event,
    ) -> Result<()> {
        let recipients = self
            .conversation_store
            .list_members(enterprise, conversation)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        self.core.publish(enterprise, key, &conversation_topic(conversation), recipients, event).await;
        Ok(())
    }
}

fn not_a_group() -> Error {
    Error::Invalid(FieldError::new(
        "conversation",
        Rule::InvalidValue,
        "only group conversations change members: direct conversations have exactly two and team channels follow the team",
    ))
}

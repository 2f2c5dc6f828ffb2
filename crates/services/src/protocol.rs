//! What clients see: the views of conversations, messages and attachments, and the live events
//! that carry them. Plain data with no behaviour, so that every domain (identity publishes
//! `session-ended`, messaging the rest) and the HTTP layer can name them without depending on
//! the service that produces them.

use domain::messaging::ConversationKind;
use domain::{AttachmentId, ConversationId, MessageId, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct ConversationView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ConversationId,
    /// `direct`, `group` or `team`.
    #[schema(value_type = String)]
    pub kind: ConversationKind,
    /// Group title; `None` for direct conversations (clients show the other member).
    pub title: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub member_ids: Vec<UserId>,
    /// Who may add and remove members of a group (its creator).
    #[schema(value_type = Vec<String>)]
    pub owner_ids: Vec<UserId>,
    /// Sequence number of the newest message.
    pub last_seq: i64,
    /// The caller's read receipt.
    pub last_read_seq: i64,
    /// Messages after the caller's read receipt that others sent and nobody deleted.
    pub unread: i64,
    /// Of the unread messages, how many name the caller (`@handle`).
    pub mentions: i64,
    /// Of the unread messages, how many name everyone (`@channel`, `@all`, `@here`).
    pub everyone_mentions: i64,
    /// The caller has muted this conversation (on every device).
    pub muted: bool,
    /// How far each other member has read: what "seen" markers are drawn from after a reload.
    pub read_up_to: Vec<ReadPosition>,
    pub created_at: String,
    /// The message policy template its messages get when the sender picks none.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub default_policy_id: Option<domain::MessagePolicyId>,
}

/// One member's read receipt.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReadPosition {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub seq: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MessageView {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(value_type = String, format = Uuid)]
    pub conversation_id: ConversationId,
    pub seq: i64,
    #[schema(value_type = String, format = Uuid)]
    pub sender_id: UserId,
    /// `None` once deleted.
    pub body: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub deleted: bool,
    /// The file this message carries, if any (gone once the message is deleted).
    pub attachment: Option<AttachmentView>,
    /// Emoji reactions, each with who reacted, in the order they were first used.
    #[serde(default)]
    pub reactions: Vec<ReactionView>,
    /// For a reply in a thread: the top-level message it answers.
    #[schema(value_type = Option<String>, format = Uuid)]
    #[serde(default)]
    pub thread_root_id: Option<MessageId>,
    /// For a top-level message: how many undeleted replies its thread has (in history pages).
    #[serde(default)]
    pub reply_count: i64,
    /// When the newest reply came (RFC 3339), if there is one.
    #[serde(default)]
    pub last_reply_at: Option<String>,
    /// The message policy it was sent under and what it means for the reader now.
    #[serde(default)]
    pub control: Option<ControlView>,
    /// For a forwarded copy: where it came from.
    #[serde(default)]
    pub forwarded: Option<ForwardedView>,
    /// For its sender and enterprise admins: how many copies were forwarded from it (every copy
    /// at any depth for an original; the direct copies for a copy).
    #[serde(default)]
    pub forward_count: i64,
}

/// What a message policy means for one reader of one message, now.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ControlView {
    /// The template it was sent under (absent for a copy whose rules came only from its ancestors).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub policy_id: Option<domain::MessagePolicyId>,
    /// `readable`; `restricted` (not here or not now: `reason` says why, `opens_at` when it will
    /// be readable); `concealed` (burn after reading: reveal it first); `pending` (live events
    /// only: fetch the message to learn what you may see).
    pub state: String,
    pub reason: Option<String>,
    pub opens_at: Option<String>,
    /// When it is destroyed for everyone (RFC 3339).
    pub expires_at: Option<String>,
    /// Burn after reading: how long it stays once revealed.
    pub burn_after_seconds: Option<u64>,
    /// When it burns for you, once you revealed it.
    pub burns_at: Option<String>,
    /// For its sender, with burn after reading: how many have revealed it.
    pub revealed_by: Option<i64>,
    /// Nobody may forward it.
    pub no_forward: bool,
    /// Clients must not offer copying its text; its file cannot be downloaded.
    pub no_copy: bool,
}

/// A forwarded copy's lineage.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ForwardedView {
    /// Who wrote the original.
    #[schema(value_type = String, format = Uuid)]
    pub original_sender_id: UserId,
    /// 1 for a copy of the original, 2 for a copy of a copy, ...
    pub hops: i64,
}

/// A thread: the message that started it and its replies, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ThreadView {
    pub root: MessageView,
    pub replies: Vec<MessageView>,
}

/// One emoji on a message and the people who reacted with it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReactionView {
    pub emoji: String,
    pub count: usize,
    #[schema(value_type = Vec<String>)]
    pub user_ids: Vec<UserId>,
}

impl ReactionView {
    /// Groups rows (already in order) by emoji.
    pub fn group(rows: &[store::ReactionRow]) -> Vec<ReactionView> {
        let mut out: Vec<ReactionView> = Vec::new();
        for row in rows {
            match out.iter_mut().find(|r| r.emoji == row.emoji) {
                Some(r) => {
                    r.count += 1;
                    r.user_ids.push(row.user_id);
                }
                None => out.push(ReactionView { emoji: row.emoji.clone(), count: 1, user_ids: vec![row.user_id] }),
            }
        }
        out
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AttachmentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: AttachmentId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// A preview of an image, fetched from `.../attachments/{id}/thumbnail`.
    pub thumbnail: Option<ThumbnailView>,
}

/// The size of an image's preview, so a client can reserve its space before it loads.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ThumbnailView {
    pub width: u32,
    pub height: u32,
}

impl From<&store::Thumbnail> for ThumbnailView {
    fn from(t: &store::Thumbnail) -> ThumbnailView {
        ThumbnailView { width: t.width, height: t.height }
    }
}

/// A live event, as clients receive it over the WebSocket.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    MessageCreated {
        message: MessageView,
    },
    MessageEdited {
        message: MessageView,
    },
    MessageDeleted {
        message: MessageView,
    },
    Receipt {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        #[schema(value_type = String, format = Uuid)]
        user_id: UserId,
        seq: i64,
    },
    ConversationCreated {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
    },
    /// Someone joined a conversation (a team channel).
    MemberJoined {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        #[schema(value_type = String, format = Uuid)]
        user_id: UserId,
    },
    /// Someone left or was removed from a group; the removed member gets this too, last.
    MemberLeft {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        #[schema(value_type = String, format = Uuid)]
        user_id: UserId,
    },
    /// Someone is writing in a conversation (sent at most every few seconds while they type).
    Typing {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        #[schema(value_type = String, format = Uuid)]
        user_id: UserId,
    },
    /// The reactions on a message changed; `reactions` is the whole new set.
    ReactionsChanged {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        #[schema(value_type = String, format = Uuid)]
        message_id: MessageId,
        reactions: Vec<ReactionView>,
    },
    /// A report arrived at the security desk or changed (a reply, a new state, a file): sent to
    /// the security team, whose inbox then fetches the report list again. It names only the
    /// report, never its content.
    DeskReportChanged {
        #[schema(value_type = String, format = Uuid)]
        report_id: domain::ReportId,
    },
    /// A message changed for its readers without new content (its window opened or closed,
    /// someone revealed it): clients fetch it again to learn what they may see now.
    MessageChanged {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        #[schema(value_type = String, format = Uuid)]
        message_id: MessageId,
    },
    /// Messages were recalled or expired: clients drop them at once.
    MessagesRemoved {
        #[schema(value_type = String, format = Uuid)]
        conversation_id: ConversationId,
        #[schema(value_type = Vec<String>)]
        message_ids: Vec<MessageId>,
        /// `recalled` or `expired`.
        reason: String,
    },
    /// A session ended (sign-out, signed out from another device, account disabled): the client
    /// must erase what it holds and sign in again. `None` means every session of the recipient.
    SessionEnded {
        #[schema(value_type = Option<String>, format = Uuid)]
        session_id: Option<domain::SessionId>,
        /// An admin ended it (or disabled the account): erase what this device holds of
        /// Conclave, then acknowledge at `POST /api/v1/sessions/wipe-acknowledgement`.
        #[serde(default)]
        wipe: bool,
    },
}

/// An event with the users it is for: what the bus carries (sealed) between nodes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Addressed {
    pub recipients: Vec<UserId>,
    pub event: Event,
}

/// What the hub receives from [`crate::core::events::Events::subscribe`].
#[derive(Clone, Debug)]
pub enum LiveDelivery {
    Event(Arc<Addressed>),
    /// This node missed `n` events: its connections must resynchronise.
    Lagged(u64),
}

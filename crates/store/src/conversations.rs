//! Conversations, their members and messages.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{EnterpriseId, Millis, TeamId, UserId};

use crate::Result;

/// A conversation. `title_ct` is sealed (table `conversations`, column `title`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: domain::ConversationId,
    pub enterprise_id: EnterpriseId,
    pub kind: domain::messaging::ConversationKind,
    pub team_id: Option<TeamId>,
    /// For direct conversations: [`domain::messaging::direct_key`] of the pair; unique per enterprise.
    pub direct_key: Option<String>,
    pub title_ct: Option<Vec<u8>>,
    pub created_by: UserId,
    pub created_at: Millis,
    /// The sequence number of the newest message (0 when empty).
    pub last_seq: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationMemberRow {
    pub conversation_id: domain::ConversationId,
    pub user_id: UserId,
    pub role: domain::messaging::MemberRole,
    pub joined_at: Millis,
    /// Read receipt: the highest sequence number this member has read.
    pub last_read_seq: i64,
    /// The member has muted the conversation: no notifications, a quiet unread badge.
    pub muted: bool,
}

/// What one member has not read in one conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnreadCount {
    pub conversation: domain::ConversationId,
    /// Messages after the member's read receipt that others sent and nobody deleted.
    pub unread: i64,
    /// Of those, how many name the member.
    pub mentions: i64,
    /// Of those, how many name everyone (`@channel`, `@all`, `@here`).
    pub everyone_mentions: i64,
}

/// What a message is found and counted by, written in the same step as its text.
#[derive(Clone, Copy, Debug, Default)]
pub struct MessageIndex<'a> {
    /// The blind search tokens of its words (and of its file's name).
    pub words: &'a [Vec<u8>],
    /// The members it names.
    pub mentioned: &'a [UserId],
    /// Whether it names everyone (`@channel`, `@all`, `@here`).
    pub everyone: bool,
}

/// What a search may be narrowed to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchFilter {
    pub conversation: Option<domain::ConversationId>,
    pub sender: Option<UserId>,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
    pub has_file: bool,
}

/// A message's new text, as [`ConversationStore::edit_message`] stores it.
#[derive(Clone, Copy, Debug)]
pub struct MessageEdit<'a> {
    /// The new body, sealed.
    pub body_ct: &'a [u8],
    /// The new body's search tokens and mentions (they replace the old ones).
    pub index: MessageIndex<'a>,
    pub at: Millis,
}

/// What [`ConversationStore::set_reaction`] does with one person's emoji.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReactionChange {
    /// Adds it, unless the message already carries `max_distinct` other emoji.
    Add {
        max_distinct: usize,
        at: Millis,
    },
    Remove,
}

/// One person's reaction to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReactionRow {
    pub message_id: domain::MessageId,
    pub user_id: UserId,
    pub emoji: String,
}

/// A message. `body_ct` is sealed (table `messages`, row = message id, column `body`) and is
/// `None` once the message is deleted: deletion destroys the content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRow {
    pub id: domain::MessageId,
    pub conversation_id: domain::ConversationId,
    /// Per-conversation sequence number, assigned by the store on append.
    pub seq: i64,
    pub sender_id: UserId,
    pub body_ct: Option<Vec<u8>>,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    pub deleted_at: Option<Millis>,
    pub attachment: Option<AttachmentMeta>,
    /// The message this one replies to in a thread (always a top-level message of the same
    /// conversation); `None` for a top-level message.
    pub thread_root_id: Option<domain::MessageId>,
}

/// How many undeleted replies a thread has, and when the last one came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadSummary {
    pub root_id: domain::MessageId,
    pub replies: i64,
    pub last_reply_at: Millis,
}

/// The file a message carries. Its bytes are on disk, sealed in chunks; the name is sealed here
/// (table `messages`, row = attachment id, column `attachment_name`) and destroyed on delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentMeta {
    pub id: domain::AttachmentId,
    pub name_ct: Vec<u8>,
    pub content_type: String,
    pub size: i64,
    /// A smaller picture of an image, made when it arrived.
    pub thumbnail: Option<Thumbnail>,
}

/// An image's preview: its own sealed blob, always PNG or JPEG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    pub id: domain::AttachmentId,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
}

/// Which messages a page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessagePage {
    /// The newest `limit` messages with `seq < before`, newest first.
    Before(i64),
    /// The oldest `limit` messages with `seq > after`, oldest first (catching up after a gap).
    After(i64),
}

/// Conversations, their members and messages.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Creates the conversation with its members. `Conflict` when a direct conversation for the
    /// pair exists. Every member must be an enabled user of the enterprise, else `NotFound`.
    async fn create_conversation(
        &self,
        conversation: &ConversationRow,
        members: &[ConversationMemberRow],
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn find_direct(&self, enterprise: EnterpriseId, direct_key: &str) -> Result<Option<ConversationRow>>;
    /// The team's channel, if it has been opened.
    async fn find_team_conversation(&self, enterprise: EnterpriseId, team: TeamId) -> Result<Option<ConversationRow>>;
    /// Adds a member (an enabled user of the enterprise); `false` when already a member, in
    /// which case no audit event is written.
    async fn add_member(
        &self,
        enterprise: EnterpriseId,
        member: &ConversationMemberRow,
        audit: &AuditDraft,
    ) -> Result<bool>;
    /// Removes a member; `false` when they were not one, in which case no audit event is written.
    async fn remove_member(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        user: UserId,
        audit: &AuditDraft,
    ) -> Result<bool>;
    /// The conversation and the user's membership, if the user is a member: the authorization query.
    async fn conversation_for_member(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        user: UserId,
    ) -> Result<Option<(ConversationRow, ConversationMemberRow)>>;
    /// The user's conversations with their membership, most recently active first.
    async fn list_conversations(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
    ) -> Result<Vec<(ConversationRow, ConversationMemberRow)>>;
    async fn list_members(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
    ) -> Result<Vec<ConversationMemberRow>>;
    /// What the user has not read in each of their conversations (or only in `conversation`):
    /// messages after their read receipt that others sent and nobody deleted, and how many of
    /// those mention them. Conversations with nothing unread are left out.
    async fn unread_counts(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        conversation: Option<domain::ConversationId>,
    ) -> Result<Vec<UnreadCount>>;
    /// Mutes or unmutes the conversation for one member; `false` when they are not a member.
    async fn set_muted(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        user: UserId,
        muted: bool,
    ) -> Result<bool>;
    /// Appends a message after checking the sender is a member (`NotFound` otherwise) and, for a
    /// reply, that its thread root is an undeleted top-level message of the same conversation
    /// (`Conflict("messages.thread_root_id")` otherwise), and
    /// returns it with its sequence number, and the conversation's members (the recipients).
    /// The sender's read receipt moves to the new message: what you write, you have read.
    /// Its search tokens and mentions (`index`) are stored with it in the same step.
    async fn append_message(
        &self,
        enterprise: EnterpriseId,
        message: &MessageRow,
        index: &MessageIndex<'_>,
    ) -> Result<(MessageRow, Vec<UserId>)>;
    /// Replaces the body of the sender's own, undeleted message (and its search tokens);
    /// `NotFound` otherwise.
    async fn edit_message(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        id: domain::MessageId,
        sender: UserId,
        edit: &MessageEdit<'_>,
    ) -> Result<MessageRow>;
    /// Destroys the body of the sender's own message; `NotFound` when there is none to delete.
    async fn delete_message(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        id: domain::MessageId,
        sender: UserId,
        at: Millis,
    ) -> Result<MessageRow>;
    /// The undeleted message carrying this attachment in this conversation.
    async fn get_attachment(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        attachment: domain::AttachmentId,
    ) -> Result<Option<MessageRow>>;
    async fn get_message(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        id: domain::MessageId,
    ) -> Result<Option<MessageRow>>;
    async fn list_messages(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        page: MessagePage,
        limit: u32,
    ) -> Result<Vec<MessageRow>>;
    /// Adds or removes `user`'s `emoji` on an undeleted message of the conversation and
    /// returns the message's reactions. `NotFound` for no such message; `Conflict` when adding
    /// a new emoji would pass `max_distinct` different ones.
    async fn set_reaction(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        message: domain::MessageId,
        user: UserId,
        emoji: &str,
        change: ReactionChange,
    ) -> Result<Vec<ReactionRow>>;
    /// Undeleted messages in the enterprise's conversations that `user` is a member of, holding
    /// every one of `words` (blind tokens) and matching the filter; newest first.
    async fn search_messages(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        words: &[Vec<u8>],
        filter: &SearchFilter,
        limit: u32,
    ) -> Result<Vec<MessageRow>>;
    /// The threads started by these messages of the conversation (only those with replies).
    async fn thread_summaries(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        roots: &[domain::MessageId],
    ) -> Result<Vec<ThreadSummary>>;
    /// The replies to one thread root, oldest first.
    async fn thread_replies(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        root: domain::MessageId,
        limit: u32,
    ) -> Result<Vec<MessageRow>>;
    /// The reactions on these messages of the conversation.
    async fn reactions(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        messages: &[domain::MessageId],
    ) -> Result<Vec<ReactionRow>>;
    /// Raises the member's read receipt to `seq` (never lowers it, never past the newest
    /// message) and returns the stored value.
    async fn mark_read(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        user: UserId,
        seq: i64,
    ) -> Result<i64>;
}

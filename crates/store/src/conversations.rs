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
    /// The message policy template a message gets when its sender picks none.
    pub default_policy_id: Option<domain::MessagePolicyId>,
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
    /// Jobs the message brings with it (its expiry, its window opening and closing), written in
    /// the same transaction so a crash cannot leave a message that never expires.
    pub jobs: &'a [crate::JobRow],
    /// The audit event the message makes (a forward), appended in the same transaction.
    pub audit: Option<&'a AuditDraft>,
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
    /// The message policy it was sent under, if any.
    pub control: Option<MessageControl>,
    /// Where it came from, when it is a forwarded copy.
    pub forward: Option<ForwardLink>,
    /// Set when it was recalled or expired: its content is destroyed and it is shown to nobody.
    pub removed: Option<Removal>,
}

/// The rules a message carries: those of the template it was sent under, tightened by those of
/// every message it was forwarded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageControl {
    pub policy_id: Option<domain::MessagePolicyId>,
    /// `domain::message_policy::Rules` as JSON.
    pub rules: String,
    pub expires_at: Option<Millis>,
}

/// A forwarded copy's lineage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardLink {
    /// The message it was forwarded from.
    pub parent_id: domain::MessageId,
    /// The original at the top of the tree.
    pub root_id: domain::MessageId,
    /// 1 for a copy of the original, 2 for a copy of a copy, ...
    pub hops: i64,
    /// Who wrote the original.
    pub original_sender_id: UserId,
}

/// Why a message is gone for everyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    Recalled,
    Expired,
}

impl Removal {
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Recalled => "recalled",
            Removal::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Removal> {
        [Removal::Recalled, Removal::Expired].into_iter().find(|r| r.as_str() == s)
    }
}

/// What [`ConversationStore::remove_messages`] takes away.
#[derive(Clone, Copy, Debug)]
pub struct RemoveMessages<'a> {
    pub message: domain::MessageId,
    pub removal: Removal,
    /// Every copy forwarded from it, at any depth, in any conversation of the enterprise, too.
    pub with_copies: bool,
    pub at: Millis,
    pub audit: Option<&'a AuditDraft>,
    /// Scheduled in the same transaction: the job that deletes the files of what was removed.
    pub job: Option<&'a crate::JobRow>,
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
    /// A forwarded copy's parent must not be recalled or expired
    /// (`Conflict("messages.forwarded_from")` otherwise).
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
    /// The undeleted messages carrying this attachment in this conversation: one, or several
    /// when forwarded copies of it came back here (each may carry other rules).
    async fn get_attachment(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        attachment: domain::AttachmentId,
    ) -> Result<Vec<MessageRow>>;
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
    /// Every copy forwarded from `message`, at any depth, recalled ones included, in order of
    /// hops then time.
    async fn forward_descendants(
        &self,
        enterprise: EnterpriseId,
        message: domain::MessageId,
    ) -> Result<Vec<MessageRow>>;
    /// How many copies were made of each message: every copy of an original at any depth, the
    /// direct copies of a copy. Messages with none are left out.
    async fn forward_counts(
        &self,
        enterprise: EnterpriseId,
        messages: &[domain::MessageId],
    ) -> Result<Vec<(domain::MessageId, i64)>>;
    /// Destroys the content of a message (and, if asked, of every copy forwarded from it) that is
    /// not removed yet: bodies, file names, search tokens, mentions, reactions and reveals go,
    /// the rows stay marked with why. One transaction with its audit event and file job.
    /// Returns the rows removed now (empty when all were already removed).
    async fn remove_messages(&self, enterprise: EnterpriseId, remove: &RemoveMessages<'_>) -> Result<Vec<MessageRow>>;
    /// Whether any message not deleted or removed still carries this file (a forwarded copy
    /// shares its original's file).
    async fn attachment_in_use(&self, attachment: domain::AttachmentId) -> Result<bool>;
    /// Records that `user` revealed a burn-after-reading message, keeping the first reveal;
    /// returns when it burns for them.
    async fn reveal_message(
        &self,
        enterprise: EnterpriseId,
        message: domain::MessageId,
        user: UserId,
        at: Millis,
        burns_at: Millis,
    ) -> Result<Millis>;
    /// When each of these messages burns for `user` (only those they revealed).
    async fn reveals_for(
        &self,
        enterprise: EnterpriseId,
        user: UserId,
        messages: &[domain::MessageId],
    ) -> Result<Vec<(domain::MessageId, Millis)>>;
    /// How many people revealed each of these messages (those with none are left out).
    async fn reveal_counts(
        &self,
        enterprise: EnterpriseId,
        messages: &[domain::MessageId],
    ) -> Result<Vec<(domain::MessageId, i64)>>;
    /// A message by id alone, in any conversation of the enterprise.
    async fn find_message(&self, enterprise: EnterpriseId, id: domain::MessageId) -> Result<Option<MessageRow>>;
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

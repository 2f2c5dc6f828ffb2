//! Scheduled messages (M2, scheduled send): written now, delivered by the job runner at their
//! time. Each is stored with the job that delivers it, in one transaction.

use async_trait::async_trait;
use domain::{ConversationId, EnterpriseId, MessageId, MessagePolicyId, Millis, UserId};

use crate::{JobRow, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledMessageRow {
    /// The id the message will have once delivered (its body is sealed bound to it).
    pub id: MessageId,
    pub enterprise_id: EnterpriseId,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    /// Sealed (table `messages`, row = `id`, column `body`).
    pub body_ct: Vec<u8>,
    pub policy_id: Option<MessagePolicyId>,
    /// The template's rules when it was scheduled, as JSON.
    pub policy_rules: Option<String>,
    pub deliver_at: Millis,
    pub created_at: Millis,
}

#[async_trait]
pub trait ScheduledMessageStore: Send + Sync {
    /// Stores it with the job that delivers it, after checking the sender is a member of the
    /// conversation in that enterprise (`NotFound` otherwise).
    async fn schedule_message(&self, row: &ScheduledMessageRow, job: &JobRow) -> Result<()>;
    /// The sender's messages waiting in one conversation, soonest first.
    async fn scheduled_messages(
        &self,
        enterprise: EnterpriseId,
        sender: UserId,
        conversation: ConversationId,
    ) -> Result<Vec<ScheduledMessageRow>>;
    async fn get_scheduled_message(
        &self,
        enterprise: EnterpriseId,
        id: MessageId,
    ) -> Result<Option<ScheduledMessageRow>>;
    /// Removes the sender's waiting message and its job (`job_key`); `false` when there was none
    /// (already delivered, cancelled, or someone else's).
    async fn cancel_scheduled_message(
        &self,
        enterprise: EnterpriseId,
        sender: UserId,
        id: MessageId,
        job_key: &str,
    ) -> Result<bool>;
    /// Forgets a waiting message once it was delivered (or can no longer be).
    async fn delete_scheduled_message(&self, enterprise: EnterpriseId, id: MessageId) -> Result<()>;
}

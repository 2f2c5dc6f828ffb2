//! Scheduled send (M2): a message written now and delivered at a chosen time. The body is sealed
//! at once, bound to the id the message will have; the job runner delivers it once across the
//! cluster (surviving restarts), as if the sender had sent it then: it takes its place in the
//! conversation, its expiry counts from then, and members are told live.

use super::control::MessageJob;
use super::{body_aad, search, Messaging};
use crate::core::jobs::JobKind;
use crate::{Error, Principal, Result};
use domain::message_policy::Rules;
use domain::{messaging, ConversationId, FieldError, MessageId, MessagePolicyId, Millis, Rule};
use serde::Serialize;
use utoipa::ToSchema;

/// Latest a message may be scheduled for: a year and a day ahead.
const MAX_AHEAD_MS: i64 = 366 * 24 * 3600 * 1000;

/// A message waiting to be delivered, as its sender sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ScheduledView {
    /// The id the message will have once delivered.
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    #[schema(value_type = String, format = Uuid)]
    pub conversation_id: ConversationId,
    pub body: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub policy_id: Option<MessagePolicyId>,
    pub deliver_at: String,
    pub created_at: String,
}

fn job_of(row: &store::ScheduledMessageRow) -> store::JobRow {
    MessageJob { enterprise_id: row.enterprise_id, conversation_id: row.conversation_id, message_id: row.id }
        .row(JobKind::DeliverMessage, row.deliver_at)
}

impl Messaging {
    fn scheduled_view(&self, key: &crypto::DataKey, row: &store::ScheduledMessageRow) -> Result<ScheduledView> {
        Ok(ScheduledView {
            id: row.id,
            conversation_id: row.conversation_id,
            body: key.open_str(&row.body_ct, body_aad(&row.id.to_string()))?,
            policy_id: row.policy_id,
            deliver_at: row.deliver_at.rfc3339(),
            created_at: row.created_at.rfc3339(),
        })
    }

    /// Schedules a message for `deliver_at` (later than now, at most a year and a day ahead),
    /// under the template picked (else the conversation's default, else none).
    pub async fn schedule(
        &self,
        p: &Principal,
        conversation: ConversationId,
        body: &str,
        policy: Option<MessagePolicyId>,
        deliver_at: Millis,
    ) -> Result<ScheduledView> {
        messaging::body("body", body, self.core.settings.max_message_bytes).map_err(Error::Invalid)?;
        let now = Millis::now();
        if deliver_at <= now {
            return Err(Error::Invalid(FieldError::new("deliver_at", Rule::InvalidValue, "must be in the future")));
        }
        if deliver_at.0 - now.0 > MAX_AHEAD_MS {
            return Err(Error::Invalid(FieldError::new(
                "deliver_at",
                Rule::InvalidValue,
                "must be at most a year and a day ahead",
            )));
        }
        let (c, _) = self.membership(p, conversation).await?;
        let rules = self.rules_for_new(p.enterprise_id, policy, &c).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let id = MessageId::new();
        let row = store::ScheduledMessageRow {
            id,
            enterprise_id: p.enterprise_id,
            conversation_id: conversation,
            sender_id: p.user_id,
            body_ct: key.seal_str(body, body_aad(&id.to_string())),
            policy_id: rules.as_ref().map(|(id, _)| *id),
            policy_rules: rules
                .as_ref()
                .map(|(_, r)| serde_json::to_string(r).map_err(|e| Error::Internal(e.to_string())))
                .transpose()?,
            deliver_at,
            created_at: now,
        };
        self.scheduled_store.schedule_message(&row, &job_of(&row)).await.map_err(super::not_found)?;
        self.scheduled_view(&key, &row)
    }

    /// The caller's messages waiting in a conversation, soonest first.
    pub async fn scheduled(&self, p: &Principal, conversation: ConversationId) -> Result<Vec<ScheduledView>> {
        self.membership(p, conversation).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        self.scheduled_store
            .scheduled_messages(p.enterprise_id, p.user_id, conversation)
            .await?
            .iter()
            .map(|row| self.scheduled_view(&key, row))
            .collect()
    }

    /// Cancels one of the caller's waiting messages; someone else's, or one already delivered,
    /// is `NotFound`.
    pub async fn cancel_scheduled(&self, p: &Principal, conversation: ConversationId, id: MessageId) -> Result<()> {
        self.membership(p, conversation).await?;
        let row = self
            .scheduled_store
            .get_scheduled_message(p.enterprise_id, id)
            .await?
            .filter(|r| r.conversation_id == conversation && r.sender_id == p.user_id)
            .ok_or(Error::NotFound("scheduled message"))?;
        let job = job_of(&row);
        if !self.scheduled_store.cancel_scheduled_message(p.enterprise_id, p.user_id, id, &job.key).await? {
            return Err(Error::NotFound("scheduled message"));
        }
        Ok(())
    }

    /// The job at a scheduled message's time: it becomes a message of the conversation. Safe to
    /// run again: a message already delivered (the process died before forgetting the schedule)
    /// is not delivered twice, and a sender who left the conversation meanwhile sends nothing.
    pub(crate) async fn deliver_scheduled(&self, job: &MessageJob) -> Result<()> {
        let Some(row) = self.scheduled_store.get_scheduled_message(job.enterprise_id, job.message_id).await? else {
            return Ok(()); // cancelled
        };
        if self.conversation_store.find_message(row.enterprise_id, row.id).await?.is_some() {
            return Ok(self.scheduled_store.delete_scheduled_message(row.enterprise_id, row.id).await?);
        }
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let body = key.open_str(&row.body_ct, body_aad(&row.id.to_string()))?;
        let rules: Option<(MessagePolicyId, Rules)> = match (&row.policy_id, &row.policy_rules) {
            (Some(id), Some(json)) => Some((*id, super::policies::stored_rules(json)?)),
            _ => None,
        };
        let now = Millis::now();
        let (control, jobs) =
            self.control_for_new(row.enterprise_id, row.conversation_id, row.id, rules.as_ref(), now)?;
        let message = store::MessageRow {
            id: row.id,
            conversation_id: row.conversation_id,
            seq: 0,
            sender_id: row.sender_id,
            body_ct: Some(row.body_ct.clone()),
            created_at: now,
            edited_at: None,
            deleted_at: None,
            attachment: None,
            thread_root_id: None,
            control,
            forward: None,
            removed: None,
        };
        let words = search::index_tokens(&key, &body, rules.as_ref().map(|(_, r)| r));
        let (mentioned, everyone) =
            self.resolve_mentions_by(row.enterprise_id, row.sender_id, &key, row.conversation_id, &body).await?;
        let index = store::MessageIndex { words: &words, mentioned: &mentioned, everyone, jobs: &jobs, audit: None };
        match self.conversation_store.append_message(row.enterprise_id, &message, &index).await {
            Ok((stored, members)) => {
                let view = super::open_message(&key, &stored)?;
                let event = self.event_view(&stored, &view)?;
                self.announce_new(row.enterprise_id, &key, members, &event).await;
            }
            Err(store::Error::NotFound) => {
                tracing::info!(message = %row.id, "a scheduled message was dropped: its sender left the conversation");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(self.scheduled_store.delete_scheduled_message(row.enterprise_id, row.id).await?)
    }
}

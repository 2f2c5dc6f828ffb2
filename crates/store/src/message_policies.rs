//! Message policy templates (M2–M5): the named rule sets an enterprise offers its senders. A
//! template is edited whole (with an optimistic version check) and retired rather than deleted,
//! because sent messages keep a copy of the rules they were sent under and name the template.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::{ConversationId, EnterpriseId, MessagePolicyId, Millis};

use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessagePolicyRow {
    pub id: MessagePolicyId,
    pub enterprise_id: EnterpriseId,
    /// What senders pick it by ("Board only"); unique among the enterprise's active templates.
    pub name: String,
    /// `domain::message_policy::Rules` as JSON.
    pub rules: String,
    /// 1 when created, one more at every change.
    pub version: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Once retired, senders can no longer pick it; messages sent under it keep their rules.
    pub retired_at: Option<Millis>,
}

/// A template's new name and rules.
#[derive(Clone, Copy, Debug)]
pub struct MessagePolicyChange<'a> {
    pub name: &'a str,
    pub rules: &'a str,
    /// The version the editor read; `None` replaces whatever is there.
    pub expected_version: Option<i64>,
    pub at: Millis,
}

#[async_trait]
pub trait MessagePolicyStore: Send + Sync {
    /// Adds a template; `Conflict("message_policies.name")` when an active one has its name.
    async fn create_message_policy(&self, row: &MessagePolicyRow, audit: &AuditDraft) -> Result<()>;
    /// Replaces an active template's name and rules. `NotFound` for none (or a retired one),
    /// `Conflict("message_policies.version")` when someone changed it since `expected_version`,
    /// `Conflict("message_policies.name")` when another active template has the name.
    async fn update_message_policy(
        &self,
        enterprise: EnterpriseId,
        id: MessagePolicyId,
        change: &MessagePolicyChange<'_>,
        audit: &AuditDraft,
    ) -> Result<MessagePolicyRow>;
    /// Retires an active template and clears it as any conversation's default; `NotFound`
    /// when there is no active template with this id.
    async fn retire_message_policy(
        &self,
        enterprise: EnterpriseId,
        id: MessagePolicyId,
        at: Millis,
        audit: &AuditDraft,
    ) -> Result<MessagePolicyRow>;
    /// Every template of the enterprise, retired ones included, by name.
    async fn list_message_policies(&self, enterprise: EnterpriseId) -> Result<Vec<MessagePolicyRow>>;
    async fn get_message_policy(
        &self,
        enterprise: EnterpriseId,
        id: MessagePolicyId,
    ) -> Result<Option<MessagePolicyRow>>;
    /// Sets (or with `None` clears) the template a conversation's messages get when the sender
    /// picks none. `NotFound` when the conversation or an active template of that id is not the
    /// enterprise's.
    async fn set_default_message_policy(
        &self,
        enterprise: EnterpriseId,
        conversation: ConversationId,
        policy: Option<MessagePolicyId>,
        audit: &AuditDraft,
    ) -> Result<()>;
}

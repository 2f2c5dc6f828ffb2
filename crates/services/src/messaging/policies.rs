//! Message policy templates (M2–M5): the rule sets an enterprise admin defines and senders pick
//! in the composer. A message keeps a copy of its template's rules, so editing or retiring a
//! template changes what later messages get, never what was already sent.

use crate::{draft, Caller, Error, Result};
use domain::audit::{Action, Origin};
use domain::message_policy::{self, ReaderDevice, Rules};
use domain::{EnterpriseId, FieldError, MessagePolicyId, Millis, Rule};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// A template's rules as clients write and read them: times in RFC 3339, durations in seconds.
/// A field left out sets no rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyRules {
    /// Not readable before this time.
    #[schema(format = DateTime)]
    pub readable_from: Option<String>,
    /// Not readable after this time.
    #[schema(format = DateTime)]
    pub readable_until: Option<String>,
    /// Destroyed for everyone this long after sending.
    #[schema(minimum = 1, maximum = 31622400)]
    pub expire_after_seconds: Option<u64>,
    /// Burn after reading: each recipient reveals it and loses it this long after (never later
    /// than the expiry).
    #[schema(minimum = 1, maximum = 31622400)]
    pub burn_after_seconds: Option<u64>,
    /// Readable only from these networks (IPv4 or IPv6 CIDR, as the trusted-proxy rules give
    /// the client's address).
    #[schema(schema_with = policyrules_networks_schema)]
    pub networks: Option<Vec<String>>,
    /// Readable only on these kinds of client: `web`, `desktop`, `mobile`, `api`.
    #[schema(schema_with = policyrules_devices_schema)]
    pub devices: Option<Vec<ReaderDevice>>,
    /// Nobody may forward it.
    pub no_forward: bool,
    /// Clients disable selecting and copying it, and its file cannot be downloaded.
    pub no_copy: bool,
}

fn parse_time(field: &str, raw: &Option<String>) -> Result<Option<Millis>> {
    raw.as_deref().map(|raw| domain::validate::moment(field, raw)).transpose().map_err(Error::Invalid)
}

impl PolicyRules {
    /// The domain rules, checked and in canonical form.
    pub fn to_rules(&self, now: Millis) -> Result<Rules> {
        let rules = Rules {
            readable_from: parse_time("readable_from", &self.readable_from)?,
            readable_until: parse_time("readable_until", &self.readable_until)?,
            expire_after_seconds: self.expire_after_seconds,
            burn_after_seconds: self.burn_after_seconds,
            networks: self.networks.as_deref().map(message_policy::networks).transpose().map_err(Error::Invalid)?,
            devices: self.devices.clone(),
            no_forward: self.no_forward,
            no_copy: self.no_copy,
        };
        rules.checked(now).map_err(Error::Invalid)
    }

    pub fn of(rules: &Rules) -> PolicyRules {
        PolicyRules {
            readable_from: rules.readable_from.map(Millis::rfc3339),
            readable_until: rules.readable_until.map(Millis::rfc3339),
            expire_after_seconds: rules.expire_after_seconds,
            burn_after_seconds: rules.burn_after_seconds,
            networks: rules.networks.as_ref().map(|list| list.iter().map(ToString::to_string).collect()),
            devices: rules.devices.clone(),
            no_forward: rules.no_forward,
            no_copy: rules.no_copy,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MessagePolicyView {
    #[schema(value_type = String, format = Uuid)]
    pub id: MessagePolicyId,
    pub name: String,
    pub rules: PolicyRules,
    /// Send it back as `expected_version` when updating, so two editors cannot both win.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Retired templates are listed to admins only; senders can no longer pick them.
    pub retired_at: Option<String>,
}

/// Parses a stored copy of rules (a template's or a message's).
pub(crate) fn stored_rules(json: &str) -> Result<Rules> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("stored message rules do not parse: {e}")))
}

fn view(row: &store::MessagePolicyRow) -> Result<MessagePolicyView> {
    Ok(MessagePolicyView {
        id: row.id,
        name: row.name.clone(),
        rules: PolicyRules::of(&stored_rules(&row.rules)?),
        version: row.version,
        created_at: row.created_at.rfc3339(),
        updated_at: row.updated_at.rfc3339(),
        retired_at: row.retired_at.map(Millis::rfc3339),
    })
}

fn name_taken() -> Error {
    Error::Conflict(FieldError::new("name", Rule::Duplicate, "another template has this name"))
}

/// The enterprise's message policy templates.
pub struct MessagePolicies {
    core: Arc<crate::core::Core>,
    store: Arc<dyn store::MessagePolicyStore>,
}

impl MessagePolicies {
    pub(crate) fn new(core: Arc<crate::core::Core>, store: &Arc<dyn store::Store>) -> MessagePolicies {
        MessagePolicies { core, store: store.clone() }
    }

    /// Members see the templates they may pick; enterprise admins see retired ones too.
    pub async fn list(&self, caller: &Caller, enterprise: EnterpriseId) -> Result<Vec<MessagePolicyView>> {
        self.core.require_member_of(caller, enterprise, Action::MessagePolicyList).await?;
        let admin = caller.is_enterprise_admin_of(enterprise);
        self.store
            .list_message_policies(enterprise)
            .await?
            .iter()
            .filter(|row| admin || row.retired_at.is_none())
            .map(view)
            .collect()
    }

    pub async fn create(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        name: &str,
        rules: &PolicyRules,
    ) -> Result<MessagePolicyView> {
        self.core.require_enterprise_admin(caller, enterprise, Action::MessagePolicyCreate).await?;
        let name = message_policy::name(name).map_err(Error::Invalid)?;
        let now = Millis::now();
        let rules = rules.to_rules(now)?;
        let row = store::MessagePolicyRow {
            id: MessagePolicyId::new(),
            enterprise_id: enterprise,
            name: name.clone(),
            rules: serde_json::to_string(&rules).map_err(|e| Error::Internal(e.to_string()))?,
            version: 1,
            created_at: now,
            updated_at: now,
            retired_at: None,
        };
        let audit = domain::audit::AuditDraft {
            detail: serde_json::json!({ "name": name }).to_string(),
            ..draft(
                caller,
                origin,
                Some(enterprise),
                Action::MessagePolicyCreate,
                Some(format!("message-policy:{}", row.id)),
            )
        };
        self.store.create_message_policy(&row, &audit).await.map_err(|e| match e {
            store::Error::Conflict(_) => name_taken(),
            e => e.into(),
        })?;
        view(&row)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn update(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        id: MessagePolicyId,
        name: &str,
        rules: &PolicyRules,
        expected_version: Option<i64>,
    ) -> Result<MessagePolicyView> {
        self.core.require_enterprise_admin(caller, enterprise, Action::MessagePolicyUpdate).await?;
        let name = message_policy::name(name).map_err(Error::Invalid)?;
        let now = Millis::now();
        let rules = serde_json::to_string(&rules.to_rules(now)?).map_err(|e| Error::Internal(e.to_string()))?;
        let audit = domain::audit::AuditDraft {
            detail: serde_json::json!({ "name": name, "version": expected_version.map_or(0, |v| v + 1) }).to_string(),
            ..draft(caller, origin, Some(enterprise), Action::MessagePolicyUpdate, Some(format!("message-policy:{id}")))
        };
        let change = store::MessagePolicyChange { name: &name, rules: &rules, expected_version, at: now };
        let row = self.store.update_message_policy(enterprise, id, &change, &audit).await.map_err(|e| match e {
            store::Error::NotFound => Error::NotFound("message policy"),
            store::Error::Conflict(what) if what.ends_with("version") => Error::Conflict(FieldError::new(
                "expected_version",
                Rule::InvalidValue,
                "someone changed this template meanwhile; load it again",
            )),
            store::Error::Conflict(_) => name_taken(),
            e => e.into(),
        })?;
        view(&row)
    }

    /// Retires a template: senders can no longer pick it and it stops being any conversation's
    /// default; messages already sent keep their rules.
    pub async fn retire(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        id: MessagePolicyId,
    ) -> Result<MessagePolicyView> {
        self.core.require_enterprise_admin(caller, enterprise, Action::MessagePolicyRetire).await?;
        let existing = self.store.get_message_policy(enterprise, id).await?.ok_or(Error::NotFound("message policy"))?;
        if existing.retired_at.is_some() {
            return Err(Error::Conflict(FieldError::new("id", Rule::InvalidValue, "this template is already retired")));
        }
        let audit = domain::audit::AuditDraft {
            detail: serde_json::json!({ "name": existing.name }).to_string(),
            ..draft(caller, origin, Some(enterprise), Action::MessagePolicyRetire, Some(format!("message-policy:{id}")))
        };
        let row =
            self.store.retire_message_policy(enterprise, id, Millis::now(), &audit).await.map_err(|e| match e {
                store::Error::NotFound => Error::NotFound("message policy"),
                e => e.into(),
            })?;
        view(&row)
    }

    /// The rules of a template a sender picked: an active template of their own enterprise,
    /// else refused by field (another enterprise's template reads as unknown).
    pub(crate) async fn pick(&self, enterprise: EnterpriseId, id: MessagePolicyId) -> Result<Rules> {
        let row = self.store.get_message_policy(enterprise, id).await?.ok_or_else(|| {
            Error::Invalid(FieldError::new("policy_id", Rule::InvalidValue, "there is no such message policy template"))
        })?;
        if row.retired_at.is_some() {
            return Err(Error::Invalid(FieldError::new(
                "policy_id",
                Rule::InvalidValue,
                "this template was retired; pick another",
            )));
        }
        stored_rules(&row.rules)
    }

    /// Stores a conversation's default template (checked by the caller).
    pub(crate) async fn set_default(
        &self,
        enterprise: EnterpriseId,
        conversation: domain::ConversationId,
        policy: Option<MessagePolicyId>,
        audit: &domain::audit::AuditDraft,
    ) -> Result<()> {
        self.store.set_default_message_policy(enterprise, conversation, policy, audit).await.map_err(|e| match e {
            store::Error::NotFound => Error::NotFound("conversation"),
            e => e.into(),
        })
    }
}

// The OpenAPI schemas of list fields whose items have limits too.
domain::string_list_schema!(fn policyrules_devices_schema: max_items = 4, max_length = 7, pattern = "^(web|desktop|mobile|api)$", nullable = true);
domain::string_list_schema!(fn policyrules_networks_schema: max_items = 64, max_length = 49, nullable = true);

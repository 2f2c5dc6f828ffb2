//! Message control on every path that can reveal content (M2–M5): what a reader may see of a
//! message under its policy ([`Messaging::present`], used by history, threads, search, single
//! fetches and live events), forwarding with lineage, the forward tree, recall of every copy,
//! burn after reading, and the timed work (expiry, a window opening or closing) that the durable
//! job runner does.
//!
//! The decision itself is `domain::message_policy::access`, a pure function of the rules, the
//! clock, and the reader's network and kind of device; this module only gathers its inputs.

use super::policies::stored_rules;
use super::{body_aad, not_found, open_message, search, Messaging};
use crate::core::events::conversation_topic;
use crate::core::jobs::{self, JobKind};
use crate::protocol::{ControlView, Event, ForwardedView, MessageView};
use crate::{draft, Caller, Error, Principal, Result};
use domain::audit::{Action, AuditDraft, Origin};
use domain::message_policy::{self, Access, Reader, ReaderDevice, Rules};
use domain::{ConversationId, EnterpriseId, FieldError, MessageId, MessagePolicyId, Millis, Rule, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// One copy in a message's forward tree.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ForwardCopyView {
    #[schema(value_type = String, format = Uuid)]
    pub message_id: MessageId,
    /// The message it was copied from (the original or another copy).
    #[schema(value_type = String, format = Uuid)]
    pub parent_id: MessageId,
    #[schema(value_type = String, format = Uuid)]
    pub conversation_id: ConversationId,
    /// 1 for a copy of the original, 2 for a copy of a copy, ...
    pub hops: i64,
    /// Who forwarded it.
    #[schema(value_type = String, format = Uuid)]
    pub forwarded_by: UserId,
    pub forwarded_at: String,
    /// `recalled` or `expired` once gone; absent while it exists.
    pub removed: Option<String>,
    /// The members of the conversation it went to, besides who forwarded it.
    #[schema(value_type = Vec<String>)]
    pub recipients: Vec<UserId>,
    /// Of those, who has read it.
    #[schema(value_type = Vec<String>)]
    pub read_by: Vec<UserId>,
}

/// Who forwarded a message where, at every depth.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ForwardTreeView {
    #[schema(value_type = String, format = Uuid)]
    pub message_id: MessageId,
    /// Every copy, by distance from the message, then time.
    pub copies: Vec<ForwardCopyView>,
}

/// What a recall removed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RecallReceipt {
    /// Messages removed: the original and its copies.
    pub removed: usize,
    /// How many were removed in each conversation.
    pub conversations: Vec<RecallCount>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RecallCount {
    #[schema(value_type = String, format = Uuid)]
    pub conversation_id: ConversationId,
    pub removed: usize,
}

/// What a timed message job works on.
#[derive(Serialize, Deserialize)]
pub(crate) struct MessageJob {
    pub enterprise_id: EnterpriseId,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
}

impl MessageJob {
    pub(crate) fn row(&self, kind: JobKind, due: Millis) -> store::JobRow {
        let key = format!("{}:{}:{}", kind.name(), self.message_id, due.0);
        jobs::job(kind, &key, &serde_json::to_string(self).unwrap_or_default(), due)
    }

    pub(crate) fn parse(row: &store::JobRow) -> Result<MessageJob> {
        serde_json::from_str(&row.payload).map_err(|e| Error::Internal(format!("a message job's payload: {e}")))
    }
}

/// A message's rules and expiry, when it was sent under a policy.
pub(crate) fn control_of(row: &store::MessageRow) -> Result<Option<(Rules, Option<Millis>)>> {
    row.control.as_ref().map(|c| Ok((stored_rules(&c.rules)?, c.expires_at))).transpose()
}

/// What the timed work of a new message is: its expiry, and its window opening and closing.
pub(crate) fn timed_jobs(
    job: &MessageJob,
    rules: &Rules,
    expires_at: Option<Millis>,
    now: Millis,
) -> Vec<store::JobRow> {
    let mut out = Vec::new();
    if let Some(at) = expires_at {
        out.push(job.row(JobKind::ExpireMessage, at));
    }
    for at in [rules.readable_from, rules.readable_until].into_iter().flatten().filter(|at| *at > now) {
        out.push(job.row(JobKind::MessageWindow, at));
    }
    out
}

/// Whether the reader wrote these words: the author of an original, or of the original a copy
/// came from. Whoever forwarded a copy did not write it, so its rules bind them like anyone.
pub(crate) fn is_author(p: &Principal, row: &store::MessageRow) -> bool {
    match &row.forward {
        None => row.sender_id == p.user_id,
        Some(f) => f.original_sender_id == p.user_id,
    }
}

fn reader(p: &Principal, row: &store::MessageRow, burns_at: Option<Millis>, now: Millis) -> Reader {
    Reader {
        is_author: is_author(p, row),
        ip: p.origin.ip.as_deref().and_then(|ip| ip.parse().ok()),
        device: ReaderDevice::of(p.device),
        now,
        burns_at,
    }
}

fn strip(view: &mut MessageView) {
    view.body = None;
    view.attachment = None;
}

/// Extra facts [`Messaging::present`] needs about a page of messages, fetched once per page.
#[derive(Default)]
pub(crate) struct PageFacts {
    /// Each controlled message's rules and expiry, parsed once per distinct copy of the rules.
    rules: HashMap<MessageId, (std::sync::Arc<Rules>, Option<Millis>)>,
    /// When each message burns for the reader (revealed ones).
    burns: HashMap<MessageId, Millis>,
    /// How many revealed each of the reader's own burn-after-reading messages.
    reveals: HashMap<MessageId, i64>,
    /// Copies forwarded from messages the reader sent (or any, for admins).
    forwards: HashMap<MessageId, i64>,
}

impl Messaging {
    /// Gathers what [`Messaging::present`] needs for these rows, in three queries at most.
    pub(crate) async fn page_facts(&self, p: &Principal, rows: &[store::MessageRow]) -> Result<PageFacts> {
        // Most messages of a page share a template: each distinct text is parsed once.
        let mut parsed: HashMap<&str, std::sync::Arc<Rules>> = HashMap::new();
        let mut rules = HashMap::new();
        for row in rows {
            if let Some(c) = &row.control {
                let r = match parsed.get(c.rules.as_str()) {
                    Some(r) => r.clone(),
                    None => {
                        let r = std::sync::Arc::new(stored_rules(&c.rules)?);
                        parsed.insert(&c.rules, r.clone());
                        r
                    }
                };
                rules.insert(row.id, (r, c.expires_at));
            }
        }
        let burning = |r: &store::MessageRow| rules.get(&r.id).is_some_and(|(x, _)| x.burn_after_seconds.is_some());
        let controlled: Vec<MessageId> =
            rows.iter().filter(|r| burning(r) && r.deleted_at.is_none()).map(|r| r.id).collect();
        let admin = Caller::User(p.clone()).is_enterprise_admin_of(p.enterprise_id);
        let traced: Vec<MessageId> = rows
            .iter()
            .filter(|r| r.deleted_at.is_none() && (admin || r.sender_id == p.user_id))
            .map(|r| r.id)
            .collect();
        let own_controlled: Vec<MessageId> =
            rows.iter().filter(|r| burning(r) && is_author(p, r)).map(|r| r.id).collect();
        let store = &self.conversation_store;
        Ok(PageFacts {
            burns: store.reveals_for(p.enterprise_id, p.user_id, &controlled).await?.into_iter().collect(),
            reveals: store.reveal_counts(p.enterprise_id, &own_controlled).await?.into_iter().collect(),
            forwards: store.forward_counts(p.enterprise_id, &traced).await?.into_iter().collect(),
            rules,
        })
    }

    /// The reader's view of one message: `None` when they are to see nothing of it (expired,
    /// burned for them); otherwise the view with its content withheld when its policy says so.
    pub(crate) fn present(
        &self,
        p: &Principal,
        row: &store::MessageRow,
        mut view: MessageView,
        facts: &PageFacts,
        now: Millis,
    ) -> Result<Option<MessageView>> {
        view.forwarded =
            row.forward.as_ref().map(|f| ForwardedView { original_sender_id: f.original_sender_id, hops: f.hops });
        view.forward_count = facts.forwards.get(&row.id).copied().unwrap_or(0);
        let (rules, expires_at) = match facts.rules.get(&row.id) {
            Some((rules, expires_at)) => (rules.clone(), *expires_at),
            None => match control_of(row)? {
                Some((rules, expires_at)) => (std::sync::Arc::new(rules), expires_at),
                None => return Ok(Some(view)),
            },
        };
        let access =
            message_policy::access(&rules, expires_at, &reader(p, row, facts.burns.get(&row.id).copied(), now));
        let mut control = ControlView {
            policy_id: row.control.as_ref().and_then(|c| c.policy_id),
            state: "readable".to_owned(),
            reason: None,
            opens_at: None,
            expires_at: expires_at.map(Millis::rfc3339),
            burn_after_seconds: rules.burn_after_seconds,
            burns_at: None,
            revealed_by: (is_author(p, row) && rules.burn_after_seconds.is_some())
                .then(|| facts.reveals.get(&row.id).copied().unwrap_or(0)),
            no_forward: rules.no_forward,
            no_copy: rules.no_copy,
        };
        match access {
            Access::Gone => return Ok(None),
            Access::Readable { burns_at } => control.burns_at = burns_at.map(Millis::rfc3339),
            Access::Restricted { reason, opens_at } => {
                strip(&mut view);
                control.state = "restricted".to_owned();
                control.reason = Some(reason);
                control.opens_at = opens_at.map(Millis::rfc3339);
            }
            Access::Concealed => {
                strip(&mut view);
                control.state = "concealed".to_owned();
                control.reason = Some("burn after reading: reveal it to read it".to_owned());
            }
        }
        view.control = Some(control);
        Ok(Some(view))
    }

    /// What a live event may carry of a message: everything, unless its policy gates reading;
    /// then only that it exists, and each client fetches what its reader may see.
    pub(crate) fn event_view(&self, row: &store::MessageRow, view: &MessageView) -> Result<MessageView> {
        let mut out = view.clone();
        out.forward_count = 0;
        out.forwarded =
            row.forward.as_ref().map(|f| ForwardedView { original_sender_id: f.original_sender_id, hops: f.hops });
        let Some((rules, expires_at)) = control_of(row)? else { return Ok(out) };
        // Past its expiry (the job may not have run yet) it carries nothing either.
        let gated = rules.gates_reading() || expires_at.is_some_and(|at| at <= Millis::now());
        if gated {
            strip(&mut out);
        }
        out.control = Some(ControlView {
            policy_id: row.control.as_ref().and_then(|c| c.policy_id),
            state: if gated { "pending" } else { "readable" }.to_owned(),
            reason: None,
            opens_at: None,
            expires_at: expires_at.map(Millis::rfc3339),
            burn_after_seconds: rules.burn_after_seconds,
            burns_at: None,
            revealed_by: None,
            no_forward: rules.no_forward,
            no_copy: rules.no_copy,
        });
        Ok(out)
    }

    /// The rules a new message gets: the template the sender picked, else the conversation's
    /// default, else none.
    pub(crate) async fn rules_for_new(
        &self,
        enterprise: EnterpriseId,
        picked: Option<MessagePolicyId>,
        conversation: &store::ConversationRow,
    ) -> Result<Option<(MessagePolicyId, Rules)>> {
        let Some(id) = picked.or(conversation.default_policy_id) else { return Ok(None) };
        Ok(Some((id, self.policies.pick(enterprise, id).await?)))
    }

    /// One message as the reader may see it now. A recalled one answers `Recalled`; an expired
    /// or burned one, or one never there, `NotFound`.
    pub async fn get_message(&self, p: &Principal, conversation: ConversationId, id: MessageId) -> Result<MessageView> {
        self.membership(p, conversation).await?;
        let row = self.live_row(p, conversation, id).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        self.views(p, &key, conversation, std::slice::from_ref(&row)).await?.pop().ok_or(Error::NotFound("message"))
    }

    /// Audits a refusal of content under a message's policy and hands the refusal back.
    async fn refused(&self, p: &Principal, row: &store::MessageRow, rule: &str, e: Error) -> Error {
        if matches!(e, Error::PolicyRefused(_)) {
            let target = Some(format!("message:{}", row.id));
            self.core.deny(&Caller::User(p.clone()), Action::MessageRead, None, rule, target).await;
        }
        e
    }

    /// A message that is neither recalled nor expired (it may be deleted).
    async fn live_row(&self, p: &Principal, conversation: ConversationId, id: MessageId) -> Result<store::MessageRow> {
        let row = self
            .conversation_store
            .get_message(p.enterprise_id, conversation, id)
            .await?
            .ok_or(Error::NotFound("message"))?;
        match row.removed {
            Some(store::Removal::Recalled) => Err(Error::Recalled),
            Some(store::Removal::Expired) => Err(Error::NotFound("message")),
            None => Ok(row),
        }
    }

    /// Refuses what the reader cannot see of a message here and now (for forwards and files).
    pub(crate) fn require_readable(
        &self,
        p: &Principal,
        row: &store::MessageRow,
        burns_at: Option<Millis>,
    ) -> Result<()> {
        let Some((rules, expires_at)) = control_of(row)? else { return Ok(()) };
        match message_policy::access(&rules, expires_at, &reader(p, row, burns_at, Millis::now())) {
            Access::Readable { .. } => Ok(()),
            Access::Restricted { reason, .. } => Err(Error::PolicyRefused(format!("not now or not here: {reason}"))),
            Access::Concealed => Err(Error::PolicyRefused("reveal the message first".to_owned())),
            Access::Gone => Err(Error::NotFound("message")),
        }
    }

    /// Whether the reader may download the file of this message: they can read it and, unless
    /// they sent it, its policy allows copying.
    pub(crate) async fn require_downloadable(&self, p: &Principal, row: &store::MessageRow) -> Result<()> {
        if row.control.is_none() {
            return Ok(());
        }
        let burns = self.conversation_store.reveals_for(p.enterprise_id, p.user_id, &[row.id]).await?;
        if let Err(e) = self.require_readable(p, row, burns.first().map(|(_, at)| *at)) {
            return Err(self.refused(p, row, "readable", e).await);
        }
        if control_of(row)?.is_some_and(|(rules, _)| rules.no_copy) && !is_author(p, row) {
            let e = Error::PolicyRefused(
                "its policy forbids copying, so its file can be viewed in the conversation but not downloaded".into(),
            );
            return Err(self.refused(p, row, "no-copy", e).await);
        }
        Ok(())
    }

    /// Whether the reader may see a file's preview: they can read its message here and now.
    pub(crate) async fn require_previewable(&self, p: &Principal, row: &store::MessageRow) -> Result<()> {
        if row.control.is_none() {
            return Ok(());
        }
        let burns = self.conversation_store.reveals_for(p.enterprise_id, p.user_id, &[row.id]).await?;
        match self.require_readable(p, row, burns.first().map(|(_, at)| *at)) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.refused(p, row, "readable", e).await),
        }
    }

    /// Forwards a message the caller can read into another conversation they are in. The copy
    /// remembers its parent, its original and its distance from it, and keeps the strictest
    /// rules of all its ancestors (and its expiry never passes theirs). Refusals are audited.
    pub async fn forward(
        &self,
        p: &Principal,
        origin: &Origin,
        conversation: ConversationId,
        id: MessageId,
        to: ConversationId,
    ) -> Result<MessageView> {
        let caller = Caller::User(p.clone());
        self.membership(p, conversation).await?;
        let row = self.live_row(p, conversation, id).await?;
        if row.deleted_at.is_some() {
            return Err(Error::NotFound("message"));
        }
        let target = Some(format!("message:{id}"));
        let burns = self.conversation_store.reveals_for(p.enterprise_id, p.user_id, &[id]).await?;
        if let Err(e) = self.require_readable(p, &row, burns.first().map(|(_, at)| *at)) {
            self.core.deny(&caller, Action::MessageForward, None, "readable", target).await;
            return Err(match e {
                Error::PolicyRefused(why) => {
                    Error::PolicyRefused(format!("you cannot read it, so you cannot forward it ({why})"))
                }
                e => e,
            });
        }
        let inherited = control_of(&row)?;
        if inherited.as_ref().is_some_and(|(rules, _)| rules.no_forward) {
            self.core.deny(&caller, Action::MessageForward, None, "no-forward", target).await;
            return Err(Error::PolicyRefused("its policy forbids forwarding".to_owned()));
        }
        let Ok((into, _)) = self.membership(p, to).await else {
            self.core.deny(&caller, Action::MessageForward, None, "member-of-target", target).await;
            return Err(Error::Invalid(FieldError::new(
                "conversation_id",
                Rule::InvalidValue,
                "you can forward only into your own conversations",
            )));
        };
        if to == conversation {
            return Err(Error::Invalid(FieldError::new(
                "conversation_id",
                Rule::InvalidValue,
                "a message is forwarded into another conversation",
            )));
        }
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let body = row.body_ct.as_ref().map(|ct| key.open_str(ct, body_aad(&id.to_string()))).transpose()?;
        let copy_id = MessageId::new();
        let now = Millis::now();
        // The copy keeps its ancestors' rules, tightened by the target's default template.
        let target_default = self.rules_for_new(p.enterprise_id, None, &into).await?;
        let rules = match (&inherited, &target_default) {
            (Some((a, _)), Some((_, b))) => Some(a.strictest(b)),
            (Some((a, _)), None) => Some(a.clone()),
            (None, Some((_, b))) => Some(b.clone()),
            (None, None) => None,
        };
        let expires_at =
            rules.as_ref().and_then(|r| message_policy::expires_at(r, now, inherited.as_ref().and_then(|(_, e)| *e)));
        let job = MessageJob { enterprise_id: p.enterprise_id, conversation_id: to, message_id: copy_id };
        let jobs = rules.as_ref().map(|r| timed_jobs(&job, r, expires_at, now)).unwrap_or_default();
        let (root_id, hops, original_sender_id) = match &row.forward {
            Some(f) => (f.root_id, f.hops + 1, f.original_sender_id),
            None => (row.id, 1, row.sender_id),
        };
        let copy = store::MessageRow {
            id: copy_id,
            conversation_id: to,
            seq: 0,
            sender_id: p.user_id,
            body_ct: body.as_ref().map(|b| key.seal_str(b, body_aad(&copy_id.to_string()))),
            created_at: now,
            edited_at: None,
            deleted_at: None,
            // The copy shares the sealed file (its name is bound to the file, not the message).
            attachment: row.attachment.clone(),
            thread_root_id: None,
            control: rules
                .as_ref()
                .map(|r| {
                    Ok::<_, Error>(store::MessageControl {
                        policy_id: target_default
                            .as_ref()
                            .map(|(id, _)| *id)
                            .or(row.control.as_ref().and_then(|c| c.policy_id)),
                        rules: serde_json::to_string(r).map_err(|e| Error::Internal(e.to_string()))?,
                        expires_at,
                    })
                })
                .transpose()?,
            forward: Some(store::ForwardLink { parent_id: row.id, root_id, hops, original_sender_id }),
            removed: None,
        };
        let words = search::index_tokens(&key, body.as_deref().unwrap_or(""), rules.as_ref());
        let audit = AuditDraft {
            detail: serde_json::json!({ "to_conversation": to.to_string(), "copy": copy_id.to_string(), "hops": hops })
                .to_string(),
            ..draft(&caller, origin, Some(p.enterprise_id), Action::MessageForward, Some(format!("message:{id}")))
        };
        let index = store::MessageIndex { words: &words, jobs: &jobs, audit: Some(&audit), ..Default::default() };
        let (stored, members) =
            self.conversation_store.append_message(p.enterprise_id, &copy, &index).await.map_err(|e| match e {
                store::Error::Conflict(c) if c == "messages.forwarded_from" => Error::Recalled,
                e => not_found(e),
            })?;
        let view = open_message(&key, &stored)?;
        let event = self.event_view(&stored, &view)?;
        self.core
            .publish(p.enterprise_id, &key, &conversation_topic(to), members, Event::MessageCreated { message: event })
            .await;
        self.present(p, &stored, view, &super::control::PageFacts::default(), now)?.ok_or(Error::NotFound("message"))
    }

    /// Who may see a message's forward tree and recall it: its sender, the original's author,
    /// and enterprise admins, who (not being its author) need an elevated session like any
    /// admin action (A5).
    async fn require_tracer(&self, p: &Principal, row: &store::MessageRow, action: Action) -> Result<()> {
        let caller = Caller::User(p.clone());
        let author =
            row.sender_id == p.user_id || row.forward.as_ref().is_some_and(|f| f.original_sender_id == p.user_id);
        if author {
            return Ok(());
        }
        if caller.is_enterprise_admin_of(p.enterprise_id) {
            return self.core.require_elevated(&caller, p.enterprise_id, action).await;
        }
        Err(self.core.deny(&caller, action, None, "sender-or-admin", Some(format!("message:{}", row.id))).await)
    }

    /// Every copy forwarded from a message, at every depth, with who has read each.
    pub async fn forwards(
        &self,
        p: &Principal,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<ForwardTreeView> {
        self.membership(p, conversation).await?;
        let row = self.live_row(p, conversation, id).await?;
        self.require_tracer(p, &row, Action::MessageForwardsRead).await?;
        let copies = self.conversation_store.forward_descendants(p.enterprise_id, id).await?;
        let mut members: HashMap<ConversationId, Vec<store::ConversationMemberRow>> = HashMap::new();
        let mut out = Vec::with_capacity(copies.len());
        for copy in copies {
            let in_conversation = match members.entry(copy.conversation_id) {
                std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(self.conversation_store.list_members(p.enterprise_id, copy.conversation_id).await?)
                }
            };
            let recipients: Vec<&store::ConversationMemberRow> =
                in_conversation.iter().filter(|m| m.user_id != copy.sender_id).collect();
            let Some(link) = &copy.forward else { continue };
            out.push(ForwardCopyView {
                message_id: copy.id,
                parent_id: link.parent_id,
                conversation_id: copy.conversation_id,
                hops: link.hops,
                forwarded_by: copy.sender_id,
                forwarded_at: copy.created_at.rfc3339(),
                removed: copy.removed.map(|r| r.as_str().to_owned()),
                read_by: recipients.iter().filter(|m| m.last_read_seq >= copy.seq).map(|m| m.user_id).collect(),
                recipients: recipients.iter().map(|m| m.user_id).collect(),
            });
        }
        Ok(ForwardTreeView { message_id: id, copies: out })
    }

    /// Recalls a message: it and every copy forwarded from it, at any depth and in any
    /// conversation, lose their content in one transaction (with the audit event and the job
    /// that deletes their files), vanish from connected clients at once, and answer
    /// `Recalled` afterwards. The sender, the original's author and enterprise admins may.
    pub async fn recall(
        &self,
        p: &Principal,
        origin: &Origin,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<RecallReceipt> {
        self.membership(p, conversation).await?;
        let row = self.live_row(p, conversation, id).await?;
        self.require_tracer(p, &row, Action::MessageRecall).await?;
        let copies = self.conversation_store.forward_descendants(p.enterprise_id, id).await?;
        let live: Vec<&store::MessageRow> = copies.iter().filter(|c| c.removed.is_none()).collect();
        let conversations: std::collections::HashSet<ConversationId> =
            live.iter().map(|c| c.conversation_id).chain([conversation]).collect();
        let audit = AuditDraft {
            detail: serde_json::json!({ "copies": live.len(), "conversations": conversations.len() }).to_string(),
            ..draft(
                &Caller::User(p.clone()),
                origin,
                Some(p.enterprise_id),
                Action::MessageRecall,
                Some(format!("message:{id}")),
            )
        };
        let job = MessageJob { enterprise_id: p.enterprise_id, conversation_id: conversation, message_id: id }
            .row(JobKind::ShredFiles, Millis::now());
        let remove = store::RemoveMessages {
            message: id,
            removal: store::Removal::Recalled,
            with_copies: true,
            at: Millis::now(),
            audit: Some(&audit),
            job: Some(&job),
        };
        let removed = self.conversation_store.remove_messages(p.enterprise_id, &remove).await?;
        if removed.is_empty() {
            return Err(Error::Recalled);
        }
        let counts = self.announce_removed(p.enterprise_id, &removed, store::Removal::Recalled).await?;
        self.delete_files_of(&removed).await?;
        Ok(RecallReceipt {
            removed: removed.len(),
            conversations: counts
                .into_iter()
                .map(|(conversation_id, removed)| RecallCount { conversation_id, removed })
                .collect(),
        })
    }

    /// Tells each conversation's members which messages just vanished; returns how many per
    /// conversation.
    async fn announce_removed(
        &self,
        enterprise: EnterpriseId,
        removed: &[store::MessageRow],
        why: store::Removal,
    ) -> Result<Vec<(ConversationId, usize)>> {
        let mut by_conversation: Vec<(ConversationId, Vec<MessageId>)> = Vec::new();
        for row in removed {
            match by_conversation.iter_mut().find(|(c, _)| *c == row.conversation_id) {
                Some((_, ids)) => ids.push(row.id),
                None => by_conversation.push((row.conversation_id, vec![row.id])),
            }
        }
        let key = self.core.keys.enterprise_key(enterprise).await?;
        for (conversation, ids) in &by_conversation {
            let event = Event::MessagesRemoved {
                conversation_id: *conversation,
                message_ids: ids.clone(),
                reason: why.as_str().to_owned(),
            };
            self.publish_to_members(enterprise, &key, *conversation, event).await?;
        }
        Ok(by_conversation.into_iter().map(|(c, ids)| (c, ids.len())).collect())
    }

    /// Deletes the files (and previews) of removed messages that no other message still shows.
    async fn delete_files_of(&self, removed: &[store::MessageRow]) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for attachment in removed.iter().filter_map(|r| r.attachment.as_ref()) {
            if !seen.insert(attachment.id) || self.conversation_store.attachment_in_use(attachment.id).await? {
                continue;
            }
            self.core.blobs.delete(attachment.id).await;
            if let Some(thumbnail) = &attachment.thumbnail {
                self.core.blobs.delete(thumbnail.id).await;
            }
        }
        Ok(())
    }

    /// Reveals a burn-after-reading message to the caller and starts their countdown (once:
    /// revealing again keeps the first countdown). The sender is told live, to count reveals.
    pub async fn reveal(&self, p: &Principal, conversation: ConversationId, id: MessageId) -> Result<MessageView> {
        self.membership(p, conversation).await?;
        let row = self.live_row(p, conversation, id).await?;
        let Some((rules, expires_at)) = control_of(&row)?.filter(|(r, _)| r.burn_after_seconds.is_some()) else {
            return Err(Error::Invalid(FieldError::new(
                "message_id",
                Rule::InvalidValue,
                "only burn-after-reading messages are revealed",
            )));
        };
        if !is_author(p, &row) {
            let now = Millis::now();
            // Outside its window, network or device kinds it stays closed: revealing is reading.
            match message_policy::access(&rules, expires_at, &reader(p, &row, None, now)) {
                Access::Restricted { reason, .. } => {
                    let e = Error::PolicyRefused(format!("not now or not here: {reason}"));
                    return Err(self.refused(p, &row, "readable", e).await);
                }
                Access::Gone => return Err(Error::NotFound("message")),
                Access::Readable { .. } | Access::Concealed => {}
            }
            let burns_at = message_policy::burns_at(&rules, now, expires_at).unwrap_or(now);
            self.conversation_store
                .reveal_message(p.enterprise_id, id, p.user_id, now, burns_at)
                .await
                .map_err(not_found)?;
            let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
            let event = Event::MessageChanged { conversation_id: conversation, message_id: id };
            self.core
                .publish(p.enterprise_id, &key, &conversation_topic(conversation), vec![row.sender_id], event)
                .await;
        }
        self.get_message(p, conversation, id).await
    }

    /// The job at a message's expiry: its content is destroyed and it vanishes from every client.
    pub(crate) async fn expire(&self, job: &MessageJob) -> Result<()> {
        let audit = AuditDraft {
            enterprise_id: Some(job.enterprise_id),
            target: Some(format!("message:{}", job.message_id)),
            ..AuditDraft::new(Action::MessageExpire, Caller::System.actor(), Origin::default())
        };
        let shred = job.row(JobKind::ShredFiles, Millis::now());
        let remove = store::RemoveMessages {
            message: job.message_id,
            removal: store::Removal::Expired,
            with_copies: false,
            at: Millis::now(),
            audit: Some(&audit),
            job: Some(&shred),
        };
        let removed = self.conversation_store.remove_messages(job.enterprise_id, &remove).await?;
        self.announce_removed(job.enterprise_id, &removed, store::Removal::Expired).await?;
        self.delete_files_of(&removed).await
    }

    /// The job when a message's window opens or closes: readers fetch it again.
    pub(crate) async fn window_changed(&self, job: &MessageJob) -> Result<()> {
        let key = self.core.keys.enterprise_key(job.enterprise_id).await?;
        let event = Event::MessageChanged { conversation_id: job.conversation_id, message_id: job.message_id };
        self.publish_to_members(job.enterprise_id, &key, job.conversation_id, event).await
    }

    /// The job after a recall or expiry: deletes the files of the removed messages that nothing
    /// else shows. Safe to run again (a crash after the removal committed finishes here).
    pub(crate) async fn shred_files(&self, job: &MessageJob) -> Result<()> {
        let mut rows = self.conversation_store.forward_descendants(job.enterprise_id, job.message_id).await?;
        rows.extend(self.conversation_store.find_message(job.enterprise_id, job.message_id).await?);
        rows.retain(|r| r.removed.is_some());
        self.delete_files_of(&rows).await
    }

    /// Sets the template a conversation's messages get when the sender picks none (or clears it).
    /// Enterprise admins who are members, and a group's owner, may.
    pub async fn set_default_policy(
        &self,
        p: &Principal,
        origin: &Origin,
        conversation: ConversationId,
        policy: Option<MessagePolicyId>,
    ) -> Result<super::ConversationView> {
        let (c, me) = self.membership(p, conversation).await?;
        let caller = Caller::User(p.clone());
        let owner =
            me.role == domain::messaging::MemberRole::Owner && c.kind == domain::messaging::ConversationKind::Group;
        if !owner && caller.is_enterprise_admin_of(p.enterprise_id) {
            // An admin setting another's group's default acts as an admin: elevation applies.
            self.core.require_elevated(&caller, p.enterprise_id, Action::ConversationDefaultPolicy).await?;
        } else if !owner {
            let target = Some(format!("conversation:{conversation}"));
            return Err(self
                .core
                .deny(&caller, Action::ConversationDefaultPolicy, None, "owner-or-admin", target)
                .await);
        }
        if let Some(id) = policy {
            self.policies.pick(p.enterprise_id, id).await?;
        }
        let audit = AuditDraft {
            detail: serde_json::json!({ "policy_id": policy.map(|p| p.to_string()) }).to_string(),
            ..draft(
                &caller,
                origin,
                Some(p.enterprise_id),
                Action::ConversationDefaultPolicy,
                Some(format!("conversation:{conversation}")),
            )
        };
        self.policies.set_default(p.enterprise_id, conversation, policy, &audit).await?;
        self.get_conversation(p, conversation).await
    }
}

//! Security incidents (D8): members (signed in) and outsiders (with a receipt code) report them;
//! the security team works them through their states with a timeline that keeps when something
//! happened apart from when it was learned, records the notices sent to affected parties and to
//! authorities (mailing the former from the desk when asked), and can run a notification clock
//! from the moment the team became aware.

use super::*;
use domain::incident::{EntryKind, IncidentCategory, IncidentInput, IncidentReport, IncidentState};

/// Longest notification clock, in hours (a year).
const MAX_NOTIFY_HOURS: i64 = 24 * 366;

/// A timeline entry as the team writes it. `kind` decides which fields count: a note needs
/// `text`; a notice to affected parties `who`, `how` and `what`; a notice to an authority
/// `agency` (and may give `reference` and `contact`).
#[derive(Clone, Debug, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentEntryInput {
    /// `note`, `notice-affected` or `notice-authority`.
    #[schema(pattern = "^(note|notice-affected|notice-authority)$")]
    pub kind: String,
    /// When it happened, `YYYY-MM-DDTHH:MM`, if known (for a notice: when it was sent).
    #[serde(default)]
    #[schema(max_length = 40, pattern = "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}.*)?$")]
    pub happened_at: Option<String>,
    #[serde(default)]
    #[schema(max_length = 16000)]
    pub text: Option<String>,
    /// Who was told (for a mailed notice: their email address).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub who: Option<String>,
    /// How: mail, phone, letter, in person.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub how: Option<String>,
    /// What was said.
    #[serde(default)]
    #[schema(max_length = 16000)]
    pub what: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub agency: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reference: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub contact: Option<String>,
    /// For a notice to affected parties: send `what` by mail to `who` from the desk.
    #[serde(default)]
    pub send_mail: bool,
}

/// The sealed body of a timeline entry.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
pub struct EntryBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// For a state change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// For evidence: the sealed file, its name, size, type and the SHA-256 of its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub file_id: Option<domain::AttachmentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The notice went out by mail from the desk.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mailed: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentEntryView {
    pub seq: i64,
    /// `note`, `state`, `notice-affected` or `notice-authority`.
    pub kind: String,
    /// When it happened (civil, as given), if known.
    pub happened_at: Option<String>,
    /// When the team recorded it.
    pub learned_at: String,
    /// The team member's name, or `reporter` for the report itself.
    pub by: String,
    pub body: EntryBody,
}

/// The notification clock: hours from awareness until an authority must be told.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NotificationClock {
    pub hours: i64,
    pub due_at: String,
    /// `due_at` as a number, for comparisons (RFC 3339 text does not sort by time).
    #[serde(skip)]
    pub due_millis: i64,
    /// `due` (running), `overdue`, `met` or `missed`.
    pub status: String,
    /// When the first notice to an authority was recorded.
    pub notified_at: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentSummary {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    #[schema(value_type = String)]
    pub state: IncidentState,
    pub state_label: String,
    pub category: String,
    pub category_label: String,
    pub occurred_at: String,
    pub reported_at: String,
    /// `member` or `outsider`.
    pub reported_by: String,
    /// First line of the details.
    pub headline: String,
    pub notification: Option<NotificationClock>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentStateChoice {
    #[schema(value_type = String)]
    pub state: IncidentState,
    pub label: String,
}

/// An incident as the team sees it, and as it exports.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    #[schema(value_type = String)]
    pub state: IncidentState,
    pub state_label: String,
    pub state_choices: Vec<IncidentStateChoice>,
    pub category: String,
    pub category_label: String,
    pub details: String,
    pub occurred_at: String,
    pub ended_at: Option<String>,
    pub duration_minutes: Option<i64>,
    pub reported_at: String,
    pub location: String,
    /// The member's name, or `an outsider`.
    pub reported_by: String,
    /// When the team became aware (the report arrived).
    pub aware_at: String,
    pub notification: Option<NotificationClock>,
    pub timeline: Vec<IncidentEntryView>,
}

/// What an outsider sees with their receipt code: the state, nothing of the team's work.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OutsiderIncidentView {
    #[schema(value_type = String)]
    pub state: IncidentState,
    pub state_label: String,
    pub category_label: String,
    pub occurred_at: String,
    pub reported_at: String,
}

/// One timeline entry about to be written, with the state change it carries, if any.
struct NewEntry<'a> {
    kind: &'a str,
    happened_at: Option<String>,
    body: &'a EntryBody,
    state: Option<(IncidentState, IncidentState)>,
    action: Action,
    detail: serde_json::Value,
}

fn aad(row: &str) -> Aad<'_> {
    Aad { table: "incidents", row, column: "report" }
}

fn entry_aad(row: &str) -> Aad<'_> {
    Aad { table: "incident_entries", row, column: "body" }
}

fn field_text(field: &str, raw: &Option<String>, max_chars: usize, required: bool) -> Result<Option<String>> {
    let t = raw.as_deref().map(str::trim).unwrap_or("");
    if t.is_empty() {
        return if required {
            Err(Error::Invalid(FieldError::new(field, Rule::Empty, "must not be empty for this kind of entry")))
        } else {
            Ok(None)
        };
    }
    if t.chars().count() > max_chars {
        return Err(Error::Invalid(FieldError::new(
            field,
            Rule::TooLong,
            format!("must be at most {max_chars} characters"),
        )));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(Error::Invalid(FieldError::new(
            field,
            Rule::ControlCharacters,
            "must not contain control characters",
        )));
    }
    Ok(Some(t.to_owned()))
}

impl Desk {
    fn open_incident(&self, key: &crypto::DataKey, row: &store::IncidentRow) -> Result<IncidentReport> {
        let json = key.open_str(&row.report_ct, aad(&row.id.to_string()))?;
        serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored incident: {e}")))
    }

    async fn store_incident(
        &self,
        enterprise: EnterpriseId,
        report: &IncidentReport,
        reporter: Option<domain::UserId>,
        receipt: Option<(Vec<u8>, String)>,
        audit: AuditDraft,
    ) -> Result<uuid::Uuid> {
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let id = uuid::Uuid::now_v7();
        let now = Millis::now();
        let json = serde_json::to_string(report).expect("an incident serialises");
        let (receipt_lookup, receipt_hash) = receipt.map_or((None, None), |(l, h)| (Some(l), Some(h)));
        let row = store::IncidentRow {
            id,
            enterprise_id: enterprise,
            reporter,
            receipt_lookup,
            receipt_hash,
            state: IncidentState::Reported,
            category: report.category.as_str().to_owned(),
            report_ct: key.seal_str(&json, aad(&id.to_string())),
            occurred_at: report.occurred_at.clone(),
            notify_within_hours: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
            last_seq: 0,
        };
        let audit = AuditDraft { target: Some(format!("incident:{id}")), ..audit };
        self.incident_store.create_incident(&row, &audit).await?;
        self.announce_to_team_incident(enterprise, id).await;
        Ok(id)
    }

    async fn announce_to_team_incident(&self, enterprise: EnterpriseId, id: uuid::Uuid) {
        // The desk's live event names a report id; an incident reuses it with its own id, and
        // open desks reload both lists.
        self.announce_to_team(enterprise, ReportId(id)).await;
    }

    /// A member of the desk's enterprise reports an incident from the web client.
    pub async fn report_incident_as_member(
        &self,
        caller: &Caller,
        origin: &Origin,
        input: &IncidentInput,
    ) -> Result<uuid::Uuid> {
        let enterprise = self.desk_enterprise().await?;
        let Caller::User(person) = caller else {
            return Err(self.core.deny(caller, Action::DeskIncidentReport, Some(enterprise), "person", None).await);
        };
        if person.enterprise_id != enterprise {
            return Err(self.core.deny(caller, Action::DeskIncidentReport, Some(enterprise), "member", None).await);
        }
        let report = input.validate().map_err(Error::Invalid)?;
        let audit = AuditDraft {
            detail: serde_json::json!({ "category": report.category.as_str(), "from": "member" }).to_string(),
            ..draft(caller, origin, Some(enterprise), Action::DeskIncidentReport, None)
        };
        self.store_incident(enterprise, &report, Some(person.user_id), None, audit).await
    }

    /// An outsider reports an incident from the public pages; the receipt code is shown once.
    pub async fn report_incident_as_outsider(&self, input: &IncidentInput) -> Result<Receipt> {
        let report = input.validate().map_err(Error::Invalid)?;
        let enterprise = self.desk_enterprise().await?;
        let code = domain::desk::receipt_code_from(&crypto::token::random_128());
        let hash = self.core.hash_password(&code).await?;
        let audit = domain::audit::AuditDraft {
            enterprise_id: Some(enterprise),
            detail: serde_json::json!({ "category": report.category.as_str(), "from": "outsider" }).to_string(),
            ..domain::audit::AuditDraft::new(
                Action::DeskIncidentReport,
                domain::audit::Actor::Anonymous,
                Origin::default(),
            )
        };
        self.store_incident(enterprise, &report, None, Some((self.core.keys.receipt_index(&code), hash)), audit)
            .await?;
        Ok(Receipt { receipt_code: code, submitted_at: Millis::now().rfc3339() })
    }

    /// An outsider follows up with their receipt code: the state only. Every failure is the same
    /// `NotFound`, after the same slow hash.
    pub async fn outsider_incident(&self, raw_code: &str) -> Result<OutsiderIncidentView> {
        let normalised = domain::desk::normalise_receipt_code(raw_code);
        let row = match &normalised {
            Some(code) => self.incident_store.incident_by_lookup(&self.core.keys.receipt_index(code)).await?,
            None => None,
        };
        let (code, stored) = match (&normalised, row.as_ref().and_then(|r| r.receipt_hash.clone())) {
            (Some(code), Some(hash)) => (code.clone(), hash),
            _ => (super::finder::DECOY_CODE.to_owned(), self.core.decoy_hash().await?),
        };
        let verified = self.core.verify_password(&code, stored).await?;
        let (Some(_), Some(row)) = (verified, row) else { return Err(Error::NotFound("incident")) };
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let report = self.open_incident(&key, &row)?;
        Ok(OutsiderIncidentView {
            state: row.state,
            state_label: row.state.label().to_owned(),
            category_label: report.category.label().to_owned(),
            occurred_at: report.occurred_at,
            reported_at: report.reported_at,
        })
    }

    /// The notification clock: met by the first notice to an authority, at the time it was sent
    /// (its `happened_at`, read in the desk's time zone) or, without one, when it was recorded.
    fn notification(
        row: &store::IncidentRow,
        entries: &[store::IncidentEntryRow],
        time_zone: &str,
        now: Millis,
    ) -> Option<NotificationClock> {
        let hours = row.notify_within_hours?;
        let due = Millis(row.created_at.0 + hours * 3_600_000);
        let notified = entries
            .iter()
            .filter(|e| e.kind == EntryKind::NoticeAuthority.as_str())
            .map(|e| {
                e.happened_at
                    .as_deref()
                    .and_then(|h| domain::desk_clock::civil_instant(time_zone, h))
                    .unwrap_or(e.learned_at)
            })
            .min_by_key(|m| m.0);
        let status = match notified {
            Some(at) if at.0 <= due.0 => "met",
            Some(_) => "missed",
            None if now.0 > due.0 => "overdue",
            None => "due",
        };
        Some(NotificationClock {
            hours,
            due_at: due.rfc3339(),
            due_millis: due.0,
            status: status.to_owned(),
            notified_at: notified.map(Millis::rfc3339),
        })
    }

    pub async fn desk_incidents(&self, caller: &Caller) -> Result<Vec<IncidentSummary>> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let time_zone = self.clock_settings_of(enterprise).await?.0.time_zone;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let now = Millis::now();
        let mut out = Vec::new();
        for row in self.incident_store.list_incidents(enterprise).await? {
            let report = self.open_incident(&key, &row)?;
            let entries = if row.notify_within_hours.is_some() {
                self.incident_store.incident_entries(enterprise, row.id).await?
            } else {
                Vec::new()
            };
            out.push(IncidentSummary {
                id: row.id,
                state: row.state,
                state_label: row.state.label().to_owned(),
                category: report.category.as_str().to_owned(),
                category_label: report.category.label().to_owned(),
                occurred_at: report.occurred_at.clone(),
                reported_at: report.reported_at.clone(),
                reported_by: if row.reporter.is_some() { "member" } else { "outsider" }.to_owned(),
                headline: report.details.lines().next().unwrap_or("").chars().take(120).collect(),
                notification: Self::notification(&row, &entries, &time_zone, now),
            });
        }
        Ok(out)
    }

    pub async fn desk_incident(&self, caller: &Caller, id: uuid::Uuid) -> Result<IncidentView> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let row = self.incident_store.get_incident(enterprise, id).await?.ok_or(Error::NotFound("incident"))?;
        self.incident_view(&row).await
    }

    async fn incident_view(&self, row: &store::IncidentRow) -> Result<IncidentView> {
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let report = self.open_incident(&key, row)?;
        let users: std::collections::HashMap<domain::UserId, store::UserRow> =
            self.directory_store.list_users(row.enterprise_id).await?.into_iter().map(|u| (u.id, u)).collect();
        let name = |id: Option<domain::UserId>| -> Result<String> {
            match id.and_then(|id| users.get(&id)) {
                Some(u) => {
                    Ok(key.open_str(&u.name_ct, Aad { table: "users", row: &u.id.to_string(), column: "name" })?)
                }
                None => Ok("reporter".to_owned()),
            }
        };
        let entries = self.incident_store.incident_entries(row.enterprise_id, row.id).await?;
        let timeline = entries
            .iter()
            .map(|e| {
                let json = key.open_str(&e.body_ct, entry_aad(&format!("{}:{}", e.incident_id, e.learned_at.0)))?;
                Ok(IncidentEntryView {
                    seq: e.seq,
                    kind: e.kind.clone(),
                    happened_at: e.happened_at.clone(),
                    learned_at: e.learned_at.rfc3339(),
                    by: name(e.author)?,
                    body: serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored entry: {e}")))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(IncidentView {
            id: row.id,
            state: row.state,
            state_label: row.state.label().to_owned(),
            state_choices: row
                .state
                .next_states()
                .iter()
                .map(|&state| IncidentStateChoice { state, label: state.label().to_owned() })
                .collect(),
            category: report.category.as_str().to_owned(),
            category_label: report.category.label().to_owned(),
            duration_minutes: report.duration_minutes(),
            details: report.details,
            occurred_at: report.occurred_at,
            ended_at: report.ended_at,
            reported_at: report.reported_at,
            location: report.location,
            reported_by: match row.reporter {
                Some(id) if users.contains_key(&id) => name(Some(id))?,
                Some(_) => "a former member".to_owned(),
                None => "an outsider".to_owned(),
            },
            aware_at: row.created_at.rfc3339(),
            notification: Self::notification(
                row,
                &entries,
                &self.clock_settings_of(row.enterprise_id).await?.0.time_zone,
                Millis::now(),
            ),
            timeline,
        })
    }

    async fn append_entry(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        id: uuid::Uuid,
        new: NewEntry<'_>,
    ) -> Result<IncidentView> {
        let NewEntry { kind, happened_at, body, state, action, detail } = new;
        let Caller::User(person) = caller else {
            return Err(self.core.deny(caller, action, Some(enterprise), "person", None).await);
        };
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let learned_at = Millis::now();
        let json = serde_json::to_string(body).expect("an entry serialises");
        let entry = store::IncidentEntryRow {
            incident_id: id,
            seq: 0,
            kind: kind.to_owned(),
            happened_at,
            learned_at,
            author: Some(person.user_id),
            body_ct: key.seal_str(&json, entry_aad(&format!("{id}:{}", learned_at.0))),
        };
        let audit = AuditDraft {
            detail: detail.to_string(),
            ..draft(caller, origin, Some(enterprise), action, Some(format!("incident:{id}")))
        };
        match self.incident_store.append_incident_entry(enterprise, &entry, state, &audit).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(Error::NotFound("incident")),
            Err(store::Error::Conflict(_)) => {
                return Err(Error::Conflict(FieldError::new(
                    "state",
                    Rule::InvalidValue,
                    "someone else changed this incident's state meanwhile; reload it",
                )))
            }
            Err(e) => return Err(e.into()),
        }
        self.announce_to_team_incident(enterprise, id).await;
        let row = self.incident_store.get_incident(enterprise, id).await?.ok_or(Error::NotFound("incident"))?;
        self.incident_view(&row).await
    }

    /// Moves an incident along its states; a move the machine does not allow is refused (409
    /// naming the allowed ones) and audited.
    pub async fn move_incident(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: uuid::Uuid,
        to: IncidentState,
    ) -> Result<IncidentView> {
        let enterprise = self.require_security_team(caller, Action::DeskIncidentState).await?;
        let row = self.incident_store.get_incident(enterprise, id).await?.ok_or(Error::NotFound("incident"))?;
        if !row.state.can_move_to(to) {
            let _ = self
                .core
                .deny(
                    caller,
                    Action::DeskIncidentState,
                    Some(enterprise),
                    "state-machine",
                    Some(format!("incident:{id}")),
                )
                .await;
            return Err(Error::Transition {
                from: row.state.as_str(),
                to: to.as_str(),
                allowed: row.state.next_states().iter().map(|s| s.as_str()).collect(),
            });
        }
        let body =
            EntryBody { from: Some(row.state.as_str().into()), to: Some(to.as_str().into()), ..Default::default() };
        let detail = serde_json::json!({ "from": row.state.as_str(), "state": to.as_str() });
        let new = NewEntry {
            kind: "state",
            happened_at: None,
            body: &body,
            state: Some((row.state, to)),
            action: Action::DeskIncidentState,
            detail,
        };
        self.append_entry(caller, origin, enterprise, id, new).await
    }

    /// Adds a note or a notice to the timeline; a notice to affected parties can go out by mail.
    pub async fn add_incident_entry(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: uuid::Uuid,
        input: &IncidentEntryInput,
    ) -> Result<IncidentView> {
        let enterprise = self.require_security_team(caller, Action::DeskIncidentEntry).await?;
        let kind = EntryKind::parse(input.kind.trim()).ok_or_else(|| {
            Error::Invalid(FieldError::new(
                "kind",
                Rule::InvalidValue,
                "must be note, notice-affected or notice-authority",
            ))
        })?;
        let happened_at = match input.happened_at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => Some(
                domain::incident::civil("happened_at", raw)
                    .map_err(Error::Invalid)?
                    .strftime("%Y-%m-%dT%H:%M")
                    .to_string(),
            ),
            None => None,
        };
        let mut body = match kind {
            EntryKind::Note => EntryBody { text: field_text("text", &input.text, 16_000, true)?, ..Default::default() },
            EntryKind::NoticeAffected => EntryBody {
                who: field_text("who", &input.who, 200, true)?,
                how: field_text("how", &input.how, 100, !input.send_mail)?,
                what: field_text("what", &input.what, 16_000, true)?,
                ..Default::default()
            },
            EntryKind::NoticeAuthority => EntryBody {
                agency: field_text("agency", &input.agency, 200, true)?,
                reference: field_text("reference", &input.reference, 200, false)?,
                contact: field_text("contact", &input.contact, 200, false)?,
                text: field_text("text", &input.text, 16_000, false)?,
                ..Default::default()
            },
        };
        let mut mail_to = None;
        if input.send_mail {
            if kind != EntryKind::NoticeAffected {
                return Err(Error::Invalid(FieldError::new(
                    "send_mail",
                    Rule::InvalidValue,
                    "only a notice to affected parties is mailed from the desk",
                )));
            }
            mail_to = Some(domain::validate::email("who", body.who.as_deref().unwrap_or("")).map_err(Error::Invalid)?);
            if self.core.mailer().is_none() {
                return Err(Error::Invalid(FieldError::new(
                    "send_mail",
                    Rule::InvalidValue,
                    "this server has no mail relay configured; send the notice another way and record it",
                )));
            }
            body.mailed = true;
            body.how.get_or_insert_with(|| "mail".to_owned());
        }
        let detail = serde_json::json!({ "kind": kind.as_str(), "mailed": body.mailed });
        let new = NewEntry {
            kind: kind.as_str(),
            happened_at,
            body: &body,
            state: None,
            action: Action::DeskIncidentEntry,
            detail,
        };
        // The notice is recorded first; only a recorded notice goes out, so the timeline is the
        // evidence of every mail the desk sent.
        let view = self.append_entry(caller, origin, enterprise, id, new).await?;
        if let Some(to) = mail_to {
            self.send_mail(crate::mail::Mail {
                to,
                subject: "A notice about a security incident".to_owned(),
                body: body.what.clone().unwrap_or_default(),
            });
        }
        Ok(view)
    }

    /// Sets (or, with `None`, clears) the notification clock, in hours from awareness.
    pub async fn set_incident_clock(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: uuid::Uuid,
        hours: Option<i64>,
    ) -> Result<IncidentView> {
        let enterprise = self.require_security_team(caller, Action::DeskIncidentClock).await?;
        if let Some(h) = hours {
            if !(1..=MAX_NOTIFY_HOURS).contains(&h) {
                return Err(Error::Invalid(FieldError::new(
                    "hours",
                    Rule::InvalidValue,
                    format!("must be 1 to {MAX_NOTIFY_HOURS} hours"),
                )));
            }
        }
        let audit = AuditDraft {
            detail: serde_json::json!({ "hours": hours }).to_string(),
            ..draft(caller, origin, Some(enterprise), Action::DeskIncidentClock, Some(format!("incident:{id}")))
        };
        if !self.incident_store.set_incident_notify_hours(enterprise, id, hours, &audit).await? {
            return Err(Error::NotFound("incident"));
        }
        self.desk_incident(caller, id).await
    }

    /// Attaches an evidence file: sealed to disk as it streams in, its SHA-256 taken over the
    /// bytes received, recorded on the timeline in one step (a refused upload leaves nothing).
    pub async fn add_incident_evidence<S, E>(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: uuid::Uuid,
        name: &str,
        body: S,
    ) -> Result<IncidentView>
    where
        S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let enterprise = self.require_security_team(caller, Action::DeskIncidentEntry).await?;
        self.incident_store.get_incident(enterprise, id).await?.ok_or(Error::NotFound("incident"))?;
        let name = crate::messaging::attachments::file_name(name)
            .map_err(|e| Error::Invalid(FieldError { field: "name".into(), ..e }))?;
        self.core.blobs.require_configured()?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let hasher = std::sync::Arc::new(std::sync::Mutex::new(crypto::Sha256::default()));
        let seen = hasher.clone();
        let mut hashed = body.map(move |chunk| {
            if let Ok(bytes) = &chunk {
                seen.lock().expect("the hasher is never poisoned").update(bytes);
            }
            chunk
        });
        let mut blob = self.core.blobs.put(&key, &mut hashed, self.core.settings.max_attachment_bytes).await?;
        drop(hashed);
        let digest = std::sync::Arc::try_unwrap(hasher)
            .map_err(|_| Error::Internal("the evidence hasher is still shared".into()))?
            .into_inner()
            .expect("the hasher is never poisoned")
            .finish();
        if blob.size == 0 {
            return Err(Error::Invalid(FieldError::new("file", Rule::Empty, format!("{name} is empty"))));
        }
        let body = EntryBody {
            file_id: Some(blob.id),
            name: Some(name),
            size: Some(blob.size),
            sha256: Some(hex::encode(digest)),
            ..Default::default()
        };
        let detail = serde_json::json!({ "kind": "evidence", "mailed": false });
        let new = NewEntry {
            kind: "evidence",
            happened_at: None,
            body: &body,
            state: None,
            action: Action::DeskIncidentEntry,
            detail,
        };
        let view = self.append_entry(caller, origin, enterprise, id, new).await?;
        blob.keep();
        Ok(view)
    }

    /// An evidence file's name, size and decrypted bytes (security team).
    pub async fn incident_evidence(
        &self,
        caller: &Caller,
        id: uuid::Uuid,
        file: domain::AttachmentId,
    ) -> Result<(String, u64, futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>)> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let view = self.desk_incident(caller, id).await?;
        let entry = view
            .timeline
            .iter()
            .find(|e| e.kind == "evidence" && e.body.file_id == Some(file))
            .ok_or(Error::NotFound("file"))?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let stream = self.core.blobs.open(key, file).await?;
        Ok((entry.body.name.clone().unwrap_or_default(), entry.body.size.unwrap_or(0), stream))
    }

    /// Now, as a civil time in the desk's time zone (`YYYY-MM-DDTHH:MM`) with the zone's name:
    /// what the public incident form fills in as the time of reporting.
    pub async fn desk_local_now(&self) -> Result<(String, String)> {
        let enterprise = self.desk_enterprise().await?;
        let zone = self.clock_settings_of(enterprise).await?.0.time_zone;
        let tz = jiff::tz::TimeZone::get(&zone).unwrap_or(jiff::tz::TimeZone::UTC);
        Ok((tz.to_datetime(jiff::Timestamp::now()).strftime("%Y-%m-%dT%H:%M").to_string(), zone))
    }

    /// The categories, for forms.
    pub fn incident_categories() -> Vec<(&'static str, &'static str)> {
        IncidentCategory::ALL.iter().map(|c| (c.as_str(), c.label())).collect()
    }
}

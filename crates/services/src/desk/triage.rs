//! Triage (D4): the state machine, assignment, CVSS, internal notes, and the working-day response
//! clocks with their reminders and the dashboard's figures.
//!
//! The clocks are never stored: they are computed from the report's transitions, its first
//! answer to the finder and the desk's calendar, so editing the calendar or a pause moves every
//! due time consistently. What is stored is that a reminder went out, once per clock and kind.

use super::*;
use domain::cvss::{CvssScore, CvssVersion, Severity};
use domain::desk_clock::{ClockKind, ClockSettings, ClockStatus, ReportTimeline, WorkCalendar};
use std::collections::HashMap;

/// The policy-document kind holding the desk's clock settings.
pub(crate) const CLOCKS: &str = "desk-clocks";
/// Reminders kept in the console list.
const REMINDERS_SHOWN: u32 = 50;
const HOUR_MS: i64 = 3_600_000;

/// What the team sets while triaging, apart from the state. Every field is replaced.
#[derive(Clone, Debug, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageInput {
    /// A member of the security team, or null for nobody.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub assignee: Option<domain::UserId>,
    /// A CVSS 3.1 (or 3.0) vector, such as `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`; null or
    /// empty for none.
    #[serde(default)]
    #[schema(max_length = 400)]
    pub cvss_v3: Option<String>,
    /// A CVSS 4.0 vector, such as `CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N`.
    #[serde(default)]
    #[schema(max_length = 400)]
    pub cvss_v4: Option<String>,
}

/// One clock as the report page and the inbox show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClockView {
    /// `first-response`, `triage` or `resolution`.
    pub kind: String,
    pub label: String,
    /// `not-started`, `running`, `paused`, `overdue`, `met`, `missed` or `stopped`.
    pub status: String,
    /// Working days the clock allows.
    pub budget_days: u32,
    pub started_at: Option<String>,
    /// When the clock runs out (or ran out); absent while paused or not started.
    pub due_at: Option<String>,
    pub stopped_at: Option<String>,
    /// Hours (wall clock) the clock spent paused while the report waited on the finder.
    pub paused_hours: f64,
    /// Working hours left (negative once overdue or missed), at the stop or now.
    pub remaining_hours: f64,
    /// Running or paused with less than the reminder margin left, or overdue.
    pub at_risk: bool,
}

/// A CVSS vector with the score the server computed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CvssView {
    pub vector: String,
    pub version: String,
    pub score: f64,
    /// `none`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
}

/// One state change in a report's history.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TransitionView {
    #[schema(value_type = String)]
    pub from: ReportState,
    #[schema(value_type = String)]
    pub to: ReportState,
    pub to_label: String,
    /// The team member's name, or `finder`.
    pub by: String,
    pub at: String,
}

/// An internal note: the team's alone.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NoteView {
    pub author: String,
    pub body: String,
    pub at: String,
}

/// A security-team member a report can be assigned to.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TeamMemberView {
    #[schema(value_type = String, format = Uuid)]
    pub id: domain::UserId,
    pub name: String,
}

/// One reminder or escalation, as the console lists them.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReminderView {
    #[schema(value_type = String, format = Uuid)]
    pub report_id: ReportId,
    pub title: String,
    pub clock: String,
    /// `due-soon` (sent to the assignee) or `missed` (sent to the whole team).
    pub kind: String,
    pub sent_at: String,
}

/// Share of clocks met, over reports whose clock stopped in the period.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClockShare {
    pub kind: String,
    pub label: String,
    pub met: u32,
    pub missed: u32,
    /// `met / (met + missed)`; absent when no clock stopped in the period.
    pub share_met: Option<f64>,
}

/// A count by a named group (state or severity).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CountBy {
    pub key: String,
    pub label: String,
    pub count: u32,
}

/// The desk dashboard's report figures.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DeskDashboard {
    pub open_reports: u32,
    pub open_by_state: Vec<CountBy>,
    pub open_by_severity: Vec<CountBy>,
    /// Open reports with a clock overdue or within the reminder margin, soonest due first.
    pub at_risk: Vec<ReportSummary>,
    /// Over reports whose clock stopped in the last 90 days.
    pub clocks_last_90_days: Vec<ClockShare>,
    /// Median wall-clock hours from arrival to the first answer, over reports that got one in the
    /// last 90 days.
    pub median_first_response_hours: Option<f64>,
    pub reminders: Vec<ReminderView>,
    /// Incidents not closed, by state.
    pub open_incidents_by_state: Vec<CountBy>,
    /// Incidents whose notification clock is running out (within a day) or overdue.
    pub incidents_at_risk: Vec<super::incidents::IncidentSummary>,
}

fn hours(ms: i64) -> f64 {
    (ms as f64 / HOUR_MS as f64 * 10.0).round() / 10.0
}

pub(crate) fn cvss_view(s: &CvssScore) -> CvssView {
    CvssView {
        vector: s.vector.clone(),
        version: s.version.clone(),
        score: s.score,
        severity: s.severity.as_str().to_owned(),
    }
}

/// The vectors a report carries, scored; a stored vector that no longer parses is left out.
pub(crate) fn scores(row: &store::ReportRow) -> (Option<CvssScore>, Option<CvssScore>) {
    let v3 = row.cvss_v3.as_deref().and_then(|v| domain::cvss::parse("cvss_v3", v, CvssVersion::V3).ok());
    let v4 = row.cvss_v4.as_deref().and_then(|v| domain::cvss::parse("cvss_v4", v, CvssVersion::V4).ok());
    (v3, v4)
}

/// The severity the resolution clock and the lists go by: 4.0 where the report has it.
pub(crate) fn severity_of(row: &store::ReportRow) -> Option<Severity> {
    let (v3, v4) = scores(row);
    v4.or(v3).map(|s| s.severity)
}

/// The clocks of one report as of `now`.
pub(crate) fn clocks_of(
    row: &store::ReportRow,
    transitions: &[store::ReportTransitionRow],
    settings: &ClockSettings,
    calendar: &WorkCalendar,
    now: Millis,
) -> Vec<domain::desk_clock::Clock> {
    let moves: Vec<(Millis, ReportState)> = transitions.iter().map(|t| (t.at, t.to)).collect();
    ReportTimeline {
        created_at: row.created_at,
        transitions: &moves,
        first_response_at: row.first_response_at,
        severity: severity_of(row),
    }
    .clocks(settings, calendar, now)
}

fn at_risk(clock: &domain::desk_clock::Clock, settings: &ClockSettings) -> bool {
    match clock.status {
        ClockStatus::Overdue => true,
        ClockStatus::Running | ClockStatus::Paused => {
            clock.remaining_ms <= i64::from(settings.remind_before_hours) * HOUR_MS
        }
        _ => false,
    }
}

pub(crate) fn clock_views(clocks: &[domain::desk_clock::Clock], settings: &ClockSettings) -> Vec<ClockView> {
    clocks
        .iter()
        .map(|c| ClockView {
            kind: c.kind.as_str().to_owned(),
            label: c.kind.label().to_owned(),
            status: serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            budget_days: c.budget_days,
            started_at: c.started_at.map(Millis::rfc3339),
            due_at: c.due_at.map(Millis::rfc3339),
            stopped_at: c.stopped_at.map(Millis::rfc3339),
            paused_hours: hours(c.paused_ms),
            remaining_hours: hours(c.remaining_ms),
            at_risk: at_risk(c, settings),
        })
        .collect()
}

/// The soonest due time among a report's running clocks.
fn next_due(clocks: &[domain::desk_clock::Clock]) -> Option<Millis> {
    clocks
        .iter()
        .filter(|c| matches!(c.status, ClockStatus::Running | ClockStatus::Overdue))
        .filter_map(|c| c.due_at)
        .min_by_key(|m| m.0)
}

/// One report as the inbox and the dashboard read it.
struct InboxLine {
    row: store::ReportRow,
    clocks: Vec<domain::desk_clock::Clock>,
    summary: ReportSummary,
}

fn group_transitions(rows: Vec<store::ReportTransitionRow>) -> HashMap<ReportId, Vec<store::ReportTransitionRow>> {
    let mut by_report: HashMap<ReportId, Vec<store::ReportTransitionRow>> = HashMap::new();
    for t in rows {
        by_report.entry(t.report_id).or_default().push(t);
    }
    by_report
}

impl Desk {
    // ---- Clock settings ----

    pub(crate) async fn clock_settings_of(&self, enterprise: EnterpriseId) -> Result<(ClockSettings, WorkCalendar)> {
        let settings = match self.policy_store.policy_document(enterprise, CLOCKS).await? {
            Some(row) => serde_json::from_str::<ClockSettings>(&row.document)
                .map_err(|e| Error::Internal(format!("stored desk clocks: {e}")))?,
            None => ClockSettings::default(),
        };
        settings.validate().map_err(|e| Error::Internal(format!("stored desk clocks: {e}")))
    }

    pub async fn desk_clocks(&self, caller: &Caller) -> Result<ClockSettings> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        Ok(self.clock_settings_of(enterprise).await?.0)
    }

    pub async fn put_desk_clocks(
        &self,
        caller: &Caller,
        origin: &Origin,
        settings: ClockSettings,
    ) -> Result<ClockSettings> {
        let enterprise = self.require_security_team(caller, Action::DeskClocksUpdate).await?;
        let (settings, _) = settings.validate().map_err(Error::Invalid)?;
        self.store_clocks(caller, origin, enterprise, &settings, None).await?;
        Ok(settings)
    }

    async fn store_clocks(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        settings: &ClockSettings,
        imported: Option<usize>,
    ) -> Result<()> {
        let json = serde_json::to_string(settings).expect("clock settings serialise");
        let audit = AuditDraft {
            detail: serde_json::json!({
                "time_zone": settings.time_zone,
                "working_days": settings.working_days,
                "holidays": settings.holidays.len(),
                "imported": imported,
            })
            .to_string(),
            ..draft(caller, origin, Some(enterprise), Action::DeskClocksUpdate, None)
        };
        crate::core::policies::replace(&*self.policy_store, caller, enterprise, CLOCKS, &json, None, &audit).await?;
        Ok(())
    }

    /// Adds the days off an iCalendar file lists to the holiday calendar (D4). All-day events
    /// count day by day (DTEND is exclusive); a yearly rule repeats a holiday for ten years.
    pub async fn import_holidays(&self, caller: &Caller, origin: &Origin, ics: &str) -> Result<ClockSettings> {
        let enterprise = self.require_security_team(caller, Action::DeskClocksUpdate).await?;
        let days = super::calendar::holidays_from_ics(ics).map_err(Error::Invalid)?;
        let (mut settings, _) = self.clock_settings_of(enterprise).await?;
        let count = days.len();
        settings.holidays.extend(days);
        let (settings, _) = settings.validate().map_err(|mut e| {
            e.field = "calendar".to_owned();
            Error::Invalid(e)
        })?;
        self.store_clocks(caller, origin, enterprise, &settings, Some(count)).await?;
        Ok(settings)
    }

    // ---- The state machine ----

    /// The security team moves a report to another state (D4). Only the moves the state machine
    /// allows from the current state pass; a refused move is audited and answered with 409 naming
    /// the allowed states. A duplicate names its original. The finder hears of every move but spam.
    pub async fn set_report_state(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: ReportId,
        to: ReportState,
        duplicate_of: Option<ReportId>,
    ) -> Result<ReportView> {
        let enterprise = self.require_security_team(caller, Action::DeskReportState).await?;
        let Caller::User(person) = caller else {
            return Err(self.core.deny(caller, Action::DeskReportState, Some(enterprise), "person", None).await);
        };
        let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        let target = Some(format!("report:{id}"));
        if !row.state.can_move_to(to) {
            let _ = self.core.deny(caller, Action::DeskReportState, Some(enterprise), "state-machine", target).await;
            return Err(Error::Transition {
                from: row.state.as_str(),
                to: to.as_str(),
                allowed: row.state.next_states().iter().map(|s| s.as_str()).collect(),
            });
        }
        match (to, duplicate_of) {
            (ReportState::Duplicate, None) => {
                return Err(Error::Invalid(FieldError::new(
                    "duplicate_of",
                    Rule::Required,
                    "name the report this one repeats",
                )))
            }
            (ReportState::Duplicate, Some(original)) => {
                if original == id || self.desk_store.get_report(enterprise, original).await?.is_none() {
                    return Err(Error::Invalid(FieldError::new(
                        "duplicate_of",
                        Rule::InvalidValue,
                        "must be another report of this desk",
                    )));
                }
            }
            (_, Some(_)) => {
                return Err(Error::Invalid(FieldError::new(
                    "duplicate_of",
                    Rule::InvalidValue,
                    "only a report marked duplicate names an original",
                )))
            }
            (_, None) => {}
        }
        let change = store::ReportTransitionRow {
            report_id: id,
            seq: 0,
            from: row.state,
            to,
            actor: store::ReportAuthor::Team(person.user_id),
            at: Millis::now(),
            duplicate_of,
        };
        let audit = AuditDraft {
            detail: serde_json::json!({
                "from": row.state.as_str(),
                "state": to.as_str(),
                "duplicate_of": duplicate_of.map(|d| d.to_string()),
            })
            .to_string(),
            ..draft(caller, origin, Some(enterprise), Action::DeskReportState, target)
        };
        let row = self
            .apply_move(enterprise, &change, &audit, "someone else changed this report's state meanwhile; reload it")
            .await?;
        if to.finder_is_told() {
            self.notify_finder(&row, "The security team changed the state of your report.").await?;
        }
        self.announce_to_team(enterprise, id).await;
        self.report_view(&row).await
    }

    /// Writes a state change; a report that moved on meanwhile gets `stale` as a 409 on `state`.
    async fn apply_move(
        &self,
        enterprise: EnterpriseId,
        change: &store::ReportTransitionRow,
        audit: &AuditDraft,
        stale: &str,
    ) -> Result<store::ReportRow> {
        match self.desk_store.set_report_state(enterprise, change, audit).await {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Err(Error::NotFound("report")),
            Err(store::Error::Conflict(_)) => Err(Error::Conflict(FieldError::new("state", Rule::InvalidValue, stale))),
            Err(e) => Err(e.into()),
        }
    }

    /// The finder answered while the report waited on them: it goes back to where it was before,
    /// and the clocks run again.
    pub(super) async fn resume_after_finder_answer(&self, row: &store::ReportRow) -> Result<()> {
        if row.state != ReportState::NeedsInfo {
            return Ok(());
        }
        let transitions = self.desk_store.report_transitions(row.enterprise_id, Some(row.id)).await?;
        let back = transitions
            .iter()
            .rev()
            .find(|t| t.to == ReportState::NeedsInfo)
            .map(|t| t.from)
            .filter(|s| *s != ReportState::NeedsInfo && ReportState::NeedsInfo.can_move_to(*s))
            .unwrap_or(ReportState::Triaging);
        let change = store::ReportTransitionRow {
            report_id: row.id,
            seq: 0,
            from: ReportState::NeedsInfo,
            to: back,
            actor: store::ReportAuthor::Finder,
            at: Millis::now(),
            duplicate_of: None,
        };
        let audit = AuditDraft {
            detail: serde_json::json!({ "from": "needs-info", "state": back.as_str() }).to_string(),
            ..anonymous_draft(row.enterprise_id, Action::DeskReportState, row.id)
        };
        match self.desk_store.set_report_state(row.enterprise_id, &change, &audit).await {
            // The team moved it meanwhile: their decision stands.
            Ok(_) | Err(store::Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The finder withdraws their report (D4): the clocks stop, the team is told.
    pub async fn finder_withdraw(&self, credential: FinderCredential<'_>) -> Result<FinderReportView> {
        let row = self.report_for(credential).await?;
        if !row.state.can_withdraw() {
            return Err(Error::Conflict(FieldError::new(
                "state",
                Rule::InvalidValue,
                format!("a report that is {} can no longer be withdrawn", row.state.label().to_lowercase()),
            )));
        }
        let change = store::ReportTransitionRow {
            report_id: row.id,
            seq: 0,
            from: row.state,
            to: ReportState::Withdrawn,
            actor: store::ReportAuthor::Finder,
            at: Millis::now(),
            duplicate_of: None,
        };
        let audit = AuditDraft {
            detail: serde_json::json!({ "from": row.state.as_str() }).to_string(),
            ..anonymous_draft(row.enterprise_id, Action::DeskReportWithdraw, row.id)
        };
        let row = self
            .apply_move(
                row.enterprise_id,
                &change,
                &audit,
                "the security team changed your report meanwhile; reload the page",
            )
            .await?;
        self.announce_to_team(row.enterprise_id, row.id).await;
        self.finder_view(&row).await
    }

    // ---- Assignment, CVSS, notes ----

    /// The people a report can be assigned to: enabled members of the security role.
    async fn security_team(&self, enterprise: EnterpriseId) -> Result<Vec<store::UserRow>> {
        Ok(self
            .directory_store
            .list_users(enterprise)
            .await?
            .into_iter()
            .filter(|u| !u.disabled && u.roles.has(Role::Security))
            .collect())
    }

    fn user_name(key: &crypto::DataKey, user: &store::UserRow) -> Result<String> {
        Ok(key.open_str(&user.name_ct, Aad { table: "users", row: &user.id.to_string(), column: "name" })?)
    }

    fn user_email(key: &crypto::DataKey, user: &store::UserRow) -> Result<String> {
        Ok(key.open_str(&user.email_ct, Aad { table: "users", row: &user.id.to_string(), column: "email" })?)
    }

    pub async fn desk_team(&self, caller: &Caller) -> Result<Vec<TeamMemberView>> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        self.security_team(enterprise)
            .await?
            .iter()
            .map(|u| Ok(TeamMemberView { id: u.id, name: Self::user_name(&key, u)? }))
            .collect()
    }

    pub async fn set_report_triage(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: ReportId,
        input: TriageInput,
    ) -> Result<ReportView> {
        let enterprise = self.require_security_team(caller, Action::DeskReportTriage).await?;
        let vector = |field: &str, raw: Option<String>, version| -> Result<Option<String>> {
            match raw.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(v) => Ok(Some(domain::cvss::parse(field, v, version).map_err(Error::Invalid)?.vector)),
            }
        };
        let cvss_v3 = vector("cvss_v3", input.cvss_v3, CvssVersion::V3)?;
        let cvss_v4 = vector("cvss_v4", input.cvss_v4, CvssVersion::V4)?;
        if let Some(assignee) = input.assignee {
            if !self.security_team(enterprise).await?.iter().any(|u| u.id == assignee) {
                return Err(Error::Invalid(FieldError::new(
                    "assignee",
                    Rule::InvalidValue,
                    "must be an enabled member of the security team",
                )));
            }
        }
        let triage = store::ReportTriage { assignee: input.assignee, cvss_v3, cvss_v4 };
        let audit = AuditDraft {
            detail: serde_json::json!({
                "assignee": triage.assignee.map(|u| u.to_string()),
                "cvss_v3": triage.cvss_v3,
                "cvss_v4": triage.cvss_v4,
            })
            .to_string(),
            ..draft(caller, origin, Some(enterprise), Action::DeskReportTriage, Some(format!("report:{id}")))
        };
        let row = self
            .desk_store
            .set_report_triage(enterprise, id, &triage, Millis::now(), &audit)
            .await?
            .ok_or(Error::NotFound("report"))?;
        self.announce_to_team(enterprise, id).await;
        self.report_view(&row).await
    }

    pub async fn add_report_note(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: ReportId,
        body: &str,
    ) -> Result<ReportView> {
        let enterprise = self.require_security_team(caller, Action::DeskReportNote).await?;
        let Caller::User(person) = caller else {
            return Err(self.core.deny(caller, Action::DeskReportNote, Some(enterprise), "person", None).await);
        };
        let body = domain::desk::reply(body).map_err(Error::Invalid)?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let note_id = ReportMessageId::new();
        let note = store::ReportNoteRow {
            id: note_id,
            report_id: id,
            author: person.user_id,
            body_ct: key.seal_str(&body, Aad { table: "report_notes", row: &note_id.to_string(), column: "body" }),
            created_at: Millis::now(),
        };
        let audit = draft(caller, origin, Some(enterprise), Action::DeskReportNote, Some(format!("report:{id}")));
        match self.desk_store.add_report_note(enterprise, &note, &audit).await {
            Err(store::Error::NotFound) => return Err(Error::NotFound("report")),
            other => other?,
        }
        self.announce_to_team(enterprise, id).await;
        let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        self.report_view(&row).await
    }

    /// What the report page adds for the team: triage, history, notes and clocks.
    pub(super) async fn triage_parts(
        &self,
        key: &crypto::DataKey,
        row: &store::ReportRow,
    ) -> Result<(Vec<TransitionView>, Vec<NoteView>, Vec<ClockView>, Option<TeamMemberView>)> {
        let users: HashMap<domain::UserId, store::UserRow> =
            self.directory_store.list_users(row.enterprise_id).await?.into_iter().map(|u| (u.id, u)).collect();
        let name = |id: &domain::UserId| -> Result<String> {
            if id.0.is_nil() {
                return Ok("the team (before history was kept)".to_owned());
            }
            users.get(id).map(|u| Self::user_name(key, u)).unwrap_or_else(|| Ok("a former member".to_owned()))
        };
        let transitions = self.desk_store.report_transitions(row.enterprise_id, Some(row.id)).await?;
        let history = transitions
            .iter()
            .map(|t| {
                Ok(TransitionView {
                    from: t.from,
                    to: t.to,
                    to_label: t.to.label().to_owned(),
                    by: match &t.actor {
                        store::ReportAuthor::Finder => "finder".to_owned(),
                        store::ReportAuthor::Team(u) => name(u)?,
                    },
                    at: t.at.rfc3339(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let notes = self
            .desk_store
            .report_notes(row.enterprise_id, row.id)
            .await?
            .iter()
            .map(|n| {
                Ok(NoteView {
                    author: name(&n.author)?,
                    body: key
                        .open_str(&n.body_ct, Aad { table: "report_notes", row: &n.id.to_string(), column: "body" })?,
                    at: n.created_at.rfc3339(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (settings, calendar) = self.clock_settings_of(row.enterprise_id).await?;
        let clocks = clock_views(&clocks_of(row, &transitions, &settings, &calendar, Millis::now()), &settings);
        let assignee = row.assignee.map(|id| Ok::<_, Error>(TeamMemberView { id, name: name(&id)? })).transpose()?;
        Ok((history, notes, clocks, assignee))
    }

    /// The inbox: open reports by what is due next (overdue first), then the rest, newest first.
    pub async fn desk_reports(&self, caller: &Caller) -> Result<Vec<ReportSummary>> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        Ok(self.inbox(enterprise).await?.into_iter().map(|line| line.summary).collect())
    }

    /// Every report with its clocks and its inbox line, in inbox order: one read of the reports,
    /// their transitions and the team, shared by the inbox and the dashboard.
    async fn inbox(&self, enterprise: EnterpriseId) -> Result<Vec<InboxLine>> {
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let (settings, calendar) = self.clock_settings_of(enterprise).await?;
        let mut transitions = group_transitions(self.desk_store.report_transitions(enterprise, None).await?);
        let users: HashMap<domain::UserId, store::UserRow> =
            self.directory_store.list_users(enterprise).await?.into_iter().map(|u| (u.id, u)).collect();
        let now = Millis::now();
        let mut out: Vec<(Option<Millis>, InboxLine)> = Vec::new();
        for r in self.desk_store.list_reports(enterprise).await? {
            let moves = transitions.remove(&r.id).unwrap_or_default();
            let clocks = clocks_of(&r, &moves, &settings, &calendar, now);
            let due = if r.state.is_final() { None } else { next_due(&clocks) };
            let (v3, v4) = scores(&r);
            let severity = v4.as_ref().or(v3.as_ref()).map(|s| s.severity);
            let summary = ReportSummary {
                id: r.id,
                title: self.open_content(&key, &r)?.title,
                state: r.state,
                state_label: r.state.label().to_owned(),
                was_encrypted: r.was_encrypted,
                submitted_at: r.created_at.rfc3339(),
                updated_at: r.updated_at.rfc3339(),
                messages: r.last_seq,
                severity: severity.map(|s| s.as_str().to_owned()),
                score: v4.or(v3).map(|s| s.score),
                assignee: r.assignee.and_then(|a| users.get(&a)).map(|u| Self::user_name(&key, u)).transpose()?,
                next_due_at: due.map(Millis::rfc3339),
                at_risk: !r.state.is_final() && clocks.iter().any(|c| at_risk(c, &settings)),
            };
            out.push((due, InboxLine { row: r, clocks, summary }));
        }
        // Stable order: due ones by due time, then the others as listed (newest first).
        out.sort_by_key(|(due, _)| due.map_or(i64::MAX, |d| d.0));
        Ok(out.into_iter().map(|(_, line)| line).collect())
    }

    // ---- Dashboard ----

    pub async fn desk_dashboard(&self, caller: &Caller) -> Result<DeskDashboard> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let now = Millis::now();
        let since = Millis(now.0 - 90 * 86_400_000);
        let lines = self.inbox(enterprise).await?;
        let mut by_state: HashMap<ReportState, u32> = HashMap::new();
        let mut by_severity: HashMap<Option<Severity>, u32> = HashMap::new();
        let mut shares: HashMap<ClockKind, (u32, u32)> = HashMap::new();
        let mut first_response: Vec<i64> = Vec::new();
        for InboxLine { row: r, clocks, .. } in &lines {
            if !r.state.is_final() {
                *by_state.entry(r.state).or_default() += 1;
                *by_severity.entry(severity_of(r)).or_default() += 1;
            }
            for c in clocks {
                if c.stopped_at.is_some_and(|s| s.0 >= since.0) {
                    let entry = shares.entry(c.kind).or_default();
                    match c.status {
                        ClockStatus::Met => entry.0 += 1,
                        ClockStatus::Missed => entry.1 += 1,
                        _ => {}
                    }
                }
            }
            if let Some(answered) = r.first_response_at.filter(|a| a.0 >= since.0) {
                first_response.push(answered.0 - r.created_at.0);
            }
        }
        first_response.sort_unstable();
        let median = match first_response.len() {
            0 => None,
            n if n % 2 == 1 => Some(first_response[n / 2] as f64),
            n => Some((first_response[n / 2 - 1] + first_response[n / 2]) as f64 / 2.0),
        };
        let titles: HashMap<ReportId, String> = lines.iter().map(|l| (l.row.id, l.summary.title.clone())).collect();
        let reminders = self
            .desk_store
            .report_reminders(enterprise, REMINDERS_SHOWN)
            .await?
            .into_iter()
            .map(|r| ReminderView {
                title: titles.get(&r.report_id).cloned().unwrap_or_default(),
                report_id: r.report_id,
                clock: ClockKind::parse(&r.clock).map_or(r.clock.clone(), |k| k.label().to_owned()),
                kind: r.kind,
                sent_at: r.sent_at.rfc3339(),
            })
            .collect();
        let incidents = self.desk_incidents(caller).await?;
        let mut incident_states: HashMap<domain::incident::IncidentState, u32> = HashMap::new();
        for i in incidents.iter().filter(|i| i.state != domain::incident::IncidentState::Closed) {
            *incident_states.entry(i.state).or_default() += 1;
        }
        let soon = now.0 + 24 * HOUR_MS;
        let incidents_at_risk = incidents
            .into_iter()
            .filter(|i| {
                i.notification
                    .as_ref()
                    .is_some_and(|n| n.status == "overdue" || (n.status == "due" && n.due_millis <= soon))
            })
            .collect();
        Ok(DeskDashboard {
            open_incidents_by_state: domain::incident::IncidentState::ALL
                .into_iter()
                .filter_map(|s| {
                    incident_states.get(&s).map(|n| CountBy {
                        key: s.as_str().into(),
                        label: s.label().into(),
                        count: *n,
                    })
                })
                .collect(),
            incidents_at_risk,
            open_reports: by_state.values().sum(),
            open_by_state: ReportState::ALL
                .into_iter()
                .filter_map(|s| {
                    by_state.get(&s).map(|n| CountBy { key: s.as_str().into(), label: s.label().into(), count: *n })
                })
                .collect(),
            open_by_severity: Severity::ALL
                .into_iter()
                .map(Some)
                .chain([None])
                .filter_map(|s| {
                    by_severity.get(&s).map(|n| CountBy {
                        key: s.map_or("unscored", |s| s.as_str()).into(),
                        label: s.map_or("Not scored", |s| s.label()).into(),
                        count: *n,
                    })
                })
                .collect(),
            at_risk: lines.into_iter().map(|l| l.summary).filter(|s| s.at_risk).collect(),
            clocks_last_90_days: ClockKind::ALL
                .into_iter()
                .map(|k| {
                    let (met, missed) = shares.get(&k).copied().unwrap_or_default();
                    ClockShare {
                        kind: k.as_str().into(),
                        label: k.label().into(),
                        met,
                        missed,
                        share_met: (met + missed > 0).then(|| f64::from(met) / f64::from(met + missed)),
                    }
                })
                .collect(),
            median_first_response_hours: median.map(|ms| hours(ms as i64)),
            reminders,
        })
    }

    // ---- Reminders (the job runner calls this once a minute, once across the cluster) ----

    /// Sends what is due: a reminder to the assignee (the whole team when nobody is assigned)
    /// when a clock has less than the margin left, and an escalation to the whole team when it
    /// ran out. Each goes out once per clock and kind, recorded before it is sent.
    pub async fn remind_clocks(&self, now: Millis) -> Result<u32> {
        let Ok(enterprise) = self.desk_enterprise().await else { return Ok(0) };
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let (settings, calendar) = self.clock_settings_of(enterprise).await?;
        let mut transitions = group_transitions(self.desk_store.report_transitions(enterprise, None).await?);
        let team = self.security_team(enterprise).await?;
        let mut sent = 0;
        for r in self.desk_store.list_reports(enterprise).await? {
            let moves = transitions.remove(&r.id).unwrap_or_default();
            if r.state.is_final() {
                continue;
            }
            for c in clocks_of(&r, &moves, &settings, &calendar, now) {
                let kind = match c.status {
                    ClockStatus::Overdue => "missed",
                    ClockStatus::Running if at_risk(&c, &settings) => "due-soon",
                    _ => continue,
                };
                let reminder = store::ReportReminderRow {
                    report_id: r.id,
                    clock: c.kind.as_str().to_owned(),
                    kind: kind.to_owned(),
                    sent_at: now,
                };
                let audit = AuditDraft {
                    detail: serde_json::json!({
                        "clock": c.kind.as_str(),
                        "kind": kind,
                        "due_at": c.due_at.map(Millis::rfc3339),
                    })
                    .to_string(),
                    ..draft(
                        &Caller::System,
                        &Origin::default(),
                        Some(enterprise),
                        Action::DeskReportReminder,
                        Some(format!("report:{}", r.id)),
                    )
                };
                if !self.desk_store.record_report_reminder(enterprise, &reminder, &audit).await? {
                    continue;
                }
                sent += 1;
                let recipients: Vec<&store::UserRow> = match (kind, r.assignee) {
                    ("due-soon", Some(a)) if team.iter().any(|u| u.id == a) => {
                        team.iter().filter(|u| u.id == a).collect()
                    }
                    _ => team.iter().collect(),
                };
                // Like every mail the desk sends, a reminder names no content of the report (its
                // title may have arrived encrypted): the link leads to it.
                let due = c.due_at.map(Millis::rfc3339).unwrap_or_else(|| "now".to_owned());
                let (subject, first_line) = match kind {
                    "missed" => (
                        format!("Missed: {} clock of a security report", c.kind.label()),
                        format!(
                            "The {} clock of a security report ran out at {due}. Everyone on the security team gets this notice.",
                            c.kind.label().to_lowercase()
                        ),
                    ),
                    _ => (
                        format!("Due soon: {} of a security report", c.kind.label()),
                        format!(
                            "The {} clock of a security report runs out at {due} ({} working hours left).",
                            c.kind.label().to_lowercase(),
                            hours(c.remaining_ms)
                        ),
                    ),
                };
                for user in recipients {
                    // One unreadable address must not cost the others their reminder.
                    let Ok(to) = Self::user_email(&key, user) else {
                        tracing::warn!(report = %r.id, "a team member's address could not be read for a reminder");
                        continue;
                    };
                    self.send_mail(crate::mail::Mail {
                        to,
                        subject: subject.clone(),
                        body: format!(
                            "{first_line}\n\nOpen it in the desk: {}/desk#report/{}\n",
                            self.links_base(),
                            r.id
                        ),
                    });
                }
                self.announce_to_team(enterprise, r.id).await;
            }
        }
        Ok(sent)
    }
}

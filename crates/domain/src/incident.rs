//! Security incidents (D8): what a member or an outsider reports, the nine categories, the states
//! the security team works an incident through, and the timeline that keeps when something
//! happened apart from when the team learned of it.

use crate::validate::{FieldError, Rule};
use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};

pub const MAX_DETAILS_BYTES: usize = 64 * 1024;
pub const MAX_LOCATION_CHARS: usize = 200;
pub const MAX_ENTRY_BYTES: usize = 16 * 1024;

/// The nine kinds of incident a report must name one of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentCategory {
    LossOfConfidentiality,
    CompromiseOfIntegrity,
    DenialOfService,
    UnauthorisedAccess,
    Misuse,
    TheftOrDamage,
    VirusAttack,
    SecurityWeakness,
    PolicyViolation,
}

impl IncidentCategory {
    pub const ALL: [IncidentCategory; 9] = [
        IncidentCategory::LossOfConfidentiality,
        IncidentCategory::CompromiseOfIntegrity,
        IncidentCategory::DenialOfService,
        IncidentCategory::UnauthorisedAccess,
        IncidentCategory::Misuse,
        IncidentCategory::TheftOrDamage,
        IncidentCategory::VirusAttack,
        IncidentCategory::SecurityWeakness,
        IncidentCategory::PolicyViolation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentCategory::LossOfConfidentiality => "loss-of-confidentiality",
            IncidentCategory::CompromiseOfIntegrity => "compromise-of-integrity",
            IncidentCategory::DenialOfService => "denial-of-service",
            IncidentCategory::UnauthorisedAccess => "unauthorised-access",
            IncidentCategory::Misuse => "misuse",
            IncidentCategory::TheftOrDamage => "theft-or-damage",
            IncidentCategory::VirusAttack => "virus-attack",
            IncidentCategory::SecurityWeakness => "security-weakness",
            IncidentCategory::PolicyViolation => "policy-violation",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentCategory::LossOfConfidentiality => "Loss of confidentiality",
            IncidentCategory::CompromiseOfIntegrity => "Compromise of integrity",
            IncidentCategory::DenialOfService => "Denial of service",
            IncidentCategory::UnauthorisedAccess => "Unauthorised access",
            IncidentCategory::Misuse => "Misuse of systems or information",
            IncidentCategory::TheftOrDamage => "Theft or damage",
            IncidentCategory::VirusAttack => "Virus attack",
            IncidentCategory::SecurityWeakness => "Security weakness",
            IncidentCategory::PolicyViolation => "Policy violation",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentCategory> {
        IncidentCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Where the team stands with an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentState {
    Reported,
    Investigating,
    Contained,
    Eradicated,
    Recovered,
    Closed,
}

impl IncidentState {
    pub const ALL: [IncidentState; 6] = [
        IncidentState::Reported,
        IncidentState::Investigating,
        IncidentState::Contained,
        IncidentState::Eradicated,
        IncidentState::Recovered,
        IncidentState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Reported => "reported",
            IncidentState::Investigating => "investigating",
            IncidentState::Contained => "contained",
            IncidentState::Eradicated => "eradicated",
            IncidentState::Recovered => "recovered",
            IncidentState::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentState::Reported => "Reported",
            IncidentState::Investigating => "Being investigated",
            IncidentState::Contained => "Contained",
            IncidentState::Eradicated => "Cause removed",
            IncidentState::Recovered => "Recovered",
            IncidentState::Closed => "Closed",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentState> {
        IncidentState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The states the team may move an incident to from this one. A later phase can send it
    /// back to investigation when something new turns up; a closed one can be reopened.
    pub fn next_states(self) -> &'static [IncidentState] {
        use IncidentState::*;
        match self {
            Reported => &[Investigating, Closed],
            Investigating => &[Contained, Closed],
            Contained => &[Eradicated, Investigating],
            Eradicated => &[Recovered, Investigating],
            Recovered => &[Closed, Investigating],
            Closed => &[Investigating],
        }
    }

    pub fn can_move_to(self, to: IncidentState) -> bool {
        self.next_states().contains(&to)
    }
}

/// An incident as its reporter sends it. Times are civil (`YYYY-MM-DDTHH:MM`), as the reporter
/// read them on their own clock; the team's time zone is the desk's.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentInput {
    /// What happened, in the reporter's words.
    #[schema(min_length = 1, max_length = 65536)]
    pub details: String,
    /// When it began: `YYYY-MM-DDTHH:MM`.
    #[schema(max_length = 40, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")]
    pub occurred_at: String,
    /// When it ended, if it has: `YYYY-MM-DDTHH:MM`; the duration is computed from it.
    #[serde(default)]
    #[schema(max_length = 40, pattern = "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}.*)?$")]
    pub ended_at: Option<String>,
    /// When it was reported: filled in with now by the form, editable.
    #[schema(max_length = 40, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")]
    pub reported_at: String,
    /// Where it happened (a building, a room, a site); may be empty for online incidents.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub location: String,
    /// One of the nine categories.
    #[schema(
        pattern = "^(loss-of-confidentiality|compromise-of-integrity|denial-of-service|unauthorised-access|misuse|theft-or-damage|virus-attack|security-weakness|policy-violation)$"
    )]
    pub category: String,
}

/// An incident report that passed every rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentReport {
    pub details: String,
    pub occurred_at: String,
    pub ended_at: Option<String>,
    pub reported_at: String,
    pub location: String,
    pub category: IncidentCategory,
}

/// Parses a civil moment written `YYYY-MM-DDTHH:MM` (seconds allowed).
pub fn civil(field: &str, raw: &str) -> Result<DateTime, FieldError> {
    let t = raw.trim();
    match t.parse::<DateTime>() {
        Ok(dt) if t.len() >= 16 && t.as_bytes().get(10) == Some(&b'T') => Ok(dt),
        _ => Err(FieldError::new(
            field,
            Rule::InvalidValue,
            format!("{t:?} is not a date and time written as YYYY-MM-DDTHH:MM"),
        )),
    }
}

fn text(field: &str, raw: &str, max_bytes: usize, required: bool) -> Result<String, FieldError> {
    let t = raw.trim();
    if required && t.is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty"));
    }
    if t.len() > max_bytes {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {} KiB", max_bytes / 1024)));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(FieldError::new(field, Rule::ControlCharacters, "must not contain control characters"));
    }
    Ok(t.to_owned())
}

impl IncidentInput {
    pub fn validate(&self) -> Result<IncidentReport, FieldError> {
        let category = IncidentCategory::parse(self.category.trim()).ok_or_else(|| {
            FieldError::new(
                "category",
                Rule::InvalidValue,
                format!(
                    "must be one of: {}",
                    IncidentCategory::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        let details = text("details", &self.details, MAX_DETAILS_BYTES, true)?;
        let occurred = civil("occurred_at", &self.occurred_at)?;
        let reported = civil("reported_at", &self.reported_at)?;
        let ended = match self.ended_at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => Some(civil("ended_at", raw)?),
            None => None,
        };
        if let Some(end) = ended {
            if end < occurred {
                return Err(FieldError::new("ended_at", Rule::InvalidValue, "the end cannot be before the start"));
            }
        }
        if reported < occurred {
            return Err(FieldError::new(
                "reported_at",
                Rule::InvalidValue,
                "an incident cannot be reported before it occurred",
            ));
        }
        let location = self.location.trim();
        if location.chars().count() > MAX_LOCATION_CHARS {
            return Err(FieldError::new(
                "location",
                Rule::TooLong,
                format!("must be at most {MAX_LOCATION_CHARS} characters"),
            ));
        }
        if location.chars().any(crate::validate::is_hidden_character) {
            return Err(crate::validate::hidden_characters("location"));
        }
        let fmt = |dt: DateTime| dt.strftime("%Y-%m-%dT%H:%M").to_string();
        Ok(IncidentReport {
            details,
            occurred_at: fmt(occurred),
            ended_at: ended.map(fmt),
            reported_at: fmt(reported),
            location: location.to_owned(),
            category,
        })
    }
}

impl IncidentReport {
    /// Minutes from start to end, when it has ended.
    pub fn duration_minutes(&self) -> Option<i64> {
        let start: DateTime = self.occurred_at.parse().ok()?;
        let end: DateTime = self.ended_at.as_deref()?.parse().ok()?;
        let span = start.until(end).ok()?;
        span.total(jiff::Unit::Minute).ok().map(|m| m as i64)
    }
}

/// What a timeline entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Something the team found out or did.
    Note,
    /// A notice to affected parties (who, how, what was said).
    NoticeAffected,
    /// A notice to law enforcement or a regulator (agency, reference, contact).
    NoticeAuthority,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Note => "note",
            EntryKind::NoticeAffected => "notice-affected",
            EntryKind::NoticeAuthority => "notice-authority",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        [EntryKind::Note, EntryKind::NoticeAffected, EntryKind::NoticeAuthority].into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> IncidentInput {
        IncidentInput {
            details: "A laptop with customer exports was left on a train.".into(),
            occurred_at: "2026-12-03T18:40".into(),
            ended_at: Some("2026-12-03T19:10".into()),
            reported_at: "2026-12-04T08:05".into(),
            location: "Regional train, Basel to Zurich".into(),
            category: "theft-or-damage".into(),
        }
    }

    #[test]
    fn a_report_is_checked_field_by_field() {
        let r = good().validate().unwrap();
        assert_eq!((r.category, r.duration_minutes()), (IncidentCategory::TheftOrDamage, Some(30)));
        let field = |i: IncidentInput| i.validate().unwrap_err().field;
        assert_eq!(field(IncidentInput { category: "alien-invasion".into(), ..good() }), "category");
        assert_eq!(field(IncidentInput { ended_at: Some("2026-12-03T18:00".into()), ..good() }), "ended_at");
        assert_eq!(field(IncidentInput { reported_at: "2026-12-02T08:00".into(), ..good() }), "reported_at");
        assert_eq!(field(IncidentInput { occurred_at: "yesterday".into(), ..good() }), "occurred_at");
        assert_eq!(field(IncidentInput { occurred_at: "2026-12-03".into(), ..good() }), "occurred_at");
        assert_eq!(field(IncidentInput { details: "  ".into(), ..good() }), "details");
        assert!(IncidentInput { category: "x".into(), ..good() }
            .validate()
            .unwrap_err()
            .message
            .contains("virus-attack"));
        assert_eq!(IncidentCategory::ALL.len(), 9);
    }

    #[test]
    fn every_incident_transition_is_allowed_or_refused_as_the_table_says() {
        use IncidentState::*;
        let table: &[(IncidentState, &[IncidentState])] = &[
            (Reported, &[Investigating, Closed]),
            (Investigating, &[Contained, Closed]),
            (Contained, &[Eradicated, Investigating]),
            (Eradicated, &[Recovered, Investigating]),
            (Recovered, &[Closed, Investigating]),
            (Closed, &[Investigating]),
        ];
        for (from, to) in table {
            for s in IncidentState::ALL {
                assert_eq!(from.can_move_to(s), to.contains(&s), "{from:?} -> {s:?}");
            }
        }
    }
}

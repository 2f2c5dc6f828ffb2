//! The security desk's response clocks (D4): working-day arithmetic in the organisation's time
//! zone, against its working week and holiday calendar, with pauses while a report waits on the
//! finder.
//!
//! A working day is a calendar day of the organisation's time zone that is a working weekday and
//! not a holiday; all of it counts, from midnight to midnight. So "3 working days" from Friday
//! 15:00 ends on Wednesday at 15:00, local time, across a change to or from daylight saving time
//! too (the wall clock, not the elapsed hours, is what people promise by). A report that arrives
//! on a weekend starts its clock at the next working day's midnight.
//!
//! Everything here is pure: the current time comes in as an argument, so tests move it at will.

use crate::cvss::Severity;
use crate::desk::ReportState;
use crate::validate::{FieldError, Rule};
use crate::Millis;
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;
/// No clock is followed further than this many calendar days (a calendar with nearly every day
/// a holiday must not make a loop run for ever).
const MAX_DAYS_WALKED: i64 = 3_700;
/// Most holidays a calendar keeps.
pub const MAX_HOLIDAYS: usize = 1_000;
pub const MAX_HOLIDAY_NAME_CHARS: usize = 100;

/// One day off, as the team enters or imports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// `YYYY-MM-DD`, a date in the organisation's time zone.
    #[schema(format = Date)]
    pub date: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: String,
}

/// Working days allowed to resolve an accepted report, by its severity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionDays {
    #[schema(minimum = 1, maximum = 365)]
    pub critical: u32,
    #[schema(minimum = 1, maximum = 365)]
    pub high: u32,
    #[schema(minimum = 1, maximum = 365)]
    pub medium: u32,
    #[schema(minimum = 1, maximum = 365)]
    pub low: u32,
    /// Also used while a report has no CVSS vector yet.
    #[schema(minimum = 1, maximum = 365)]
    pub unscored: u32,
}

/// The desk's clock settings, as the team edits them (a policy document).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// An IANA time zone name, such as `Europe/Berlin`.
    #[schema(min_length = 1, max_length = 64)]
    pub time_zone: String,
    /// Lower-case English weekday names, such as `monday`.
    #[schema(schema_with = clocksettings_working_days_schema)]
    pub working_days: Vec<String>,
    #[schema(max_items = 1000)]
    pub holidays: Vec<Holiday>,
    /// Working days to the first answer to the finder (1 to 30; the public policy promises 3).
    #[schema(minimum = 1, maximum = 30)]
    pub first_response_days: u32,
    /// Working days from arrival to a decision: accepted, or closed as not a vulnerability (1 to 90).
    #[schema(minimum = 1, maximum = 90)]
    pub triage_days: u32,
    /// Working days from acceptance to a fix (each 1 to 365).
    pub resolution_days: ResolutionDays,
    /// Remind the assignee when this many working hours are left (1 to 72).
    #[schema(minimum = 1, maximum = 72)]
    pub remind_before_hours: u32,
}

impl Default for ClockSettings {
    fn default() -> ClockSettings {
        ClockSettings {
            time_zone: "UTC".to_owned(),
            working_days: ["monday", "tuesday", "wednesday", "thursday", "friday"].map(str::to_owned).to_vec(),
            holidays: Vec::new(),
            first_response_days: 3,
            triage_days: 10,
            resolution_days: ResolutionDays { critical: 10, high: 20, medium: 60, low: 90, unscored: 60 },
            remind_before_hours: 24,
        }
    }
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
    ("sunday", Weekday::Sunday),
];

/// Parses `YYYY-MM-DD`.
pub fn parse_date(raw: &str) -> Option<Date> {
    if raw.len() != 10 {
        return None;
    }
    raw.parse::<Date>().ok()
}

fn in_range(field: &str, value: u32, range: std::ops::RangeInclusive<u32>) -> Result<(), FieldError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            Rule::InvalidValue,
            format!("must be {} to {} (it was {value})", range.start(), range.end()),
        ))
    }
}

impl ClockSettings {
    /// Checks every field and builds the calendar; holidays come back sorted and without repeats.
    pub fn validate(mut self) -> Result<(ClockSettings, WorkCalendar), FieldError> {
        let tz = TimeZone::get(self.time_zone.trim()).map_err(|_| {
            FieldError::new(
                "time_zone",
                Rule::InvalidValue,
                format!("{:?} is not a time zone name such as Europe/Berlin or America/New_York", self.time_zone),
            )
        })?;
        self.time_zone = self.time_zone.trim().to_owned();
        if self.time_zone.is_empty() || self.time_zone.len() > 64 {
            return Err(FieldError::new(
                "time_zone",
                Rule::InvalidValue,
                "must be a time zone name such as Europe/Berlin",
            ));
        }
        if self.working_days.len() > 7 {
            return Err(FieldError::new("working_days", Rule::TooLong, "at most the 7 days of the week"));
        }
        let mut week = [false; 7];
        for (i, day) in self.working_days.iter().enumerate() {
            let Some(n) = WEEKDAYS.iter().position(|(name, _)| day.trim().eq_ignore_ascii_case(name)) else {
                return Err(FieldError::new(
                    format!("working_days[{i}]"),
                    Rule::InvalidValue,
                    format!("{day:?} is not a weekday: use monday to sunday"),
                ));
            };
            week[n] = true;
        }
        if !week.iter().any(|w| *w) {
            return Err(FieldError::new(
                "working_days",
                Rule::Empty,
                "at least one day of the week must be a working day",
            ));
        }
        self.working_days =
            WEEKDAYS.iter().zip(week).filter(|(_, on)| *on).map(|((n, _), _)| (*n).to_owned()).collect();
        if self.holidays.len() > MAX_HOLIDAYS {
            return Err(FieldError::new("holidays", Rule::TooLong, format!("at most {MAX_HOLIDAYS} holidays")));
        }
        let mut holidays = BTreeMap::new();
        for (i, h) in self.holidays.iter().enumerate() {
            let date = parse_date(h.date.trim()).ok_or_else(|| {
                FieldError::new(
                    format!("holidays[{i}].date"),
                    Rule::InvalidValue,
                    format!("{:?} is not a date written as YYYY-MM-DD", h.date),
                )
            })?;
            let name = h.name.trim();
            if name.chars().count() > MAX_HOLIDAY_NAME_CHARS {
                return Err(FieldError::new(
                    format!("holidays[{i}].name"),
                    Rule::TooLong,
                    format!("must be at most {MAX_HOLIDAY_NAME_CHARS} characters"),
                ));
            }
            if name.chars().any(crate::validate::is_hidden_character) {
                return Err(crate::validate::hidden_characters(&format!("holidays[{i}].name")));
            }
            holidays.entry(date).or_insert_with(|| name.to_owned());
        }
        self.holidays = holidays.iter().map(|(d, n)| Holiday { date: d.to_string(), name: n.clone() }).collect();
        in_range("first_response_days", self.first_response_days, 1..=30)?;
        in_range("triage_days", self.triage_days, 1..=90)?;
        let r = &self.resolution_days;
        for (name, days) in
            [("critical", r.critical), ("high", r.high), ("medium", r.medium), ("low", r.low), ("unscored", r.unscored)]
        {
            in_range(&format!("resolution_days.{name}"), days, 1..=365)?;
        }
        in_range("remind_before_hours", self.remind_before_hours, 1..=72)?;
        let calendar = WorkCalendar { tz, week, holidays: holidays.into_keys().collect() };
        Ok((self, calendar))
    }

    pub fn resolution_days_for(&self, severity: Option<Severity>) -> u32 {
        let r = &self.resolution_days;
        match severity {
            Some(Severity::Critical) => r.critical,
            Some(Severity::High) => r.high,
            Some(Severity::Medium) => r.medium,
            Some(Severity::Low) | Some(Severity::None) => r.low,
            None => r.unscored,
        }
    }
}

/// The working week and holidays in one time zone: what working time is measured against.
#[derive(Clone, Debug)]
pub struct WorkCalendar {
    tz: TimeZone,
    /// Monday first.
    week: [bool; 7],
    holidays: std::collections::BTreeSet<Date>,
}

fn ms_of_day(t: Time) -> i64 {
    i64::from(t.hour()) * 3_600_000
        + i64::from(t.minute()) * 60_000
        + i64::from(t.second()) * 1_000
        + i64::from(t.subsec_nanosecond()) / 1_000_000
}

impl WorkCalendar {
    pub fn is_working_day(&self, date: Date) -> bool {
        self.week[date.weekday().to_monday_zero_offset() as usize] && !self.holidays.contains(&date)
    }

    fn civil(&self, at: Millis) -> DateTime {
        self.tz.to_datetime(Timestamp::from_millisecond(at.0).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    /// The instant a civil time names; in a gap or overlap of a daylight-saving change, the
    /// earlier reading (RFC 5545's and jiff's "compatible" choice).
    fn instant(&self, dt: DateTime) -> Millis {
        match self.tz.to_ambiguous_timestamp(dt).compatible() {
            Ok(t) => Millis(t.as_millisecond()),
            Err(_) => Millis(i64::MAX / 2),
        }
    }

    /// Working time between two instants, in milliseconds of the wall clock (0 if `to` is not
    /// after `from`).
    pub fn working_ms(&self, from: Millis, to: Millis) -> i64 {
        if to.0 <= from.0 {
            return 0;
        }
        let (a, b) = (self.civil(from), self.civil(to));
        let mut total = 0;
        let mut date = a.date();
        for _ in 0..MAX_DAYS_WALKED {
            if date > b.date() {
                break;
            }
            if self.is_working_day(date) {
                let start = if date == a.date() { ms_of_day(a.time()) } else { 0 };
                let end = if date == b.date() { ms_of_day(b.time()) } else { DAY_MS };
                total += (end - start).max(0);
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        total
    }

    /// The instant when `ms` of working time have passed after `from`.
    pub fn advance(&self, from: Millis, ms: i64) -> Millis {
        let start = self.civil(from);
        let mut date = start.date();
        let mut offset = ms_of_day(start.time());
        let mut left = ms.max(0);
        for _ in 0..MAX_DAYS_WALKED {
            if self.is_working_day(date) {
                let room = DAY_MS - offset;
                if left < room {
                    let t = offset + left;
                    let time = Time::new(
                        (t / 3_600_000) as i8,
                        (t / 60_000 % 60) as i8,
                        (t / 1_000 % 60) as i8,
                        (t % 1_000 * 1_000_000) as i32,
                    )
                    .unwrap_or(Time::midnight());
                    return self.instant(DateTime::from_parts(date, time));
                }
                left -= room;
                if left == 0 {
                    // The budget ends with this day: due at the next midnight.
                    return match date.tomorrow() {
                        Ok(next) => self.instant(DateTime::from_parts(next, Time::midnight())),
                        Err(_) => Millis(i64::MAX / 2),
                    };
                }
            }
            offset = 0;
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        Millis(i64::MAX / 2)
    }
}

/// The instant a civil time (`YYYY-MM-DDTHH:MM`) names in a time zone; `None` when either does
/// not parse.
pub fn civil_instant(time_zone: &str, civil: &str) -> Option<Millis> {
    let tz = TimeZone::get(time_zone).ok()?;
    let dt: DateTime = civil.parse().ok()?;
    tz.to_ambiguous_timestamp(dt).compatible().ok().map(|t| Millis(t.as_millisecond()))
}

/// The three clocks every report runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ClockKind {
    FirstResponse,
    Triage,
    Resolution,
}

impl ClockKind {
    pub const ALL: [ClockKind; 3] = [ClockKind::FirstResponse, ClockKind::Triage, ClockKind::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "first-response",
            ClockKind::Triage => "triage",
            ClockKind::Resolution => "resolution",
        }
    }

    pub fn parse(s: &str) -> Option<ClockKind> {
        ClockKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "First response",
            ClockKind::Triage => "Triage",
            ClockKind::Resolution => "Resolution",
        }
    }
}

/// Where a clock stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockStatus {
    /// Not started (resolution before the report is accepted).
    NotStarted,
    Running,
    /// The report waits on the finder.
    Paused,
    /// Running or paused, and past its due time.
    Overdue,
    /// Stopped in time.
    Met,
    /// Stopped, but late.
    Missed,
    /// Stopped without its goal being reached (the finder withdrew the report first).
    Stopped,
}

/// One clock as the report page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Clock {
    pub kind: ClockKind,
    pub status: ClockStatus,
    pub budget_days: u32,
    pub started_at: Option<Millis>,
    /// `None` while the clock has not started, or is paused (no due time can be named then).
    pub due_at: Option<Millis>,
    pub stopped_at: Option<Millis>,
    /// Wall-clock time the clock spent paused.
    pub paused_ms: i64,
    /// Working time left (negative once overdue), at the stop or now.
    pub remaining_ms: i64,
}

/// A report's history as the clocks need it.
#[derive(Clone, Debug)]
pub struct ReportTimeline<'a> {
    pub created_at: Millis,
    /// Every state change, oldest first: (when, to which state).
    pub transitions: &'a [(Millis, ReportState)],
    /// The team's first answer to the finder (a reply, or a state change the finder is told of).
    pub first_response_at: Option<Millis>,
    pub severity: Option<Severity>,
}

/// States that end triage: the team decided (a withdrawal stops the clock instead).
fn decided(state: ReportState) -> bool {
    !matches!(
        state,
        ReportState::New
            | ReportState::Acknowledged
            | ReportState::Triaging
            | ReportState::NeedsInfo
            | ReportState::Withdrawn
    )
}

fn fixed(state: ReportState) -> bool {
    state != ReportState::Withdrawn
        && (matches!(state, ReportState::Resolved | ReportState::Disclosed | ReportState::Closed) || state.is_final())
}

impl ReportTimeline<'_> {
    /// Intervals the report spent waiting on the finder, the last one open if it still waits.
    fn pauses(&self) -> Vec<(Millis, Option<Millis>)> {
        let mut out = Vec::new();
        let mut open: Option<Millis> = None;
        for &(at, state) in self.transitions {
            match (state == ReportState::NeedsInfo, open) {
                (true, None) => open = Some(at),
                (false, Some(since)) => {
                    out.push((since, Some(at)));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(since) = open {
            out.push((since, None));
        }
        out
    }

    fn first_entry(&self, after: Millis, goal: impl Fn(ReportState) -> bool) -> Option<Millis> {
        self.transitions.iter().find(|(at, s)| at.0 >= after.0 && goal(*s)).map(|(at, _)| *at)
    }

    fn withdrawn_at(&self) -> Option<Millis> {
        self.first_entry(Millis(i64::MIN), |s| s == ReportState::Withdrawn)
    }

    /// Every clock, as of `now`.
    pub fn clocks(&self, settings: &ClockSettings, calendar: &WorkCalendar, now: Millis) -> Vec<Clock> {
        let accepted = self.first_entry(self.created_at, |s| matches!(s, ReportState::Accepted | ReportState::Fixing));
        let goals = [
            (ClockKind::FirstResponse, Some(self.created_at), self.first_response_at, settings.first_response_days),
            (
                ClockKind::Triage,
                Some(self.created_at),
                self.first_entry(self.created_at, decided),
                settings.triage_days,
            ),
            (
                ClockKind::Resolution,
                accepted,
                accepted.and_then(|a| self.first_entry(a, fixed)),
                settings.resolution_days_for(self.severity),
            ),
        ];
        goals.into_iter().map(|(kind, start, goal, days)| self.clock(kind, start, goal, days, calendar, now)).collect()
    }

    fn clock(
        &self,
        kind: ClockKind,
        start: Option<Millis>,
        goal: Option<Millis>,
        days: u32,
        calendar: &WorkCalendar,
        now: Millis,
    ) -> Clock {
        let budget = i64::from(days) * DAY_MS;
        let Some(start) = start else {
            return Clock {
                kind,
                status: ClockStatus::NotStarted,
                budget_days: days,
                started_at: None,
                due_at: None,
                stopped_at: None,
                paused_ms: 0,
                remaining_ms: budget,
            };
        };
        let withdrawn = self.withdrawn_at().filter(|w| goal.is_none_or(|g| w.0 < g.0));
        let stop = withdrawn.or(goal).filter(|s| s.0 <= now.0);
        let end = stop.unwrap_or(now);
        // Running segments: from the start to the end, minus the pauses.
        let mut segments: Vec<(Millis, Millis)> = Vec::new();
        let mut cursor = start;
        let mut paused_ms = 0;
        let mut paused_now = false;
        for (from, to) in self.pauses() {
            let to_or_end = to.unwrap_or(end);
            if to_or_end.0 <= cursor.0 || from.0 >= end.0 {
                continue;
            }
            let from = Millis(from.0.max(cursor.0));
            let to_clamped = Millis(to_or_end.0.min(end.0));
            if from.0 > cursor.0 {
                segments.push((cursor, from));
            }
            paused_ms += to_clamped.0 - from.0;
            if to.is_none_or(|t| t.0 >= end.0) && stop.is_none() {
                paused_now = true;
            }
            cursor = to_clamped;
        }
        if cursor.0 < end.0 && !paused_now {
            segments.push((cursor, end));
        }
        let mut used = 0;
        let mut due = None;
        for &(a, b) in &segments {
            let here = calendar.working_ms(a, b);
            if due.is_none() && used + here >= budget {
                due = Some(calendar.advance(a, budget - used));
            }
            used += here;
        }
        let remaining = budget - used;
        if due.is_none() && !paused_now {
            // Not used up: due when the rest of the budget has passed from the end (now, or when
            // the clock stopped, which shows by how much it was met).
            due = Some(calendar.advance(end, remaining));
        }
        let status = match (stop, goal.is_some_and(|g| Some(g) == stop)) {
            (Some(_), true) if remaining >= 0 => ClockStatus::Met,
            (Some(_), true) => ClockStatus::Missed,
            (Some(_), false) => ClockStatus::Stopped,
            (None, _) if remaining < 0 => ClockStatus::Overdue,
            (None, _) if paused_now => ClockStatus::Paused,
            (None, _) => ClockStatus::Running,
        };
        Clock {
            kind,
            status,
            budget_days: days,
            started_at: Some(start),
            due_at: if paused_now && remaining >= 0 { None } else { due },
            stopped_at: stop,
            paused_ms,
            remaining_ms: remaining,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReportState as S;

    fn at(tz: &str, civil: &str) -> Millis {
        let dt: DateTime = civil.parse().unwrap();
        Millis(TimeZone::get(tz).unwrap().to_ambiguous_timestamp(dt).compatible().unwrap().as_millisecond())
    }

    fn calendar(tz: &str, holidays: &[&str]) -> (ClockSettings, WorkCalendar) {
        ClockSettings {
            time_zone: tz.to_owned(),
            holidays: holidays.iter().map(|d| Holiday { date: (*d).to_owned(), name: String::new() }).collect(),
            ..ClockSettings::default()
        }
        .validate()
        .unwrap()
    }

    fn civil(tz: &str, m: Millis) -> String {
        TimeZone::get(tz).unwrap().to_datetime(Timestamp::from_millisecond(m.0).unwrap()).to_string()
    }

    #[test]
    fn three_working_days_skip_the_weekend() {
        let (_, cal) = calendar("UTC", &[]);
        // Friday 2026-12-04 15:00 → Wednesday 15:00.
        let due = cal.advance(at("UTC", "2026-12-04T15:00"), 3 * DAY_MS);
        assert_eq!(civil("UTC", due), "2026-12-09T15:00:00");
        // Arriving on Saturday starts on Monday's midnight: three whole days, due Thursday 00:00.
        let due = cal.advance(at("UTC", "2026-12-05T11:00"), 3 * DAY_MS);
        assert_eq!(civil("UTC", due), "2026-12-10T00:00:00");
        // Measuring back gives the same three days.
        assert_eq!(cal.working_ms(at("UTC", "2026-12-04T15:00"), at("UTC", "2026-12-09T15:00")), 3 * DAY_MS);
        assert_eq!(cal.working_ms(at("UTC", "2026-12-05T00:00"), at("UTC", "2026-12-07T00:00")), 0);
    }

    #[test]
    fn holidays_are_not_working_days() {
        // 24 and 25 December off: from Wednesday the 23rd at 10:00, the rest of that day, Monday
        // and Tuesday make two days and 14 hours; the third ends Wednesday the 30th at 10:00.
        let (_, cal) = calendar("Europe/Berlin", &["2026-12-24", "2026-12-25"]);
        let due = cal.advance(at("Europe/Berlin", "2026-12-23T10:00"), 3 * DAY_MS);
        assert_eq!(civil("Europe/Berlin", due), "2026-12-30T10:00:00");
        let (_, plain) = calendar("Europe/Berlin", &[]);
        let due = plain.advance(at("Europe/Berlin", "2026-12-23T10:00"), 3 * DAY_MS);
        assert_eq!(civil("Europe/Berlin", due), "2026-12-28T10:00:00");
    }

    #[test]
    fn the_wall_clock_holds_across_daylight_saving_changes() {
        // Europe/Berlin springs forward on Sunday 2027-03-28 and falls back on 2027-10-31.
        let (_, cal) = calendar("Europe/Berlin", &[]);
        let due = cal.advance(at("Europe/Berlin", "2027-03-26T09:30"), DAY_MS);
        assert_eq!(civil("Europe/Berlin", due), "2027-03-29T09:30:00");
        let due = cal.advance(at("Europe/Berlin", "2027-10-29T09:30"), DAY_MS);
        assert_eq!(civil("Europe/Berlin", due), "2027-11-01T09:30:00");
        // New York changes on a different Sunday (2027-03-14): the same civil rule applies.
        let (_, ny) = calendar("America/New_York", &[]);
        let due = ny.advance(at("America/New_York", "2027-03-12T17:00"), 2 * DAY_MS);
        assert_eq!(civil("America/New_York", due), "2027-03-16T17:00:00");
        // A weekday that is 23 hours long still counts as one working day.
        let (_, week) = ClockSettings {
            time_zone: "Europe/Berlin".into(),
            working_days: vec!["sunday".into()],
            ..ClockSettings::default()
        }
        .validate()
        .unwrap();
        assert_eq!(
            week.working_ms(at("Europe/Berlin", "2027-03-28T00:00"), at("Europe/Berlin", "2027-03-29T00:00")),
            DAY_MS
        );
    }

    #[test]
    fn a_civil_time_names_an_instant_in_its_zone() {
        assert_eq!(civil_instant("Europe/Berlin", "2026-12-04T10:00"), Some(at("UTC", "2026-12-04T09:00")));
        assert_eq!(civil_instant("Europe/Berlin", "4 Dec"), None);
        assert_eq!(civil_instant("Mars/Base", "2026-12-04T10:00"), None);
    }

    #[test]
    fn the_same_instant_reads_differently_by_time_zone() {
        // Friday 23:00 UTC is already Saturday in Tokyo: the clock starts on Monday there.
        let (_, utc) = calendar("UTC", &[]);
        let (_, tokyo) = calendar("Asia/Tokyo", &[]);
        let arrived = at("UTC", "2026-12-04T23:00");
        assert_eq!(civil("UTC", utc.advance(arrived, DAY_MS)), "2026-12-07T23:00:00");
        assert_eq!(civil("Asia/Tokyo", tokyo.advance(arrived, DAY_MS)), "2026-12-08T00:00:00");
    }

    #[test]
    fn a_clock_pauses_while_the_report_waits_on_the_finder() {
        let (settings, cal) = calendar("UTC", &[]);
        let created = at("UTC", "2026-12-07T09:00"); // Monday
        let asked = at("UTC", "2026-12-08T09:00"); // Tuesday: needs more information
        let answered = at("UTC", "2026-12-10T09:00"); // Thursday: the finder answered
        let transitions =
            [(at("UTC", "2026-12-07T10:00"), S::Triaging), (asked, S::NeedsInfo), (answered, S::Triaging)];
        let timeline = ReportTimeline {
            created_at: created,
            transitions: &transitions,
            first_response_at: Some(at("UTC", "2026-12-07T10:00")),
            severity: None,
        };
        // While waiting: paused, no due time, a day used of ten.
        let clocks = timeline.clocks(&settings, &cal, at("UTC", "2026-12-09T12:00"));
        let triage = &clocks[1];
        assert_eq!(triage.status, ClockStatus::Paused);
        assert_eq!(triage.due_at, None);
        assert_eq!(triage.remaining_ms, 9 * DAY_MS);
        assert_eq!(triage.paused_ms, 27 * 3_600_000);
        // After the answer: due nine working days after Thursday 09:00 → Wednesday 2026-12-23.
        let clocks = timeline.clocks(&settings, &cal, at("UTC", "2026-12-11T09:00"));
        let triage = &clocks[1];
        assert_eq!(triage.status, ClockStatus::Running);
        assert_eq!(civil("UTC", triage.due_at.unwrap()), "2026-12-23T09:00:00");
        assert_eq!(triage.paused_ms, 2 * DAY_MS);
        // First response was met within the hour; resolution has not started.
        assert_eq!(clocks[0].status, ClockStatus::Met);
        assert_eq!(clocks[2].status, ClockStatus::NotStarted);
    }

    #[test]
    fn met_missed_overdue_and_stopped() {
        let (settings, cal) = calendar("UTC", &[]);
        let created = at("UTC", "2026-12-07T09:00");
        let none: [(Millis, ReportState); 0] = [];
        let late = ReportTimeline {
            created_at: created,
            transitions: &none,
            first_response_at: Some(at("UTC", "2026-12-11T09:00")),
            severity: None,
        };
        let c = &late.clocks(&settings, &cal, at("UTC", "2026-12-12T00:00"))[0];
        assert_eq!(c.status, ClockStatus::Missed);
        assert_eq!(c.remaining_ms, -DAY_MS);
        let silent = ReportTimeline { first_response_at: None, ..late.clone() };
        let c = &silent.clocks(&settings, &cal, at("UTC", "2026-12-10T10:00"))[0];
        assert_eq!(c.status, ClockStatus::Overdue);
        assert_eq!(civil("UTC", c.due_at.unwrap()), "2026-12-10T09:00:00");
        let c = &silent.clocks(&settings, &cal, at("UTC", "2026-12-10T08:00"))[0];
        assert_eq!(c.status, ClockStatus::Running);
        assert_eq!(c.remaining_ms, 3_600_000);
        let withdrawn = [(at("UTC", "2026-12-08T09:00"), S::Withdrawn)];
        let gone = ReportTimeline { transitions: &withdrawn, ..silent.clone() };
        let clocks = gone.clocks(&settings, &cal, at("UTC", "2026-12-20T00:00"));
        assert_eq!(clocks[0].status, ClockStatus::Stopped);
        assert_eq!(clocks[1].status, ClockStatus::Stopped, "a withdrawal is not a triage decision");
    }

    #[test]
    fn resolution_runs_from_acceptance_by_severity() {
        let (settings, cal) = calendar("UTC", &[]);
        let created = at("UTC", "2026-12-07T09:00");
        let t = [(at("UTC", "2026-12-08T09:00"), S::Accepted), (at("UTC", "2026-12-15T09:00"), S::Resolved)];
        let critical = ReportTimeline {
            created_at: created,
            transitions: &t,
            first_response_at: Some(created),
            severity: Some(Severity::Critical),
        };
        let clocks = critical.clocks(&settings, &cal, at("UTC", "2026-12-20T00:00"));
        assert_eq!(clocks[1].status, ClockStatus::Met);
        let r = &clocks[2];
        assert_eq!((r.status, r.budget_days), (ClockStatus::Met, 10));
        assert_eq!(r.remaining_ms, 5 * DAY_MS);
        assert_eq!(civil("UTC", r.due_at.unwrap()), "2026-12-22T09:00:00");
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let bad = |s: ClockSettings| s.validate().unwrap_err().field;
        let d = ClockSettings::default;
        assert_eq!(bad(ClockSettings { time_zone: "Mars/Olympus".into(), ..d() }), "time_zone");
        assert_eq!(bad(ClockSettings { working_days: vec![], ..d() }), "working_days");
        assert_eq!(bad(ClockSettings { working_days: vec!["funday".into()], ..d() }), "working_days[0]");
        let h = vec![Holiday { date: "2026-13-01".into(), name: String::new() }];
        assert_eq!(bad(ClockSettings { holidays: h, ..d() }), "holidays[0].date");
        assert_eq!(bad(ClockSettings { first_response_days: 0, ..d() }), "first_response_days");
        let mut r = d();
        r.resolution_days.low = 400;
        assert_eq!(bad(r), "resolution_days.low");
        // Repeats fold and the list comes back sorted.
        let h = vec![
            Holiday { date: "2026-12-25".into(), name: "Christmas".into() },
            Holiday { date: "2026-01-01".into(), name: "New Year".into() },
            Holiday { date: "2026-12-25".into(), name: "again".into() },
        ];
        let (s, _) = ClockSettings { holidays: h, ..d() }.validate().unwrap();
        assert_eq!(s.holidays.iter().map(|h| h.date.as_str()).collect::<Vec<_>>(), ["2026-01-01", "2026-12-25"]);
    }

    #[test]
    fn a_calendar_with_no_working_day_in_reach_does_not_loop() {
        let holidays: Vec<String> = (0..MAX_HOLIDAYS as i64)
            .map(|i| Date::new(2026, 1, 1).unwrap().checked_add(jiff::Span::new().days(i)).unwrap().to_string())
            .collect();
        let (_, cal) = ClockSettings {
            working_days: vec!["monday".into()],
            holidays: holidays.into_iter().map(|date| Holiday { date, name: String::new() }).collect(),
            ..ClockSettings::default()
        }
        .validate()
        .unwrap();
        let due = cal.advance(at("UTC", "2026-01-01T00:00"), DAY_MS);
        assert!(due.0 > at("UTC", "2028-09-01T00:00").0);
    }
}

// The OpenAPI schemas of list fields whose items have limits too.
crate::string_list_schema!(fn clocksettings_working_days_schema: max_items = 7, max_length = 9, pattern = "^(?i)(monday|tuesday|wednesday|thursday|friday|saturday|sunday)$");

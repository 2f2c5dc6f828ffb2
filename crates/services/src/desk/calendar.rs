//! Holidays from an iCalendar file (RFC 5545), as public-holiday calendars are published: each
//! VEVENT's start date (and, for several days, its exclusive end) names days off. A yearly
//! recurrence repeats the event for ten years; other recurrences are refused rather than guessed.

use domain::desk_clock::{parse_date, Holiday, MAX_HOLIDAYS};
use domain::{FieldError, Rule};

/// Largest calendar file accepted.
pub const MAX_ICS_BYTES: usize = 512 * 1024;
/// Years a yearly holiday is repeated for.
const YEARS_REPEATED: i16 = 10;
/// Longest single event taken as days off.
const MAX_EVENT_DAYS: i64 = 31;

fn refuse(message: impl Into<String>) -> FieldError {
    FieldError::new("calendar", Rule::InvalidValue, message)
}

/// The date part of a DTSTART or DTEND value: `20261225` or `20261225T000000Z`.
fn ics_date(raw: &str) -> Option<jiff::civil::Date> {
    let digits = raw.get(..8)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || (raw.len() > 8 && !raw[8..].starts_with('T')) {
        return None;
    }
    parse_date(&format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..8]))
}

pub fn holidays_from_ics(ics: &str) -> Result<Vec<Holiday>, FieldError> {
    if ics.len() > MAX_ICS_BYTES {
        return Err(FieldError::new(
            "calendar",
            Rule::TooLong,
            format!("must be at most {} KiB", MAX_ICS_BYTES / 1024),
        ));
    }
    if !ics.trim_start().starts_with("BEGIN:VCALENDAR") {
        return Err(refuse("is not an iCalendar file: it must begin with BEGIN:VCALENDAR"));
    }
    let unfolded = icalendar::parser::unfold(ics);
    let calendar = icalendar::parser::read_calendar(&unfolded)
        .map_err(|_| refuse("could not be read as iCalendar (RFC 5545); check that the file is complete"))?;
    let mut out = Vec::new();
    for (n, event) in calendar.components.iter().filter(|c| c.name.as_str() == "VEVENT").enumerate() {
        let which = format!("event {} ", n + 1);
        let start = event.find_prop("DTSTART").ok_or_else(|| refuse(format!("{which}has no DTSTART")))?;
        let start = ics_date(start.val.as_str())
            .ok_or_else(|| refuse(format!("{which}has a DTSTART that is not a date: {:?}", start.val.as_str())))?;
        let end = match event.find_prop("DTEND") {
            Some(p) => ics_date(p.val.as_str())
                .ok_or_else(|| refuse(format!("{which}has a DTEND that is not a date: {:?}", p.val.as_str())))?,
            None => start.tomorrow().map_err(|_| refuse(format!("{which}is out of range")))?,
        };
        let days = (end - start).get_days() as i64;
        if !(0..=MAX_EVENT_DAYS).contains(&days) {
            return Err(refuse(format!("{which}lasts {days} days; a holiday event may last 0 to {MAX_EVENT_DAYS}")));
        }
        let name: String = event
            .find_prop("SUMMARY")
            .map(|p| p.val.as_str().replace("\\,", ",").replace("\\;", ";"))
            .unwrap_or_default()
            .chars()
            .filter(|c| !domain::validate::is_hidden_character(*c))
            .take(domain::desk_clock::MAX_HOLIDAY_NAME_CHARS)
            .collect();
        let years = match event.find_prop("RRULE").map(|p| p.val.as_str().to_ascii_uppercase()) {
            None => 1,
            Some(rule) if rule.split(';').any(|part| part == "FREQ=YEARLY") => {
                // COUNT and UNTIL end the series early; without either it runs ten years here.
                let part = |name: &str| rule.split(';').find_map(|p| p.strip_prefix(name).map(str::to_owned));
                let by_count = part("COUNT=").and_then(|n| n.parse::<i16>().ok());
                let by_until = part("UNTIL=").and_then(|u| ics_date(&u)).map(|u| u.year() - start.year() + 1);
                by_count.or(by_until).unwrap_or(YEARS_REPEATED).clamp(1, YEARS_REPEATED)
            }
            Some(_) => {
                return Err(refuse(format!("{which}repeats in a way other than yearly, which is not supported")))
            }
        };
        for year in 0..years {
            for d in 0..days.max(1) {
                let Ok(day) = start.checked_add(jiff::Span::new().years(year).days(d)) else { continue };
                out.push(Holiday { date: day.to_string(), name: name.clone() });
                if out.len() > MAX_HOLIDAYS {
                    return Err(FieldError::new(
                        "calendar",
                        Rule::TooLong,
                        format!("holds more than {MAX_HOLIDAYS} days off"),
                    ));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(refuse("holds no events (VEVENT) to take as holidays"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Conclave test//EN\r\n\
        BEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261224\r\n\
        DTEND;VALUE=DATE:20261227\r\nSUMMARY:Christmas\\, all of it\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:2@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20270101\r\n\
        RRULE:FREQ=YEARLY\r\nSUMMARY:New Year\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn all_day_events_and_yearly_rules_become_days_off() {
        let days = holidays_from_ics(SAMPLE).unwrap();
        let dates: Vec<&str> = days.iter().map(|h| h.date.as_str()).collect();
        assert_eq!(&dates[..3], ["2026-12-24", "2026-12-25", "2026-12-26"]);
        assert_eq!(days[0].name, "Christmas, all of it");
        assert_eq!(dates.len(), 3 + 10);
        assert!(dates.contains(&"2036-01-01"));
        let ended = SAMPLE.replace("RRULE:FREQ=YEARLY", "RRULE:FREQ=YEARLY;COUNT=2");
        assert_eq!(holidays_from_ics(&ended).unwrap().len(), 3 + 2);
        let until = SAMPLE.replace("RRULE:FREQ=YEARLY", "RRULE:FREQ=YEARLY;UNTIL=20290101");
        assert_eq!(holidays_from_ics(&until).unwrap().len(), 3 + 3);
    }

    #[test]
    fn a_file_that_does_not_parse_is_refused_with_a_reason() {
        for bad in [
            "hello",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026-12-24\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20261224\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20260101\r\nDTEND:20270101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        ] {
            let e = holidays_from_ics(bad).unwrap_err();
            assert_eq!(e.field, "calendar", "{bad}");
        }
    }
}

//! The security desk's vocabulary (D1–D7): report states, page names, and the rules a report
//! from an outsider must meet before anything is stored.

use crate::validate::{FieldError, Rule};
use serde::{Deserialize, Serialize};

/// Where a report stands (D4). Triage moves it along; the finder sees the state on the status page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ReportState {
    New,
    Acknowledged,
    Triaging,
    NeedsInfo,
    Accepted,
    Fixing,
    Resolved,
    Disclosed,
    Closed,
    Duplicate,
    Informative,
    NotApplicable,
    Spam,
    Withdrawn,
}

impl ReportState {
    pub const ALL: [ReportState; 14] = [
        ReportState::New,
        ReportState::Acknowledged,
        ReportState::Triaging,
        ReportState::NeedsInfo,
        ReportState::Accepted,
        ReportState::Fixing,
        ReportState::Resolved,
        ReportState::Disclosed,
        ReportState::Closed,
        ReportState::Duplicate,
        ReportState::Informative,
        ReportState::NotApplicable,
        ReportState::Spam,
        ReportState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::New => "new",
            ReportState::Acknowledged => "acknowledged",
            ReportState::Triaging => "triaging",
            ReportState::NeedsInfo => "needs-info",
            ReportState::Accepted => "accepted",
            ReportState::Fixing => "fixing",
            ReportState::Resolved => "resolved",
            ReportState::Disclosed => "disclosed",
            ReportState::Closed => "closed",
            ReportState::Duplicate => "duplicate",
            ReportState::Informative => "informative",
            ReportState::NotApplicable => "not-applicable",
            ReportState::Spam => "spam",
            ReportState::Withdrawn => "withdrawn",
        }
    }

    /// The state's name as people read it ("Needs more information", not `needs-info`).
    pub fn label(self) -> &'static str {
        match self {
            ReportState::New => "New",
            ReportState::Acknowledged => "Acknowledged",
            ReportState::Triaging => "Being assessed",
            ReportState::NeedsInfo => "Needs more information",
            ReportState::Accepted => "Accepted",
            ReportState::Fixing => "Being fixed",
            ReportState::Resolved => "Resolved",
            ReportState::Disclosed => "Disclosed",
            ReportState::Closed => "Closed",
            ReportState::Duplicate => "Duplicate",
            ReportState::Informative => "Informative",
            ReportState::NotApplicable => "Not applicable",
            ReportState::Spam => "Spam",
            ReportState::Withdrawn => "Withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<ReportState> {
        ReportState::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Closed for good: the finder's personal data is purged after the retention period.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReportState::Closed
                | ReportState::Disclosed
                | ReportState::Duplicate
                | ReportState::Informative
                | ReportState::NotApplicable
                | ReportState::Spam
                | ReportState::Withdrawn
        )
    }

    /// The states the security team may move a report to from this one (D4). Withdrawal is the
    /// finder's alone; a closed report can be reopened for assessment. Disclosed is reached only
    /// by publishing the advisory (with the finder's agreement or an override), never directly.
    pub fn next_states(self) -> &'static [ReportState] {
        use ReportState::*;
        match self {
            New => &[Acknowledged, Triaging, NeedsInfo, Accepted, Duplicate, Informative, NotApplicable, Spam],
            Acknowledged => &[Triaging, NeedsInfo, Accepted, Duplicate, Informative, NotApplicable, Spam],
            Triaging => &[NeedsInfo, Accepted, Duplicate, Informative, NotApplicable, Spam],
            NeedsInfo => &[Triaging, Accepted, Fixing, Duplicate, Informative, NotApplicable, Spam, Closed],
            Accepted => &[Fixing, Resolved, NeedsInfo, Duplicate],
            Fixing => &[Resolved, NeedsInfo],
            Resolved => &[Closed, Fixing],
            Disclosed => &[Closed],
            Closed | Duplicate | Informative | NotApplicable | Spam => &[Triaging],
            Withdrawn => &[],
        }
    }

    pub fn can_move_to(self, to: ReportState) -> bool {
        self.next_states().contains(&to)
    }

    /// The finder may withdraw a report until the team accepts it; after that the vulnerability
    /// is confirmed and its disclosure is no longer the finder's alone to stop.
    pub fn can_withdraw(self) -> bool {
        matches!(self, ReportState::New | ReportState::Acknowledged | ReportState::Triaging | ReportState::NeedsInfo)
    }

    /// Whether the finder is told of a move to this state (status page and mail). Spam is
    /// closed without a word; everything else the finder should know.
    pub fn finder_is_told(self) -> bool {
        self != ReportState::Spam
    }

    /// What the finder reads on the status page.
    pub fn explain(self) -> &'static str {
        match self {
            ReportState::New => {
                "Received. Nobody has looked at it yet; the first answer comes within three working days."
            }
            ReportState::Acknowledged => "A member of the security team has read it and will assess it.",
            ReportState::Triaging => "The security team is reproducing the problem and judging its impact.",
            ReportState::NeedsInfo => "The security team needs more from you: see the latest message below.",
            ReportState::Accepted => "Confirmed as a vulnerability. A fix is being planned.",
            ReportState::Fixing => "A fix is being built and tested.",
            ReportState::Resolved => "Fixed. The team will talk to you before anything is published.",
            ReportState::Disclosed => "Fixed and published.",
            ReportState::Closed => "Closed.",
            ReportState::Duplicate => "Closed: someone reported the same problem first.",
            ReportState::Informative => "Closed: useful to know, but no change is needed.",
            ReportState::NotApplicable => "Closed: this does not affect us, or is outside the policy's scope.",
            ReportState::Spam => "Closed as spam.",
            ReportState::Withdrawn => "Withdrawn.",
        }
    }
}

/// The editable public pages (D1). The hall of fame is built from credited finders, not edited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeskPage {
    Policy,
    Rules,
    HowToReport,
}

impl DeskPage {
    pub const ALL: [DeskPage; 3] = [DeskPage::Policy, DeskPage::Rules, DeskPage::HowToReport];

    pub fn as_str(self) -> &'static str {
        match self {
            DeskPage::Policy => "policy",
            DeskPage::Rules => "rules",
            DeskPage::HowToReport => "how-to-report",
        }
    }

    pub fn parse(s: &str) -> Option<DeskPage> {
        DeskPage::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Largest page source a team may save.
pub const MAX_PAGE_BYTES: usize = 64 * 1024;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;
/// Logs and other pasted evidence.
pub const MAX_LOGS_BYTES: usize = 256 * 1024;
/// An encrypted report (armour inflates by a third).
pub const MAX_ENCRYPTED_BYTES: usize = 512 * 1024;
pub const MAX_LIST_ITEMS: usize = 50;
pub const MAX_URL_BYTES: usize = 2048;
pub const MAX_REPLY_BYTES: usize = 32 * 1024;

/// A report as a finder sends it, before validation.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReportInput {
    pub title: String,
    pub description: String,
    pub affected_urls: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub timestamps: Vec<String>,
    pub logs: String,
    /// An ASCII-armoured OpenPGP message holding the whole report instead of the fields above.
    pub encrypted: String,
    pub name: String,
    pub email: String,
    /// The finder wants to be named in the hall of fame.
    pub credit: bool,
}

/// A report that passed every rule: what gets sealed and stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportContent {
    pub title: String,
    pub description: String,
    pub affected_urls: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub timestamps: Vec<String>,
    pub logs: String,
    /// The armoured message as received, when the finder encrypted the report.
    #[serde(default)]
    pub encrypted: Option<String>,
}

fn text(field: &str, raw: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if required && trimmed.is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty"));
    }
    if trimmed.len() > max {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {} KiB", max / 1024)));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(FieldError::new(field, Rule::ControlCharacters, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

fn list(
    field: &str,
    items: &[String],
    check: impl Fn(&str) -> Result<String, String>,
) -> Result<Vec<String>, FieldError> {
    let items: Vec<&str> = items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if items.len() > MAX_LIST_ITEMS {
        return Err(FieldError::new(field, Rule::TooLong, format!("at most {MAX_LIST_ITEMS} entries")));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| check(item).map_err(|why| FieldError::new(format!("{field}[{i}]"), Rule::InvalidValue, why)))
        .collect()
}

/// An absolute http(s) URL without white space or control characters.
pub fn url(raw: &str) -> Result<String, String> {
    if raw.len() > MAX_URL_BYTES {
        return Err(format!("a URL must be at most {MAX_URL_BYTES} bytes"));
    }
    let lower = raw.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !raw.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(raw.to_owned())
        }
        _ => Err(format!("{raw:?} is not an http:// or https:// URL")),
    }
}

fn ip(raw: &str) -> Result<String, String> {
    // Accept an address or a CIDR range, as finders paste both.
    let (addr, prefix) = raw.split_once('/').map_or((raw, None), |(a, p)| (a, Some(p)));
    let parsed: std::net::IpAddr = addr.parse().map_err(|_| format!("{raw:?} is not an IP address"))?;
    if let Some(p) = prefix {
        let max = if parsed.is_ipv4() { 32 } else { 128 };
        match p.parse::<u8>() {
            Ok(n) if n <= max => {}
            _ => return Err(format!("{raw:?} has an invalid prefix length")),
        }
    }
    Ok(raw.to_owned())
}

fn timestamp(raw: &str) -> Result<String, String> {
    // Finders give times in many forms; keep what they wrote, within reason.
    if raw.chars().count() > 100 {
        return Err("a timestamp must be at most 100 characters".into());
    }
    if !raw.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("{raw:?} does not look like a date or time"));
    }
    Ok(raw.to_owned())
}

impl ReportInput {
    /// Checks every field. An encrypted report carries everything inside the message, so its
    /// plain fields (other than contact details) must be empty; a title is then optional.
    pub fn validate(&self) -> Result<ReportContent, FieldError> {
        let encrypted = self.encrypted.trim();
        if !encrypted.is_empty() {
            if encrypted.len() > MAX_ENCRYPTED_BYTES {
                return Err(FieldError::new("encrypted", Rule::TooLong, "must be at most 512 KiB"));
            }
            if !encrypted.starts_with("-----BEGIN PGP MESSAGE-----") || !encrypted.contains("-----END PGP MESSAGE-----")
            {
                return Err(FieldError::new(
                    "encrypted",
                    Rule::InvalidValue,
                    "must be an ASCII-armoured OpenPGP message (-----BEGIN PGP MESSAGE-----)",
                ));
            }
            if !self.description.trim().is_empty() || !self.logs.trim().is_empty() {
                return Err(FieldError::new(
                    "description",
                    Rule::InvalidValue,
                    "put the whole report inside the encrypted message, or send it unencrypted; not both",
                ));
            }
            let title = text("title", &self.title, MAX_TITLE_CHARS * 4, false)?;
            return Ok(ReportContent {
                title: if title.is_empty() { "Encrypted report".to_owned() } else { title },
                description: String::new(),
                affected_urls: Vec::new(),
                ip_addresses: Vec::new(),
                timestamps: Vec::new(),
                logs: String::new(),
                encrypted: Some(encrypted.to_owned()),
            });
        }
        let title = text("title", &self.title, MAX_TITLE_CHARS * 4, true)?;
        if title.chars().count() > MAX_TITLE_CHARS || title.contains('\n') {
            return Err(FieldError::new("title", Rule::TooLong, "must be one line of at most 200 characters"));
        }
        Ok(ReportContent {
            title,
            description: text("description", &self.description, MAX_DESCRIPTION_BYTES, true)?,
            affected_urls: list("affected_urls", &self.affected_urls, url)?,
            ip_addresses: list("ip_addresses", &self.ip_addresses, ip)?,
            timestamps: list("timestamps", &self.timestamps, timestamp)?,
            logs: text("logs", &self.logs, MAX_LOGS_BYTES, false)?,
            encrypted: None,
        })
    }
}

/// A reply in the report's thread, from either side.
pub fn reply(raw: &str) -> Result<String, FieldError> {
    text("body", raw, MAX_REPLY_BYTES, true)
}

/// A finder's name for the hall of fame: optional, one line.
pub fn finder_name(raw: &str) -> Result<Option<String>, FieldError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    crate::validate::name("name", raw).map(Some)
}

/// Receipt codes: 25 characters of Crockford base32 (125 bits) shown in five groups of five.
pub const RECEIPT_CODE_CHARS: usize = 25;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Formats 16 random bytes as a receipt code: 25 Crockford base32 characters in five dash-separated
/// groups of five (125 of the 128 bits).
pub fn receipt_code_from(random: &[u8; 16]) -> String {
    let mut bits: u128 = u128::from_be_bytes(*random);
    let mut chars = Vec::with_capacity(RECEIPT_CODE_CHARS);
    for _ in 0..RECEIPT_CODE_CHARS {
        chars.push(CROCKFORD[(bits & 31) as usize] as char);
        bits >>= 5;
    }
    chars.chunks(5).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// The longest receipt code input looked at (25 characters, with dashes and spaces to spare);
/// anything longer is simply not a code.
pub const MAX_RECEIPT_CODE_INPUT: usize = 64;
/// The longest status-link token looked up (issued tokens are 43 characters).
pub const MAX_STATUS_LINK_INPUT: usize = 128;

/// Normalises what a finder typed (case, dashes, spaces, and the letters Crockford base32 reads
/// as digits); `None` when it cannot be a receipt code. Answers alike for every wrong code.
pub fn normalise_receipt_code(raw: &str) -> Option<String> {
    if raw.len() > MAX_RECEIPT_CODE_INPUT {
        return None;
    }
    let mut out = String::with_capacity(RECEIPT_CODE_CHARS);
    for c in raw.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !CROCKFORD.contains(&(c as u8)) || !c.is_ascii() {
            return None;
        }
        out.push(c);
    }
    if out.len() != RECEIPT_CODE_CHARS {
        return None;
    }
    Some(out.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> ReportInput {
        ReportInput {
            title: "Stored XSS in profile".into(),
            description: "The display name is rendered unescaped.".into(),
            affected_urls: vec!["https://example.org/profile".into(), "  ".into()],
            ip_addresses: vec!["192.0.2.7".into(), "2001:db8::/32".into()],
            timestamps: vec!["2026-11-20 14:03 UTC".into()],
            ..ReportInput::default()
        }
    }

    #[test]
    fn a_plain_report_is_trimmed_and_kept() {
        let content = plain().validate().unwrap();
        assert_eq!(content.affected_urls, vec!["https://example.org/profile"]);
        assert_eq!(content.ip_addresses.len(), 2);
        assert!(content.encrypted.is_none());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(ReportInput, &str)> = vec![
            (ReportInput { title: " ".into(), ..plain() }, "title"),
            (ReportInput { description: "".into(), ..plain() }, "description"),
            (ReportInput { affected_urls: vec!["javascript:alert(1)".into()], ..plain() }, "affected_urls[0]"),
            (ReportInput { ip_addresses: vec!["10.0.0.300".into()], ..plain() }, "ip_addresses[0]"),
            (ReportInput { ip_addresses: vec!["10.0.0.0/33".into()], ..plain() }, "ip_addresses[0]"),
            (ReportInput { timestamps: vec!["yesterday".into()], ..plain() }, "timestamps[0]"),
            (ReportInput { logs: "x".repeat(MAX_LOGS_BYTES + 1), ..plain() }, "logs"),
            (ReportInput { encrypted: "hello".into(), ..plain() }, "encrypted"),
            (
                ReportInput {
                    encrypted: "-----BEGIN PGP MESSAGE-----\nx\n-----END PGP MESSAGE-----".into(),
                    ..plain()
                },
                "description",
            ),
            (ReportInput { title: "a\u{7}b".into(), ..plain() }, "title"),
        ];
        for (input, field) in cases {
            assert_eq!(input.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn receipt_codes_round_trip_through_what_people_type() {
        let code = receipt_code_from(&[0xA5; 16]);
        assert_eq!(code.len(), 29);
        assert_eq!(normalise_receipt_code(&code.to_lowercase().replace('-', " ")).as_deref(), Some(code.as_str()));
        assert_eq!(normalise_receipt_code("not a code"), None);
        assert_eq!(normalise_receipt_code(&code[..20]), None);
        assert_eq!(normalise_receipt_code("ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ"), None);
    }

    #[test]
    fn every_transition_is_allowed_or_refused_as_the_table_says() {
        use ReportState::*;
        let allowed: &[(ReportState, &[ReportState])] = &[
            (New, &[Acknowledged, Triaging, NeedsInfo, Accepted, Duplicate, Informative, NotApplicable, Spam]),
            (Acknowledged, &[Triaging, NeedsInfo, Accepted, Duplicate, Informative, NotApplicable, Spam]),
            (Triaging, &[NeedsInfo, Accepted, Duplicate, Informative, NotApplicable, Spam]),
            (NeedsInfo, &[Triaging, Accepted, Fixing, Duplicate, Informative, NotApplicable, Spam, Closed]),
            (Accepted, &[Fixing, Resolved, NeedsInfo, Duplicate]),
            (Fixing, &[Resolved, NeedsInfo]),
            (Resolved, &[Closed, Fixing]),
            (Disclosed, &[Closed]),
            (Closed, &[Triaging]),
            (Duplicate, &[Triaging]),
            (Informative, &[Triaging]),
            (NotApplicable, &[Triaging]),
            (Spam, &[Triaging]),
            (Withdrawn, &[]),
        ];
        assert_eq!(allowed.len(), ReportState::ALL.len());
        for (from, to) in allowed {
            for state in ReportState::ALL {
                assert_eq!(from.can_move_to(state), to.contains(&state), "{from:?} -> {state:?}");
            }
        }
        // Nobody moves a report to "new", or withdraws it on the finder's behalf.
        assert!(ReportState::ALL.iter().all(|s| !s.can_move_to(New) && !s.can_move_to(Withdrawn)));
        assert!(New.can_withdraw() && NeedsInfo.can_withdraw() && !Accepted.can_withdraw() && !Closed.can_withdraw());
        // Only publishing an advisory discloses.
        assert!(ReportState::ALL.iter().all(|s| !s.can_move_to(Disclosed)));
        assert!(!Spam.finder_is_told() && Duplicate.finder_is_told());
    }
}

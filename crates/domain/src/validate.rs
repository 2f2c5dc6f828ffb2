//! Validation of values that come from outside (API bodies, CLI flags). Each failure names the
//! field and the rule it broke, so the HTTP layer can answer with a precise problem+json and the
//! CLI with a precise sentence.

use serde::Serialize;

/// The rule a value broke. Stable names: they appear in API error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Required,
    Empty,
    TooLong,
    TooShort,
    InvalidEmail,
    InvalidValue,
    ControlCharacters,
    UnknownField,
    WrongType,
    Duplicate,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::Empty => "empty",
            Rule::TooLong => "too-long",
            Rule::TooShort => "too-short",
            Rule::InvalidEmail => "invalid-email",
            Rule::InvalidValue => "invalid-value",
            Rule::ControlCharacters => "control-characters",
            Rule::UnknownField => "unknown-field",
            Rule::WrongType => "wrong-type",
            Rule::Duplicate => "duplicate",
        }
    }
}

/// One field that failed one rule, with a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub rule: Rule,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), rule, message: message.into() }
    }
}

/// Longest display name, team name or enterprise name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// RFC 5321 limits a forward path to 254 octets.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Shortest password accepted before an enterprise policy exists (A1 raises this later).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted; argon2 would take any length, but unbounded input is a DoS lever.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The longest one-time or recovery code accepted (codes are 6 digits or 20 letters and digits;
/// anything longer is refused unread).
pub const MAX_CODE_CHARS: usize = 64;

/// A one-time or recovery code as typed: at most [`MAX_CODE_CHARS`] characters.
pub fn code_length(field: &str, raw: &str) -> Result<(), FieldError> {
    if raw.chars().count() > MAX_CODE_CHARS {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {MAX_CODE_CHARS} characters")));
    }
    Ok(())
}

/// A name shown to people: trimmed, non-empty, at most [`MAX_NAME_CHARS`], no control characters.
/// Characters a name people read must not hold: control characters, and the invisible ones that
/// reorder or hide text (bidirectional overrides and isolates, marks, zero-width space, word joiner,
/// byte-order mark), with which `U+202E` makes `txt.exe` read as `exe.txt`. Zero-width joiners stay:
/// several scripts and emoji need them.
pub fn is_hidden_character(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{2060}' | '\u{FEFF}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// The refusal for a name holding [`is_hidden_character`]s.
pub fn hidden_characters(field: &str) -> FieldError {
    FieldError::new(
        field,
        Rule::ControlCharacters,
        "must not contain control characters or invisible characters that reorder text",
    )
}

/// An RFC 3339 moment such as `2026-12-05T09:00:00Z`, as milliseconds since the epoch.
pub fn moment(field: &str, raw: &str) -> Result<crate::Millis, FieldError> {
    let parsed = time::OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| FieldError::new(field, Rule::InvalidValue, "must be a time such as 2026-12-05T09:00:00Z"))?;
    Ok(crate::Millis((parsed.unix_timestamp_nanos() / 1_000_000) as i64))
}

pub fn name(field: &str, raw: &str) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty"));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    if trimmed.chars().any(is_hidden_character) {
        return Err(hidden_characters(field));
    }
    Ok(trimmed.to_owned())
}

/// An email address, normalised to lower case. Deliberately simple: one `@`, a non-empty local
/// part without spaces, a domain with at least one dot and only letters, digits, `-` and `.`.
/// Anything cleverer belongs to the verification mail, not to a parser.
pub fn email(field: &str, raw: &str) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty"));
    }
    if trimmed.len() > MAX_EMAIL_BYTES {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {MAX_EMAIL_BYTES} bytes")));
    }
    let invalid = || FieldError::new(field, Rule::InvalidEmail, "must be an email address like name@example.com");
    let (local, domain) = trimmed.split_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| c.is_ascii_graphic() && c != '@' && c != '"' && c != ',');
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let domain_ok = domain.contains('.') && labels_ok;
    if !local_ok || !domain_ok {
        return Err(invalid());
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// A new password: length bounds only here; the enterprise's policy (A1) adds its rules on top.
pub fn new_password(field: &str, raw: &str) -> Result<(), FieldError> {
    let n = raw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            field,
            Rule::TooShort,
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {MAX_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert_eq!(name("name", "   ").unwrap_err().rule, Rule::Empty);
        assert_eq!(name("name", &"x".repeat(101)).unwrap_err().rule, Rule::TooLong);
        assert!(name("name", &"é".repeat(100)).is_ok(), "limit counts characters, not bytes");
        assert_eq!(name("name", "a\u{0}b").unwrap_err().rule, Rule::ControlCharacters);
        for hidden in ["invoice\u{202E}txt.exe", "a\u{2066}b", "a\u{200F}b", "a\u{200B}b", "\u{FEFF}Ada"] {
            assert_eq!(name("name", hidden).unwrap_err().rule, Rule::ControlCharacters, "{hidden:?}");
        }
        assert!(
            name("name", "\u{0645}\u{06cc}\u{200c}\u{062e}\u{0648}\u{0627}\u{0647}\u{0645}").is_ok(),
            "a zero-width non-joiner stays"
        );
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email("email", " Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa_mple.com",
            "ada@-x.com",
            "a@b@c.com",
        ] {
            assert_eq!(email("email", bad).unwrap_err().rule, Rule::InvalidEmail, "{bad}");
        }
        assert_eq!(email("email", "").unwrap_err().rule, Rule::Empty);
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(email("email", &long).unwrap_err().rule, Rule::TooLong);
    }

    #[test]
    fn passwords_have_length_bounds() {
        assert_eq!(new_password("password", "short").unwrap_err().rule, Rule::TooShort);
        assert!(new_password("password", "long enough").is_ok());
        assert_eq!(new_password("password", &"p".repeat(257)).unwrap_err().rule, Rule::TooLong);
    }
}

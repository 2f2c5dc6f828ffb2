//! An enterprise's password policy (A1) and the rules it holds a new password to. The strength
//! score (zxcvbn) is computed by the caller and passed in, so this module stays pure.

use crate::validate::{FieldError, Rule, MAX_PASSWORD_CHARS};
use serde::{Deserialize, Serialize};

/// A class of characters a policy can require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum CharClass {
    Lowercase,
    Uppercase,
    Digit,
    Symbol,
}

impl CharClass {
    pub const ALL: [CharClass; 4] = [CharClass::Lowercase, CharClass::Uppercase, CharClass::Digit, CharClass::Symbol];

    pub fn as_str(self) -> &'static str {
        match self {
            CharClass::Lowercase => "lowercase",
            CharClass::Uppercase => "uppercase",
            CharClass::Digit => "digit",
            CharClass::Symbol => "symbol",
        }
    }

    pub fn parse(s: &str) -> Option<CharClass> {
        CharClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn matches(self, c: char) -> bool {
        match self {
            CharClass::Lowercase => c.is_lowercase(),
            CharClass::Uppercase => c.is_uppercase(),
            CharClass::Digit => c.is_numeric(),
            CharClass::Symbol => !c.is_alphanumeric() && !c.is_whitespace(),
        }
    }
}

/// The policy an enterprise admin edits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    /// 8 to 256 characters.
    pub min_length: u32,
    pub required_classes: Vec<CharClass>,
    /// zxcvbn score 0 (anything) to 4 (very strong).
    pub min_strength: u8,
    /// The enterprise's own words (its name, domain, products) refused inside passwords.
    pub deny_words: Vec<String>,
    /// How many previous passwords may not be reused (0 to 24).
    pub history: u32,
    /// Days after which the password must be changed at the next sign-in; `None`: never.
    pub max_age_days: Option<u32>,
    /// Failed sign-ins in a row before the account is locked (1 to 100).
    pub lockout_threshold: u32,
    /// How long a lock lasts (1 to 1440 minutes).
    pub lockout_minutes: u32,
    /// Every member must sign in with a one-time code as well.
    pub require_second_factor: bool,
}

impl Default for PasswordPolicy {
    fn default() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 12,
            required_classes: Vec::new(),
            min_strength: 2,
            deny_words: Vec::new(),
            history: 5,
            max_age_days: None,
            lockout_threshold: 10,
            lockout_minutes: 15,
            require_second_factor: false,
        }
    }
}

/// The rules a new password failed, each with a sentence; empty when it passes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyFailure {
    /// `min-length`, `max-length`, `class:<class>`, `strength`, `deny-list`, `personal`, `reuse`.
    pub rule: String,
    pub message: String,
}

/// What a password is checked against beyond the policy itself.
pub struct PasswordContext<'a> {
    /// zxcvbn's score for the password, given the user inputs below.
    pub strength: u8,
    /// Words tied to the person and enterprise: name, email parts, enterprise name.
    pub personal_words: &'a [String],
    /// Whether the password matches one of the last `history` passwords.
    pub reused: bool,
}

impl PasswordPolicy {
    /// Checks the policy itself; each bad setting is named.
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(8..=MAX_PASSWORD_CHARS as u32).contains(&self.min_length) {
            return Err(FieldError::new("min_length", Rule::InvalidValue, "must be between 8 and 256"));
        }
        if self.min_strength > 4 {
            return Err(FieldError::new("min_strength", Rule::InvalidValue, "must be between 0 and 4"));
        }
        if self.history > 24 {
            return Err(FieldError::new("history", Rule::InvalidValue, "must be between 0 and 24"));
        }
        if let Some(days) = self.max_age_days {
            if !(1..=3650).contains(&days) {
                return Err(FieldError::new("max_age_days", Rule::InvalidValue, "must be between 1 and 3650, or null"));
            }
        }
        if !(1..=100).contains(&self.lockout_threshold) {
            return Err(FieldError::new("lockout_threshold", Rule::InvalidValue, "must be between 1 and 100"));
        }
        if !(1..=1440).contains(&self.lockout_minutes) {
            return Err(FieldError::new("lockout_minutes", Rule::InvalidValue, "must be between 1 and 1440 minutes"));
        }
        if self.deny_words.len() > 200 {
            return Err(FieldError::new("deny_words", Rule::TooLong, "at most 200 words"));
        }
        for w in &self.deny_words {
            let n = w.trim().chars().count();
            if !(3..=64).contains(&n) || w.chars().any(char::is_control) {
                return Err(FieldError::new(
                    "deny_words",
                    Rule::InvalidValue,
                    format!("{w:?}: words are 3 to 64 characters"),
                ));
            }
        }
        let mut seen = Vec::new();
        for c in &self.required_classes {
            if seen.contains(c) {
                return Err(FieldError::new(
                    "required_classes",
                    Rule::Duplicate,
                    format!("{} is listed twice", c.as_str()),
                ));
            }
            seen.push(*c);
        }
        Ok(())
    }

    /// Every rule `password` fails, in a stable order.
    pub fn check(&self, password: &str, context: &PasswordContext<'_>) -> Vec<PolicyFailure> {
        let mut failures = Vec::new();
        let mut fail = |rule: &str, message: String| failures.push(PolicyFailure { rule: rule.to_owned(), message });
        let n = password.chars().count();
        if n < self.min_length as usize {
            fail("min-length", format!("use at least {} characters", self.min_length));
        }
        if n > MAX_PASSWORD_CHARS {
            fail("max-length", format!("use at most {MAX_PASSWORD_CHARS} characters"));
        }
        for class in &self.required_classes {
            if !password.chars().any(|c| class.matches(c)) {
                let what = match class {
                    CharClass::Lowercase => "a lowercase letter",
                    CharClass::Uppercase => "an uppercase letter",
                    CharClass::Digit => "a digit",
                    CharClass::Symbol => "a symbol such as ! or #",
                };
                fail(&format!("class:{}", class.as_str()), format!("include {what}"));
            }
        }
        if let Some(base) = common_password(password) {
            fail("deny-list", format!("it is built on \"{base}\", one of the passwords attackers try first"));
        }
        let folded = fold(password);
        let lower = password.to_lowercase();
        // Words are compared with substitutions undone on both sides ("Acm3" holds "acme"); a
        // word of digits alone (a number in an email address) is compared as digits, or "773"
        // would read "tte" and refuse every password holding "battery".
        let personal = self
            .deny_words
            .iter()
            .chain(context.personal_words)
            .map(|w| w.trim())
            .filter(|w| w.chars().count() >= 3)
            .find(|w| {
                if w.chars().any(char::is_alphabetic) {
                    folded.contains(fold(w).as_str())
                } else {
                    lower.contains(&w.to_lowercase())
                }
            });
        if let Some(word) = personal {
            fail("personal", format!("it contains \"{word}\", which is tied to you or your organisation"));
        }
        if context.strength < self.min_strength {
            fail("strength", "it is too easy to guess; make it longer or less predictable".to_owned());
        }
        if context.reused {
            fail("reuse", format!("it matches one of your last {} passwords", self.history));
        }
        failures
    }
}

/// Lower case with common digit and symbol substitutions undone, so "P@ssw0rd" reads "password".
fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '@' | '4' => 'a',
            '3' => 'e',
            '1' | '!' | '|' => 'i',
            '0' => 'o',
            '$' | '5' => 's',
            '7' => 't',
            c => c,
        })
        .collect()
}

/// Bases of the passwords that lead every breach corpus, and that people decorate with a
/// capital, a year or a "!". Matched after folding, with decorations stripped from both ends.
const COMMON_BASES: &[&str] = &[
    "password",
    "passwort",
    "passw",
    "qwerty",
    "qwertz",
    "azerty",
    "asdfgh",
    "zxcvbn",
    "letmein",
    "welcome",
    "iloveyou",
    "admin",
    "administrator",
    "abc123",
    "abcdef",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "soccer",
    "sunshine",
    "princess",
    "shadow",
    "master",
    "superman",
    "batman",
    "trustno",
    "starwars",
    "whatever",
    "freedom",
    "secret",
    "changeme",
    "default",
    "login",
    "access",
    "hello",
    "summer",
    "winter",
    "spring",
    "autumn",
    "michael",
    "jennifer",
    "jordan",
    "charlie",
    "ashley",
    "hunter",
    "killer",
    "pokemon",
    "computer",
    "internet",
    "qazwsx",
    "1q2w3e",
    "zaq12wsx",
    "google",
    "samsung",
    "cheese",
    "flower",
    "lovely",
    "matrix",
    "mustang",
    "ninja",
    "pepper",
    "ranger",
    "robert",
    "thomas",
    "tigger",
    "yankees",
    "111111",
    "123123",
    "123456",
    "654321",
    "666666",
    "888888",
    "000000",
    "121212",
    "112233",
    "987654",
    "gfhjkm",
    "passpass",
    "p4ssword",
    "company",
    "office",
    "account",
];

fn common_password(password: &str) -> Option<&'static str> {
    let lower = password.to_lowercase();
    // What people add around a base word: digits and symbols at either end.
    let trimmed = lower.trim_matches(|c: char| !c.is_alphabetic());
    let near = |candidate: &str, base: &str| {
        candidate == base
            || (candidate.len() <= base.len() + 4 && (candidate.starts_with(base) || candidate.ends_with(base)))
    };
    COMMON_BASES.iter().copied().find(|base| {
        near(&lower, base)
            || near(&fold(&lower), &fold(base))
            || (!trimmed.is_empty() && near(&fold(trimmed), &fold(base)))
    })
}

/// How a policy reads in the UI's live checklist: (rule, sentence) for each rule in force.
pub fn checklist(policy: &PasswordPolicy) -> Vec<(String, String)> {
    let mut out = vec![("min-length".to_owned(), format!("At least {} characters", policy.min_length))];
    for c in &policy.required_classes {
        out.push((format!("class:{}", c.as_str()), format!("A {} character", c.as_str())));
    }
    out.push(("deny-list".to_owned(), "Not built on a common password".to_owned()));
    out.push(("personal".to_owned(), "No part of your name, email or organisation".to_owned()));
    if policy.min_strength > 0 {
        out.push(("strength".to_owned(), format!("Strength at least {} of 4", policy.min_strength)));
    }
    if policy.history > 0 {
        out.push(("reuse".to_owned(), format!("Not one of your last {} passwords", policy.history)));
    }
    out
}

/// Parts of an email's domain that name no one: top-level and common second-level domains.
const GENERIC_DOMAIN_LABELS: &[&str] =
    &["com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "co", "ac", "example", "mail", "email"];
/// Words in organisation names that say what kind of body it is, not which one.
const GENERIC_ORGANISATION_WORDS: &[&str] = &[
    "inc",
    "ltd",
    "llc",
    "llp",
    "plc",
    "gmbh",
    "corp",
    "corporation",
    "company",
    "group",
    "the",
    "and",
    "limited",
    "holding",
    "holdings",
];

/// The words the "nothing personal" rule looks for: the parts of a person's name, their email's
/// local part and domain (without the top-level domain and other labels every address shares),
/// and their organisation's name (without "Inc", "Ltd" and the like), lowercased, three
/// characters or longer, each once.
pub fn personal_words(name: &str, email: &str, organisation: &str) -> Vec<String> {
    let split = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase).filter(|w| w.chars().count() >= 3).collect()
    };
    let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
    let mut labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    labels.pop();
    let mut words = split(name);
    words.extend(split(local));
    words.extend(labels.into_iter().flat_map(split).filter(|w| !GENERIC_DOMAIN_LABELS.contains(&w.as_str())));
    words.extend(split(organisation).into_iter().filter(|w| !GENERIC_ORGANISATION_WORDS.contains(&w.as_str())));
    words.sort();
    words.dedup();
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_meaningful_parts_of_names_emails_and_organisations_are_personal() {
        assert_eq!(
            personal_words("Ada Lovelace", "ada.lovelace@example.com", "Acme Inc"),
            ["acme", "ada", "lovelace"],
            "neither com, example nor inc names Ada"
        );
        assert_eq!(
            personal_words("Bo", "bo@mail.rocketworks.co.uk", "The Rocket Works Ltd"),
            ["rocket", "rocketworks", "works"]
        );
        let words = personal_words("Ada Lovelace", "ada@example.com", "Acme");
        let context = PasswordContext { strength: 4, personal_words: &words, reused: false };
        assert!(PasswordPolicy::default().check("Comet-Harbour-Violin-42", &context).is_empty(), "com is not personal");
        assert_eq!(PasswordPolicy::default().check("Acme-Harbour-Violin-42", &context)[0].rule, "personal");
        // A number in the email is matched as digits, not read as letters ("773" is not "tte").
        let words = personal_words("Vic Tim", "victim-773@a.example", "Alpha");
        let context = PasswordContext { strength: 4, personal_words: &words, reused: false };
        assert!(PasswordPolicy::default().check("correct horse battery", &context).is_empty());
        let refused = PasswordPolicy::default().check("harbour-773-violin", &context);
        assert_eq!(refused[0].rule, "personal");
        assert!(refused[0].message.contains("\"773\""), "the word as the person wrote it: {}", refused[0].message);
    }

    fn context(strength: u8) -> PasswordContext<'static> {
        PasswordContext { strength, personal_words: &[], reused: false }
    }

    #[test]
    fn each_failed_rule_is_named() {
        let policy = PasswordPolicy {
            required_classes: vec![CharClass::Uppercase, CharClass::Digit, CharClass::Symbol],
            deny_words: vec!["Acme".into()],
            ..PasswordPolicy::default()
        };
        let rules = |p: &str, strength: u8| -> Vec<String> {
            policy.check(p, &context(strength)).into_iter().map(|f| f.rule).collect()
        };
        assert_eq!(rules("short", 0), ["min-length", "class:uppercase", "class:digit", "class:symbol", "strength"]);
        assert_eq!(rules("P@ssw0rd2024!", 1), ["deny-list", "strength"]);
        assert_eq!(rules("Acme-Rocket-Launch-7", 3), ["personal"]);
        assert!(rules("Tidal-Quartz-Ember-91", 4).is_empty());
        let reused = PasswordContext { strength: 4, personal_words: &[], reused: true };
        assert_eq!(policy.check("Tidal-Quartz-Ember-91", &reused)[0].rule, "reuse");
        let ada = ["ada".to_owned(), "lovelace".to_owned()];
        let personal = PasswordContext { strength: 4, personal_words: &ada, reused: false };
        assert_eq!(policy.check("Lovelace-Engine-Note-1!", &personal)[0].rule, "personal");
    }

    #[test]
    fn bad_policies_are_refused_with_the_setting_named() {
        let bad = [
            (PasswordPolicy { min_length: 7, ..Default::default() }, "min_length"),
            (PasswordPolicy { min_length: 257, ..Default::default() }, "min_length"),
            (PasswordPolicy { lockout_minutes: 0, ..Default::default() }, "lockout_minutes"),
            (PasswordPolicy { lockout_threshold: 0, ..Default::default() }, "lockout_threshold"),
            (PasswordPolicy { min_strength: 5, ..Default::default() }, "min_strength"),
            (PasswordPolicy { history: 25, ..Default::default() }, "history"),
            (PasswordPolicy { max_age_days: Some(0), ..Default::default() }, "max_age_days"),
            (PasswordPolicy { deny_words: vec!["ab".into()], ..Default::default() }, "deny_words"),
            (
                PasswordPolicy { required_classes: vec![CharClass::Digit, CharClass::Digit], ..Default::default() },
                "required_classes",
            ),
        ];
        for (policy, field) in bad {
            assert_eq!(policy.validate().unwrap_err().field, field);
        }
        assert!(PasswordPolicy::default().validate().is_ok());
        assert_eq!(CharClass::parse("emoji"), None);
    }
}

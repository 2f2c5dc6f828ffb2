//! Conversations and messages (M1): kinds, member roles, and the rules on message bodies.

use crate::{FieldError, Rule, UserId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConversationKind {
    /// Exactly two members, one conversation per pair.
    Direct,
    Group,
    /// A team's channel; its members join from the team.
    Team,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
            ConversationKind::Team => "team",
        }
    }
    pub fn parse(s: &str) -> Option<ConversationKind> {
        [ConversationKind::Direct, ConversationKind::Group, ConversationKind::Team]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemberRole {
    Owner,
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Member => "member",
        }
    }
    pub fn parse(s: &str) -> Option<MemberRole> {
        [MemberRole::Owner, MemberRole::Member].into_iter().find(|r| r.as_str() == s)
    }
}

/// Largest message body, in bytes of UTF-8 (64 KiB).
/// The default longest message body; the operator may set another (`max_message_bytes`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most members a group may start with.
pub const MAX_GROUP_MEMBERS: usize = 1000;

/// A message body: not empty or only white space, at most `max` bytes. Kept as written
/// (no trimming): white space inside a message is the sender's.
pub fn body(field: &str, raw: &str, max: usize) -> Result<(), FieldError> {
    if raw.trim().is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty or only white space"));
    }
    if raw.len() > max {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {max} bytes")));
    }
    Ok(())
}

/// Most words of one message that go into the search index.
pub const MAX_INDEXED_WORDS: usize = 512;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// The words of a text as search sees them: lower-cased runs of letters and digits, two to 64
/// characters long, each once, in order of first appearance.
pub fn search_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let n = word.chars().count();
        if !(2..=64).contains(&n) {
            continue;
        }
        let lower = word.to_lowercase();
        if !out.contains(&lower) {
            out.push(lower);
            if out.len() == MAX_INDEXED_WORDS {
                break;
            }
        }
    }
    out
}

/// Most different reactions one message may carry.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 20;

/// A reaction: one emoji (with its variation selectors, skin tone, joiners or keycap), nothing
/// else. Letters, digits on their own, spaces and control characters are refused.
pub fn reaction(field: &str, raw: &str) -> Result<(), FieldError> {
    let refuse = || Err(FieldError::new(field, Rule::InvalidValue, "must be a single emoji"));
    if raw.is_empty() || raw.len() > 32 || raw.chars().count() > 10 {
        return refuse();
    }
    let pictographic = |c: char| matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2190..=0x21FF | 0x2300..=0x23FF | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2 | 0x25AA..=0x25FE);
    let joiner = |c: char| matches!(c as u32, 0xFE0F | 0xFE0E | 0x200D | 0x20E3 | 0xE0020..=0xE007F);
    let keycap = |c: char| c.is_ascii_digit() || c == '#' || c == '*';
    let chars: Vec<char> = raw.chars().collect();
    let has_picture = chars.iter().any(|c| pictographic(*c));
    let is_keycap = chars.len() >= 2 && keycap(chars[0]) && chars.contains(&'\u{20E3}');
    if !(has_picture || is_keycap) || !chars.iter().all(|c| pictographic(*c) || joiner(*c) || (is_keycap && keycap(*c)))
    {
        return refuse();
    }
    Ok(())
}

/// The key that makes a direct conversation unique per pair: both ids, sorted.
pub fn direct_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaction_is_one_emoji_and_nothing_else() {
        for ok in ["👍", "❤️", "🎉", "👍🏽", "👩‍💻", "1️⃣", "🇨🇭"] {
            assert!(reaction("emoji", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "ok", "1", "👍 ", "👍a", "<b>", "\u{202E}", &"👍".repeat(11)] {
            assert!(reaction("emoji", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bodies_are_checked() {
        assert!(body("body", "hi", MAX_BODY_BYTES).is_ok());
        assert_eq!(body("body", " \n\t", MAX_BODY_BYTES).unwrap_err().rule, Rule::Empty);
        assert_eq!(body("body", &"x".repeat(MAX_BODY_BYTES + 1), MAX_BODY_BYTES).unwrap_err().rule, Rule::TooLong);
        assert!(body("body", &"x".repeat(MAX_BODY_BYTES), MAX_BODY_BYTES).is_ok());
    }

    #[test]
    fn direct_keys_ignore_order() {
        let (a, b) = (UserId::new(), UserId::new());
        assert_eq!(direct_key(a, b), direct_key(b, a));
    }
}

/// Who a text names, as `@handle` where a handle is the part of a person's email before the @
/// (the web client completes and highlights the same pattern).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Lower-cased handles of people, without the "@", each once.
    pub handles: Vec<String>,
    /// `@channel`, `@all` or `@here`: everyone in the conversation.
    pub everyone: bool,
}

/// Finds the mentions in a text. An "@" counts only where it starts a word (not inside an email
/// address such as `a@b.org`); a handle is letters, digits, `.`, `_` and `-`, ending in a letter
/// or digit.
pub fn mentions(text: &str) -> Mentions {
    let mut found = Mentions::default();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts_word = !previous.is_some_and(|p| p.is_alphanumeric() || p == '.');
        previous = Some(c);
        if c != '@' || !starts_word {
            continue;
        }
        let rest = &text[at + 1..];
        let run = rest.find(|c: char| !(c.is_alphanumeric() || "._-".contains(c))).unwrap_or(rest.len());
        let handle = rest[..run].trim_end_matches(['.', '_', '-']);
        if handle.is_empty() {
            continue;
        }
        let handle = handle.to_lowercase();
        match handle.as_str() {
            "channel" | "all" | "here" => found.everyone = true,
            _ if !found.handles.contains(&handle) => found.handles.push(handle),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod mention_tests {
    use super::mentions;

    #[test]
    fn finds_handles_and_everyone_but_not_email_addresses() {
        let m = mentions("hi @Alice and @bob.smith, mail carol@example.org; @alice again. @channel!");
        assert_eq!(m.handles, ["alice", "bob.smith"]);
        assert!(m.everyone);
        let none = mentions("x@y.z @ @- @. plain");
        assert!(none.handles.is_empty() && !none.everyone, "{none:?}");
        assert_eq!(mentions("(@dana-) @here").handles, ["dana"]);
        assert!(mentions("@here").everyone);
    }
}

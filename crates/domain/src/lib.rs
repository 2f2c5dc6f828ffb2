//! Conclave's domain: identifiers, roles, validated values, audit events and the validation
//! errors every layer above reports. Architecture invariant: this crate does no I/O and knows
//! nothing of SQL, HTTP or keys; everything here can be unit-tested with plain values.

pub mod audit;
pub mod desk;
pub mod device;
pub mod ids;
pub mod messaging;
pub mod password_policy;
pub mod validate;

pub use ids::{
    AttachmentId, ConversationId, EnterpriseId, MessageId, ReportId, ReportMessageId, SessionId, TeamId, UserId,
};
pub use validate::{FieldError, Rule};

use serde::{Deserialize, Serialize};

/// What a user may do inside their enterprise (A7). Ordered from least to most powerful for the
/// enterprise's own administration; `Security` is a separate duty (the security desk), not a
/// super-admin, so checks name the roles they accept rather than comparing ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Member,
    TeamAdmin,
    EnterpriseAdmin,
    Security,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Member, Role::TeamAdmin, Role::EnterpriseAdmin, Role::Security];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::TeamAdmin => "team-admin",
            Role::EnterpriseAdmin => "enterprise-admin",
            Role::Security => "security",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Milliseconds since the Unix epoch. Stored as an integer in both backends so ordering and
/// comparison never depend on a database's time zone handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Millis(pub i64);

impl Millis {
    pub fn now() -> Millis {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Millis(d.as_millis() as i64)
    }

    /// RFC 3339 in UTC, for people and JSON.
    pub fn rfc3339(self) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Role::parse("Member"), None);
    }

    #[test]
    fn millis_format_as_utc() {
        assert_eq!(Millis(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Millis(1_500).rfc3339(), "1970-01-01T00:00:01.5Z");
    }
}

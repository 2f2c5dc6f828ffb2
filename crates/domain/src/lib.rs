//! Conclave's domain: identifiers, roles, validated values, audit events and the validation
//! errors every layer above reports. Architecture invariant: this crate does no I/O and knows
//! nothing of SQL, HTTP or keys; everything here can be unit-tested with plain values.

pub mod advisory;
pub mod audit;
pub mod cvss;
pub mod desk;
pub mod desk_clock;
pub mod device;
pub mod ids;
pub mod incident;
pub mod message_policy;
pub mod messaging;
pub mod openapi;
pub mod password_policy;
pub mod session_policy;
pub mod validate;

pub use ids::{
    AttachmentId, ConversationId, EnterpriseId, MessageId, MessagePolicyId, ReportId, ReportMessageId, SessionId,
    TeamId, UserId,
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

/// The roles one person holds (A7): an enterprise admin may also be on the security team. Everyone
/// is a member; the set holds the duties beyond that. Stored as the names joined by commas in
/// [`Role::ALL`] order (`member` alone for none), so every stored single role reads back as itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Roles(u8);

impl Roles {
    /// A plain member.
    pub const MEMBER: Roles = Roles(0);

    fn bit(role: Role) -> u8 {
        match role {
            Role::Member => 0,
            Role::TeamAdmin => 1,
            Role::EnterpriseAdmin => 2,
            Role::Security => 4,
        }
    }

    pub fn of(role: Role) -> Roles {
        Roles(Roles::bit(role))
    }

    pub fn with(self, role: Role) -> Roles {
        Roles(self.0 | Roles::bit(role))
    }

    pub fn without(self, role: Role) -> Roles {
        Roles(self.0 & !Roles::bit(role))
    }

    /// Every person is a member; other roles must be held.
    pub fn has(self, role: Role) -> bool {
        role == Role::Member || self.0 & Roles::bit(role) != 0
    }

    /// The held roles beyond member, in [`Role::ALL`] order; `[Member]` for a plain member.
    pub fn to_vec(self) -> Vec<Role> {
        let held: Vec<Role> = Role::ALL.into_iter().filter(|r| *r != Role::Member && self.has(*r)).collect();
        if held.is_empty() {
            vec![Role::Member]
        } else {
            held
        }
    }

    /// The most powerful role held, for places that show one: enterprise admin, then security,
    /// then team admin, then member.
    pub fn primary(self) -> Role {
        [Role::EnterpriseAdmin, Role::Security, Role::TeamAdmin]
            .into_iter()
            .find(|r| self.has(*r))
            .unwrap_or(Role::Member)
    }

    pub fn encode(self) -> String {
        self.to_vec().iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Reads the stored form; `None` if any name is unknown or the text is empty.
    pub fn parse(s: &str) -> Option<Roles> {
        let mut roles = Roles::MEMBER;
        for name in s.split(',') {
            roles = roles.with(Role::parse(name.trim())?);
        }
        Some(roles)
    }
}

impl From<Role> for Roles {
    fn from(role: Role) -> Roles {
        Roles::of(role)
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Roles {
        iter.into_iter().fold(Roles::MEMBER, Roles::with)
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.encode())
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let held = self.to_vec();
        let mut seq = s.serialize_seq(Some(held.len()))?;
        for r in held {
            seq.serialize_element(&r)?;
        }
        seq.end()
    }
}

/// How a session was authenticated, kept on the session so later checks (elevation, PIN lock,
/// re-authentication) know what the person proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    Password,
    /// A password and a one-time or recovery code.
    PasswordAndCode,
    Oidc,
    Saml,
    /// The session began before Conclave recorded the method.
    Unrecorded,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 5] =
        [AuthMethod::Password, AuthMethod::PasswordAndCode, AuthMethod::Oidc, AuthMethod::Saml, AuthMethod::Unrecorded];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::PasswordAndCode => "password+code",
            AuthMethod::Oidc => "oidc",
            AuthMethod::Saml => "saml",
            AuthMethod::Unrecorded => "unrecorded",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        AuthMethod::ALL.into_iter().find(|m| m.as_str() == s)
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
    fn a_stored_single_role_reads_back_as_a_set_of_it() {
        for role in Role::ALL {
            let roles = Roles::parse(role.as_str()).unwrap();
            assert!(roles.has(role));
            assert_eq!(roles.primary(), role);
            assert_eq!(roles.encode(), role.as_str());
        }
    }

    #[test]
    fn roles_combine_and_encode_in_a_fixed_order() {
        let both = Roles::of(Role::Security).with(Role::EnterpriseAdmin);
        assert_eq!(both.encode(), "enterprise-admin,security");
        assert_eq!(Roles::parse("security,enterprise-admin"), Some(both));
        assert_eq!(Roles::parse("member,security"), Some(Roles::of(Role::Security)));
        assert!(both.has(Role::Member) && !both.has(Role::TeamAdmin));
        assert_eq!(both.without(Role::Security).encode(), "enterprise-admin");
        assert_eq!(Roles::parse(""), None);
        assert_eq!(Roles::parse("member,root"), None);
    }

    #[test]
    fn millis_format_as_utc() {
        assert_eq!(Millis(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Millis(1_500).rfc3339(), "1970-01-01T00:00:01.5Z");
    }
}

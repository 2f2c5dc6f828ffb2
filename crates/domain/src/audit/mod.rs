//! Audit events (L1) and their canonical encoding for the hash chain (L3).
//!
//! An event is drafted by a service ([`AuditDraft`]) and appended by the store in the same
//! transaction as the action it records; the store assigns the sequence number and links it to
//! the previous event's hash. The canonical encoding lives here, beside the type, so the code
//! that writes the chain and the code that verifies it can never disagree about the bytes.

pub mod action;

pub use action::{Action, Recorded, Scope, TargetKind};

use crate::{EnterpriseId, Millis, TeamId, UserId};
use serde::{Deserialize, Serialize};

/// Whether the recorded action happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Success, Outcome::Failure, Outcome::Denied].into_iter().find(|o| o.as_str() == s)
    }
}

/// Who acted. `Operator` is someone with shell access running the `conclave` command; `System`
/// is Conclave itself doing automatic work nobody asked for at that moment (accounts made just in
/// time by single sign-on, roles and teams from the identity provider, jobs, expiry), so the log
/// never credits a person or the operator with what they did not do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Actor {
    User { user_id: UserId },
    Operator,
    System,
    Anonymous,
}

impl Actor {
    /// The text form used in the canonical encoding and in the database.
    pub fn encode(&self) -> String {
        match self {
            Actor::User { user_id } => format!("user:{user_id}"),
            Actor::Operator => "operator".to_owned(),
            Actor::System => "system".to_owned(),
            Actor::Anonymous => "anonymous".to_owned(),
        }
    }
    pub fn decode(s: &str) -> Option<Actor> {
        match s {
            "operator" => Some(Actor::Operator),
            "system" => Some(Actor::System),
            "anonymous" => Some(Actor::Anonymous),
            _ => s.strip_prefix("user:").and_then(UserId::parse).map(|user_id| Actor::User { user_id }),
        }
    }
}

/// Where a request came from, as far as the server can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event before the store gives it a place in the chain.
/// Invariant: `detail` never holds plaintext personal data or secrets (emails, names, passwords,
/// tokens); it names things by id. The audit log is readable by admins and exported to SIEMs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDraft {
    pub at: Millis,
    pub actor: Actor,
    pub origin: Origin,
    pub enterprise_id: Option<EnterpriseId>,
    pub team_id: Option<TeamId>,
    /// What happened, from the catalogue ([`Action`]); stored by its dotted name.
    pub action: Action,
    /// What was acted on, e.g. `user:<id>`.
    pub target: Option<String>,
    pub outcome: Outcome,
    /// Extra facts as a JSON object (ids, reasons), never personal data.
    pub detail: String,
}

/// A stored event: the draft plus its chain position and hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    #[serde(flatten)]
    pub draft: AuditDraft,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The hash the first event links to.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

impl AuditDraft {
    /// A successful event with no enterprise, target or detail yet; the fields say the rest.
    pub fn new(action: Action, actor: Actor, origin: Origin) -> AuditDraft {
        AuditDraft {
            at: Millis::now(),
            actor,
            origin,
            enterprise_id: None,
            team_id: None,
            action,
            target: None,
            outcome: Outcome::Success,
            detail: "{}".to_owned(),
        }
    }

    /// Detail keys the catalogue does not declare for this action (empty when the draft keeps
    /// to it). Checked on every append in debug builds, so a test fails the day a draft drifts.
    pub fn undeclared_detail_fields(&self) -> Vec<String> {
        let declared = self.action.detail_fields();
        if declared.contains(&"*") {
            return Vec::new();
        }
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&self.detail) else {
            return vec!["(detail is not a JSON object)".to_owned()];
        };
        map.keys()
            .filter(|k| !declared.contains(&k.as_str()))
            .filter(|k| !(self.outcome == Outcome::Denied && action::DENIAL_FIELDS.contains(&k.as_str())))
            .cloned()
            .collect()
    }

    /// The canonical encoding hashed into the chain: a version tag, then every field as a
    /// length-prefixed byte string in a fixed order, so no two different events share an encoding.
    pub fn canonical_bytes(&self, seq: i64, prev_hash: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let mut field = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        let opt = |v: Option<String>| v.unwrap_or_default();
        field(b"conclave-audit-v1");
        field(&seq.to_be_bytes());
        field(prev_hash);
        field(&self.at.0.to_be_bytes());
        field(self.actor.encode().as_bytes());
        field(opt(self.origin.ip.clone()).as_bytes());
        field(opt(self.origin.user_agent.clone()).as_bytes());
        field(opt(self.enterprise_id.map(|e| e.to_string())).as_bytes());
        field(opt(self.team_id.map(|t| t.to_string())).as_bytes());
        field(self.action.name().as_bytes());
        field(opt(self.target.clone()).as_bytes());
        field(self.outcome.as_str().as_bytes());
        field(self.detail.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> AuditDraft {
        AuditDraft {
            at: Millis(1),
            actor: Actor::Operator,
            origin: Origin::default(),
            enterprise_id: None,
            team_id: None,
            action: Action::UserCreate,
            target: Some("bc".into()),
            outcome: Outcome::Success,
            detail: "{}".into(),
        }
    }

    #[test]
    fn field_boundaries_are_part_of_the_encoding() {
        let a = draft();
        let mut b = draft();
        b.target = Some("b".into());
        b.detail = "c{}".into();
        assert_ne!(a.canonical_bytes(1, &GENESIS_HASH), b.canonical_bytes(1, &GENESIS_HASH));
    }

    #[test]
    fn sequence_and_previous_hash_are_bound() {
        let a = draft();
        assert_ne!(a.canonical_bytes(1, &GENESIS_HASH), a.canonical_bytes(2, &GENESIS_HASH));
        assert_ne!(a.canonical_bytes(1, &GENESIS_HASH), a.canonical_bytes(1, &[1; 32]));
    }

    #[test]
    fn actors_round_trip() {
        let u = Actor::User { user_id: UserId::new() };
        for a in [u, Actor::Operator, Actor::System, Actor::Anonymous] {
            assert_eq!(Actor::decode(&a.encode()), Some(a));
        }
    }
}

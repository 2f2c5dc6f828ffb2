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

/// Where an event came from, as stored: the address and user agent sealed (S2), and keyed blind
/// indexes of the address and of its network (/24 for IPv4, /64 for IPv6) so that reports can
/// still filter by either without the store holding them. The chain covers these bytes, so it
/// verifies without any key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedOrigin {
    /// The data key the two ciphertexts are sealed under, e.g. `enterprise:<id>`.
    pub key_id: String,
    pub ip_ct: Option<Vec<u8>>,
    pub user_agent_ct: Option<Vec<u8>>,
    pub ip_index: Option<Vec<u8>>,
    pub network_index: Option<Vec<u8>>,
}

impl SealedOrigin {
    pub fn is_empty(&self) -> bool {
        self.ip_ct.is_none() && self.user_agent_ct.is_none()
    }
}

/// A stored event: the draft plus its chain position and hashes.
///
/// Events written since the origin was sealed carry it in `sealed_origin` (with `draft.origin`
/// empty when read back) and are hashed with the v2 encoding; older events keep their clear
/// origin and the v1 encoding, so the chain written before the change still verifies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    #[serde(flatten)]
    pub draft: AuditDraft,
    pub sealed_origin: Option<SealedOrigin>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl AuditEvent {
    /// The bytes this event's hash covers, in the encoding it was written with.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        match &self.sealed_origin {
            None => self.draft.canonical_bytes(self.seq, &self.prev_hash),
            Some(sealed) => self.draft.canonical_bytes_sealed(self.seq, &self.prev_hash, sealed),
        }
    }
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

    /// The v1 canonical encoding (clear origin), kept for events written before v2: a version
    /// tag, then every field as a length-prefixed byte string in a fixed order, so no two
    /// different events share an encoding.
    pub fn canonical_bytes(&self, seq: i64, prev_hash: &[u8; 32]) -> Vec<u8> {
        let opt = |v: Option<String>| v.unwrap_or_default().into_bytes();
        self.encode(
            b"conclave-audit-v1",
            seq,
            prev_hash,
            &[opt(self.origin.ip.clone()), opt(self.origin.user_agent.clone())],
        )
    }

    /// The v2 canonical encoding: as v1, with the stored (sealed) origin in place of the clear one.
    pub fn canonical_bytes_sealed(&self, seq: i64, prev_hash: &[u8; 32], sealed: &SealedOrigin) -> Vec<u8> {
        let opt = |v: &Option<Vec<u8>>| v.clone().unwrap_or_default();
        self.encode(
            b"conclave-audit-v2",
            seq,
            prev_hash,
            &[
                sealed.key_id.as_bytes().to_vec(),
                opt(&sealed.ip_ct),
                opt(&sealed.user_agent_ct),
                opt(&sealed.ip_index),
                opt(&sealed.network_index),
            ],
        )
    }

    fn encode(&self, version: &[u8], seq: i64, prev_hash: &[u8; 32], origin: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let mut field = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        let opt = |v: Option<String>| v.unwrap_or_default();
        field(version);
        field(&seq.to_be_bytes());
        field(prev_hash);
        field(&self.at.0.to_be_bytes());
        field(self.actor.encode().as_bytes());
        for part in origin {
            field(part);
        }
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
    fn the_sealed_encoding_binds_every_stored_origin_byte() {
        let a = draft();
        let sealed = SealedOrigin {
            key_id: "enterprise:x".into(),
            ip_ct: Some(vec![1, 2]),
            user_agent_ct: Some(vec![3]),
            ip_index: Some(vec![4]),
            network_index: Some(vec![5]),
        };
        let base = a.canonical_bytes_sealed(1, &GENESIS_HASH, &sealed);
        assert_ne!(base, a.canonical_bytes(1, &GENESIS_HASH), "v1 and v2 never share an encoding");
        let variants = [
            SealedOrigin { key_id: "enterprise:y".into(), ..sealed.clone() },
            SealedOrigin { ip_ct: Some(vec![1]), ..sealed.clone() },
            SealedOrigin { user_agent_ct: None, ..sealed.clone() },
            SealedOrigin { ip_index: Some(vec![6]), ..sealed.clone() },
            SealedOrigin { network_index: None, ..sealed.clone() },
        ];
        for v in variants {
            assert_ne!(a.canonical_bytes_sealed(1, &GENESIS_HASH, &v), base, "{v:?}");
        }
    }

    #[test]
    fn actors_round_trip() {
        let u = Actor::User { user_id: UserId::new() };
        for a in [u, Actor::Operator, Actor::System, Actor::Anonymous] {
            assert_eq!(Actor::decode(&a.encode()), Some(a));
        }
    }
}

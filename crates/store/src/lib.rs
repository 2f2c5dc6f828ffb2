//! Storage traits, one per aggregate, in domain terms (API boundary).
//!
//! Architecture invariants:
//! - Only the backend crates (`store-sqlite`, `store-postgres`) contain SQL and migrations; this
//!   crate knows nothing of sqlx.
//! - Personal data arrives here already sealed (`*_ct` fields hold ciphertext); the store never
//!   sees a name or an email in plaintext. Look-ups by email use a keyed blind index.
//! - Every mutating method that is security-relevant takes the [`AuditDraft`] describing it and
//!   appends that event to the hash chain in the same transaction: either both happen or neither.
//! - Methods that read or change tenant data take the [`EnterpriseId`] and filter by it in SQL, so
//!   even a service bug cannot reach across tenants by id alone.

mod advisories;
mod audit;
mod conversations;
mod desk;
mod directory;
mod health;
mod incidents;
mod jobs;
mod keys;
mod links;
mod message_policies;
mod policies;
mod scheduled;
mod sessions;
mod sign_in;

pub use advisories::*;
pub use audit::*;
pub use conversations::*;
pub use desk::*;
pub use directory::*;
pub use health::*;
pub use incidents::*;
pub use jobs::*;
pub use keys::*;
pub use links::*;
pub use message_policies::*;
pub use policies::*;
pub use scheduled::*;
pub use sessions::*;
pub use sign_in::*;

/// Storage failures, in terms a service can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the string names which (e.g. `users.email`).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or is busy.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;
/// Declares `Store` as the sum of the aggregate traits, naming each once.
macro_rules! sum_of {
    ($first:ident $(, $rest:ident)* $(,)?) => {
        /// Everything a backend provides. Services hold an `Arc<dyn Store>`.
        pub trait Store: $first $(+ $rest)* {}
        impl<T: $first $(+ $rest)*> Store for T {}
    };
}

sum_of!(
    DirectoryStore,
    SessionStore,
    AuditStore,
    KeyStore,
    ConversationStore,
    DeskStore,
    AdvisoryStore,
    IncidentStore,
    SignInStore,
    JobStore,
    PolicyStore,
    MessagePolicyStore,
    ScheduledMessageStore,
    CredentialLinkStore,
    Health,
);

/// Decoding helpers the backends share, so both map stored text to domain values the same way.
pub mod decode {
    use super::Error;
    use domain::device::DeviceKind;
    use uuid::Uuid;

    pub fn uuid(s: &str) -> Result<Uuid, Error> {
        Uuid::parse_str(s).map_err(|e| Error::Other(format!("stored id {s:?} is not a UUID: {e}")))
    }
    pub fn roles(s: &str) -> Result<domain::Roles, Error> {
        domain::Roles::parse(s).ok_or_else(|| Error::Other(format!("stored roles {s:?} are unknown")))
    }
    pub fn action(s: &str) -> Result<domain::audit::Action, Error> {
        domain::audit::Action::parse(s)
            .ok_or_else(|| Error::Other(format!("stored audit action {s:?} is not in this build's catalogue")))
    }
    pub fn auth_method(s: &str) -> Result<domain::AuthMethod, Error> {
        domain::AuthMethod::parse(s).ok_or_else(|| Error::Other(format!("stored sign-in method {s:?} is unknown")))
    }
    pub fn device_kind(s: &str) -> Result<DeviceKind, Error> {
        DeviceKind::parse(s).ok_or_else(|| Error::Other(format!("stored device kind {s:?} is unknown")))
    }
    pub fn conversation_kind(s: &str) -> Result<domain::messaging::ConversationKind, Error> {
        domain::messaging::ConversationKind::parse(s)
            .ok_or_else(|| Error::Other(format!("stored conversation kind {s:?} is unknown")))
    }
    pub fn member_role(s: &str) -> Result<domain::messaging::MemberRole, Error> {
        domain::messaging::MemberRole::parse(s)
            .ok_or_else(|| Error::Other(format!("stored member role {s:?} is unknown")))
    }
    pub fn report_state(s: &str) -> Result<domain::desk::ReportState, Error> {
        domain::desk::ReportState::parse(s).ok_or_else(|| Error::Other(format!("stored report state {s:?} is unknown")))
    }
    pub fn desk_page(s: &str) -> Result<domain::desk::DeskPage, Error> {
        domain::desk::DeskPage::parse(s).ok_or_else(|| Error::Other(format!("stored page {s:?} is unknown")))
    }
    pub fn hash32(bytes: &[u8]) -> Result<[u8; 32], Error> {
        bytes.try_into().map_err(|_| Error::Other(format!("stored hash has {} bytes, expected 32", bytes.len())))
    }
}

//! Who is asking, and how they proved it.

use domain::audit::{Actor, Origin};
use domain::{AuthMethod, EnterpriseId, Millis, Role, Roles, SessionId, UserId};

/// How a session was authenticated: what elevation (A5) and re-authentication checks read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthContext {
    pub method: AuthMethod,
    /// When the person signed in.
    pub authenticated_at: Millis,
    /// Until when the session may use the admin consoles without authenticating again.
    pub elevated_until: Option<Millis>,
}

/// An authenticated user, as established from a session token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub enterprise_id: EnterpriseId,
    pub roles: Roles,
    pub session_id: SessionId,
    pub auth: AuthContext,
    /// What kind of client the session was opened from: message policies may allow only some.
    pub device: domain::device::DeviceKind,
    /// Where this request came from; the transport fills it in, so refusals are audited with it.
    pub origin: Origin,
}

impl Principal {
    /// The principal a session stands for. The origin is left empty: the transport sets each
    /// request's own.
    pub(crate) fn of_session(session: &store::SessionRow, roles: Roles) -> Principal {
        Principal {
            user_id: session.user_id,
            enterprise_id: session.enterprise_id,
            roles,
            session_id: session.id,
            auth: AuthContext {
                method: session.auth_method,
                authenticated_at: session.created_at,
                elevated_until: session.elevated_until,
            },
            device: session.device_kind,
            origin: Origin::default(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.has(role)
    }
}

/// Who is asking.
/// - `Operator`: the person at the server's shell running `conclave admin`; they already hold the
///   master key file, so they may act in any enterprise.
/// - `System`: Conclave itself doing automatic work (single-sign-on provisioning, jobs, expiry).
///   Never built from a request; the audit trail names it `system`, so nothing automatic is
///   credited to a person or to the operator.
/// - `User`: a signed-in person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Operator,
    System,
    User(Principal),
}

impl Caller {
    /// The person asking, when a person asks (not the operator or the system).
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Caller::User(p) => Some(p.user_id),
            Caller::Operator | Caller::System => None,
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Caller::Operator => Actor::Operator,
            Caller::System => Actor::System,
            Caller::User(p) => Actor::User { user_id: p.user_id },
        }
    }

    /// The operator, the system, and enterprise admins of `enterprise`.
    pub(crate) fn is_enterprise_admin_of(&self, enterprise: EnterpriseId) -> bool {
        match self {
            Caller::Operator | Caller::System => true,
            Caller::User(p) => p.enterprise_id == enterprise && p.has(Role::EnterpriseAdmin),
        }
    }

    /// The operator, the system, and any signed-in member of `enterprise`.
    pub(crate) fn is_member_of(&self, enterprise: EnterpriseId) -> bool {
        match self {
            Caller::Operator | Caller::System => true,
            Caller::User(p) => p.enterprise_id == enterprise,
        }
    }

    pub(crate) fn origin(&self) -> Origin {
        match self {
            Caller::User(p) => p.origin.clone(),
            Caller::Operator | Caller::System => Origin::default(),
        }
    }

    pub(crate) fn enterprise(&self) -> Option<EnterpriseId> {
        match self {
            Caller::User(p) => Some(p.enterprise_id),
            Caller::Operator | Caller::System => None,
        }
    }
}

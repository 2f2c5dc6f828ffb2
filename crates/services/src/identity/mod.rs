//! Who people are and how they prove it: the directory of enterprises, users and teams,
//! credentials (password policy, one-time codes), sessions (sign-in, devices) and single sign-on.
//!
//! Built in this order, each from the ones before it: [`Credentials`] → [`Directory`] →
//! [`Sessions`] → [`Sso`] and [`CredentialLinks`]. Single sign-on provisions accounts through the directory and opens
//! sessions; nothing below it knows single sign-on exists.

pub mod credentials;
pub mod directory;
pub mod guard;
pub mod links;
pub mod sessions;
pub mod sso;

pub use credentials::Credentials;
pub use directory::Directory;
pub use links::CredentialLinks;
pub use sessions::Sessions;
pub use sso::Sso;

use crate::Principal;
use domain::audit::Origin;
use domain::Millis;

/// The principal of a person who has proved nothing yet in this request (at sign-in, before a
/// session exists): what the audit names as the actor of their own steps.
pub(crate) fn principal_of(user: &store::UserRow) -> Principal {
    Principal {
        user_id: user.id,
        enterprise_id: user.enterprise_id,
        roles: user.roles,
        session_id: Default::default(),
        auth: crate::AuthContext {
            method: domain::AuthMethod::Password,
            authenticated_at: Millis::now(),
            elevated_until: None,
        },
        device: domain::device::DeviceKind::Api,
        origin: Origin::default(),
    }
}

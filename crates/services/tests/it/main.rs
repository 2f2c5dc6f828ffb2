//! Service-layer tests on a real SQLite store: authorization boundaries, sign-in rules,
//! encryption at the boundary, key rotation.

mod authorization;
mod core;
mod desk;
mod desk_triage;
mod devices;
mod disclosure;
mod identity;
mod incidents;
mod keys;
mod message_control;
mod messaging;
mod modules;
mod schemas;
mod sign_in;
mod smtp;

use domain::audit::Origin;
use domain::{EnterpriseId, Role};
use services::directory::NewUser;
use services::{Caller, KeyringSource, Principal, Services, Settings};
use std::sync::Arc;

pub use test_support::settings;

pub struct World {
    pub services: Arc<Services>,
    pub bus: Arc<dyn bus::Bus>,
    pub store: Arc<dyn store::Store>,
    pub dir: tempfile::TempDir,
}

pub fn origin() -> Origin {
    Origin { ip: Some("192.0.2.7".into()), user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into()) }
}

pub async fn world() -> World {
    world_with(settings(), |s| s).await
}

/// A world with other settings, and a last step on the services (e.g. a mailer) before sharing.
pub async fn world_with(settings: Settings, finish: impl FnOnce(Services) -> Services) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn store::Store> = Arc::new(store_sqlite::open(&dir.path().join("c.db")).await.unwrap());
    let key_file = dir.path().join("master.key");
    crypto::MasterKeyring::generate().save(&key_file).unwrap();
    let bus = bus();
    let services = Services::build(store.clone(), bus.clone(), KeyringSource::File(key_file), settings).await.unwrap();
    World { services: Arc::new(finish(services)), bus, store, dir }
}

pub const PASSWORD: &str = "correct horse battery";

impl World {
    pub async fn enterprise(&self, name: &str) -> EnterpriseId {
        self.services.directory.create_enterprise(&Caller::Operator, &origin(), name).await.unwrap().id
    }

    pub async fn user(&self, enterprise: EnterpriseId, email: &str, role: Role) -> services::directory::UserView {
        let new = NewUser {
            email: email.into(),
            name: format!("Name of {email}"),
            roles: role.into(),
            via: None,
            password: Some(PASSWORD.into()),
        };
        self.services.directory.create_user(&Caller::Operator, &origin(), enterprise, new).await.unwrap()
    }

    /// Signs `email` in and returns the caller it becomes.
    pub async fn caller(&self, email: &str) -> Caller {
        Caller::User(self.principal(email).await)
    }

    pub async fn principal(&self, email: &str) -> Principal {
        self.services.sessions.sign_in(&origin(), email, PASSWORD).await.unwrap().principal
    }
}

/// The single-node bus; the NATS bus is tested in the `bus` crate and across nodes by the binary.
pub fn bus() -> Arc<dyn bus::Bus> {
    Arc::new(bus::InProcessBus::default())
}

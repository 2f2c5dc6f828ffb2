//! The shared core every domain builds on: who is asking ([`caller`]), what they may do
//! ([`authz`], which audits every refusal), keys ([`keys`]), live events ([`events`]), sealed
//! files ([`blobs`]), password hashing ([`passwords`]), policy documents ([`policies`]) and
//! durable jobs ([`jobs`]). Nothing here
//! depends on a domain module; domains depend on it and reach it through their `core` field.

pub(crate) mod authz;
pub mod blobs;
pub mod caller;
pub mod events;
pub mod jobs;
pub mod keys;
pub(crate) mod passwords;
pub(crate) mod policies;

use crate::mail::Mailer;
use crate::{Caller, Settings};
use domain::audit::{Action, AuditDraft, Origin};
use domain::{EnterpriseId, TeamId};
use std::sync::{Arc, OnceLock};

/// What every sub-service shares. The store handles here are the core's own (audit for
/// refusals, jobs for the runner); each domain holds the narrow store traits it needs itself.
pub struct Core {
    pub(crate) settings: Settings,
    pub(crate) keys: keys::Keys,
    pub(crate) blobs: blobs::Blobs,
    /// This process's name in job leases (unique per process).
    pub(crate) node_id: String,
    bus: Arc<dyn bus::Bus>,
    audit_store: Arc<dyn store::AuditStore>,
    job_store: Arc<dyn store::JobStore>,
    pub(crate) session_store: Arc<dyn store::SessionStore>,
    policy_store: Arc<dyn store::PolicyStore>,
    /// Each enterprise's session policy as this node last read it (see [`Core::session_policy`]).
    session_policies: std::sync::Mutex<
        std::collections::HashMap<EnterpriseId, (std::time::Instant, domain::session_policy::SessionPolicy)>,
    >,
    /// Verified against when an email is unknown, so that costs as much as a wrong password.
    decoy_hash: Arc<tokio::sync::OnceCell<String>>,
    /// Turns for password hashing, one per core (see [`passwords`]).
    hashing: Arc<tokio::sync::Semaphore>,
    /// Where notices to finders go; unset: no mail is sent (and none is promised).
    mailer: OnceLock<Arc<dyn Mailer>>,
}

impl Core {
    pub(crate) async fn build(
        store: Arc<dyn store::Store>,
        bus: Arc<dyn bus::Bus>,
        keyring: keys::KeyringSource,
        settings: Settings,
    ) -> crate::Result<Core> {
        let keys = keys::Keys::load(store.clone(), keyring, settings.plaintext_at_rest_for_benchmark).await?;
        let blobs = blobs::Blobs::new(settings.files_dir.clone(), Arc::new(blobs::NoHolds));
        let decoy_hash = passwords::start_decoy(settings.password_cost);
        Ok(Core {
            keys,
            blobs,
            node_id: format!("node-{}", uuid::Uuid::new_v4().simple()),
            bus,
            audit_store: store.clone(),
            session_store: store.clone(),
            policy_store: store.clone(),
            session_policies: Default::default(),
            job_store: store,
            decoy_hash,
            hashing: passwords::hashing_permits(),
            mailer: OnceLock::new(),
            settings,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Sets the mailer once, before the services take requests; a second call is ignored.
    pub(crate) fn set_mailer(&self, mailer: Arc<dyn Mailer>) {
        let _ = self.mailer.set(mailer);
    }

    pub(crate) fn mailer(&self) -> Option<&Arc<dyn Mailer>> {
        self.mailer.get()
    }
}

/// A successful event by `caller`, from the catalogue's `action`.
pub(crate) fn draft(
    caller: &Caller,
    origin: &Origin,
    enterprise: Option<EnterpriseId>,
    action: Action,
    target: Option<String>,
) -> AuditDraft {
    AuditDraft { enterprise_id: enterprise, target, ..AuditDraft::new(action, caller.actor(), origin.clone()) }
}

/// The same, for an action inside one team.
pub(crate) fn team_draft(
    caller: &Caller,
    origin: &Origin,
    enterprise: EnterpriseId,
    team: TeamId,
    action: Action,
    target: Option<String>,
) -> AuditDraft {
    AuditDraft { team_id: Some(team), ..draft(caller, origin, Some(enterprise), action, target) }
}

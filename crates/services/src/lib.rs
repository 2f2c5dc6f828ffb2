//! Conclave's business rules (API boundary for `http` and the binary).
//!
//! Architecture invariants:
//! - This crate is the only caller of the store. Every public method takes the [`Caller`] and
//!   checks authorization itself, tenant by tenant, before touching data: a handler that forgets
//!   a check cannot open a hole, because there is no other way in.
//! - Plaintext personal data exists only here and above: it is sealed before it reaches the store
//!   and opened after it leaves it.
//! - Every security-relevant change is written with its audit event in one store transaction.

//! - Sub-services are built in dependency order in [`Services::build`], each from the shared
//!   [`core::Core`], the narrow store traits it needs and the siblings built before it, so a
//!   dependency cycle between domains cannot compile.

pub mod compliance;
pub mod core;
pub mod desk;
pub mod identity;
pub mod mail;
pub mod messaging;
pub mod protocol;

pub use compliance::audit;
pub use identity::sso::SsoMethod;
pub use identity::{credentials, directory, guard, links, sessions, sso};
pub use messaging::attachments;

use domain::{EnterpriseId, FieldError};
use std::sync::Arc;
use std::time::Duration;

pub use crate::core::caller::{AuthContext, Caller, Principal};
pub(crate) use crate::core::{draft, team_draft};
pub use crate::core::{jobs, keys};
pub use keys::KeyringSource;

/// Errors in product terms. `http` maps each variant to one problem type; the binary to a sentence.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(FieldError),
    /// The thing does not exist *for this caller*: also used where revealing existence would leak.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("sign-in required")]
    Unauthenticated,
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("{0}")]
    Conflict(FieldError),
    /// A report state change the state machine does not allow from the current state.
    #[error("a report cannot move from {from} to {to}")]
    Transition { from: &'static str, to: &'static str, allowed: Vec<&'static str> },
    /// The upload is over the configured size limit; nothing was kept.
    #[error("{0}")]
    TooLarge(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// Too many failed sign-ins: the account is locked for this many more seconds.
    #[error("the account is locked for {0} seconds after too many failed sign-ins")]
    Locked(u64),
    /// The password is older than the enterprise allows: change it (with the old one) to go on.
    #[error("the password has expired; choose a new one")]
    PasswordExpired,
    /// The password was right; a one-time code is needed too.
    #[error("enter the one-time code from your authenticator app")]
    SecondFactorRequired,
    /// The enterprise requires one-time codes and this account has none yet.
    #[error("your organisation requires a one-time code; set up an authenticator app first")]
    SecondFactorEnrolmentRequired,
    /// A new password broke these rules of the enterprise's policy.
    #[error("the password does not meet the policy: {}", .0.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; "))]
    PasswordPolicy(Vec<domain::password_policy::PolicyFailure>),
    /// The enterprise signs in through its identity provider only.
    #[error("your organisation signs in through single sign-on")]
    SsoOnly,
    /// Single sign-on failed; the message says why (for the person and the audit log).
    #[error("single sign-on failed: {0}")]
    SsoFailed(String),
    /// It existed but works no more (a used or expired single-use link).
    #[error("{0}")]
    Gone(&'static str),
    /// The message (or the one it was copied from) was recalled: it is gone for good.
    #[error("the message was recalled")]
    Recalled,
    /// The session was ended by an admin and its device must erase what it holds of Conclave.
    #[error("this device was signed out by an administrator; erase what it holds and sign in again")]
    WipeRequired,
    /// The message's policy forbids this (forward, download, reading here or now); says why.
    #[error("{0}")]
    PolicyRefused(String),
    /// An admin action on a session whose elevation lapsed: authenticate again (A5).
    #[error("authenticate again to use the admin console")]
    ReauthenticationRequired,
    /// The session is locked behind the person's PIN, or they must set one first (A6).
    #[error("enter your PIN to go on")]
    PinRequired { pin_set: bool },
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<store::Error> for Error {
    fn from(e: store::Error) -> Error {
        match e {
            store::Error::NotFound => Error::NotFound("record"),
            store::Error::Conflict(what) => Error::Internal(format!("unexpected conflict: {what}")),
            store::Error::Unavailable(why) => Error::Unavailable(why),
            store::Error::Other(why) => Error::Internal(why),
        }
    }
}

impl From<crypto::Error> for Error {
    fn from(e: crypto::Error) -> Error {
        Error::Internal(e.to_string())
    }
}

/// Tunables with safe defaults; the binary fills them from its configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub password_cost: crypto::password::Cost,
    /// A session ends this long after sign-in, whatever its activity.
    pub session_lifetime: Duration,
    /// `last_seen` is written at most this often per session, so reads stay reads.
    pub touch_interval: Duration,
    /// Where attachments are stored (sealed, in chunks); `None` refuses uploads.
    pub files_dir: Option<std::path::PathBuf>,
    /// Largest attachment accepted, in bytes.
    pub max_attachment_bytes: u64,
    /// Longest message body, in bytes of UTF-8.
    pub max_message_bytes: usize,
    /// Benchmarks only: enterprise data is stored unencrypted (marked so that a normal process
    /// refuses to read it, and this one refuses real ciphertext). It exists so the load driver
    /// can measure what encryption at rest costs; the binary turns it on only from an
    /// environment variable named for that purpose, and warns at every start.
    pub plaintext_at_rest_for_benchmark: bool,
    /// Accept `http://` identity-provider addresses on this machine (127.0.0.1, localhost, ::1):
    /// for a provider running beside Conclave, and for tests. Anything else must be https.
    pub allow_http_loopback_sso: bool,
    /// Where people and finders reach this server, e.g. `https://chat.example.org`, without a
    /// trailing slash. The signed security.txt, links in mails, the OpenID Connect redirect and
    /// the SAML service provider's addresses all name it, never a host a request chose.
    pub public_url: String,
    pub desk: DeskSettings,
    pub jobs: jobs::JobSettings,
}

/// The security desk's settings (D1–D7).
#[derive(Clone, Debug, Default)]
pub struct DeskSettings {
    /// The enterprise whose security team runs the public desk; `None`: the first enterprise.
    pub enterprise: Option<EnterpriseId>,
    /// An email address for security.txt's Contact, besides the report form.
    pub contact_email: Option<String>,
    /// security.txt Canonical URLs; empty: the public URL's own security.txt.
    pub canonical_urls: Vec<String>,
    /// security.txt Preferred-Languages, e.g. "en, de".
    pub preferred_languages: String,
    /// Keep a sealed copy of each finder's IP address (off unless the team turns it on).
    pub store_finder_ip: bool,
    /// Days after a report closes before the finder's personal data is purged.
    pub retention_days: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            password_cost: crypto::password::Cost::default(),
            session_lifetime: Duration::from_secs(12 * 3600),
            touch_interval: Duration::from_secs(60),
            files_dir: None,
            max_attachment_bytes: 100 * 1024 * 1024,
            max_message_bytes: domain::messaging::MAX_BODY_BYTES,
            plaintext_at_rest_for_benchmark: false,
            allow_http_loopback_sso: false,
            public_url: "https://127.0.0.1:8443".to_owned(),
            desk: DeskSettings { preferred_languages: "en".to_owned(), retention_days: 180, ..DeskSettings::default() },
            jobs: jobs::JobSettings::default(),
        }
    }
}

/// All services, built once at start-up and shared behind an `Arc`. Handlers reach each domain
/// through its field: `services.messaging.send_message(..)`.
pub struct Services {
    pub core: Arc<core::Core>,
    pub credentials: Arc<identity::Credentials>,
    pub directory: Arc<identity::Directory>,
    pub sessions: Arc<identity::Sessions>,
    pub sso: Arc<identity::Sso>,
    pub links: Arc<identity::CredentialLinks>,
    pub message_policies: Arc<messaging::MessagePolicies>,
    pub messaging: Arc<messaging::Messaging>,
    pub attachments: Arc<messaging::Attachments>,
    pub desk: Arc<desk::Desk>,
    pub compliance: Arc<compliance::Compliance>,
    health: Arc<dyn store::Health>,
}

impl Services {
    /// Loads the keyring, makes sure the blind-index key exists, and builds every sub-service in
    /// dependency order: core, then identity (credentials, directory, sessions, single sign-on),
    /// messaging, the desk and compliance.
    pub async fn build(
        store: Arc<dyn store::Store>,
        bus: Arc<dyn bus::Bus>,
        keyring: KeyringSource,
        settings: Settings,
    ) -> Result<Services> {
        let core = Arc::new(core::Core::build(store.clone(), bus, keyring, settings).await?);
        let credentials = Arc::new(identity::Credentials::new(core.clone(), &store));
        let directory = Arc::new(identity::Directory::new(core.clone(), &store, credentials.clone()));
        let sessions = Arc::new(identity::Sessions::new(core.clone(), &store, credentials.clone()));
        let sso = Arc::new(identity::Sso::new(core.clone(), &store, directory.clone(), sessions.clone())?);
        let links = Arc::new(identity::CredentialLinks::new(
            core.clone(),
            &store,
            credentials.clone(),
            directory.clone(),
            sessions.clone(),
        ));
        let message_policies = Arc::new(messaging::MessagePolicies::new(core.clone(), &store));
        let messaging = Arc::new(messaging::Messaging::new(core.clone(), &store, message_policies.clone()));
        let attachments = Arc::new(messaging::Attachments::new(core.clone(), &store, messaging.clone()));
        let desk = Arc::new(desk::Desk::new(core.clone(), &store));
        let compliance = Arc::new(compliance::Compliance::new(core.clone(), &store));
        Ok(Services {
            core,
            credentials,
            directory,
            sessions,
            sso,
            links,
            message_policies,
            messaging,
            attachments,
            desk,
            compliance,
            health: store,
        })
    }

    /// Sends finder notices through `mailer` (set once, before the services are shared).
    pub fn with_mailer(self, mailer: Arc<dyn mail::Mailer>) -> Services {
        self.core.set_mailer(mailer);
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.core.settings
    }

    /// This node's name in job leases.
    pub fn node_id(&self) -> &str {
        self.core.node_id()
    }

    /// Schedules the periodic jobs not yet scheduled (see [`core::Core::ensure_periodic_jobs`]).
    pub async fn ensure_periodic_jobs(&self) -> Result<()> {
        self.core.ensure_periodic_jobs().await
    }

    /// Claims the jobs due now and runs them; returns how many ran.
    pub async fn run_due_jobs(&self) -> Result<usize> {
        self.core.run_due_jobs(self).await
    }

    /// Readiness: the database answers and every migration this build knows is applied.
    pub async fn readiness(&self) -> Result<Readiness> {
        self.health.ping().await?;
        let applied = self.health.applied_migrations().await?;
        let known = self.health.known_migrations();
        let pending: Vec<i64> = known.iter().copied().filter(|v| !applied.contains(v)).collect();
        Ok(Readiness { backend: self.health.backend(), applied: applied.len(), pending })
    }
}

/// Runs this node's share of the cluster's jobs until the process ends: schedules the periodic
/// ones, then looks for due jobs every `poll`.
pub async fn run_jobs_forever(services: Arc<Services>) {
    let mut tick = tokio::time::interval(services.settings().jobs.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ensured = false;
    loop {
        tick.tick().await;
        if !ensured {
            match services.ensure_periodic_jobs().await {
                Ok(()) => ensured = true,
                Err(e) => tracing::warn!(error = %e, "could not schedule the periodic jobs; will try again"),
            }
        }
        match services.run_due_jobs().await {
            Ok(_) => {}
            Err(Error::Unavailable(why)) => tracing::warn!(%why, "the database is unavailable; jobs wait"),
            Err(e) => tracing::warn!(error = %e, "looking for due jobs failed"),
        }
    }
}

/// The one place that knows which domain runs which job.
#[async_trait::async_trait]
impl jobs::RunJob for Services {
    async fn run_job(&self, kind: jobs::JobKind, row: &store::JobRow) -> Result<()> {
        match kind {
            jobs::JobKind::PurgeClosedReports => {
                let n = self.desk.purge_closed_reports().await?;
                if n > 0 {
                    tracing::info!(reports = n, "purged finder contact data of closed reports");
                }
            }
            jobs::JobKind::SweepPartialFiles => {
                let n = self.core.blobs.sweep_partials().await?;
                if n > 0 {
                    tracing::info!(files = n, "removed partial uploads left by an earlier crash");
                }
            }
            jobs::JobKind::ExpireMessage => self.messaging.expire(&messaging::control::MessageJob::parse(row)?).await?,
            jobs::JobKind::MessageWindow => {
                self.messaging.window_changed(&messaging::control::MessageJob::parse(row)?).await?
            }
            jobs::JobKind::ShredFiles => {
                self.messaging.shred_files(&messaging::control::MessageJob::parse(row)?).await?
            }
            jobs::JobKind::DeliverMessage => {
                self.messaging.deliver_scheduled(&messaging::control::MessageJob::parse(row)?).await?
            }
            jobs::JobKind::RemindDeskClocks => {
                let n = self.desk.remind_clocks(domain::Millis::now()).await?;
                if n > 0 {
                    tracing::info!(reminders = n, "sent reminders for report clocks");
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    pub backend: &'static str,
    pub applied: usize,
    pub pending: Vec<i64>,
}

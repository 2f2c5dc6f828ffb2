//! Outgoing mail (D5): notices to finders who verified their address. The [`Mailer`] trait keeps
//! the services testable against any SMTP server; [`SmtpMailer`] talks to the configured relay.
//! Mail is sent off the request path; a failure is logged without the recipient's address.

use async_trait::async_trait;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

/// One plain-text mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: Mail) -> Result<(), String>;
}

/// How to reach the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP: only for a relay on the same host or a trusted network.
    None,
    /// STARTTLS upgrade (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, e.g. "Security Team <security@example.org>".
    pub from: String,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(settings: &SmtpSettings) -> Result<SmtpMailer, String> {
        let from: Mailbox =
            settings.from.parse().map_err(|e| format!("smtp.from {:?} is not a mail address: {e}", settings.from))?;
        let builder = match settings.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                .map_err(|e| format!("smtp.host {:?}: {e}", settings.host))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .map_err(|e| format!("smtp.host {:?}: {e}", settings.host))?,
        };
        let mut builder = builder.port(settings.port).timeout(Some(std::time::Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(SmtpMailer { transport: builder.build(), from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), String> {
        let to: Mailbox = mail.to.parse().map_err(|e| format!("recipient is not a mail address: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| smtp_failure(&e))
    }
}

/// What went wrong, without the relay's own words: those often repeat the recipient's address,
/// which is a finder's personal data and must not reach the logs.
fn smtp_failure(e: &lettre::transport::smtp::Error) -> String {
    let what = if e.is_permanent() {
        "refused the mail"
    } else if e.is_transient() {
        "refused the mail for now"
    } else if e.is_timeout() {
        "did not answer in time"
    } else if e.is_tls() {
        "failed the TLS handshake"
    } else {
        "could not be reached or broke the protocol"
    };
    match e.status() {
        Some(code) => format!("the mail relay {what} (SMTP {code})"),
        None => format!("the mail relay {what}"),
    }
}

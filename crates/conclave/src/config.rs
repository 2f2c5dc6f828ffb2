//! Configuration, resolved once at start-up: defaults < config file < `CONCLAVE_*` environment <
//! command-line flags. Clap reads flags and the environment (a flag wins over its variable);
//! the file fills what neither gave; defaults fill the rest. Nothing reads configuration later.

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The config file's shape. Every key is optional; unknown keys are refused so typos surface.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub log_format: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub nats_url: Option<String>,
    pub session_lifetime_hours: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub max_attachment_bytes: Option<u64>,
    pub max_message_bytes: Option<usize>,
    pub sign_in_per_minute: Option<u32>,
    pub header_timeout_seconds: Option<u64>,
    pub body_timeout_seconds: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub trusted_proxies: Option<Vec<String>>,
    /// Networks whose clients may read `/metrics` (default: this machine).
    pub metrics_networks: Option<Vec<String>>,
    pub public_url: Option<String>,
    pub sso: Option<SsoFileConfig>,
    pub security_desk: Option<DeskFileConfig>,
    pub smtp: Option<SmtpFileConfig>,
}

/// `[sso]`: single sign-on settings that belong to the operator, not to enterprise admins.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SsoFileConfig {
    pub allow_http_loopback: Option<bool>,
}

/// `[smtp]`: the relay that carries notices to finders.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpFileConfig {
    pub host: String,
    pub port: Option<u16>,
    /// "starttls" (default), "tls" or "none".
    pub security: Option<String>,
    pub username: Option<String>,
    /// Better given as CONCLAVE_SMTP_PASSWORD than written in the file.
    pub password: Option<String>,
    pub from: String,
}

/// `[security_desk]`: the public security pages and report intake.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeskFileConfig {
    pub enterprise: Option<String>,
    /// Older spelling of the top-level `public_url`, still read (and so not in the sample).
    #[serde(skip_serializing)]
    pub public_url: Option<String>,
    pub contact_email: Option<String>,
    #[serde(default)]
    pub canonical_urls: Vec<String>,
    pub preferred_languages: Option<String>,
    pub store_finder_ip: Option<bool>,
    pub retention_days: Option<u32>,
    pub reports_per_minute: Option<u32>,
}

/// Values given by flags or environment (clap merges those two).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub nats_url: Option<String>,
    pub plaintext_at_rest_for_benchmark: bool,
    /// `--sso-allow-http-loopback`; `None`: not given, the file decides.
    pub sso_allow_http_loopback: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    /// The `--config` file this configuration was read from, if any.
    pub config_file: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `None` means the embedded SQLite database in the data directory.
    pub database_url: Option<String>,
    pub log_format: LogFormat,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `None`: one node, events stay in the process.
    pub nats_url: Option<String>,
    pub session_lifetime_hours: u64,
    pub max_body_bytes: usize,
    /// Largest attachment, in bytes.
    pub max_attachment_bytes: u64,
    /// Longest message body, in bytes.
    pub max_message_bytes: usize,
    pub sign_in_per_minute: u32,
    /// How long a client has to send a request's head, counted from when the connection is
    /// ready for the next request (so also how long an idle kept-alive connection stays open).
    pub header_timeout: std::time::Duration,
    /// The longest wait between two pieces of a request body.
    pub body_timeout: std::time::Duration,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// Benchmarks only (never from the config file): see `services::Settings`.
    pub plaintext_at_rest_for_benchmark: bool,
    /// Where people and finders reach this server (see `services::Settings::public_url`).
    pub public_url: String,
    pub desk: services::DeskSettings,
    pub smtp: Option<services::mail::SmtpSettings>,
    /// Reports and receipt look-ups per client IP per minute.
    pub desk_requests_per_minute: u32,
    /// Reverse proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: http_api::proxy::TrustedProxies,
    /// Who may read `/metrics`: these networks, or a scraper with `metrics_token`.
    pub metrics_networks: http_api::proxy::TrustedProxies,
    /// From CONCLAVE_METRICS_TOKEN only (a secret does not belong in the file).
    pub metrics_token: Option<String>,
    /// Plain-http identity providers on this machine are accepted (see `services::Settings`).
    pub sso_allow_http_loopback: bool,
    /// `public_url` was not configured and stands in from the listen address.
    pub public_url_derived: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("log_format", &self.log_format)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_DATA_DIR: &str = "data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

impl Config {
    pub fn resolve(over: &Overrides) -> anyhow::Result<Config> {
        let file = match &over.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("the config file {} is not valid", path.display()))?
            }
            None => FileConfig::default(),
        };
        Config::resolve_with(over, file)
    }

    /// [`Config::resolve`] with the file already read: every check a configuration goes through
    /// except reading it (the fuzz target for configuration files starts here).
    pub fn resolve_with(over: &Overrides, file: FileConfig) -> anyhow::Result<Config> {
        let listen_text = over.listen.clone().or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().with_context(|| {
            format!("the listen address {listen_text:?} is not an IP address and port such as 127.0.0.1:8443")
        })?;
        let log_format = match over.log_format {
            Some(f) => f,
            None => match file.log_format.as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    bail!("log_format {other:?} in the config file must be \"text\" or \"json\"")
                }
            },
        };
        let database_url = over.database_url.clone().or(file.database_url).filter(|u| !u.is_empty());
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("the database URL {} is not supported: use postgres://user@host:port/db, or leave it unset for the embedded SQLite database", redact_url(url));
            }
        }
        let nats_url = over.nats_url.clone().or(file.nats_url).filter(|u| !u.is_empty());
        if let Some(url) = &nats_url {
            if !(url.starts_with("nats://") || url.starts_with("tls://")) {
                bail!("the NATS URL {url:?} must start with nats:// (or tls://)");
            }
        }
        let tls_cert = over.tls_cert.clone().or(file.tls_cert);
        let tls_key = over.tls_key.clone().or(file.tls_key);
        if tls_cert.is_some() != tls_key.is_some() {
            bail!("give both --tls-cert and --tls-key, or neither (a self-signed certificate is made in the data directory)");
        }
        let session_lifetime_hours = file.session_lifetime_hours.unwrap_or(12);
        if !(1..=24 * 90).contains(&session_lifetime_hours) {
            bail!("session_lifetime_hours must be between 1 and 2160");
        }
        let max_body_bytes = file.max_body_bytes.unwrap_or(256 * 1024);
        if !(1024..=16 * 1024 * 1024).contains(&max_body_bytes) {
            bail!("max_body_bytes must be between 1024 and 16777216");
        }
        let max_message_bytes = file.max_message_bytes.unwrap_or(domain::messaging::MAX_BODY_BYTES);
        if !(1..=1024 * 1024).contains(&max_message_bytes) {
            bail!("max_message_bytes must be between 1 and 1048576");
        }
        // JSON escaping can double a body's size, and the request needs room around it.
        if max_message_bytes * 2 + 4096 > max_body_bytes {
            bail!(
                "max_body_bytes ({max_body_bytes}) must be at least twice max_message_bytes ({max_message_bytes}) plus 4096, \
                 so that the longest message still fits in a request"
            );
        }
        let desk_file = file.security_desk.clone().unwrap_or_default();
        let desk = desk_settings(&desk_file)?;
        // security.txt is signed with the organisation's key, mails carry links and identity
        // providers send browsers back: all must name this server, never whatever Host header a
        // request sent. Without a configured public URL, the listen address stands in (the
        // machine's name when listening on all).
        let configured_url = match (&file.public_url, &desk_file.public_url) {
            (Some(url), _) => Some(checked_public_url("public_url", url)?),
            (None, Some(url)) => Some(checked_public_url("security_desk.public_url", url)?),
            (None, None) => None,
        };
        let public_url_derived = configured_url.is_none();
        let public_url = configured_url.unwrap_or_else(|| public_url_from_listen(listen, &machine_name()));
        let smtp = match &file.smtp {
            None => None,
            Some(smtp) => Some(smtp_settings(smtp, std::env::var("CONCLAVE_SMTP_PASSWORD").ok())?),
        };
        let trusted_proxies =
            http_api::proxy::TrustedProxies::parse(file.trusted_proxies.as_deref().unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
        let metrics_networks = http_api::proxy::TrustedProxies::parse(
            file.metrics_networks.as_deref().unwrap_or(&["127.0.0.0/8".to_owned(), "::1".to_owned()]),
        )
        .map_err(|e| anyhow::anyhow!("metrics_networks: {e}"))?;
        let metrics_token = std::env::var("CONCLAVE_METRICS_TOKEN").ok().filter(|t| !t.trim().is_empty());
        let sso_allow_http_loopback =
            over.sso_allow_http_loopback.or(file.sso.as_ref().and_then(|s| s.allow_http_loopback)).unwrap_or(false);
        Ok(Config {
            config_file: over.config.clone(),
            public_url,
            public_url_derived,
            trusted_proxies,
            metrics_networks,
            metrics_token,
            sso_allow_http_loopback,
            desk,
            smtp,
            desk_requests_per_minute: desk_file.reports_per_minute.unwrap_or(10).max(1),
            data_dir: over.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen,
            database_url,
            log_format,
            tls_cert,
            tls_key,
            nats_url,
            session_lifetime_hours,
            max_body_bytes,
            sign_in_per_minute: file.sign_in_per_minute.unwrap_or(10).max(1),
            header_timeout: std::time::Duration::from_secs(file.header_timeout_seconds.unwrap_or(20).clamp(1, 600)),
            body_timeout: std::time::Duration::from_secs(file.body_timeout_seconds.unwrap_or(30).clamp(1, 600)),
            max_connections: file.max_connections.unwrap_or(4096).max(1),
            max_connections_per_address: file.max_connections_per_address.unwrap_or(64).max(1),
            max_attachment_bytes: file.max_attachment_bytes.unwrap_or(100 * 1024 * 1024).max(1),
            max_message_bytes,
            plaintext_at_rest_for_benchmark: over.plaintext_at_rest_for_benchmark,
        })
    }

    pub fn key_file(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }

    pub fn sqlite_file(&self) -> PathBuf {
        self.data_dir.join("conclave.db")
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.data_dir.join("tls")
    }
}

/// A database URL with any password replaced by `***`, safe to print and log.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// The sample configuration printed by `conclave default-config`.
pub const SAMPLE: &str = r#"# Conclave configuration. Every key is optional; shown values are the defaults.
# Precedence: defaults < this file < CONCLAVE_* environment variables < command-line flags.

# Where Conclave keeps its SQLite database, master key file and TLS certificate.
data_dir = "data"

# Address and port to serve HTTPS on. (CONCLAVE_LISTEN, --listen)
listen = "127.0.0.1:8443"

# PostgreSQL instead of the embedded SQLite database, e.g. "postgres://conclave@db:5432/conclave".
# (CONCLAVE_DATABASE_URL, --database-url)
# database_url = ""

# "text" for people, "json" for log collectors. (CONCLAVE_LOG_FORMAT, --log-format)
log_format = "text"

# Your own certificate and key in PEM; without them a self-signed pair is made in data_dir/tls.
# tls_cert = "/etc/conclave/cert.pem"
# tls_key = "/etc/conclave/key.pem"

# NATS server that carries live events between several nodes; unset for a single node.
# (CONCLAVE_NATS_URL, --nats-url)
# nats_url = "nats://127.0.0.1:4222"

# How long a sign-in lasts, in hours (1 to 2160).
session_lifetime_hours = 12

# Largest JSON request body, in bytes (a message body may be 64 KiB before JSON escaping).
max_body_bytes = 262144

# Largest attachment, in bytes (files are kept sealed in data_dir/files).
max_attachment_bytes = 104857600

# Longest message body, in bytes of UTF-8 (max_body_bytes must be at least twice this plus 4096).
max_message_bytes = 65536

# Sign-in attempts allowed per client IP address per minute.
sign_in_per_minute = 10

# Seconds a client has to send a request's head once the connection is ready for one; an idle
# kept-alive connection closes after this too. The TLS handshake has 10 seconds.
header_timeout_seconds = 20

# Longest wait, in seconds, between two pieces of a request body (an upload may take longer in
# total as long as it keeps moving).
body_timeout_seconds = 30

# Connections open at once, in total and from one address (before the TLS handshake; a
# WebSocket counts while it is open). The trusted proxies below are held to the total only.
max_connections = 4096
max_connections_per_address = 64

# Reverse proxies (addresses or networks) whose X-Forwarded-For header names the client. Rate
# limits, audit events and device records then use the client's address. Empty: the header is
# ignored, since any client can send it.
trusted_proxies = []
# trusted_proxies = ["10.0.0.0/8", "fd00::/8"]

# Who may read /metrics: clients in these networks (after trusted_proxies), or a scraper sending
# "Authorization: Bearer <token>" with the token from CONCLAVE_METRICS_TOKEN. Anyone else gets 403.
metrics_networks = ["127.0.0.0/8", "::1"]

# Where people and finders reach this server. security.txt (signed), links in mails, the OpenID
# Connect redirect and the SAML addresses use it, never the Host header of a request. Unset:
# https:// and the listen address (the machine's name when listening on all addresses); set it
# for any real deployment.
# public_url = "https://chat.example.org"

[sso]
# Accept http:// identity-provider addresses on this machine (127.0.0.1, localhost, [::1]), for a
# provider running beside Conclave. Every other provider address must be https://.
# (CONCLAVE_SSO_ALLOW_HTTP_LOOPBACK, --sso-allow-http-loopback)
allow_http_loopback = false

# The public security pages (/security, /.well-known/security.txt) and report intake.
[security_desk]
# The enterprise whose security role runs the desk; unset: the first enterprise created.
# enterprise = "0190..."
# An address for security.txt besides the report form.
# contact_email = "security@example.org"
# security.txt Canonical lines; unset: public_url's own security.txt.
# canonical_urls = ["https://chat.example.org/.well-known/security.txt"]
preferred_languages = "en"
# Keep a sealed copy of each finder's IP address with their report (off: finders stay untraced).
store_finder_ip = false
# Days after a report closes before the finder's name, email and address are deleted.
retention_days = 180
# Reports and receipt-code look-ups allowed per client IP address per minute.
reports_per_minute = 10

# The mail relay for notices to finders (only to addresses they confirmed). Unset: no mail.
# [smtp]
# host = "smtp.example.org"
# port = 587
# security = "starttls"          # or "tls" (port 465) or "none" (a relay on this host only)
# username = "conclave"
# password = "..."              # better given as CONCLAVE_SMTP_PASSWORD than written here
# from = "Security Team <security@example.org>"
"#;

fn smtp_settings(file: &SmtpFileConfig, env_password: Option<String>) -> anyhow::Result<services::mail::SmtpSettings> {
    use services::mail::SmtpSecurity;
    let security = match file.security.as_deref().unwrap_or("starttls") {
        "starttls" => SmtpSecurity::StartTls,
        "tls" => SmtpSecurity::Tls,
        "none" => SmtpSecurity::None,
        other => bail!("smtp.security {other:?} must be \"starttls\", \"tls\" or \"none\""),
    };
    if file.host.trim().is_empty() {
        bail!("smtp.host must name the mail relay");
    }
    let settings = services::mail::SmtpSettings {
        host: file.host.clone(),
        port: file.port.unwrap_or(match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }),
        security,
        username: file.username.clone(),
        password: env_password.or_else(|| file.password.clone()),
        from: file.from.clone(),
    };
    // Checks the sender address and relay settings now, so a typo stops start-up with a reason.
    services::mail::SmtpMailer::new(&settings).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(settings)
}

fn desk_settings(file: &DeskFileConfig) -> anyhow::Result<services::DeskSettings> {
    let enterprise = match &file.enterprise {
        None => None,
        Some(raw) => Some(domain::EnterpriseId::parse(raw).ok_or_else(|| {
            anyhow::anyhow!(
                "security_desk.enterprise {raw:?} is not an enterprise id (see `conclave admin list-enterprises`)"
            )
        })?),
    };
    let url_ok = |u: &str| u.starts_with("https://") && !u.contains(char::is_whitespace);
    for url in &file.canonical_urls {
        if !url_ok(url) || !url.ends_with("/.well-known/security.txt") {
            bail!("security_desk.canonical_urls: {url:?} must be an https:// URL ending in /.well-known/security.txt");
        }
    }
    if let Some(email) = &file.contact_email {
        domain::validate::email("contact_email", email).map_err(|e| anyhow::anyhow!("security_desk.{e}"))?;
    }
    let languages = file.preferred_languages.clone().unwrap_or_else(|| "en".to_owned());
    if languages.is_empty() || !languages.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ',' || c == ' ')
    {
        bail!("security_desk.preferred_languages must be language tags separated by commas, such as \"en, de\"");
    }
    let retention_days = file.retention_days.unwrap_or(180);
    if !(1..=3650).contains(&retention_days) {
        bail!("security_desk.retention_days must be between 1 and 3650");
    }
    Ok(services::DeskSettings {
        enterprise,
        contact_email: file.contact_email.clone(),
        canonical_urls: file.canonical_urls.clone(),
        preferred_languages: languages,
        store_finder_ip: file.store_finder_ip.unwrap_or(false),
        retention_days,
    })
}

/// A configured public URL without its trailing slash, or why it cannot be one.
fn checked_public_url(key: &str, url: &str) -> anyhow::Result<String> {
    let host = url.strip_prefix("https://").unwrap_or_default().trim_end_matches('/');
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/' || c == '?' || c == '#') {
        bail!(
            "{key} {url:?} must be https:// and a host name (with a port if not 443), such as https://chat.example.org"
        );
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// `https://` and the listen address, or `name` when the address is unspecified (0.0.0.0, ::).
pub fn public_url_from_listen(listen: SocketAddr, name: &str) -> String {
    let port = listen.port();
    let host = match listen.ip() {
        ip if ip.is_unspecified() => name.to_owned(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        ip => ip.to_string(),
    };
    if port == 443 {
        format!("https://{host}")
    } else {
        format!("https://{host}:{port}")
    }
}

fn machine_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .unwrap_or_else(|| "localhost".to_owned())
}

pub fn check_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the data directory {}: {e}; choose another with --data-dir or fix its permissions",
            dir.display()
        )
    })?;
    // The database, the key file and the files of attachments live here: only Conclave's own
    // account may list or enter it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| anyhow::anyhow!("cannot restrict the data directory {} to its owner: {e}", dir.display()))?;
    }
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"probe").map_err(|e| {
        anyhow::anyhow!(
            "the data directory {} is not writable: {e}; choose another with --data-dir or fix its permissions",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
    }

    #[test]
    fn flags_and_environment_beat_the_file_which_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from-file\"\nlog_format = \"json\"\n")
            .unwrap();
        let from_file = Config::resolve(&Overrides { config: Some(path.clone()), ..Default::default() }).unwrap();
        assert_eq!(from_file.listen.port(), 9000);
        assert_eq!(from_file.data_dir, PathBuf::from("/from-file"));
        assert_eq!(from_file.log_format, LogFormat::Json);
        let flagged = Config::resolve(&Overrides {
            config: Some(path),
            listen: Some("127.0.0.1:9001".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(flagged.listen.port(), 9001);
        let defaults = Config::resolve(&Overrides::default()).unwrap();
        assert_eq!(defaults.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(defaults.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let err = Config::resolve(&Overrides { listen: Some("localhost".into()), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("not an IP address and port"), "{err}");
        let err =
            Config::resolve(&Overrides { database_url: Some("mysql://x".into()), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let err = Config::resolve(&Overrides { config: Some(path), ..Default::default() }).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
        std::fs::write(dir.path().join("p.toml"), "trusted_proxies = [\"10.0.0.0/40\"]\n").unwrap();
        let err =
            Config::resolve(&Overrides { config: Some(dir.path().join("p.toml")), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
        std::fs::write(dir.path().join("m.toml"), "max_message_bytes = 200000\n").unwrap();
        let err =
            Config::resolve(&Overrides { config: Some(dir.path().join("m.toml")), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("at least twice max_message_bytes"), "{err}");
    }

    #[test]
    fn the_desk_names_this_server_never_the_request_s_host() {
        let listen = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(public_url_from_listen(listen("127.0.0.1:8443"), "m"), "https://127.0.0.1:8443");
        assert_eq!(public_url_from_listen(listen("[::1]:8443"), "m"), "https://[::1]:8443");
        assert_eq!(public_url_from_listen(listen("0.0.0.0:443"), "chat.example.org"), "https://chat.example.org");
        let defaults = Config::resolve(&Overrides::default()).unwrap();
        assert_eq!(defaults.public_url, "https://127.0.0.1:8443");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[security_desk]\npublic_url = \"https://chat.example.org/\"\n").unwrap();
        let configured = Config::resolve(&Overrides { config: Some(path.clone()), ..Default::default() }).unwrap();
        assert_eq!(configured.public_url, "https://chat.example.org");
        // The top-level key wins over the older spelling under [security_desk].
        std::fs::write(
            &path,
            "public_url = \"https://talk.example.org\"\n[security_desk]\npublic_url = \"https://chat.example.org\"\n",
        )
        .unwrap();
        let top = Config::resolve(&Overrides { config: Some(path.clone()), ..Default::default() }).unwrap();
        assert_eq!(top.public_url, "https://talk.example.org");
        for bad in ["http://chat.example.org", "https://", "https://chat.example.org/path", "https://a b"] {
            std::fs::write(&path, format!("public_url = {bad:?}\n")).unwrap();
            let err = Config::resolve(&Overrides { config: Some(path.clone()), ..Default::default() }).unwrap_err();
            assert!(err.to_string().contains("public_url"), "{bad}: {err}");
        }
    }

    #[test]
    fn loopback_identity_providers_need_the_operator_s_consent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        assert!(!Config::resolve(&Overrides::default()).unwrap().sso_allow_http_loopback);
        std::fs::write(&path, "trusted_proxies = [\"10.0.0.0/8\"]\n[sso]\nallow_http_loopback = true\n").unwrap();
        let from_file = Config::resolve(&Overrides { config: Some(path.clone()), ..Default::default() }).unwrap();
        assert!(from_file.sso_allow_http_loopback);
        assert!(from_file.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        let flag_wins = Config::resolve(&Overrides {
            config: Some(path),
            sso_allow_http_loopback: Some(false),
            ..Default::default()
        })
        .unwrap();
        assert!(!flag_wins.sso_allow_http_loopback);
    }

    #[test]
    fn the_sample_config_parses() {
        toml::from_str::<FileConfig>(SAMPLE).unwrap();
    }
}

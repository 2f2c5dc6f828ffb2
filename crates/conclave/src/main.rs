//! The `conclave` binary: the composition root. It alone names concrete backends, reads
//! configuration, installs the log and metrics recorders, and maps errors to exit codes.

use conclave::config;
mod connections;
mod tls;

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Parser, Subcommand};
use config::{Config, LogFormat, Overrides};
use domain::audit::Origin;
use domain::EnterpriseId;
use services::{Caller, KeyringSource, Services};
use std::io::{BufRead as _, IsTerminal as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::KeyStore as _;

#[derive(Parser)]
#[command(
    name = "conclave",
    version,
    about = "Conclave: secure enterprise messaging with a built-in security desk.",
    long_about = "Conclave: secure enterprise messaging with a built-in security desk.\n\n\
Run `conclave serve` to start the server with an embedded SQLite database in ./data.\n\
Then create the first enterprise and its admin with `conclave admin create-enterprise` and\n\
`conclave admin create-user --role enterprise-admin`.\n\n\
Settings come from, lowest to highest: defaults, the --config file, CONCLAVE_* environment\n\
variables, command-line flags."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct GlobalArgs {
    /// Directory for the SQLite database, master key file and TLS certificate.
    #[arg(long, env = "CONCLAVE_DATA_DIR", global = true, value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// PostgreSQL URL (postgres://...); unset means SQLite in the data directory.
    #[arg(long, env = "CONCLAVE_DATABASE_URL", global = true, value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// TOML configuration file (see `conclave default-config`).
    #[arg(long, env = "CONCLAVE_CONFIG", global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Log format.
    #[arg(long, env = "CONCLAVE_LOG_FORMAT", global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Benchmarks only: store enterprise data unencrypted, to measure what encryption costs.
    /// Environment only and hidden; data written this way cannot be read by a normal process.
    #[arg(
        long = "benchmark-plaintext-at-rest",
        env = "CONCLAVE_BENCHMARK_PLAINTEXT_AT_REST",
        global = true,
        hide = true
    )]
    plaintext_at_rest_for_benchmark: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTPS: the API, the web client and the health endpoints.
    Serve(ServeArgs),
    /// Manage enterprises, users and teams from the server's shell.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Work with the tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print a sample configuration file with every setting explained.
    DefaultConfig,
}

#[derive(Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "CONCLAVE_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// NATS server for events between several nodes (nats://host:4222); unset: single node.
    #[arg(long, env = "CONCLAVE_NATS_URL", value_name = "URL")]
    nats_url: Option<String>,
    /// PEM certificate chain (with --tls-key); default: a self-signed certificate in the data directory.
    #[arg(long, env = "CONCLAVE_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CONCLAVE_TLS_KEY", value_name = "FILE")]
    tls_key: Option<std::path::PathBuf>,
    /// Accept http:// identity-provider addresses on this machine (127.0.0.1, localhost, [::1]).
    #[arg(long, env = "CONCLAVE_SSO_ALLOW_HTTP_LOOPBACK", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    sso_allow_http_loopback: Option<bool>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an enterprise (a tenant with its own data key). Prints its id.
    CreateEnterprise {
        /// Display name, 1 to 100 characters.
        #[arg(long)]
        name: String,
    },
    /// List enterprises.
    ListEnterprises,
    /// Create a user. The password is read from standard input (first line).
    CreateUser {
        /// Enterprise id (from create-enterprise or list-enterprises).
        #[arg(long)]
        enterprise: String,
        #[arg(long)]
        email: String,
        /// Display name, 1 to 100 characters.
        #[arg(long)]
        name: String,
        /// member, team-admin, enterprise-admin or security; several joined by commas.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// List the users of an enterprise.
    ListUsers {
        #[arg(long)]
        enterprise: String,
    },
    /// List the teams of an enterprise.
    ListTeams {
        #[arg(long)]
        enterprise: String,
    },
    /// Add a user to a team (or change their team-admin flag).
    AddTeamMember {
        #[arg(long)]
        enterprise: String,
        #[arg(long)]
        team: String,
        #[arg(long)]
        user: String,
        /// Make them an admin of this team.
        #[arg(long)]
        team_admin: bool,
    },
    /// Create a team in an enterprise. Prints its id.
    CreateTeam {
        #[arg(long)]
        enterprise: String,
        /// Team name, 1 to 100 characters.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain. Prints "ok, N events", or names the first broken link and exits 1.
    Verify,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new master key and re-wrap every data key under it; safe while the server runs.
    Rotate,
}

/// glibc keeps freed memory in its arenas for reuse, and a buffer as large as argon2id's 19 MiB
/// went back there after each sign-in, so the resident size only grew. Serving blocks of 1 MiB
/// and more straight from the kernel (mmap) returns them when freed; the soak scenario of
/// `conclave-bench` measures the difference.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() -> std::process::ExitCode {
    return_large_blocks_to_the_system();
    let cli = Cli::parse();
    let over = Overrides {
        config: cli.global.config.clone(),
        data_dir: cli.global.data_dir.clone(),
        database_url: cli.global.database_url.clone(),
        log_format: cli.global.log_format,
        plaintext_at_rest_for_benchmark: cli.global.plaintext_at_rest_for_benchmark,
        listen: match &cli.command {
            Command::Serve(s) => s.listen.clone(),
            _ => None,
        },
        tls_cert: match &cli.command {
            Command::Serve(s) => s.tls_cert.clone(),
            _ => None,
        },
        tls_key: match &cli.command {
            Command::Serve(s) => s.tls_key.clone(),
            _ => None,
        },
        nats_url: match &cli.command {
            Command::Serve(s) => s.nats_url.clone(),
            _ => None,
        },
        sso_allow_http_loopback: match &cli.command {
            Command::Serve(s) => s.sso_allow_http_loopback,
            _ => None,
        },
    };
    if let Command::DefaultConfig = cli.command {
        print!("{}", config::SAMPLE);
        return std::process::ExitCode::SUCCESS;
    }
    let config = match Config::resolve(&over) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    init_logging(config.log_format, matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(_) => serve(config).await.map(|()| 0),
            Command::Admin(cmd) => admin(config, cmd).await.map(|()| 0),
            Command::Audit(AuditCommand::Verify) => audit_verify(config).await,
            Command::Keys(KeysCommand::Rotate) => keys_rotate(config).await.map(|()| 0),
            Command::DefaultConfig => Ok(0),
        }
    });
    // Dropping the runtime waits for every task; a database pool's housekeeping has been seen to
    // spin instead of ending, which would keep a finished command alive. Its work is done here.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

/// One clear sentence on stderr, exit status 1.
fn fail(e: &anyhow::Error) -> std::process::ExitCode {
    eprintln!("error: {e:#}");
    std::process::ExitCode::FAILURE
}

fn init_logging(format: LogFormat, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_env("CONCLAVE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// The store, the keyring and the services, as every command needs them.
struct Opened {
    services: Arc<Services>,
    n_enterprises: usize,
}

async fn open(config: &Config) -> anyhow::Result<Opened> {
    // Check the key before touching the database, so a bad key file changes nothing.
    let env_key = std::env::var("CONCLAVE_MASTER_KEY").ok().filter(|v| !v.is_empty());
    let key_file = config.key_file();
    if env_key.is_none() && !key_file.exists() && config.database_url.is_none() && config.sqlite_file().exists() {
        // Opening would change nothing, but say it before touching the database at all.
        let db_file = config.sqlite_file();
        let has_keys = store_sqlite::open(&db_file)
            .await
            .map_err(|e| anyhow!("{e}"))?
            .list_keys()
            .await
            .map(|keys| !keys.is_empty())
            .unwrap_or(true);
        if has_keys {
            bail!(
                "the master key file {} is missing but the database {} already holds encrypted data; restore the key file from your backup",
                key_file.display(),
                db_file.display()
            );
        }
    }
    let existing_ring = match &env_key {
        Some(value) => Some(
            crypto::MasterKeyring::from_env_value(value)
                .map_err(|e| anyhow!("{e}; it must be the base64 of 32 random bytes"))?,
        ),
        None if key_file.exists() => Some(crypto::MasterKeyring::load(&key_file).map_err(|e| {
            anyhow!("{e}; restore the key file from your backup (data sealed under it cannot be read without it)")
        })?),
        None => None,
    };
    let store: Arc<dyn store::Store> = match &config.database_url {
        None => Arc::new(store_sqlite::open(&config.sqlite_file()).await.map_err(|e| anyhow!("{e}"))?),
        Some(url) => Arc::new(store_postgres::connect(url).await.map_err(|e| {
            anyhow!(
                "cannot use the database at {}: {e}; check --database-url and that PostgreSQL is running",
                config::redact_url(url)
            )
        })?),
    };
    let source = match (env_key.is_some(), existing_ring) {
        (true, Some(ring)) => KeyringSource::Fixed(Arc::new(ring)),
        (false, Some(_)) => KeyringSource::File(key_file),
        (_, None) => {
            if !store.list_keys().await.map_err(|e| anyhow!("{e}"))?.is_empty() {
                bail!("the master key file {} is missing but the database already holds encrypted data; restore the key file from your backup", key_file.display());
            }
            // Another process (a second node, or an admin command) may be doing the same right
            // now: the first key file written wins and everyone uses it.
            let created = crypto::MasterKeyring::generate()
                .create_new(&key_file)
                .map_err(|e| anyhow!("cannot create the master key file: {e}"))?;
            if created {
                tracing::info!(path = %key_file.display(), "created a new master key file (mode 0600); back it up");
            }
            KeyringSource::File(key_file)
        }
    };
    let settings = services::Settings {
        session_lifetime: Duration::from_secs(config.session_lifetime_hours * 3600),
        files_dir: Some(config.data_dir.join("files")),
        max_attachment_bytes: config.max_attachment_bytes,
        max_message_bytes: config.max_message_bytes,
        plaintext_at_rest_for_benchmark: config.plaintext_at_rest_for_benchmark,
        allow_http_loopback_sso: config.sso_allow_http_loopback,
        public_url: config.public_url.clone(),
        desk: config.desk.clone(),
        ..services::Settings::default()
    };
    let bus: Arc<dyn bus::Bus> = match &config.nats_url {
        None => Arc::new(bus::InProcessBus::default()),
        Some(url) => {
            let nats = bus::NatsBus::connect(url)
                .await
                .map_err(|e| anyhow!("{e}; check --nats-url and that NATS is running"))?;
            // A message event carries the body JSON-escaped and sealed, plus its recipients: it
            // must fit in one NATS message, or the longest messages would never arrive live.
            let needed = config.max_message_bytes * 2 + 64 * 1024;
            if nats.max_payload() > 0 && needed > nats.max_payload() {
                return Err(anyhow!(
                    "max_message_bytes ({}) needs NATS messages of up to {needed} bytes, but the server allows {}; \
                     lower max_message_bytes or raise max_payload in the NATS server's configuration",
                    config.max_message_bytes,
                    nats.max_payload()
                ));
            }
            Arc::new(nats)
        }
    };
    let mut services = Services::build(store.clone(), bus, source, settings)
        .await
        .map_err(|e| anyhow!("cannot start services: {e}; if the key file was replaced, restore the original"))?;
    if let Some(smtp) = &config.smtp {
        let mailer = services::mail::SmtpMailer::new(smtp).map_err(|e| anyhow!("{e}"))?;
        services = services.with_mailer(Arc::new(mailer));
    }
    let n_enterprises = store.list_enterprises().await.map_err(|e| anyhow!("{e}"))?.len();
    Ok(Opened { services: Arc::new(services), n_enterprises })
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    config::check_data_dir(&config.data_dir)?;
    // Bind before creating anything else, so a busy port changes nothing on disk.
    let listener = std::net::TcpListener::bind(config.listen).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow!(
                "the address {} is already in use; stop the other program or choose another with --listen",
                config.listen
            )
        } else {
            anyhow!("cannot listen on {}: {e}; choose another address with --listen", config.listen)
        }
    })?;
    listener.set_nonblocking(true)?;
    let opened = open(&config).await?;
    let (cert, key) =
        tls::ensure_certificate(config.tls_cert.as_deref(), config.tls_key.as_deref(), &config.tls_dir())?;
    let tls_config = tls::server_config(&cert, &key)?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow!("cannot install the metrics recorder: {e}"))?;
    let http_settings = http_api::HttpSettings {
        max_body_bytes: config.max_body_bytes,
        sign_in_per_minute: config.sign_in_per_minute,
        public_per_minute: config.desk_requests_per_minute,
        trusted_proxies: config.trusted_proxies.clone(),
        metrics_networks: config.metrics_networks.clone(),
        metrics_token: config.metrics_token.clone(),
        body_timeout: config.body_timeout,
    };
    let state = http_api::AppState::new(opened.services.clone(), Some(metrics), http_settings);
    state.start_live().await.map_err(|e| anyhow!("cannot start live delivery: {e}"))?;
    // Periodic work (the finder-data purge, the partial-file sweep) runs through the durable
    // job runner: once across every node sharing the database, and again after a restart.
    tokio::spawn(services::run_jobs_forever(opened.services.clone()));
    let app = http_api::app(state);

    let handle = axum_server::Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));
    let local = listener.local_addr()?;
    let url = format!("https://{}:{}", display_host(local), local.port());
    if config.public_url_derived {
        tracing::warn!(
            public_url = config.public_url.as_str(),
            "public_url is not set: the signed security.txt and links in mails to finders name this \
             listen address; set it to the address finders use"
        );
    }
    if config.plaintext_at_rest_for_benchmark {
        tracing::warn!(
            "BENCHMARK MODE: enterprise data is stored UNENCRYPTED; never use this data directory for real data"
        );
    }
    tracing::info!(%url, elapsed_ms = started.elapsed().as_millis() as u64, "Conclave is serving");
    println!("Conclave is serving {url}  (data: {})", config.data_dir.display());
    if opened.n_enterprises == 0 {
        let conclave = admin_command(&config);
        println!(
            "No enterprise exists yet. Create the first one and its admin:\n  \
             {conclave} admin create-enterprise --name \"Example Corp\"\n  \
             printf '%s' \"$PASSWORD\" | {conclave} admin create-user --enterprise <id> --email admin@example.com --name \"First Admin\" --role enterprise-admin\n\
             then sign in at {url}/signin"
        );
    }
    // TCP_NODELAY: without it, two small writes in a row (an upgrade answer then the first
    // frame, or two events) wait out the peer's delayed ACK, about 40 ms each time.
    // Connections are counted before the handshake, which has 10 seconds.
    let limits = connections::Limits { per_address: config.max_connections_per_address, total: config.max_connections };
    let proxies = config.trusted_proxies.clone();
    let tls =
        axum_server::tls_rustls::RustlsAcceptor::new(axum_server::tls_rustls::RustlsConfig::from_config(tls_config))
            .handshake_timeout(std::time::Duration::from_secs(10))
            .acceptor(axum_server::accept::NoDelayAcceptor::new());
    let bounded = connections::BoundedAcceptor::new(tls, limits, config.header_timeout)
        .exempt_from_per_address(move |ip| proxies.contains(ip));
    let mut server = axum_server::from_tcp(listener).acceptor(bounded).handle(handle);
    // The request head must arrive within the timeout, counted from when the connection is
    // ready for a request: a client that sends nothing, half a request line or headers, or
    // leaves a kept-alive connection idle, is closed. HTTP/2 connections answer pings or close.
    let http = server.http_builder();
    http.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(config.header_timeout);
    http.http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Some(config.header_timeout))
        .keep_alive_timeout(std::time::Duration::from_secs(10))
        .max_concurrent_streams(Some(100));
    server.serve(app.into_make_service_with_connect_info::<SocketAddr>()).await.context("the HTTPS server stopped")?;
    Ok(())
}

fn display_host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    }
}

async fn shutdown_on_signal(handle: axum_server::Handle) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
    handle.graceful_shutdown(Some(http_api::GRACEFUL_SHUTDOWN));
}

fn operator_origin() -> Origin {
    Origin { ip: None, user_agent: Some(format!("conclave-cli/{}", env!("CARGO_PKG_VERSION"))) }
}

fn service_error(e: services::Error) -> anyhow::Error {
    anyhow!("{e}")
}

fn parse_enterprise(raw: &str) -> anyhow::Result<EnterpriseId> {
    EnterpriseId::parse(raw)
        .ok_or_else(|| anyhow!("--enterprise {raw:?} is not an enterprise id; see `conclave admin list-enterprises`"))
}

async fn admin(config: Config, cmd: AdminCommand) -> anyhow::Result<()> {
    config::check_data_dir(&config.data_dir)?;
    let opened = open(&config).await?;
    let services = &opened.services;
    let origin = operator_origin();
    match cmd {
        AdminCommand::CreateEnterprise { name } => {
            let e =
                services.directory.create_enterprise(&Caller::Operator, &origin, &name).await.map_err(service_error)?;
            println!("{}", e.id);
            eprintln!("created enterprise {:?}", e.name);
        }
        AdminCommand::ListEnterprises => {
            for e in services.directory.list_enterprises(&Caller::Operator).await.map_err(service_error)? {
                println!("{}\t{}\t{}", e.id, e.created_at, e.name);
            }
        }
        AdminCommand::CreateUser { enterprise, email, name, role } => {
            let enterprise = parse_enterprise(&enterprise)?;
            let roles = domain::Roles::parse(&role).ok_or_else(|| {
                anyhow!(
                    "--role {role:?} must be member, team-admin, enterprise-admin or security, \
                     or several joined by commas"
                )
            })?;
            let password = read_password()?;
            let new = services::directory::NewUser { email, name, roles, via: None, password: Some(password) };
            let user = services
                .directory
                .create_user(&Caller::Operator, &origin, enterprise, new)
                .await
                .map_err(service_error)?;
            println!("{}", user.id);
            eprintln!("created {} ({}) as {}", user.email, user.name, user.roles);
        }
        AdminCommand::ListUsers { enterprise } => {
            let enterprise = parse_enterprise(&enterprise)?;
            for u in services.directory.list_users(&Caller::Operator, enterprise).await.map_err(service_error)? {
                let status = if u.disabled { "disabled" } else { "active" };
                println!("{}\t{}\t{}\t{}\t{}", u.id, u.roles, status, u.email, u.name);
            }
        }
        AdminCommand::ListTeams { enterprise } => {
            let enterprise = parse_enterprise(&enterprise)?;
            for t in services.directory.list_teams(&Caller::Operator, enterprise).await.map_err(service_error)? {
                let status = if t.archived { "archived" } else { "active" };
                println!("{}\t{}\t{}", t.id, status, t.name);
            }
        }
        AdminCommand::AddTeamMember { enterprise, team, user, team_admin } => {
            let enterprise = parse_enterprise(&enterprise)?;
            let team = domain::TeamId::parse(&team).ok_or_else(|| anyhow!("--team {team:?} is not a team id"))?;
            let user = domain::UserId::parse(&user).ok_or_else(|| anyhow!("--user {user:?} is not a user id"))?;
            services
                .directory
                .put_team_member(&Caller::Operator, &origin, enterprise, team, user, team_admin)
                .await
                .map_err(service_error)?;
            eprintln!("added user {user} to team {team}");
        }
        AdminCommand::CreateTeam { enterprise, name } => {
            let enterprise = parse_enterprise(&enterprise)?;
            let team = services
                .directory
                .create_team(&Caller::Operator, &origin, enterprise, &name)
                .await
                .map_err(service_error)?;
            println!("{}", team.id);
            eprintln!("created team {:?}", team.name);
        }
    }
    Ok(())
}

/// The first line of standard input, without its line ending. Prompts when stdin is a terminal.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (input is shown; pipe it in to avoid that): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input; pipe one in, e.g. `printf '%s' \"$PASSWORD\" | conclave admin create-user ...`");
    }
    Ok(password)
}

async fn audit_verify(config: Config) -> anyhow::Result<u8> {
    let opened = open(&config).await?;
    let bar = progress_bar("verifying");
    let verdict = opened
        .services
        .compliance
        .verify_audit_chain(&Caller::Operator, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await
        .map_err(service_error)?;
    bar.finish_and_clear();
    match verdict {
        services::audit::ChainVerdict::Intact { events } => {
            println!("ok, {events} events");
            Ok(0)
        }
        services::audit::ChainVerdict::Broken(link) => {
            println!("broken: {link}");
            Ok(1)
        }
    }
}

async fn keys_rotate(config: Config) -> anyhow::Result<()> {
    let opened = open(&config).await?;
    let bar = progress_bar("re-wrapping");
    let report = opened
        .services
        .core
        .rotate_master_key(&Caller::Operator, &operator_origin(), &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await
        .map_err(service_error)?;
    bar.finish_and_clear();
    println!(
        "rotated: new master key {}, {} data keys re-wrapped, {} old master keys retired",
        report.new_master_key_id, report.rewrapped, report.retired
    );
    Ok(())
}

/// How to call `conclave` so that it opens the same data as this server: the same config file
/// and data directory (absolute, so the hint works from any directory), and a reminder when the
/// database URL came from outside both.
fn admin_command(config: &Config) -> String {
    let quote = |p: &std::path::Path| {
        let text = p.display().to_string();
        if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
            text
        } else {
            format!("'{}'", text.replace('\'', "'\\''"))
        }
    };
    let mut command = "conclave".to_owned();
    if let Some(file) = &config.config_file {
        command.push_str(&format!(" --config {}", quote(&std::path::absolute(file).unwrap_or_else(|_| file.clone()))));
    }
    let dir = std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    command.push_str(&format!(" --data-dir {}", quote(&dir)));
    if config.database_url.is_some() {
        command.push_str(" --database-url \"$CONCLAVE_DATABASE_URL\"");
    }
    command
}

/// A progress bar on stderr; hidden when stderr is not a terminal (scripts, CI).
fn progress_bar(what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

#[cfg(test)]
mod hints {
    use super::*;

    #[test]
    fn the_start_up_hint_names_the_data_the_server_opened() {
        let dir = std::env::temp_dir().join("conclave hint test");
        let config = Config::resolve(&Overrides { data_dir: Some(dir.clone()), ..Default::default() }).unwrap();
        assert_eq!(admin_command(&config), format!("conclave --data-dir '{}'", dir.display()));
        let relative = Config::resolve(&Overrides::default()).unwrap();
        let hint = admin_command(&relative);
        assert!(hint.starts_with("conclave --data-dir /") && hint.ends_with("/data"), "{hint}");
    }
}

/// Each setting is declared once: flags and their variables in [`Cli`], file keys in
/// [`config::FileConfig`]. These tests hold the sample configuration, `--help` and the README to
/// those declarations, so none of them can name a setting that does not exist or miss one.
#[cfg(test)]
mod configuration_is_declared_once {
    use super::*;
    use clap::CommandFactory as _;
    use std::collections::BTreeSet;

    /// Variables read directly, not through a flag: each is explained in the README.
    const DIRECT_VARIABLES: &[&str] =
        &["CONCLAVE_MASTER_KEY", "CONCLAVE_LOG", "CONCLAVE_SMTP_PASSWORD", "CONCLAVE_METRICS_TOKEN"];
    const README: &str = include_str!("../../../README.md");

    /// Every (flag, variable, hidden) of every command.
    fn flags(command: &clap::Command, out: &mut Vec<(String, String, bool)>) {
        for arg in command.get_arguments() {
            if let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) {
                out.push((long.to_owned(), env.to_string_lossy().into_owned(), arg.is_hide_set()));
            }
        }
        for sub in command.get_subcommands() {
            flags(sub, out);
        }
    }

    fn variables_named_in(text: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut rest = text;
        while let Some(at) = rest.find("CONCLAVE_") {
            let name: String =
                rest[at..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
            rest = &rest[at + name.len()..];
            // `CONCLAVE_*` stands for the family; test-only variables belong to the tests.
            if name.len() > "CONCLAVE_".len() && !name.starts_with("CONCLAVE_TEST_") {
                found.insert(name);
            }
        }
        found
    }

    #[test]
    fn every_flag_and_variable_is_in_the_readme_and_every_one_named_exists() {
        let mut all = Vec::new();
        flags(&Cli::command(), &mut all);
        assert!(all.len() >= 8, "the walk found the flags: {all:?}");
        for (long, env, hidden) in &all {
            if !hidden {
                assert!(README.contains(&format!("--{long}")), "README.md does not mention --{long}");
                assert!(README.contains(env.as_str()), "README.md does not mention {env}");
            }
        }
        for direct in DIRECT_VARIABLES {
            assert!(README.contains(direct), "README.md does not explain {direct}");
        }
        let known: BTreeSet<String> =
            all.iter().map(|(_, env, _)| env.clone()).chain(DIRECT_VARIABLES.iter().map(|d| d.to_string())).collect();
        let named = &variables_named_in(README) | &variables_named_in(config::SAMPLE);
        let unknown: Vec<_> = named.difference(&known).collect();
        assert!(unknown.is_empty(), "README.md or the sample configuration name variables nothing reads: {unknown:?}");
    }

    /// The sample with every commented-out `key = value` (and `[section]`) switched on, unless
    /// the same key is already set in that section.
    fn switched_on(sample: &str) -> String {
        let key_of = |line: &str| line.split_once(" = ").map(|(k, _)| k.trim().to_owned());
        let mut section = String::new();
        let mut set = BTreeSet::new();
        for line in sample.lines() {
            if let Some(name) = line.strip_prefix('[') {
                section = name.trim_end_matches(']').to_owned();
            } else if !line.starts_with('#') {
                if let Some(key) = key_of(line) {
                    set.insert((section.clone(), key));
                }
            }
        }
        let mut out = String::new();
        section.clear();
        for line in sample.lines() {
            let candidate = line.strip_prefix("# ").filter(|l| {
                l.starts_with('[') && l.ends_with(']')
                    || key_of(l).is_some_and(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            });
            let line = match candidate {
                Some(l) if l.starts_with('[') => l,
                Some(l) if set.insert((section.clone(), key_of(l).unwrap_or_default())) => l,
                _ => line,
            };
            if let Some(name) = line.strip_prefix('[') {
                section = name.trim_end_matches(']').to_owned();
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    fn unset_keys(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Null => out.push(path.to_owned()),
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    unset_keys(inner, &if path.is_empty() { key.clone() } else { format!("{path}.{key}") }, out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_sample_configuration_names_every_file_key_and_only_those() {
        let everything = switched_on(config::SAMPLE);
        // Unknown keys are refused, so a key the sample names must exist ...
        let file: config::FileConfig = toml::from_str(&everything).unwrap_or_else(|e| panic!("{e}\n{everything}"));
        // ... and a key it does not name would stay unset.
        let mut missing = Vec::new();
        unset_keys(&serde_json::to_value(&file).unwrap(), "", &mut missing);
        assert!(missing.is_empty(), "the sample configuration does not show {missing:?}");
        // The sample as printed (defaults only) is itself a valid configuration.
        toml::from_str::<config::FileConfig>(config::SAMPLE).unwrap();
    }

    #[test]
    fn the_check_itself_notices_a_missing_key() {
        let without = config::SAMPLE.replace("sign_in_per_minute = 10", "");
        let file: config::FileConfig = toml::from_str(&switched_on(&without)).unwrap();
        let mut missing = Vec::new();
        unset_keys(&serde_json::to_value(&file).unwrap(), "", &mut missing);
        assert_eq!(missing, ["sign_in_per_minute"]);
    }
}

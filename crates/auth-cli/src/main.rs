//! `flyte-auth`: log in to Flyte (or any OAuth 2.0 / OpenID Connect provider) and print access
//! tokens. The contract is DESIGN.md §5: stdout carries only results, diagnostics go to
//! stderr, and the exit code says what kind of failure happened.

mod doctor;
mod logging;
mod logout;
mod paste;
mod present;
mod timefmt;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand, ValueEnum};
use flyte_auth::config::{AuthMode, ConfigError, Loader, Overrides, Settings};
use flyte_auth::{AuthError, Credentials, ErrorKind, FromConfigOptions};

/// Log in to Flyte or an OAuth 2.0 / OpenID Connect provider and print access tokens.
#[derive(Debug, Parser)]
#[command(name = "flyte-auth", version, about, long_about = None)]
struct Cli {
    /// Flyte configuration file (else $FLYTECTL_CONFIG, else ~/.flyte/config.yaml).
    #[arg(short = 'c', long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Flyte admin endpoint (overrides admin.endpoint and FLYTE_PLATFORM_URL).
    #[arg(long, global = true, value_name = "HOST")]
    endpoint: Option<String>,
    /// A plain OAuth 2.0 / OpenID Connect issuer to discover the endpoints from, instead of a
    /// Flyte endpoint (overrides admin.issuer and FLYTE_CREDENTIALS_ISSUER).
    #[arg(long, global = true, value_name = "URL")]
    issuer: Option<String>,
    /// Authentication flow: Pkce, DeviceFlow, ClientSecret or ExternalCommand.
    #[arg(long, global = true, value_name = "MODE", value_parser = parse_auth_mode)]
    auth_mode: Option<AuthMode>,
    /// Plain http to the admin endpoint.
    #[arg(long, global = true)]
    insecure: bool,
    /// Extra CA bundle (PEM) trusted in addition to the system roots.
    #[arg(long, global = true, value_name = "PATH")]
    ca_cert: Option<PathBuf>,
    /// Do not verify TLS certificates (dangerous; for testing only).
    #[arg(long, global = true)]
    insecure_skip_verify: bool,
    /// Never prompt: fail with exit code 1 if a browser or device login would be needed.
    #[arg(long, global = true)]
    non_interactive: bool,
    /// Print the login URL instead of opening a browser.
    #[arg(long, global = true)]
    no_browser: bool,
    /// Show a QR code of the device login URL.
    #[arg(long, global = true)]
    qr: bool,
    /// Where interactive logins keep credentials between runs: the OS keyring (shared with
    /// flytekit), a file only you can read (for machines without a keyring), or memory only.
    #[arg(long, global = true, value_enum, env = "FLYTE_AUTH_STORE", default_value_t = Store::Keyring)]
    store: Store,
    /// Output format: text, or json (results on stdout, prompts as JSON lines on stderr).
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// More diagnostics on stderr (-v, -vv).
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Store {
    Keyring,
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the configured flow now and store the credentials.
    Login,
    /// Print a valid access token (cached, refreshed, or after a login) and a newline.
    Token {
        /// Print `<header-key>: Bearer <token>` instead, for `curl -H @-` and friends.
        #[arg(long)]
        header: bool,
    },
    /// Show endpoint, flow, expiry, scopes and subject; exit 1 without valid credentials.
    Status,
    /// Revoke the refresh token at the provider (when it can) and delete the stored
    /// credentials for the endpoint.
    Logout,
    /// Show the effective configuration (secrets redacted) and the discovered endpoints.
    Config,
    /// Check configuration, network, TLS, discovery, credential store and a token request,
    /// with a fix for each problem; exit 0 only when all pass.
    Doctor,
}

fn parse_auth_mode(s: &str) -> Result<AuthMode, String> {
    s.parse::<AuthMode>().map_err(|e| e.to_string())
}

/// Whether stored credentials count as valid: the token engine's own rule, so that `status`
/// and `token` agree (the skew shrinks for short-lived tokens).
fn is_valid(credentials: &Credentials, now: SystemTime) -> bool {
    credentials.is_usable_at(now, flyte_auth::core::DEFAULT_HARD_SKEW)
}

/// Exit codes of DESIGN.md §5.
mod exit {
    pub(crate) const FAILURE: u8 = 1;
    pub(crate) const USAGE: u8 = 2;
    pub(crate) const REFUSED: u8 = 3;
    pub(crate) const NETWORK: u8 = 4;
    /// Ctrl-C (128 + SIGINT), as shells report it.
    pub(crate) const CANCELLED: u8 = 130;
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    // Ctrl-C ends any wait (browser, device, keyring, network): the command's future is
    // dropped, which cancels the login before anything was stored.
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = run(&cli) => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    match outcome {
        Some(Ok(code)) => ExitCode::from(code),
        Some(Err(failure)) => {
            failure.report(cli.output);
            ExitCode::from(failure.code())
        }
        None => {
            cancelled(&cli);
            // A browser launcher or keyring call may still block a thread: do not wait.
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
            ExitCode::from(exit::CANCELLED)
        }
    }
}

fn cancelled(cli: &Cli) {
    let what = match cli.command {
        Command::Login | Command::Token { .. } => "Login cancelled.",
        _ => "Cancelled.",
    };
    match cli.output {
        Output::Json => eprintln!(
            "{}",
            serde_json::json!({"event": "cancelled", "message": what, "exit_code": exit::CANCELLED})
        ),
        Output::Text => {
            if std::io::stderr().is_terminal() {
                // Clear a progress line.
                eprint!("\r\x1b[2K");
            }
            eprintln!("{what}");
        }
    }
}

fn init_logging(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        // doctor reports problems as its checks, not as log lines.
        (_, 0) if matches!(cli.command, Command::Doctor) => "error",
        (_, 0) => "warn",
        (_, 1) => "info,flyte_auth=debug",
        _ => "debug",
    };
    let explicit = std::env::var_os("FLYTE_AUTH_LOG").is_some();
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLYTE_AUTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let tty = std::io::stderr().is_terminal();
    // With -o json every line on stderr is JSON, log lines included. Text without -v: one
    // human line per warning (logging.rs); -v or FLYTE_AUTH_LOG: the detailed log.
    let _ = match cli.output {
        Output::Json => builder.json().try_init(),
        Output::Text if cli.verbose == 0 && !explicit => {
            builder.event_format(logging::Human::new(tty)).try_init()
        }
        Output::Text => builder.with_ansi(tty).try_init(),
    };
}

/// Why the command failed, with the exit code that says so.
enum Failure {
    Config(ConfigError),
    Auth(AuthError),
}

impl Failure {
    fn code(&self) -> u8 {
        match self {
            Failure::Config(_) => exit::USAGE,
            Failure::Auth(e) => match e.kind() {
                ErrorKind::Configuration => exit::USAGE,
                ErrorKind::OAuth | ErrorKind::AccessDenied | ErrorKind::ExpiredToken => {
                    exit::REFUSED
                }
                ErrorKind::Transport | ErrorKind::Timeout => exit::NETWORK,
                _ => exit::FAILURE,
            },
        }
    }

    fn report(&self, output: Output) {
        let message = match self {
            Failure::Config(e) => e.to_string(),
            Failure::Auth(e) => {
                let mut m = e.to_string();
                if e.is_interaction_required() {
                    m.push_str("\nhint: run `flyte-auth login` in a terminal first");
                }
                m
            }
        };
        match output {
            Output::Text => eprintln!("error: {message}"),
            Output::Json => {
                let kind = match self {
                    Failure::Config(_) => "configuration".to_string(),
                    Failure::Auth(e) => format!("{:?}", e.kind()).to_lowercase(),
                };
                let line = serde_json::json!({"event": "error", "kind": kind, "message": message, "exit_code": self.code()});
                eprintln!("{line}");
            }
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        Failure::Auth(e)
    }
}

fn load_settings(cli: &Cli) -> Result<Settings, Failure> {
    let overrides = Overrides {
        endpoint: cli.endpoint.clone(),
        auth_mode: cli.auth_mode,
        insecure: cli.insecure.then_some(true),
        ca_cert_file_path: cli.ca_cert.clone(),
        insecure_skip_verify: cli.insecure_skip_verify.then_some(true),
        issuer: cli.issuer.clone(),
    };
    Ok(Loader::new()
        .config_path(cli.config.clone())
        .overrides(overrides)
        .load()?)
}

async fn run(cli: &Cli) -> Result<u8, Failure> {
    let settings = match (load_settings(cli), &cli.command) {
        // doctor reports a configuration error as its first failed check.
        (Err(Failure::Config(e)), Command::Doctor) => {
            let inputs = doctor::Inputs {
                settings: Err(e.to_string()),
                store: cli.store,
                options: FromConfigOptions::new(),
                json: cli.output == Output::Json,
            };
            return Ok(doctor::run(inputs).await);
        }
        (settings, _) => settings?,
    };
    let presenter = present::device_presenter(cli.output == Output::Json, cli.qr);
    let mut options = FromConfigOptions::new()
        .interactive(!cli.non_interactive)
        .no_browser(cli.no_browser)
        .device_presenter(presenter);
    // From a remote shell: accept the pasted address too (paste.rs); then no spinner, which
    // would overwrite what is typed.
    let paste = paste::wanted(cli.no_browser, !cli.non_interactive);
    options = options.pkce_progress(present::pkce_progress(cli.output == Output::Json, paste));
    if paste {
        options = options.pkce_paste(paste::StdinLines::shared());
        if cli.output == Output::Text {
            options = options.browser_prompt(std::sync::Arc::new(paste::prompt));
        }
    }
    match cli.store {
        Store::Keyring => {}
        Store::File => {
            let file: std::sync::Arc<dyn flyte_auth::CredentialStore> =
                std::sync::Arc::new(flyte_auth::store::FileStore::new()?);
            options = options.store(Some(file));
        }
        Store::Memory => options = options.use_keyring(false),
    }
    if cli.output == Output::Json {
        options = options.browser_prompt(std::sync::Arc::new(|url: &str| {
            eprintln!(
                "{}",
                serde_json::json!({"event": "browser_login", "url": url})
            );
        }));
    }
    if let Command::Config = cli.command {
        return show_config(cli, &settings, &options).await;
    }
    if let Command::Doctor = cli.command {
        let json = cli.output == Output::Json;
        let inputs = doctor::Inputs {
            settings: Ok(settings),
            store: cli.store,
            options,
            json,
        };
        return Ok(doctor::run(inputs).await);
    }
    let configured = flyte_auth::from_config(&settings, &options)?;
    let auth = &configured.authenticator;
    match cli.command {
        Command::Login => {
            // The full flow, whatever is stored; the stored credentials are replaced only when
            // it succeeded, so a login that fails (browser closed, time-out) loses nothing.
            let creds = auth.login().await?;
            let summary = summary(&configured, &settings, Some(&creds));
            match cli.output {
                Output::Json => println!("{summary}"),
                Output::Text if !cli.quiet => eprintln!(
                    "Logged in to {} with {}{}.",
                    configured.store_key,
                    settings.auth_mode,
                    expiry_phrase(creds.expires_at())
                ),
                Output::Text => {}
            }
            Ok(0)
        }
        Command::Token { header } => {
            let creds = auth.credentials().await?;
            // The discovered header key, only for -o json and --header: plain `token` makes
            // no request when a valid token is stored.
            let header_key = match (cli.output, header) {
                (Output::Text, false) => String::new(),
                _ => auth.authorization_header().await?.0,
            };
            let mut out = std::io::stdout().lock();
            let written = match cli.output {
                Output::Text if header => {
                    writeln!(out, "{header_key}: {}", auth.header_value(&creds).secret())
                }
                Output::Text => writeln!(out, "{}", creds.access_token().secret()),
                Output::Json => {
                    let expires = creds.expires_at().map(timefmt::rfc3339);
                    let v = serde_json::json!({
                        "access_token": creds.access_token().secret(),
                        "token_type": creds.token_type(),
                        "expires_at": expires,
                        "header_key": header_key,
                    });
                    writeln!(out, "{v}")
                }
            };
            written.and_then(|()| out.flush()).map_err(|e| {
                AuthError::new(
                    ErrorKind::InvalidResponse,
                    format!("could not write the token to stdout: {e}"),
                )
            })?;
            Ok(0)
        }
        Command::Status => {
            let stored = auth.stored_credentials().await?;
            let now = SystemTime::now();
            let valid = stored.as_ref().is_some_and(|c| is_valid(c, now));
            match cli.output {
                Output::Json => println!("{}", summary(&configured, &settings, stored.as_ref())),
                Output::Text => print_status(&configured, &settings, stored.as_ref(), valid),
            }
            Ok(if valid { 0 } else { exit::FAILURE })
        }
        Command::Logout => {
            // Revoke first (it needs the stored refresh token); a failure only warns.
            let revocation = logout::revoke(&configured).await;
            if let logout::Revocation::Failed(e) = &revocation {
                tracing::warn!(
                    "could not revoke the refresh token at the provider ({e}); deleting it here anyway"
                );
            }
            auth.clear().await?;
            if cli.output == Output::Json {
                println!(
                    "{}",
                    serde_json::json!({"endpoint": configured.store_key, "logged_out": true, "revocation": revocation.json()})
                );
            } else if !cli.quiet {
                eprintln!(
                    "Logged out of {}: {}.",
                    configured.store_key,
                    revocation.phrase()
                );
            }
            Ok(0)
        }
        // Handled above, before an authenticator is built.
        Command::Config | Command::Doctor => Ok(0),
    }
}

fn expiry_phrase(at: Option<SystemTime>) -> String {
    match at {
        Some(at) => format!(
            "; the token expires {}",
            timefmt::relative(at, SystemTime::now())
        ),
        None => String::new(),
    }
}

fn subject(creds: &Credentials) -> Option<String> {
    let claims = creds
        .id_token()
        .and_then(|t| flyte_auth::jwt_claims(t.secret()))
        .or_else(|| flyte_auth::jwt_claims(creds.access_token().secret()))?;
    claims.get("sub").and_then(|s| s.as_str()).map(String::from)
}

fn summary(
    configured: &flyte_auth::Configured,
    settings: &Settings,
    creds: Option<&Credentials>,
) -> serde_json::Value {
    let now = SystemTime::now();
    serde_json::json!({
        "endpoint": configured.store_key,
        "flow": settings.auth_mode.to_string(),
        "logged_in": creds.is_some_and(|c| is_valid(c, now)),
        "expires_at": creds.and_then(Credentials::expires_at).map(timefmt::rfc3339),
        "expires_in_secs": creds.and_then(Credentials::expires_at).and_then(|t| t.duration_since(now).ok()).map(|d| d.as_secs()),
        "scopes": creds.map(|c| c.scopes().to_vec()).unwrap_or_default(),
        "subject": creds.and_then(subject),
        "has_refresh_token": creds.is_some_and(|c| c.refresh_token().is_some()),
    })
}

fn print_status(
    configured: &flyte_auth::Configured,
    settings: &Settings,
    creds: Option<&Credentials>,
    valid: bool,
) {
    let now = SystemTime::now();
    println!("endpoint:  {}", configured.store_key);
    println!("flow:      {}", settings.auth_mode);
    let Some(c) = creds else {
        println!("status:    not logged in (run `flyte-auth login`)");
        return;
    };
    println!(
        "status:    {}",
        if valid {
            "logged in"
        } else {
            "expired (the next `flyte-auth token` refreshes it)"
        }
    );
    match c.expires_at() {
        Some(at) => println!(
            "expires:   {} ({})",
            timefmt::rfc3339(at),
            timefmt::relative(at, now)
        ),
        None => println!("expires:   unknown (used until a server rejects it)"),
    }
    if !c.scopes().is_empty() {
        println!("scopes:    {}", c.scopes().join(" "));
    }
    if let Some(sub) = subject(c) {
        println!("subject:   {sub}");
    }
    println!(
        "refresh:   {}",
        if c.refresh_token().is_some() {
            "refresh token stored"
        } else {
            "no refresh token"
        }
    );
}

async fn show_config(
    cli: &Cli,
    settings: &Settings,
    options: &FromConfigOptions,
) -> Result<u8, Failure> {
    let discovered = match flyte_auth::from_config(settings, options) {
        Ok(configured) => match &configured.client_config {
            Some(store) => Some(store.client_config().await),
            None => None,
        },
        Err(e) => Some(Err(e)),
    };
    let mut doc = serde_json::json!({
        "config_file": settings.source_file.as_ref().map(|p| p.display().to_string()),
        "endpoint": settings.endpoint,
        "insecure": settings.insecure,
        "insecure_skip_verify": settings.insecure_skip_verify,
        "ca_cert_file_path": settings.ca_cert_file_path.as_ref().map(|p| p.display().to_string()),
        "http_proxy_url": settings.http_proxy_url.as_deref().map(flyte_auth::config::redact_url_userinfo),
        "auth_mode": settings.auth_mode.to_string(),
        "client_id": settings.client_id,
        "client_secret": settings.client_secret.as_ref().map(|_| "[redacted]"),
        "client_secret_source": settings.client_secret_source.as_ref().map(|s| s.to_string()),
        "scopes": settings.scopes,
        "audience": settings.audience,
        "client_auth_method": settings.client_auth_method.map(|m| m.to_string()),
        "issuer": settings.issuer,
        "command": settings.command,
        "proxy_command": settings.proxy_command,
        "token_url": settings.token_url,
        "authorization_endpoint": settings.authorization_endpoint,
        "device_authorization_endpoint": settings.device_authorization_endpoint,
        "authorization_header": settings.authorization_header,
    });
    let mut code = 0;
    match discovered {
        Some(Ok(cc)) => {
            doc["discovered"] = serde_json::json!({
                "token_endpoint": cc.token_endpoint,
                "authorization_endpoint": cc.authorization_endpoint,
                "device_authorization_endpoint": cc.device_authorization_endpoint,
                "redirect_uri": cc.redirect_uri,
                "client_id": cc.client_id,
                "scopes": cc.scopes,
                "header_key": cc.header_key,
                "audience": cc.audience,
                "issuer": cc.issuer,
            });
        }
        Some(Err(e)) => {
            doc["discovery_error"] = serde_json::Value::String(e.to_string());
            code = Failure::Auth(e).code();
        }
        None => {}
    }
    match cli.output {
        Output::Json => println!("{doc}"),
        Output::Text => {
            if let Some(map) = doc.as_object() {
                for (k, v) in map {
                    if v.is_null() {
                        continue;
                    }
                    if let Some(inner) = v.as_object() {
                        println!("{k}:");
                        for (k2, v2) in inner.iter().filter(|(_, v)| !v.is_null()) {
                            println!("  {k2}: {}", plain(v2));
                        }
                    } else {
                        println!("{k}: {}", plain(v));
                    }
                }
            }
        }
    }
    Ok(code)
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

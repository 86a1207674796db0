//! `flyte-auth doctor`: what is wrong with this machine's setup, in order, with a fix for
//! each failure. Checks: the configuration, the endpoint reachable, TLS, discovery (each
//! document tried and what answered), the issuer's metadata, the redirect port and
//! `localhost`, the credential store, and a token request whose decoded claims (`iss`,
//! `aud`, `scope`, `exp`) are shown, never the token. `-o json` prints one object per check.
//! The exit code is 0 only when every check passed.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use flyte_auth::config::{AuthMode, Settings};
use flyte_auth::oauth2::{HttpClient, TransportOptions};
use flyte_auth::{AuthError, CredentialStore, ErrorKind, FromConfigOptions};
use serde_json::Value;

use crate::{Store, timefmt};

/// How long a connection attempt, a keyring call or the token request may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const STORE_TIMEOUT: Duration = Duration::from_secs(10);
const TOKEN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    Skip,
}

/// The outcome of one check.
#[derive(Debug)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn skip(name: &'static str, why: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Skip,
            detail: why.into(),
            fix: None,
        }
    }
}

/// Prints each check as soon as it is done.
struct Report {
    json: bool,
    failed: usize,
    total: usize,
}

impl Report {
    fn add(&mut self, check: Check) -> bool {
        self.total += 1;
        if check.status != Status::Pass {
            self.failed += 1;
        }
        let mut out = std::io::stdout().lock();
        let _ = if self.json {
            let status = match check.status {
                Status::Pass => "pass",
                Status::Fail => "fail",
                Status::Skip => "skip",
            };
            writeln!(
                out,
                "{}",
                serde_json::json!({"check": check.name, "status": status, "detail": check.detail, "fix": check.fix})
            )
        } else {
            let mark = match check.status {
                Status::Pass => "ok  ",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            let mut text = format!("{mark}  {:<10} {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                text.push_str(&format!("\n      fix: {fix}"));
            }
            writeln!(out, "{text}")
        };
        let _ = out.flush();
        check.status == Status::Pass
    }

    fn finish(&self) -> u8 {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = if self.failed == 0 {
                writeln!(out, "All {} checks passed.", self.total)
            } else {
                writeln!(
                    out,
                    "{} of {} checks did not pass.",
                    self.failed, self.total
                )
            };
        }
        if self.failed == 0 {
            0
        } else {
            crate::exit::FAILURE
        }
    }
}

/// What the command line tells doctor.
pub(crate) struct Inputs {
    /// The settings, or why they could not be loaded.
    pub(crate) settings: Result<Settings, String>,
    pub(crate) store: Store,
    pub(crate) options: FromConfigOptions,
    pub(crate) json: bool,
}

/// Runs the checks; returns the exit code.
pub(crate) async fn run(inputs: Inputs) -> u8 {
    let mut report = Report {
        json: inputs.json,
        failed: 0,
        total: 0,
    };
    let settings = match inputs.settings {
        Ok(s) => s,
        Err(e) => {
            report.add(Check::fail(
                "config",
                e,
                "fix the value named above, or point to another file with --config PATH \
                 (searched: --config, $FLYTECTL_CONFIG, ~/.flyte/config.yaml)",
            ));
            for name in [
                "endpoint",
                "tls",
                "discovery",
                "metadata",
                "redirect",
                "store",
                "token",
            ] {
                report.add(Check::skip(name, "needs a configuration"));
            }
            return report.finish();
        }
    };
    let config_ok = report.add(check_config(&settings));
    let target = Target::of(&settings);

    let endpoint_ok = match (&target, config_ok) {
        (Some(t), true) => report.add(check_endpoint(t, &settings).await),
        _ => report.add(Check::skip(
            "endpoint",
            "needs an endpoint in the configuration",
        )),
    };
    let http = match (&target, endpoint_ok) {
        (Some(t), true) => {
            let (check, http) = check_tls(t, &settings).await;
            report.add(check);
            http
        }
        _ => {
            report.add(Check::skip("tls", "needs a reachable endpoint"));
            None
        }
    };
    let metadata = match (&target, &http) {
        (Some(t), Some(http)) => {
            let (check, metadata) = check_discovery(t, &settings, http).await;
            report.add(check);
            metadata
        }
        _ => {
            report.add(Check::skip("discovery", "needs a working TLS connection"));
            None
        }
    };
    match &metadata {
        Some(m) => report.add(check_metadata(m, &settings)),
        None => report.add(Check::skip("metadata", "needs discovery")),
    };
    report.add(check_redirect(&settings, metadata.as_ref()).await);
    report.add(check_store(&settings, inputs.store).await);
    if report.failed == 0 {
        report.add(check_token(&settings, &inputs.options).await);
    } else {
        report.add(Check::skip(
            "token",
            "not requested until the checks above pass",
        ));
    }
    report.finish()
}

fn check_config(s: &Settings) -> Check {
    let file = match &s.source_file {
        Some(p) => p.display().to_string(),
        None => "no config file (flags and environment only)".to_string(),
    };
    let mut detail = format!("{file}: authType {}", s.auth_mode);
    if let Some(e) = &s.endpoint {
        detail.push_str(&format!(", endpoint {e}"));
    }
    if let Some(t) = &s.token_url {
        detail.push_str(&format!(", tokenUrl {t}"));
    }
    if let Some(i) = &s.issuer {
        detail.push_str(&format!(", issuer {i}"));
    }
    if let Some(c) = &s.client_id {
        detail.push_str(&format!(", clientId {c}"));
    }
    let missing = |what: &str, fix: &str| Check::fail("config", format!("{detail}; {what}"), fix);
    if s.endpoint.is_none()
        && s.token_url.is_none()
        && s.issuer.is_none()
        && s.auth_mode != AuthMode::ExternalCommand
    {
        return missing(
            "no endpoint",
            "set admin.endpoint in ~/.flyte/config.yaml (or FLYTE_PLATFORM_URL, --endpoint), \
             admin.issuer (or --issuer) for a plain OAuth 2.0 / OpenID Connect provider, or \
             admin.tokenUrl for static endpoints",
        );
    }
    // A private key or a federated token file authenticates the client instead of a secret.
    let client_authenticated = s.client_secret.is_some()
        || s.client_assertion_key_file.is_some()
        || s.federated_token_file.is_some();
    match s.auth_mode {
        AuthMode::ClientSecret if s.client_id.is_none() => missing(
            "no client id",
            "set admin.clientId (or FLYTE_CREDENTIALS_CLIENT_ID)",
        ),
        AuthMode::ClientSecret if !client_authenticated => missing(
            "no client secret",
            "set admin.clientSecretLocation (a file), admin.clientSecretEnvVar or \
             FLYTE_CREDENTIALS_CLIENT_SECRET (or admin.clientAssertionKeyFile / \
             admin.federatedTokenFile for a client assertion)",
        ),
        AuthMode::ExternalCommand if s.command.as_ref().is_none_or(Vec::is_empty) => missing(
            "no command",
            "set admin.command (or FLYTE_CREDENTIALS_COMMAND) to the argv that prints a token",
        ),
        _ => Check::pass("config", detail),
    }
}

mod discovery;
mod local;
mod network;
#[cfg(test)]
mod tests;

use discovery::*;
use local::*;
use network::*;

//! The redirect port, the credential store and a token.

use super::*;

pub(super) async fn check_redirect(s: &Settings, m: Option<&Metadata>) -> Check {
    const NAME: &str = "redirect";
    if s.auth_mode != AuthMode::Pkce {
        return Check::pass(NAME, format!("not used by {}", s.auth_mode));
    }
    let uri = m
        .and_then(|m| m.redirect_uri.clone())
        .or_else(|| s.redirect_uri.clone())
        .unwrap_or_else(|| flyte_auth::pkce::DEFAULT_REDIRECT_URI.to_string());
    let authority = uri
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default();
    let Some((host, port)) = split_host_port(authority, 80) else {
        return Check::fail(
            NAME,
            format!("the redirect URI {uri} is not http://<loopback host>:<port>/<path>"),
            "set admin.redirectUri to a loopback URI registered for the client, such as \
             http://localhost:53593/callback",
        );
    };
    // `localhost` must resolve to loopback addresses only.
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host(("localhost", 0))).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<_> = addrs.collect();
            if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
                return Check::fail(
                    NAME,
                    format!("localhost resolves to {addrs:?}, not only loopback addresses"),
                    "put `127.0.0.1 localhost` and `::1 localhost` in /etc/hosts",
                );
            }
        }
        _ => {
            return Check::fail(
                NAME,
                "localhost does not resolve",
                "put `127.0.0.1 localhost` in /etc/hosts",
            );
        }
    }
    let ip = match host.as_str() {
        "localhost" => "127.0.0.1".to_string(),
        other => other.to_string(),
    };
    match tokio::net::TcpListener::bind((ip.as_str(), port)).await {
        Ok(_) if port == 0 => Check::pass(
            NAME,
            format!("{uri}: any free port; localhost resolves to loopback"),
        ),
        Ok(_) => Check::pass(
            NAME,
            format!("{uri}: port {port} is free; localhost resolves to loopback"),
        ),
        Err(e) => Check::fail(
            NAME,
            format!("{uri}: cannot listen on {ip}:{port}: {e}"),
            format!(
                "another program (or another login) uses port {port}: stop it, or set \
                 admin.redirectUri to another port registered for the client"
            ),
        ),
    }
}

pub(super) async fn check_store(s: &Settings, store: Store) -> Check {
    const NAME: &str = "store";
    let interactive = matches!(s.auth_mode, AuthMode::Pkce | AuthMode::DeviceFlow);
    let key = s
        .endpoint
        .clone()
        .or_else(|| s.token_url.clone())
        .unwrap_or_else(|| "flyte-auth".to_string());
    match store {
        Store::Memory => Check::pass(
            NAME,
            "memory only (--store memory): nothing is kept between runs",
        ),
        Store::Keyring if !interactive => Check::pass(
            NAME,
            format!("not used by {} (a service keeps no login)", s.auth_mode),
        ),
        Store::Keyring => {
            let store = flyte_auth::keyring::KeyringStore::new();
            match tokio::time::timeout(STORE_TIMEOUT, store.load(&key)).await {
                Ok(Ok(found)) => Check::pass(
                    NAME,
                    format!(
                        "OS keyring reachable and unlocked; {}",
                        if found.is_some() {
                            "credentials stored for this endpoint"
                        } else {
                            "no credentials stored yet"
                        }
                    ),
                ),
                Ok(Err(e)) => Check::fail(
                    NAME,
                    e.to_string(),
                    "start or unlock the keyring (gnome-keyring, KeePassXC), or keep \
                     credentials in a file only you can read: --store file \
                     (FLYTE_AUTH_STORE=file)",
                ),
                Err(_) => Check::fail(
                    NAME,
                    format!(
                        "the keyring did not answer within {} s",
                        STORE_TIMEOUT.as_secs()
                    ),
                    "the Secret Service is wedged or waiting for a password prompt: unlock \
                     it, restart it, or use --store file",
                ),
            }
        }
        Store::File => match flyte_auth::store::FileStore::new() {
            Err(e) => Check::fail(
                NAME,
                e.to_string(),
                "set HOME (or XDG_STATE_HOME) to a directory you own",
            ),
            Ok(store) => {
                let path = store.path_for(&key);
                if let Some(problem) = permissions_problem(store.dir(), &path) {
                    return Check::fail(NAME, problem.0, problem.1);
                }
                match tokio::time::timeout(STORE_TIMEOUT, store.load(&key)).await {
                    Ok(Ok(found)) => Check::pass(
                        NAME,
                        format!(
                            "file store {}: {}",
                            store.dir().display(),
                            if found.is_some() {
                                "credentials stored, readable only by you"
                            } else {
                                "no credentials stored yet"
                            }
                        ),
                    ),
                    Ok(Err(e)) => Check::fail(
                        NAME,
                        e.to_string(),
                        format!("check the permissions of {}", store.dir().display()),
                    ),
                    Err(_) => Check::fail(
                        NAME,
                        "the credentials file did not answer in time",
                        "check the file system holding it",
                    ),
                }
            }
        },
    }
}

/// A credentials directory or file that others can read, with the fix.
#[cfg(unix)]
pub(super) fn permissions_problem(dir: &Path, file: &Path) -> Option<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    };
    if let Some(m) = mode(file).filter(|m| m & 0o077 != 0) {
        return Some((
            format!(
                "{} has mode {m:o}: other users can read the credentials",
                file.display()
            ),
            format!("chmod 600 {}", file.display()),
        ));
    }
    if let Some(m) = mode(dir).filter(|m| m & 0o077 != 0) {
        return Some((
            format!("{} has mode {m:o}: other users can list it", dir.display()),
            format!("chmod 700 {}", dir.display()),
        ));
    }
    None
}

#[cfg(not(unix))]
pub(super) fn permissions_problem(_dir: &Path, _file: &Path) -> Option<(String, String)> {
    None
}

pub(super) async fn check_token(s: &Settings, options: &FromConfigOptions) -> Check {
    const NAME: &str = "token";
    // Doctor never opens a browser or starts a device login.
    let options = options.clone().interactive(false);
    let configured = match flyte_auth::from_config(s, &options) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(NAME, e.to_string(), "fix the configuration named above");
        }
    };
    let creds =
        match tokio::time::timeout(TOKEN_TIMEOUT, configured.authenticator.credentials()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let fix = if e.is_interaction_required() {
                    "run `flyte-auth login` first"
                } else {
                    match e.kind() {
                        ErrorKind::OAuth | ErrorKind::AccessDenied => {
                            "the provider refused: check clientId, the client secret, scopes \
                             and audience against the client registered at the provider"
                        }
                        ErrorKind::Transport | ErrorKind::Timeout => {
                            "check the network path to the token endpoint"
                        }
                        ErrorKind::CommandFailed => "run the configured command by hand and fix it",
                        _ => "see the error above",
                    }
                };
                return Check::fail(NAME, e.to_string(), fix);
            }
            Err(_) => {
                return Check::fail(
                    NAME,
                    format!("no token within {} s", TOKEN_TIMEOUT.as_secs()),
                    "check the network path to the token endpoint",
                );
            }
        };
    Check::pass(NAME, describe_token(&creds, SystemTime::now()))
}

/// The token's decoded claims (`iss`, `aud`, `scope`, `exp`), never the token.
pub(super) fn describe_token(creds: &flyte_auth::Credentials, now: SystemTime) -> String {
    let exp = creds
        .expires_at()
        .map(|t| format!("{} ({})", timefmt::rfc3339(t), timefmt::relative(t, now)))
        .unwrap_or_else(|| "unknown".to_string());
    let Some(claims) = flyte_auth::jwt_claims(creds.access_token().secret()) else {
        return format!("an opaque access token (not a JWT); exp {exp}");
    };
    let show = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
        None => "-".to_string(),
    };
    format!(
        "a JWT access token: iss {}, aud {}, scope {}, exp {exp}",
        show(claims.get("iss")),
        show(claims.get("aud")),
        show(claims.get("scope").or_else(|| claims.get("scp"))),
    )
}

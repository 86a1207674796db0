//! [`CommandAuthenticator`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_core::{
    AuthError, CredentialStore, Credentials, EngineOptions, FetchContext, RetryPolicy, TokenEngine,
    TokenSource, async_trait,
};

use crate::parse::parse_output;
use crate::run::{self, CommandLine, CommandSpec, STDERR_LIMIT, STDOUT_LIMIT};

/// The default time limit of one command run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The header key of [`CommandAuthenticator::proxy_authorization`].
pub const PROXY_AUTHORIZATION: &str = "proxy-authorization";

/// A setting given to [`CommandAuthenticatorBuilder`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No command was given, or its argv is empty.
    #[error("no token command configured: set the command (argv) that prints a token")]
    MissingCommand,
    /// The program (`argv[0]`) is an empty string.
    #[error("the token command's program (its first word) is empty")]
    EmptyProgram,
    /// The header key is not a valid header or gRPC metadata name.
    #[error(
        "invalid header key {0:?}: use letters, digits and `-`, `_` or `.`, for example `authorization`"
    )]
    InvalidHeaderKey(String),
    /// The time limit is zero.
    #[error("the command timeout must be longer than zero")]
    ZeroTimeout,
}

impl From<BuildError> for AuthError {
    fn from(e: BuildError) -> Self {
        AuthError::configuration(e.to_string())
    }
}

/// Gets tokens by running an external command (DESIGN.md §2, §3).
///
/// The command is run as argv, without a shell, with the environment of this process and
/// stdin closed, under a time limit that kills its whole process group. It prints a token on
/// stdout, raw or as JSON (see the [crate docs](crate#output)). A token with a known expiry
/// (from the JSON, or the JWT `exp` claim) is cached until shortly before it expires; one
/// without is used until a server rejects it, and then
/// [`refresh_credentials`](auth_core::Authenticator::refresh_credentials) runs the command again.
///
/// Caching, single flight (concurrent callers share one run) and refresh-ahead come from the
/// shared [`TokenEngine`]. A failed run is never retried on its own.
pub struct CommandAuthenticator {
    engine: TokenEngine,
    source: Arc<CommandSource>,
}

impl fmt::Debug for CommandAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandAuthenticator")
            .field("engine", &self.engine)
            .finish()
    }
}

impl CommandAuthenticator {
    /// A builder; [`command`](CommandAuthenticatorBuilder::command) is required.
    pub fn builder() -> CommandAuthenticatorBuilder {
        CommandAuthenticatorBuilder::default()
    }

    /// A builder for a proxy-authorization command (Flyte's `proxyCommand`): its token goes
    /// into the `proxy-authorization` header.
    pub fn proxy_authorization<I, S>(argv: I) -> CommandAuthenticatorBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::builder()
            .command(argv)
            .header_key(PROXY_AUTHORIZATION)
    }

    /// The command's argv.
    pub fn command(&self) -> &[String] {
        &self.source().spec.argv
    }

    /// The command line, shell-quoted, as shown in messages.
    pub fn command_line(&self) -> String {
        CommandLine(self.command()).to_string()
    }

    /// The time limit of one run.
    pub fn timeout(&self) -> Duration {
        self.source().spec.timeout
    }

    fn source(&self) -> &CommandSource {
        &self.source
    }
}

/// How the engine runs the command.
struct CommandSource {
    spec: CommandSpec,
    header_key: String,
}

impl fmt::Debug for CommandSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSource")
            .field("command", &format_args!("{}", CommandLine(&self.spec.argv)))
            .field("timeout", &self.spec.timeout)
            .field("header_key", &self.header_key)
            .finish()
    }
}

#[async_trait]
impl TokenSource for CommandSource {
    async fn fetch(&self, _context: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        let finished = run::run(&self.spec).await?;
        if !finished.status.success() {
            return Err(run::exit_error(&self.spec.argv, &finished));
        }
        parse_output(&finished.stdout, SystemTime::now())
            .map_err(|e| e.context(format_args!("`{}`", CommandLine(&self.spec.argv))))
    }

    fn header_key(&self) -> Option<String> {
        Some(self.header_key.clone())
    }
}

auth_core::forward_authenticator!(CommandAuthenticator => engine);

/// Configures a [`CommandAuthenticator`].
///
/// ```
/// # fn main() -> Result<(), auth_command::BuildError> {
/// use std::time::Duration;
/// use auth_command::CommandAuthenticator;
///
/// let auth = CommandAuthenticator::builder()
///     .command(["gcloud", "auth", "print-access-token"])
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(auth.command_line(), "gcloud auth print-access-token");
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct CommandAuthenticatorBuilder {
    argv: Vec<String>,
    header_key: Option<String>,
    timeout: Option<Duration>,
    refresh_window: Option<Duration>,
    store: Option<Arc<dyn CredentialStore>>,
    store_key: String,
}

impl fmt::Debug for CommandAuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandAuthenticatorBuilder")
            .field("command", &format_args!("{}", CommandLine(&self.argv)))
            .field("header_key", &self.header_key)
            .field("timeout", &self.timeout)
            .field("refresh_window", &self.refresh_window)
            .field("store", &self.store)
            .field("store_key", &self.store_key)
            .finish()
    }
}

impl CommandAuthenticatorBuilder {
    /// The command to run, as argv: the program (looked up on `PATH` unless it is a path)
    /// and its arguments. No shell is involved; to use shell syntax, run
    /// `["sh", "-c", "..."]` explicitly.
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv = argv.into_iter().map(Into::into).collect();
        self
    }

    /// The header (or gRPC metadata) key that carries the token; `authorization` by default.
    /// Stored in lower case, as gRPC requires.
    pub fn header_key(mut self, key: impl Into<String>) -> Self {
        self.header_key = Some(key.into());
        self
    }

    /// The time limit of one run ([`DEFAULT_TIMEOUT`], 60 s, by default). When it runs out the
    /// command and every process it started are killed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long before expiry a new token is fetched in the background while callers still
    /// get the current one. `None` (the default): 5 minutes or 10 % of the token's lifetime,
    /// whichever is smaller.
    pub fn refresh_window(mut self, window: Option<Duration>) -> Self {
        self.refresh_window = window;
        self
    }

    /// Keeps tokens in `store` under `key` (the endpoint), so that other processes reuse them
    /// until they expire. None by default: most commands cache on their own.
    pub fn store(
        mut self,
        store: Option<Arc<dyn CredentialStore>>,
        key: impl Into<String>,
    ) -> Self {
        self.store = store;
        self.store_key = key.into();
        self
    }

    /// Checks the settings and builds the authenticator.
    pub fn build(self) -> Result<CommandAuthenticator, BuildError> {
        let Some(program) = self.argv.first() else {
            return Err(BuildError::MissingCommand);
        };
        if program.is_empty() {
            return Err(BuildError::EmptyProgram);
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let header_key = match self.header_key {
            Some(key) => {
                let valid = !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                if !valid {
                    return Err(BuildError::InvalidHeaderKey(key));
                }
                key.to_ascii_lowercase()
            }
            None => auth_core::DEFAULT_HEADER_KEY.to_string(),
        };
        let source = Arc::new(CommandSource {
            spec: CommandSpec {
                argv: self.argv,
                timeout,
                stdout_limit: STDOUT_LIMIT,
                stderr_limit: STDERR_LIMIT,
            },
            header_key,
        });
        // A command that failed is not run again on its own: its errors are final (a
        // person may have to act, and a timed-out run already took the whole time limit).
        let options = EngineOptions::default()
            .with_retry(RetryPolicy::none())
            .with_refresh_window(self.refresh_window)
            .with_store(self.store, self.store_key);
        let engine = TokenEngine::new(source.clone(), options);
        Ok(CommandAuthenticator { engine, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::Authenticator as _;

    #[test]
    fn build_errors_name_the_problem() {
        let e = CommandAuthenticator::builder().build().unwrap_err();
        assert_eq!(e, BuildError::MissingCommand);
        assert!(e.to_string().contains("no token command"), "{e}");
        let e = CommandAuthenticator::builder()
            .command(Vec::<String>::new())
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::MissingCommand);
        let e = CommandAuthenticator::builder()
            .command([""])
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::EmptyProgram);
        let e = CommandAuthenticator::builder()
            .command(["x"])
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::ZeroTimeout);
        let e = CommandAuthenticator::builder()
            .command(["x"])
            .header_key("bad key:")
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::InvalidHeaderKey("bad key:".into()));
        let auth_error = AuthError::from(e);
        assert_eq!(auth_error.kind(), auth_core::ErrorKind::Configuration);
    }

    #[test]
    fn header_keys() {
        let a = CommandAuthenticator::builder()
            .command(["x"])
            .build()
            .unwrap();
        assert_eq!(a.header_key(), "authorization");
        let a = CommandAuthenticator::builder()
            .command(["x"])
            .header_key("Flyte-Authorization")
            .build()
            .unwrap();
        assert_eq!(a.header_key(), "flyte-authorization");
        let a = CommandAuthenticator::proxy_authorization(["x", "y"])
            .build()
            .unwrap();
        assert_eq!(a.header_key(), "proxy-authorization");
        assert_eq!(a.command(), ["x", "y"]);
        assert_eq!(a.timeout(), DEFAULT_TIMEOUT);
    }

    #[test]
    fn debug_shows_the_command_line() {
        let a = CommandAuthenticator::builder()
            .command(["get token", "--x"])
            .build()
            .unwrap();
        let d = format!("{a:?}");
        assert!(d.contains("'get token' --x"), "{d}");
    }
}

//! No login that needs a person where no person can be: in a Kubernetes pod or a CI job
//! without a terminal, a browser or device login fails at once instead of waiting.

use std::io::IsTerminal;

use auth_core::{AuthError, Authenticator, Credentials, HeaderValue, SharedAuthenticator};

/// What the process can tell about where it runs, for deciding whether a person may be
/// asked to log in.
///
/// [`Surroundings::detect`] reads the process; tests and embedders build one with
/// [`Surroundings::from_env`] or the fields. [`Surroundings::default`] detects nothing, so
/// interaction stays allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Surroundings {
    /// `KUBERNETES_SERVICE_HOST` is set: the process runs in a Kubernetes pod.
    pub kubernetes: bool,
    /// `CI` is `true` (or `1`): GitHub Actions, GitLab CI, Buildkite and most others set it.
    pub ci: bool,
    /// stdin or stderr is a terminal: someone can read a prompt and answer it.
    pub terminal: bool,
}

impl Surroundings {
    /// The current process: its environment, and whether stdin or stderr is a terminal.
    pub fn detect() -> Self {
        let terminal = std::io::stdin().is_terminal() || std::io::stderr().is_terminal();
        Self::from_env(|name| std::env::var(name).ok(), terminal)
    }

    /// From an environment lookup and whether a terminal is attached.
    ///
    /// ```
    /// use flyte_auth::Surroundings;
    ///
    /// let pod = Surroundings::from_env(
    ///     |name| (name == "KUBERNETES_SERVICE_HOST").then(|| "10.0.0.1".to_owned()),
    ///     false,
    /// );
    /// assert!(pod.kubernetes && !pod.ci);
    /// assert!(pod.refusal().is_some());
    /// ```
    pub fn from_env(var: impl Fn(&str) -> Option<String>, terminal: bool) -> Self {
        let kubernetes = var("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.trim().is_empty());
        let ci = var("CI").is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("true") || v == "1"
        });
        Self {
            kubernetes,
            ci,
            terminal,
        }
    }

    /// Why a login that needs a person must not be attempted here, or `None` if it may be:
    /// in Kubernetes or CI with no terminal attached.
    pub fn refusal(&self) -> Option<String> {
        if self.terminal {
            return None;
        }
        let place = match (self.kubernetes, self.ci) {
            (true, _) => "in a Kubernetes pod (KUBERNETES_SERVICE_HOST is set)",
            (false, true) => "in CI (CI=true)",
            (false, false) => return None,
        };
        Some(format!(
            "this process runs {place} with no terminal attached, so a login that needs a person \
             (browser or device code) cannot succeed here. {NON_INTERACTIVE_MODES}"
        ))
    }
}

/// The advice every refusal ends with.
pub(crate) const NON_INTERACTIVE_MODES: &str = "Use a non-interactive auth mode: ClientSecret (admin.clientId with admin.clientSecretLocation, \
     admin.clientSecretEnvVar or FLYTE_CREDENTIALS_CLIENT_SECRET; or a Flyte API key in \
     FLYTE_API_KEY; or a client assertion: admin.federatedTokenFile for a projected \
     service-account token, admin.clientAssertionKeyFile for a private key), or ExternalCommand (admin.command / FLYTE_CREDENTIALS_COMMAND printing a \
     token, for example a workload identity token)";

/// An authenticator whose "interaction required" errors say why and what to use instead.
#[derive(Debug)]
pub(crate) struct Unattended {
    inner: SharedAuthenticator,
    refusal: String,
}

impl Unattended {
    pub(crate) fn wrap(inner: SharedAuthenticator, refusal: String) -> SharedAuthenticator {
        SharedAuthenticator::new(Self { inner, refusal })
    }

    fn explain(&self, e: AuthError) -> AuthError {
        if e.is_interaction_required() {
            AuthError::interaction_required(self.refusal.clone())
        } else {
            e
        }
    }
}

#[auth_core::async_trait]
impl Authenticator for Unattended {
    async fn credentials(&self) -> Result<Credentials, AuthError> {
        self.inner.credentials().await.map_err(|e| self.explain(e))
    }

    async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
        self.inner
            .refresh_credentials()
            .await
            .map_err(|e| self.explain(e))
    }

    fn header_key(&self) -> String {
        self.inner.header_key()
    }

    fn header_value(&self, credentials: &Credentials) -> HeaderValue {
        self.inner.header_value(credentials)
    }

    // Forwarded, not left to the trait's defaults: the inner flow resolves a discovered
    // header key here, and its login replaces stored credentials only on success.
    async fn authorization_header(&self) -> Result<(String, HeaderValue), AuthError> {
        self.inner
            .authorization_header()
            .await
            .map_err(|e| self.explain(e))
    }

    async fn login(&self) -> Result<Credentials, AuthError> {
        self.inner.login().await.map_err(|e| self.explain(e))
    }

    async fn stored_credentials(&self) -> Result<Option<Credentials>, AuthError> {
        self.inner.stored_credentials().await
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.inner.clear().await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with(vars: &[(&str, &str)], terminal: bool) -> Surroundings {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Surroundings::from_env(|name| env.get(name).cloned(), terminal)
    }

    #[test]
    fn a_pod_without_a_terminal_refuses_and_names_the_modes() {
        let s = with(&[("KUBERNETES_SERVICE_HOST", "10.96.0.1")], false);
        let why = s.refusal().expect("refused");
        assert!(why.contains("Kubernetes pod"), "{why}");
        for mode in ["ClientSecret", "ExternalCommand", "FLYTE_API_KEY"] {
            assert!(why.contains(mode), "{why}");
        }
    }

    #[test]
    fn ci_without_a_terminal_refuses() {
        for value in ["true", "TRUE", "1"] {
            let why = with(&[("CI", value)], false).refusal().expect("refused");
            assert!(why.contains("in CI"), "{why}");
        }
    }

    /// A flow whose header key is known only once it ran, with a login of its own.
    #[derive(Debug, Default)]
    struct Discovering {
        logins: std::sync::atomic::AtomicU32,
    }

    #[auth_core::async_trait]
    impl Authenticator for Discovering {
        async fn credentials(&self) -> Result<Credentials, AuthError> {
            Err(AuthError::interaction_required("log in"))
        }
        async fn refresh_credentials(&self) -> Result<Credentials, AuthError> {
            Err(AuthError::interaction_required("log in"))
        }
        async fn authorization_header(&self) -> Result<(String, HeaderValue), AuthError> {
            let c = Credentials::new(auth_core::AccessToken::new("t0ken"));
            Ok(("flyte-authorization".into(), self.header_value(&c)))
        }
        async fn login(&self) -> Result<Credentials, AuthError> {
            self.logins
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(AuthError::interaction_required("log in"))
        }
    }

    #[tokio::test]
    async fn the_wrapper_forwards_the_header_and_the_login_of_the_flow() {
        let inner = std::sync::Arc::new(Discovering::default());
        let wrapped = Unattended::wrap(
            SharedAuthenticator::from_arc(inner.clone()),
            "no login in a pod".into(),
        );
        let (key, _) = wrapped.authorization_header().await.unwrap();
        assert_eq!(key, "flyte-authorization");
        let e = wrapped.login().await.unwrap_err();
        assert!(e.message().contains("no login in a pod"), "{e}");
        assert_eq!(inner.logins.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_terminal_or_an_ordinary_machine_allows_interaction() {
        // kubectl exec -it gives the pod a terminal: a person is there.
        assert_eq!(
            with(&[("KUBERNETES_SERVICE_HOST", "10.96.0.1")], true).refusal(),
            None
        );
        assert_eq!(with(&[("CI", "true")], true).refusal(), None);
        assert_eq!(with(&[], false).refusal(), None);
        assert_eq!(
            with(&[("CI", "false"), ("KUBERNETES_SERVICE_HOST", "")], false).refusal(),
            None
        );
        assert_eq!(Surroundings::default().refusal(), None);
    }

    #[cfg(feature = "pkce")]
    #[tokio::test]
    async fn from_config_in_a_pod_fails_a_browser_login_at_once() {
        use std::sync::Arc;

        use auth_config::{AuthMode, Settings};

        use crate::{FromConfigOptions, MemoryStore, from_config};

        let mut settings = Settings::default();
        settings.auth_mode = AuthMode::Pkce;
        settings.insecure = true;
        settings.client_id = Some("flyte-cli".into());
        // Static endpoints nobody listens on: nothing may be contacted.
        settings.token_url = Some("http://127.0.0.1:9/token".into());
        settings.authorization_endpoint = Some("http://127.0.0.1:9/auth".into());
        // Without the check the login would wait for a browser; bound that wait.
        settings.pkce_timeout = Some(std::time::Duration::from_secs(2));
        let pod = with(&[("KUBERNETES_SERVICE_HOST", "10.96.0.1")], false);
        let options = FromConfigOptions::new()
            .store(Some(Arc::new(MemoryStore::new())))
            .no_browser(true)
            .surroundings(pod);
        let configured = from_config(&settings, &options).expect("builds");
        let err = configured
            .authenticator
            .credentials()
            .await
            .expect_err("no person here");
        assert!(err.is_interaction_required(), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("Kubernetes pod"), "{text}");
        assert!(
            text.contains("ClientSecret") && text.contains("ExternalCommand"),
            "{text}"
        );
    }
}

//! [`FromConfigOptions`]: the choices the configuration file does not make.

use super::*;

/// Choices the configuration file does not make: interaction, browser, prompts, storage.
#[derive(Clone)]
#[non_exhaustive]
pub struct FromConfigOptions {
    pub(super) interactive: bool,
    pub(super) no_browser: bool,
    pub(super) use_keyring: bool,
    pub(super) store: Option<Arc<dyn CredentialStore>>,
    pub(super) browser_prompt: Option<BrowserPrompt>,
    #[cfg(feature = "device")]
    pub(super) device_presenter: Option<Arc<dyn auth_device::DevicePresenter>>,
    #[cfg(feature = "pkce")]
    pub(super) pkce_progress: Option<Arc<dyn auth_pkce::LoginProgress>>,
    #[cfg(feature = "pkce")]
    pub(super) pkce_paste: Option<Arc<dyn auth_pkce::PasteInput>>,
    pub(super) surroundings: Option<Surroundings>,
}

/// Shows the browser login URL to the user (default: a line on stderr).
pub type BrowserPrompt = Arc<dyn Fn(&str) + Send + Sync>;

impl Default for FromConfigOptions {
    fn default() -> Self {
        Self {
            interactive: true,
            no_browser: false,
            use_keyring: true,
            store: None,
            browser_prompt: None,
            #[cfg(feature = "device")]
            device_presenter: None,
            #[cfg(feature = "pkce")]
            pkce_progress: None,
            #[cfg(feature = "pkce")]
            pkce_paste: None,
            surroundings: None,
        }
    }
}

impl fmt::Debug for FromConfigOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromConfigOptions")
            .field("interactive", &self.interactive)
            .field("no_browser", &self.no_browser)
            .field("use_keyring", &self.use_keyring)
            .field("store", &self.store)
            .field("surroundings", &self.surroundings)
            .finish_non_exhaustive()
    }
}

impl FromConfigOptions {
    /// Interactive, browser allowed, keyring (when compiled in) for interactive flows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows (default) or refuses browser and device logins.
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.interactive = interactive;
        self
    }

    /// Where the process runs, instead of [`Surroundings::detect`]. In a Kubernetes pod or a
    /// CI job with no terminal attached, a browser or device login fails at once with an
    /// error that names the non-interactive modes, instead of waiting for a person; pass
    /// [`Surroundings::default()`] to switch that check off.
    pub fn surroundings(mut self, surroundings: Surroundings) -> Self {
        self.surroundings = Some(surroundings);
        self
    }

    /// Prints the login URL instead of opening a browser.
    pub fn no_browser(mut self, no_browser: bool) -> Self {
        self.no_browser = no_browser;
        self
    }

    /// Stores the credentials of interactive flows in the OS keyring (default, when the
    /// `keyring` feature is on) or keeps them in memory only.
    pub fn use_keyring(mut self, use_keyring: bool) -> Self {
        self.use_keyring = use_keyring;
        self
    }

    /// Uses this credential store for every flow instead of the default choice.
    pub fn store(mut self, store: Option<Arc<dyn CredentialStore>>) -> Self {
        self.store = store;
        self
    }

    /// Shows the browser login URL with this function instead of a line on stderr (the
    /// command line uses it for `-o json`).
    pub fn browser_prompt(mut self, prompt: BrowserPrompt) -> Self {
        self.browser_prompt = Some(prompt);
        self
    }

    /// Tells `progress` the time left while a browser login is pending (default: nothing).
    #[cfg(feature = "pkce")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pkce")))]
    pub fn pkce_progress(mut self, progress: Arc<dyn auth_pkce::LoginProgress>) -> Self {
        self.pkce_progress = Some(progress);
        self
    }

    /// Also accepts the browser login's response pasted on the terminal, raced against the
    /// loopback redirect (a browser on another machine; default: the redirect alone).
    #[cfg(feature = "pkce")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pkce")))]
    pub fn pkce_paste(mut self, input: Arc<dyn auth_pkce::PasteInput>) -> Self {
        self.pkce_paste = Some(input);
        self
    }

    /// Shows the device login prompt with this presenter (default: text on stderr).
    #[cfg(feature = "device")]
    #[cfg_attr(docsrs, doc(cfg(feature = "device")))]
    pub fn device_presenter(mut self, presenter: Arc<dyn auth_device::DevicePresenter>) -> Self {
        self.device_presenter = Some(presenter);
        self
    }
}

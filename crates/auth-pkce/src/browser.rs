//! Opening the authorization URL in a browser.

use std::fmt;

use auth_core::AuthError;

/// Opens the authorization URL in a browser.
///
/// The flow prints the URL on stderr in any case, so a launcher that fails (no display, no
/// browser installed) does not stop the login: the person opens the URL by hand. The flow
/// calls `open` on a blocking thread with a time limit, so an implementation may block.
pub trait BrowserLauncher: Send + Sync + fmt::Debug {
    /// Opens `url`, an `http` or `https` URL.
    fn open(&self, url: &str) -> Result<(), AuthError>;
}

/// The platform's default browser through the [`webbrowser`] crate, which honours `$BROWSER`
/// and then tries `xdg-open` and friends (on macOS `open`, on Windows the shell).
///
/// Only `http` and `https` URLs are opened.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemBrowser;

impl BrowserLauncher for SystemBrowser {
    fn open(&self, url: &str) -> Result<(), AuthError> {
        ensure_http(url)?;
        webbrowser::open(url).map_err(|e| {
            AuthError::configuration(
                "could not open a web browser; open the URL printed above yourself, \
                 or set $BROWSER to the browser command",
            )
            .with_source(e)
        })
    }
}

/// A launcher made from a closure: for tests, and for applications that open URLs their own
/// way (a GUI, a remote session).
///
/// ```
/// use auth_pkce::FnLauncher;
///
/// let launcher = FnLauncher::new(|url: &str| {
///     println!("would open {url}");
///     Ok(())
/// });
/// # let _ = launcher;
/// ```
pub struct FnLauncher<F>(F);

impl<F> FnLauncher<F>
where
    F: Fn(&str) -> Result<(), AuthError> + Send + Sync,
{
    /// A launcher that calls `f` with the URL.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F> fmt::Debug for FnLauncher<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnLauncher(..)")
    }
}

impl<F> BrowserLauncher for FnLauncher<F>
where
    F: Fn(&str) -> Result<(), AuthError> + Send + Sync,
{
    fn open(&self, url: &str) -> Result<(), AuthError> {
        ensure_http(url)?;
        (self.0)(url)
    }
}

/// Refuses anything but `http:` and `https:` URLs, so that a hostile authorization endpoint in a
/// configuration or discovery document cannot make us open a `file:` URL or run a handler.
pub(crate) fn ensure_http(url: &str) -> Result<(), AuthError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => Err(AuthError::configuration(
            "refusing to open a URL that is not http or https in the browser; \
             check the authorization endpoint",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn fn_launcher_gets_http_urls_only() {
        let seen = Mutex::new(Vec::new());
        let l = FnLauncher::new(|u: &str| {
            seen.lock().unwrap().push(u.to_string());
            Ok(())
        });
        l.open("https://idp.example/auth?x=1").unwrap();
        l.open("http://127.0.0.1:1/auth").unwrap();
        assert!(l.open("file:///etc/passwd").is_err());
        assert!(l.open("javascript:alert(1)").is_err());
        assert!(l.open("not a url").is_err());
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert_eq!(format!("{l:?}"), "FnLauncher(..)");
    }

    #[test]
    fn system_browser_refuses_other_schemes() {
        assert!(SystemBrowser.open("file:///etc/passwd").is_err());
    }
}

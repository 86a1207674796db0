//! The login from a remote shell: when the browser is on another machine (`--no-browser`, or
//! an SSH session) and stdin is a terminal, the address the browser ended on (or the code)
//! can be pasted here; the flow races it against the loopback redirect and checks it as it
//! checks a redirect.

use std::io::{BufRead, IsTerminal};
use std::sync::{Arc, OnceLock};

use flyte_auth::async_trait;
use flyte_auth::pkce::PasteInput;
use tokio::sync::{Mutex, mpsc};

/// Whether to offer the paste: a terminal to paste on, and a browser that is probably not
/// on this machine.
pub(crate) fn wanted(no_browser: bool, interactive: bool) -> bool {
    let remote = ["SSH_CONNECTION", "SSH_TTY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    interactive && (no_browser || remote) && std::io::stdin().is_terminal()
}

/// The text prompt of a login that accepts a paste.
pub(crate) fn prompt(url: &str) {
    eprintln!(
        "Open this URL in a browser to log in:\n\n  {url}\n\n\
         If that browser is on another machine, it ends on a page that does not load: copy that \
         page's address from the address bar, paste it here and press Enter."
    );
}

/// Lines of stdin, read by one detached thread (a read of a terminal cannot be cancelled,
/// and the process must be able to exit while it blocks).
#[derive(Debug)]
pub(crate) struct StdinLines {
    lines: Mutex<mpsc::Receiver<String>>,
}

impl StdinLines {
    pub(crate) fn shared() -> Arc<StdinLines> {
        static SHARED: OnceLock<Arc<StdinLines>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let (tx, rx) = mpsc::channel(4);
                let spawned = std::thread::Builder::new()
                    .name("flyte-auth-stdin".into())
                    .spawn(move || {
                        let stdin = std::io::stdin();
                        let mut line = String::new();
                        loop {
                            line.clear();
                            match stdin.lock().read_line(&mut line) {
                                Ok(0) | Err(_) => break,
                                Ok(_) => {
                                    if tx.blocking_send(line.clone()).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    });
                if let Err(e) = spawned {
                    tracing::debug!(error = %e, "cannot read the terminal; waiting for the redirect alone");
                }
                Arc::new(StdinLines {
                    lines: Mutex::new(rx),
                })
            })
            .clone()
    }
}

#[async_trait]
impl PasteInput for StdinLines {
    async fn next_line(&self) -> Option<String> {
        self.lines.lock().await.recv().await
    }

    fn rejected(&self, why: &str) {
        eprintln!("{why}");
    }
}

//! The login from a remote shell (as kubelogin's `authcode-keyboard` and gcloud's
//! `--no-launch-browser` offer it): the browser runs on another machine, so its redirect to
//! this machine's loopback address fails there, and the person pastes the address the browser
//! ended on (or the code) on the terminal instead. The paste races the loopback listener:
//! whichever arrives first wins, and a pasted address is checked exactly as a redirect is
//! (`state` in constant time, then `iss`).

use std::fmt;

use auth_core::async_trait;

/// Lines the person types (or pastes) while the browser login is pending.
///
/// The flow reads lines until one is the login response of this attempt: an address with
/// `code` (or `error`), `state` and, when the provider sends it, `iss` (the address of the
/// page the browser ended on), or a bare authorization code. An address whose `state`
/// belongs to another attempt is [`rejected`](Self::rejected) and reading goes on.
#[async_trait]
pub trait PasteInput: Send + Sync + fmt::Debug {
    /// The next line, without its line end; `None` when the input has ended (the login then
    /// waits for the loopback redirect alone). Must be cancel safe: the flow drops the
    /// future when the redirect wins.
    async fn next_line(&self) -> Option<String>;

    /// A pasted line was not accepted; `why` says what to paste instead. Default: a line on
    /// stderr.
    fn rejected(&self, why: &str) {
        eprintln!("{why}");
    }
}

/// What a pasted line holds, before the `state` check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pasted<'a> {
    /// Nothing (an empty line).
    Nothing,
    /// The query of an address (or a bare `code=...&state=...`).
    Query(&'a str),
    /// A bare authorization code.
    Code(&'a str),
}

/// Reads a pasted line: an address (its query, fragment dropped), a query, or a code.
pub(crate) fn read(line: &str) -> Result<Pasted<'_>, &'static str> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Pasted::Nothing);
    }
    if line.contains('?') || line.contains('=') {
        let query = line.split_once('?').map_or(line, |(_, q)| q);
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        return Ok(Pasted::Query(query));
    }
    if line.contains("://") {
        return Err(
            "That address carries no login response (no code): paste the full address of the \
             page the browser ended on, with everything after the `?`.",
        );
    }
    if line.chars().any(|c| c.is_whitespace() || c.is_control()) || line.len() > 4096 {
        return Err(
            "That is neither an address nor a code: paste the address of the page the browser \
             ended on.",
        );
    }
    Ok(Pasted::Code(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_queries_and_codes() {
        assert_eq!(read("  \n"), Ok(Pasted::Nothing));
        assert_eq!(
            read("http://127.0.0.1:53593/callback?code=c1&state=s1&iss=http%3A%2F%2Fidp#frag\n"),
            Ok(Pasted::Query("code=c1&state=s1&iss=http%3A%2F%2Fidp"))
        );
        assert_eq!(
            read("code=c1&state=s1"),
            Ok(Pasted::Query("code=c1&state=s1"))
        );
        assert_eq!(read(" abc-DEF_123.x "), Ok(Pasted::Code("abc-DEF_123.x")));
        assert!(read("http://127.0.0.1:53593/callback").is_err());
        assert!(read("two words").is_err());
    }
}

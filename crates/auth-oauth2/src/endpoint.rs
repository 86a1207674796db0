//! The one check every flow applies to the endpoints it sends credentials to.

use auth_core::AuthError;
use url::{Host, Url};

/// Checks that an endpoint may carry credentials: an absolute `https` URL, or plain `http`
/// when the host is loopback (`localhost`, `127.0.0.0/8`, `[::1]`) or `allow_http` is set
/// (Flyte's `insecure` sandbox). `what` names the endpoint in the error, for example
/// `"token endpoint"`.
///
/// Every flow calls it for static endpoints when it is built and for discovered ones when
/// the configuration is resolved, so a discovery document cannot downgrade a login to plain
/// http. Errors are configuration errors that name the URL and what to do.
///
/// ```
/// use auth_oauth2::check_endpoint;
///
/// assert!(check_endpoint("token endpoint", "https://idp.example.com/token", false).is_ok());
/// assert!(check_endpoint("token endpoint", "http://127.0.0.1:8080/token", false).is_ok());
/// assert!(check_endpoint("token endpoint", "http://idp.example.com/token", true).is_ok());
/// let e = check_endpoint("token endpoint", "http://idp.example.com/token", false).unwrap_err();
/// assert!(e.to_string().contains("http://idp.example.com/token"));
/// ```
pub fn check_endpoint(what: &str, url: &str, allow_http: bool) -> Result<(), AuthError> {
    let parsed = Url::parse(url.trim()).map_err(|e| {
        AuthError::configuration(format!(
            "the {what} {url:?} is not a valid URL ({e}): use https://host/path"
        ))
    })?;
    let loopback = match parsed.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => {
            return Err(AuthError::configuration(format!(
                "the {what} {url:?} has no host: use https://host/path"
            )));
        }
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_http || loopback => Ok(()),
        "http" => Err(AuthError::configuration(format!(
            "the {what} {url:?} uses plain http, which would send credentials unencrypted over \
             the network: use https, or allow plain http explicitly (Flyte config: insecure; \
             builder: allow_http(true))"
        ))),
        other => Err(AuthError::configuration(format!(
            "the {what} {url:?} uses the scheme {other:?}: use https"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_or_when_allowed() {
        let ok = |url: &str, allow: bool| check_endpoint("token endpoint", url, allow);
        assert!(ok("https://idp.example.com/token", false).is_ok());
        assert!(ok("http://127.0.0.1:8080/token", false).is_ok());
        assert!(ok("http://127.8.9.10/token", false).is_ok());
        assert!(ok("http://[::1]:8080/token", false).is_ok());
        assert!(ok("http://localhost/token", false).is_ok());
        assert!(ok("http://LOCALHOST:1/token", false).is_ok());
        assert!(ok("http://idp.example.com/token", true).is_ok());

        let e = ok("http://idp.example.com/token", false).unwrap_err();
        assert_eq!(e.kind(), auth_core::ErrorKind::Configuration);
        let m = e.to_string();
        assert!(m.contains("\"http://idp.example.com/token\""), "{m}");
        assert!(m.contains("use https") && m.contains("allow_http"), "{m}");
        // Neither a look-alike host nor user info makes a host loopback.
        assert!(ok("http://localhost.example.com/token", false).is_err());
        assert!(ok("http://127.0.0.1@idp.example.com/token", false).is_err());

        for bad in [
            "idp.example.com/token",
            "ftp://idp/token",
            "file:///etc/passwd",
            "",
        ] {
            let e = ok(bad, true).unwrap_err();
            assert_eq!(e.kind(), auth_core::ErrorKind::Configuration, "{bad}");
        }
    }
}

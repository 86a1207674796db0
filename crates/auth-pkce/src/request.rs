//! The loopback redirect URI (RFC 8252 §7.3) and the authorization request URL.

use std::net::IpAddr;

use url::Url;

/// Where the loopback server listens, from the host of the redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LoopbackHost {
    /// `localhost`: both 127.0.0.1 and ::1, on one port.
    Localhost,
    /// A loopback IP literal such as `127.0.0.1` or `[::1]`: that address only.
    Ip(IpAddr),
}

/// A validated loopback redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RedirectUri {
    original: String,
    url: Url,
    host: LoopbackHost,
    port: u16,
}

impl RedirectUri {
    /// Parses and checks a redirect URI: `http`, a loopback host (`localhost`, `127.0.0.0/8`,
    /// `[::1]`), an explicit port (0 for any free port), no fragment, no user info.
    pub(crate) fn parse(uri: &str) -> Result<Self, String> {
        let url =
            Url::parse(uri).map_err(|e| format!("the redirect URI {uri:?} is not a URL ({e})"))?;
        if url.scheme() != "http" {
            return Err(format!(
                "the redirect URI {uri:?} must use http on a loopback address \
                 (for example http://localhost:53593/callback): the login server runs on this machine"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(format!(
                "the redirect URI {uri:?} must not contain user information or a fragment"
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                LoopbackHost::Localhost
            }
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => LoopbackHost::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => LoopbackHost::Ip(IpAddr::V6(ip)),
            _ => {
                return Err(format!(
                    "the redirect URI {uri:?} must name a loopback host (localhost, 127.0.0.1 or [::1]): \
                     this client receives the login response on this machine (RFC 8252)"
                ));
            }
        };
        // `Url::port` hides the scheme's default port; a loopback redirect URI names its port.
        let port = url.port().unwrap_or(80);
        Ok(Self {
            original: uri.to_string(),
            url,
            host,
            port,
        })
    }

    /// The host to bind.
    pub(crate) fn host(&self) -> &LoopbackHost {
        &self.host
    }

    /// The configured port (0: any free port).
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The path that the provider redirects to.
    pub(crate) fn path(&self) -> &str {
        self.url.path()
    }

    /// The redirect URI to send to the provider once the server listens on `port`: the
    /// configured text unchanged when its port was fixed (it must match the registration byte
    /// for byte), else with the chosen port filled in.
    pub(crate) fn with_bound_port(&self, port: u16) -> String {
        if self.port != 0 {
            return self.original.clone();
        }
        let mut url = self.url.clone();
        // Setting a port on an http URL with a host cannot fail.
        let _ = url.set_port(Some(port));
        url.to_string()
    }

    /// Whether a request path is the redirect path (a trailing slash tolerated).
    pub(crate) fn matches_path(&self, path: &str) -> bool {
        let want = self.path().trim_end_matches('/');
        let got = path.strip_suffix('/').unwrap_or(path);
        want == got || (want.is_empty() && path == "/")
    }
}

/// The parameters of one authorization request.
#[derive(Debug)]
pub(crate) struct AuthorizationRequest<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) redirect_uri: &'a str,
    pub(crate) scope: Option<String>,
    pub(crate) audience: Option<&'a str>,
    pub(crate) state: &'a str,
    /// The OpenID Connect `nonce`, sent when `scope` asks for `openid`.
    pub(crate) nonce: Option<&'a str>,
    pub(crate) code_challenge: &'a str,
    pub(crate) extra: &'a [(String, String)],
}

/// Parameters this flow sets itself; extra parameters may not override them.
pub(crate) const RESERVED_PARAMS: &[&str] = &[
    "client_id",
    "response_type",
    "scope",
    "redirect_uri",
    "state",
    "nonce",
    "audience",
    "code_challenge",
    "code_challenge_method",
];

impl AuthorizationRequest<'_> {
    /// The URL to open: the endpoint with its own query kept (minus any parameter this request
    /// sets), then `client_id`, `response_type=code`, `scope`, `redirect_uri`, `state`,
    /// `audience`, `code_challenge`, `code_challenge_method=S256` and the extra parameters.
    pub(crate) fn url(&self) -> Result<Url, String> {
        let mut url = Url::parse(self.endpoint).map_err(|e| {
            format!(
                "the authorization endpoint {:?} is not a URL ({e})",
                self.endpoint
            )
        })?;
        let own: Vec<&str> = RESERVED_PARAMS
            .iter()
            .copied()
            .chain(self.extra.iter().map(|(k, _)| k.as_str()))
            .collect();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !own.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        {
            let mut q = url.query_pairs_mut();
            q.extend_pairs(kept);
            q.append_pair("client_id", self.client_id);
            q.append_pair("response_type", "code");
            if let Some(scope) = &self.scope {
                q.append_pair("scope", scope);
            }
            q.append_pair("redirect_uri", self.redirect_uri);
            q.append_pair("state", self.state);
            if let Some(nonce) = self.nonce {
                q.append_pair("nonce", nonce);
            }
            if let Some(audience) = self.audience {
                q.append_pair("audience", audience);
            }
            q.append_pair("code_challenge", self.code_challenge);
            q.append_pair("code_challenge_method", "S256");
            for (k, v) in self.extra {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn query(url: &Url) -> Vec<(String, String)> {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn redirect_uri_kinds() {
        let r = RedirectUri::parse("http://localhost:53593/callback").unwrap();
        assert_eq!(r.host(), &LoopbackHost::Localhost);
        assert_eq!((r.port(), r.path()), (53593, "/callback"));
        assert_eq!(r.with_bound_port(1234), "http://localhost:53593/callback");
        let r = RedirectUri::parse("http://127.0.0.1:0/cb").unwrap();
        assert_eq!(r.host(), &LoopbackHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(r.with_bound_port(4321), "http://127.0.0.1:4321/cb");
        let r = RedirectUri::parse("http://[::1]:0/").unwrap();
        assert_eq!(r.host(), &LoopbackHost::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(r.with_bound_port(7), "http://[::1]:7/");
        let r = RedirectUri::parse("http://LOCALHOST/callback").unwrap();
        assert_eq!((r.host(), r.port()), (&LoopbackHost::Localhost, 80));
    }

    #[test]
    fn redirect_uri_rejects_non_loopback() {
        for bad in [
            "https://localhost:1/cb",
            "http://example.com:1/cb",
            "http://10.0.0.1:1/cb",
            "http://0.0.0.0:1/cb",
            "http://user@localhost:1/cb",
            "http://localhost:1/cb#frag",
            "localhost:1/cb",
            "",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn path_matching_tolerates_trailing_slash() {
        let r = RedirectUri::parse("http://localhost:1/callback").unwrap();
        assert!(r.matches_path("/callback"));
        assert!(r.matches_path("/callback/"));
        assert!(!r.matches_path("/callback//"));
        assert!(!r.matches_path("/favicon.ico"));
        assert!(!r.matches_path("/"));
        assert!(!r.matches_path("/callbackx"));
        let root = RedirectUri::parse("http://localhost:1").unwrap();
        assert!(root.matches_path("/"));
        assert!(!root.matches_path("/favicon.ico"));
    }

    #[test]
    fn authorization_url_keeps_query_and_adds_parameters() {
        let extra = vec![("prompt".to_string(), "login".to_string())];
        let req = AuthorizationRequest {
            endpoint: "https://idp.example/oauth2/authorize?tenant=a%20b&state=old",
            client_id: "flyte-cli",
            redirect_uri: "http://localhost:53593/callback",
            scope: Some("openid offline_access".into()),
            audience: Some("https://api.example"),
            state: "st4te",
            nonce: Some("n0nce"),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            extra: &extra,
        };
        let url = req.url().unwrap();
        assert_eq!(url.path(), "/oauth2/authorize");
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            query(&url),
            pairs(&[
                ("tenant", "a b"),
                ("client_id", "flyte-cli"),
                ("response_type", "code"),
                ("scope", "openid offline_access"),
                ("redirect_uri", "http://localhost:53593/callback"),
                ("state", "st4te"),
                ("nonce", "n0nce"),
                ("audience", "https://api.example"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
                ),
                ("code_challenge_method", "S256"),
                ("prompt", "login"),
            ])
        );
        assert!(
            url.as_str()
                .contains("redirect_uri=http%3A%2F%2Flocalhost%3A53593%2Fcallback")
        );
    }

    #[test]
    fn authorization_url_without_scope_or_audience() {
        let req = AuthorizationRequest {
            endpoint: "http://127.0.0.1:9/auth",
            client_id: "c",
            redirect_uri: "http://127.0.0.1:5/cb",
            scope: None,
            audience: None,
            state: "s",
            nonce: None,
            code_challenge: "x",
            extra: &[],
        };
        let keys: Vec<String> = query(&req.url().unwrap())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [
                "client_id",
                "response_type",
                "redirect_uri",
                "state",
                "code_challenge",
                "code_challenge_method"
            ]
        );
        let bad = AuthorizationRequest {
            endpoint: "not a url",
            ..req
        };
        assert!(bad.url().is_err());
    }
}

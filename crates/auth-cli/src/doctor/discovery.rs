//! Discovery (HTTP gateway, issuer, gRPC or Connect) and what the metadata says.

use super::*;

/// What a discovery document said, for the metadata check.
#[derive(Debug)]
pub(super) struct Metadata {
    pub(super) document: Value,
    pub(super) redirect_uri: Option<String>,
}

pub(super) async fn check_discovery(
    t: &Target,
    s: &Settings,
    http: &HttpClient,
) -> (Check, Option<Metadata>) {
    const NAME: &str = "discovery";
    if t.static_endpoints {
        let mut document = serde_json::json!({"token_endpoint": s.token_url});
        if let Some(a) = &s.authorization_endpoint {
            document["authorization_endpoint"] = Value::String(a.clone());
        }
        if let Some(d) = &s.device_authorization_endpoint {
            document["device_authorization_endpoint"] = Value::String(d.clone());
        }
        return (
            Check::pass(NAME, "static endpoints (admin.tokenUrl): discovery skipped"),
            Some(Metadata {
                document,
                redirect_uri: s.redirect_uri.clone(),
            }),
        );
    }
    if t.issuer {
        // RFC 8414 (with path insertion), then OpenID Connect discovery, as the flows do.
        return flow_discovery(
            s,
            format!("the issuer {} answered discovery", t.base),
            "check admin.issuer (or --issuer): it must serve \
             /.well-known/oauth-authorization-server or /.well-known/openid-configuration",
        )
        .await;
    }
    if s.discovery
        .as_deref()
        .is_some_and(|m| m != "auto" && m != "http")
    {
        // Forced to gRPC or Connect: the GET paths are not what the flows will use.
        return flow_discovery(
            s,
            format!(
                "the AuthMetadataService answered (admin.discovery: {})",
                s.discovery.as_deref().unwrap_or_default()
            ),
            "check that admin.endpoint is the Flyte endpoint and serves the \
             AuthMetadataService that admin.discovery names, or set admin.discovery to auto \
             to try every method",
        )
        .await;
    }
    let urls = [
        format!("{}/.well-known/oauth-authorization-server", t.base),
        format!("{}/config/v1/flyte_client", t.base),
        format!("{}/.well-known/openid-configuration", t.base),
    ];
    let (metadata, client, openid) = tokio::join!(
        http.get_json::<Value>(&urls[0]),
        http.get_json::<Value>(&urls[1]),
        http.get_json::<Value>(&urls[2]),
    );
    let said = |r: &Result<Value, AuthError>| match r {
        Ok(v) if v.is_object() => "answered".to_string(),
        Ok(_) => "answered, but not with a JSON object".to_string(),
        Err(e) => match e.status() {
            Some(code) => format!("HTTP {code}"),
            None => e.to_string(),
        },
    };
    let detail = format!(
        "GET {} -> {}; GET {} -> {}; GET {} -> {}",
        urls[0],
        said(&metadata),
        urls[1],
        said(&client),
        urls[2],
        said(&openid)
    );
    let document = match (metadata, openid) {
        (Ok(m), _) if m.is_object() => Some(m),
        (_, Ok(o)) if o.is_object() => Some(o),
        _ => None,
    };
    let client = client.ok().filter(Value::is_object);
    match (document, client) {
        (Some(document), Some(client)) => {
            let redirect_uri = s.redirect_uri.clone().or_else(|| {
                ["redirect_uri", "redirectUri"]
                    .iter()
                    .find_map(|k| client[*k].as_str())
                    .filter(|r| !r.is_empty())
                    .map(String::from)
            });
            (
                Check::pass(NAME, detail),
                Some(Metadata {
                    document,
                    redirect_uri,
                }),
            )
        }
        (document, _) => match discovered_document(s).await {
            // No HTTP gateway (Flyte 2, or Flyte 1 reached without it): gRPC or Connect.
            Ok(rpc) if s.discovery.as_deref() != Some("http") => (
                Check::pass(
                    NAME,
                    format!(
                        "{detail}; the AuthMetadataService answered over gRPC or Connect, \
                         which the flows use"
                    ),
                ),
                Some(Metadata {
                    document: rpc,
                    redirect_uri: s.redirect_uri.clone(),
                }),
            ),
            rpc => (
                Check::fail(
                    NAME,
                    match rpc {
                        Err(e) => format!("{detail}; over gRPC and Connect: {e}"),
                        Ok(_) => detail,
                    },
                    "the endpoint must serve Flyte's AuthMetadataService (over HTTP, gRPC or \
                     Connect): check that admin.endpoint is the Flyte endpoint (host:port) and \
                     that authentication is enabled there, or configure static endpoints \
                     (admin.tokenUrl, authorizationEndpoint, deviceAuthorizationEndpoint)",
                ),
                document.map(|document| Metadata {
                    document,
                    redirect_uri: s.redirect_uri.clone(),
                }),
            ),
        },
    }
}

/// The discovery check run through the configured flow's own discovery: `pass` when it
/// answers, else its error with `fix`.
async fn flow_discovery(s: &Settings, pass: String, fix: &str) -> (Check, Option<Metadata>) {
    const NAME: &str = "discovery";
    match discovered_document(s).await {
        Ok(document) => (
            Check::pass(NAME, pass),
            Some(Metadata {
                document,
                redirect_uri: s.redirect_uri.clone(),
            }),
        ),
        Err(e) => (Check::fail(NAME, e.to_string(), fix), None),
    }
}

/// The endpoints the configured flow discovers (from the issuer, or over gRPC or Connect when
/// the gateway's GET paths fail), as a discovery document for the metadata check.
pub(super) async fn discovered_document(s: &Settings) -> Result<Value, AuthError> {
    let options = FromConfigOptions::default().interactive(false);
    let configured = flyte_auth::from_config(s, &options)?;
    let store = configured.client_config.ok_or_else(|| {
        AuthError::configuration("this auth mode discovers nothing (no client configuration)")
    })?;
    let c = tokio::time::timeout(Duration::from_secs(30), store.client_config())
        .await
        .map_err(|_| AuthError::timeout("discovery did not answer within 30 s"))??;
    let mut d = serde_json::json!({
        "token_endpoint": c.token_endpoint,
        "token_endpoint_auth_methods_supported": c.token_endpoint_auth_methods_supported,
    });
    for (key, value) in [
        ("issuer", &c.issuer),
        ("authorization_endpoint", &c.authorization_endpoint),
        (
            "device_authorization_endpoint",
            &c.device_authorization_endpoint,
        ),
        ("revocation_endpoint", &c.revocation_endpoint),
    ] {
        if let Some(v) = value {
            d[key] = Value::String(v.clone());
        }
    }
    Ok(d)
}

pub(super) fn strings(v: &Value, key: &str) -> Option<Vec<String>> {
    let camel: String = {
        let mut out = String::new();
        let mut up = false;
        for c in key.chars() {
            if c == '_' {
                up = true;
            } else if up {
                out.extend(c.to_uppercase());
                up = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    let list = v.get(key).or_else(|| v.get(&camel))?.as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
    )
}

pub(super) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

pub(super) fn check_metadata(m: &Metadata, s: &Settings) -> Check {
    const NAME: &str = "metadata";
    let d = &m.document;
    let issuer = text(d, "issuer").unwrap_or("(not named)");
    let device =
        text(d, "device_authorization_endpoint").or_else(|| text(d, "deviceAuthorizationEndpoint"));
    let authorize = text(d, "authorization_endpoint").or_else(|| text(d, "authorizationEndpoint"));
    let token = text(d, "token_endpoint").or_else(|| text(d, "tokenEndpoint"));
    let pkce = strings(d, "code_challenge_methods_supported").unwrap_or_default();
    let auth_methods = strings(d, "token_endpoint_auth_methods_supported").unwrap_or_default();
    let revocation = text(d, "revocation_endpoint").is_some();
    let list = |l: &[String]| {
        if l.is_empty() {
            "not listed".to_string()
        } else {
            l.join(" ")
        }
    };
    let detail = format!(
        "issuer {issuer}; token endpoint {}; device endpoint {}; PKCE methods {}; client auth methods {}; revocation {}",
        if token.is_some() { "yes" } else { "no" },
        if device.is_some() { "yes" } else { "no" },
        list(&pkce),
        list(&auth_methods),
        if revocation { "yes" } else { "no" },
    );
    if token.is_none() {
        return Check::fail(
            NAME,
            detail,
            "the provider names no token_endpoint: enable authentication on the Flyte \
             deployment, or set admin.tokenUrl",
        );
    }
    match s.auth_mode {
        AuthMode::DeviceFlow if device.is_none() => Check::fail(
            NAME,
            detail,
            "the device flow needs a device authorization endpoint: enable it at the \
             provider, set admin.deviceAuthorizationEndpoint, or use authType: Pkce",
        ),
        AuthMode::Pkce if authorize.is_none() => Check::fail(
            NAME,
            detail,
            "a browser login needs an authorization endpoint: set \
             admin.authorizationEndpoint, or use authType: DeviceFlow",
        ),
        AuthMode::Pkce if !pkce.is_empty() && !pkce.iter().any(|m| m == "S256") => Check::fail(
            NAME,
            detail,
            "the provider does not offer PKCE with S256, the only method this client uses: \
             enable S256 at the provider",
        ),
        AuthMode::ClientSecret
            if !auth_methods.is_empty()
                && !auth_methods
                    .iter()
                    .any(|m| m == "client_secret_basic" || m == "client_secret_post") =>
        {
            Check::fail(
                NAME,
                detail,
                "the provider accepts neither client_secret_basic nor client_secret_post: \
                 enable one for the client",
            )
        }
        _ => Check::pass(NAME, detail),
    }
}

//! Reading the answers of a token endpoint: token responses (and the OAuth errors some
//! carry in a 2xx), device authorization responses, lenient numbers and strings.

use super::*;

/// A whole number of seconds from a JSON number or a numeric string (a lenient quirk).
pub(super) fn seconds(value: &Lenient, member: &str) -> Option<u64> {
    match value {
        Lenient::Num(n) => n.as_u64().or_else(|| {
            n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| {
                tracing::debug!(member, "a fractional number of seconds; rounding");
                f.round() as u64
            })
        }),
        Lenient::Str(s) => {
            let s = s.trim();
            let parsed = s.parse::<u64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f.round() as u64)
            });
            if parsed.is_some() {
                tracing::debug!(member, "a number sent as a string; accepting it");
            }
            parsed
        }
        _ => None,
    }
}

/// [`seconds`] for a member of a JSON object.
pub(crate) fn value_seconds(value: &Value, member: &str) -> Option<u64> {
    let lenient = match value {
        Value::Number(n) => Lenient::Num(n.clone()),
        Value::String(s) => Lenient::Str(s.clone()),
        _ => Lenient::Other,
    };
    seconds(&lenient, member)
}

/// `secs` as a duration of at most `cap`: a server's absurd value (`1e30`, `u64::MAX`) must
/// not overflow the deadlines computed from it.
pub(crate) fn capped(secs: u64, cap: Duration, member: &str) -> Duration {
    let duration = Duration::from_secs(secs);
    if duration > cap {
        tracing::debug!(
            member,
            secs,
            cap_secs = cap.as_secs(),
            "the server's value is implausibly large; using the cap"
        );
        cap
    } else {
        duration
    }
}

pub(super) fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

/// Parses a 2xx JSON body. Errors give the position only: the body may hold a token.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    response: &Response,
    what: &str,
) -> Result<T, AuthError> {
    serde_json::from_slice(&response.body).map_err(|e| {
        let problem = match e.classify() {
            serde_json::error::Category::Data => {
                "is JSON but not an object with the expected members"
            }
            _ => "is not valid JSON",
        };
        AuthError::invalid_response(format!(
            "{what}: the answer {problem} (line {}, column {})",
            e.line(),
            e.column()
        ))
        .with_status(response.status.as_u16())
    })
}

/// A JSON member read leniently: any type is accepted and the reader decides what it means.
#[derive(Debug)]
pub(super) enum Lenient {
    Str(String),
    Num(serde_json::Number),
    List(Vec<String>),
    Other,
}

impl<'de> serde::Deserialize<'de> for Lenient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Lenient, E> {
                Ok(Lenient::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Lenient, E> {
                Ok(Lenient::Str(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Lenient, E> {
                Ok(Lenient::Num(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Lenient, E> {
                Ok(Lenient::Num(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Lenient, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Lenient::Other, Lenient::Num))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Lenient, E> {
                Ok(Lenient::Other)
            }
            fn visit_unit<E>(self) -> Result<Lenient, E> {
                Ok(Lenient::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Lenient, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Lenient>()? {
                    if let Lenient::Str(s) = item {
                        items.push(s);
                    }
                }
                Ok(Lenient::List(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Lenient, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Lenient::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl Lenient {
    fn into_string(self) -> Option<String> {
        match self {
            Lenient::Str(s) if !s.trim().is_empty() => Some(s),
            _ => None,
        }
    }
}

/// The members of a token response this crate reads; the others are ignored.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct TokenBody {
    access_token: Option<Lenient>,
    token_type: Option<Lenient>,
    expires_in: Option<Lenient>,
    expires_on: Option<Lenient>,
    refresh_token: Option<Lenient>,
    id_token: Option<Lenient>,
    scope: Option<Lenient>,
    error: Option<Lenient>,
    error_description: Option<Lenient>,
    error_uri: Option<Lenient>,
    interval: Option<Lenient>,
}

/// Credentials from a 2xx token response (or the OAuth error it carries).
///
/// Expiry: `expires_in` (number or numeric string), else `expires_on` (epoch seconds), else
/// the JWT `exp` of the access token. Scopes: the response's `scope`, else the requested ones.
pub(crate) fn parse_token_response(
    body: TokenBody,
    status: u16,
    requested_scopes: &[String],
    now: SystemTime,
) -> Result<Credentials, AuthError> {
    if let Some(oauth) = body.error.and_then(Lenient::into_string).and_then(|code| {
        oauth_error(
            &code,
            body.error_description
                .and_then(Lenient::into_string)
                .as_deref(),
            body.error_uri.and_then(Lenient::into_string).as_deref(),
            body.interval.as_ref().and_then(|v| seconds(v, "interval")),
        )
    }) {
        tracing::debug!(status, error = %oauth.error, "a 2xx answer carries an OAuth error");
        return Err(AuthError::oauth(oauth, Some(status)));
    }
    let access_token = match body.access_token {
        Some(Lenient::Str(s)) if !s.is_empty() => AccessToken::new(s),
        Some(_) => {
            return Err(AuthError::invalid_response(
                "the token response's `access_token` member is not a non-empty string",
            )
            .with_status(status));
        }
        None => {
            return Err(AuthError::invalid_response(
                "the token response has no `access_token` member",
            )
            .with_status(status));
        }
    };
    let token_type = match body.token_type.and_then(Lenient::into_string) {
        Some(t) => {
            if t != "Bearer" && t.eq_ignore_ascii_case("bearer") {
                tracing::debug!(token_type = %t, "token_type in another case; reading it as Bearer");
            }
            t
        }
        None => {
            tracing::debug!("the token response has no token_type; assuming Bearer");
            "Bearer".to_string()
        }
    };
    let mut credentials = Credentials::new(access_token)
        .with_token_type(token_type)
        .with_refresh_token(
            body.refresh_token
                .and_then(Lenient::into_string)
                .map(RefreshToken::new),
        )
        .with_id_token(
            body.id_token
                .and_then(Lenient::into_string)
                .map(IdToken::new),
        );
    let expires_in = body
        .expires_in
        .as_ref()
        .and_then(|v| seconds(v, "expires_in"));
    let expires_on = body
        .expires_on
        .as_ref()
        .and_then(|v| seconds(v, "expires_on"));
    credentials = match (expires_in, expires_on) {
        (Some(secs), _) => credentials.with_expiry_from(Some(secs), now),
        (None, Some(epoch)) => {
            tracing::debug!("expiry taken from expires_on");
            credentials
                .with_expires_at(SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(epoch)))
        }
        (None, None) => credentials.with_expiry_from(None, now),
    };
    let scopes: Vec<String> = match body.scope {
        Some(Lenient::Str(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Lenient::List(items)) => {
            tracing::debug!("scope sent as a JSON array; accepting it");
            items
        }
        _ => Vec::new(),
    };
    let scopes = if scopes.is_empty() {
        clean_scopes(requested_scopes)
    } else {
        scopes
    };
    Ok(credentials.with_scopes(scopes))
}

pub(crate) fn parse_device_authorization(
    mut map: Map<String, Value>,
) -> Result<DeviceAuthorization, AuthError> {
    let device_code = take_string(&mut map, "device_code")
        .map(DeviceCode::new)
        .ok_or_else(|| AuthError::invalid_response("the answer has no `device_code` member"))?;
    let user_code = take_string(&mut map, "user_code")
        .ok_or_else(|| AuthError::invalid_response("the answer has no `user_code` member"))?;
    let verification_uri = match take_string(&mut map, "verification_uri") {
        Some(uri) => uri,
        None => {
            let uri = take_string(&mut map, "verification_url").ok_or_else(|| {
                AuthError::invalid_response("the answer has no `verification_uri` member")
            })?;
            tracing::debug!("verification_url instead of verification_uri; accepting it");
            uri
        }
    };
    let verification_uri_complete =
        take_string(&mut map, "verification_uri_complete").or_else(|| {
            let uri = take_string(&mut map, "verification_url_complete");
            if uri.is_some() {
                tracing::debug!("verification_url_complete instead of verification_uri_complete");
            }
            uri
        });
    let expires_in = match map
        .get("expires_in")
        .and_then(|v| value_seconds(v, "expires_in"))
    {
        Some(secs) => capped(secs, MAX_DEVICE_CODE_LIFETIME, "expires_in"),
        None => {
            tracing::debug!("the device authorization has no expires_in; assuming 10 minutes");
            Duration::from_secs(600)
        }
    };
    let interval = map
        .get("interval")
        .and_then(|v| value_seconds(v, "interval"))
        .map(|secs| capped(secs, MAX_POLL_INTERVAL, "interval"));
    Ok(DeviceAuthorization {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        interval,
    })
}

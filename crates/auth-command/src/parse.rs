//! What a token command prints: a raw token, or JSON recognised by its shape.
//!
//! - A raw token: surrounding whitespace (and a UTF-8 byte order mark) is ignored; the rest
//!   must be one word of printable ASCII, since it goes into a header.
//! - `{"access_token" | "token" | "accessToken": "...", ...}` with an optional expiry:
//!   `expires_in` (seconds, number or numeric string), or an absolute `expires_at`,
//!   `expiresAt`, `expiry`, `expires_on`, `expiresOn` or `expirationTimestamp`.
//! - A Kubernetes `ExecCredential`: `status.token` and `status.expirationTimestamp`.
//! - `az account get-access-token`: `accessToken`, with `expires_on` (epoch seconds) or the
//!   older `expiresOn` (a local time such as `2024-01-01 12:00:00.000000`).
//!
//! Absolute times are RFC 3339 timestamps (`2024-01-01T12:00:00Z`, any offset), epoch seconds
//! (numbers or numeric strings; values too large to be seconds are read as milliseconds), or
//! a date and time without offset, read in the local time zone (as `az` writes them). Go's
//! zero time (`0001-01-01T00:00:00Z`, what `oauth2.Token` writes for "no expiry") and other
//! times before 1971 mean "no expiry". Without an explicit expiry, the token's JWT `exp`
//! claim is used when it has one; otherwise the token is used until a server rejects it.
//!
//! Error messages name fields and say what was expected, but never quote the output.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{AccessToken, AuthError, Credentials};
use serde_json::{Map, Value};

/// Field names that hold the token, in order of preference.
const TOKEN_FIELDS: [&str; 3] = ["access_token", "token", "accessToken"];
/// Field names that hold a relative expiry in seconds.
const RELATIVE_EXPIRY_FIELDS: [&str; 2] = ["expires_in", "expiresIn"];
/// Field names that hold an absolute expiry. `expires_on` (epoch seconds in `az`) comes before
/// `expiresOn` (a local time in `az`) because it is unambiguous.
const ABSOLUTE_EXPIRY_FIELDS: [&str; 6] = [
    "expires_at",
    "expiresAt",
    "expiry",
    "expires_on",
    "expiresOn",
    "expirationTimestamp",
];
/// Times before this (1971-01-01) mean "no expiry".
const EARLIEST_EXPIRY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Epoch numbers above this (the year 5138 in seconds) are read as milliseconds.
const MILLIS_THRESHOLD: f64 = 1e11;

/// Reads a command's stdout, received at `now`.
pub(crate) fn parse_output(stdout: &[u8], now: SystemTime) -> Result<Credentials, AuthError> {
    parse_output_in(stdout, now, &jiff::tz::TimeZone::system())
}

/// [`parse_output`] with the time zone for times without an offset.
pub(crate) fn parse_output_in(
    stdout: &[u8],
    now: SystemTime,
    local: &jiff::tz::TimeZone,
) -> Result<Credentials, AuthError> {
    let text = std::str::from_utf8(stdout).map_err(|_| {
        AuthError::command_failed("printed output that is not UTF-8; expected a token or JSON")
    })?;
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(AuthError::command_failed(
            "printed nothing on stdout; expected a token or a JSON document holding one",
        ));
    }
    if text.starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            // serde_json's message gives a position and what it expected, never the input.
            AuthError::command_failed(format!("printed invalid JSON on stdout ({e})"))
        })?;
        let Value::Object(map) = value else {
            return Err(AuthError::command_failed(
                "printed JSON that is not an object",
            ));
        };
        return parse_json(&map, now, local);
    }
    Ok(credentials(check_token(text, "its output")?, None, now))
}

fn credentials(token: &str, expires_at: Option<SystemTime>, now: SystemTime) -> Credentials {
    let c = Credentials::new(AccessToken::new(token));
    match expires_at {
        Some(at) => c.with_expires_at(Some(at)),
        None => c.with_expiry_from(None, now),
    }
}

/// Checks that `token` can go into a header: one word of printable ASCII.
fn check_token<'a>(token: &'a str, what: &str) -> Result<&'a str, AuthError> {
    if token.is_empty() {
        return Err(AuthError::command_failed(format!(
            "printed an empty token in {what}"
        )));
    }
    if token.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(AuthError::command_failed(format!(
            "printed more than one word in {what}; a token command must print only the token \
             on stdout (diagnostics belong on stderr)"
        )));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AuthError::command_failed(format!(
            "printed a token with control or non-ASCII characters in {what}; it cannot be sent \
             in a header"
        )));
    }
    Ok(token)
}

fn parse_json(
    map: &Map<String, Value>,
    now: SystemTime,
    local: &jiff::tz::TimeZone,
) -> Result<Credentials, AuthError> {
    // Kubernetes ExecCredential (client.authentication.k8s.io/v1 and v1beta1).
    let is_exec_credential = map.get("kind").and_then(Value::as_str) == Some("ExecCredential");
    if let Some(Value::Object(status)) = map.get("status")
        && (is_exec_credential || status.contains_key("token"))
    {
        let token = match status.get("token") {
            Some(Value::String(t)) => check_token(t.trim(), "`status.token`")?,
            Some(_) => return Err(not_a_string("status.token")),
            None if status.contains_key("clientCertificateData") => {
                return Err(AuthError::command_failed(
                    "printed an ExecCredential with a client certificate; only tokens \
                     (`status.token`) are supported",
                ));
            }
            None => {
                return Err(AuthError::command_failed(
                    "printed an ExecCredential without `status.token`",
                ));
            }
        };
        let expires_at = match status.get("expirationTimestamp") {
            Some(v) => absolute_expiry(v, "status.expirationTimestamp", local)?,
            None => None,
        };
        return Ok(credentials(token, expires_at, now));
    }
    if is_exec_credential {
        return Err(AuthError::command_failed(
            "printed an ExecCredential without `status.token`",
        ));
    }

    let Some((field, value)) = TOKEN_FIELDS
        .iter()
        .find_map(|f| map.get(*f).map(|v| (*f, v)))
    else {
        let mut keys: Vec<String> = map.keys().take(10).map(|k| field_name(k)).collect();
        keys.sort_unstable();
        return Err(AuthError::command_failed(format!(
            "printed JSON without a token: expected `access_token`, `token`, `accessToken` or a \
             Kubernetes ExecCredential with `status.token`; found the fields [{}]",
            keys.join(", ")
        )));
    };
    let token = match value {
        Value::String(t) => check_token(t.trim(), &format!("`{field}`"))?,
        _ => return Err(not_a_string(field)),
    };

    let mut expires_at = None;
    if let Some((f, v)) = first_present(map, &RELATIVE_EXPIRY_FIELDS) {
        let secs = number(v).ok_or_else(|| {
            AuthError::command_failed(format!("printed `{f}` that is not a number of seconds"))
        })?;
        expires_at = Some(now + Duration::from_secs_f64(secs.clamp(0.0, 1e12)));
    } else if let Some((f, v)) = first_present(map, &ABSOLUTE_EXPIRY_FIELDS) {
        expires_at = absolute_expiry(v, f, local)?;
    }
    let mut c = credentials(token, expires_at, now);
    if let Some(t) = map
        .get("token_type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        c = c.with_token_type(t);
    }
    Ok(c)
}

/// A field name of the output, safe to show in a message: printable ASCII (anything else,
/// escape sequences and bidi overrides included, becomes `?`), at most 40 characters.
fn field_name(name: &str) -> String {
    let mut shown: String = name
        .chars()
        .take(40)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect();
    if name.chars().nth(40).is_some() {
        shown.push_str("...");
    }
    shown
}

fn not_a_string(field: &str) -> AuthError {
    AuthError::command_failed(format!("printed JSON whose `{field}` is not a string"))
}

/// The first of `fields` that is present and not `null`.
fn first_present<'a>(
    map: &'a Map<String, Value>,
    fields: &[&'static str],
) -> Option<(&'static str, &'a Value)> {
    fields
        .iter()
        .find_map(|f| map.get(*f).filter(|v| !v.is_null()).map(|v| (*f, v)))
}

/// A number, or a string holding one.
fn number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// An absolute expiry (see the module docs); `Ok(None)` means "no expiry".
fn absolute_expiry(
    v: &Value,
    field: &str,
    local: &jiff::tz::TimeZone,
) -> Result<Option<SystemTime>, AuthError> {
    if v.is_null() {
        return Ok(None);
    }
    let at = if let Some(n) = number(v) {
        let secs = if n > MILLIS_THRESHOLD { n / 1000.0 } else { n };
        if secs < 0.0 {
            return Ok(None);
        }
        UNIX_EPOCH.checked_add(Duration::from_secs_f64(secs.min(1e12)))
    } else if let Some(s) = v.as_str() {
        parse_time(s.trim(), local)
    } else {
        None
    };
    let Some(at) = at else {
        return Err(AuthError::command_failed(format!(
            "printed `{field}` that is not a time: expected an RFC 3339 timestamp \
             (2024-01-01T12:00:00Z), epoch seconds, or a local date and time"
        )));
    };
    Ok((at >= UNIX_EPOCH + EARLIEST_EXPIRY).then_some(at))
}

/// An RFC 3339 timestamp, or a date and time without offset read in `local`.
fn parse_time(s: &str, local: &jiff::tz::TimeZone) -> Option<SystemTime> {
    let timestamp = match s.parse::<jiff::Timestamp>() {
        Ok(ts) => ts,
        Err(_) => s
            .parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned_datetime(local.clone())
            .ok()?
            .timestamp(),
    };
    // Times before the epoch (Go's zero time) are "no expiry"; clamp them to the epoch.
    if timestamp.as_second() < 0 {
        return Some(UNIX_EPOCH);
    }
    SystemTime::try_from(timestamp).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn now() -> SystemTime {
        UNIX_EPOCH + NOW
    }

    fn parse(s: &str) -> Result<Credentials, AuthError> {
        parse_output_in(
            s.as_bytes(),
            now(),
            &jiff::tz::TimeZone::fixed(jiff::tz::offset(-5)),
        )
    }

    fn epoch(secs: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn jwt(exp: u64) -> String {
        // {"alg":"none"} . {"exp":<exp>} . sig, base64url without padding.
        fn b64(s: &str) -> String {
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let b = s.as_bytes();
            let mut out = String::new();
            for chunk in b.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, &c)| n | (u32::from(c) << (16 - 8 * i)));
                for i in 0..=chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        }
        format!(
            "{}.{}.sig",
            b64(r#"{"alg":"none"}"#),
            b64(&format!(r#"{{"exp":{exp}}}"#))
        )
    }

    #[test]
    fn raw_token_is_trimmed() {
        let c = parse("  tok-123\n").unwrap();
        assert_eq!(c.access_token().secret(), "tok-123");
        assert_eq!(c.expires_at(), None);
        let c = parse("\u{feff}tok\r\n").unwrap();
        assert_eq!(c.access_token().secret(), "tok");
    }

    #[test]
    fn raw_jwt_gets_its_exp() {
        let c = parse(&format!("{}\n", jwt(1_700_000_600))).unwrap();
        assert_eq!(c.expires_at(), epoch(1_700_000_600));
    }

    #[test]
    fn bad_raw_output_is_refused_without_quoting_it() {
        for (out, says) in [
            ("", "printed nothing"),
            (" \n\t ", "printed nothing"),
            ("Your token:\nsekrit-value\n", "more than one word"),
            ("sekrit\u{7}value", "control or non-ASCII"),
            ("sekrit-välue", "control or non-ASCII"),
        ] {
            let e = parse(out).unwrap_err();
            assert_eq!(e.kind(), auth_core::ErrorKind::CommandFailed);
            assert!(e.to_string().contains(says), "{e}");
            assert!(!e.to_string().contains("sekrit"), "{e}");
        }
        let e = parse_output_in(b"\xff\xfe", now(), &jiff::tz::TimeZone::UTC).unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }

    #[test]
    fn json_with_expires_in() {
        let c = parse(r#"{"access_token":"at","expires_in":3600,"token_type":"bearer"}"#).unwrap();
        assert_eq!(c.access_token().secret(), "at");
        assert_eq!(c.expires_at(), Some(now() + Duration::from_secs(3600)));
        assert_eq!(c.token_type(), "Bearer");
        let c = parse(r#"{"token":"t","expires_in":"120"}"#).unwrap();
        assert_eq!(c.expires_at(), Some(now() + Duration::from_secs(120)));
        let c = parse(r#"{"token":"t","expires_in":-5}"#).unwrap();
        assert_eq!(c.expires_at(), Some(now()));
    }

    #[test]
    fn json_with_absolute_expiry() {
        for (field, value, want) in [
            ("expires_at", "1700003600", epoch(1_700_003_600)),
            ("expires_at", r#""1700003600""#, epoch(1_700_003_600)),
            ("expires_at", "1700003600000", epoch(1_700_003_600)),
            ("expiry", r#""2023-11-14T23:13:20Z""#, epoch(1_700_003_600)),
            (
                "expiry",
                r#""2023-11-14T23:13:20.000000001+00:00""#,
                Some(UNIX_EPOCH + Duration::new(1_700_003_600, 1)),
            ),
            (
                "expiry",
                r#""2023-11-15T00:13:20+01:00""#,
                epoch(1_700_003_600),
            ),
            ("expiry", r#""0001-01-01T00:00:00Z""#, None),
            ("expires_at", "0", None),
            ("expires_at", "null", None),
            // No offset: local time, here UTC-5.
            (
                "expiresOn",
                r#""2023-11-14 18:13:20.000000""#,
                epoch(1_700_003_600),
            ),
            (
                "expirationTimestamp",
                r#""2023-11-14T23:13:20Z""#,
                epoch(1_700_003_600),
            ),
        ] {
            let c = parse(&format!(r#"{{"access_token":"at","{field}":{value}}}"#)).unwrap();
            assert_eq!(c.expires_at(), want, "{field}: {value}");
        }
    }

    #[test]
    fn json_without_expiry_uses_jwt_exp() {
        let c = parse(&format!(r#"{{"token":"{}"}}"#, jwt(1_700_000_900))).unwrap();
        assert_eq!(c.expires_at(), epoch(1_700_000_900));
        let c = parse(r#"{"token":"opaque"}"#).unwrap();
        assert_eq!(c.expires_at(), None);
    }

    #[test]
    fn exec_credential() {
        let c = parse(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",
                "spec":{"interactive":false},
                "status":{"token":"k8s-token","expirationTimestamp":"2023-11-14T23:13:20Z"}}"#,
        )
        .unwrap();
        assert_eq!(c.access_token().secret(), "k8s-token");
        assert_eq!(c.expires_at(), epoch(1_700_003_600));

        let e = parse(r#"{"kind":"ExecCredential","status":{"clientCertificateData":"x","clientKeyData":"y"}}"#).unwrap_err();
        assert!(e.to_string().contains("client certificate"), "{e}");
        let e = parse(r#"{"kind":"ExecCredential","apiVersion":"v1"}"#).unwrap_err();
        assert!(e.to_string().contains("status.token"), "{e}");
    }

    #[test]
    fn az_account_get_access_token() {
        let c = parse(
            r#"{"accessToken":"az-token","expiresOn":"2023-11-14 18:13:20.000000",
                "expires_on":1700003600,"subscription":"s","tenant":"t","tokenType":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(c.access_token().secret(), "az-token");
        assert_eq!(c.expires_at(), epoch(1_700_003_600));
        // Older az: only the local time.
        let c = parse(r#"{"accessToken":"az-token","expiresOn":"2023-11-14 18:13:20.000000"}"#)
            .unwrap();
        assert_eq!(c.expires_at(), epoch(1_700_003_600));
    }

    #[test]
    fn bad_json_is_refused_without_quoting_it() {
        for (out, says) in [
            (r#"{"access_token":"sekrit-1""#, "invalid JSON"),
            (r#"{"access_token":42}"#, "`access_token` is not a string"),
            (r#"{"access_token":""}"#, "empty token"),
            (r#"{"access_token":"sekrit two"}"#, "more than one word"),
            (
                r#"{"id":"sekrit-id","value":"x"}"#,
                "found the fields [id, value]",
            ),
            (
                r#"{"access_token":"sekrit","expires_in":"soon"}"#,
                "`expires_in` that is not a number",
            ),
            (
                r#"{"access_token":"sekrit","expiry":"tomorrow"}"#,
                "`expiry` that is not a time",
            ),
            (
                r#"{"access_token":"sekrit","expiry":true}"#,
                "`expiry` that is not a time",
            ),
        ] {
            let e = parse(out).unwrap_err();
            assert_eq!(e.kind(), auth_core::ErrorKind::CommandFailed);
            let msg = e.to_string();
            assert!(msg.contains(says), "{msg}");
            assert!(!msg.contains("sekrit"), "{msg}");
        }
    }
}

//! How credentials are laid out in a keyring: one entry per token, flytekit-compatible, plus
//! one metadata entry of ours, with large values split into pieces.
//!
//! This module is synchronous and knows nothing about deadlines or threads: it runs on the
//! blocking thread that [`crate::KeyringStore`] starts for every operation, against any
//! [`Entries`] (one keyring service, addressed by user name).
//!
//! # Layout for one endpoint (the keyring *service*)
//!
//! | user name         | value                                                   |
//! |-------------------|---------------------------------------------------------|
//! | `access_token`    | the raw access token, or a chunk header                 |
//! | `refresh_token`   | the raw refresh token, or a chunk header (optional)     |
//! | `id_token`        | the raw ID token, or a chunk header (optional)          |
//! | `flyte_auth_meta` | JSON [`Meta`]: expiry, token type, scopes, chunk counts |
//! | `access_token#1`… | the pieces of a chunked value, in order                 |
//!
//! A value longer than the store's limit is written as pieces `NAME#1` … `NAME#N`, and `NAME`
//! holds the header `flyte-auth-chunked:v1:N:LEN:CHECK`, where `LEN` is the value's length in
//! bytes and `CHECK` its FNV-1a 64 checksum in 16 hex digits. Any value that does not start
//! with `flyte-auth-chunked:` is a raw token, as flytekit writes it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{AccessToken, Credentials, IdToken, RefreshToken};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The user name of the access token entry (flytekit's name).
pub const ACCESS_TOKEN: &str = "access_token";
/// The user name of the refresh token entry (flytekit's name).
pub const REFRESH_TOKEN: &str = "refresh_token";
/// The user name of the ID token entry (flytekit's name).
pub const ID_TOKEN: &str = "id_token";
/// The user name of our metadata entry, which flytekit never reads.
pub const META: &str = "flyte_auth_meta";
/// The user name of Flyte 2's one entry per endpoint (the `flyte` SDK,
/// `flyte/remote/_client/auth/_keyring.py`): JSON `{"access_token": ..., "refresh_token": ...}`.
pub const FLYTE2_TOKENS: &str = "tokens";

/// Which keyring layouts a store writes. Both are always read; when both hold credentials
/// and they differ, the one written last wins (where the keyring records modification
/// times, as the Secret Service does), else flytekit's.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyringLayout {
    /// flytekit's entries, plus Flyte 2's entry when one is already there (default).
    #[default]
    Auto,
    /// flytekit's entries only (`access_token`, `refresh_token`, `id_token`).
    Flytekit,
    /// Flyte 2's entry only (`tokens`); flytekit's entries are removed.
    Flyte2,
    /// Both.
    Both,
}

impl KeyringLayout {
    /// Parses `auto`, `flytekit`, `flyte2` or `both` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "flytekit" => Some(Self::Flytekit),
            "flyte2" => Some(Self::Flyte2),
            "both" => Some(Self::Both),
            _ => None,
        }
    }
}
/// Every value that starts with this is a chunk header.
pub const CHUNK_PREFIX: &str = "flyte-auth-chunked:";
/// The most pieces one value may have; more is treated as corrupt.
pub(crate) const MAX_CHUNKS: usize = 64;
/// The smallest per-value limit we accept: a header must fit in one value.
pub(crate) const MIN_VALUE_LEN: usize = 128;
/// The version of [`Meta`] this code writes and fully understands.
const META_VERSION: u32 = 1;

/// The token entries, in the order they are written: the refresh token first, because it is
/// the one that cannot be obtained again without a login.
const TOKENS: [&str; 3] = [REFRESH_TOKEN, ACCESS_TOKEN, ID_TOKEN];

/// A keyring failure while working on one entry: the store's error plus which entry.
#[derive(Debug)]
pub(crate) struct EntryError {
    /// The entry's user name.
    pub(crate) user: String,
    /// What was being done: `read`, `write` or `delete`.
    pub(crate) action: &'static str,
    /// The store's error.
    pub(crate) error: keyring_core::Error,
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not {} keyring entry '{}': {}",
            self.action, self.user, self.error
        )
    }
}

/// The entries of one keyring service, addressed by user name.
pub(crate) trait Entries {
    /// The value of `user`, or `None` when there is no such entry.
    fn get(&self, user: &str) -> Result<Option<Zeroizing<String>>, keyring_core::Error>;
    /// Creates or replaces `user`.
    fn set(&self, user: &str, value: &str) -> Result<(), keyring_core::Error>;
    /// Deletes `user`; `false` when there was nothing to delete.
    fn delete(&self, user: &str) -> Result<bool, keyring_core::Error>;
    /// Reads `users` ahead, where the store can do that faster than one by one.
    fn prefetch(&self, users: &[&str]) {
        let _ = users;
    }
    /// When `user` was last written (Unix seconds), where the store records it.
    fn modified(&self, user: &str) -> Option<u64> {
        let _ = user;
        None
    }
}

/// Flyte 2's JSON value.
#[derive(Serialize, Deserialize)]
struct Flyte2Tokens {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

impl Drop for Flyte2Tokens {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.access_token.zeroize();
        if let Some(r) = self.refresh_token.as_mut() {
            r.zeroize();
        }
    }
}

/// Reads Flyte 2's entry; a value that is not its JSON is treated as absent (and kept: it
/// belongs to another tool).
fn read_flyte2(entries: &dyn Entries) -> Result<Option<Flyte2Tokens>, EntryError> {
    let Some(json) = read_value(entries, FLYTE2_TOKENS)? else {
        return Ok(None);
    };
    match serde_json::from_str::<Flyte2Tokens>(&json) {
        Ok(t) if !t.access_token.is_empty() => Ok(Some(t)),
        _ => {
            tracing::debug!("ignoring a 'tokens' keyring entry that is not Flyte 2's JSON");
            Ok(None)
        }
    }
}

/// Our metadata entry. Every field but `version` may be missing; unknown fields are ignored,
/// so a newer minor layout stays readable.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Meta {
    /// The layout version ([`META_VERSION`]).
    pub(crate) version: u32,
    /// The access token's expiry in Unix seconds, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<u64>,
    /// When the access token was issued or obtained, in Unix seconds, if known (its
    /// lifetime shrinks the hard skew of short-lived tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) issued_at: Option<u64>,
    /// The token type, normally `Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token_type: Option<String>,
    /// The granted scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) scopes: Vec<String>,
    /// How many pieces each chunked token has (absent: one plain value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) chunks: BTreeMap<String, usize>,
    /// FNV-1a 64 checksum of the access token this metadata belongs to, so that metadata
    /// left behind after another client (pyflyte) replaced the token is not applied to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) access_token_check: Option<String>,
}

/// A time as whole Unix seconds, as both stores write it.
pub(crate) fn unix_seconds(t: Option<SystemTime>) -> Option<u64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}

/// Reads the credentials stored for one service.
///
/// An entry set without an access token is not credentials (`Ok(None)`); corrupt or partial
/// chunked values and corrupt metadata are treated as absent and removed.
pub(crate) fn load(
    entries: &dyn Entries,
    endpoint: &str,
    now: SystemTime,
) -> Result<Option<Credentials>, EntryError> {
    entries.prefetch(&[ACCESS_TOKEN, FLYTE2_TOKENS, REFRESH_TOKEN, ID_TOKEN, META]);
    let access = read_value(entries, ACCESS_TOKEN)?;
    let flyte2 = read_flyte2(entries)?;
    let use_flyte2 = match (&access, &flyte2) {
        (None, Some(_)) => true,
        (Some(a), Some(f)) if a.as_str() != f.access_token => {
            // Both layouts, different tokens: one tool wrote only its own. The later write
            // wins where the keyring knows; else flytekit's.
            matches!(
                (entries.modified(FLYTE2_TOKENS), entries.modified(ACCESS_TOKEN)),
                (Some(f), Some(a)) if f > a
            )
        }
        _ => false,
    };
    let (access, refresh, id) = if use_flyte2 {
        let Some(f) = flyte2.as_ref() else {
            return Ok(None);
        };
        (
            Zeroizing::new(f.access_token.clone()),
            f.refresh_token
                .as_ref()
                .filter(|r| !r.is_empty())
                .map(|r| Zeroizing::new(r.clone())),
            None,
        )
    } else {
        let Some(access) = access else {
            // Without an access token there is nothing to use: an id_token (or
            // refresh_token) alone is not credentials.
            return Ok(None);
        };
        let refresh = read_value(entries, REFRESH_TOKEN)?;
        let id = read_value(entries, ID_TOKEN)?;
        (access, refresh, id)
    };
    let meta = read_meta(entries)?;

    let mut credentials = Credentials::new(AccessToken::new(access.as_str()))
        .with_refresh_token(refresh.map(|r| RefreshToken::new(r.as_str())))
        .with_id_token(id.map(|i| IdToken::new(i.as_str())))
        .with_endpoint(Some(endpoint));
    let check = fnv1a64_hex(access.as_bytes());
    match meta {
        Some(meta) if meta.access_token_check.as_deref() == Some(check.as_str()) => {
            credentials = credentials
                // A time past what SystemTime holds is unknown, never a panic.
                .with_expires_at(
                    meta.expires_at
                        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s))),
                )
                .with_issued_at(
                    meta.issued_at
                        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s))),
                )
                .with_scopes(meta.scopes);
            if let Some(t) = meta.token_type.filter(|t| !t.is_empty()) {
                credentials = credentials.with_token_type(t);
            }
        }
        _ => {
            // Written by another client (flytekit), or our metadata is for an older token:
            // take the expiry from the token itself when it is a JWT.
            credentials = credentials.with_expiry_from(None, now);
        }
    }
    Ok(Some(credentials))
}

/// Replaces the credentials stored for one service. `max_len` is the store's per-value limit
/// in bytes (`None`: no limit).
pub(crate) fn save(
    entries: &dyn Entries,
    credentials: &Credentials,
    max_len: Option<usize>,
    layout: KeyringLayout,
) -> Result<(), EntryError> {
    let (flytekit, flyte2) = match layout {
        KeyringLayout::Flytekit => (true, false),
        KeyringLayout::Flyte2 => (false, true),
        KeyringLayout::Both => (true, true),
        KeyringLayout::Auto => (true, get(entries, FLYTE2_TOKENS)?.is_some()),
    };
    let mut meta = Meta {
        version: META_VERSION,
        expires_at: unix_seconds(credentials.expires_at()),
        issued_at: unix_seconds(credentials.issued_at()),
        token_type: Some(credentials.token_type().to_string()),
        scopes: credentials.scopes().to_vec(),
        chunks: BTreeMap::new(),
        access_token_check: Some(fnv1a64_hex(credentials.access_token().secret().as_bytes())),
    };
    if flyte2 {
        let value = Flyte2Tokens {
            access_token: credentials.access_token().secret().to_string(),
            refresh_token: credentials.refresh_token().map(|r| r.secret().to_string()),
        };
        let json = Zeroizing::new(serde_json::to_string(&value).map_err(|e| EntryError {
            user: FLYTE2_TOKENS.to_string(),
            action: "encode",
            error: keyring_core::Error::Invalid("tokens".to_string(), e.to_string()),
        })?);
        let pieces = write_value(entries, FLYTE2_TOKENS, &json, max_len)?;
        if pieces > 0 {
            meta.chunks.insert(FLYTE2_TOKENS.to_string(), pieces);
        }
    }
    for name in TOKENS {
        if !flytekit {
            delete_value(entries, name, 0)?;
            continue;
        }
        let value = match name {
            ACCESS_TOKEN => Some(credentials.access_token().secret()),
            REFRESH_TOKEN => credentials.refresh_token().map(|t| t.secret()),
            _ => credentials.id_token().map(|t| t.secret()),
        };
        match value.filter(|v| !v.is_empty()) {
            Some(value) => {
                let pieces = write_value(entries, name, value, max_len)?;
                if pieces > 0 {
                    meta.chunks.insert(name.to_string(), pieces);
                }
            }
            None => delete_value(entries, name, 0)?,
        }
    }
    let json = serde_json::to_string(&meta).map_err(|e| EntryError {
        user: META.to_string(),
        action: "encode",
        error: keyring_core::Error::Invalid("metadata".to_string(), e.to_string()),
    })?;
    set(entries, META, &json)
}

/// Deletes everything stored for one service, pieces included. Deleting nothing is fine.
pub(crate) fn delete(entries: &dyn Entries) -> Result<(), EntryError> {
    // The metadata's chunk counts find pieces even when a header is gone; a missing or
    // unreadable metadata entry only means we rely on the headers and probing.
    let counts = match read_meta_raw(entries) {
        Ok(Some(meta)) => meta.chunks,
        _ => BTreeMap::new(),
    };
    let mut first_error = None;
    for name in TOKENS.into_iter().chain([FLYTE2_TOKENS]) {
        let known = counts.get(name).copied().unwrap_or(0).min(MAX_CHUNKS);
        if let Err(e) = delete_value(entries, name, known) {
            first_error.get_or_insert(e);
        }
    }
    if let Err(e) = del(entries, META) {
        first_error.get_or_insert(e);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reads one token value, reassembling pieces. Corrupt or partial chunked values are
/// removed and read as absent.
fn read_value(entries: &dyn Entries, name: &str) -> Result<Option<Zeroizing<String>>, EntryError> {
    let Some(value) = get(entries, name)? else {
        return Ok(None);
    };
    if value.is_empty() {
        return Ok(None);
    }
    let Some(rest) = value.strip_prefix(CHUNK_PREFIX) else {
        return Ok(Some(value));
    };
    let header = match Header::parse(rest) {
        Ok(h) => h,
        Err(why) => {
            discard(entries, name, 0, why);
            return Ok(None);
        }
    };
    // The pieces first, then one allocation of their real total: the header's length is
    // untrusted, and allocating it up front let a corrupt header abort the process.
    let mut pieces = Vec::with_capacity(header.count);
    for i in 1..=header.count {
        match get(entries, &piece_name(name, i))? {
            Some(piece) => pieces.push(piece),
            None => {
                discard(entries, name, header.count, "a piece is missing");
                return Ok(None);
            }
        }
    }
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut joined = Zeroizing::new(String::with_capacity(total));
    for piece in &pieces {
        joined.push_str(piece);
    }
    if joined.len() != header.len || fnv1a64(joined.as_bytes()) != header.check {
        discard(
            entries,
            name,
            header.count,
            "the pieces do not match their header",
        );
        return Ok(None);
    }
    Ok(Some(joined))
}

/// Writes one token value, in pieces when it is longer than `max_len`, and removes pieces
/// left from an earlier, longer value. Returns the number of pieces (0: a plain value).
fn write_value(
    entries: &dyn Entries,
    name: &str,
    value: &str,
    max_len: Option<usize>,
) -> Result<usize, EntryError> {
    let fits = max_len.is_none_or(|m| value.len() <= m);
    if fits && !value.starts_with(CHUNK_PREFIX) {
        set(entries, name, value)?;
        delete_pieces(entries, name, 1, 0)?;
        return Ok(0);
    }
    let piece_len = max_len.unwrap_or(value.len()).max(MIN_VALUE_LEN);
    let pieces = split(value, piece_len);
    if pieces.len() > MAX_CHUNKS {
        return Err(EntryError {
            user: name.to_string(),
            action: "write",
            error: keyring_core::Error::TooLong(name.to_string(), (piece_len * MAX_CHUNKS) as u32),
        });
    }
    // Pieces first, header last: a reader never sees a header whose pieces are not there yet
    // (it may see new pieces under an old header, which the checksum rejects).
    for (i, piece) in pieces.iter().enumerate() {
        set(entries, &piece_name(name, i + 1), piece)?;
    }
    let header = Header {
        count: pieces.len(),
        len: value.len(),
        check: fnv1a64(value.as_bytes()),
    };
    set(entries, name, &header.to_string())?;
    delete_pieces(entries, name, pieces.len() + 1, 0)?;
    Ok(pieces.len())
}

/// Deletes one token value and its pieces: pieces named in its header, up to `known`
/// (from the metadata), and then any further ones found by probing.
fn delete_value(entries: &dyn Entries, name: &str, known: usize) -> Result<(), EntryError> {
    let from_header = match entries.get(name) {
        Ok(Some(v)) => v
            .strip_prefix(CHUNK_PREFIX)
            .and_then(|rest| Header::parse(rest).ok())
            .map_or(0, |h| h.count),
        // Unreadable or absent: the pieces (if any) are still removed by probing below.
        Ok(None) | Err(_) => 0,
    };
    del(entries, name)?;
    delete_pieces(entries, name, 1, known.max(from_header))
}

/// Deletes pieces `from..=upto`, then goes on deleting `upto+1…` until one is absent.
fn delete_pieces(
    entries: &dyn Entries,
    name: &str,
    from: usize,
    upto: usize,
) -> Result<(), EntryError> {
    let mut i = from;
    while i <= MAX_CHUNKS {
        let existed = del(entries, &piece_name(name, i))?;
        if !existed && i > upto {
            break;
        }
        i += 1;
    }
    Ok(())
}

/// Removes a corrupt value and logs why (never the value).
fn discard(entries: &dyn Entries, name: &str, known: usize, why: &str) {
    tracing::warn!(
        entry = name,
        "stored {name} is corrupt or incomplete ({why}); treating it as absent and removing it"
    );
    if let Err(e) = delete_value(entries, name, known) {
        tracing::warn!(entry = name, error = %e, "could not remove the corrupt entry");
    }
}

/// Reads the metadata, removing it when it is corrupt. Metadata from a newer layout
/// version is ignored but left in place for the newer client that wrote it.
fn read_meta(entries: &dyn Entries) -> Result<Option<Meta>, EntryError> {
    match read_meta_raw(entries)? {
        Some(meta) if meta.version == META_VERSION => Ok(Some(meta)),
        Some(meta) => {
            tracing::debug!(
                version = meta.version,
                "ignoring keyring metadata of another version"
            );
            Ok(None)
        }
        None => Ok(None),
    }
}

fn read_meta_raw(entries: &dyn Entries) -> Result<Option<Meta>, EntryError> {
    let Some(json) = get(entries, META)? else {
        return Ok(None);
    };
    match serde_json::from_str::<Meta>(&json) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "stored flyte-auth metadata is corrupt; ignoring and removing it (the tokens \
                 are kept; their expiry is read from the tokens where possible)"
            );
            if let Err(e) = del(entries, META) {
                tracing::warn!(error = %e, "could not remove the corrupt metadata entry");
            }
            Ok(None)
        }
    }
}

/// A parsed chunk header (everything after [`CHUNK_PREFIX`]).
#[derive(Debug, PartialEq, Eq)]
struct Header {
    count: usize,
    len: usize,
    check: u64,
}

impl Header {
    fn parse(rest: &str) -> Result<Header, &'static str> {
        let mut parts = rest.split(':');
        if parts.next() != Some("v1") {
            return Err("unknown chunk header version");
        }
        let count = parts.next().and_then(|c| c.parse::<usize>().ok());
        let len = parts.next().and_then(|c| c.parse::<usize>().ok());
        let check = parts
            .next()
            .filter(|c| c.len() == 16)
            .and_then(|c| u64::from_str_radix(c, 16).ok());
        match (count, len, check, parts.next()) {
            (Some(count), Some(len), Some(check), None) if (1..=MAX_CHUNKS).contains(&count) => {
                Ok(Header { count, len, check })
            }
            _ => Err("malformed chunk header"),
        }
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CHUNK_PREFIX}v1:{}:{}:{:016x}",
            self.count, self.len, self.check
        )
    }
}

/// The user name of piece `i` (from 1) of `name`.
pub(crate) fn piece_name(name: &str, i: usize) -> String {
    format!("{name}#{i}")
}

/// Splits `value` into pieces of at most `max` bytes, at character boundaries.
fn split(value: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (head, tail) = rest.split_at(end);
        pieces.push(head);
        rest = tail;
    }
    pieces
}

/// FNV-1a, 64 bits: a checksum to detect mismatched pieces, not a security measure.
pub(crate) use auth_store::fnv1a64;

fn fnv1a64_hex(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64(bytes))
}

fn get(entries: &dyn Entries, user: &str) -> Result<Option<Zeroizing<String>>, EntryError> {
    match entries.get(user) {
        Ok(v) => Ok(v),
        // A value that is not UTF-8, or that the store cannot decode, is corrupt: treat it
        // as absent and remove it rather than failing every load from now on.
        Err(keyring_core::Error::BadEncoding(_) | keyring_core::Error::BadDataFormat(..)) => {
            tracing::warn!(
                entry = user,
                "stored {user} is not readable text; removing it"
            );
            if let Err(e) = del(entries, user) {
                tracing::warn!(entry = user, error = %e, "could not remove the unreadable entry");
            }
            Ok(None)
        }
        Err(error) => Err(EntryError {
            user: user.to_string(),
            action: "read",
            error,
        }),
    }
}

fn set(entries: &dyn Entries, user: &str, value: &str) -> Result<(), EntryError> {
    entries.set(user, value).map_err(|error| EntryError {
        user: user.to_string(),
        action: "write",
        error,
    })
}

fn del(entries: &dyn Entries, user: &str) -> Result<bool, EntryError> {
    entries.delete(user).map_err(|error| EntryError {
        user: user.to_string(),
        action: "delete",
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_char_boundaries() {
        assert_eq!(split("abcdef", 4), ["abcd", "ef"]);
        assert_eq!(split("abcd", 4), ["abcd"]);
        // 'é' is two bytes: a piece never ends inside it.
        assert_eq!(split("aé", 2), ["a", "é"]);
        assert!(split("", 4).is_empty());
    }

    #[test]
    fn header_round_trip_and_rejects() {
        let h = Header {
            count: 3,
            len: 3000,
            check: 0xdead_beef,
        };
        let s = h.to_string();
        assert_eq!(s, "flyte-auth-chunked:v1:3:3000:00000000deadbeef");
        assert_eq!(Header::parse(s.strip_prefix(CHUNK_PREFIX).unwrap()), Ok(h));
        for bad in [
            "v2:3:3000:00000000deadbeef",
            "v1:0:3000:00000000deadbeef",
            "v1:65:3000:00000000deadbeef",
            "v1:x:3000:00000000deadbeef",
            "v1:3:3000:deadbeef",
            "v1:3:3000:00000000deadbeef:extra",
            "v1:3",
            "",
        ] {
            assert!(Header::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fnv_known_vector() {
        // FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn meta_ignores_unknown_fields_and_tolerates_missing_ones() {
        let m: Meta = serde_json::from_str(r#"{"version":1,"future":true}"#).unwrap();
        assert_eq!(
            m,
            Meta {
                version: 1,
                ..Meta::default()
            }
        );
    }
}

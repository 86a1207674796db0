//! The session-keyring cache of the tiered store: one kernel keyutils key per endpoint, in
//! the session keyring, holding the whole credentials as compact JSON, with a timeout.
//!
//! It only ever holds what the durable store (the Secret Service) returned or accepted, and
//! it is never an error: every failure here (no session keyring, `EACCES`, quota, a corrupt
//! entry) is a `debug` event, and the caller goes on with the durable store. Everything is
//! synchronous and runs on the detached job threads of [`crate::KeyringStore`].
//!
//! # Keys
//!
//! - Type `user`, description `flyte-auth-cache:v1:<scope>:<service>` (see
//!   [`SessionCache::description`]). `<scope>` names the durable store the entry was read
//!   from (for the Secret Service: a hash of `DBUS_SESSION_BUS_ADDRESS` and
//!   `XDG_RUNTIME_DIR`), so two Secret Services on two buses never share entries.
//! - Linked only into the session keyring (`KEY_SPEC_SESSION_KEYRING`; a process without a
//!   session keyring of its own gets the user-session keyring, as keyutils does), never into
//!   the persistent keyring. Default permissions: the possessor may do everything, other
//!   processes of the user may only see that the key exists.
//! - A timeout of [`ttl`]: at most the configured maximum (10 minutes by default) and never
//!   beyond `expires_at - 30 s`. A key is written into the thread keyring of the job thread,
//!   given its timeout, and only then linked into the session keyring (displacing the old
//!   entry atomically), so a crash never leaves an entry without a timeout.

use std::time::{Duration, SystemTime};

use auth_core::Credentials;

use crate::layout::fnv1a64;
use auth_store::codec::{decode_credentials, encode_credentials};

/// The default maximum life of a cache entry.
pub const SESSION_CACHE_MAX_TTL: Duration = Duration::from_secs(600);
/// Every cache entry's description starts with this.
pub(crate) const DESCRIPTION_PREFIX: &str = "flyte-auth-cache:v1:";
/// An entry that would live shorter than this is not written.
pub(crate) const MIN_TTL: Duration = Duration::from_secs(5);
/// An entry expires this long before its access token does, so that the cache never hands
/// out a token in its last seconds (when the token engine would refresh it with a refresh
/// token that another client may have rotated in the Secret Service meanwhile).
pub(crate) const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// The largest payload one `user` key holds.
const MAX_PAYLOAD: usize = crate::keyring::KEYUTILS_MAX_VALUE_LEN;

/// How long a cache entry for credentials that expire at `expires_at` may live, in whole
/// seconds: `min(expires_at - now - 30 s, max)`, or `max` when the expiry is unknown.
/// `None` when that is under 5 s: such credentials are not cached.
pub(crate) fn ttl(
    expires_at: Option<SystemTime>,
    now: SystemTime,
    max: Duration,
) -> Option<Duration> {
    let ttl = match expires_at {
        None => max,
        Some(at) => at
            .duration_since(now)
            .ok()?
            .saturating_sub(EXPIRY_MARGIN)
            .min(max),
    };
    let ttl = Duration::from_secs(ttl.as_secs());
    (ttl >= MIN_TTL).then_some(ttl)
}

/// Whether [`SessionCache::fill`] replaces an entry that is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// After a save: the new credentials replace whatever is cached.
    Replace,
    /// After a load from the durable store: keep an entry that appeared meanwhile (written
    /// by a process that saved newer credentials after our miss).
    IfAbsent,
}

/// A failure of the cache: what went wrong, never a value.
#[derive(Debug)]
pub(crate) struct CacheError(String);

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The cache for one durable store.
#[derive(Debug, Clone)]
pub(crate) struct SessionCache {
    /// Names the durable store: 16 hex digits.
    scope: String,
    /// The longest an entry lives.
    max_ttl: Duration,
    /// The durable store's state when this cache value was made (see
    /// [`with_stamp`](Self::with_stamp)).
    stamp: Option<String>,
}

/// A stamped payload starts with this, the stamp and a newline.
const STAMP_PREFIX: &[u8] = b"flyte-auth-stamp:";

impl SessionCache {
    /// A cache for the durable store named by `identity` (hashed into the descriptions).
    pub(crate) fn new(identity: &str, max_ttl: Duration) -> Self {
        Self {
            scope: format!("{:016x}", fnv1a64(identity.as_bytes())),
            max_ttl,
            stamp: None,
        }
    }

    /// Entries are written with `stamp` (what identifies the durable store's state, such as
    /// its files' modification times), and a lookup answers only from an entry with the same
    /// stamp: a change another client makes to the durable store is a miss at once.
    pub(crate) fn with_stamp(mut self, stamp: Option<String>) -> Self {
        self.stamp = stamp;
        self
    }

    /// The stamp entries are written and looked up with.
    pub(crate) fn stamp(&self) -> Option<&str> {
        self.stamp.as_deref()
    }

    /// The keyutils description of the entry for `service`.
    pub(crate) fn description(&self, service: &str) -> String {
        format!("{DESCRIPTION_PREFIX}{}:{service}", self.scope)
    }

    /// The cached credentials of `service`, or `None` (a miss, or a cache that does not work:
    /// logged at debug level).
    pub(crate) fn lookup(&self, service: &str) -> Option<Credentials> {
        match self.get(service) {
            Ok(Some(c)) => {
                tracing::debug!(
                    endpoint = service,
                    "credentials served from the session keyring cache"
                );
                Some(c)
            }
            Ok(None) => {
                tracing::debug!(endpoint = service, "session keyring cache miss");
                None
            }
            Err(e) => {
                tracing::debug!(
                    endpoint = service,
                    "session keyring cache not used: {e}; reading the durable store"
                );
                None
            }
        }
    }

    /// Caches `credentials` (as the durable store holds them) for `service`; failures are
    /// logged at debug level and otherwise ignored.
    pub(crate) fn fill(
        &self,
        service: &str,
        credentials: &Credentials,
        now: SystemTime,
        mode: Fill,
    ) {
        match self.put(service, credentials, now, mode) {
            Ok(outcome) => tracing::debug!(endpoint = service, "session keyring cache: {outcome}"),
            Err(e) => tracing::debug!(
                endpoint = service,
                "session keyring cache not written: {e}; the durable store has the credentials"
            ),
        }
    }

    /// Removes the entry of `service`; failures are logged at debug level and otherwise
    /// ignored (an entry that cannot be removed expires by its timeout).
    pub(crate) fn discard(&self, service: &str) {
        if let Err(e) = self.remove(service) {
            tracing::debug!(
                endpoint = service,
                "session keyring cache entry not removed: {e}; an entry, if any, expires by its timeout"
            );
        }
    }

    fn put(
        &self,
        service: &str,
        credentials: &Credentials,
        now: SystemTime,
        mode: Fill,
    ) -> Result<&'static str, CacheError> {
        if credentials.access_token().secret().is_empty() {
            self.remove(service)?;
            return Ok("not cached: no access token");
        }
        let Some(ttl) = ttl(credentials.expires_at(), now, self.max_ttl) else {
            self.remove(service)?;
            return Ok("not cached: the access token expires too soon");
        };
        let json = encode_credentials(credentials, service)
            .map_err(|e| CacheError(format!("could not encode the credentials: {e}")))?;
        let payload = match &self.stamp {
            Some(stamp) => {
                let mut p = zeroize::Zeroizing::new(Vec::with_capacity(
                    STAMP_PREFIX.len() + stamp.len() + 1 + json.len(),
                ));
                p.extend_from_slice(STAMP_PREFIX);
                p.extend_from_slice(stamp.as_bytes());
                p.push(b'\n');
                p.extend_from_slice(&json);
                p
            }
            None => json,
        };
        if payload.len() > MAX_PAYLOAD {
            self.remove(service)?;
            return Ok("not cached: the credentials exceed one kernel key (32767 bytes)");
        }
        sys::put(
            &self.description(service),
            &payload,
            ttl,
            mode == Fill::IfAbsent,
        )
    }

    fn get(&self, service: &str) -> Result<Option<Credentials>, CacheError> {
        let Some(payload) = sys::get(&self.description(service))? else {
            return Ok(None);
        };
        let json = match &self.stamp {
            None => &payload[..],
            Some(stamp) => {
                let mut want = STAMP_PREFIX.to_vec();
                want.extend_from_slice(stamp.as_bytes());
                want.push(b'\n');
                match payload.strip_prefix(want.as_slice()) {
                    Some(rest) => rest,
                    None => {
                        tracing::debug!(
                            endpoint = service,
                            "session keyring cache entry is stale (the durable store changed since it was written)"
                        );
                        self.remove(service)?;
                        return Ok(None);
                    }
                }
            }
        };
        match decode_credentials(json, service) {
            Ok(c) => Ok(Some(c)),
            Err(why) => {
                tracing::debug!(
                    endpoint = service,
                    "session keyring cache entry is unusable ({why}); removing it"
                );
                self.remove(service)?;
                Ok(None)
            }
        }
    }

    fn remove(&self, service: &str) -> Result<(), CacheError> {
        sys::remove(&self.description(service))
    }
}

#[cfg(target_os = "linux")]
mod sys {
    //! The keyutils calls.

    use std::time::Duration;

    use linux_keyutils::{Key, KeyError, KeyRing, KeyRingIdentifier};
    use zeroize::Zeroizing;

    use super::{CacheError, MAX_PAYLOAD};

    /// The first read tries a buffer this large; a larger payload is read again in full.
    const FIRST_READ: usize = 8 * 1024;

    fn failed(what: &str, e: KeyError) -> CacheError {
        CacheError(format!("{what} failed ({e:?})"))
    }

    /// The session keyring (or the user-session keyring, for a process without one).
    fn session() -> Result<KeyRing, CacheError> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .map_err(|e| failed("opening the session keyring", e))
    }

    /// The valid key called `description` under `ring`, if any.
    fn find(ring: KeyRing, description: &str) -> Result<Option<Key>, CacheError> {
        match ring.search(description) {
            Ok(key) => Ok(Some(key)),
            // Absent, or only an expired or revoked key of that name is left.
            Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => {
                Ok(None)
            }
            Err(e) => Err(failed("searching the session keyring", e)),
        }
    }

    pub(super) fn get(description: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CacheError> {
        let Some(key) = find(session()?, description)? else {
            return Ok(None);
        };
        let mut buffer = Zeroizing::new(vec![0u8; FIRST_READ]);
        let mut len = read(key, &mut buffer)?;
        if len > buffer.len() && len <= MAX_PAYLOAD {
            buffer = Zeroizing::new(vec![0u8; len]);
            len = read(key, &mut buffer)?;
        }
        if len > buffer.len() {
            return Err(CacheError(format!(
                "the entry is larger than expected ({len} bytes)"
            )));
        }
        buffer.truncate(len);
        Ok(Some(buffer))
    }

    fn read(key: Key, buffer: &mut Vec<u8>) -> Result<usize, CacheError> {
        match key.read(buffer) {
            Ok(len) => Ok(len),
            Err(e) => Err(failed("reading the cache entry", e)),
        }
    }

    pub(super) fn put(
        description: &str,
        payload: &[u8],
        ttl: Duration,
        only_if_absent: bool,
    ) -> Result<&'static str, CacheError> {
        let session = session()?;
        if only_if_absent && find(session, description)?.is_some() {
            return Ok("kept the entry another process wrote meanwhile");
        }
        // Staged in this job thread's own keyring (which dies with the thread), given its
        // timeout there, and only then linked into the session keyring, where it displaces
        // the old entry in one step: no process ever sees an entry without a timeout.
        let staging = KeyRing::from_special_id(KeyRingIdentifier::Thread, true)
            .map_err(|e| failed("creating the thread keyring", e))?;
        let key = staging
            .add_key(description, payload)
            .map_err(|e| failed("adding the cache entry", e))?;
        let seconds = usize::try_from(ttl.as_secs()).unwrap_or(usize::MAX);
        let linked = key
            .set_timeout(seconds)
            .map_err(|e| failed("setting the timeout of the cache entry", e))
            .and_then(|()| {
                session
                    .link_key(key)
                    .map_err(|e| failed("linking the cache entry into the session keyring", e))
            });
        // Without this link the key goes when its last link does.
        let _ = staging.unlink_key(key);
        linked.map(|()| "written")
    }

    pub(super) fn remove(description: &str) -> Result<(), CacheError> {
        let session = session()?;
        // Normally one key; a few more only if other keyrings under the session keyring hold
        // keys of the same name.
        for _ in 0..8 {
            let Some(key) = find(session, description)? else {
                return Ok(());
            };
            match key.invalidate() {
                Ok(()) | Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired) => {}
                Err(e) => return Err(failed("removing the cache entry", e)),
            }
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    //! No kernel keyring here: the cache is never enabled off Linux.

    use std::time::Duration;

    use zeroize::Zeroizing;

    use super::CacheError;

    fn unsupported() -> CacheError {
        CacheError("the session keyring cache needs Linux".into())
    }

    pub(super) fn get(_: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CacheError> {
        Err(unsupported())
    }

    pub(super) fn put(_: &str, _: &[u8], _: Duration, _: bool) -> Result<&'static str, CacheError> {
        Err(unsupported())
    }

    pub(super) fn remove(_: &str) -> Result<(), CacheError> {
        Err(unsupported())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn ttl_is_capped_by_the_expiry_and_the_maximum() {
        let now = at(1_000_000);
        let max = SESSION_CACHE_MAX_TTL;
        assert_eq!(ttl(None, now, max), Some(max));
        assert_eq!(ttl(Some(at(1_000_000 + 86_400)), now, max), Some(max));
        // 100 s left: 70 s after the margin.
        assert_eq!(
            ttl(Some(at(1_000_100)), now, max),
            Some(Duration::from_secs(70))
        );
        // Whole seconds, rounded down.
        let later = now + Duration::from_millis(400);
        assert_eq!(
            ttl(Some(at(1_000_100)), later, max),
            Some(Duration::from_secs(69))
        );
        // Too short, or already expired: not cached.
        assert_eq!(ttl(Some(at(1_000_034)), now, max), None);
        assert_eq!(
            ttl(Some(at(1_000_035)), now, max),
            Some(Duration::from_secs(5))
        );
        assert_eq!(ttl(Some(at(999_999)), now, max), None);
        // A maximum below the minimum switches caching off.
        assert_eq!(ttl(None, now, Duration::from_secs(4)), None);
    }

    #[test]
    fn descriptions_name_the_durable_store_and_the_service() {
        let a = SessionCache::new("bus-a", SESSION_CACHE_MAX_TTL);
        let b = SessionCache::new("bus-b", SESSION_CACHE_MAX_TTL);
        let da = a.description("flyte.example.com:443");
        assert!(da.starts_with(DESCRIPTION_PREFIX), "{da}");
        assert!(da.ends_with(":flyte.example.com:443"), "{da}");
        assert_ne!(da, b.description("flyte.example.com:443"));
        assert_eq!(da, a.clone().description("flyte.example.com:443"));
    }
}

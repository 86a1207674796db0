//! When a token is refreshed ahead of expiry and when it is no longer handed out.

use super::*;

/// The soft and hard deadlines of a token that expires at `expires_at`, installed at `now`.
///
/// Hard: `skew` before expiry; soft: the refresh window before that. Both shrink for
/// short-lived tokens so that together they never exceed half the remaining lifetime, and the
/// window is jittered down by up to 20 % so that many processes do not refresh in step. A
/// token that arrives already expired lives `min_refresh_interval`, so a broken source is
/// not called in a busy loop.
pub(super) fn deadlines(
    now: SystemTime,
    credentials: &Credentials,
    options: &EngineOptions,
) -> (Option<SystemTime>, Option<SystemTime>) {
    let Some(expires_at) = credentials.expires_at() else {
        return (None, None);
    };
    let life = expires_at.duration_since(now).unwrap_or_default();
    if life.is_zero() {
        tracing::warn!(
            "received a token that is already expired; using it until a server rejects it"
        );
        let hard = now + options.min_refresh_interval;
        return (Some(hard), Some(hard));
    }
    // The hard deadline is the one validity rule of `Credentials::hard_deadline`, but never
    // nearer than a quarter of what is left, so a token that arrives late in its life (a
    // command's JWT issued long ago) is not already past it.
    let floor = expires_at - options.hard_skew.min(life / 4);
    let hard = credentials
        .hard_deadline(options.hard_skew)
        .map_or(floor, |h| h.max(floor));
    let skew = expires_at.duration_since(hard).unwrap_or_default();
    let default_window = Duration::from_secs(300).min(life / 10);
    let window = options
        .refresh_window
        .unwrap_or(default_window)
        .min((life / 2).saturating_sub(skew));
    let window = jitter_down(window, 0.8);
    (Some(hard - window), Some(hard))
}

/// A random duration between `low_fraction * d` and `d`.
pub(super) fn jitter_down(d: Duration, low_fraction: f64) -> Duration {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(d.as_nanos() as u64);
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(low_fraction + (1.0 - low_fraction) * unit)
}

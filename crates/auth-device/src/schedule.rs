//! The polling schedule of RFC 8628 §3.5 as a pure state machine: given how the last poll was
//! answered, how long to wait before the next one. No I/O and no clock, so every gap is
//! unit-tested exactly; the flow (`flow.rs`) does the sleeping and keeps the deadline.

use std::time::Duration;

use auth_oauth2::MAX_POLL_INTERVAL;

/// The interval when the device authorization response has none (RFC 8628 §3.2).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The least interval used, whatever the server says: an `interval` of 0 would poll in a busy
/// loop.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What `slow_down` adds to the interval (RFC 8628 §3.5).
pub(crate) const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The default cap on the back-off after transient failures.
pub(crate) const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How far past the code's expiry the last poll may come (see [`PollSchedule::last_wait`]).
pub(crate) const LAST_POLL_MAX_LATENESS: Duration = Duration::from_secs(30);

/// How the token endpoint answered one poll, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// `authorization_pending`: keep the interval.
    Pending,
    /// `slow_down`: add 5 s to the interval for this and every later poll, or use the
    /// server's larger `interval` when it sent one.
    SlowDown { server_interval: Option<Duration> },
    /// A transient failure (network error, time-out, 5xx, 429): back off exponentially.
    Transient { retry_after: Option<Duration> },
}

/// The polling schedule of one device authorization.
#[derive(Debug, Clone)]
pub(crate) struct PollSchedule {
    interval: Duration,
    max_backoff: Duration,
    /// Transient failures since the last good answer.
    failures: u32,
}

impl PollSchedule {
    /// A schedule for a response with `interval` (`None`: 5 s; at most
    /// [`MAX_POLL_INTERVAL`]), backing off after transient
    /// failures up to `max_backoff` (never below the interval itself).
    pub(crate) fn new(interval: Option<Duration>, max_backoff: Duration) -> Self {
        Self {
            interval: interval
                .unwrap_or(DEFAULT_INTERVAL)
                .clamp(MIN_INTERVAL, MAX_POLL_INTERVAL),
            max_backoff,
            failures: 0,
        }
    }

    /// The current polling interval; also the wait before the first poll.
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// The wait before one last poll when the next regular one would come after the device
    /// code expired, `remaining` from now: at the expiry, or one interval after the previous
    /// poll when that is later (never faster than the interval), but no more than
    /// [`LAST_POLL_MAX_LATENESS`] past the expiry (`None`: no last poll).
    ///
    /// The provider, not our clock, decides when its code expired: the last poll gets its
    /// `expired_token`, or the token of an approval given since the previous poll. Our clock
    /// starts when the device authorization response arrives, so the expiry by it is never
    /// before the provider's.
    pub(crate) fn last_wait(&self, remaining: Duration) -> Option<Duration> {
        let wait = remaining.max(self.interval);
        (wait <= remaining.saturating_add(LAST_POLL_MAX_LATENESS)).then_some(wait)
    }

    /// The wait before the next poll after `answer`.
    pub(crate) fn next(&mut self, answer: Answer) -> Duration {
        match answer {
            Answer::Pending => {
                self.failures = 0;
                self.interval
            }
            Answer::SlowDown { server_interval } => {
                self.failures = 0;
                let stepped = self.interval.saturating_add(SLOW_DOWN_STEP);
                // Capped: a server's absurd `interval` must not push the next poll past any
                // deadline a clock can represent.
                self.interval = server_interval
                    .map_or(stepped, |s| s.max(stepped))
                    .min(MAX_POLL_INTERVAL);
                self.interval
            }
            Answer::Transient { retry_after } => {
                self.failures = self.failures.saturating_add(1);
                // interval * 2^failures, capped (but never below the interval: the cap limits
                // the back-off, it does not speed polling up).
                let cap = self.max_backoff.max(self.interval);
                let factor = 1u32 << self.failures.min(16);
                let backoff = self.interval.saturating_mul(factor).min(cap);
                backoff.max(retry_after.unwrap_or_default().min(cap))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn interval_defaults_to_five_seconds_and_has_a_floor() {
        assert_eq!(
            PollSchedule::new(None, DEFAULT_MAX_BACKOFF).interval(),
            S(5)
        );
        assert_eq!(
            PollSchedule::new(Some(S(2)), DEFAULT_MAX_BACKOFF).interval(),
            S(2)
        );
        assert_eq!(
            PollSchedule::new(Some(S(0)), DEFAULT_MAX_BACKOFF).interval(),
            S(1)
        );
    }

    #[test]
    fn pending_keeps_the_interval() {
        let mut s = PollSchedule::new(Some(S(5)), DEFAULT_MAX_BACKOFF);
        let waits: Vec<_> = (0..4).map(|_| s.next(Answer::Pending)).collect();
        assert_eq!(waits, [S(5), S(5), S(5), S(5)]);
    }

    #[test]
    fn slow_down_adds_five_seconds_for_every_later_poll() {
        let mut s = PollSchedule::new(Some(S(5)), DEFAULT_MAX_BACKOFF);
        let slow = Answer::SlowDown {
            server_interval: None,
        };
        assert_eq!(s.next(Answer::Pending), S(5));
        assert_eq!(s.next(slow), S(10));
        assert_eq!(s.next(slow), S(15));
        assert_eq!(s.next(Answer::Pending), S(15));
        assert_eq!(s.interval(), S(15));
    }

    #[test]
    fn slow_down_uses_a_larger_server_interval() {
        let mut s = PollSchedule::new(Some(S(5)), DEFAULT_MAX_BACKOFF);
        assert_eq!(
            s.next(Answer::SlowDown {
                server_interval: Some(S(30))
            }),
            S(30)
        );
        // A smaller one never makes polling faster than the RFC's +5 s.
        assert_eq!(
            s.next(Answer::SlowDown {
                server_interval: Some(S(1))
            }),
            S(35)
        );
        assert_eq!(s.next(Answer::Pending), S(35));
    }

    #[test]
    fn transient_failures_back_off_exponentially_with_a_cap() {
        let mut s = PollSchedule::new(Some(S(5)), S(60));
        let t = Answer::Transient { retry_after: None };
        let waits: Vec<_> = (0..6).map(|_| s.next(t)).collect();
        assert_eq!(waits, [S(10), S(20), S(40), S(60), S(60), S(60)]);
        // The interval itself is unchanged.
        assert_eq!(s.interval(), S(5));
    }

    #[test]
    fn backoff_resets_after_a_good_answer() {
        let mut s = PollSchedule::new(Some(S(5)), S(60));
        let t = Answer::Transient { retry_after: None };
        assert_eq!(s.next(t), S(10));
        assert_eq!(s.next(t), S(20));
        assert_eq!(s.next(Answer::Pending), S(5));
        assert_eq!(s.next(t), S(10));
        assert_eq!(
            s.next(Answer::SlowDown {
                server_interval: None
            }),
            S(10)
        );
        assert_eq!(s.next(t), S(20));
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let mut s = PollSchedule::new(Some(S(5)), S(60));
        assert_eq!(
            s.next(Answer::Transient {
                retry_after: Some(S(30))
            }),
            S(30)
        );
        assert_eq!(
            s.next(Answer::Transient {
                retry_after: Some(S(3600))
            }),
            S(60)
        );
        assert_eq!(
            s.next(Answer::Transient {
                retry_after: Some(S(1))
            }),
            S(40)
        );
    }

    #[test]
    fn the_cap_never_polls_faster_than_the_interval() {
        let mut s = PollSchedule::new(Some(S(20)), S(10));
        assert_eq!(s.next(Answer::Transient { retry_after: None }), S(20));
        assert_eq!(s.next(Answer::Transient { retry_after: None }), S(20));
    }

    #[test]
    fn the_last_poll_comes_at_the_expiry_but_never_faster_than_the_interval() {
        let s = PollSchedule::new(Some(S(5)), DEFAULT_MAX_BACKOFF);
        assert_eq!(s.last_wait(S(5)), Some(S(5)));
        assert_eq!(s.last_wait(S(3)), Some(S(5)));
        assert_eq!(s.last_wait(S(0)), Some(S(5)));
        // After a transient back-off the regular wait is longer; the last poll still comes at
        // the expiry.
        assert_eq!(s.last_wait(S(25)), Some(S(25)));
        // A long interval: at most 30 s late, else no last poll.
        let s = PollSchedule::new(Some(S(40)), DEFAULT_MAX_BACKOFF);
        assert_eq!(s.last_wait(S(10)), Some(S(40)));
        assert_eq!(s.last_wait(S(9)), None);
    }

    #[test]
    fn huge_intervals_are_capped() {
        let huge = Duration::from_secs(u64::MAX);
        let mut s = PollSchedule::new(Some(huge), DEFAULT_MAX_BACKOFF);
        assert_eq!(s.interval(), MAX_POLL_INTERVAL);
        let mut t = PollSchedule::new(Some(S(5)), DEFAULT_MAX_BACKOFF);
        assert_eq!(
            t.next(Answer::SlowDown {
                server_interval: Some(huge)
            }),
            MAX_POLL_INTERVAL
        );
        assert_eq!(
            s.next(Answer::SlowDown {
                server_interval: None
            }),
            MAX_POLL_INTERVAL
        );
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut s = PollSchedule::new(Some(S(5)), Duration::MAX);
        for _ in 0..100 {
            s.next(Answer::Transient { retry_after: None });
        }
        assert_eq!(
            s.next(Answer::Transient { retry_after: None }),
            S(5) * (1 << 16)
        );
    }
}

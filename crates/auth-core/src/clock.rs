//! Time, injectable so that expiry logic can be tested on tokio's paused clock.

use std::fmt::Debug;
use std::time::SystemTime;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Wall-clock time that advances with tokio's clock: anchored to the system time when
/// created, then moved by `tokio::time::Instant`. Under `tokio::time::pause()` it stands
/// still and jumps with `advance`, which makes expiry tests exact and fast.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: SystemTime,
    mono: tokio::time::Instant,
}

impl TokioClock {
    /// A clock anchored now.
    pub fn new() -> Self {
        Self {
            wall: SystemTime::now(),
            mono: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall + self.mono.elapsed()
    }
}

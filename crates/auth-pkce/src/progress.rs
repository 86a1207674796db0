//! Progress while the browser login is pending: the time left, once a second, for a spinner
//! or a countdown (as the device flow's presenter has it).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// Told about a pending browser login.
///
/// [`waiting`](Self::waiting) is called about once a second from the moment the URL was
/// shown, and [`finished`](Self::finished) once when the wait ended (either way), so a
/// terminal presenter can clear its line. Both run on the login's task: keep them quick.
pub trait LoginProgress: Send + Sync + fmt::Debug {
    /// The login is still pending; its time limit runs out in `remaining`.
    fn waiting(&self, remaining: Duration) {
        let _ = remaining;
    }

    /// The wait ended: the redirect arrived (or the paste), or the login failed or timed out.
    fn finished(&self) {}
}

/// How often [`LoginProgress::waiting`] is called.
const TICK: Duration = Duration::from_secs(1);

/// Runs `wait`, telling `progress` the time left until `deadline` once a second.
pub(crate) async fn report<W: Future>(
    wait: W,
    deadline: Instant,
    progress: Option<Arc<dyn LoginProgress>>,
) -> W::Output {
    let Some(progress) = progress else {
        return wait.await;
    };
    tokio::pin!(wait);
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let out = loop {
        tokio::select! {
            out = &mut wait => break out,
            _ = ticks.tick() => {
                progress.waiting(deadline.saturating_duration_since(Instant::now()));
            }
        }
    };
    progress.finished();
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<Option<u64>>>);

    impl LoginProgress for Seen {
        fn waiting(&self, remaining: Duration) {
            self.0.lock().unwrap().push(Some(remaining.as_secs()));
        }
        fn finished(&self) {
            self.0.lock().unwrap().push(None);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn counts_down_then_finishes_once() {
        let seen = Arc::new(Seen::default());
        let deadline = Instant::now() + Duration::from_secs(10);
        let out = report(
            async {
                tokio::time::sleep(Duration::from_millis(3500)).await;
                7
            },
            deadline,
            Some(seen.clone() as Arc<dyn LoginProgress>),
        )
        .await;
        assert_eq!(out, 7);
        assert_eq!(
            *seen.0.lock().unwrap(),
            [Some(10), Some(9), Some(8), Some(7), None]
        );
    }

    #[tokio::test]
    async fn without_progress_it_is_the_wait_itself() {
        assert_eq!(report(async { 3 }, Instant::now(), None).await, 3);
    }
}
